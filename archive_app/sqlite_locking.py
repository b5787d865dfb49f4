"""How the embedded default's SQLite takes its one write lock: late, and only to write.

SQLite has a single writer. Starting every transaction ``BEGIN IMMEDIATE`` (the first version)
made each request hold that lock from its first query, the sign-in lookup, to its commit after the
page was rendered: every page and search of every worker queued behind every other on SQLite's
busy handler, which sleeps and retries unfairly (bench/load.py: p95 above one second at 20 readers).

Now a connection reads in autocommit, each statement seeing the latest committed data, and opens
``BEGIN IMMEDIATE`` just before its first write or locking read (``SELECT … FOR UPDATE``, which
SQLite itself ignores). From there to the commit it is serialised as before. These are the
semantics the code already meets on PostgreSQL, whose default isolation is READ COMMITTED: what a
request read before its first write may have changed by then, and what must not change is read
``FOR UPDATE`` — on SQLite that now takes the write lock, so the check-then-act paths (档号
numbering, loan approvals, disposal steps, the audit head) stay serialised on both databases.
"""
from __future__ import annotations

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine

# Statements that never write; anything else (DML, DDL, SAVEPOINT, a WITH that might write) first
# takes the write lock, which errs on the side of serialising.
_READ_ONLY = ("SELECT", "PRAGMA", "EXPLAIN")


def _is_locking_read(context) -> bool:
    compiled = getattr(context, "compiled", None)
    statement = getattr(compiled, "statement", None)
    return getattr(statement, "_for_update_arg", None) is not None


def needs_write_lock(statement: str, context=None) -> bool:
    """Whether a statement must run inside the write transaction (a write, or a read FOR UPDATE)."""
    head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    return head not in _READ_ONLY or (context is not None and _is_locking_read(context))


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection, connection_record) -> None:
    # WAL lets readers run beside the writer. isolation_level None: the driver opens no transaction
    # of its own; _before_execute opens the write transaction itself.
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        # Deleted rows are overwritten with zeros: destroyed records' text must not linger in free pages.
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()


def keep_pages_cached(engine: Engine, megabytes: int) -> None:
    """Let each SQLite connection of ``engine`` keep up to ``megabytes`` of database pages in memory.

    SQLite's default is 2 MB a connection: a report counting over a year of visits or a department's
    records read the same index pages again and again from the OS, one system call a page, which was
    about a third of such a page's time at 100,000 customers (bench/reports.py). The cache fills only
    with pages actually read, and a connection's cache is dropped when another one writes.
    """
    if engine.dialect.name != "sqlite" or megabytes <= 0:
        return

    @event.listens_for(engine, "connect")
    def _cache_size(dbapi_connection, connection_record) -> None:
        # A negative cache_size is in KiB rather than pages.
        dbapi_connection.execute(f"PRAGMA cache_size=-{int(megabytes) * 1024}")


@event.listens_for(Engine, "before_cursor_execute")
def _before_execute(conn, cursor, statement, parameters, context, executemany) -> None:
    if conn.dialect.name != "sqlite":
        return
    dbapi_connection = conn.connection.dbapi_connection
    if not dbapi_connection.in_transaction and needs_write_lock(statement, context):
        # IMMEDIATE: the lock is taken now, waiting on the busy timeout, rather than a deferred
        # transaction failing later when it tries to upgrade its read lock.
        dbapi_connection.execute("BEGIN IMMEDIATE")
