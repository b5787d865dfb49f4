"""Follow-ups (回访): the first one due a few days after the first visit, then each one recorded.

A follow-up is due on a day for a consultant (the card's 接待置业顾问, else the customer's); it is
open until recorded (date, way, result); recording may set when the next one is due. The inbox
(``inbox.notices``) tells each consultant of theirs that are due today or overdue.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.errors import ValidationFailed
from archive_app.i18n import _
from archive_app.intake import record_departments
from archive_app.intake.models import Customer
from archive_app.visits.choices import FOLLOW_UP_WAYS
from archive_app.visits.grades import parse_day
from archive_app.visits.models import FollowUp, VisitorCard
from storage.base import BlobStore

RESULT_LIMIT = 2000


@dataclass(frozen=True)
class FollowUpSettings:
    """``ARCHIVE_FIRST_FOLLOWUP_DAYS``: days from the first visit to the first follow-up."""

    first_days: int = 3


def add_days(day: date, days: int) -> date:
    """``day`` + ``days``, kept within the calendar (a card dated 9999-12-31 still saves)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


def schedule_first(session: Session, customer: Customer, card: VisitorCard, settings: FollowUpSettings) -> FollowUp | None:
    """The customer's first follow-up, due ``first_days`` after the card's first visit; None when the
    customer has had follow-ups before (a later card is a return visit, followed up as recorded)."""
    if session.scalar(select(FollowUp.id).where(FollowUp.customer_id == customer.id).limit(1)) is not None:
        return None
    first = card.first_visit_on
    if first is None:
        return None
    follow = FollowUp(customer_id=customer.id, department_id=record_departments.department_of(customer),
                      assignee_id=card.consultant_id or customer.consultant_id,
                      due_on=add_days(first, settings.first_days), card_id=card.id)
    session.add(follow)
    session.flush()
    return follow


def _open(session: Session, customer_id: int) -> FollowUp | None:
    return session.scalar(select(FollowUp).where(FollowUp.customer_id == customer_id, FollowUp.done_on.is_(None))
                          .order_by(FollowUp.due_on.is_(None), FollowUp.due_on, FollowUp.id).limit(1))


def record_follow_up(session: Session, actor: User, customer_id: int, data: dict[str, Any], *, now: datetime,
                     today: date, ip: str = "", store: BlobStore | None = None) -> FollowUp:
    """Record a follow-up made (``done_on`` default today, ``way``, ``result``) and, with ``next_due_on``,
    when the next is due. It completes the customer's oldest open follow-up, or is written done.

    A follow-up is a contact: when ``done_on`` is later than the customer's 最后联系日期 it becomes the new
    one, and the records' disposal dates counted from it are recomputed (committed; given ``store``, the
    locks on their files follow), as for a correction of that date."""
    from archive_app.intake.customers import after_fields_changed, get_customer
    from archive_app.retention.holds import require_customer_changeable

    unknown = set(data) - {"done_on", "way", "result", "next_due_on"}
    if unknown:
        raise ValidationFailed(_("未知字段：%(value)s", value=sorted(unknown)[0]), code="unknown_field")
    customer = get_customer(session, actor, customer_id, "followup.record")
    require_customer_changeable(session, customer, _("记录回访"), actor)
    done_on = parse_day(data.get("done_on"), _("回访日期")) or today
    way = str(data.get("way") or "").strip()
    if way not in FOLLOW_UP_WAYS:
        raise ValidationFailed(_("请选择回访方式（电话、上门、来访、微信、短信或其他）"), code="invalid_way")
    result = str(data.get("result") or "").strip()
    if not result:
        raise ValidationFailed(_("请填写回访结果"), code="result_required")
    if len(result) > RESULT_LIMIT:
        raise ValidationFailed(_("回访结果过长（不超过 %(result_limit)s 字）", result_limit=RESULT_LIMIT), code="field_too_long")
    next_due = parse_day(data.get("next_due_on"), _("下次回访日期"))
    if next_due is not None and next_due < done_on:
        raise ValidationFailed(_("下次回访日期不能早于本次回访日期"), code="next_due_before_done")
    follow = _open(session, customer.id)
    if follow is None:
        follow = FollowUp(customer_id=customer.id, department_id=record_departments.department_of(customer),
                          assignee_id=actor.id)
        session.add(follow)
    follow.done_on, follow.way, follow.result, follow.done_by_id = done_on, way, result, actor.id
    session.flush()
    following = None
    if next_due is not None:
        following = FollowUp(customer_id=customer.id, department_id=record_departments.department_of(customer),
                             assignee_id=follow.assignee_id or actor.id, due_on=next_due)
        session.add(following)
        session.flush()
    contact = _later_contact(customer, done_on)
    details = {"customer_no": customer.customer_no, "follow_up_id": follow.id, "done_on": done_on.isoformat(),
               "way": way, "due_on": follow.due_on.isoformat() if follow.due_on else None,
               "next_due_on": next_due.isoformat() if next_due else None}
    if contact:
        details["last_contact_on"] = {k: v.isoformat() if v else None for k, v in contact["last_contact_on"].items()}
    audit.record_event(session, "followup.record", actor=actor, object_type="customer", object_id=customer.id,
                       ip=ip, now=now, details=details,
                       # What the customer said is theirs: kept in the erasable part of the entry.
                       personal={"result": result})
    after_fields_changed(session, customer, contact, store, now=now)
    return follow


def _later_contact(customer: Customer, done_on: date) -> dict[str, dict[str, date | None]]:
    """Move the customer's 最后联系日期 on to ``done_on`` when that is later; ``{field: {"before", "after"}}``
    of the change, or empty (an earlier follow-up entered late never moves it back)."""
    before = customer.last_contact_on
    if before is not None and before >= done_on:
        return {}
    customer.last_contact_on = done_on
    return {"last_contact_on": {"before": before, "after": done_on}}


def customer_follow_ups(session: Session, customer_id: int) -> list[FollowUp]:
    """A customer's follow-ups: open ones first (by due day), then those made, newest first."""
    rows = session.scalars(select(FollowUp).where(FollowUp.customer_id == customer_id).order_by(FollowUp.id))
    rows = list(rows)
    open_ = sorted((f for f in rows if f.done_on is None), key=lambda f: (f.due_on or date.max, f.id))
    done = sorted((f for f in rows if f.done_on is not None), key=lambda f: (f.done_on, f.id), reverse=True)
    return open_ + done


def _due_condition(user: User, today: date, department: bool):
    cond = [FollowUp.done_on.is_(None), FollowUp.due_on <= today]
    if department and user.department_id is not None:
        cond.append(or_(FollowUp.assignee_id == user.id, Customer.department_id == user.department_id))
    else:
        cond.append(FollowUp.assignee_id == user.id)
    return cond


def due_follow_ups(session: Session, user: User, today: date, *, department: bool = False,
                   limit: int = 500) -> list[FollowUp]:
    """Open follow-ups due by ``today``: the user's own, and with ``department`` their department's
    customers' too (a head's view). Oldest due first."""
    stmt = (select(FollowUp).join(Customer, Customer.id == FollowUp.customer_id)
            .where(*_due_condition(user, today, department)).order_by(FollowUp.due_on, FollowUp.id).limit(limit))
    return list(session.scalars(stmt))


def due_for(session: Session, user: User, today: date) -> list[FollowUp]:
    """The due list ``user`` works from (``followup.record``): their own, a head's whole department's."""
    policy.require(user, "followup.record")
    return due_follow_ups(session, user, today, department=policy.can(user, "followup.view_department"))


@dataclass(frozen=True)
class DueCounts:
    """How many of a consultant's follow-ups are overdue and due today (the inbox's lines)."""

    overdue: int
    today: int
    earliest: date | None


def due_counts(session: Session, user: User, today: date) -> DueCounts:
    """The user's own open follow-ups: overdue (due before ``today``) and due ``today``."""
    late = FollowUp.due_on < today
    overdue, on_day, earliest = session.execute(
        select(func.sum(case((late, 1), else_=0)), func.sum(case((late, 0), else_=1)),
               func.min(case((late, FollowUp.due_on), else_=None)))
        .join(Customer, Customer.id == FollowUp.customer_id).where(*_due_condition(user, today, False))).one()
    return DueCounts(overdue=int(overdue or 0), today=int(on_day or 0), earliest=earliest)


def follow_up_dict(f: FollowUp, today: date | None = None) -> dict[str, Any]:
    """The API form of one follow-up (``overdue`` when open and due before ``today``)."""
    return {"id": f.id, "customer_id": f.customer_id, "assignee_id": f.assignee_id,
            "assignee": f.assignee.display_name if f.assignee else None,
            "due_on": f.due_on.isoformat() if f.due_on else None,
            "done_on": f.done_on.isoformat() if f.done_on else None, "way": f.way,
            "way_label": FOLLOW_UP_WAYS.get(f.way or "", ""), "result": f.result,
            "done_by": f.done_by.display_name if f.done_by else None, "card_id": f.card_id,
            "overdue": bool(today and f.done_on is None and f.due_on is not None and f.due_on < today)}
