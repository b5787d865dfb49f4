"""The chain's state as the log page shows it: the last verification (when, by whom, intact or not),
and a verification run from the page, itself written to the log (``audit.verify``)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.audit.anchors import anchor_head
from archive_app.audit.models import AuditEntry
from archive_app.audit.verification import verify_log
from storage.base import BlobStore

VERIFY_ACTION = "audit.verify"
# The problems an entry keeps word for word; the count says how many there were.
KEPT_PROBLEMS = 5


@dataclass(frozen=True)
class LastCheck:
    """The newest ``audit.verify`` entry, read back."""

    at: datetime
    by: str
    intact: bool
    entries: int
    problems: list[str]


def last_check(session: Session) -> LastCheck | None:
    """The last verification recorded in the log, or None when the chain was never checked from the page."""
    e = session.scalar(select(AuditEntry).where(AuditEntry.action == VERIFY_ACTION)
                       .order_by(AuditEntry.seq.desc()).limit(1))
    if e is None:
        return None
    body = json.loads(e.details or "{}")
    return LastCheck(at=e.at, by=e.actor_name, intact=bool(body.get("intact")), entries=int(body.get("entries", 0)),
                     problems=list(body.get("problems", [])))


def verify_now(session: Session, store: BlobStore, actor: User, *, now: datetime, ip: str = "") -> LastCheck:
    """Walk the chain against its newest anchor, anchor the head again when intact, and log the result.

    Run before anything else of the request is written: the walk and the anchor read the committed chain.
    """
    policy.require(actor, "audit.verify")
    report = verify_log(session, store)
    problems = [f"#{p.seq}: {p.problem}" for p in report.problems] + list(report.anchor_problems)
    anchored = anchor_head(session, store, now) if report.intact else None
    details = {"intact": report.intact, "entries": report.walk.entries, "problems": problems[:KEPT_PROBLEMS],
               "count": len(problems), "anchor_seq": anchored.seq if anchored else None}
    audit.record_event(session, VERIFY_ACTION, actor=actor, object_type="audit_log", ip=ip, now=now,
                       details=details)
    session.flush()
    return LastCheck(at=now, by=actor.display_name, intact=report.intact, entries=report.walk.entries,
                     problems=problems[:KEPT_PROBLEMS])


__all__ = ["LastCheck", "VERIFY_ACTION", "last_check", "verify_now"]
