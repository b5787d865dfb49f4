"""Legal holds (诉讼保全 / 纠纷 / 未了事项) on a customer's whole file or on single records.

A held record cannot be destroyed, edited or moved; its retention clock is paused (see
``retention.schedule.disposal_for``) and it never enters a destruction batch. The hold is kept in
step on three levels: the ``legal_holds`` rows (the truth, with who placed and lifted it), the
``records.on_hold`` flag (so the due list stays one indexed query), and the storage's own legal
hold on every stored object (``retention.locks``), so not even the storage lets it go. Placing
and lifting keep all three in step through ``upkeep.after_change``.

Who may place and lift holds is the policy's (``hold.place``, ``hold.release``): the archive's
keepers and company leadership.
"""
from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.errors import Conflict, NotFound, ValidationFailed
from archive_app.i18n import _, _l
from archive_app.intake.models import Customer, Record
from archive_app.retention import upkeep
from archive_app.retention.models import HOLD_KINDS, LegalHold
from storage.base import BlobStore

REFUSED = _l("只有档案管理员、系统管理员、鉴定小组或总经理可以办理冻结")


class HoldChange(NamedTuple):
    """A hold placed or lifted, and how its mirroring onto the stored objects went."""

    hold: LegalHold
    upkeep: upkeep.Upkeep


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
        raise Conflict(_("档案 %(archival_code)s 处于冻结（诉讼保全）状态，不能%(doing)s", archival_code=record.archival_code, doing=doing), code="record_on_hold")


def customer_holds_in_force(session: Session, customer_id: int) -> list[LegalHold]:
    """Holds in force on the customer's file or on any record in it."""
    return list(session.scalars(select(LegalHold).where(
        LegalHold.lifted_at.is_(None),
        or_(LegalHold.customer_id == customer_id,
            LegalHold.record_id.in_(select(Record.id).where(Record.customer_id == customer_id))))
        .order_by(LegalHold.id)))


def require_not_erased(customer: Customer, doing: str) -> None:
    """Refuse ``doing`` on a customer whose file destruction has erased (``customer_erased``)."""
    if customer.erased:
        raise Conflict(_("客户 %(customer_no)s 的档案已全部销毁，不能%(doing)s", customer_no=customer.customer_no, doing=doing), code="customer_erased")


def require_customer_changeable(session: Session, customer: Customer, doing: str, actor: User) -> None:
    """Refuse ``doing`` on an erased customer (``customer_erased``) or one whose file is under a hold
    (``customer_on_hold``, naming the hold to an ``actor`` who may see it, ``hold.view``): evidence
    under a hold, and a tombstone, stay as they are."""
    require_not_erased(customer, doing)
    held = customer_holds_in_force(session, customer.id)
    seen = [h for h in held if policy.can(actor, "hold.view", h)]
    if seen:
        h = seen[0]
        raise Conflict(_("客户 %(customer_no)s 的档案处于冻结（%(value)s：%(reason)s）状态，不能%(doing)s", customer_no=customer.customer_no, value=HOLD_KINDS.get(h.kind, h.kind), reason=h.reason, doing=doing), code="customer_on_hold", details={"hold_id": h.id})
    if held:
        raise Conflict(_("客户 %(customer_no)s 的档案中有档案处于冻结状态，不能%(doing)s", customer_no=customer.customer_no, doing=doing), code="customer_on_hold")


def find_target(session: Session, viewer: User, target: str, code: str) -> dict[str, int]:
    """The hold target named by a 客户号 (``target`` "customer") or a 档号 ("record"), as keyword arguments
    for ``place_hold``; NotFound when nothing ``viewer`` may see has that number (a number is no
    way to learn whether a record above their 密级 exists)."""
    code = (code or "").strip()
    if not code:
        raise ValidationFailed(_("请填写客户号或档号"), code="invalid_target")
    if target == "record":
        record = session.scalar(select(Record).where(Record.archival_code == code))
        if record is None or not policy.can(viewer, "record.view", record):
            raise NotFound(_("档号 %(code)s 不存在", code=code), code="not_found")
        return {"record_id": record.id}
    customer = session.scalar(select(Customer).where(Customer.customer_no == code))
    if customer is None or not policy.can(viewer, "customer.view", customer):
        raise NotFound(_("客户号 %(code)s 不存在", code=code), code="not_found")
    return {"customer_id": customer.id}


def place_hold(session: Session, actor: User, *, kind: str, reason: str, mandate: str, now: datetime,
               customer_id: int | None = None, record_id: int | None = None,
               store: BlobStore | None = None) -> HoldChange:
    """Put a customer's file or one record under a hold; commit; mirror it onto ``store``'s objects.

    The records' disposal dates are recomputed in the same commit (a held record has none).
    """
    policy.require(actor, "hold.place", code="forbidden", message=str(REFUSED))
    if kind not in HOLD_KINDS:
        raise ValidationFailed(_("冻结类型须为 诉讼、纠纷 或 未了事项"), code="invalid_kind")
    reason, mandate = (reason or "").strip(), (mandate or "").strip()
    if not reason or not mandate:
        raise ValidationFailed(_("请填写冻结原因和依据（案号、函件或决定）"), code="reason_required")
    if (customer_id is None) == (record_id is None):
        raise ValidationFailed(_("请选择冻结整个客户档案或单件档案（二者选一）"), code="invalid_target")
    if customer_id is not None:
        target = session.get(Customer, customer_id)
        cid, label = customer_id, target.customer_no if target else ""
    else:
        target = session.get(Record, record_id)
        cid, label = (target.customer_id, target.archival_code) if target else (None, "")
    if target is None or (isinstance(target, Record) and target.status == "destroyed"):
        raise NotFound(_("档案不存在"), code="not_found")
    if isinstance(target, Customer):
        require_not_erased(target, _("冻结"))
    hold = LegalHold(customer_id=customer_id, record_id=record_id, kind=kind, reason=reason, mandate=mandate,
                     placed_by_id=actor.id, placed_at=now)
    session.add(hold)
    session.flush()
    audit.record_event(session, "hold.place", actor=actor, object_type="legal_hold", object_id=hold.id, now=now,
                       details={"target": label, "kind": kind, "reason": reason, "mandate": mandate})
    done = upkeep.after_change(session, store, now=now, customer_ids=[cid],
                               record_ids=hold_record_ids(session, hold))
    return HoldChange(hold, done)


def lift_hold(session: Session, actor: User, hold_id: int, *, reason: str, now: datetime,
              store: BlobStore | None = None) -> HoldChange:
    """Lift a hold (who, when, why); the paused time is added to the records' clocks; commit; the
    storage's legal hold on ``store``'s objects is released with it."""
    policy.require(actor, "hold.release", code="forbidden", message=str(REFUSED))
    hold = session.scalar(select(LegalHold).where(LegalHold.id == hold_id).with_for_update())
    # A hold on what the user may not see answers as a missing one: it is for someone cleared to lift.
    if hold is None or not policy.can(actor, "hold.view", hold):
        raise NotFound(_("冻结记录不存在"), code="hold_not_found")
    if hold.lifted_at is not None:
        raise Conflict(_("该冻结已解除"), code="already_lifted")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("请填写解除冻结的理由"), code="reason_required")
    hold.lifted_at, hold.lifted_by_id, hold.lift_reason = now, actor.id, reason
    session.flush()
    cid = hold.customer_id if hold.customer_id is not None else hold.record.customer_id
    audit.record_event(session, "hold.lift", actor=actor, object_type="legal_hold", object_id=hold.id, now=now,
                       details={"reason": reason})
    done = upkeep.after_change(session, store, now=now, customer_ids=[cid],
                               record_ids=hold_record_ids(session, hold))
    return HoldChange(hold, done)


def hold_record_ids(session: Session, hold: LegalHold) -> list[int]:
    """The live records a hold covers (their stored objects carry its legal hold)."""
    if hold.record_id is not None:
        return [hold.record_id]
    return list(session.scalars(select(Record.id).where(Record.customer_id == hold.customer_id,
                                                        Record.status != "destroyed")))
