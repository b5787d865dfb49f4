"""Pages: file a change request, the requester's and the approver's lists, one request, quarterly verification."""
from __future__ import annotations

import json

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.config import CORRECTABLE_FIELDS
from archive_app.corrections import history, verification
from archive_app.corrections import requests as svc
from archive_app.extensions import db
from archive_app.http import actor, attempt, client_ip, form_dict, page
from archive_app.i18n import _
from archive_app.intake import customers
from archive_app.wiring import get_store, now, sensitive_customer_fields, timezone_name

bp = Blueprint("corrections", __name__)


@bp.app_template_filter("change_fields")
def change_fields(changes: str) -> str:
    """The fields a request's ``changes`` JSON names, in Chinese (lists of requests)."""
    return "、".join(str(history.FIELD_LABELS.get(f, f)) for f in json.loads(changes))


@bp.app_template_global("customer_label")
def customer_label(customer) -> str:
    """How the signed-in user may see a customer named in a list: name and 客户号, or the placeholder."""
    return policy.customer_label(actor(current_user), customer)


@page(bp, "/customers/<int:customer_id>/change-requests/new", "correction.request", methods=["GET", "POST"])
def new(user: User, customer_id: int):
    customer = customers.get_customer(db.session, user, customer_id, "correction.request")
    values = form_dict() if request.method == "POST" else {}
    if request.method == "POST":
        # A field left empty on the form is not part of the request.
        changes = {k: v for k, v in values.items() if k in CORRECTABLE_FIELDS and v.strip()}
        req, error = attempt(lambda: svc.file_request(db.session, user, customer_id,
                                                      {"changes": changes, "reason": values.get("reason", "")},
                                                      sensitive_fields=sensitive_customer_fields(), now=now(),
                                                      ip=client_ip()),
                             lambda r: _("变更申请 #%(id)s 已提交，%(value)s", id=r.id, value=svc.STATUS_LABELS[r.status]))
        if error is None:
            return redirect(url_for("corrections.show", request_id=req.id))
        status = error.status
    else:
        status = 200
    return render_template("corrections/new.html", customer=customer, values=values, labels=history.FIELD_LABELS,
                           fields=CORRECTABLE_FIELDS, sensitive=sensitive_customer_fields()), status


@page(bp, "/change-requests/mine", "correction.view")
def mine(user: User):
    rows = svc.my_requests(db.session, user, ip=client_ip())
    return render_template("corrections/list.html", title=_("我的变更申请"), rows=rows, labels=svc.STATUS_LABELS)


@page(bp, "/change-requests/queue", "correction.view")
def queue(user: User):
    rows = svc.to_decide(db.session, user, ip=client_ip())
    return render_template("corrections/list.html", title=_("待我审批的变更申请"), rows=rows, labels=svc.STATUS_LABELS)


@page(bp, "/change-requests/<int:request_id>", "correction.view")
def show(user: User, request_id: int):
    req = svc.view_request(db.session, user, request_id, ip=client_ip())
    return render_template("corrections/show.html", req=req, data=svc.request_dict(user, req))


@page(bp, "/change-requests/<int:request_id>/approve", "correction.view", methods=["POST"])
def approve(user: User, request_id: int):
    # A refusal (e.g. customer_changed) is flashed on the queue, where the approver can reject instead.
    attempt(lambda: svc.approve(db.session, user, request_id, note=request.form.get("note", ""),
                        now=now(), store=get_store(), ip=client_ip()),
                lambda r: _("变更申请 #%(id)s：%(value)s", id=r.id, value=svc.STATUS_LABELS[r.status]))
    return redirect(url_for("corrections.queue"))


@page(bp, "/change-requests/<int:request_id>/reject", "correction.view", methods=["POST"])
def reject(user: User, request_id: int):
    attempt(lambda: svc.reject(db.session, user, request_id, note=request.form.get("note", ""), now=now(),
                               ip=client_ip()),
            lambda r: _("变更申请 #%(id)s 已驳回", id=r.id))
    return redirect(url_for("corrections.queue"))


@page(bp, "/verification", "verification.view")
def verification_list(user: User):
    quarter, groups = verification.to_verify(db.session, user, now=now(), tz=timezone_name(),
                                             consultant_id=request.args.get("consultant_id", type=int),
                                             ip=client_ip())
    return render_template("corrections/verification.html", quarter=quarter, groups=groups)


@page(bp, "/customers/<int:customer_id>/verify", "verification.mark", methods=["POST"])
def verify(user: User, customer_id: int):
    attempt(lambda: verification.mark_verified(db.session, user, customer_id, note=request.form.get("note", ""),
                                               now=now(), tz=timezone_name(), ip=client_ip()),
            lambda v: _("已记录本季度（%(quarter)s）核实", quarter=v.quarter))
    return redirect(request.form.get("next") == "list" and url_for("corrections.verification_list")
                    or url_for("customers.show", customer_id=customer_id))


@page(bp, "/verification/progress", "verification.progress")
def progress(user: User):
    quarter, rows = verification.progress(db.session, user, now=now(), tz=timezone_name())
    return render_template("corrections/progress.html", quarter=quarter, rows=rows)
