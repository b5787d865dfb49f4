"""The 「完整性检测」 page (archivists, administrators, auditors): the last runs and every file failing now."""
from __future__ import annotations

import json

from flask import Blueprint, render_template

from archive_app.accounts.models import User
from archive_app.extensions import db
from archive_app.fixity import checks
from archive_app.http import page
from archive_app.wiring import now, setting

bp = Blueprint("fixity", __name__)


@page(bp, "/admin/fixity", "fixity.view")
def index(user: User):
    cycle = int(setting("FIXITY_CYCLE_DAYS"))
    recent, total = checks.coverage(db.session, now(), cycle)
    runs = checks.recent_runs(db.session)
    return render_template("fixity/index.html", runs=runs, failures=checks.failed_files(db.session),
                           problems={r.id: json.loads(r.problems or "[]") for r in runs}, labels=checks.STATUS_LABELS,
                           covered=recent, total=total, cycle=cycle)


def _record_failures(record) -> list:
    # The record page's warning: every file of the record whose latest check failed.
    return checks.failed_files(db.session, record.id)


bp.add_app_template_global(_record_failures, "fixity_failures")
bp.add_app_template_global(checks.STATUS_LABELS, "FIXITY_LABELS")
