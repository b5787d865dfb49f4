"""Two web nodes, one archive: any node answers any request (issue 16, "past one machine").

Two real `archive serve` processes (gunicorn, `--no-worker`) on two ports, each with a data dir of
its own (nothing shared on disk) and ARCHIVE_STATELESS on, over ONE PostgreSQL database, ONE S3
store (the moto server) and ONE Redis queue, as docker-compose runs app1 and app2 behind the proxy.
What one node does, the other sees: the session cookie, the failed log-ins the throttle counts, an
upload, a register held between its check and its import, the page images the worker derives.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from flask import Flask

from archive_app import create_app
from archive_app.extensions import db
from archive_app.jobs import run_pending
from archive_app.registers import headers
from tests.browser_support import _archive_script
from tests.conftest import PASSWORD, REDIS_URL, _truncate_all, create_users
from tests.generated import pdfs
from tests.generated.registers import customer_register, to_csv
from tests.s3server import free_port

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 30.0
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Cluster:
    """The two nodes' base URLs and the settings they share (for the worker the test runs)."""

    a: str
    b: str
    env: dict[str, str] = field(repr=False)
    data_dirs: tuple[Path, Path]
    logs: tuple[Path, Path]
    root: Path
    worker: Flask = field(repr=False)


def _direct() -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # the nodes are local: no configured HTTP proxy in between
    return http


def _answers(url: str) -> bool:
    try:
        return _direct().get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, s3_server, pg_url) -> Iterator[Cluster]:
    """The two nodes over this session's PostgreSQL database (conftest's, migrated; emptied after),
    a bucket and a queue of their own."""
    root = tmp_path_factory.mktemp("twonodes")
    shared = {
        "ARCHIVE_STATELESS": "true",
        "ARCHIVE_SECRET_KEY": "two-nodes-secret", "ARCHIVE_AUDIT_KEY": "two-nodes-audit",
        "ARCHIVE_DATABASE_URL": pg_url,
        "ARCHIVE_STORAGE_BACKEND": "s3", "ARCHIVE_S3_ENDPOINT": s3_server.endpoint,
        "ARCHIVE_S3_ACCESS_KEY": s3_server.access_key, "ARCHIVE_S3_SECRET_KEY": s3_server.secret_key,
        "ARCHIVE_S3_BUCKET": f"twonodes-{uuid.uuid4().hex[:16]}", "ARCHIVE_S3_SECURE": "false",
        "ARCHIVE_S3_OBJECT_LOCK": "true",
        "ARCHIVE_QUEUE_BACKEND": "redis", "ARCHIVE_REDIS_URL": REDIS_URL,
        "ARCHIVE_QUEUE_NAME": f"twonodes-{uuid.uuid4().hex[:8]}",
        "ARCHIVE_TIMEZONE": "Asia/Shanghai",
    }
    # The users and the bucket are made in this process, with the nodes' very settings.
    setup = create_app({"DATA_DIR": str(root / "setup"), **_as_config(shared)})
    list(setup.extensions["blob_store"].keys("records/"))  # creates the object-locked bucket

    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    base_env |= {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "NO_PROXY": "127.0.0.1,localhost",
                 "no_proxy": "127.0.0.1,localhost"} | shared
    archive = _archive_script()
    procs, urls, dirs, logs = [], [], [], []
    try:
        for node in ("a", "b"):
            data_dir, log = root / f"node-{node}", root / f"node-{node}.log"
            port = free_port()
            with open(log, "wb") as out:
                procs.append(subprocess.Popen(
                    [archive, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                     "--threads", "4", "--no-worker"],
                    env=base_env | {"ARCHIVE_DATA_DIR": str(data_dir)}, cwd=root, stdout=out,
                    stderr=subprocess.STDOUT))
            urls.append(f"http://127.0.0.1:{port}")
            dirs.append(data_dir)
            logs.append(log)
        create_users(setup)  # while the nodes start
        setup.extensions["queue"].flush()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        for proc, url, log in zip(procs, urls, logs, strict=True):
            while not _answers(f"{url}/login"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"node {url} did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.1)
        yield Cluster(a=urls[0], b=urls[1], env=base_env, data_dirs=(dirs[0], dirs[1]), logs=(logs[0], logs[1]),
                      root=root, worker=setup)
    finally:
        setup.extensions["queue"].flush()
        for proc in procs:
            proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: no wait on kept-alive connections
        for proc in procs:
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:  # its workers are gone; the master idles seconds more
                proc.kill()
                proc.wait(timeout=5)
        _truncate_all(setup)  # the next module's tests start from empty tables


def _as_config(env: dict[str, str]) -> dict:
    from archive_app.config import SETTINGS

    by_env = {s.env: s for s in SETTINGS}
    return {by_env[k].key: by_env[k].parse(v) for k, v in env.items()}


class Browser:
    """One user agent whose requests the test sends to either node, as a load balancer would."""

    def __init__(self) -> None:
        self.http = _direct()

    def get(self, url: str, **kw) -> requests.Response:
        return self.http.get(url, allow_redirects=False, timeout=30, **kw)

    def post(self, url: str, **kw) -> requests.Response:
        return self.http.post(url, allow_redirects=False, timeout=30, **kw)

    def csrf(self, node: str, path: str = "/login") -> str:
        page = self.get(node + path)
        assert page.status_code == 200, page.text
        return CSRF.search(page.text).group(1)

    def log_in(self, node: str, username: str, password: str = PASSWORD, token: str | None = None):
        return self.post(node + "/login", data={"csrf_token": token or self.csrf(node), "username": username,
                                                "password": password})


def _signed_in(cluster: Cluster, username: str) -> Browser:
    agent = Browser()
    assert agent.log_in(cluster.a, username).status_code == 302
    return agent


def test_a_session_begun_on_one_node_is_honoured_and_ended_on_the_other(cluster: Cluster):
    agent = Browser()
    token = agent.csrf(cluster.b)  # the form from B, posted to A: one key signs the CSRF token on both
    done = agent.log_in(cluster.a, "archivist", token=token)
    assert done.status_code == 302, done.text
    desk = agent.get(cluster.b + "/")
    assert desk.status_code == 200 and "工作台" in desk.text
    copied = dict(agent.http.cookies)
    # logging out on B ends the session everywhere: a copy of the cookie is refused by A
    assert agent.post(cluster.b + "/logout", data={"csrf_token": CSRF.search(desk.text).group(1)}).status_code == 302
    replay = _direct().get(cluster.a + "/", cookies=copied, allow_redirects=False, timeout=30)
    assert replay.status_code == 302 and "/login" in replay.headers["Location"]


def test_failed_log_ins_on_both_nodes_add_up_to_one_throttle(cluster: Cluster):
    agent = Browser()
    token = agent.csrf(cluster.a)
    for node in (cluster.a, cluster.b, cluster.a, cluster.b, cluster.a):  # five wrong passwords, spread
        wrong = agent.log_in(node, "auditor", "wrong-password", token)
        assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    sixth = agent.log_in(cluster.b, "auditor", "wrong-password", token)
    assert sixth.status_code == 429 and re.search(r"登录失败次数过多，请 \d+ 秒后再试", sixth.text)
    # the right password is not even checked on the other node while the delay lasts
    assert agent.log_in(cluster.a, "auditor", PASSWORD, token).status_code == 429


def test_an_upload_through_one_node_is_served_by_the_other_and_its_page_images_too(cluster: Cluster):
    agent = _signed_in(cluster, "archivist")
    headers = {"X-CSRFToken": agent.csrf(cluster.a, "/")}
    customer = agent.post(cluster.a + "/api/v1/customers", headers=headers,
                          json={"name": "两节点", "phones": "13911112222", "business_type": "购房",
                                "department": "销售一部"})
    assert customer.status_code == 201, customer.text
    contract = pdfs.text_pdf(marker="two-nodes")
    sent = agent.post(f"{cluster.a}/api/v1/customers/{customer.json()['id']}/records", headers=headers,
                      data={"record_type": "购房合同", "secrecy": "1"},
                      files=[("files", ("合同.pdf", contract, "application/pdf"))])
    assert sent.status_code == 201, sent.text
    record, file_id = sent.json()["id"], sent.json()["files"][0]["id"]
    got = agent.get(f"{cluster.b}/api/v1/records/{record}/files/{file_id}/content")
    assert got.status_code == 200 and got.content == contract
    # the spool the upload went through was removed within the request: A's disk keeps nothing of it
    assert [p for p in cluster.data_dirs[0].rglob("*") if p.is_file()] == []
    # the worker (this test's process: a third machine with a data dir of its own) takes the job off the
    # shared queue and derives the page images into the store
    with cluster.worker.app_context():
        assert run_pending() >= 1
        db.session.remove()
    for node, kind in ((cluster.a, "thumb"), (cluster.b, "image"), (cluster.b, "thumb")):
        image = agent.get(f"{node}/records/{record}/files/{file_id}/pages/1/{kind}")
        assert image.status_code == 200, (node, kind, image.text[:300])
        assert image.headers["Content-Type"] == "image/jpeg" and image.content[:2] == b"\xff\xd8"


def test_a_register_checked_on_one_node_is_imported_on_the_other(cluster: Cluster):
    agent = _signed_in(cluster, "archivist")
    rows = customer_register(3)
    checked = agent.post(cluster.a + "/registers/import",
                         data={"csrf_token": agent.csrf(cluster.a, "/registers/import")},
                         files={"file": ("客户登记表.csv", to_csv(rows), "text/csv")})
    assert checked.status_code == 200, checked.text[:500]
    token = re.search(r'action="/registers/import/([0-9a-f]{32})"', checked.text).group(1)
    mapping = {f"col_{i}": f or "" for i, f in enumerate(headers.mapping_for(rows[1]))}
    columns = str(len(rows[1]))
    done = agent.post(f"{cluster.b}/registers/import/{token}", data={
        "csrf_token": CSRF.search(checked.text).group(1), "filename": "客户登记表.csv", "columns": columns,
        **mapping, "do": "run", "skip_errors": "1"})
    assert done.status_code == 302, done.text[:1000]
    report = agent.get(cluster.a + done.headers["Location"])
    assert report.status_code == 200, report.text[:500]
    assert "客户登记表.csv" in report.text and "3 户客户" in report.text
    # neither node kept a file of it (nor of anything before): what a request needs is in the shared services
    for data_dir in cluster.data_dirs:
        assert [p for p in data_dir.rglob("*") if p.is_file()] == []
