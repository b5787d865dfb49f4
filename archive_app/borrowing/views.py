"""Borrowing pages: 申请查阅, 我的申请, 待我审批, 原件借还, 逾期未还, 查阅登记表.

Each page reads the form, calls one of ``borrowing.actions`` (shared with the API) and renders.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.borrowing import loans as svc
from archive_app.borrowing import register as register_svc
from archive_app.borrowing import slips
from archive_app.borrowing.actions import (
    approve_loan,
    create_loan,
    hand_out,
    my_loans,
    overdue,
    queue_for,
    register_download,
    reject_loan,
    return_paper,
    revoke_loan,
)
from archive_app.errors import NotFound, ValidationFailed
from archive_app.extensions import db
from archive_app.http import actor, attachment, attempt, client_ip, page, page_arg
from archive_app.i18n import _
from archive_app.intake.models import Customer, Record
from archive_app.wiring import loan_settings, timezone_name
from archive_app.wiring import now as utc_now

bp = Blueprint("loans", __name__)


# ---------------------------------------------------------------------------------------------- pages


def _form() -> dict[str, Any]:
    return {k: v for k, v in request.form.items() if k != "csrf_token"}


@page(bp, "/loans/new", "loan.request", methods=["GET", "POST"])
def new(user: User):
    source = request.form if request.method == "POST" else request.args
    target: Record | Customer | None = None
    if source.get("record_ids", "").isdigit():
        target = db.session.get(Record, int(source["record_ids"]))
    elif source.get("customer_id", "").isdigit():
        target = db.session.get(Customer, int(source["customer_id"]))
    if target is None or not policy.can(user, "loan.request", target):
        raise NotFound(_("档案不存在或无权查看"), code="not_found")
    values = _form() if request.method == "POST" else {}
    if request.method == "POST":
        _unused, error = attempt(lambda: create_loan(user, values), lambda req: _("已提交借阅申请 %(request_no)s，等待审批", request_no=req.request_no))
        if error:
            return render_template("loans/new.html", target=target, values=values,
                                   settings=loan_settings()), error.status
        return redirect(url_for("loans.mine"))
    return render_template("loans/new.html", target=target, values=values, settings=loan_settings())


@bp.route("/loans")
@login_required
def mine():
    user = actor(current_user)
    return render_template("loans/mine.html", loans=my_loans(user), labels=svc.STATUS_LABELS,
                           kinds=svc.KIND_LABELS, open_statuses=svc.OPEN)


@bp.route("/loans/<int:loan_id>/revoke", methods=["POST"])
@login_required
def revoke(loan_id: int):
    req = revoke_loan(actor(current_user), loan_id, request.form.get("reason", ""))
    flash(_("已撤销借阅申请 %(request_no)s", request_no=req.request_no), "success")
    return redirect(url_for("loans.mine"))


@page(bp, "/loans/queue", "loan.approve")
def queue(user: User):
    return render_template("loans/queue.html", loans=queue_for(user), kinds=svc.KIND_LABELS,
                           labels=svc.STATUS_LABELS)


@page(bp, "/loans/<int:loan_id>/approve", "loan.approve", methods=["POST"])
def approve(user: User, loan_id: int):
    attempt(lambda: approve_loan(user, loan_id, request.form.get("reason", "")),
            lambda req: _("已批准 %(request_no)s", request_no=req.request_no) if req.status == "approved"
            else _("已同意 %(request_no)s，转%(removeprefix)s", request_no=req.request_no, removeprefix=svc.STATUS_LABELS[req.status].removeprefix(_('待'))))
    return redirect(url_for("loans.queue"))


@page(bp, "/loans/<int:loan_id>/reject", "loan.approve", methods=["POST"])
def reject(user: User, loan_id: int):
    attempt(lambda: reject_loan(user, loan_id, request.form.get("reason", "")),
            lambda req: _("已驳回 %(request_no)s", request_no=req.request_no))
    return redirect(url_for("loans.queue"))


@page(bp, "/paper", "paper.manage")
def paper(user: User):
    now = utc_now()
    approved, out = svc.paper_desk(db.session, now)
    out_ids = {p.record_id for p in out}
    slip = request.args.get("slip", "")
    return render_template("loans/paper.html", approved=approved, out=out, out_ids=out_ids, now=now,
                           slip=int(slip) if slip.isdigit() else None)


@page(bp, "/paper/hand-out", "paper.manage", methods=["POST"])
def paper_hand_out(user: User):
    loan, _unused = attempt(lambda: hand_out(user, _form()),
                      lambda loan: _("已借出原件 %(record_code)s（%(pages_out)s 页），请打印原件交接单，双方签字", record_code=policy.record_code(user, loan.record), pages_out=loan.pages_out))
    return redirect(url_for("loans.paper", slip=loan.id) if loan is not None else url_for("loans.paper"))


@page(bp, "/paper/<int:record_id>/return", "paper.manage", methods=["POST"])
def paper_return(user: User, record_id: int):
    attempt(lambda: return_paper(user, record_id, _form()),
            lambda loan: _("已归还原件 %(record_code)s", record_code=policy.record_code(user, loan.record)))
    return redirect(request.form.get("back") == "overdue" and url_for("loans.paper_overdue")
                    or url_for("loans.paper"))


@page(bp, "/paper/loans/<int:loan_id>/slip.pdf", "paper.manage")
def paper_slip(user: User, loan_id: int):
    # The audit entry is committed with the response by the request's unit of work.
    pdf, number = slips.print_slip(db.session, user, loan_id, tz=timezone_name(), now=utc_now(), ip=client_ip())
    return attachment(pdf, "application/pdf", _("原件交接单-%(number)s.pdf", number=number), f"handout-slip-{number}.pdf")


@bp.route("/paper/overdue")
@login_required
def paper_overdue():
    user = actor(current_user)
    return render_template("loans/overdue.html", loans=overdue(user), now=utc_now())


# ---------------------------------------------------------------------------------------------- register


@bp.route("/loans/register")
@login_required
def register():
    user = actor(current_user)
    register_svc.require_register(user)
    tz = timezone_name()
    status = 200
    try:
        filters = register_svc.parse_filter(request.args)
    except ValidationFailed as exc:
        # Keep the form on screen with what was typed; show no lines rather than unfiltered ones.
        flash(exc.message, "error")
        filters, status = None, exc.status
    page = (register_svc.register_page(db.session, user, filters, tz=tz, page=page_arg()) if filters is not None
            else register_svc.RegisterPage([], 0, 1, register_svc.PER_PAGE))
    args = filters.as_args() if filters is not None else {}
    return render_template("loans/register.html", page=page, args=args, form=request.args,
                           departments=register_svc.departments(db.session, user),
                           scope=register_svc.register_scope(user), now=utc_now(),
                           described=register_svc.describe_filter(db.session, user, filters) if filters is not None
                           else ""), status


@bp.route("/loans/register.<any(xlsx, csv):fmt>")
@login_required
def register_export(fmt: str):
    return register_download(actor(current_user), fmt, request.args, client_ip())
