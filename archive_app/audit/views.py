"""The audit log page (administrators and auditors)."""
from __future__ import annotations

from flask import Blueprint, render_template

from archive_app.accounts.models import User
from archive_app.audit import log
from archive_app.audit.shown import shown_details
from archive_app.extensions import db
from archive_app.http import page, page_arg

bp = Blueprint("audit", __name__)


@page(bp, "/audit", "audit.view")
def audit_log(user: User):
    rows, pages = log.latest_entries(db.session, page=page_arg())
    return render_template("audit/log.html", entries=rows, page=page_arg(), pages=pages,
                           details=shown_details(db.session, user, rows))
