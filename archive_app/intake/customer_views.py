"""Customer list, the customer's archive file (一户一档), create and edit."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.corrections import history, verification
from archive_app.extensions import db
from archive_app.http import actor, attempt, client_ip, form_dict, page, page_arg
from archive_app.i18n import _
from archive_app.intake import customers as svc
from archive_app.intake.records import customer_records
from archive_app.wiring import get_store, now, read_session

bp = Blueprint("customers", __name__)
PER_PAGE = 20


@bp.route("/")
@login_required
def index():
    filters = {k: request.args.get(k, "") for k in ("q", "business_type", "grade", "project")}
    user = actor(current_user)
    rows, total = svc.search_customers(db.session, user, page=page_arg(), per_page=PER_PAGE,
                                       ip=client_ip(), reads=read_session(user.id), **filters)
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    return render_template("customers/index.html", customers=rows, total=total, filters=filters,
                           page=page_arg(), pages=pages)


def _consultants() -> list[User]:
    """Who the form offers as a customer's 置业顾问 (active users the policy lets serve customers)."""
    return list(db.session.scalars(select(User).where(policy.users_who_may("customer.serve"))
                                   .order_by(User.display_name)))


@page(bp, "/customers/new", "customer.create", methods=["GET", "POST"])
def new(user: User):
    values = form_dict() if request.method == "POST" else {}
    if request.method == "POST":
        customer, error = attempt(lambda: svc.create_customer(db.session, user, values, ip=client_ip()),
                                  lambda c: _("已建档：%(customer_no)s %(name)s", customer_no=c.customer_no, name=c.name))
        if error:
            return render_template("customers/form.html", values=values, customer=None,
                                   consultants=_consultants()), error.status
        return redirect(url_for("customers.show", customer_id=customer.id))
    return render_template("customers/form.html", values=values, customer=None, consultants=_consultants())


@bp.app_template_global("personal")
def personal(customer, revealed: bool = False) -> policy.ShownPersonal:
    """A customer's phones and ID number as the signed-in user sees them (whole for those who handle the
    customer, masked otherwise; ``revealed`` only on the page the audited 「显示」 answers)."""
    return policy.shown_personal(actor(current_user), customer, revealed=revealed)


def _show(user: User, customer, revealed: bool = False):
    records = customer_records(db.session, user, customer)
    by_part = {part: [r for r in records if r.part == part] for part in (1, 2, 3, 4)}
    # The change history is shown as the page is: masked unless the user handles the customer or revealed.
    changes = (history.lines(db.session, customer, whole=policy.shows_whole(user, customer, revealed=revealed))
               if policy.can(user, "customer.history", customer) else [])
    return render_template("customers/show.html", customer=customer, by_part=by_part, revealed=revealed,
                           actions=svc.customer_actions(db.session, user, customer), changes=changes,
                           verifications=verification.verifications(db.session, customer))


@bp.route("/customers/<int:customer_id>")
@login_required
def show(customer_id: int):
    user = actor(current_user)
    return _show(user, svc.view_customer(db.session, user, customer_id, ip=client_ip()))


@bp.route("/customers/<int:customer_id>/reveal", methods=["POST"])
@login_required
def reveal(customer_id: int):
    """The customer's page once with full phone numbers and ID number (a POST: never cached, linked or prefetched)."""
    user = actor(current_user)
    return _show(user, svc.reveal_pii(db.session, user, customer_id, ip=client_ip()), revealed=True)


@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@login_required
def edit(customer_id: int):
    user = actor(current_user)
    customer = svc.get_customer(db.session, user, customer_id, "customer.edit")
    if request.method == "POST":
        values = form_dict()
        _unused, error = attempt(lambda: svc.update_customer(db.session, user, customer_id, values, ip=client_ip(),
                                                       store=get_store(), now=now()),
                           lambda _result: _("客户资料已更新（变更已记录）"))
        if error:
            return render_template("customers/form.html", values=values, customer=customer,
                                   consultants=_consultants()), error.status
        return redirect(url_for("customers.show", customer_id=customer_id))
    # The form must hold the full values to save them back: for one who does not handle the customer,
    # opening it is a reveal.
    revealed = not policy.shows_whole(user, customer)
    if revealed:
        svc.reveal_pii(db.session, user, customer_id, ip=client_ip(), via="edit")
    values = svc.customer_dict(customer, user, revealed=revealed)
    return render_template("customers/form.html", values=values, customer=customer, consultants=_consultants())
