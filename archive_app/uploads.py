"""How uploaded files are received: spooled to named files next to the file store.

Werkzeug spools multipart files to anonymous temp files in /tmp. We spool them to named files in
ARCHIVE_UPLOAD_TMP_DIR instead, so a file store on the same filesystem can adopt the file with a
hard link (``BlobStore.put_file``) and a 500 MB scan is written to disk once, not twice.
"""
from __future__ import annotations

import hashlib
import tempfile
from typing import IO, Any

from flask import Request, current_app
from werkzeug.formparser import FormDataParser, MultiPartParser

# Read the body 1 MiB at a time: with werkzeug's 64 KiB reads, gunicorn's read-ahead buffer is
# copied around once per read, which halved the throughput of a 500 MB upload.
READ_SIZE = 1024 * 1024


class _LargeReadFormDataParser(FormDataParser):
    def _parse_multipart(self, stream, mimetype, content_length, options):
        parser = MultiPartParser(stream_factory=self.stream_factory, max_form_memory_size=self.max_form_memory_size,
                                 max_form_parts=self.max_form_parts, cls=self.cls, buffer_size=READ_SIZE)
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class HashingSpool:
    """A named temp file that computes the SHA-256 of what is written to it, as it is written.

    The store can then adopt the file without reading it again (``put_file(..., sha256=...)``).
    """

    def __init__(self, directory: str) -> None:
        self._file = tempfile.NamedTemporaryFile("wb+", dir=directory, prefix="upload-", suffix=".part")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._file.write(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def __getattr__(self, name: str) -> Any:  # read, seek, tell, flush, close, name, fileno …
        return getattr(self._file, name)

    def __enter__(self) -> "HashingSpool":
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


class ArchiveRequest(Request):
    """Flask request whose uploaded files land in hashing named temp files (removed when closed)."""

    form_data_parser_class = _LargeReadFormDataParser

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        return HashingSpool(current_app.config["UPLOAD_TMP_DIR"])  # type: ignore[return-value]
