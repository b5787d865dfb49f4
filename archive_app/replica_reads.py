"""Reads sent to a read-only PostgreSQL replica (ARCHIVE_DATABASE_READ_URL), and when they may not be.

The rule, in short: **the replica proposes, the primary decides.** The replica runs the expensive
part of a search or a list page -- the full-text match, the filters, the count, the order and the
page of ids (and a search hit's snippet text) -- while who is asking (the user, their role,
department, clearance, their borrowing grants) and what each proposed row is now (department,
密级, status, erased) are read from the primary, which drops any row it no longer allows. So a
replica behind by some seconds can show a list that misses or still counts a change of those
seconds, but never shows a record or customer to someone the primary no longer lets see it.

**Written, then searched at once**: after a request of a user that may have changed something
(any method but GET, HEAD and OPTIONS) the primary's WAL insert position is kept for that user
(``read_positions``, an UNLOGGED table on the primary: no WAL, not replicated). A later read of
that user goes to the replica only once the replica has replayed past that position, else to the
primary: each user reads their own writes; everyone else sees them after the replication lag.

A replica that cannot be reached (or is no longer in recovery) is not asked again for
:data:`RETRY_AFTER_SECONDS`; meanwhile reads go to the primary, and a warning is logged.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: The table of this module (migration 0021): derived and disposable, not a model, not backed up.
POSITIONS_TABLE = "read_positions"
TABLES = (POSITIONS_TABLE,)
#: How long a replica that failed is left alone before it is tried again.
RETRY_AFTER_SECONDS = 30.0
#: Requests of these methods change nothing, so they leave no position to wait for.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def remember_write(primary: Session, user_id: int) -> None:
    """Keep the primary's current WAL position as the least the replica must have replayed before
    ``user_id``'s reads go to it; committed at once. Call after the user's transaction committed.

    The insert position, not the flush position: with ``synchronous_commit = off`` the commit
    record may not be flushed yet, and the insert position is past it either way. Positions only
    grow: GREATEST keeps the later one when two requests of one user end together."""
    primary.execute(sa.text(
        f"INSERT INTO {POSITIONS_TABLE} (user_id, lsn) VALUES (:u, pg_current_wal_insert_lsn()) "
        f"ON CONFLICT (user_id) DO UPDATE SET lsn = GREATEST({POSITIONS_TABLE}.lsn, EXCLUDED.lsn)"),
        {"u": int(user_id)})
    primary.commit()


def position_needed(primary: Session, user_id: int | None) -> str | None:
    """The WAL position ``user_id``'s reads wait for on the replica (None: any replica state will do)."""
    if user_id is None:
        return None
    return primary.execute(sa.text(f"SELECT CAST(lsn AS text) FROM {POSITIONS_TABLE} WHERE user_id = :u"),
                           {"u": int(user_id)}).scalar()


def replica_has_replayed(replica: sa.Connection, position: str | None) -> bool:
    """Whether the replica on ``replica`` is in recovery and has replayed up to ``position``.

    Runs in the read transaction's first statement; under READ COMMITTED every later statement
    takes a newer snapshot, and replay only moves forward, so they see at least as much."""
    row = replica.execute(sa.text(
        "SELECT pg_is_in_recovery() AS standby, "
        "COALESCE(pg_last_wal_replay_lsn() >= CAST(:p AS pg_lsn), TRUE) AS caught_up"),
        {"p": position or "0/0"}).one()
    if not row.standby:
        raise NotAReplica("the read database is not in recovery (promoted?); reading from the primary")
    return bool(row.caught_up)


class NotAReplica(Exception):
    """The read URL points at a server that is not a standby: its data may have forked from the primary's."""


@dataclass
class ReadChoice:
    """Where one request's routed reads go: ``session`` (the replica's, or the primary's own) and why."""

    session: Session
    on_replica: bool
    reason: str


class ReadRouter:
    """The replica's engine and whether it is usable now; one per application (thread-safe)."""

    def __init__(self, engine: sa.Engine, *, retry_after: float = RETRY_AFTER_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.engine = engine
        self._retry_after = retry_after
        self._clock = clock
        self._down_until = 0.0
        self._lock = threading.Lock()

    def choose(self, primary: Session, user_id: int | None) -> ReadChoice:
        """A session for this request's routed reads: on the replica when it is up and has replayed
        the user's last write, else ``primary`` itself (the same transaction, so the request's own
        uncommitted changes are seen too). The caller closes a replica session (:meth:`release`)."""
        if self._clock() < self._down_until:
            return ReadChoice(primary, False, "replica down")
        position = position_needed(primary, user_id)
        replica = Session(bind=self.engine)
        try:
            caught_up = replica_has_replayed(replica.connection(), position)
        except (sa.exc.DBAPIError, NotAReplica) as exc:
            replica.close()
            with self._lock:
                self._down_until = self._clock() + self._retry_after
            log.warning("read replica unusable, reading from the primary for %.0f s: %s", self._retry_after, exc)
            return ReadChoice(primary, False, "replica down")
        if not caught_up:
            replica.close()
            return ReadChoice(primary, False, "replica behind the user's last write")
        return ReadChoice(replica, True, "replica")

    @staticmethod
    def release(choice: ReadChoice) -> None:
        """End a replica read transaction (it wrote nothing: a rollback)."""
        if choice.on_replica:
            choice.session.close()


def make_engine(url: str, options: dict | None = None) -> sa.Engine:
    """The replica's engine: its connections are checked before use, since a standby restarts alone."""
    return sa.create_engine(url, **{"pool_pre_ping": True, **(options or {})})


__all__ = ["ReadRouter", "ReadChoice", "NotAReplica", "remember_write", "position_needed", "replica_has_replayed",
           "make_engine", "POSITIONS_TABLE", "TABLES", "SAFE_METHODS", "RETRY_AFTER_SECONDS"]
