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
from archive_app.http import actor
from archive_app.intake import admission_checks

MAX_RUNS = 100


def _limit() -> int:
    raw = request.args.get("limit", "20")
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_RUNS:
        raise ValidationFailed(f"limit 须为 1–{MAX_RUNS} 的整数", code="invalid_parameter")
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
    found = admission_checks.checks_for_viewer(db.session, actor(current_user), record_id)
    record = found.record
    latest = fixity.latest_results(db.session, record.id)
    files = [{"file_id": f.id, "file_name": f.original_name,
              "status": latest[f.id].status if f.id in latest else None,
              "label": fixity.STATUS_LABELS.get(latest[f.id].status, "") if f.id in latest else "尚未检测",
              "detail": latest[f.id].detail if f.id in latest else "",
              "checked_at": utc_iso(latest[f.id].checked_at) if f.id in latest else None} for f in record.files]
    return jsonify({"record_id": record.id, "archival_code": record.archival_code, "fixity": files,
                    "four_checks": {"summary": found.summary,
                                    "items": [admission_checks.check_dict(c, f) for c, f in found.rows]}})
