"""Append to and verify the hash-chained audit log."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from archive_app.accounts.models import User
from archive_app.audit.models import AuditEntry, AuditHead
from archive_app.clock import utcnow

GENESIS = "0" * 64


def _canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(prev_hash: str, seq: int, at: datetime, actor_id: int | None, actor_name: str, action: str,
               object_type: str, object_id: str, ip: str, details: str) -> str:
    """The SHA-256 binding an entry's fields to the previous entry's hash."""
    payload = _canonical([prev_hash, seq, at.isoformat(timespec="microseconds"), actor_id, actor_name, action,
                          object_type, object_id, ip, details])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record_event(session: Session, action: str, *, actor: User | None = None, actor_name: str = "",
                 object_type: str = "", object_id: Any = "", details: dict | None = None, ip: str = "",
                 now: datetime | None = None) -> AuditEntry:
    """Add one audit entry to the session's transaction; it commits with the action it records.

    The head row is updated before it is read, so the lock it takes serialises appenders.
    """
    now = now or utcnow()
    # Timestamps are hashed at microsecond precision; keep the stored value identical.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    head = session.execute(select(AuditHead.seq, AuditHead.last_hash).where(AuditHead.id == 1)).one_or_none()
    if head is None:
        raise RuntimeError("audit_head row missing: the database was not migrated")
    seq, prev = head
    name = actor_name or (actor.display_name if actor is not None else "")
    actor_id = actor.id if actor is not None else None
    details_json = _canonical(details or {})
    h = entry_hash(prev, seq, now, actor_id, name, action, object_type, str(object_id), ip, details_json)
    entry = AuditEntry(seq=seq, at=now, actor_id=actor_id, actor_name=name, action=action,
                       object_type=object_type, object_id=str(object_id), ip=ip, details=details_json,
                       prev_hash=prev, hash=h)
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=h))
    return entry


@dataclass(frozen=True)
class ChainProblem:
    """One break in the chain: where, and what is wrong."""

    seq: int
    problem: str


def verify_chain(session: Session, batch: int = 5000) -> list[ChainProblem]:
    """Walk the log in order and report every edited, inserted or deleted entry."""
    problems: list[ChainProblem] = []
    prev = GENESIS
    expected_seq = 1
    last_seq = 0
    stmt = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch)
    for e in session.scalars(stmt):
        if e.seq != expected_seq:
            problems.append(ChainProblem(e.seq, f"entries {expected_seq}..{e.seq - 1} are missing (deleted)"))
        if e.prev_hash != prev:
            problems.append(ChainProblem(e.seq, "prev_hash does not match the previous entry"))
        recomputed = entry_hash(e.prev_hash, e.seq, e.at, e.actor_id, e.actor_name, e.action, e.object_type,
                                e.object_id, e.ip, e.details)
        if recomputed != e.hash:
            problems.append(ChainProblem(e.seq, "content was changed after it was written"))
        prev = e.hash
        expected_seq = e.seq + 1
        last_seq = e.seq
    head = session.get(AuditHead, 1)
    if head is not None:
        if head.seq != last_seq:
            problems.append(ChainProblem(head.seq, f"the last {head.seq - last_seq} entries are missing"))
        elif head.last_hash != prev:
            problems.append(ChainProblem(last_seq, "the last entry does not match the chain head"))
    return problems


def latest_entries(session: Session, *, page: int, per_page: int = 50) -> tuple[list[AuditEntry], int]:
    """One page of the log, newest first, and the number of pages."""
    total = session.scalar(select(func.count(AuditEntry.id))) or 0
    rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())
                                .limit(per_page).offset((page - 1) * per_page)))
    return rows, max((total + per_page - 1) // per_page, 1)
