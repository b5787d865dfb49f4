"""Visitor cards (温馨卡): one paper card as data, entered beside its scan; several per customer over time.

A card holds the paper's fixed choices (``choices.CARD_CHOICES``, stored as codes), the visit dates
(first, second, third and more), the consultant who received the visitor, the grade given and the
踩盘 flag. Saving one sets the customer's grade through the grade history (a downgrade needs its
reason) and, for the customer's first card, schedules the first follow-up.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.errors import Conflict, NotFound, ValidationFailed, in_range
from archive_app.i18n import _
from archive_app.intake.models import Customer, Record
from archive_app.visits import follow_ups, grades
from archive_app.visits.choices import CARD_CHOICES, MAX_VISITS, label
from archive_app.visits.models import CardVisit, VisitorCard

NOTES_LIMIT = 5000
FIELDS = (*CARD_CHOICES, "visit_dates", "consultant_id", "grade", "grade_reason", "scouting", "notes", "record_id")
_TRUE = {"1", "true", "on", "yes", "y"}


def _bool(value: Any) -> bool:
    return value is True or str(value or "").strip().lower() in _TRUE


def _visit_dates(data: Mapping[str, Any]) -> list[date]:
    raw = data.get("visit_dates")
    if raw is None:
        raw = []
    if isinstance(raw, str):
        raw = [part for part in raw.replace("，", ",").split(",")]
    if not isinstance(raw, list):
        raise ValidationFailed(_("到访日期须为日期列表"), code="invalid_date")
    days = [d for d in (grades.parse_day(v, _("到访日期")) for v in raw) if d is not None]
    if not days:
        raise ValidationFailed(_("请填写首次到访日期"), code="first_visit_required")
    if len(days) > MAX_VISITS:
        raise ValidationFailed(_("到访日期最多 %(max_visits)s 个", max_visits=MAX_VISITS), code="too_many_visits")
    if any(later < earlier for earlier, later in zip(days, days[1:])):
        raise ValidationFailed(_("到访日期须按先后顺序填写（首次、二次、三次……）"), code="visit_dates_out_of_order")
    return days


def _optional_id(value: Any, label_: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return in_range(int(value), label_)
    except (TypeError, ValueError):
        raise ValidationFailed(_("%(label)s格式不正确", label=label_), code="invalid_number") from None


def parse_card(data: Mapping[str, Any]) -> dict[str, Any]:
    """A card's fields validated: choice codes (empty: not ticked), visit dates in order, ids, grade, flag, notes.

    The page's form sends ``visit_dates`` as several fields or one comma-separated value; the API a list.
    """
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise ValidationFailed(_("未知字段：%(value)s", value=sorted(unknown)[0]), code="unknown_field")
    out: dict[str, Any] = {}
    for field, (name, codes) in CARD_CHOICES.items():
        code = str(data.get(field) or "").strip() or None
        if code is not None and code not in codes:
            raise ValidationFailed(_("%(name)s的选项无效：%(code)s", name=name, code=code), code="invalid_choice", details={"field": field})
        out[field] = code
    out["visit_dates"] = _visit_dates(data)
    out["consultant_id"] = _optional_id(data.get("consultant_id"), _("接待置业顾问"))
    out["record_id"] = _optional_id(data.get("record_id"), _("扫描件档案"))
    grade = str(data.get("grade") or "").strip()
    out["grade"] = grades.parse_grade(grade) if grade else None
    out["grade_reason"] = str(data.get("grade_reason") or "").strip()
    out["scouting"] = _bool(data.get("scouting"))
    out["notes"] = str(data.get("notes") or "").strip()
    if len(out["notes"]) > NOTES_LIMIT:
        raise ValidationFailed(_("备注过长（不超过 %(notes_limit)s 字）", notes_limit=NOTES_LIMIT), code="field_too_long")
    return out


def _consultant(session: Session, consultant_id: int | None) -> User | None:
    if consultant_id is None:
        return None
    found = session.get(User, consultant_id)
    # Like any id that names nothing (or no one who may serve customers): 404.
    if found is None or not policy.can(found, "customer.serve"):
        raise NotFound(_("接待置业顾问不存在"), code="unknown_consultant")
    return found


def _scan(session: Session, actor: User, customer: Customer, record_id: int | None) -> Record | None:
    if record_id is None:
        return None
    record = session.get(Record, record_id)
    # A record of another file, destroyed, or one the actor may not see answers as a missing one.
    if (record is None or record.customer_id != customer.id or record.status == "destroyed"
            or not policy.can(actor, "record.view", record)):
        raise NotFound(_("扫描件档案不存在"), code="record_not_found")
    return record


def create_card(session: Session, actor: User, customer_id: int, data: Mapping[str, Any], *, now: datetime,
                settings: follow_ups.FollowUpSettings, ip: str = "") -> VisitorCard:
    """Enter one card for a customer (``visit.record``); refused on a held or erased file.

    The card's grade becomes the customer's (dated the card's last visit); the customer's first card
    schedules the first follow-up.
    """
    from archive_app.intake.customers import get_customer
    from archive_app.retention.holds import require_customer_changeable

    customer = get_customer(session, actor, customer_id, "visit.record")
    require_customer_changeable(session, customer, _("登记温馨卡"), actor)
    values = parse_card(data)
    consultant = _consultant(session, values["consultant_id"])
    scan = _scan(session, actor, customer, values["record_id"])
    card = VisitorCard(customer_id=customer.id, record_id=scan.id if scan else None,
                       consultant_id=consultant.id if consultant else None, grade=values["grade"],
                       scouting=values["scouting"], notes=values["notes"], created_by_id=actor.id, created_at=now,
                       **{f: values[f] for f in CARD_CHOICES})
    card.visits = [CardVisit(visit_no=n, visited_on=d) for n, d in enumerate(values["visit_dates"], start=1)]
    session.add(card)
    session.flush()
    change = None
    if values["grade"] is not None:
        change = grades.set_grade(session, actor, customer, values["grade"], reason=values["grade_reason"], now=now,
                                  changed_on=values["visit_dates"][-1], card=card, ip=ip)
    first = follow_ups.schedule_first(session, customer, card, settings)
    audit.record_event(session, "visit_card.create", actor=actor, object_type="customer", object_id=customer.id,
                       ip=ip, now=now, details={
                           "customer_no": customer.customer_no, "card_id": card.id,
                           **{f: values[f] for f in CARD_CHOICES},
                           "visit_dates": [d.isoformat() for d in values["visit_dates"]],
                           "consultant_id": card.consultant_id, "grade": card.grade, "scouting": card.scouting,
                           "record_id": card.record_id, "grade_change_id": change.id if change else None,
                           "first_follow_up_due": first.due_on.isoformat() if first and first.due_on else None},
                       # The card's notes describe the person (相貌特征、性格…): the erasable part.
                       personal={"notes": card.notes} if card.notes else None)
    return card


def add_visit(session: Session, actor: User, card_id: int, data: Mapping[str, Any], *, now: datetime,
              ip: str = "") -> CardVisit:
    """Add the next visit date (二次、三次及以后到访) to a card (``visit.record``), on or after its last one.

    A date before the card's last visit conflicts with the card as it stands (409 ``visit_before_last``).
    """
    from archive_app.retention.holds import require_customer_changeable

    unknown = set(data) - {"visited_on"}
    if unknown:
        raise ValidationFailed(_("未知字段：%(value)s", value=sorted(unknown)[0]), code="unknown_field")
    card = session.get(VisitorCard, card_id)
    if card is None or not policy.can(actor, "visit.view", card.customer):
        raise NotFound(_("温馨卡不存在"), code="card_not_found")
    policy.require(actor, "visit.record", card.customer)
    require_customer_changeable(session, card.customer, _("登记到访"), actor)
    visited_on = grades.parse_day(data.get("visited_on"), _("到访日期"))
    if visited_on is None:
        raise ValidationFailed(_("请填写到访日期"), code="visit_date_required")
    if len(card.visits) >= MAX_VISITS:
        raise Conflict(_("一张温馨卡最多登记 %(max_visits)s 次到访，请新登记一张", max_visits=MAX_VISITS), code="too_many_visits")
    last = card.visits[-1].visited_on if card.visits else None
    if last is not None and visited_on < last:
        raise Conflict(_("到访日期不能早于上次到访（%(last)s）", last=last), code="visit_before_last")
    visit = CardVisit(visit_no=len(card.visits) + 1, visited_on=visited_on)
    card.visits.append(visit)
    session.flush()
    audit.record_event(session, "visit_card.visit", actor=actor, object_type="customer", object_id=card.customer_id,
                       ip=ip, now=now, details={"customer_no": card.customer.customer_no, "card_id": card.id,
                                                "visit_no": visit.visit_no, "visited_on": visited_on.isoformat()})
    return visit


def customer_cards(session: Session, customer_id: int) -> list[VisitorCard]:
    """A customer's cards, oldest first."""
    return list(session.scalars(select(VisitorCard).where(VisitorCard.customer_id == customer_id)
                                .order_by(VisitorCard.id)))


def list_cards(session: Session, actor: User, customer_id: int, ip: str = "") -> list[VisitorCard]:
    """The cards of a customer ``actor`` sees (``visit.view``); the look is audited."""
    from archive_app.intake.customers import get_customer

    customer = get_customer(session, actor, customer_id, "visit.view")
    cards = customer_cards(session, customer.id)
    audit.record_read(session, "visit_card.list", actor=actor, object_type="customer", object_id=customer.id, ip=ip,
                       details={"customer_no": customer.customer_no, "cards": [c.id for c in cards]})
    return cards


def view_card(session: Session, actor: User, card_id: int, ip: str = "") -> VisitorCard:
    """One card of a customer ``actor`` sees (``visit.view``), else as missing; the look is audited."""
    card = session.get(VisitorCard, card_id)
    if card is None or not policy.can(actor, "visit.view", card.customer):
        raise NotFound(_("温馨卡不存在"), code="card_not_found")
    audit.record_read(session, "visit_card.view", actor=actor, object_type="customer", object_id=card.customer_id,
                       ip=ip, details={"customer_no": card.customer.customer_no, "card_id": card.id})
    return card


def card_dict(card: VisitorCard, viewer: User) -> dict[str, Any]:
    """The API form of a card: codes in the card's order, their Chinese labels, visits, the scan's record
    (its id only when ``viewer`` may see it)."""
    record_visible = card.record is not None and policy.can(viewer, "record.view", card.record)
    return {"id": card.id, "customer_id": card.customer_id,
            **{f: getattr(card, f) for f in CARD_CHOICES},
            "labels": {f: label(f, getattr(card, f)) for f in CARD_CHOICES},
            "visit_dates": [v.visited_on.isoformat() for v in card.visits],
            "consultant_id": card.consultant_id,
            "consultant": card.consultant.display_name if card.consultant else None,
            "grade": card.grade, "scouting": card.scouting, "notes": card.notes,
            "record_id": card.record_id if record_visible else None,
            "created_by": card.created_by.display_name, "created_at": card.created_at.isoformat()}
