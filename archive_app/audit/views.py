"""The audit log page (administrators and auditors): newest first, by user, action and local date."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from archive_app.accounts.models import User
from archive_app.audit import queries
from archive_app.audit.shown import HIDDEN_DETAILS, shown_details
from archive_app.extensions import db
from archive_app.http import client_ip, page, page_arg
from archive_app.vocabulary import AUDIT_ACTION_LABELS
from archive_app.wiring import timezone_name

bp = Blueprint("audit", __name__)


@page(bp, "/audit", "audit.view")
def audit_log(user: User):
    f = queries.LogFilter.from_args(request.args)
    rows, pages, total = queries.read_log(db.session, user, f, tz=timezone_name(), page=page_arg(), ip=client_ip())
    return render_template("audit/log.html", entries=rows, page=page_arg(), pages=pages, total=total,
                           args=f.as_args(), labels=AUDIT_ACTION_LABELS,
                           details=shown_details(db.session, user, rows), hidden=HIDDEN_DETAILS)
