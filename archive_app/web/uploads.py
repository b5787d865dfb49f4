"""Request plumbing shared by the web and API upload/download endpoints."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, current_app, request

from ..services.records import ArchiveSettings, Download, IncomingFile
from ..uploads import HashingSpool

CHUNK = 1024 * 1024


def archive_settings() -> ArchiveSettings:
    """The settings filing needs, from the app config."""
    from ..jobs import enqueue_extraction

    cfg = current_app.config
    return ArchiveSettings(fonds_code=cfg["FONDS_CODE"], timezone=cfg["TIMEZONE"],
                           max_file_size=int(cfg["MAX_UPLOAD_MB"]) * 1024 * 1024,
                           on_files_stored=enqueue_extraction, tmp_dir=cfg["UPLOAD_TMP_DIR"])


def incoming_files(field: str = "files") -> list[IncomingFile]:
    """The uploaded files of a multipart request; werkzeug has spooled big ones to disk already."""
    return [_incoming(f) for f in request.files.getlist(field)
            if f is not None and (f.filename or f.content_length)]


def _incoming(f) -> IncomingFile:
    # ArchiveRequest spools every file to a HashingSpool; keep its path and digest so the store
    # can adopt the file without copying or re-reading it.
    if isinstance(f.stream, HashingSpool):
        return IncomingFile(filename=f.filename or "file", stream=f.stream, path=f.stream.name,
                            sha256=f.stream.sha256)
    return IncomingFile(filename=f.filename or "file", stream=f.stream)


def stream_response(download: Download, inline: bool = False) -> Response:
    """Stream a download (stored bytes or a watermarked copy) in chunks, closing its stream at the end.

    The file keeps its name; Content-Length is the length of what is actually sent.
    """
    stream = download.stream

    def generate():
        try:
            while chunk := stream.read(CHUNK):
                yield chunk
        finally:
            stream.close()

    disposition = "inline" if inline else "attachment"
    resp = Response(generate(), mimetype=download.mime_type, direct_passthrough=True)
    if download.size is not None:
        resp.headers["Content-Length"] = str(download.size)
    resp.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(download.name)}"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, no-store"
    if download.etag:
        resp.headers["ETag"] = f'"{download.etag}"'
    return resp
