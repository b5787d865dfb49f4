"""Request plumbing shared by the web and API upload/download endpoints."""
from __future__ import annotations

from typing import BinaryIO
from urllib.parse import quote

from flask import Response, current_app, request

from ..models import RecordFile
from ..services.records import ArchiveSettings, IncomingFile

CHUNK = 1024 * 1024


def archive_settings() -> ArchiveSettings:
    """The settings filing needs, from the app config."""
    cfg = current_app.config
    return ArchiveSettings(fonds_code=cfg["FONDS_CODE"], timezone=cfg["TIMEZONE"],
                           max_file_size=int(cfg["MAX_UPLOAD_MB"]) * 1024 * 1024)


def incoming_files(field: str = "files") -> list[IncomingFile]:
    """The uploaded files of a multipart request; werkzeug has spooled big ones to disk already."""
    return [IncomingFile(filename=f.filename or "file", stream=f.stream, path=_spool_path(f.stream))
            for f in request.files.getlist(field) if f is not None and (f.filename or f.content_length)]


def _spool_path(stream) -> str | None:
    # ArchiveRequest spools to NamedTemporaryFile; anything else (tests' BytesIO) has no path.
    name = getattr(stream, "name", None)
    return name if isinstance(name, str) else None


def stream_response(row: RecordFile, stream: BinaryIO, inline: bool = False) -> Response:
    """Stream stored bytes to the client in chunks, closing the store's stream at the end."""

    def generate():
        try:
            while chunk := stream.read(CHUNK):
                yield chunk
        finally:
            stream.close()

    disposition = "inline" if inline else "attachment"
    resp = Response(generate(), mimetype=row.mime_type, direct_passthrough=True)
    resp.headers["Content-Length"] = str(row.size)
    resp.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(row.original_name)}"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["ETag"] = f'"{row.sha256}"'
    return resp
