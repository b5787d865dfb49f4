"""The whole check behind ``archive verify-audit``: the chain in the database against the newest anchor."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive_app.audit.anchors import Anchor, newest_anchor
from archive_app.audit.log import AuditKey, ChainProblem, ChainWalk, key_for, walk_chain
from archive_app.audit.models import AuditEntry
from storage.base import BlobStore, StorageError


@dataclass
class AuditReport:
    """The chain's problems (anchor ones included), what it holds, and the anchor it was held against."""

    walk: ChainWalk
    anchor: Anchor | None = None
    problems: list[ChainProblem] = field(default_factory=list)
    anchor_problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """True when nothing at all is wrong."""
        return not self.problems and not self.anchor_problems

    @property
    def wrong_key(self) -> bool:
        """Every keyed entry fails: more likely the wrong key configured than every entry edited."""
        return self.walk.keyed > 1 and self.walk.bad_macs == self.walk.keyed


def verify_log(session: Session, store: BlobStore, key: AuditKey | None = None) -> AuditReport:
    """Walk the chain, then hold it against the newest anchor: fewer entries than the anchor counted
    means the newest entries were deleted; another MAC at the anchored count, that the log was rewritten."""
    key = key or key_for(session)
    walk = walk_chain(session, key)
    report = AuditReport(walk=walk, problems=list(walk.problems))
    try:
        anchor, bad = newest_anchor(store, key)
    except StorageError as exc:
        report.anchor_problems.append(f"the anchors cannot be read, so deleted newest entries would go unseen: {exc}")
        return report
    report.anchor_problems.extend(bad)
    report.anchor = anchor
    if anchor is None:
        return report
    when = anchor.at.isoformat(timespec="seconds")
    if walk.last_seq < anchor.seq:
        report.problems.append(ChainProblem(
            walk.last_seq + 1, f"entries after {walk.last_seq} were deleted: the anchor written {when} counted "
                               f"{anchor.seq} entries"))
    else:
        mac = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == anchor.seq))
        if mac != anchor.mac:
            report.problems.append(ChainProblem(
                anchor.seq, f"entry {anchor.seq} differs from the anchor written {when}: the log up to it was "
                            "rewritten"))
    return report


__all__ = ["AuditReport", "verify_log"]
