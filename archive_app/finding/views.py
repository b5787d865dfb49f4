"""The search page: free text plus filters, results limited by the access policy inside the query."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from archive_app.errors import ValidationFailed
from archive_app.extensions import db
from archive_app.finding import search as svc
from archive_app.http import actor
from archive_app.wiring import get_index

bp = Blueprint("search", __name__)

FILTERS = ("record_type", "part", "year_from", "year_to", "grade", "secrecy", "customer_id", "project", "status")
INT_FILTERS = {"part", "year_from", "year_to", "secrecy", "customer_id"}


def search_request_from(args) -> "svc.SearchRequest":
    """Build a SearchRequest from query-string arguments (shared by the page and the API)."""
    values: dict = {}
    for key in FILTERS:
        raw = (args.get(key) or "").strip()
        if not raw:
            continue
        if key in INT_FILTERS:
            try:
                values[key] = int(raw)
            except ValueError:
                raise ValidationFailed(f"筛选条件格式不正确：{key}", code="invalid_filter") from None
        else:
            values[key] = raw
    sort = args.get("sort", "relevance")
    if sort not in ("relevance", "date"):
        raise ValidationFailed("排序方式须为 relevance 或 date", code="invalid_sort")
    try:
        page = max(int(args.get("page", 1)), 1)
        per_page = min(max(int(args.get("per_page", 20)), 1), 100)
    except ValueError:
        raise ValidationFailed("分页参数格式不正确", code="invalid_page") from None
    return svc.SearchRequest(text=(args.get("q") or "").strip()[:200], sort=sort, page=page, per_page=per_page,
                             **values)


@bp.route("/search")
@login_required
def index():
    req = search_request_from(request.args)
    found = None
    if req.text or any(request.args.get(k) for k in FILTERS):
        found = svc.search_records(db.session, get_index(), actor(current_user), req)
    pages = max((found.result.total + req.per_page - 1) // req.per_page, 1) if found else 1
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("search/index.html", req=req, found=found, args=args, pages=pages)
