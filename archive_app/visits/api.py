"""API: a customer's visitor cards (温馨卡), grade history and follow-ups (回访); the caller's due follow-ups."""
from __future__ import annotations

from typing import Any

from flask import jsonify
from flask_login import current_user

from archive_app import policy
from archive_app.api import json_body, route
from archive_app.api.openapi import DATE, ROW_ID, SCHEMAS, text
from archive_app.extensions import db
from archive_app.http import actor, client_ip
from archive_app.intake.customers import get_customer
from archive_app.visits import cards, follow_ups, grades
from archive_app.visits.choices import CARD_CHOICES, FOLLOW_UP_WAYS, GRADE_ORDER, MAX_VISITS
from archive_app.wiring import follow_up_settings, get_store, local_today, now

_GRADE = {"type": "string", "enum": list(GRADE_ORDER)}
# The bodies this room takes, closed like every other (declared here, next to the code that reads them).
SCHEMAS.update({
    "VisitorCardInput": {"type": "object", "additionalProperties": False, "required": ["visit_dates"], "properties": {
        **{field: {"type": ["string", "null"], "enum": [*codes, None], "description": name}
           for field, (name, codes) in CARD_CHOICES.items()},
        "visit_dates": {"type": "array", "items": DATE, "minItems": 1, "maxItems": MAX_VISITS,
                        "description": "到访日期: first, second, third and more, in order (not earlier than the one before)"},
        "consultant_id": {"anyOf": [ROW_ID, {"type": "null"}],
                          "description": "接待置业顾问: a user who may serve customers"},
        "grade": {"anyOf": [_GRADE, {"type": "null"}],
                  "description": "becomes the customer's grade; lower than the current one needs grade_reason "
                                 "(400 downgrade_reason_required)"},
        "grade_reason": text(2000), "scouting": {"type": "boolean", "description": "踩盘"},
        "notes": text(5000), "record_id": {"anyOf": [ROW_ID, {"type": "null"}],
                                           "description": "the record of this customer holding the card's scan"}}},
    "CardVisitInput": {"type": "object", "additionalProperties": False, "required": ["visited_on"], "properties": {
        "visited_on": {**DATE, "description": "the next visit (二次、三次…); before the card's last one: "
                                              "409 visit_before_last"}}},
    "GradeChangeInput": {"type": "object", "additionalProperties": False, "required": ["grade"], "properties": {
        "grade": _GRADE, "reason": {**text(2000), "description": "required for a downgrade "
                                                               "(400 downgrade_reason_required)"}}},
    "FollowUpInput": {"type": "object", "additionalProperties": False, "required": ["way", "result"], "properties": {
        "done_on": {**DATE, "description": "回访日期 (default today)"},
        "way": {"type": "string", "enum": list(FOLLOW_UP_WAYS), "description": "回访方式"},
        "result": text(2000, required=True),
        "next_due_on": {**DATE, "description": "下次回访日期: not before done_on (400 next_due_before_done)"}}},
})
HELD = {409: "customer_on_hold / customer_erased"}


@route("GET", "/customers/<int:customer_id>/cards", "A customer's visitor cards (温馨卡), oldest first (audited)")
def list_cards(customer_id: int):
    user = actor(current_user)
    found = cards.list_cards(db.session, user, customer_id, ip=client_ip())
    return jsonify({"items": [cards.card_dict(c, user) for c in found]})


@route("POST", "/customers/<int:customer_id>/cards", "Enter a visitor card (温馨卡); its grade becomes the "
       "customer's, the first card schedules the first follow-up", body="VisitorCardInput",
       responses={201: "created", **HELD})
def create_card(customer_id: int):
    user = actor(current_user)
    card = cards.create_card(db.session, user, customer_id, json_body(), now=now(), settings=follow_up_settings(),
                             ip=client_ip())
    return jsonify(cards.card_dict(card, user)), 201


@route("GET", "/cards/<int:card_id>", "One visitor card (audited)")
def get_card(card_id: int):
    user = actor(current_user)
    return jsonify(cards.card_dict(cards.view_card(db.session, user, card_id, ip=client_ip()), user))


@route("POST", "/cards/<int:card_id>/visits", "Add the next visit date to a card", body="CardVisitInput",
       responses={201: "created", 409: "visit_before_last / too_many_visits / customer_on_hold / customer_erased"})
def add_visit(card_id: int):
    user = actor(current_user)
    visit = cards.add_visit(db.session, user, card_id, json_body(), now=now(), ip=client_ip())
    return jsonify(cards.card_dict(visit.card, user)), 201


@route("GET", "/customers/<int:customer_id>/grades", "A customer's grade history, newest first")
def grade_history(customer_id: int):
    found = grades.grade_history(db.session, actor(current_user), customer_id)
    return jsonify({"items": [grades.change_dict(c) for c in found]})


@route("POST", "/customers/<int:customer_id>/grades", "Change a customer's grade today (a downgrade needs a reason)",
       body="GradeChangeInput", responses={**HELD})
def change_grade(customer_id: int):
    user = actor(current_user)
    change = grades.change_grade(db.session, user, customer_id, json_body(), now=now(), today=local_today(),
                                 ip=client_ip())
    customer = get_customer(db.session, user, customer_id, "visit.view")
    return jsonify({"grade": customer.grade, "change": grades.change_dict(change) if change else None})


@route("GET", "/customers/<int:customer_id>/follow-ups", "A customer's follow-ups: open ones first, then those made")
def list_follow_ups(customer_id: int):
    customer = get_customer(db.session, actor(current_user), customer_id, "visit.view")
    today = local_today()
    return jsonify({"items": [follow_ups.follow_up_dict(f, today)
                              for f in follow_ups.customer_follow_ups(db.session, customer.id)]})


@route("POST", "/customers/<int:customer_id>/follow-ups", "Record a follow-up made (completes the oldest open "
       "one) and when the next is due", body="FollowUpInput", responses={201: "created", **HELD})
def record_follow_up(customer_id: int):
    follow = follow_ups.record_follow_up(db.session, actor(current_user), customer_id, json_body(), now=now(),
                                         today=local_today(), ip=client_ip(), store=get_store())
    return jsonify(follow_ups.follow_up_dict(follow, local_today())), 201


@route("GET", "/follow-ups/due", "The caller's follow-ups due today or overdue (a head: the department's too)")
def due_follow_ups():
    user = actor(current_user)
    today = local_today()
    rows = follow_ups.due_for(db.session, user, today)
    # Only customers the caller sees are named; a line of another's is counted, not shown.
    shown: list[dict[str, Any]] = [follow_ups.follow_up_dict(f, today) for f in rows
                                   if policy.can(user, "customer.view", f.customer)]
    return jsonify({"today": today.isoformat(), "items": shown, "hidden": len(rows) - len(shown)})
