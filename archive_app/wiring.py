"""Handles on the running application's parts: store, index, queue, settings and the clock.

The one module outside pages and the API that reads Flask's application context. Pages, API
routes, jobs and the CLI ask here and pass plain values on; services never import it, so they run
the same under a request, in a worker or in a test with whatever store, index and time it hands them.
"""
from __future__ import annotations

import contextlib
import logging
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Callable
from zoneinfo import ZoneInfo

from flask import current_app, g, has_app_context
from huey.api import Huey

from archive_app.backup.destinations import Destination, open_destination
from archive_app.borrowing.loans import LoanSettings
from archive_app.clock import utcnow
from archive_app.errors import StorageFailed
from archive_app.i18n import _
from archive_app.intake.records import ArchiveSettings
from archive_app.replica_reads import SAFE_METHODS, ReadChoice, ReadRouter, remember_write
from search_index import IndexDamaged, SearchIndex
from search_index.postgres_backend import PostgresSearchIndex
from storage import BlobStore

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from archive_app.visits.follow_ups import FollowUpSettings

log = logging.getLogger(__name__)


def now() -> datetime:
    """The current instant, from the application's clock (``app.config['CLOCK']`` in tests)."""
    clock = current_app.config.get("CLOCK") if has_app_context() else None
    return clock() if clock else utcnow()


def setting(name: str) -> Any:
    """One configuration value (config.py documents them all)."""
    return current_app.config[name]


def get_store() -> BlobStore:
    """The current app's blob store."""
    return current_app.extensions["blob_store"]


def backup_destination(dest: str | None = None) -> Destination:
    """Where backups go: ``dest`` (a folder or ``s3://bucket/prefix``), by default ARCHIVE_BACKUP_DIR,
    with the ARCHIVE_BACKUP_S3_* settings for an S3 bucket."""
    return open_destination(dest if dest is not None else current_app.config["BACKUP_DIR"], current_app.config)


def get_index() -> SearchIndex | PostgresSearchIndex:
    """This process's handle on the index (opened once; a damaged index raises IndexDamaged).

    On ARCHIVE_SEARCH_BACKEND=postgres the tables in the database, on the current session's
    connection (made by ``register_search`` when the app is built)."""
    index = current_app.extensions.get("search_index")
    if current_app.config.get("SEARCH_BACKEND") == "postgres":
        if index is None:
            from archive_app import register_search

            register_search(current_app)
            index = current_app.extensions["search_index"]
        if not current_app.extensions.get("search_index_checked"):
            # once per process: tables migrated beside existing records are rebuilt by a job
            current_app.extensions["search_index_checked"] = True
            if index.wants_rebuild():
                log.warning("search tables not built yet: a full reindex is queued")
                enqueue("reindex_all")
        return index
    if index is None:
        try:
            index = SearchIndex.open(current_app.config["INDEX_DIR"])
        except IndexDamaged as exc:
            # Never deleted automatically: an administrator decides (archive reindex rebuilds it).
            log.error("search index damaged: %s", exc)
            raise StorageFailed(_("搜索索引已损坏，请联系管理员运行 archive reindex 重建索引"),
                                code="index_damaged") from None
        current_app.extensions["search_index"] = index
        if getattr(index, "needs_rebuild", False):
            log.warning("search index schema changed: a full reindex is queued")
            enqueue("reindex_all")
    return index


def read_choice(user_id: int | None) -> ReadChoice:
    """Where this request's routed reads (searches, list pages) go: the replica of
    ARCHIVE_DATABASE_READ_URL when it has replayed ``user_id``'s last write, else the primary's
    session (see ``replica_reads``). Chosen once per request; closed when the request ends."""
    from archive_app.extensions import db

    choice = g.get("read_choice")
    if choice is None:
        router = current_app.extensions.get("read_router")
        choice = router.choose(db.session, user_id) if router is not None \
            else ReadChoice(db.session, False, "no replica")
        g.read_choice = choice
    return choice


def read_session(user_id: int | None) -> Session:
    """The session a list page counts, filters and pages on (the replica's or the primary's);
    rows it proposes are loaded and checked on the primary's ``db.session``."""
    return read_choice(user_id).session


def read_index(user_id: int | None) -> SearchIndex | PostgresSearchIndex:
    """The search index a search asks: the tables on the replica when reads go there, else
    :func:`get_index`. Hits are checked against the primary by ``search_records``."""
    index = get_index()
    if current_app.config.get("SEARCH_BACKEND") != "postgres":
        return index  # a Whoosh folder is this machine's: no replica to ask
    choice = read_choice(user_id)
    return PostgresSearchIndex(connect=choice.session.connection) if choice.on_replica else index


def end_reads(exc: BaseException | None = None) -> None:
    """Close the request's replica session, if it had one (teardown)."""
    choice = g.pop("read_choice", None)
    if choice is not None:
        ReadRouter.release(choice)


def note_write(method: str, user_id: int | None) -> None:
    """After a request that may have changed something, keep the primary's WAL position for its user,
    so that their next reads wait for the replica to replay it (no replica: nothing to do). A failure
    is logged: it costs the user at most seeing their write after the replication lag."""
    if user_id is None or method in SAFE_METHODS or "read_router" not in current_app.extensions:
        return
    from archive_app.extensions import db

    try:
        remember_write(db.session, user_id)
    except Exception:  # noqa: BLE001 - the request's own work is done and answered
        log.warning("could not keep the WAL position of user %s", user_id, exc_info=True)
        with contextlib.suppress(Exception):
            db.session.rollback()


def get_queue() -> Huey:
    """The current app's Huey instance."""
    return current_app.extensions["queue"]


def enqueue(task: str, *args: Any) -> bool:
    """Queue one background task by name; False (logged) when there is no app or the queue is down.

    A queue outage only delays work (the periodic sweeps catch up); it must never undo or fail
    something the database has already committed.
    """
    if not has_app_context():
        return False
    fn = current_app.extensions.get("tasks", {}).get(task)
    if fn is None:
        return False
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - see above
        log.exception("could not queue %s%r; the periodic sweep will retry", task, args)
        return False
    return True


def enqueue_extraction(file_ids: list[int]) -> None:
    """Queue text extraction for files, one job each."""
    for file_id in file_ids:
        enqueue("extract_file", file_id)


def archive_settings() -> ArchiveSettings:
    """The settings filing needs, from the app config."""
    cfg = current_app.config
    return ArchiveSettings(fonds_code=cfg["FONDS_CODE"], timezone=cfg["TIMEZONE"],
                           max_file_size=int(cfg["MAX_UPLOAD_MB"]) * 1024 * 1024,
                           on_files_stored=enqueue_extraction, tmp_dir=cfg["UPLOAD_TMP_DIR"],
                           verify_max_bytes=int(cfg["FIXITY_VERIFY_MAX_MB"]) * 1024 * 1024,
                           on_fixity_failure=_fixity_flagger(current_app._get_current_object()))


def _fixity_flagger(app: Any) -> Callable[[Any], None]:
    """Keep a fixity failure found while serving a download, committed in a session of its own.

    It may run after the request has ended (a large file cut off mid-stream), hence the app held
    here; a database that cannot take the flag never turns the refusal into a 500.
    """
    def flag(check: Any) -> None:
        from sqlalchemy.orm import Session

        from archive_app.extensions import db
        from archive_app.fixity.checks import flag_failure

        log.error("fixity failure on download: %s %s (%s): %s", check.archival_code, check.object_key,
                  check.status, check.detail)
        with app.app_context():
            try:
                with Session(db.engine) as session:
                    flag_failure(session, check, now(), found_by="download")
                    session.commit()
            except Exception:  # noqa: BLE001 - see above
                log.exception("could not keep the fixity failure of %s", check.object_key)
    return flag


def loan_settings() -> LoanSettings:
    """The settings borrowing needs, from the app config."""
    return LoanSettings.from_config(current_app.config)


def follow_up_settings() -> "FollowUpSettings":
    """The settings follow-ups need (ARCHIVE_FIRST_FOLLOWUP_DAYS)."""
    from archive_app.visits.follow_ups import FollowUpSettings

    return FollowUpSettings(first_days=int(current_app.config["FIRST_FOLLOWUP_DAYS"]))


def local_today() -> date:
    """Today in ARCHIVE_TIMEZONE (due dates of follow-ups are days there)."""
    return now().astimezone(ZoneInfo(timezone_name())).date()


def timezone_name() -> str:
    """ARCHIVE_TIMEZONE: local dates, 年度 and due dates are reckoned in it."""
    return current_app.config["TIMEZONE"]


def sensitive_customer_fields() -> frozenset[str]:
    """ARCHIVE_SENSITIVE_CUSTOMER_FIELDS: a change request naming one needs a second approval."""
    return current_app.config["SENSITIVE_CUSTOMER_FIELDS"]
