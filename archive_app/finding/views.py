"""The search page: free text plus filters, results limited by the access policy inside the query."""
from __future__ import annotations

from flask import Blueprint, flash, render_template, request
from flask_login import current_user, login_required

from archive_app.extensions import db
from archive_app.finding import search as svc
from archive_app.http import actor, client_ip
from archive_app.i18n import _
from archive_app.wiring import now, read_index

bp = Blueprint("search", __name__)

@bp.route("/search")
@login_required
def index():
    req = svc.search_request_from(request.args)
    if svc.query_too_long(request.args):
        flash(_("检索词过长：最多 %(max_query_chars)s 个字，已按前 %(max_query_chars)s 个字检索", max_query_chars=svc.MAX_QUERY_CHARS), "warning")
    found = None
    if req.text or any(request.args.get(k) for k in svc.FILTERS):
        user = actor(current_user)
        # the index on the replica when one is set (replica_reads); rows and access from the primary
        found = svc.search_records(db.session, read_index(user.id), user, req, now=now(), ip=client_ip())
    pages = max((found.result.total + req.per_page - 1) // req.per_page, 1) if found else 1
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("search/index.html", req=req, found=found, args=args, pages=pages,
                           max_query=svc.MAX_QUERY_CHARS)
