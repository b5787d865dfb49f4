"""四性检测 pages: the batch page (filter by upload date, result, check, state; export), a record's re-run,
and the record page's section (a template global)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.errors import ValidationFailed
from archive_app.extensions import db
from archive_app.http import actor, attachment, client_ip, page, page_arg
from archive_app.i18n import _
from archive_app.intake import admission_checks as checks
from archive_app.wiring import get_store, now, setting, timezone_name

bp = Blueprint("four_checks", __name__)


@page(bp, "/admin/four-checks", "record.checks")
def index(user: User):
    status = 200
    try:
        filters = checks.parse_filter(request.args)
    except ValidationFailed as exc:
        # Keep what was typed on screen; show no records rather than unfiltered ones.
        flash(exc.message, "error")
        filters, status = None, exc.status
    batch = (checks.batch_page(db.session, user, filters, tz=timezone_name(), page=page_arg()) if filters
             else checks.BatchPage([], 0, 1))
    return render_template("four_checks/index.html", batch=batch, form=request.args,
                           args=filters.as_args() if filters else {}, kinds=checks.KINDS, results=checks.RESULTS,
                           filter_results=checks.FILTER_RESULTS, statuses=checks.FILTER_STATUSES), status


@page(bp, "/admin/four-checks.<any(xlsx, csv):fmt>", "record.checks")
def export(user: User, fmt: str):
    got = checks.export_batch(db.session, user, checks.parse_filter(request.args), fmt, tz=timezone_name(),
                              now=now(), ip=client_ip())
    return attachment(got.content, got.mimetype, got.filename, got.ascii_filename)


@page(bp, "/records/<int:record_id>/checks", "record.checks_run", methods=["POST"])
def rerun(user: User, record_id: int):
    record = checks.rerun(db.session, get_store(), user, record_id, now=now(), ip=client_ip(),
                          tmp_dir=setting("UPLOAD_TMP_DIR"))
    flash(_("已重新进行四性检测：%(archival_code)s", archival_code=record.archival_code), "success")
    return redirect(url_for("records.show", record_id=record_id, _anchor="four-checks"))


def _record_checks(record) -> checks.RecordChecks | None:
    # The record page's section, for those the policy lets see it.
    if not policy.can(actor(current_user), "record.checks", record):
        return None
    return checks.record_checks(db.session, record)


def _summaries(records) -> dict[int, checks.RecordChecks]:
    # The review queue's column: the queue lists only records the reviewer sees.
    if not policy.can(actor(current_user), "record.checks"):
        return {}
    return {rc.record.id: rc for rc in checks.with_checks(db.session, list(records))}


bp.add_app_template_global(_record_checks, "admission_checks_of")
bp.add_app_template_global(_summaries, "admission_checks_for")
bp.add_app_template_global(checks.KINDS, "CHECK_KINDS")
bp.add_app_template_global(checks.RESULTS, "CHECK_RESULTS")
