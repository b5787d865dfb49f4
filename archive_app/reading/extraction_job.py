"""Read the text of stored files in the background and keep the search index in step.

A job is idempotent: running it twice leaves one set of page rows, one set of derived images
and one index entry. Its worker holds a lease on the file and commits every page as it is read, so
a job whose worker is lost is handed to another by the sweep and resumes after the last stored page. Files that cannot be read fail their own job with a reason; storage or
database hiccups raise TransientError so the queue retries with back-off.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from archive_app.clock import Clock, utcnow
from archive_app.finding import index_feed
from archive_app.i18n import _, _l
from archive_app.intake.models import FilePage, RecordFile
from archive_app.reading import searchable_copy
from archive_app.reading.errors import ExtractionError
from storage import BlobStore, StorageError

log = logging.getLogger(__name__)

STATUS_LABELS = {"queued": _l("排队"), "processing": _l("处理中"), "done": _l("完成"), "failed": _l("失败")}
THUMB_SIDE = 240
VIEW_SIDE = 1600


# A file whose job was started this many times in a row without storing a page (each time its
# worker died) is failed instead of queued again: it is probably what kills the worker. A job that
# stored a page counts as the first attempt again, so a long file survives restarts that interrupt it.
MAX_ATTEMPTS = 3


class TransientError(RuntimeError):
    """Storage or database unavailable: the job should be retried later."""


class JobTimeout(Exception):
    """The job ran longer than ARCHIVE_JOB_TIMEOUT seconds."""


@contextlib.contextmanager
def time_limit(seconds: int):
    """Raise JobTimeout in this (main) thread after ``seconds``; a no-op elsewhere or for 0.

    A worker process runs one job at a time in its main thread, so an alarm is enough to stop a
    page that would hang the renderer or the OCR engine without stalling the queue.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise JobTimeout(f"job exceeded {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def derived_key(object_key: str, page_no: int, kind: str) -> str:
    """Object key of a derived page image, next to the file's own key (destroyed with it)."""
    return f"derived/{object_key}/p{page_no:04d}-{kind}.jpg"


def _set_status(session: Session, clock: Clock, file_id: int, **values) -> None:
    session.execute(update(RecordFile).where(RecordFile.id == file_id)
                    .values(extract_updated_at=clock(), **values))
    session.commit()


def _fetch_to_temp(store: BlobStore, object_key: str, directory: str) -> str:
    fd, path = tempfile.mkstemp(dir=directory, prefix="extract-", suffix=".bin")
    with os.fdopen(fd, "wb") as out, store.open(object_key) as src:
        shutil.copyfileobj(src, out, 1024 * 1024)
    return path


def _put_replacing(store: BlobStore, key: str, data: bytes) -> None:
    import io

    # Keys are write-once; a rerun of the job replaces its own derived images.
    store.delete(key)
    store.put(key, io.BytesIO(data), content_type="image/jpeg")


# ------------------------------------------------------------------------------------------------ leases


class LeaseLost(Exception):
    """Another worker holds the job now (ours lapsed and the sweep handed it on): stop, write nothing."""


@dataclass
class Lease:
    """A worker's hold on one file's job; every write of the job is fenced by ``holder``."""

    file_id: int
    holder: str
    seconds: int
    lost: threading.Event = field(default_factory=threading.Event)

    def fence(self):
        """The condition every write of the job carries: the lease is still ours."""
        return (RecordFile.id == self.file_id) & (RecordFile.leased_by == self.holder)


def worker_name() -> str:
    """Who holds a lease: host and process, so a log line or a row names the worker."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim(session: Session, lease: Lease, now: datetime) -> bool:
    """Take the file's job if nobody holds a live lease on it; a lapsed lease taken over counts as a retry.

    Commits. False when the file is finished, failed, gone, or being read by a live worker (a
    duplicate job from the queue is then a no-op).
    """
    current = session.execute(
        select(RecordFile.extract_status, RecordFile.leased_by, RecordFile.lease_until)
        .where(RecordFile.id == lease.file_id).with_for_update()).one_or_none()
    if current is None or current.extract_status not in ("queued", "processing"):
        session.commit()
        return False
    held_by_other = current.leased_by not in (None, lease.holder)
    if held_by_other and current.lease_until is not None and current.lease_until >= now:
        session.commit()
        return False
    values: dict = {}
    if held_by_other:  # the sweep has not come by yet: the retry is ours to record
        values = {"retries": RecordFile.retries + 1, "last_retry_reason": "lease_expired"}
    session.execute(update(RecordFile).where(RecordFile.id == lease.file_id).values(
        leased_by=lease.holder, lease_until=now + timedelta(seconds=lease.seconds), extract_status="processing",
        extract_error="", extract_attempts=RecordFile.extract_attempts + 1, extract_updated_at=now, **values))
    session.commit()
    return True


def _fenced(session: Session, lease: Lease, clock: Clock, **values) -> None:
    """Update the file's row only while the lease is ours (renewing it); else roll back and raise LeaseLost.

    The row update comes first in the transaction, so it holds the row (PostgreSQL) or the write
    lock (SQLite) for whatever the caller adds before committing: the sweep cannot slip between.
    """
    now = clock()
    values = {"lease_until": now + timedelta(seconds=lease.seconds), "extract_updated_at": now, **values}
    result = session.execute(update(RecordFile).where(lease.fence()).values(**values))
    if result.rowcount != 1 or lease.lost.is_set():
        session.rollback()
        lease.lost.set()
        raise LeaseLost(f"file {lease.file_id}: lease of {lease.holder} lost")


def _release(session: Session, lease: Lease) -> None:
    """Give the lease back before the queue retries the job (maybe in another worker) after a transient
    failure; if the database is what failed, the lease lapses and the sweep hands the job on."""
    try:
        session.rollback()
        session.execute(update(RecordFile).where(lease.fence()).values(
            extract_status="queued", leased_by=None, lease_until=None))
        session.commit()
    except Exception:  # noqa: BLE001 - see above
        session.rollback()
        log.warning("file %s: could not release the lease; it will lapse", lease.file_id)


@contextlib.contextmanager
def kept(engine: Engine, lease: Lease, clock: Clock):
    """Renew the lease every third of its length from a thread of its own (own connection), so a page
    that takes longer than the lease to read does not lose it; a killed process renews nothing."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease.seconds / 3):
            try:
                with engine.begin() as conn:
                    done = conn.execute(update(RecordFile).where(lease.fence()).values(
                        lease_until=clock() + timedelta(seconds=lease.seconds))).rowcount
            except Exception:  # noqa: BLE001 - database away: keep trying; the sweep decides if it lapses
                log.warning("file %s: could not renew the lease", lease.file_id, exc_info=True)
                continue
            if done != 1:
                lease.lost.set()
                return

    thread = threading.Thread(target=renew, name=f"lease-{lease.file_id}", daemon=True)
    thread.start()
    try:
        yield lease
    finally:
        stop.set()
        thread.join()


# ------------------------------------------------------------------------------------------------ the job


def extract_file(session: Session, store: BlobStore, file_id: int, workdir: str, timeout: int = 0,
                 clock: Clock = utcnow, lease_seconds: int = 30) -> str:
    """Extract one file's pages (text, thumbnails, page images) and store them; commits.

    The worker holds a lease on the file while it works (``lease_seconds``, renewed every third);
    each page is committed as soon as it is read, so a job taken again after its worker was lost
    resumes after the last stored page and keeps what was done. The record is indexed after the
    final commit, by the one path that feeds the index (``finding.index_feed``).

    Returns the final status ("done", "failed"), or "gone", "busy" (a live worker holds the file, or
    it is finished already) and "lease_lost". Raises TransientError when it should be retried.
    """
    lease = Lease(file_id, worker_name(), lease_seconds)
    try:
        if not _claim(session, lease, clock()):
            return "gone" if session.get(RecordFile, file_id) is None else "busy"
        row = session.get(RecordFile, file_id)
        record_id, object_key, mime, page_count = row.record_id, row.object_key, row.mime_type, row.page_count
        stored = set(session.scalars(select(FilePage.page_no).where(FilePage.file_id == file_id)))
        _fenced(session, lease, clock, pages_done=len(stored))
        session.commit()  # no transaction stays open while pages are read (SQLite: the write lock)
    except (OperationalError, InterfaceError) as exc:
        session.rollback()
        raise TransientError(f"database: {exc}") from exc
    except LeaseLost:
        return "lease_lost"
    path = None
    try:
        with kept(session.get_bind(), lease, clock):
            try:
                path = _fetch_to_temp(store, object_key, workdir)
            except StorageError as exc:
                raise TransientError(f"storage: {exc}") from exc
            try:
                with time_limit(timeout):
                    total = _read_pages(session, store, lease, clock, path, mime, object_key, stored)
                    copy = _searchable_copy(store, path, mime, object_key, workdir, clock())
            except ExtractionError as exc:
                # Pages read before the unreadable one stay (and are found), like a resumed job's.
                _fenced(session, lease, clock, extract_status="failed", extract_error=f"{exc.code}: {exc.message_zh}",
                        leased_by=None, lease_until=None)
                if stored:
                    index_feed.note_records(session, [record_id])
                session.commit()
                return "failed"
            except JobTimeout:
                session.rollback()
                _fenced(session, lease, clock, extract_status="failed", leased_by=None, lease_until=None,
                        extract_error=_("timeout: 处理超过 %(timeout)s 秒仍未完成，已停止（文件可能过于复杂或已损坏）", timeout=timeout))
                session.commit()
                return "failed"
            _fenced(session, lease, clock, extract_status="done", pages_done=total,
                    page_count=total or page_count, searchable_key=copy, leased_by=None, lease_until=None)
            index_feed.note_records(session, [record_id])
            session.commit()
    except LeaseLost:
        log.warning("file %s: lease lost to another worker; stopping without writing", file_id)
        return "lease_lost"
    except (OperationalError, InterfaceError) as exc:
        session.rollback()
        _release(session, lease)
        raise TransientError(f"database: {exc}") from exc
    except TransientError:
        _release(session, lease)
        raise
    except Exception as exc:  # noqa: BLE001 - a bug or a library crash fails this file, not the worker
        log.exception("extraction of file %s failed unexpectedly", file_id)
        session.rollback()
        _set_status(session, clock, file_id, extract_status="failed", leased_by=None, lease_until=None,
                    extract_error=_("internal_error: 处理时发生内部错误（%(name)s），请联系管理员", name=type(exc).__name__))
        return "failed"
    finally:
        if path:
            os.unlink(path)
    return "done"


def _read_pages(session: Session, store: BlobStore, lease: Lease, clock: Clock, path: str, mime: str,
                object_key: str, stored: set[int]) -> int:
    """Read, render and commit each page not stored yet, one transaction per page; the page count."""
    from archive_app.reading import iter_pages, render_page_image, render_thumbnail

    total, read_any = 0, False
    with contextlib.closing(iter_pages(path, mime, skip=stored)) as pages:
        for page_no, total, page in pages:
            if page is None:
                continue
            if lease.lost.is_set():
                raise LeaseLost(f"file {lease.file_id}")
            thumb_key, view_key = derived_key(object_key, page_no, "thumb"), derived_key(object_key, page_no, "view")
            thumb = render_thumbnail(path, mime, page_no, max_side=THUMB_SIDE)
            view = render_page_image(path, mime, page_no, max_side=VIEW_SIDE)
            lines = searchable_copy.page_lines_of(path, mime, page)
            try:
                _put_replacing(store, thumb_key, thumb)
                _put_replacing(store, view_key, view)
                if lines is not None:
                    searchable_copy.keep_page_lines(store, object_key, page_no, lines)
            except StorageError as exc:
                raise TransientError(f"storage: {exc}") from exc
            progress = {"extract_attempts": 1} if not read_any else {}
            read_any = True
            stored.add(page_no)
            _fenced(session, lease, clock, pages_done=len(stored), page_count=total, **progress)
            session.execute(insert(FilePage).values(
                file_id=lease.file_id, page_no=page_no, text=page.text, source=page.source,
                confidence=page.confidence, width=page.width, height=page.height,
                thumb_key=thumb_key, view_key=view_key))
            session.commit()
    return total


def _searchable_copy(store: BlobStore, path: str, mime: str, object_key: str, workdir: str,
                     now: datetime) -> str | None:
    """Make the file's searchable copy from its pages' stored lines; its key, or None.

    A copy that cannot be made (a PDF pypdf cannot rewrite) leaves the file without one rather than
    failing it: its text is read and indexed either way, and borrowers get the watermarked original.
    """
    try:
        return searchable_copy.store_copy(store, path, mime, object_key, workdir, now=now)
    except StorageError as exc:
        raise TransientError(f"storage: {exc}") from exc
    except JobTimeout:
        raise
    except Exception:  # noqa: BLE001 - see above
        log.exception("file %s: no searchable copy", object_key)
        return None


def requeue_stale(session: Session, older_than: timedelta, now: datetime,
                  enqueue: Callable[[list[int]], None]) -> list[int]:
    """Hand on the jobs whose worker is gone, and put back on the queue files whose job was lost; commit.

    A lease that lapsed means the worker stopped renewing it (killed, machine lost): the job is
    queued again at once and resumes after its last stored page. A file without a lease that has
    sat queued (or, from before leases, processing) longer than ``older_than`` lost its job in the
    queue. A file whose job was started MAX_ATTEMPTS times in a row without storing a page is failed
    instead.
    """
    lapsed = (RecordFile.extract_status == "processing") & RecordFile.lease_until.is_not(None) \
        & (RecordFile.lease_until < now)
    lost = RecordFile.extract_status.in_(["queued", "processing"]) & RecordFile.lease_until.is_(None) & or_(
        RecordFile.extract_updated_at.is_(None), RecordFile.extract_updated_at < now - older_than)
    rows = session.execute(select(RecordFile.id, RecordFile.extract_attempts, RecordFile.lease_until)
                           .where(lapsed | lost).with_for_update()).all()
    doomed = [r.id for r in rows if r.extract_attempts >= MAX_ATTEMPTS]
    retaken = {"lease_expired": [r.id for r in rows if r.extract_attempts < MAX_ATTEMPTS and r.lease_until],
               "job_lost": [r.id for r in rows if r.extract_attempts < MAX_ATTEMPTS and not r.lease_until]}
    if doomed:
        session.execute(update(RecordFile).where(RecordFile.id.in_(doomed)).values(
            extract_status="failed", extract_updated_at=now, leased_by=None, lease_until=None,
            extract_error=_("worker_crashed: 连续 %(max_attempts)s 次处理中断且未完成任何新页面，文件可能有问题", max_attempts=MAX_ATTEMPTS)))
    for reason, ids in retaken.items():
        if ids:
            # Clearing the holder fences off a worker that was only stalled: its next write is refused.
            session.execute(update(RecordFile).where(RecordFile.id.in_(ids)).values(
                extract_status="queued", extract_updated_at=now, leased_by=None, lease_until=None,
                retries=RecordFile.retries + 1, last_retry_reason=reason))
    # End the transaction either way: on SQLite an open one holds the write lock.
    session.commit()
    ids = sorted(retaken["lease_expired"] + retaken["job_lost"])
    if ids:
        enqueue(ids)
    return ids


def record_status(files: list[RecordFile]) -> str:
    """One status for a record from its files' statuses (failed wins, then processing, queued)."""
    statuses = {f.extract_status for f in files}
    for s in ("failed", "processing", "queued"):
        if s in statuses:
            return s
    return "done" if statuses else "queued"
