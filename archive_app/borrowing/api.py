"""API: borrowing requests and approvals, paper originals, the 查阅登记表."""
from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from archive_app.api import json_body, optional_body, route
from archive_app.api.openapi import DATE, PAGE, ROW_ID, text
from archive_app.borrowing import actions
from archive_app.borrowing import register as register_svc
from archive_app.errors import ValidationFailed
from archive_app.extensions import db
from archive_app.http import actor, client_ip, page_arg
from archive_app.i18n import _
from archive_app.wiring import timezone_name


@route("POST", "/loans", "Ask to borrow records (kind view|download|original, purpose, record_ids or "
       "customer_id, optional window_end + reason)", body="LoanInput", responses={201: "created"})
def create_loan():
    user = actor(current_user)
    return jsonify(actions.loan_dict(actions.create_loan(user, json_body()), user)), 201


@route("GET", "/loans", "My borrowing requests, newest first")
def list_loans():
    user = actor(current_user)
    return jsonify({"items": [actions.loan_dict(r, user) for r in actions.my_loans(user)]})


@route("GET", "/loans/queue", "Borrowing requests waiting for my decision (department head / general manager)")
def loan_queue():
    user = actor(current_user)
    return jsonify({"items": [actions.loan_dict(r, user) for r in actions.queue_for(user)]})


@route("POST", "/loans/<int:loan_id>/approve", "Approve the current step of a request", body="LoanDecision",
       responses={409: "already decided"})
def approve_loan(loan_id: int):
    reason = str(optional_body().get("reason") or "")
    user = actor(current_user)
    return jsonify(actions.loan_dict(actions.approve_loan(user, loan_id, reason), user))


@route("POST", "/loans/<int:loan_id>/reject", "Reject a request (reason required)", body="LoanRejection",
       responses={409: "already decided"})
def reject_loan(loan_id: int):
    reason = str(optional_body().get("reason") or "")
    user = actor(current_user)
    return jsonify(actions.loan_dict(actions.reject_loan(user, loan_id, reason), user))


@route("POST", "/loans/<int:loan_id>/revoke", "Withdraw a pending or approved request (requester or admin)",
       body="LoanDecision")
def revoke_loan(loan_id: int):
    reason = str(optional_body().get("reason") or "")
    user = actor(current_user)
    return jsonify(actions.loan_dict(actions.revoke_loan(user, loan_id, reason), user))


@route("POST", "/paper-loans", "Archivist hands a paper original out under an approved request",
       body="PaperHandOut", responses={201: "created", 409: "already_out"})
def hand_out_paper():
    user = actor(current_user)
    return jsonify(actions.paper_dict(actions.hand_out(user, json_body()), user)), 201


@route("POST", "/paper-loans/<int:record_id>/return", "Archivist takes a paper original back",
       body="PaperReturn", responses={409: "not_handed_out"})
def return_paper(record_id: int):
    user = actor(current_user)
    return jsonify(actions.paper_dict(actions.return_paper(user, record_id, json_body()), user))


@route("GET", "/paper-loans/overdue", "Paper originals still out after their due time (archivists)")
def overdue_paper():
    user = actor(current_user)
    return jsonify({"items": [actions.paper_dict(p, user) for p in actions.overdue(user)]})


REGISTER_QUERY = {"date_from": DATE, "date_to": DATE, "requester": text(100), "department_id": ROW_ID,
                  "customer": text(100), "record_id": ROW_ID}
REGISTER_FILTERS = ("date_from, date_to (local dates, both included, on the request's 申请时间), requester "
                    "(part of 姓名 or username), department_id, customer (part of name or 客户号), record_id")


@route("GET", "/loan-register", "查阅登记表: one line per (borrowing request, record), newest first, as far as "
       f"the caller may see it (all / own department / own requests); filters {REGISTER_FILTERS}; page, "
       "per_page (≤ 200)", query={**REGISTER_QUERY, "page": PAGE,
                                  "per_page": {"type": "integer", "minimum": 1, "maximum": register_svc.MAX_PER_PAGE}})
def loan_register():
    user = actor(current_user)
    try:
        per_page = int(request.args.get("per_page") or register_svc.PER_PAGE)
    except ValueError:
        raise ValidationFailed(_("per_page 须为整数"), code="invalid_number") from None
    found = register_svc.register_page(db.session, user, register_svc.parse_filter(request.args),
                                       tz=timezone_name(), page=page_arg(), per_page=per_page)
    return jsonify({"total": found.total, "page": found.page, "per_page": found.per_page, "pages": found.pages,
                    "items": [row.to_dict() for row in found.rows]})


@route("GET", "/loan-register.xlsx", "The 查阅登记表 as an Excel workbook (Chinese headers, every matching "
       f"line, no paging; audited); filters {REGISTER_FILTERS}", query=REGISTER_QUERY)
def loan_register_xlsx():
    return actions.register_download(actor(current_user), "xlsx", request.args, client_ip())


@route("GET", "/loan-register.csv", "The 查阅登记表 as CSV (UTF-8 with BOM, CRLF, every matching line, no "
       f"paging; audited); filters {REGISTER_FILTERS}", query=REGISTER_QUERY)
def loan_register_csv():
    return actions.register_download(actor(current_user), "csv", request.args, client_ip())
