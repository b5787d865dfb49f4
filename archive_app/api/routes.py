"""API endpoints. Each declares its OpenAPI entry; a test checks none is missing."""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import current_app, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import ValidationError, validate_csrf

from archive_app.errors import DomainError, NotFound, ValidationFailed
from archive_app.http import error_response
from archive_app.extensions import db
from archive_app.intake import customers as customer_svc
from archive_app.borrowing import register as register_svc
from archive_app.intake import records as record_svc
from archive_app.borrowing import views as loan_web
from archive_app.http import actor, client_ip, page_arg
from archive_app.http import incoming_files, stream_response
from archive_app.wiring import archive_settings, get_index, get_store
from archive_app.api import bp
from archive_app.api.openapi import build_document, document

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def api_auth(fn: Callable) -> Callable:
    """Require a token or a session; session writes must also carry the X-CSRFToken header."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return error_response(401, "unauthorized", "请先登录或提供有效的 API 令牌")
        if (request.method in UNSAFE and not request.environ.get("archive.token_auth")
                and current_app.config.get("WTF_CSRF_ENABLED", True)):
            try:
                validate_csrf(request.headers.get("X-CSRFToken", ""))
            except ValidationError:
                return error_response(400, "csrf_failed", "缺少或无效的 X-CSRFToken 请求头")
        return fn(*args, **kwargs)

    return wrapper


def _json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed("请求体须为 JSON 对象", code="invalid_json")
    return data


@bp.get("/openapi.json")
@document("/openapi.json", "get", "This OpenAPI document")
@api_auth
def openapi():
    rules = [(r.rule, r.methods or set()) for r in current_app.url_map.iter_rules() if r.endpoint.startswith("api.")]
    return jsonify(build_document(rules))


@bp.get("/me")
@document("/me", "get", "The authenticated user")
@api_auth
def me():
    u = actor(current_user)
    return jsonify({"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
                    "department": u.department.name if u.department else None, "clearance": u.clearance})


@bp.get("/customers")
@document("/customers", "get", "Search customers (q, business_type, grade, project, page)")
@api_auth
def list_customers():
    filters = {k: request.args.get(k, "") for k in ("q", "business_type", "grade", "project")}
    rows, total = customer_svc.search_customers(db.session, actor(current_user), page=page_arg(), **filters)
    return jsonify({"total": total, "page": page_arg(), "items": [customer_svc.customer_dict(c) for c in rows]})


@bp.post("/customers")
@document("/customers", "post", "Open a customer file", body="CustomerInput", responses={201: "created"})
@api_auth
def create_customer():
    c = customer_svc.create_customer(db.session, actor(current_user), _json_body(), ip=client_ip())
    return jsonify(customer_svc.customer_dict(c)), 201


@bp.get("/customers/<int:customer_id>")
@document("/customers/<int:customer_id>", "get", "One customer (the view is audited)")
@api_auth
def get_customer(customer_id: int):
    customer = customer_svc.view_customer(db.session, actor(current_user), customer_id, ip=client_ip())
    return jsonify(customer_svc.customer_dict(customer))


@bp.patch("/customers/<int:customer_id>")
@document("/customers/<int:customer_id>", "patch", "Change a customer (audited)", body="CustomerInput")
@api_auth
def update_customer(customer_id: int):
    c = customer_svc.update_customer(db.session, actor(current_user), customer_id, _json_body(), ip=client_ip(),
                                     store=get_store())
    return jsonify(customer_svc.customer_dict(c))


@bp.get("/customers/<int:customer_id>/records")
@document("/customers/<int:customer_id>/records", "get", "The records of a customer's file the caller may see")
@api_auth
def list_records(customer_id: int):
    user = actor(current_user)
    customer = customer_svc.get_customer(db.session, user, customer_id)
    return jsonify({"items": [record_svc.record_dict(r) for r in record_svc.customer_records(db.session, user, customer)]})


@bp.post("/customers/<int:customer_id>/records")
@document("/customers/<int:customer_id>/records", "post", "Upload a record with one or more files",
          body="multipart", responses={201: "created", 409: "duplicate_file", 413: "too_large",
                                       415: "unsupported_type", 422: "bad_file"})
@api_auth
def create_record(customer_id: int):
    values = {k: v for k, v in request.form.items() if k != "confirm_duplicate"}
    record = record_svc.create_record(db.session, get_store(), archive_settings(), actor(current_user), customer_id,
                                      values, incoming_files(),
                                      confirm_duplicate=request.form.get("confirm_duplicate") == "1", ip=client_ip())
    return jsonify(record_svc.record_dict(record)), 201


@bp.get("/records/<int:record_id>")
@document("/records/<int:record_id>", "get", "One record with its files (the view is audited)")
@api_auth
def get_record(record_id: int):
    return jsonify(record_svc.record_dict(record_svc.view_record(db.session, actor(current_user), record_id,
                                                                 ip=client_ip())))


@bp.get("/records/<int:record_id>/status")
@document("/records/<int:record_id>/status", "get", "Text-extraction status of a record's files (排队/处理中/完成/失败)")
@api_auth
def get_record_status(record_id: int):
    record = record_svc.get_record(db.session, actor(current_user), record_id)
    data = record_svc.record_dict(record)
    return jsonify({"id": record.id, "text_status": data["text_status"], "files": data["files"]})


@bp.get("/records/<int:record_id>/files/<int:file_id>/pages")
@document("/records/<int:record_id>/files/<int:file_id>/pages", "get", "Extracted text of each page of a file")
@api_auth
def get_pages(record_id: int, file_id: int):
    record = record_svc.get_record(db.session, actor(current_user), record_id, "record.read")
    file = next((f for f in record.files if f.id == file_id), None)
    if file is None:
        raise NotFound("文件不存在", code="file_not_found")
    return jsonify({"file_id": file.id, "text_status": file.extract_status, "pages": [
        {"page_no": p.page_no, "text": p.text, "source": p.source, "confidence": p.confidence} for p in file.pages]})


@bp.get("/search")
@document("/search", "get", "Full-text search (q, record_type, part, year_from, year_to, grade, secrecy, "
          "customer_id, project, status, sort=relevance|date, page, per_page); permission-filtered")
@api_auth
def search():
    from archive_app.finding import search as search_svc
    from archive_app.finding.views import search_request_from

    req = search_request_from(request.args)
    found = search_svc.search_records(db.session, get_index(), actor(current_user), req)
    return jsonify({"total": found.result.total, "page": found.result.page, "per_page": found.result.per_page,
                    "items": [{"record": record_svc.record_dict(found.records[h.record_id], files=False),
                               "score": h.score, "snippet": h.snippet} for h in found.result.hits]})


@bp.patch("/records/<int:record_id>")
@document("/records/<int:record_id>", "patch", "Change a draft record's metadata (never its 档号)",
          body="RecordInput")
@api_auth
def update_record(record_id: int):
    r = record_svc.update_record(db.session, actor(current_user), record_id, _json_body(), ip=client_ip(),
                                 store=get_store())
    return jsonify(record_svc.record_dict(r))


@bp.post("/records/<int:record_id>/files")
@document("/records/<int:record_id>/files", "post", "Add files to a draft record", body="multipart",
          responses={201: "created"})
@api_auth
def add_files(record_id: int):
    record_svc.add_files(db.session, get_store(), archive_settings(), actor(current_user), record_id,
                         incoming_files(), confirm_duplicate=request.form.get("confirm_duplicate") == "1",
                         ip=client_ip())
    record = record_svc.get_record(db.session, actor(current_user), record_id)
    return jsonify(record_svc.record_dict(record)), 201


@bp.get("/records/<int:record_id>/files/<int:file_id>/content")
@document("/records/<int:record_id>/files/<int:file_id>/content", "get",
          "Download a file: the exact bytes for archive staff, a watermarked copy under a borrowing request")
@api_auth
def download(record_id: int, file_id: int):
    return stream_response(record_svc.open_file(db.session, get_store(), archive_settings(), actor(current_user),
                                                record_id, file_id, ip=client_ip()))


@bp.post("/records/<int:record_id>/review")
@document("/records/<int:record_id>/review", "post", "Reviewer marks a draft filed (not the uploader)")
@api_auth
def review(record_id: int):
    return jsonify(record_svc.record_dict(record_svc.review_record(db.session, actor(current_user), record_id,
                                                                   ip=client_ip())))


@bp.get("/review-queue")
@document("/review-queue", "get", "Drafts waiting for this reviewer")
@api_auth
def review_queue():
    return jsonify({"items": [record_svc.record_dict(r, files=False)
                              for r in record_svc.review_queue(db.session, actor(current_user))]})


def _optional_body() -> dict:
    """A JSON object body, or {} when none was sent."""
    if not request.get_data(cache=True):
        return {}
    return _json_body()


@bp.post("/loans")
@document("/loans", "post", "Ask to borrow records (kind view|download|original, purpose, record_ids or "
          "customer_id, optional window_end + reason)", body="LoanInput", responses={201: "created"})
@api_auth
def create_loan():
    req = loan_web.create_loan(actor(current_user), _json_body())
    return jsonify(loan_web.loan_dict(req)), 201


@bp.get("/loans")
@document("/loans", "get", "My borrowing requests, newest first")
@api_auth
def list_loans():
    return jsonify({"items": [loan_web.loan_dict(r) for r in loan_web.my_loans(actor(current_user))]})


@bp.get("/loans/queue")
@document("/loans/queue", "get", "Borrowing requests waiting for my decision (department head / general manager)")
@api_auth
def loan_queue():
    return jsonify({"items": [loan_web.loan_dict(r) for r in loan_web.queue_for(actor(current_user))]})


@bp.post("/loans/<int:loan_id>/approve")
@document("/loans/<int:loan_id>/approve", "post", "Approve the current step of a request", body="LoanDecision")
@api_auth
def approve_loan(loan_id: int):
    reason = str(_optional_body().get("reason") or "")
    return jsonify(loan_web.loan_dict(loan_web.approve_loan(actor(current_user), loan_id, reason)))


@bp.post("/loans/<int:loan_id>/reject")
@document("/loans/<int:loan_id>/reject", "post", "Reject a request (reason required)", body="LoanDecision")
@api_auth
def reject_loan(loan_id: int):
    reason = str(_optional_body().get("reason") or "")
    return jsonify(loan_web.loan_dict(loan_web.reject_loan(actor(current_user), loan_id, reason)))


@bp.post("/loans/<int:loan_id>/revoke")
@document("/loans/<int:loan_id>/revoke", "post", "Withdraw a pending or approved request (requester or admin)",
          body="LoanDecision")
@api_auth
def revoke_loan(loan_id: int):
    reason = str(_optional_body().get("reason") or "")
    return jsonify(loan_web.loan_dict(loan_web.revoke_loan(actor(current_user), loan_id, reason)))


@bp.post("/paper-loans")
@document("/paper-loans", "post", "Archivist hands a paper original out under an approved request",
          body="PaperHandOut", responses={201: "created", 409: "already_out"})
@api_auth
def hand_out_paper():
    return jsonify(loan_web.paper_dict(loan_web.hand_out(actor(current_user), _json_body()))), 201


@bp.post("/paper-loans/<int:record_id>/return")
@document("/paper-loans/<int:record_id>/return", "post", "Archivist takes a paper original back",
          body="PaperReturn")
@api_auth
def return_paper(record_id: int):
    return jsonify(loan_web.paper_dict(loan_web.return_paper(actor(current_user), record_id, _json_body())))


@bp.get("/paper-loans/overdue")
@document("/paper-loans/overdue", "get", "Paper originals still out after their due time (archivists)")
@api_auth
def overdue_paper():
    return jsonify({"items": [loan_web.paper_dict(p) for p in loan_web.overdue(actor(current_user))]})


REGISTER_FILTERS = ("date_from, date_to (local dates, both included, on the request's 申请时间), requester "
                    "(part of 姓名 or username), department_id, customer (part of name or 客户号), record_id")


@bp.get("/loan-register")
@document("/loan-register", "get", "查阅登记表: one line per (borrowing request, record), newest first, as far as "
          f"the caller may see it (all / own department / own requests); filters {REGISTER_FILTERS}; page, "
          "per_page (≤ 200)")
@api_auth
def loan_register():
    user = actor(current_user)
    try:
        per_page = int(request.args.get("per_page") or register_svc.PER_PAGE)
    except ValueError:
        raise ValidationFailed("per_page 须为整数", code="invalid_number") from None
    found = register_svc.register_page(db.session, user, register_svc.parse_filter(request.args),
                                       tz=current_app.config["TIMEZONE"], page=page_arg(), per_page=per_page)
    return jsonify({"total": found.total, "page": found.page, "per_page": found.per_page, "pages": found.pages,
                    "items": [row.to_dict() for row in found.rows]})


@bp.get("/loan-register.xlsx")
@document("/loan-register.xlsx", "get", "The 查阅登记表 as an Excel workbook (Chinese headers, every matching "
          f"line, no paging; audited); filters {REGISTER_FILTERS}")
@api_auth
def loan_register_xlsx():
    return loan_web.register_download(actor(current_user), "xlsx")


@bp.get("/loan-register.csv")
@document("/loan-register.csv", "get", "The 查阅登记表 as CSV (UTF-8 with BOM, CRLF, every matching line, no "
          f"paging; audited); filters {REGISTER_FILTERS}")
@api_auth
def loan_register_csv():
    return loan_web.register_download(actor(current_user), "csv")


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    db.session.rollback()
    return error_response(exc.status, exc.code, exc.message, exc.details)
