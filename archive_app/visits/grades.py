"""Customer grades (客户等级 A/B/C/D) and their history.

``customers.grade`` is the current grade; every change writes a ``GradeChange`` row (from, to, the
day, who, why) in the same transaction. The grade moves with a compare-and-set on the customer
row, so two changes made at once cannot both start from the same old grade. A downgrade (退化,
e.g. A→B) must be reported with its reason (温馨卡管理制度 §5): without one it is refused.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.errors import Conflict, ValidationFailed
from archive_app.i18n import _
from archive_app.intake import record_departments
from archive_app.intake.customers import parse_date
from archive_app.intake.models import Customer
from archive_app.visits.choices import GRADE_ORDER
from archive_app.visits.models import GradeChange, VisitorCard

REASON_LIMIT = 2000


def parse_grade(value: Any) -> str:
    """A grade letter (A-D, any case) or ValidationFailed ``invalid_grade``."""
    grade = str(value or "").strip().upper()
    if grade not in GRADE_ORDER:
        raise ValidationFailed(_("客户等级须为 A/B/C/D"), code="invalid_grade")
    return grade


def is_downgrade(from_grade: str | None, to_grade: str) -> bool:
    """Whether moving from ``from_grade`` to ``to_grade`` lowers the grade (A→B, B→D …)."""
    return from_grade is not None and GRADE_ORDER[to_grade] > GRADE_ORDER[from_grade]


def set_grade(session: Session, actor: User, customer: Customer, to_grade: Any, *, reason: str = "", now: datetime,
              changed_on: date, card: VisitorCard | None = None, ip: str = "") -> GradeChange | None:
    """Move ``customer`` to ``to_grade`` and write its history row and audit entry; None when unchanged.

    The caller has checked ``grade.change`` (or ``visit.record`` for a card) and that the file may
    change. Refuses a downgrade without a reason (400 ``downgrade_reason_required``).
    """
    grade = parse_grade(to_grade)
    before = customer.grade
    if grade == before:
        return None
    reason = (reason or "").strip()
    if len(reason) > REASON_LIMIT:
        raise ValidationFailed(_("等级变更原因过长（不超过 %(reason_limit)s 字）", reason_limit=REASON_LIMIT), code="field_too_long")
    if is_downgrade(before, grade) and not reason:
        raise ValidationFailed(_("客户等级由 %(before)s 降为 %(grade)s 须填写降级原因（退化须报告现场主管）", before=before, grade=grade),
                               code="downgrade_reason_required", details={"from": before, "to": grade})
    current = Customer.grade.is_(None) if before is None else Customer.grade == before
    moved = session.execute(update(Customer).where(Customer.id == customer.id, current)
                            .values(grade=grade).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise Conflict(_("客户等级刚被他人修改，请刷新后重试"), code="grade_changed")
    # The row is already updated; setting the attribute too keeps the loaded object right and lets the
    # index feed see the customer changed (its records carry the grade in the search index).
    customer.grade = grade
    change = GradeChange(customer_id=customer.id, department_id=record_departments.department_of(customer),
                         from_grade=before, to_grade=grade, changed_on=changed_on,
                         changed_at=now, changed_by_id=actor.id, reason=reason,
                         card_id=card.id if card is not None else None)
    session.add(change)
    session.flush()
    audit.record_event(session, "grade.change", actor=actor, object_type="customer", object_id=customer.id, ip=ip,
                       now=now, details={"customer_no": customer.customer_no, "from": before, "to": grade,
                                         "downgrade": is_downgrade(before, grade), "reason": reason,
                                         "changed_on": changed_on.isoformat(), "card_id": change.card_id})
    return change


def change_grade(session: Session, actor: User, customer_id: int, data: dict[str, Any], *, now: datetime,
                 today: date, ip: str = "") -> GradeChange | None:
    """The grade change a consultant, head or archivist makes (``grade.change``) today: ``grade`` and
    ``reason``. Refused on a held or erased file."""
    from archive_app.intake.customers import get_customer
    from archive_app.retention.holds import require_customer_changeable

    unknown = set(data) - {"grade", "reason"}
    if unknown:
        raise ValidationFailed(_("未知字段：%(value)s", value=sorted(unknown)[0]), code="unknown_field")
    customer = get_customer(session, actor, customer_id, "grade.change")
    require_customer_changeable(session, customer, _("修改客户等级"), actor)
    return set_grade(session, actor, customer, data.get("grade"), reason=str(data.get("reason") or ""), now=now,
                     changed_on=today, ip=ip)


# One date parser for every customer form: the customer's own dates and the visits'.
parse_day = parse_date


def history(session: Session, customer_id: int) -> list[GradeChange]:
    """A customer's grade changes, newest first."""
    return list(session.scalars(select(GradeChange).where(GradeChange.customer_id == customer_id)
                                .order_by(GradeChange.changed_at.desc(), GradeChange.id.desc())))


def grade_history(session: Session, actor: User, customer_id: int) -> list[GradeChange]:
    """The history of a customer ``actor`` sees (``visit.view``)."""
    from archive_app.intake.customers import get_customer

    customer = get_customer(session, actor, customer_id, "visit.view")
    return history(session, customer.id)


def change_dict(c: GradeChange) -> dict[str, Any]:
    """The API form of one grade change."""
    return {"id": c.id, "customer_id": c.customer_id, "from_grade": c.from_grade, "to_grade": c.to_grade,
            "downgrade": c.downgrade, "changed_on": c.changed_on.isoformat(),
            "changed_at": c.changed_at.isoformat(), "changed_by": c.changed_by.display_name,
            "changed_by_id": c.changed_by_id, "reason": c.reason, "card_id": c.card_id}


__all__ = ["set_grade", "change_grade", "history", "grade_history", "change_dict", "is_downgrade", "parse_grade"]
