"""Searches and list pages read from a streaming replica (ARCHIVE_DATABASE_READ_URL); the primary decides.

A real primary and hot standby run for the session (tests/replica_cluster.py). Replay on the
standby is paused (``pg_wal_replay_pause()``) to hold it behind the primary: what one user then
sees and another does not shows which server answered each.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import pytest
import sqlalchemy as sa

from archive_app import create_app
from archive_app.commands import upgrade_database
from archive_app.config import load_config
from archive_app.errors import ConfigError
from archive_app.extensions import db
from archive_app.intake.models import Record

from .conftest import _cleanup, create_users
from .helpers import login, new_customer
from .replica_cluster import ReplicaPair, replica_pair  # noqa: F401  (the session's clusters)

DATABASE = "archive"


@pytest.fixture(scope="session")
def replica_db(replica_pair: ReplicaPair) -> ReplicaPair:  # noqa: F811
    """The archive's database on the primary, migrated to head (and so on the standby)."""
    admin = sa.create_engine(replica_pair.primary_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{DATABASE}"')
    admin.dispose()
    app = create_app({"SECRET_KEY": "t", "AUDIT_KEY": "t", "SQLALCHEMY_DATABASE_URI": replica_pair.primary_url(DATABASE),
                      "DATA_DIR": "/tmp", "STORAGE_BACKEND": "fs", "STORAGE_DIR": "/tmp/archive-test-unused"})
    with app.app_context():
        upgrade_database()
        db.engine.dispose()
    return replica_pair


def _app(pair: ReplicaPair, tmp_path, read_url: str):
    return create_app({
        "SECRET_KEY": "test-secret", "AUDIT_KEY": "test-audit-key", "TESTING": True, "WTF_CSRF_ENABLED": False,
        "DATA_DIR": str(tmp_path / "data"), "STORAGE_BACKEND": "fs", "STORAGE_DIR": str(tmp_path / "blobs"),
        "SQLALCHEMY_DATABASE_URI": pair.primary_url(DATABASE), "DATABASE_READ_URL": read_url,
        "SEARCH_BACKEND": "postgres"})


@contextlib.contextmanager
def _built(pair: ReplicaPair, tmp_path, read_url: str) -> Iterator:
    application = _app(pair, tmp_path, read_url)
    try:
        yield application
    finally:
        with contextlib.suppress(Exception):
            pair.on_standby("SELECT pg_wal_replay_resume()")
        application.extensions["read_router"].engine.dispose()
        _cleanup(application)  # empties every table on the primary
        pair.wait_replayed()


@pytest.fixture
def replica_app(replica_db: ReplicaPair, tmp_path) -> Iterator:
    """The app on the primary, reading searches and lists from the standby."""
    with _built(replica_db, tmp_path, replica_db.standby_url(DATABASE)) as application:
        yield application


@pytest.fixture
def clients(replica_app, replica_db: ReplicaPair):
    """Test clients signed in as each user named, once the standby has replayed the log-ins."""
    create_users(replica_app)

    def signed_in(*names: str):
        made = []
        for name in names:
            c = replica_app.test_client()
            login(c, name)
            made.append(c)
        replica_db.wait_replayed()
        return made
    return signed_in


def _finds_customer(client, name: str) -> bool:
    """Whether a search and the customer list (the API's) both show the customer ``name``."""
    search = client.get("/api/v1/search", query_string={"q": name})
    listed = client.get("/api/v1/customers", query_string={"q": name})
    assert search.status_code == 200 and listed.status_code == 200, (search.text, listed.text)
    in_search = [c["name"] for c in search.json["customers"]] == [name]
    in_list = [c["name"] for c in listed.json["items"]] == [name]
    assert in_search == in_list, (search.json, listed.json)
    return in_search


def test_written_then_searched_at_once_the_writer_finds_it_others_after_the_lag(replica_app, clients, replica_db):
    writer, other = clients("archivist", "archivist2")
    replica_db.on_standby("SELECT pg_wal_replay_pause()")
    link = f'href="/customers/{new_customer(writer, name="复制读甲")["id"]}"'
    # the writer's reads wait for the replica to replay the write: they go to the primary
    assert _finds_customer(writer, "复制读甲")
    # another user (who sees every customer too) reads from the replica, held behind: not yet
    assert not _finds_customer(other, "复制读甲")
    # the search page and the customer list page read the same way
    for path in ("/search", "/"):
        assert link in writer.get(path, query_string={"q": "复制读甲"}).text
        assert link not in other.get(path, query_string={"q": "复制读甲"}).text

    replica_db.on_standby("SELECT pg_wal_replay_resume()")
    replica_db.wait_replayed()
    assert _finds_customer(other, "复制读甲")  # after the lag, everyone

    # once the replica has passed the writer's position, the writer reads from it again: held
    # behind once more, a customer someone else writes now is not in the writer's answers yet
    replica_db.on_standby("SELECT pg_wal_replay_pause()")
    new_customer(other, name="复制读乙")
    assert not _finds_customer(writer, "复制读乙")
    assert _finds_customer(other, "复制读乙")


def test_a_hit_the_primary_no_longer_allows_is_not_shown(replica_app, clients, replica_db):
    from tests.factories import make_customer, make_record

    (staff,) = clients("staff")  # 销售一部, clearance 1
    with replica_app.app_context():
        record = make_record(make_customer(name="复制读丙", department="销售一部"), title="复制读丙合同", secrecy=1)
    replica_db.wait_replayed()
    found = staff.get("/api/v1/search", query_string={"q": "复制读丙合同"}).json
    assert [i["record"]["id"] for i in found["items"]] == [record.id]

    replica_db.on_standby("SELECT pg_wal_replay_pause()")
    with replica_app.app_context():
        db.session.get(Record, record.id).secrecy = 3  # above the clerk's clearance, on the primary
        db.session.commit()
    standby = sa.create_engine(replica_db.standby_url(DATABASE))
    try:
        with standby.connect() as conn:  # the replica still offers it to clearance 1 ...
            assert conn.exec_driver_sql(
                f"SELECT secrecy FROM search_records WHERE record_id = {record.id}").scalar() == 1
    finally:
        standby.dispose()
    found = staff.get("/api/v1/search", query_string={"q": "复制读丙合同"}).json
    assert found["items"] == []  # ... and the primary, deciding on the record as it is now, drops it


def test_while_the_replica_is_down_reads_go_to_the_primary(replica_db, tmp_path, tcp_proxy):
    proxy = tcp_proxy("127.0.0.1", replica_db.standby_port)
    read_url = replica_db.url(proxy.port, DATABASE)
    with _built(replica_db, tmp_path, read_url) as application:
        create_users(application)
        writer, other = application.test_client(), application.test_client()
        login(writer, "archivist")
        login(other, "archivist2")
        replica_db.wait_replayed()
        replica_db.on_standby("SELECT pg_wal_replay_pause()")
        link = f'href="/customers/{new_customer(writer, name="复制读丁")["id"]}"'
        assert not _finds_customer(other, "复制读丁")  # through the proxy, from the held-back replica
        proxy.cut()
        # the replica unreachable: the same reads answer from the primary, no error
        assert _finds_customer(other, "复制读丁")
        assert link in other.get("/search", query_string={"q": "复制读丁"}).text


def test_a_read_url_needs_postgresql_on_both_sides(tmp_path):
    env = {"ARCHIVE_DATA_DIR": str(tmp_path), "ARCHIVE_SECRET_KEY": "s", "ARCHIVE_AUDIT_KEY": "a"}
    pg = "postgresql+pg8000://u@h/db"
    assert load_config(env)["DATABASE_READ_URL"] == ""
    assert load_config(env | {"ARCHIVE_DATABASE_URL": pg, "ARCHIVE_DATABASE_READ_URL": pg})["DATABASE_READ_URL"] == pg
    with pytest.raises(ConfigError, match="ARCHIVE_DATABASE_READ_URL needs"):
        load_config(env | {"ARCHIVE_DATABASE_READ_URL": pg})
    with pytest.raises(ConfigError, match="ARCHIVE_DATABASE_READ_URL needs"):
        load_config(env | {"ARCHIVE_DATABASE_URL": pg, "ARCHIVE_DATABASE_READ_URL": "sqlite:///x.db"})


def test_a_failed_replica_is_left_alone_for_a_while_then_asked_again(replica_db, tcp_proxy):
    from sqlalchemy.orm import Session

    from archive_app.replica_reads import RETRY_AFTER_SECONDS, ReadRouter, make_engine

    proxy = tcp_proxy("127.0.0.1", replica_db.standby_port)
    t = [0.0]
    router = ReadRouter(make_engine(replica_db.url(proxy.port, DATABASE)), clock=lambda: t[0])
    primary_engine = sa.create_engine(replica_db.primary_url(DATABASE))
    # a "replica" that is not in recovery (a promoted standby, or the primary named by mistake)
    not_standby = ReadRouter(make_engine(replica_db.primary_url(DATABASE)))
    try:
        with Session(primary_engine) as primary:
            first = router.choose(primary, None)
            assert first.on_replica and first.session is not primary
            ReadRouter.release(first)
            proxy.cut()
            assert router.choose(primary, None).session is primary
            proxy.restore()
            t[0] += RETRY_AFTER_SECONDS - 1  # still left alone, though it is back
            assert router.choose(primary, None).session is primary
            t[0] += 2
            again = router.choose(primary, None)
            assert again.on_replica
            ReadRouter.release(again)
            assert not not_standby.choose(primary, None).on_replica
    finally:
        router.engine.dispose()
        not_standby.engine.dispose()
        primary_engine.dispose()
