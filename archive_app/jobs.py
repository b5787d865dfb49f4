"""Background work on Huey: the same task code on an embedded SQLite queue or on Redis.

Huey is the only queue library imported, and only here. Tasks are plain service functions
from the rooms; this module registers them on the app's queue and runs them inside an
application context, so a worker process is just ``create_app()`` plus a Huey consumer.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask
from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer, Scheduler
from huey.exceptions import RetryTask

from archive_app import wiring
from archive_app.extensions import db

if TYPE_CHECKING:
    from archive_app.retention.upkeep import Upkeep

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


# ------------------------------------------------------------------------------------ task bodies
# Each runs inside an application context and hands the services plain values from the wiring.


def extract_one(file_id: int) -> str:
    """Read one stored file (text layer or OCR, page images); its record is indexed after the commit.

    The job renders every page anyway, so its outcome is the file's 四性检测 usability result.
    """
    from archive_app.intake import admission_checks
    from archive_app.reading import extraction_job, ocr

    ocr.set_threads(wiring.setting("OCR_THREADS"))
    ocr.set_rec_model(wiring.setting("OCR_REC_MODEL"))
    status = extraction_job.extract_file(db.session, wiring.get_store(), file_id, wiring.setting("UPLOAD_TMP_DIR"),
                                         timeout=wiring.setting("JOB_TIMEOUT"), clock=wiring.now,
                                         lease_seconds=int(wiring.setting("JOB_LEASE_SECONDS")))
    if status in ("done", "failed"):
        admission_checks.after_extraction(db.session, file_id, now=wiring.now())
        db.session.commit()
    return status


def index_records(record_ids: list[int], customer_ids: list[int]) -> int:
    """Bring these records (and every record of these customers) up to date in the index."""
    from archive_app.finding import search

    return search.refresh(db.session, wiring.get_index(), record_ids, customer_ids)


def reindex_all() -> int:
    """Rebuild the whole index from the database (after a schema change of the index)."""
    from archive_app.finding import search

    return search.rebuild_index(db.session, wiring.get_index(), resume=True)


def requeue_stale() -> list[int]:
    """Hand on the jobs whose worker stopped renewing its lease (killed, machine lost), and put back
    on the queue the files whose job was lost in the queue. Files the sweep gave up on (failed without
    their job ending) get their 四性检测 usability result here."""
    from archive_app.intake import admission_checks
    from archive_app.reading import extraction_job

    taken = extraction_job.requeue_stale(db.session, STALE_AFTER, wiring.now(), wiring.enqueue_extraction)
    admission_checks.catch_up_usability(db.session, now=wiring.now())
    db.session.commit()
    return taken


def expire_loans() -> dict[str, int]:
    """Undecided requests expire and finished windows close without anyone having to look."""
    from archive_app.borrowing import loans

    return loans.expire_stale(db.session, wiring.loan_settings(), wiring.now())


def sync_retention() -> Upkeep:
    """Dates follow events and schedule changes, and the storage's own locks follow the dates
    (nightly, and ``archive retention-sync``)."""
    from archive_app.retention import upkeep

    return upkeep.after_change(db.session, wiring.get_store(), now=wiring.now(), all_records=True)


def scheduled_backup() -> str:
    """The nightly backup into ARCHIVE_BACKUP_DIR, keeping the newest ARCHIVE_BACKUP_KEEP (off when unset);
    its result, failure included, is in the audit log and on the backup page."""
    from archive_app.backup import backups

    dest = wiring.setting("BACKUP_DIR")
    if not dest:
        return ""
    key = wiring.setting("AUDIT_KEY") if wiring.setting("BACKUP_INCLUDE_AUDIT_KEY") else None
    run = backups.run_backup(db.session, wiring.get_store(), wiring.backup_destination(dest), now=wiring.now(),
                             keep=int(wiring.setting("BACKUP_KEEP")), audit_key=key, actor_name="worker")
    if run.result is None:
        log.error("scheduled backup into %s failed: %s", dest, run.error)
        return ""
    return run.result.name


def sweep_leftovers() -> tuple[int, int]:
    """Nightly: blobs no row points to and unfinished uploads, older than ARCHIVE_ORPHAN_GRACE_HOURS, go
    (what ``archive sweep-orphans`` does); returns (blobs removed, uploads aborted)."""
    from archive_app.intake.records import abort_abandoned_uploads, sweep_orphans

    cutoff = wiring.now() - timedelta(hours=int(wiring.setting("ORPHAN_GRACE_HOURS")))
    store = wiring.get_store()
    removed = sweep_orphans(db.session, store, cutoff)
    aborted = abort_abandoned_uploads(store, cutoff)
    if removed or aborted:
        log.warning("swept %d orphan blob(s) and %d unfinished upload(s)", len(removed), len(aborted))
    return len(removed), len(aborted)


def anchor_audit() -> int:
    """Write the audit chain's head to the store, locked, so deleting the newest entries is detected."""
    from archive_app.audit.anchors import anchor_head

    anchor = anchor_head(db.session, wiring.get_store(), wiring.now())
    return anchor.seq if anchor else 0


def check_fixity() -> int:
    """The nightly share of stored originals re-hashed, so the whole store is covered every cycle."""
    from archive_app.fixity.checks import run_check

    report = run_check(db.session, wiring.get_store(), now=wiring.now(), scope="cycle", trigger="worker",
                       cycle_days=int(wiring.setting("FIXITY_CYCLE_DAYS")),
                       rate_mb=float(wiring.setting("FIXITY_RATE_MB")),
                       tmp_dir=wiring.setting("UPLOAD_TMP_DIR"), clock=wiring.now)
    if not report.clean:
        log.error("fixity: %d file(s) failed, %d orphan object(s): %s", len(report.failures), len(report.orphans),
                  ", ".join(c.archival_code or c.object_key for c in report.failures + report.orphans))
    return len(report.failures) + len(report.orphans)


def poll_intake_folder() -> int:
    """Each minute: file what has settled in ARCHIVE_INTAKE_FOLDER (off when unset); how many were filed."""
    from archive_app.intake import intake_folder

    path = wiring.setting("INTAKE_FOLDER")
    if not path:
        return 0
    folder = intake_folder.FolderSettings(path, wiring.setting("INTAKE_FOLDER_USER"))
    run = intake_folder.run(db.session, wiring.get_store(), wiring.archive_settings(), folder, now=wiring.now)
    for outcome in run.of("rejected"):
        log.warning("intake folder: %s moved aside (%s: %s)", outcome.name, outcome.code, outcome.message)
    return len(run.of("filed"))


def register_jobs(app: Flask) -> None:
    """Create the app's queue and register every task on it (app.extensions['queue'])."""
    from archive_app.reading.extraction_job import TransientError

    queue = make_queue(app.config)

    def in_app(fn):
        # One job, one unit of work: what the task did is committed when it returns, else rolled back.
        def run(*args):
            with app.app_context():
                try:
                    result = fn(*args)
                except BaseException:
                    db.session.rollback()
                    raise
                db.session.commit()
                return result
        return run

    def extract(file_id: int) -> None:
        try:
            extract_one(file_id)
        except TransientError as exc:
            log.warning("file %s: transient failure, will retry: %s", file_id, exc)
            raise

    retried = {"retries": RETRIES, "retry_delay": RETRY_DELAY, "retry_backoff": 2}
    tasks = {
        "extract_file": queue.task(name="extract_file", **retried)(in_app(extract)),
        "index_records": queue.task(name="index_records", **retried)(in_app(index_records)),
        "reindex_all": queue.task(name="reindex_all")(in_app(reindex_all)),
        "expire_loans": queue.periodic_task(crontab(minute="*/5"), name="expire_loans")(in_app(expire_loans)),
        # idempotent: an unchanged head is only re-locked
        "anchor_audit": queue.periodic_task(_every_minutes(int(app.config["AUDIT_ANCHOR_MINUTES"])),
                                            name="anchor_audit")(in_app(anchor_audit)),
        "scheduled_backup": queue.periodic_task(crontab(minute="0", hour=str(int(app.config["BACKUP_HOUR"]))),
                                                name="scheduled_backup")(in_app(scheduled_backup)),
        # nightly and idempotent
        "sync_retention": queue.periodic_task(crontab(minute="30", hour="2"),
                                              name="sync_retention")(in_app(sync_retention)),
        # nightly, before the fixity check so it does not report what a crash left behind
        "sweep_leftovers": queue.periodic_task(crontab(minute="45", hour="2"),
                                               name="sweep_leftovers")(in_app(sweep_leftovers)),
        # every minute; a run still going holds the folder's lock and the next one skips
        "intake_folder": queue.periodic_task(crontab(minute="*"),
                                             name="intake_folder")(in_app(poll_intake_folder)),
        # nightly, after the retention sync; the least recently checked files first
        "check_fixity": queue.periodic_task(crontab(minute="0", hour="3"),
                                            name="check_fixity")(in_app(check_fixity)),
    }
    app.extensions["queue"] = queue
    app.extensions["tasks"] = tasks


class _SweepingScheduler(Scheduler):
    """Huey's scheduler, which also sweeps for lapsed job leases every ``JOB_SWEEP_SECONDS``.

    Periodic tasks run at most once a minute and wait behind busy workers; the scheduler process
    runs every second and never executes jobs, so a killed worker's job is handed on in time even
    while every worker is reading a long file.
    """

    def __init__(self, huey: Huey, stop_flag, interval: int, periodic: bool, *, sweep, every: float) -> None:
        super().__init__(huey, stop_flag, interval, periodic)
        self._sweep, self._every = sweep, every
        self._next_sweep = time.monotonic()

    def loop(self, now=None) -> None:
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + self._every
            try:
                self._sweep()
            except Exception:  # noqa: BLE001 - database away: the next sweep tries again
                self._logger.exception("Error sweeping for lapsed job leases.")
        super().loop(now)


class _Consumer(Consumer):
    def __init__(self, huey: Huey, app: Flask, **options) -> None:
        self._app = app
        super().__init__(huey, **options)

    def _create_scheduler(self):
        app = self._app

        def sweep() -> None:
            with app.app_context():
                try:
                    taken = requeue_stale()
                finally:
                    db.session.remove()
            if taken:
                log.info("jobs of files %s taken again (lease lapsed or job lost)", taken)

        return _SweepingScheduler(self.huey, self.stop_flag, self.scheduler_interval, self.periodic,
                                  sweep=sweep, every=float(app.config["JOB_SWEEP_SECONDS"]))


def make_consumer(app: Flask, workers: int, schedule: bool = True) -> Consumer:
    """The consumer `archive worker` runs: ``workers`` processes, periodic tasks, and the lease sweep.

    ``schedule`` False: jobs and the lease sweep only. Every scheduler queues every periodic task, so
    with several `archive worker` on one queue only one may schedule, or the nightly backup, fixity
    check and retention sync would each run once per worker."""
    return _Consumer(wiring.get_queue(), app, workers=workers, worker_type="process", periodic=schedule,
                     backoff=1.15, max_delay=2.0, check_worker_health=True)


def _every_minutes(minutes: int):
    # crontab's "*/n" restarts each hour: 60 means once an hour.
    return crontab(minute="0" if minutes >= 60 else f"*/{minutes}")


def run_pending(limit: int = 1000) -> int:
    """Execute queued tasks in this process until the queue is empty (tests, `archive worker --drain`)."""
    queue = wiring.get_queue()
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


__all__ = ["make_consumer", "make_queue", "register_jobs", "run_pending", "RetryTask"]
