"""API: the audit log, as the log page shows it (administrators and auditors; the look is audited)."""
from __future__ import annotations

import json

from flask import jsonify, request
from flask_login import current_user

from archive_app.api import route
from archive_app.audit import queries
from archive_app.audit.shown import HIDDEN_DETAILS, shown_details
from archive_app.extensions import db
from archive_app.http import actor, client_ip, page_arg
from archive_app.vocabulary import AUDIT_ACTION_LABELS
from archive_app.wiring import timezone_name


@route("GET", "/audit-log", "The audit log, newest first (user, action — a prefix such as loan matches loan.*, "
       "target — a 档号 or 客户号, date_from, date_to as local dates, page); administrators and auditors; the look "
       "itself is audited")
def audit_log():
    f = queries.LogFilter.from_args(request.args)
    rows, pages, total = queries.read_log(db.session, actor(current_user), f, tz=timezone_name(), page=page_arg(),
                                          ip=client_ip())
    # The same projection as the page: entries about what the reader may not see keep their line only.
    shown = shown_details(db.session, actor(current_user), rows)
    return jsonify({"total": total, "page": page_arg(), "pages": pages, "items": [
        {"seq": e.seq, "at": e.at.isoformat(), "actor_id": e.actor_id, "actor_name": e.actor_name,
         "action": e.action, "action_label": AUDIT_ACTION_LABELS.get(e.action, e.action),
         "object_type": e.object_type, "object_id": e.object_id, "ip": e.ip,
         "hidden": shown[e.id] == HIDDEN_DETAILS,
         "details": None if shown[e.id] == HIDDEN_DETAILS else json.loads(shown[e.id]),
         "personal": None if shown[e.id] == HIDDEN_DETAILS else e.personal_data}
        for e in rows]})
