"""The log-in throttle holds across gunicorn workers: a real `archive serve` with two workers.

How the test knows which worker answered, without adding anything to production: gunicorn's
workers share one listening socket and whichever calls accept() first takes a connection, so the
test pauses one worker with SIGSTOP (a stopped process cannot accept) and sends every request on a
new connection. The five wrong passwords are therefore all answered by worker B while A is
stopped; then B is stopped and A resumed, so the sixth attempt can only be answered by A, which has
never seen a failure of that account in its own memory. The workers are the children of the
`archive serve` process (gunicorn's master; `--no-worker` keeps the job worker out of the way),
read from /proc.
"""
from __future__ import annotations

import os
import re
import signal
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.browser_support import ADMIN_PASSWORD, ArchiveServer, running_archive
from tests.conftest import PG_BASE_URL

STARTUP_WAIT = 20.0


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArchiveServer]:
    """The embedded default (SQLite), and the production database in a PostgreSQL database of its own."""
    with _database(request.param) as settings, \
            running_archive(tmp_path_factory.mktemp("workers"), "--workers", "2", "--threads", "8", "--no-worker",
                            settings=settings) as srv:
        yield srv


@contextmanager
def _database(kind: str) -> Iterator[dict[str, str]]:
    if kind == "sqlite":
        yield {}
        return
    name = f"archive_workers_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield {"ARCHIVE_DATABASE_URL": PG_BASE_URL.rsplit("/", 1)[0] + "/" + name}  # `archive init` migrates it
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces; the parent pid is the second field after it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def _state(pid: int) -> str:
    return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]


def _gunicorn_workers(server: ArchiveServer) -> list[int]:
    deadline = time.monotonic() + STARTUP_WAIT
    while len(workers := _children(server.pid)) != 2:
        if time.monotonic() > deadline:
            pytest.fail(f"expected 2 gunicorn workers under {server.pid}, found {workers}")
        time.sleep(0.1)
    return workers


@contextmanager
def _stopped(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        # The signal is delivered asynchronously: wait until the process is really stopped.
        deadline = time.monotonic() + 5
        while _state(pid) != "T":
            assert time.monotonic() < deadline, f"worker {pid} did not stop"
            time.sleep(0.01)
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


class Browser:
    """One user agent: its own cookies, a new connection per request (urllib sends Connection: close)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                   urllib.request.HTTPCookieProcessor(CookieJar()),
                                                   _NoRedirect())

    def _open(self, path: str, data: dict | None = None) -> tuple[int, dict, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self._opener.open(self.base_url + path, data=body, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read().decode()

    def csrf(self) -> str:
        status, _, html = self._open("/login")
        assert status == 200
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    def log_in(self, username: str, password: str, token: str | None = None) -> tuple[int, dict, str]:
        return self._open("/login", {"csrf_token": token or self.csrf(), "username": username, "password": password})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_the_sixth_wrong_password_is_delayed_by_the_other_worker(server: ArchiveServer):
    a, b = _gunicorn_workers(server)
    agent = Browser(server.url)
    with _stopped(a):  # only B can answer
        token = agent.csrf()
        for _ in range(5):
            status, _, html = agent.log_in("admin", "wrong-password", token)
            assert status == 401 and "用户名或密码错误" in html
    with _stopped(b):  # only A can answer
        status, headers, html = agent.log_in("admin", "wrong-password", token)
        assert status == 429, html
        assert re.search(r"登录失败次数过多，请 \d+ 秒后再试", html)
        assert 0 < int(headers["Retry-After"]) <= 30
        # The right password is not even checked while the delay lasts.
        status, _, _ = agent.log_in("admin", ADMIN_PASSWORD, token)
        assert status == 429
    assert _children(server.pid) == [a, b]  # both workers are alive: nobody was restarted


def test_a_parallel_burst_is_counted_before_any_password_is_checked(server: ArchiveServer):
    """16 guesses at once, over both workers' 16 threads: only the first five by arrival are checked."""
    _gunicorn_workers(server)
    agents = [Browser(server.url) for _ in range(16)]
    tokens = [agent.csrf() for agent in agents]
    start = threading.Barrier(len(agents))
    statuses: list[int] = []

    def guess(agent: Browser, token: str) -> None:
        start.wait()
        statuses.append(agent.log_in("burst-target", "guess", token)[0])

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(agents, tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [401] * 5 + [429] * 11
