"""Keep what follows from the retention rules in line after a change: disposal dates and storage locks.

One function, ``after_change``, for every caller: a customer's events edited, a record filed or
changed, files added, a hold placed or lifted, review decisions approved, the schedule edited, the
nightly sync. Given what changed it

1. recomputes the stored disposal dates of the records concerned (in the caller's transaction,
   so the change and its dates commit together),
2. commits,
3. re-applies the storage's own locks (retention date, legal hold) of the records whose date or
   hold moved, and of any records the caller names (new files, held records).

The locks come after the commit because the database decides and the storage follows; a lock
that fails is logged and reported, never undoes or fails the committed change: ``archive
retention-sync`` (and the nightly job, which call this with ``all_records=True``) re-applies them.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from archive_app.intake.models import Record
from archive_app.retention import locks as storage_locks
from archive_app.retention import schedule
from storage.base import BlobStore

log = logging.getLogger(__name__)


@dataclass
class Upkeep:
    """What ``after_change`` did: how many disposal dates moved, and how the locks went."""

    moved: int = 0
    locks: storage_locks.LockReport = field(default_factory=storage_locks.LockReport)


def after_change(session: Session, store: BlobStore | None, *, now: datetime, customer_ids: Iterable[int] = (),
                 record_ids: Iterable[int] = (), all_records: bool = False,
                 commit: Callable[[], None] | None = None) -> Upkeep:
    """Recompute disposal dates after a change, commit, then re-apply the storage locks.

    ``customer_ids``: customers whose events, records or holds changed; every live record of
    theirs is recomputed and those whose date moved are relocked.
    ``record_ids``: records changed themselves (new files, a hold on them, a review decision):
    their customers are recomputed and these records relocked whatever moved.
    ``all_records``: the schedule changed, or the nightly sync: every record, in committed batches.
    ``store`` None leaves the locks to the next sync. ``commit`` replaces ``session.commit``
    where the caller's commit does more (the upload removes its blobs if the commit fails); it
    commits the caller's pending changes together with the new dates.
    """
    today = now.date()
    if all_records:
        (commit or session.commit)()
        done = Upkeep(moved=schedule.recompute_all(session, today))
        if store is not None:
            done.locks = storage_locks.apply_all(session, store, now)
        return done
    relock = set(record_ids)
    customers = set(customer_ids)
    if relock:
        customers |= set(session.scalars(select(Record.customer_id).where(Record.id.in_(sorted(relock)))))
    changes = schedule.recompute_customers(session, customers, today)
    (commit or session.commit)()
    done = Upkeep(moved=len(changes))
    relock |= {c.record_id for c in changes}
    if store is not None and relock:
        done.locks = _relock(session, store, relock, now)
    return done


def _relock(session: Session, store: BlobStore, record_ids: set[int], now: datetime) -> storage_locks.LockReport:
    """``locks.apply_locks`` after the commit: a database error is reported, never raised."""
    try:
        return storage_locks.apply_locks(session, store, record_ids, now)
    except SQLAlchemyError as exc:
        session.rollback()
        log.error("could not read records %s to lock them: %s", sorted(record_ids), exc)
        return storage_locks.LockReport(failed=[(f"record {rid}", str(exc)) for rid in sorted(record_ids)])
