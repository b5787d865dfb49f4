"""After every commit that changed a record or a customer, queue the index update.

One mechanism instead of a call in every view: the session notes which records and customers a
flush touched, and after the commit (never before: the index is derived from committed rows) one
``index_records`` job is queued. A rollback forgets the notes.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from archive_app.intake.models import Customer, Record, RecordFile

log = logging.getLogger(__name__)
_KEY = "archive.reindex"


def _note(session: Session, flush_context) -> None:
    records, customers = session.info.setdefault(_KEY, (set(), set()))
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Record) and obj.id is not None:
            records.add(obj.id)
        elif isinstance(obj, Customer) and obj.id is not None:
            customers.add(obj.id)
        elif isinstance(obj, RecordFile) and obj.record_id is not None:
            records.add(obj.record_id)
        # FilePage rows are written with bulk statements by the extraction job, which notes their record.


def note_records(session: Session, record_ids: list[int]) -> None:
    """Index these records after the session's next commit (for writes made with bulk statements,
    which the flush listener does not see, such as the extraction job's pages)."""
    records, _ = session.info.setdefault(_KEY, (set(), set()))
    records.update(record_ids)


def _after_flush(session: Session, flush_context) -> None:
    # ids of new rows exist only after the flush, so collect here rather than before it.
    _note(session, flush_context)


def _after_commit(session: Session, enqueue: Callable[..., object]) -> None:
    records, customers = session.info.pop(_KEY, (set(), set()))
    if records or customers:
        # enqueue must never raise: a queue outage must not undo a committed change.
        enqueue("index_records", sorted(records), sorted(customers))


def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)


def install(session_class: type[Session], enqueue: Callable[..., object]) -> None:
    """Attach the listeners to a session class (once); ``enqueue(task, *args)`` queues the index job."""
    if getattr(session_class, "_archive_index_sync", False):
        return
    event.listen(session_class, "after_flush", _after_flush)
    event.listen(session_class, "after_commit", lambda s: _after_commit(s, enqueue))
    event.listen(session_class, "after_soft_rollback", lambda s, prev: _after_rollback(s))
    session_class._archive_index_sync = True
