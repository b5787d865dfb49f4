"""API: the last fixity runs with their figures, and one record's checks (fixity per file and 四性检测)."""
from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from archive_app import policy
from archive_app.api import route
from archive_app.clock import utc_iso
from archive_app.errors import ValidationFailed
from archive_app.extensions import db
from archive_app.fixity import checks as fixity
from archive_app.http import actor, client_ip
from archive_app.i18n import _
from archive_app.intake import admission_checks
from archive_app.wiring import get_store, now, setting

MAX_RUNS = 100


def _limit() -> int:
    raw = request.args.get("limit", "20")
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_RUNS:
        raise ValidationFailed(_("limit 须为 1–%(max_runs)s 的整数", max_runs=MAX_RUNS), code="invalid_parameter")
    return limit


@route("GET", "/fixity/runs", "The last fixity runs, newest first, with their figures (fixity.view)",
       query={"limit": {"type": "integer", "minimum": 1, "maximum": MAX_RUNS, "default": 20}})
def fixity_runs():
    policy.require(actor(current_user), "fixity.view")
    runs = fixity.recent_runs(db.session, _limit())
    return jsonify({"items": [fixity.run_dict(r) for r in runs]})


@route("GET", "/records/<int:record_id>/checks",
       "One record's checks: the latest fixity result of each file and its 四性检测 results (record.checks)")
def record_checks(record_id: int):
    return jsonify(_report(admission_checks.checks_for_viewer(db.session, actor(current_user), record_id)))


@route("POST", "/records/<int:record_id>/checks",
       "Run a record's 四性检测 again, reading each stored file once (record.checks_run; audited); "
       "answers as the GET", responses={200: "the new results", 409: "record_destroyed"})
def rerun_checks(record_id: int):
    user = actor(current_user)
    admission_checks.rerun(db.session, get_store(), user, record_id, now=now(), ip=client_ip(),
                           tmp_dir=setting("UPLOAD_TMP_DIR"))
    return jsonify(_report(admission_checks.checks_for_viewer(db.session, user, record_id)))


def _report(found: admission_checks.RecordChecks) -> dict:
    record = found.record
    latest = fixity.latest_results(db.session, record.id)

    def file_state(f) -> dict:
        result = latest.get(f.id)
        return {"file_id": f.id, "file_name": f.original_name, "status": result.status if result else None,
                "label": fixity.STATUS_LABELS.get(result.status, result.status) if result else _("尚未检测"),
                "detail": result.detail if result else "", "checked_at": utc_iso(result.checked_at) if result else None}

    return {"record_id": record.id, "archival_code": record.archival_code,
            "fixity": [file_state(f) for f in record.files],
            "four_checks": {"summary": found.summary,
                            "items": [admission_checks.check_dict(c, f) for c, f in found.rows]}}
