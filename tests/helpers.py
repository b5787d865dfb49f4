"""Helpers for tests that drive the app through HTTP."""
from __future__ import annotations

import io
import os
from typing import Any

from flask.testing import FlaskClient

from .conftest import PASSWORD


def login(client: FlaskClient, username: str) -> None:
    resp = client.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 302, resp.text


def new_customer(client: FlaskClient, **fields: Any) -> dict:
    body = {"name": "王小明", "phones": "13912345678", "business_type": "购房", "department": "销售一部"} | fields
    resp = client.post("/api/v1/customers", json=body, headers=_csrf_headers(client))
    assert resp.status_code == 201, resp.json
    return resp.json


def upload(client: FlaskClient, customer_id: int, files: list[tuple[bytes, str]], **fields: Any):
    data: dict[str, Any] = {"record_type": "购房合同", "secrecy": "1"} | {k: str(v) for k, v in fields.items()}
    data["files"] = [(io.BytesIO(content), name) for content, name in files]
    return client.post(f"/api/v1/customers/{customer_id}/records", data=data, content_type="multipart/form-data",
                       headers=_csrf_headers(client))


def _csrf_headers(client: FlaskClient) -> dict[str, str]:
    # Tests run with WTF_CSRF_ENABLED off unless they test CSRF itself; send nothing then.
    return {}


def make_pdf(pages: int = 1, marker: str = "") -> bytes:
    """A real PDF with blank pages; ``marker`` makes its bytes (and SHA-256) unique."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if marker:
        writer.add_metadata({"/Subject": marker})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


PDF_MIN = make_pdf()


def tiny_png(seed: int = 0) -> bytes:
    """A real PNG image, different for each seed."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (seed % 256, 10, 20)).save(buf, format="PNG")
    return buf.getvalue()


def truncated_png() -> bytes:
    """A PNG with a valid header and half its pixel data: accepted at upload, unreadable later."""
    from .generated.hostile import truncated_png as made

    return made()


def borrow(client: FlaskClient, username: str, record_ids: list[int], kind: str = "download",
           approvers: tuple[str, ...] = ("head", "gm"), purpose: str = "核对合同") -> dict:
    """``username`` asks to borrow the records, each approver approves in turn; ends logged in as ``username``.

    Downloads always need the department head and the general manager; a view of 内部 records
    needs the head only (pass ``approvers=("head",)``).
    """
    login(client, username)
    resp = client.post("/api/v1/loans", json={"kind": kind, "purpose": purpose, "record_ids": record_ids},
                       headers=_csrf_headers(client))
    assert resp.status_code == 201, resp.json
    loan = resp.json
    client.post("/logout")
    for approver in approvers:
        login(client, approver)
        resp = client.post(f"/api/v1/loans/{loan['id']}/approve", headers=_csrf_headers(client))
        assert resp.status_code == 200, resp.json
        loan = resp.json
        client.post("/logout")
    assert loan["status"] == "approved", loan
    login(client, username)
    return loan


def worker_env(app, **extra: str) -> dict[str, str]:
    """The environment of an `archive` subprocess (a worker) that builds the same app as ``app``: every
    setting it holds, as its ARCHIVE_* variable; ``extra`` adds or replaces variables."""
    from archive_app.config import SETTINGS

    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    for s in SETTINGS:
        value = app.config.get(s.key)
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (set, frozenset)):
            value = ",".join(sorted(value))
        env[s.env] = str(value)
    env.update(extra)
    return env


def embedded_archive(data_dir: str, **config: Any):
    """An app on the embedded default in ``data_dir`` (SQLite, file store, SQLite queue; migrated)
    with an archivist signed in on its test client: ``(app, client)``. For the benches that drive a
    real worker (bench/lease_recovery.py, bench/worker_memory.py)."""
    from archive_app import create_app
    from archive_app.accounts import users
    from archive_app.commands import upgrade_database
    from archive_app.extensions import db

    app = create_app({"SECRET_KEY": "bench", "AUDIT_KEY": "bench", "TESTING": True, "WTF_CSRF_ENABLED": False,
                      "DATA_DIR": data_dir} | config)
    with app.app_context():
        upgrade_database()
        users.create_user(db.session, username="archivist", password=PASSWORD, role="archivist",
                          display_name="档案员", department="档案室")
        db.session.commit()
    client = app.test_client()
    login(client, "archivist")
    return app, client
