"""Mirror retention and legal holds onto the stored objects (S3 Object Lock, governance mode).

The database decides (``retention.schedule``, ``retention.holds``); the storage then refuses on its
own to delete what the database says must stay: every original file is locked until its record's
disposal date — records without one (永久, awaiting their event, held) until a far horizon — and
carries a legal hold while its record is held. A lock longer than needed does no harm: only the
destruction step, for a record in an approved batch, deletes with the governance bypass.

Applied after the database commit, by ``upkeep.after_change``; a failure is logged and reported,
never undoes the commit: ``archive retention-sync`` re-applies every lock (idempotent).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from archive_app.intake.models import Record
from storage.base import BlobNotFound, BlobStore, LockNotSupported, RetentionViolation, StorageError

log = logging.getLogger(__name__)

# Years ahead an object is locked when its record has no disposal date yet.
HORIZON_YEARS = 100


@dataclass
class LockReport:
    """What ``apply_locks`` did: objects locked, and keys it could not lock (with the error)."""

    locked: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def lock_until(record: Record, today: date) -> datetime:
    """The retain-until instant for a record's objects (midnight UTC of the disposal date)."""
    if record.disposal_state == "scheduled" and record.disposal_date is not None:
        day = record.disposal_date
    else:
        day = date(today.year + HORIZON_YEARS, 1, 1)
    return datetime.combine(day, time(0), tzinfo=UTC)


def apply_locks(session: Session, store: BlobStore, record_ids: Iterable[int], now: datetime) -> LockReport:
    """Set retention (extend only) and the legal hold on every original file of these records."""
    report = LockReport()
    ids = sorted(set(record_ids))
    if not ids or not store.lock_supported():
        return report
    records = session.scalars(select(Record).where(Record.id.in_(ids), Record.status != "destroyed")
                              .options(selectinload(Record.files)))
    for record in records:
        until = lock_until(record, now.date())
        for f in record.files:
            try:
                try:
                    store.set_retention(f.object_key, until)
                except RetentionViolation:
                    pass  # already locked longer: harmless, destruction bypasses governance
                store.set_legal_hold(f.object_key, bool(record.on_hold))
                report.locked += 1
            except (BlobNotFound, LockNotSupported, StorageError) as exc:
                log.error("could not lock %s (record %s): %s", f.object_key, record.id, exc)
                report.failed.append((f.object_key, str(exc)))
    return report


def apply_all(session: Session, store: BlobStore, now: datetime, *, batch: int = 1000) -> LockReport:
    """Re-apply every lock, in batches (``archive retention-sync``)."""
    total = LockReport()
    last = 0
    while True:
        ids = list(session.scalars(select(Record.id).where(Record.id > last, Record.status != "destroyed")
                                   .order_by(Record.id).limit(batch)))
        if not ids:
            return total
        part = apply_locks(session, store, ids, now)
        total.locked += part.locked
        total.failed += part.failed
        session.commit()  # ends the read transaction between batches
        last = ids[-1]
