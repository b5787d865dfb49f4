"""How uploaded files are received: spooled to named files next to the file store.

Werkzeug spools multipart files to anonymous temp files in /tmp. We spool them to named files in
ARCHIVE_UPLOAD_TMP_DIR instead, so a file store on the same filesystem can adopt the file with a
hard link (``BlobStore.put_file``) and a 500 MB scan is written to disk once, not twice.
"""
from __future__ import annotations

import tempfile
from typing import IO

from flask import Request, current_app


class ArchiveRequest(Request):
    """Flask request whose uploaded files land in named temp files (removed when closed)."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        return tempfile.NamedTemporaryFile("wb+", dir=current_app.config["UPLOAD_TMP_DIR"], prefix="upload-",
                                           suffix=".part")
