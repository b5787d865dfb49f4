"""The bulk upload page: many scans dropped at once, across customers, each filed by a request of its own
(``POST /api/v1/intake/files``, sent by ``static/bulk_upload.js`` with a progress bar per file)."""
from __future__ import annotations

from flask import Blueprint, render_template

from archive_app.accounts.models import User
from archive_app.http import page
from archive_app.vocabulary import RECORD_TYPE_CODES, RECORD_TYPES, SECRECY_LEVELS

bp = Blueprint("bulk_intake", __name__)


@page(bp, "/intake/bulk", "record.upload")
def bulk_upload(user: User):
    return render_template("intake/bulk_upload.html", record_types=list(RECORD_TYPES), codes=RECORD_TYPE_CODES,
                           secrecy_levels=SECRECY_LEVELS)
