"""The change history of a customer's data (变更记录): one line per field changed, shown as the policy allows."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.corrections.models import ChangeRequest, CustomerChange, CustomerVerification
from archive_app.i18n import _l
from archive_app.intake.masks import mask_field
from archive_app.intake.models import PERSONAL_FIELDS, Customer

# The customer fields as the paper forms name them.
FIELD_LABELS = {
    "kind": _l("客户类别"), "name": _l("客户名称"), "phones": _l("电话"), "id_number": _l("证件号码"), "business_type": _l("业务类型"),
    "grade": _l("客户等级"), "consultant_id": _l("置业顾问"), "department": _l("部门"), "project": _l("楼盘"), "unit": _l("房号"),
    "address": _l("地址"), "notes": _l("备注"), "deal_closed_on": _l("成交日期"), "contract_ended_on": _l("合同终止日期"),
    "last_contact_on": _l("最后联系日期"),
}
SOURCE_LABELS = {"request": _l("变更申请"), "correction": _l("档案员直接更正")}


def as_text(value: Any) -> str:
    """A field's value as the history stores it: dates in ISO form, nothing as ''."""
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def record_changes(session: Session, customer: Customer, changed: Mapping[str, Mapping[str, Any]], *, source: str,
                   requested_by: User, reason: str, now: datetime, request: ChangeRequest | None = None,
                   approved_by: User | None = None, second_by: User | None = None) -> list[CustomerChange]:
    """Write one history line per changed field (``{field: {"before", "after"}}``)."""
    rows = [CustomerChange(customer_id=customer.id, field=field, before=as_text(v["before"]), after=as_text(v["after"]),
                           source=source, request_id=request.id if request else None,
                           requested_by_id=requested_by.id, approved_by_id=approved_by.id if approved_by else None,
                           second_by_id=second_by.id if second_by else None, reason=reason, changed_at=now)
            for field, v in changed.items()]
    session.add_all(rows)
    session.flush()
    return rows


@dataclass(frozen=True)
class HistoryLine:
    """One change as a viewer sees it."""

    field: str
    label: str
    before: str
    after: str
    source: str
    request_id: int | None
    requested_by: str
    approved_by: str
    second_by: str
    reason: str
    changed_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """The API's form of the line."""
        return {"field": self.field, "label": self.label, "before": self.before, "after": self.after,
                "source": self.source, "request_id": self.request_id, "requested_by": self.requested_by,
                "approved_by": self.approved_by, "second_by": self.second_by, "reason": self.reason,
                "changed_at": self.changed_at.isoformat()}


def _name(user: User | None) -> str:
    return user.display_name if user is not None else ""


def lines(session: Session, customer: Customer, *, whole: bool = False) -> list[HistoryLine]:
    """Every change of ``customer``, newest first; phones and ID numbers masked unless ``whole`` (the
    caller checked ``customer.history`` and asked ``policy.shows_whole`` of the viewer)."""
    rows = session.scalars(select(CustomerChange).where(CustomerChange.customer_id == customer.id)
                           .order_by(CustomerChange.changed_at.desc(), CustomerChange.id.desc()))
    out = []
    for r in rows:
        before, after = (r.before, r.after) if whole else (mask_field(r.field, r.before), mask_field(r.field, r.after))
        out.append(HistoryLine(r.field, FIELD_LABELS.get(r.field, r.field), before, after, r.source, r.request_id,
                               _name(r.requested_by), _name(r.approved_by), _name(r.second_by), r.reason,
                               r.changed_at))
    return out


def customer_history(session: Session, actor: User, customer_id: int, *, ip: str = "") -> list[HistoryLine]:
    """The change history of a customer ``actor`` sees, phones and ID numbers as the policy shows them to
    ``actor``; the look is audited (``customer.history``)."""
    from archive_app.intake.customers import get_customer

    customer = get_customer(session, actor, customer_id, "customer.history")
    audit.record_read(session, "customer.history", actor=actor, object_type="customer", object_id=customer.id,
                      ip=ip, details={"customer_no": customer.customer_no})
    return lines(session, customer, whole=policy.shows_whole(actor, customer))


def erase_customer(session: Session, customer_id: int) -> None:
    """Blank the personal data the history, the change requests and the verification notes hold of an
    erased customer: personal fields' values and the free-text reasons and notes (they speak of the person)."""
    session.execute(update(CustomerChange).where(CustomerChange.customer_id == customer_id,
                                                 CustomerChange.field.in_(PERSONAL_FIELDS))
                    .values(before="", after=""))
    session.execute(update(CustomerChange).where(CustomerChange.customer_id == customer_id).values(reason=""))
    for req in session.scalars(select(ChangeRequest).where(ChangeRequest.customer_id == customer_id)):
        changes = json.loads(req.changes)
        for field in changes.keys() & set(PERSONAL_FIELDS):
            changes[field] = {"before": "", "after": ""}
        req.changes, req.reason, req.decision_note = json.dumps(changes, ensure_ascii=False, default=str), "", ""
    session.execute(update(CustomerVerification).where(CustomerVerification.customer_id == customer_id)
                    .values(note=""))
    session.flush()


__all__ = ["FIELD_LABELS", "HistoryLine", "record_changes", "lines", "customer_history", "erase_customer",
           "as_text"]
