"""Storage and database faults met for real: a storage line cut mid-upload, a database connection cut.

Both go through ``tcp_proxy`` (tests/tcpproxy.py), a TCP proxy the test starts between the app and
the real server (the moto S3 server, PostgreSQL) and cuts.
"""
from __future__ import annotations

import io
import os
from datetime import datetime, timezone

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from archive_app.extensions import db
from archive_app.intake.models import Customer, Record, RecordFile
from storage import make_store
from storage.minio_store import PART_SIZE

from .conftest import make_app
from .helpers import login, new_customer

MiB = 1024 * 1024


def _noise_png(size_mb: int) -> bytes:
    """A real PNG of random pixels (incompressible, so the file really is ``size_mb`` MB)."""
    side = int((size_mb * MiB / 3) ** 0.5)
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count(Record.id))),
                db.session.scalar(select(func.count(RecordFile.id))))


def test_storage_cut_mid_upload_leaves_a_multipart_upload_that_sweep_orphans_aborts(
        tmp_path, request, tcp_proxy, users_factory, s3_server):
    host, port = s3_server.endpoint.split(":")
    # The line to S3 dies in the middle of the upload's second 16 MiB part.
    proxy = tcp_proxy(host, int(port), cut_after_bytes=PART_SIZE + 2 * MiB)
    app = make_app("postgresql-s3", tmp_path, request, {"S3_ENDPOINT": proxy.endpoint})
    users_factory(app)
    client = app.test_client()
    login(client, "archivist")
    c = new_customer(client)

    # Encoded here, in memory: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart({"record_type": "购房合同", "secrecy": "1",
                                       "files": FileStorage(io.BytesIO(_noise_png(24)), "scan.png")})
    resp = client.post(f"/api/v1/customers/{c['id']}/records", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")
    assert resp.status_code == 503
    assert resp.json["error"]["code"] == "storage_unavailable"
    assert _counts(app) == (0, 0)
    # What the outage left, seen past the proxy: parts in the bucket that no object listing shows.
    direct = make_store({**{k: app.config[k] for k in ("STORAGE_BACKEND", "S3_ACCESS_KEY", "S3_SECRET_KEY",
                                                        "S3_BUCKET", "S3_SECURE", "S3_REGION")},
                         "S3_ENDPOINT": s3_server.endpoint})
    left = direct.abandoned_uploads(datetime.now(timezone.utc))
    assert [u.key.startswith(f"records/C{c['id']:06d}/") for u in left] == [True]
    assert list(direct.keys("")) == []

    proxy.restore()
    result = app.test_cli_runner().invoke(args=["sweep-orphans"])
    assert result.exit_code == 0, result.output
    assert f"aborted unfinished upload {left[0].key}" in result.output
    assert "0 orphan blob(s) removed; 1 unfinished upload(s) aborted" in result.output
    assert direct.abandoned_uploads(datetime.now(timezone.utc)) == []
    assert direct.client._list_multipart_uploads(direct.bucket).uploads == []


def test_database_cut_answers_503_without_the_database_and_service_resumes(
        tmp_path, request, tcp_proxy, users_factory, pg_url):
    url = make_url(pg_url)
    proxy = tcp_proxy(url.host, url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    # The file store: the store plays no part here, and the S3 stack's upload path is tested above.
    app = make_app("postgresql-fs", tmp_path, request, {"SQLALCHEMY_DATABASE_URI": proxied})
    users_factory(app)
    client = app.test_client()
    login(client, "archivist")
    c = new_customer(client)
    page = f"/customers/{c['id']}"
    assert client.get("/api/v1/customers").status_code == 200
    assert client.get(page).status_code == 200

    proxy.cut()
    try:
        api = client.get("/api/v1/customers")
        assert api.status_code == 503
        assert api.json["error"]["code"] == "database_unavailable"
        assert api.headers["Retry-After"] == "30"
        for resp in (client.get(page), app.test_client().post("/login", data={"username": "archivist",
                                                                                "password": "x"})):
            assert resp.status_code == 503
            assert resp.mimetype == "text/html"
            assert "数据库暂时无法连接" in resp.text and "database_unavailable" in resp.text
            assert "Internal Server Error" not in resp.text
            assert resp.headers["Retry-After"] == "30"
        write = client.post("/api/v1/customers", json={"name": "李四", "phones": "13800000000",
                                                       "business_type": "购房", "department": "销售一部"})
        assert write.status_code == 503
    finally:
        proxy.restore()

    # The same app, not restarted: the pool finds the database back by itself.
    again = client.get("/api/v1/customers")
    assert again.status_code == 200
    assert client.get(page).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(Customer.id))) == 1  # the write during the cut left nothing


@pytest.mark.parametrize("stack", ["sqlite-fs", "postgresql-s3"])
def test_exhausted_connection_pool_answers_503_then_serves(stack, request, tmp_path, users_factory):
    """Every connection taken (a real pool of one, held): a wait past pool_timeout is an outage too."""
    small = make_app(stack, tmp_path, request, {"SQLALCHEMY_ENGINE_OPTIONS": {
        "pool_pre_ping": True, "pool_size": 1, "max_overflow": 0, "pool_timeout": 0.2}})
    users_factory(small)
    client = small.test_client()
    login(client, "archivist")
    with small.app_context():
        held = db.engine.connect()
        try:
            resp = client.get("/api/v1/customers")
        finally:
            held.close()
    assert resp.status_code == 503
    assert resp.json["error"]["code"] == "database_unavailable"
    assert client.get("/api/v1/customers").status_code == 200
