"""Quarterly verification (每季度核实): each customer's data checked at least once a quarter.

The quarter is counted in the archive's time zone. Erased customers are not listed: nothing is left
to verify.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.corrections.models import CustomerVerification
from archive_app.errors import Conflict, ValidationFailed
from archive_app.i18n import _, _l
from archive_app.intake.models import ERASED_NAME, Customer
from archive_app.retention import holds

NOTE_LIMIT = 2000
UNASSIGNED = _l("（未指定置业顾问）")


def quarter_of(now: datetime, tz: str) -> str:
    """The quarter ``now`` falls in, in time zone ``tz``: e.g. "2026Q4"."""
    local = now.astimezone(ZoneInfo(tz))
    return f"{local.year}Q{(local.month - 1) // 3 + 1}"


def _verified(quarter: str):
    return and_(CustomerVerification.customer_id == Customer.id, CustomerVerification.quarter == quarter)


def _scope(actor: User):
    return policy.visible_customers(actor, select(Customer)).where(Customer.name != ERASED_NAME)


@dataclass(frozen=True)
class ConsultantList:
    """One consultant's customers not yet verified this quarter."""

    consultant_id: int | None
    consultant: str
    customers: list[Customer]


def to_verify(session: Session, actor: User, *, now: datetime, tz: str, consultant_id: int | None = None,
              limit: int = 500, ip: str = "") -> tuple[str, list[ConsultantList]]:
    """(quarter, per consultant the customers ``actor`` sees whose data was not verified this quarter);
    the list is audited (``verification.list``), as any list of customers."""
    policy.require(actor, "verification.view")
    quarter = quarter_of(now, tz)
    stmt = _scope(actor).where(~select(CustomerVerification.id).where(_verified(quarter)).exists())
    if consultant_id is not None:
        stmt = stmt.where(Customer.consultant_id == consultant_id)
    rows = session.scalars(stmt.order_by(Customer.consultant_id, Customer.id).limit(limit)).all()
    groups: dict[int | None, list[Customer]] = {}
    for c in rows:
        groups.setdefault(c.consultant_id, []).append(c)
    audit.record_read(session, "verification.list", actor=actor, object_type="customer_list", ip=ip,
                      details={"quarter": quarter, "consultant_id": consultant_id, "customers": [c.id for c in rows]})
    out = [ConsultantList(cid, cs[0].consultant.display_name if cs[0].consultant else UNASSIGNED, cs)
           for cid, cs in groups.items()]
    return quarter, sorted(out, key=lambda g: (g.consultant_id is None, g.consultant))


def mark_verified(session: Session, actor: User, customer_id: int, *, note: str = "", now: datetime, tz: str,
                  ip: str = "") -> CustomerVerification:
    """Record that ``actor`` verified the customer's data this quarter (once per quarter), with a note."""
    from archive_app.intake.customers import get_customer

    customer = get_customer(session, actor, customer_id, "verification.mark")
    holds.require_not_erased(customer, _("核实客户资料"))
    note = str(note or "").strip()
    if len(note) > NOTE_LIMIT:
        raise ValidationFailed(_("核实说明过长（不超过 %(note_limit)s 字）", note_limit=NOTE_LIMIT), code="field_too_long")
    quarter = quarter_of(now, tz)
    done = session.scalar(select(CustomerVerification).where(CustomerVerification.customer_id == customer.id,
                                                             CustomerVerification.quarter == quarter))
    if done is not None:
        raise Conflict(_("客户 %(customer_no)s 本季度（%(quarter)s）已核实", customer_no=customer.customer_no, quarter=quarter), code="already_verified")
    row = CustomerVerification(customer_id=customer.id, quarter=quarter, verified_by_id=actor.id, verified_at=now,
                               note=note)
    session.add(row)
    session.flush()
    audit.record_event(session, "customer.verify", actor=actor, object_type="customer", object_id=customer.id, ip=ip,
                       now=now, details={"quarter": quarter, "customer_no": customer.customer_no},
                       personal={"note": note} if note else None)
    return row


def verifications(session: Session, customer: Customer) -> list[CustomerVerification]:
    """A customer's verifications, newest first (the caller checked it may see the customer)."""
    return list(session.scalars(select(CustomerVerification).where(CustomerVerification.customer_id == customer.id)
                                .order_by(CustomerVerification.verified_at.desc())))


@dataclass(frozen=True)
class Progress:
    """One consultant's quarter: customers verified of their total."""

    consultant_id: int | None
    consultant: str
    verified: int
    total: int


def progress(session: Session, actor: User, *, now: datetime, tz: str) -> tuple[str, list[Progress]]:
    """(quarter, verified / total per consultant) over the customers ``actor`` sees: a head their department."""
    policy.require(actor, "verification.progress")
    quarter = quarter_of(now, tz)
    scope = _scope(actor).subquery()
    done = func.count(CustomerVerification.id)
    rows = session.execute(
        select(scope.c.consultant_id, User.display_name, func.count(scope.c.id), done)
        .select_from(scope).outerjoin(User, User.id == scope.c.consultant_id)
        .outerjoin(CustomerVerification, and_(CustomerVerification.customer_id == scope.c.id,
                                              CustomerVerification.quarter == quarter))
        .group_by(scope.c.consultant_id, User.display_name)).all()
    out = [Progress(cid, name or UNASSIGNED, verified, total) for cid, name, total, verified in rows]
    return quarter, sorted(out, key=lambda p: (p.consultant_id is None, p.consultant))


__all__ = ["quarter_of", "to_verify", "mark_verified", "verifications", "progress", "ConsultantList", "Progress"]
