"""A throw-away PostgreSQL primary and a hot standby streaming from it, started by the tests.

The shared server on 5432 is never touched: ``initdb`` makes a primary in a temporary folder on a
free port (wal_level=replica, replication allowed by trust from 127.0.0.1, no Unix socket),
``pg_basebackup -R`` copies it into a standby that streams from it (hot_standby on) on another
port. PostgreSQL refuses to run as root: then both run as the ``postgres`` OS user (or
ARCHIVE_TEST_PG_OS_USER), which owns the folder. Durability is switched off (fsync, full page
writes): the clusters live for one test session. Both start in about two seconds and are stopped
and removed at the end.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa


def _server_bin() -> Path:
    """Where initdb and pg_ctl are: ARCHIVE_TEST_PG_BIN, else beside an initdb on the PATH, else Debian's
    newest /usr/lib/postgresql/<version>/bin (the postgresql package keeps them off the PATH)."""
    if os.environ.get("ARCHIVE_TEST_PG_BIN"):
        return Path(os.environ["ARCHIVE_TEST_PG_BIN"])
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return debian[-1].parent if debian else Path("/usr/local/bin")


PG_BIN = _server_bin()
PG_BASEBACKUP = os.environ.get("ARCHIVE_TEST_PG_BASEBACKUP", shutil.which("pg_basebackup") or "/usr/bin/pg_basebackup")
OS_USER = os.environ.get("ARCHIVE_TEST_PG_OS_USER", "postgres")

__all__ = ["ReplicaPair", "replica_pair"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ReplicaPair:
    """A running primary and its standby: URLs (database ``postgres``) and their folders."""

    root: Path
    primary_port: int
    standby_port: int

    def url(self, port: int, database: str = "postgres") -> str:
        return f"postgresql+pg8000://postgres@127.0.0.1:{port}/{database}"

    def primary_url(self, database: str = "postgres") -> str:
        return self.url(self.primary_port, database)

    def standby_url(self, database: str = "postgres") -> str:
        return self.url(self.standby_port, database)

    def wait_replayed(self, timeout: float = 10.0) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        primary, standby = sa.create_engine(self.primary_url()), sa.create_engine(self.standby_url())
        try:
            with primary.connect() as conn:
                target = conn.exec_driver_sql("SELECT CAST(pg_current_wal_insert_lsn() AS text)").scalar()
            deadline = time.monotonic() + timeout
            with standby.connect() as conn:
                while not conn.exec_driver_sql(
                        f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn").scalar():
                    conn.rollback()
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"standby did not replay up to {target}")
                    time.sleep(0.02)
        finally:
            primary.dispose()
            standby.dispose()

    def on_standby(self, sql: str) -> object:
        """Run one statement on the standby's ``postgres`` database (e.g. pg_wal_replay_pause())."""
        engine = sa.create_engine(self.standby_url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                return conn.exec_driver_sql(sql).scalar()
        finally:
            engine.dispose()


def _as_server_user(args: list[str], log: Path) -> None:
    prefix = ["runuser", "-u", OS_USER, "--"] if os.geteuid() == 0 else []
    with open(log, "ab") as out:
        subprocess.run(prefix + args, check=True, stdout=out, stderr=subprocess.STDOUT, timeout=60)


def start_pair() -> ReplicaPair:
    """initdb a primary, start it, copy it with pg_basebackup -R into a standby, start that."""
    root = Path(tempfile.mkdtemp(prefix="archive-replica-"))
    if os.geteuid() == 0:
        shutil.chown(root, OS_USER)
    pair = ReplicaPair(root, _free_port(), _free_port())
    log = root / "setup.log"
    primary, standby = root / "primary", root / "standby"
    try:
        _as_server_user([str(PG_BIN / "initdb"), "-D", str(primary), "-U", "postgres", "-A", "trust", "--no-sync",
                         "-E", "UTF8", "--locale=C.UTF-8"], log)
        with open(primary / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {pair.primary_port}\n"
                       "unix_socket_directories = ''\nwal_level = replica\nmax_wal_senders = 4\n"
                       "fsync = off\nfull_page_writes = off\nshared_buffers = 16MB\n")
        with open(primary / "pg_hba.conf", "a") as hba:
            hba.write("\nhost replication all 127.0.0.1/32 trust\n")
        _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(primary), "-l", str(root / "primary.log"), "-w",
                         "start"], log)
        _as_server_user([PG_BASEBACKUP, "-h", "127.0.0.1", "-p", str(pair.primary_port), "-U", "postgres",
                         "-D", str(standby), "-R", "-X", "stream", "-c", "fast", "--no-sync"], log)
        with open(standby / "postgresql.conf", "a") as conf:
            # later lines win: the standby's own port; feedback keeps the primary from
            # vacuuming rows a standby query still reads
            conf.write(f"\nport = {pair.standby_port}\nhot_standby = on\nhot_standby_feedback = on\n")
        _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(standby), "-l", str(root / "standby.log"), "-w",
                         "start"], log)
    except BaseException:
        stop_pair(pair)
        raise
    return pair


def stop_pair(pair: ReplicaPair) -> None:
    """Stop both servers (immediately: nothing in them is kept) and remove their folder."""
    for name in ("standby", "primary"):
        if (pair.root / name / "postmaster.pid").exists():
            try:
                _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(pair.root / name), "-m", "immediate", "-w",
                                 "stop"], pair.root / "setup.log")
            except subprocess.SubprocessError:
                pass
    shutil.rmtree(pair.root, ignore_errors=True)


@pytest.fixture(scope="session")
def replica_pair() -> Iterator[ReplicaPair]:
    """A primary and its streaming standby for this test session."""
    pair = start_pair()
    try:
        yield pair
    finally:
        stop_pair(pair)
