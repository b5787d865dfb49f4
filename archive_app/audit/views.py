"""The audit log page (administrators and auditors)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from archive_app import policy
from archive_app.audit import log
from archive_app.extensions import db
from archive_app.http import actor, page_arg

bp = Blueprint("audit", __name__)


@bp.route("/audit")
@login_required
def audit_log():
    policy.require(actor(current_user), "audit.view")
    rows, pages = log.latest_entries(db.session, page=page_arg())
    return render_template("audit/log.html", entries=rows, page=page_arg(), pages=pages)
