"""Read the text of stored files in the background and keep the search index in step.

A job is idempotent: running it twice leaves one set of page rows, one set of derived images
and one index entry. Files that cannot be read fail their own job with a reason; storage or
database hiccups raise TransientError so the queue retries with back-off.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import threading
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from archive_app.clock import Clock, utcnow
from archive_app.finding import index_feed
from archive_app.intake.models import FilePage, RecordFile
from storage import BlobStore, StorageError

log = logging.getLogger(__name__)

STATUS_LABELS = {"queued": "排队", "processing": "处理中", "done": "完成", "failed": "失败"}
THUMB_SIDE = 240
VIEW_SIDE = 1600


# A file whose job was started this many times without finishing (each time its worker died)
# is failed instead of queued again: it is probably what kills the worker.
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


def derived_key(row: RecordFile, page_no: int, kind: str) -> str:
    """Object key of a derived page image, next to the file's own key (destroyed with it)."""
    return f"derived/{row.object_key}/p{page_no:04d}-{kind}.jpg"


def _set_status(session: Session, clock: Clock, file_id: int, **values) -> None:
    session.execute(update(RecordFile).where(RecordFile.id == file_id)
                    .values(extract_updated_at=clock(), **values))
    session.commit()


def _fetch_to_temp(store: BlobStore, row: RecordFile, directory: str) -> str:
    fd, path = tempfile.mkstemp(dir=directory, prefix="extract-", suffix=".bin")
    with os.fdopen(fd, "wb") as out, store.open(row.object_key) as src:
        shutil.copyfileobj(src, out, 1024 * 1024)
    return path


def _put_replacing(store: BlobStore, key: str, data: bytes) -> None:
    import io

    # Keys are write-once; a rerun of the job replaces its own derived images.
    store.delete(key)
    store.put(key, io.BytesIO(data), content_type="image/jpeg")


def extract_file(session: Session, store: BlobStore, file_id: int, workdir: str, timeout: int = 0,
                 clock: Clock = utcnow) -> str:
    """Extract one file's pages (text, thumbnails, page images) and store them; commits.

    The record is indexed after the commit, by the one path that feeds the index
    (``finding.index_feed``).

    Returns the final status. Raises TransientError when it should be retried.
    """
    from archive_app.reading import ExtractionError, extract, render_page_image, render_thumbnail

    row = session.get(RecordFile, file_id)
    if row is None:
        return "gone"  # destroyed or never committed: nothing to do
    _set_status(session, clock, file_id, extract_status="processing", pages_done=0, extract_error="",
                extract_attempts=RecordFile.extract_attempts + 1)
    path = None
    try:
        try:
            path = _fetch_to_temp(store, row, workdir)
        except StorageError as exc:
            raise TransientError(f"storage: {exc}") from exc

        def progress(done: int, total: int) -> None:
            _set_status(session, clock, file_id, pages_done=done)

        try:
            with time_limit(timeout):
                pages = extract(path, row.mime_type, on_page=progress)
                images = []
                for page in pages:
                    images.append((page.page_no,
                                   render_thumbnail(path, row.mime_type, page.page_no, max_side=THUMB_SIDE),
                                   render_page_image(path, row.mime_type, page.page_no, max_side=VIEW_SIDE)))
        except ExtractionError as exc:
            _set_status(session, clock, file_id, extract_status="failed", extract_error=f"{exc.code}: {exc.message_zh}")
            return "failed"
        except JobTimeout:
            session.rollback()
            _set_status(session, clock, file_id, extract_status="failed",
                        extract_error=f"timeout: 处理超过 {timeout} 秒仍未完成，已停止（文件可能过于复杂或已损坏）")
            return "failed"
        try:
            for page_no, thumb, view in images:
                _put_replacing(store, derived_key(row, page_no, "thumb"), thumb)
                _put_replacing(store, derived_key(row, page_no, "view"), view)
        except StorageError as exc:
            raise TransientError(f"storage: {exc}") from exc
        session.execute(delete(FilePage).where(FilePage.file_id == file_id))
        session.add_all([FilePage(file_id=file_id, page_no=p.page_no, text=p.text, source=p.source,
                                  confidence=p.confidence, width=p.width, height=p.height,
                                  thumb_key=derived_key(row, p.page_no, "thumb"),
                                  view_key=derived_key(row, p.page_no, "view")) for p in pages])
        session.execute(update(RecordFile).where(RecordFile.id == file_id).values(
            extract_status="done", pages_done=len(pages), page_count=len(pages) or row.page_count,
            extract_updated_at=clock()))
        index_feed.note_records(session, [row.record_id])
        session.commit()
    except (OperationalError, InterfaceError) as exc:
        session.rollback()
        raise TransientError(f"database: {exc}") from exc
    except TransientError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bug or a library crash fails this file, not the worker
        log.exception("extraction of file %s failed unexpectedly", file_id)
        session.rollback()
        _set_status(session, clock, file_id, extract_status="failed",
                    extract_error=f"internal_error: 处理时发生内部错误（{type(exc).__name__}），请联系管理员")
        return "failed"
    finally:
        if path:
            os.unlink(path)
    return "done"


def requeue_stale(session: Session, older_than: timedelta, now: datetime,
                  enqueue: Callable[[list[int]], None]) -> list[int]:
    """Put files back on the queue whose job was lost (worker killed, enqueue failed); commit."""
    cutoff = now - older_than
    stmt = select(RecordFile.id).where(
        RecordFile.extract_status.in_(["queued", "processing"]),
        or_(RecordFile.extract_updated_at.is_(None), RecordFile.extract_updated_at < cutoff))
    rows = session.execute(stmt.add_columns(RecordFile.extract_attempts)).all()
    doomed = [fid for fid, attempts in rows if attempts >= MAX_ATTEMPTS]
    ids = [fid for fid, attempts in rows if attempts < MAX_ATTEMPTS]
    if doomed:
        session.execute(update(RecordFile).where(RecordFile.id.in_(doomed)).values(
            extract_status="failed", extract_updated_at=now,
            extract_error=f"worker_crashed: 已尝试 {MAX_ATTEMPTS} 次，处理进程每次都中断，文件可能有问题"))
    if ids:
        session.execute(update(RecordFile).where(RecordFile.id.in_(ids))
                        .values(extract_status="queued", extract_updated_at=now))
    # End the transaction either way: on SQLite an open one holds the write lock.
    session.commit()
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
