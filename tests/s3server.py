"""Pytest plugin: a real S3 server (moto's standalone server) over HTTP.

Load it with ``pytest_plugins = ["tests.s3server"]`` in ``tests/conftest.py``
(or ``-p tests.s3server``).  The server process starts only when a test asks
for ``s3_server`` / ``s3_settings`` and lives for the whole session.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

__all__ = ["S3Server", "s3_server", "s3_settings", "free_port"]

#: How long the server gets to start answering before the fixture gives up.
STARTUP_TIMEOUT = 20.0


@dataclass(frozen=True)
class S3Server:
    """Connection details of the running test S3 server."""

    endpoint: str  # "127.0.0.1:PORT", the form S3_ENDPOINT takes
    access_key: str
    secret_key: str
    region: str
    log_path: Path

    @property
    def url(self) -> str:
        """``http://`` URL of the server."""
        return f"http://{self.endpoint}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """Start ``moto.server`` on a free loopback port for the test session."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("s3server") / "moto_server.log"
    env = dict(os.environ)
    # The server is a separate process with its own (unrelated) warnings;
    # pytest's "warnings are errors" must not leak into it via the env.
    env.pop("PYTHONWARNINGS", None)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _port_answers(port):
            if proc.poll() is not None:
                pytest.fail(
                    f"moto S3 server exited with code {proc.returncode} before answering on port {port}:\n"
                    + log_path.read_text(errors="replace")[-4000:],
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"moto S3 server did not answer on 127.0.0.1:{port} within {STARTUP_TIMEOUT:.0f}s:\n"
                    + log_path.read_text(errors="replace")[-4000:],
                    pytrace=False,
                )
            time.sleep(0.1)
        yield S3Server(
            endpoint=f"127.0.0.1:{port}",
            # moto accepts any credentials; fixed values keep runs reproducible.
            access_key="testing-access-key",
            secret_key="testing-secret-key",
            region="us-east-1",
            log_path=log_path,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def s3_settings(s3_server: S3Server) -> dict[str, Any]:
    """``make_store`` settings for the test S3 server, with a fresh bucket per test.

    ``S3_OBJECT_LOCK`` is on so bucket creation with Object Lock (which also
    turns on versioning) is exercised by every S3 test.
    """
    return {
        "STORAGE_BACKEND": "s3",
        "S3_ENDPOINT": s3_server.endpoint,
        "S3_ACCESS_KEY": s3_server.access_key,
        "S3_SECRET_KEY": s3_server.secret_key,
        "S3_BUCKET": f"test-{uuid.uuid4().hex[:24]}",
        "S3_SECURE": False,
        "S3_REGION": s3_server.region,
        "S3_OBJECT_LOCK": True,
    }
