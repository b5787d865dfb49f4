"""API: full-text search, permission-filtered inside the query."""
from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from archive_app.api import route
from archive_app.api.openapi import PAGE, text
from archive_app.extensions import db
from archive_app.finding import search as search_svc
from archive_app.http import actor, client_ip
from archive_app.intake import records as record_svc
from archive_app.vocabulary import GRADES, PARTS, RECORD_STATUSES, RECORD_TYPES, SECRECY_LEVELS
from archive_app.wiring import now, read_index

YEAR = {"type": "integer", "minimum": 0, "maximum": 9999}


@route("GET", "/search", "Full-text search (q, record_type, part, year_from, year_to, grade, secrecy, "
       "customer_id, project, status, sort=relevance|date, page, per_page); permission-filtered. "
       "customers: the customers the text names (name, pinyin, phone, ID number, 客户号) that the caller may see",
       response="SearchResult",
       query={"q": text(200), "record_type": {"type": "string", "enum": list(RECORD_TYPES)},
              "part": {"type": "integer", "enum": list(PARTS)},
              "year_from": YEAR, "year_to": YEAR, "grade": {"type": "string", "enum": list(GRADES)},
              "secrecy": {"type": "integer", "enum": list(SECRECY_LEVELS)},
              "customer_id": {"type": "integer", "minimum": 1, "maximum": search_svc.MAX_FILTER},
              "project": text(200), "status": {"type": "string", "enum": list(RECORD_STATUSES)},
              "sort": {"type": "string", "enum": ["relevance", "date"]}, "page": PAGE,
              "per_page": {"type": "integer", "minimum": 1, "maximum": 100}})
def search():
    req = search_svc.search_request_from(request.args)
    user = actor(current_user)
    found = search_svc.search_records(db.session, read_index(user.id), user, req, now=now(), ip=client_ip())
    return jsonify({"total": found.result.total, "page": found.result.page, "per_page": found.result.per_page,
                    "customers": [search_svc.customer_hit(c, user) for c in found.customers],
                    "items": [{"record": record_svc.record_dict(found.records[h.record_id], files=False),
                               "score": h.score, "snippet": h.snippet} for h in found.result.hits]})
