"""Background work on Huey: the same task code on an embedded SQLite queue or on Redis.

Huey is the only queue library imported, and only here. Tasks are plain functions from
``archive_app.services``; this module registers them on the app's queue and runs them inside an
application context, so a worker process is just ``create_app()`` plus a Huey consumer.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.exceptions import RetryTask

log = logging.getLogger(__name__)

# Transient failures (storage or database unreachable) are retried with back-off.
RETRIES = 5
RETRY_DELAY = 5  # seconds, doubled each time (5, 10, 20, 40, 80)
STALE_AFTER = timedelta(minutes=15)


def make_queue(config: dict[str, Any]) -> Huey:
    """The Huey instance for this configuration (results are not stored: tasks write to the DB)."""
    name = config["QUEUE_NAME"]
    if config["QUEUE_BACKEND"] == "redis":
        return RedisHuey(name, url=config["REDIS_URL"], results=False, utc=True)
    if config["QUEUE_BACKEND"] == "sqlite":
        return SqliteHuey(name, filename=config["QUEUE_PATH"], results=False, utc=True)
    raise ValueError(f"ARCHIVE_QUEUE_BACKEND must be sqlite or redis, not {config['QUEUE_BACKEND']!r}")


def register_jobs(app: Flask) -> None:
    """Create the app's queue and register every task on it (app.extensions['queue'])."""
    queue = make_queue(app.config)
    tasks: dict[str, Any] = {}

    @queue.task(retries=RETRIES, retry_delay=RETRY_DELAY, retry_backoff=2, name="extract_file")
    def extract_file(file_id: int) -> None:
        from ..services import extraction

        with app.app_context():
            try:
                extraction.run_extraction_job(file_id)
            except extraction.TransientError as exc:
                log.warning("file %s: transient failure, will retry: %s", file_id, exc)
                raise

    @queue.task(retries=RETRIES, retry_delay=RETRY_DELAY, retry_backoff=2, name="index_records")
    def index_records(record_ids: list[int], customer_ids: list[int]) -> None:
        from ..services import search

        with app.app_context():
            search.refresh(record_ids, customer_ids)

    @queue.task(name="reindex_all")
    def reindex_all() -> None:
        from ..extensions import db
        from ..services import search

        with app.app_context():
            search.rebuild_index(db.session, search.get_index(), resume=True)

    @queue.periodic_task(crontab(minute="*/5"), name="requeue_stale")
    def requeue_stale() -> None:
        # A worker killed mid-job leaves its file "processing"; an enqueue lost with Redis down
        # leaves it "queued". Either way, put it back on the queue.
        from ..services import extraction

        with app.app_context():
            extraction.requeue_stale(STALE_AFTER)

    @queue.periodic_task(crontab(minute="*/5"), name="expire_loans")
    def expire_loans() -> dict[str, int]:
        # Undecided requests expire and finished windows close without anyone having to look.
        from ..extensions import db
        from ..models.base import utcnow
        from ..services import loans

        with app.app_context():
            return loans.expire_stale(db.session, loans.LoanSettings.from_config(app.config), utcnow())

    @queue.periodic_task(crontab(minute="30", hour="2"), name="sync_retention")
    def sync_retention() -> dict[str, int]:
        # Nightly: dates follow events and schedule changes made since, and the storage's own
        # locks (retention, legal holds) follow the dates. Idempotent.
        from .. import get_store
        from ..extensions import db
        from ..models.base import utcnow
        from ..services import object_lock, retention

        with app.app_context():
            now = utcnow()
            moved = retention.recompute_all(db.session, now.date())
            report = object_lock.apply_all(db.session, get_store(), now)
            return {"moved": moved, "locked": report.locked, "failed": len(report.failed)}

    tasks.update(extract_file=extract_file, index_records=index_records, reindex_all=reindex_all,
                 requeue_stale=requeue_stale, expire_loans=expire_loans, sync_retention=sync_retention)
    app.extensions["queue"] = queue
    app.extensions["tasks"] = tasks


def get_queue() -> Huey:
    """The current app's Huey instance."""
    return current_app.extensions["queue"]


def enqueue_extraction(file_ids: list[int]) -> None:
    """Queue text extraction for files; a queue that is down only delays it (requeue_stale)."""
    task = current_app.extensions["tasks"]["extract_file"]
    for file_id in file_ids:
        try:
            task(file_id)
        except Exception:  # noqa: BLE001 - the queue being down must not fail an upload that committed
            log.exception("could not enqueue extraction of file %s; requeue_stale will retry", file_id)


def run_pending(limit: int = 1000) -> int:
    """Execute queued tasks in this process until the queue is empty (tests, `archive worker --drain`)."""
    queue = get_queue()
    done = 0
    while done < limit:
        task = queue.dequeue()
        if task is None:
            break
        try:
            queue.execute(task)
        except Exception:  # noqa: BLE001 - like the consumer: one failing task does not stop the others
            log.exception("task %s failed", task)
        done += 1
    return done


__all__ = ["make_queue", "register_jobs", "get_queue", "enqueue_extraction", "run_pending", "RetryTask"]
