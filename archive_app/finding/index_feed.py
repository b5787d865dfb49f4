"""Keep the search index in step with every change of a record or a customer.

One mechanism instead of a call in every view: the session notes which records and customers a
flush touched.

* Whoosh (a folder beside the process): after the commit (never before: the index is derived
  from committed rows) one ``index_records`` job is queued. A rollback forgets the notes.
* PostgreSQL (``write_inline``): the flush itself rewrites their rows of the search tables on the
  session's connection, in the same transaction, so a search never disagrees with the database
  (a record moved to another department leaves the old department's results at that flush, and
  a rollback takes the rows back with the record). No job is queued.
"""
from __future__ import annotations

import logging
import weakref
from collections.abc import Callable

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from archive_app.intake.models import Customer, Record, RecordFile

log = logging.getLogger(__name__)
_KEY = "archive.reindex"
_INLINE_KEY = "archive.reindex.inline"
#: engine -> the index written in its sessions' transactions (write_inline)
_INLINE: "weakref.WeakKeyDictionary[Engine, object]" = weakref.WeakKeyDictionary()


def write_inline(engine: Engine, index) -> None:
    """Sessions on ``engine`` write ``index`` (a PostgresSearchIndex) in their own transaction."""
    _INLINE[engine] = index


def _inline_index(session: Session):
    if not _INLINE:
        return None
    try:
        return _INLINE.get(session.get_bind())
    except Exception:  # noqa: BLE001 - an unbound session writes no index
        return None


def _note(session: Session, flush_context, key: str = _KEY) -> None:
    records, customers = session.info.setdefault(key, (set(), set()))
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Record) and obj.id is not None:
            records.add(obj.id)
        elif isinstance(obj, Customer) and obj.id is not None:
            customers.add(obj.id)
        elif isinstance(obj, RecordFile) and obj.record_id is not None:
            records.add(obj.record_id)
        # FilePage rows are written with bulk statements by the extraction job, which notes their record.


def note_records(session: Session, record_ids: list[int], customer_ids: list[int] = ()) -> None:
    """Index these records (and customers) after the session's next commit, or in it on PostgreSQL:
    for writes made with bulk statements, which the flush listener does not see (the extraction
    job's pages, the customers a register import inserts)."""
    key = _INLINE_KEY if _inline_index(session) is not None else _KEY
    records, customers = session.info.setdefault(key, (set(), set()))
    records.update(record_ids)
    customers.update(customer_ids)


def _after_flush(session: Session, flush_context) -> None:
    # ids of new rows exist only after the flush, so collect here rather than before it.
    index = _inline_index(session)
    if index is None:
        _note(session, flush_context)
        return
    _note(session, flush_context, _INLINE_KEY)
    _write(session, index)


def _write(session: Session, index) -> None:
    """Rewrite the noted records' and customers' rows on the session's connection."""
    records, customers = session.info.pop(_INLINE_KEY, (set(), set()))
    if records or customers:
        from archive_app.finding.search import refresh_rows

        refresh_rows(session.connection(), index, records, customers)


def _before_commit(session: Session) -> None:
    # rows noted by note_records (bulk statements) with no flush after them
    index = _inline_index(session)
    if index is not None and session.info.get(_INLINE_KEY):
        _write(session, index)


def _after_commit(session: Session, enqueue: Callable[..., object]) -> None:
    records, customers = session.info.pop(_KEY, (set(), set()))
    if records or customers:
        # enqueue must never raise: a queue outage must not undo a committed change.
        enqueue("index_records", sorted(records), sorted(customers))


def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
    session.info.pop(_INLINE_KEY, None)


def install(session_class: type[Session], enqueue: Callable[..., object]) -> None:
    """Attach the listeners to a session class (once); ``enqueue(task, *args)`` queues the index job."""
    if getattr(session_class, "_archive_index_sync", False):
        return
    event.listen(session_class, "after_flush", _after_flush)
    event.listen(session_class, "before_commit", _before_commit)
    event.listen(session_class, "after_commit", lambda s: _after_commit(s, enqueue))
    event.listen(session_class, "after_soft_rollback", lambda s, prev: _after_rollback(s))
    session_class._archive_index_sync = True
