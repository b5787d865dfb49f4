"""Visit pages: enter a 温馨卡 beside its scan, a card's page, grade changes and follow-ups from the
customer page, and the consultant's due follow-ups (回访)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.extensions import db
from archive_app.http import actor, attempt, client_ip, form_dict, optional_int, page
from archive_app.i18n import _
from archive_app.intake import customers as customer_svc
from archive_app.intake import records as record_svc
from archive_app.intake.models import Customer, Record
from archive_app.retention import holds
from archive_app.visits import cards, follow_ups, grades
from archive_app.visits.choices import CARD_CHOICES, FOLLOW_UP_WAYS, GRADE_ORDER, MAX_VISITS, label
from archive_app.wiring import follow_up_settings, get_store, local_today, now

bp = Blueprint("visits", __name__)
# Empty visit-date fields the form offers (first, second, third…); more are added by static/visits.js.
FORM_VISITS = 3


def _consultants() -> list[User]:
    """Who a card may name as its 接待置业顾问 (active users the policy lets serve customers)."""
    return list(db.session.scalars(select(User).where(policy.users_who_may("customer.serve"))
                                   .order_by(User.display_name)))


def _scan_pages(user: User, record: Record | None) -> list[dict[str, Any]]:
    """The page images of the scan the user may read now (none otherwise): archivists always, business
    users under a borrowing grant, as the record page decides."""
    if record is None or not record_svc.content_rights(db.session, user, record, now=now())["read"]:
        return []
    return [{"url": url_for("records.page_image", record_id=record.id, file_id=f.id, page_no=p.page_no,
                            kind="image"), "label": _("%(original_name)s 第%(page_no)s页", original_name=f.original_name, page_no=p.page_no)}
            for f in record.files for p in f.pages if p.view_key]


def _scan_choices(user: User, customer: Customer) -> list[Record]:
    """The customer's records a card's scan may be: those the user sees, 温馨卡 first."""
    found = [r for r in record_svc.customer_records(db.session, user, customer) if r.status != "destroyed"]
    return sorted(found, key=lambda r: (r.record_type != "温馨卡", r.part, r.item_no))


def _card_form(user: User, customer: Customer, values: dict[str, Any], status: int = 200):
    record_id = optional_int(str(values.get("record_id") or ""))
    scan = db.session.get(Record, record_id) if record_id else None
    if scan is not None and (scan.customer_id != customer.id or not policy.can(user, "record.view", scan)):
        scan = None
    dates = values.get("visit_dates") or []
    return render_template("visits/card_form.html", customer=customer, values=values, choices=CARD_CHOICES,
                           grades=list(GRADE_ORDER), consultants=_consultants(), scan=scan,
                           scan_pages=_scan_pages(user, scan), scan_choices=_scan_choices(user, customer),
                           visit_dates=list(dates) + [""] * max(FORM_VISITS - len(dates), 1),
                           max_visits=MAX_VISITS), status


@page(bp, "/customers/<int:customer_id>/cards/new", "visit.record", methods=["GET", "POST"])
def new_card(user: User, customer_id: int):
    customer = customer_svc.get_customer(db.session, user, customer_id, "visit.record")
    if request.method == "GET":
        values: dict[str, Any] = {"record_id": request.args.get("record_id", ""),
                                  "consultant_id": customer.consultant_id or ""}
        return _card_form(user, customer, values)
    values = form_dict()
    values["visit_dates"] = [d for d in request.form.getlist("visit_dates") if d.strip()]
    card, error = attempt(lambda: cards.create_card(db.session, user, customer_id, values, now=now(),
                                                    settings=follow_up_settings(), ip=client_ip()),
                          lambda c: _("温馨卡已登记"))
    if error:
        return _card_form(user, customer, values, error.status)
    return redirect(url_for("visits.show_card", card_id=card.id))


@page(bp, "/cards/<int:card_id>", "visit.view")
def show_card(user: User, card_id: int):
    card = cards.view_card(db.session, user, card_id, ip=client_ip())
    customer = card.customer
    may_visit = (not customer.erased and not holds.customer_holds_in_force(db.session, customer.id)
                 and policy.can(user, "visit.record", customer))
    return render_template("visits/card.html", card=card, choices=CARD_CHOICES, may_visit=may_visit,
                           today=local_today(), scan_pages=_scan_pages(user, card.record))


@page(bp, "/cards/<int:card_id>/visits", "visit.record", methods=["POST"])
def add_visit(user: User, card_id: int):
    values = {k: v for k, v in form_dict().items() if k == "visited_on"}
    attempt(lambda: cards.add_visit(db.session, user, card_id, values, now=now(), ip=client_ip()),
            lambda v: _("已登记第%(visit_no)s次到访", visit_no=v.visit_no))
    return redirect(url_for("visits.show_card", card_id=card_id))


@page(bp, "/customers/<int:customer_id>/grade", "grade.change", methods=["POST"])
def change_grade(user: User, customer_id: int):
    values = {k: v for k, v in form_dict().items() if k in ("grade", "reason")}
    attempt(lambda: grades.change_grade(db.session, user, customer_id, values, now=now(), today=local_today(),
                                        ip=client_ip()),
            lambda c: _("客户等级已改为 %(to_grade)s", to_grade=c.to_grade) if c else _("等级未变"))
    return redirect(url_for("customers.show", customer_id=customer_id) + "#visits")


@page(bp, "/customers/<int:customer_id>/follow-ups", "followup.record", methods=["POST"])
def record_follow_up(user: User, customer_id: int):
    values = {k: v for k, v in form_dict().items() if k in ("done_on", "way", "result", "next_due_on")}
    attempt(lambda: follow_ups.record_follow_up(db.session, user, customer_id, values, now=now(),
                                                today=local_today(), ip=client_ip(), store=get_store()),
            lambda f: _("回访已记录"))
    return redirect(url_for("customers.show", customer_id=customer_id) + "#visits")


@page(bp, "/follow-ups", "followup.record")
def due_follow_ups(user: User):
    today = local_today()
    rows = follow_ups.due_for(db.session, user, today)
    # A line names its customer only to whoever may see that customer (a consultant moved elsewhere may not).
    return render_template("visits/follow_ups.html", rows=rows, today=today,
                           sees=lambda c: policy.can(user, "customer.view", c))


bp.add_app_template_global(label, "visit_labels")


@bp.app_template_global("visit_file")
def visit_file(customer: Customer) -> dict[str, Any] | None:
    """What the customer page shows of visits: cards, grade history, follow-ups, and which forms it offers."""
    user = actor(current_user)
    if not policy.can(user, "visit.view", customer):
        return None
    changeable = not customer.erased and not holds.customer_holds_in_force(db.session, customer.id)
    return {"cards": cards.customer_cards(db.session, customer.id),
            "grades": grades.history(db.session, customer.id),
            "follow_ups": follow_ups.customer_follow_ups(db.session, customer.id),
            "today": local_today(), "ways": FOLLOW_UP_WAYS, "grade_letters": list(GRADE_ORDER),
            "may": {"card": changeable and policy.can(user, "visit.record", customer),
                    "grade": changeable and policy.can(user, "grade.change", customer),
                    "follow_up": changeable and policy.can(user, "followup.record", customer)}}

