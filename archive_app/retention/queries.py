"""What the retention pages, and other rooms' pages, show about retention: read-only queries.

Plain functions over a session, returning rows and plain values for templates; nothing here
writes. The record page asks ``retention_of``, the customer page ``customer_holds``; the retention
pages the rest. Who may open a page is asked of the policy by the page; what a user may do on a
batch (``batch_actions``) is the policy's answer plus the batch's state.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.errors import NotFound
from archive_app.i18n import _, _l
from archive_app.intake.models import Customer, Record
from archive_app.retention import disposal, holds, paper, schedule
from archive_app.retention.models import (
    PAPER_METHODS,
    DestructionEntry,
    DisposalBatch,
    DisposalItem,
    LegalHold,
    ScheduleVersion,
)
from archive_app.vocabulary import RECORD_TYPES

DISPOSAL_STATES = {"scheduled": _l("定期"), "permanent": _l("永久保存"), "awaiting_event": _l("等待起算事件"),
                   "held": _l("冻结中（暂停计时）")}
ITEM_STATES = {"pending": _l("待销毁"), "destroying": _l("销毁中"), "destroyed": _l("已销毁"), "kept": _l("保留"),
               "skipped": _l("已跳过")}
# Supervisors (监销人) a destruction needs.
SUPERVISORS = 2


def _pages(total: int, per_page: int) -> int:
    return max((total + per_page - 1) // per_page, 1)


# ---------------------------------------------------------------------------------------------- other rooms' pages


def retention_of(session: Session, record: Record) -> dict[str, Any]:
    """What the record page shows about retention: state label, active holds, the tombstone."""
    entry = None
    if record.status == "destroyed":
        entry = session.scalar(select(DestructionEntry).where(DestructionEntry.record_id == record.id))
    return {"state_label": DISPOSAL_STATES.get(record.disposal_state, record.disposal_state or "—"),
            "holds": holds.active_holds(session, record) if record.status != "destroyed" else [],
            "entry": entry, "batch": entry.batch if entry is not None else None}


def customer_holds(session: Session, customer: Customer) -> list[LegalHold]:
    """Holds on the customer's file or on any of its records, newest first (active and lifted)."""
    record_ids = select(Record.id).where(Record.customer_id == customer.id)
    return list(session.scalars(
        select(LegalHold).where(or_(LegalHold.customer_id == customer.id, LegalHold.record_id.in_(record_ids)))
        .options(selectinload(LegalHold.record), selectinload(LegalHold.placed_by),
                 selectinload(LegalHold.lifted_by))
        .order_by(LegalHold.lifted_at.is_not(None), LegalHold.placed_at.desc())))


# ---------------------------------------------------------------------------------------------- schedule


def schedule_history(session: Session) -> list[dict[str, Any]]:
    """Every schedule version, newest first, with what changed from the version before."""
    versions = list(session.scalars(select(ScheduleVersion).options(selectinload(ScheduleVersion.rules),
                                                                     selectinload(ScheduleVersion.created_by))
                                    .order_by(ScheduleVersion.version)))
    out, previous = [], None
    for v in versions:
        rules = {r.record_type: (r.years, r.trigger) for r in v.rules}
        changes = []
        if previous is not None:
            for t, rule in rules.items():
                if previous.get(t) != rule:
                    changes.append((t, previous.get(t), rule))
        out.append({"version": v, "changes": changes})
        previous = rules
    return list(reversed(out))


def rule_rows(version: ScheduleVersion) -> list[dict[str, Any]]:
    """One row per record type (in the vocabulary's order) with its rule in ``version``."""
    rules = {r.record_type: r for r in version.rules}
    return [{"type": t, "part": RECORD_TYPES[t][0], "rule": rules.get(t)} for t in RECORD_TYPES]


def schedule_page(session: Session) -> dict[str, Any]:
    """The current schedule, its rows and its history (the default version is written on first use)."""
    current = schedule.current_schedule(session)
    session.flush()
    return {"schedule": current, "rows": rule_rows(current), "history": schedule_history(session)}


# ---------------------------------------------------------------------------------------------- holds


def hold_lists(session: Session, *, lifted_limit: int = 200) -> tuple[list[LegalHold], list[LegalHold]]:
    """Holds in force (newest first) and the most recently lifted ones."""
    opts = (selectinload(LegalHold.customer), selectinload(LegalHold.record).selectinload(Record.customer),
            selectinload(LegalHold.placed_by), selectinload(LegalHold.lifted_by))
    active = session.scalars(select(LegalHold).where(LegalHold.lifted_at.is_(None)).options(*opts)
                             .order_by(LegalHold.placed_at.desc())).all()
    lifted = session.scalars(select(LegalHold).where(LegalHold.lifted_at.is_not(None)).options(*opts)
                             .order_by(LegalHold.lifted_at.desc()).limit(lifted_limit)).all()
    return list(active), list(lifted)


def hold_label(hold: LegalHold, viewer: User) -> str:
    """What a hold covers, in words: one record or a customer's whole file (as far as ``viewer`` may see it)."""
    if hold.record_id is not None:
        return _("档案 %(record_code)s", record_code=policy.record_code(viewer, hold.record))
    if not policy.can(viewer, "customer.view", hold.customer):
        return str(policy.HIDDEN_CUSTOMER)
    return _("客户 %(customer_no)s 的全部档案", customer_no=hold.customer.customer_no)


# ---------------------------------------------------------------------------------------------- due list and batches


def due_page(session: Session, on: date, page: int, per_page: int) -> dict[str, Any]:
    """The records due by ``on`` (one page: ``rows``, ``total``, ``page``, ``pages``) and the
    counts of what falls due by year (``counts``)."""
    total, rows = disposal.due_list(session, on, limit=per_page, offset=(page - 1) * per_page)
    return {"rows": rows, "total": total, "page": page, "pages": _pages(total, per_page),
            "counts": schedule.due_counts_by_year(session)}


def item_counts(session: Session, batch_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per batch, how many of its items are in each state."""
    out: dict[int, dict[str, int]] = {b: {} for b in batch_ids}
    if not batch_ids:
        return out
    rows = session.execute(select(DisposalItem.batch_id, DisposalItem.state, func.count())
                           .where(DisposalItem.batch_id.in_(batch_ids))
                           .group_by(DisposalItem.batch_id, DisposalItem.state))
    for bid, state, n in rows:
        out[bid][state] = n
    return out


def batch_list(session: Session, *, limit: int = 500) -> tuple[list[DisposalBatch], dict[int, dict[str, int]]]:
    """The newest batches with their item counts by state."""
    rows = list(session.scalars(select(DisposalBatch).options(selectinload(DisposalBatch.created_by),
                                                              selectinload(DisposalBatch.approved_by))
                                .order_by(DisposalBatch.id.desc()).limit(limit)))
    return rows, item_counts(session, [b.id for b in rows])


def get_batch(session: Session, batch_id: int) -> DisposalBatch:
    """The batch, or NotFound."""
    batch = session.get(DisposalBatch, batch_id)
    if batch is None:
        raise NotFound(_("销毁批次不存在"), code="batch_not_found")
    return batch


def batch_actions(user: User, batch: DisposalBatch) -> dict[str, bool]:
    """Which steps the batch page offers ``user`` now: the policy's answer and the batch's state."""
    signed = {s.user_id for s in batch.supervisors}
    return {
        "review": batch.status == "reviewing" and policy.can(user, "disposal.review"),
        "approve": batch.status == "submitted" and policy.can(user, "disposal.approve"),
        "sign": (batch.status == "approved" and policy.can(user, "disposal.supervise") and user.id not in signed
                 and len(signed) < SUPERVISORS),
        # The executor is never one of the supervisors.
        "execute": (batch.status in ("approved", "executing") and policy.can(user, "disposal.execute")
                    and len(signed) >= SUPERVISORS and user.id not in signed),
        # 原件销毁, once the electronic destruction is complete.
        "paper": (batch.status == "executed" and batch.paper_destroyed_at is None
                  and policy.can(user, "disposal.execute")),
    }


def batch_page(session: Session, user: User, batch_id: int, page: int, per_page: int) -> dict[str, Any]:
    """Everything the batch page shows: the batch, one page of its items, counts, and the offered steps."""
    b = get_batch(session, batch_id)
    total = session.scalar(select(func.count()).where(DisposalItem.batch_id == b.id)) or 0
    items = session.scalars(select(DisposalItem).where(DisposalItem.batch_id == b.id)
                            .options(selectinload(DisposalItem.record).selectinload(Record.customer),
                                     selectinload(DisposalItem.decided_by))
                            .order_by(DisposalItem.id).limit(per_page).offset((page - 1) * per_page)).all()
    decisions = dict(session.execute(select(DisposalItem.decision, func.count())
                                     .where(DisposalItem.batch_id == b.id).group_by(DisposalItem.decision)).all())
    flags = batch_actions(user, b)
    waiting = paper.paper_entries(session, b.id) if b.status == "executed" and b.paper_destroyed_at is None else []
    return {"batch": b, "items": list(items), "total": total, "page": page,
            "pages": _pages(total, per_page), "states": item_counts(session, [b.id])[b.id],
            "decisions": decisions, "flags": flags, "paper_waiting": waiting,
            "paper_supervisors": paper.supervisors_allowed(session) if flags["paper"] else [],
            "paper_methods": PAPER_METHODS,
            "entries": session.scalar(select(func.count()).where(DestructionEntry.batch_id == b.id))}


def undecided_items(session: Session, batch_id: int) -> list[int]:
    """The ids of a batch's items without a decision yet."""
    return list(session.scalars(select(DisposalItem.id).where(DisposalItem.batch_id == batch_id,
                                                              DisposalItem.decision.is_(None))))


# ---------------------------------------------------------------------------------------------- 销毁清册


def register_page(session: Session, batch_id: int | None, page: int, per_page: int) -> dict[str, Any]:
    """One page of the 销毁清册 (of one batch, or all: ``entries``, ``total``, ``page``, ``pages``,
    ``offset``), and the ``batches`` it can be narrowed to."""
    stmt = select(DestructionEntry)
    if batch_id is not None:
        stmt = stmt.where(DestructionEntry.batch_id == batch_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    entries = session.scalars(stmt.options(selectinload(DestructionEntry.batch),
                                           selectinload(DestructionEntry.record).selectinload(Record.customer))
                              .order_by(DestructionEntry.batch_id, DestructionEntry.id)
                              .limit(per_page).offset((page - 1) * per_page)).all()
    batches = session.scalars(select(DisposalBatch).where(DisposalBatch.status.in_(("executing", "executed")))
                              .order_by(DisposalBatch.id.desc())).all()
    return {"entries": list(entries), "total": total, "page": page, "pages": _pages(total, per_page),
            "offset": (page - 1) * per_page, "batches": list(batches)}
