"""Refused attempts in the audit log: ``access.denied``, at most so many per user and minute.

Every 403, and every 404 the policy answers to hide that an object exists, leaves an entry with
the reason code, method, path and object. A loop of refusals must not flood the log (nor fill the
disk), so each user gets at most ``limit`` denied entries in any minute, then one
``access.denials_suppressed`` entry saying the rest of that minute is not written one by one.

The count is read from the log itself, not from process memory: the limit holds across the
server's worker processes and threads. The chain's head row is locked before counting, so
refusals of one user in several processes are counted one after the other.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.audit.models import AuditEntry, AuditHead
from archive_app.i18n import _

DENIED = "access.denied"
SUPPRESSED = "access.denials_suppressed"
WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class Refusal:
    """What was refused: the error's stable code, the request, and the object when known."""

    reason: str
    method: str
    path: str
    object_type: str = ""
    object_id: str = ""
    # The policy action asked (record.read, audit.view …), when the refusal came from the policy.
    action: str = ""
    # The user was told "not found": the object exists but is invisible to them.
    hidden: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        """The entry's details (empty fields left out)."""
        out: dict[str, Any] = {"reason": self.reason, "method": self.method, "path": self.path}
        if self.action:
            out["action"] = self.action
        if self.hidden:
            out["hidden"] = True
        return out | self.extra


def record_denial(session: Session, actor: User, refusal: Refusal, *, limit: int, now: datetime,
                  ip: str = "") -> str | None:
    """Write one refusal of ``actor`` unless the per-minute limit is spent; returns the action written.

    Up to ``limit`` ``access.denied`` entries per user in any minute, then one
    ``access.denials_suppressed`` for the rest of that minute, then nothing. Flushes only: the
    caller commits it on its own (the refused request's transaction is rolled back).
    """
    # Serialise with every other appender before counting (SQLite's write lock is already held).
    session.execute(select(AuditHead.id).where(AuditHead.id == 1).with_for_update())
    counts = dict(session.execute(
        select(AuditEntry.action, func.count())
        .where(AuditEntry.actor_id == actor.id, AuditEntry.action.in_((DENIED, SUPPRESSED)),
               AuditEntry.at > now - WINDOW)
        .group_by(AuditEntry.action)).all())
    if counts.get(DENIED, 0) < limit:
        action, details = DENIED, refusal.details()
    elif not counts.get(SUPPRESSED):
        action = SUPPRESSED
        details = refusal.details() | {"limit": limit, "window_seconds": int(WINDOW.total_seconds()),
                                       "note": _("一分钟内拒绝已达 %(limit)s 次，此后的拒绝不再逐条记录", limit=limit)}
    else:
        return None
    audit.record_event(session, action, actor=actor, object_type=refusal.object_type,
                       object_id=refusal.object_id, ip=ip, now=now, details=details)
    session.flush()
    return action

