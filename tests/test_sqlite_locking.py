"""SQLite's one write lock is taken at the first write, not the first read; reads' audit entries wait for the commit."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, select, text, update

from archive_app.audit import log as audit
from archive_app.audit.models import AuditEntry
from archive_app.extensions import db
from archive_app.sqlite_locking import needs_write_lock

meta = MetaData()
counter = Table("counter", meta, Column("id", Integer, primary_key=True), Column("n", Integer))


@pytest.fixture
def engine(tmp_path):
    eng = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    meta.create_all(eng)
    with eng.begin() as conn:
        conn.execute(counter.insert().values(id=1, n=0))
    yield eng
    eng.dispose()


def _write_now(path: str) -> None:
    """A write from another connection that gives up at once instead of waiting for the lock."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("UPDATE counter SET n = n + 1")
    finally:
        other.close()


def test_statement_kinds():
    assert not needs_write_lock("SELECT 1")
    assert not needs_write_lock("  pragma data_version")
    for sql in ("INSERT INTO t VALUES (1)", "update t set n=1", "DELETE FROM t", "SAVEPOINT sa_1",
                "CREATE TABLE x (a)", "WITH q AS (SELECT 1) DELETE FROM t"):
        assert needs_write_lock(sql), sql


def test_reads_hold_no_lock_and_a_write_takes_it_until_commit(engine):
    path = engine.url.database
    with engine.connect() as conn:
        assert conn.execute(select(counter.c.n)).scalar() == 0
        assert not conn.connection.dbapi_connection.in_transaction
        _write_now(path)  # a reader of the same transaction does not stop a writer
        # and reads in autocommit see what was committed meanwhile, as on PostgreSQL (READ COMMITTED)
        assert conn.execute(select(counter.c.n)).scalar() == 1
        conn.execute(update(counter).values(n=counter.c.n + 10))
        assert conn.connection.dbapi_connection.in_transaction
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _write_now(path)
        conn.commit()
        _write_now(path)
        assert conn.execute(select(counter.c.n)).scalar() == 12


def test_a_read_for_update_takes_the_write_lock(engine):
    # SQLite ignores FOR UPDATE; check-then-act paths rely on it to stay serialised, as on PostgreSQL.
    with engine.connect() as conn:
        conn.execute(select(counter.c.n).where(counter.c.id == 1).with_for_update())
        assert conn.connection.dbapi_connection.in_transaction
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _write_now(engine.url.database)
        conn.rollback()
        _write_now(engine.url.database)


def _actions_after(seq: int) -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.seq > seq).order_by(AuditEntry.seq)))


def test_reads_are_appended_at_commit_in_order_and_dropped_on_rollback(app):
    with app.app_context():
        start = db.session.scalar(select(text("max(seq)")).select_from(AuditEntry.__table__)) or 0
        audit.record_read(db.session, "record.view", object_type="record", object_id=1)
        assert _actions_after(start) == []  # not yet: nothing locked, nothing written
        audit.record_event(db.session, "record.update", object_type="record", object_id=1)
        audit.record_read(db.session, "file.download", object_type="record", object_id=1)
        db.session.commit()
        assert _actions_after(start) == ["record.view", "record.update", "file.download"]
        audit.record_read(db.session, "search.run", object_type="search")
        db.session.rollback()
        db.session.commit()
        assert _actions_after(start) == ["record.view", "record.update", "file.download"]
        assert audit.verify_chain(db.session) == []


def test_each_connection_keeps_the_configured_page_cache(engine):
    """ARCHIVE_SQLITE_CACHE_MB (``keep_pages_cached``) sets every new connection's cache; 0 leaves SQLite's."""
    from archive_app.sqlite_locking import keep_pages_cached

    with engine.connect() as conn:
        default = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    keep_pages_cached(engine, 0)
    engine.dispose()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == default
    keep_pages_cached(engine, 64)
    engine.dispose()
    with engine.connect() as conn, engine.connect() as other:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -64 * 1024
        assert other.exec_driver_sql("PRAGMA cache_size").scalar() == -64 * 1024
