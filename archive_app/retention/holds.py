"""Legal holds (诉讼保全 / 纠纷 / 未了事项) on a customer's whole file or on single records.

A held record cannot be destroyed, edited or moved; its retention clock is paused (see
``services.retention.disposal_for``) and it never enters a destruction batch. The hold is kept in
step on three levels: the ``legal_holds`` rows (the truth, with who placed and lifted it), the
``records.on_hold`` flag (so the due list stays one indexed query), and the storage's own legal
hold on every stored object (``services.object_lock``), so not even the storage lets it go.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archive_app.errors import Conflict, NotFound, ValidationFailed
from archive_app.intake.models import Customer, Record
from archive_app.accounts.models import User
from archive_app.retention.models import HOLD_KINDS, LegalHold
from archive_app.audit import log as audit
from archive_app.retention import schedule as retention
from archive_app import policy

# Who may place and lift holds is the policy's (hold.place, hold.release).
REFUSED = "只有档案管理员、系统管理员、鉴定小组或总经理可以办理冻结"


def active_holds(session: Session, record: Record) -> list[LegalHold]:
    """Holds in force on this record, directly or through its customer."""
    return list(session.scalars(select(LegalHold).where(
        LegalHold.lifted_at.is_(None),
        or_(LegalHold.record_id == record.id, LegalHold.customer_id == record.customer_id))))


def is_held(session: Session, record: Record) -> bool:
    """Whether any hold is in force on the record (read from the holds, not the flag)."""
    return bool(active_holds(session, record))


def require_not_held(session: Session, record: Record, doing: str) -> None:
    """Refuse ``doing`` (e.g. 修改) on a held record with a clear error."""
    if is_held(session, record):
        raise Conflict(f"档案 {record.archival_code} 处于冻结（诉讼保全）状态，不能{doing}", code="record_on_hold")


def place_hold(session: Session, actor: User, *, kind: str, reason: str, mandate: str, now: datetime,
               customer_id: int | None = None, record_id: int | None = None) -> LegalHold:
    """Put a customer's file or one record under a hold; recompute its records; commit."""
    policy.require(actor, "hold.place", code="forbidden", message=REFUSED)
    if kind not in HOLD_KINDS:
        raise ValidationFailed("冻结类型须为 诉讼、纠纷 或 未了事项", code="invalid_kind")
    reason, mandate = (reason or "").strip(), (mandate or "").strip()
    if not reason or not mandate:
        raise ValidationFailed("请填写冻结原因和依据（案号、函件或决定）", code="reason_required")
    if (customer_id is None) == (record_id is None):
        raise ValidationFailed("请选择冻结整个客户档案或单件档案（二者选一）", code="invalid_target")
    if customer_id is not None:
        target = session.get(Customer, customer_id)
        cid, label = customer_id, target.customer_no if target else ""
    else:
        target = session.get(Record, record_id)
        cid, label = (target.customer_id, target.archival_code) if target else (None, "")
    if target is None or (isinstance(target, Record) and target.status == "destroyed"):
        raise NotFound("档案不存在", code="not_found")
    hold = LegalHold(customer_id=customer_id, record_id=record_id, kind=kind, reason=reason, mandate=mandate,
                     placed_by_id=actor.id, placed_at=now)
    session.add(hold)
    session.flush()
    retention.recompute_customers(session, [cid], now.date())
    audit.record_event(session, "hold.place", actor=actor, object_type="legal_hold", object_id=hold.id, now=now,
                       details={"target": label, "kind": kind, "reason": reason, "mandate": mandate})
    session.commit()
    return hold


def lift_hold(session: Session, actor: User, hold_id: int, *, reason: str, now: datetime) -> LegalHold:
    """Lift a hold (who, when, why); the paused time is added to the records' clocks; commit."""
    policy.require(actor, "hold.release", code="forbidden", message=REFUSED)
    hold = session.scalar(select(LegalHold).where(LegalHold.id == hold_id).with_for_update())
    if hold is None:
        raise NotFound("冻结记录不存在", code="hold_not_found")
    if hold.lifted_at is not None:
        raise Conflict("该冻结已解除", code="already_lifted")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("请填写解除冻结的理由", code="reason_required")
    hold.lifted_at, hold.lifted_by_id, hold.lift_reason = now, actor.id, reason
    session.flush()
    cid = hold.customer_id if hold.customer_id is not None else hold.record.customer_id
    retention.recompute_customers(session, [cid], now.date())
    audit.record_event(session, "hold.lift", actor=actor, object_type="legal_hold", object_id=hold.id, now=now,
                       details={"reason": reason})
    session.commit()
    return hold


def hold_record_ids(session: Session, hold: LegalHold) -> list[int]:
    """The live records a hold covers (for mirroring it to storage)."""
    if hold.record_id is not None:
        return [hold.record_id]
    return list(session.scalars(select(Record.id).where(Record.customer_id == hold.customer_id,
                                                        Record.status != "destroyed")))
