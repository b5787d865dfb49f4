"""The audit log: what gets written, and `archive verify-audit` catching edits and deletions."""
from __future__ import annotations

import json

from sqlalchemy import select, text

from archive_app.audit.models import AuditEntry
from archive_app.extensions import db

from .helpers import PDF_MIN, login, new_customer, upload


def _entries(app) -> list[AuditEntry]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def _exercise(client) -> dict:
    client.post("/login", data={"username": "archivist", "password": "wrong-password"})
    login(client, "archivist")
    c = new_customer(client)
    client.patch(f"/api/v1/customers/{c['id']}", json={"grade": "B", "phones": "13800000000"})
    rec = upload(client, c["id"], [(PDF_MIN, "a.pdf")]).json
    client.get(f"/customers/{c['id']}")
    client.get(f"/records/{rec['id']}")
    client.get(f"/api/v1/records/{rec['id']}/files/{rec['files'][0]['id']}/content")
    client.post("/logout")
    return rec


def test_events_are_recorded_with_before_and_after(app, client, users):
    _exercise(client)
    entries = _entries(app)
    actions = [e.action for e in entries]
    for expected in ("login.failure", "login.success", "customer.create", "customer.update", "record.create",
                     "file.upload", "customer.view", "record.view", "file.download", "logout"):
        assert expected in actions, expected
    update = next(e for e in entries if e.action == "customer.update")
    changes = json.loads(update.details)["changes"]
    assert changes["grade"] == {"before": None, "after": "B"}
    assert changes["phones"] == {"before": "13912345678", "after": "13800000000"}
    failure = next(e for e in entries if e.action == "login.failure")
    assert failure.actor_id is None and "archivist" in failure.details
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))


def test_verify_audit_passes_then_catches_an_edit(app, client, runner, users):
    _exercise(client)
    ok = runner.invoke(args=["verify-audit"])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET details = :d WHERE action = 'file.download'"), {"d": "{}"})
    bad = runner.invoke(args=["verify-audit"])
    assert bad.exit_code == 1
    assert "changed" in bad.output and "DAMAGED" in bad.output


def test_verify_audit_catches_a_deleted_entry(app, client, runner, users):
    _exercise(client)
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE action = 'login.failure'"))
    bad = runner.invoke(args=["verify-audit"])
    assert bad.exit_code == 1
    assert "missing" in bad.output or "prev_hash" in bad.output


def test_verify_audit_catches_a_deleted_tail(app, client, runner, users):
    _exercise(client)
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)"))
    bad = runner.invoke(args=["verify-audit"])
    assert bad.exit_code == 1 and "missing" in bad.output


def test_audit_page_only_for_admin_and_auditor(app, client, users):
    login(client, "staff")
    assert client.get("/audit").status_code == 403
    client.post("/logout")
    login(client, "auditor")
    page = client.get("/audit")
    assert page.status_code == 200 and "login.success" in page.text
