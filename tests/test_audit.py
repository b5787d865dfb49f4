"""The audit log: what gets written, and `archive verify-audit` catching edits and deletions."""
from __future__ import annotations

import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update

from archive_app import jobs
from archive_app.audit import anchors
from archive_app.audit.log import GENESIS, AuditKey, entry_hash, entry_mac, verify_chain
from archive_app.audit.models import AuditEntry, AuditHead
from archive_app.extensions import db
from archive_app.intake import customers
from storage.base import ObjectLocked

from .helpers import PDF_MIN, login, new_customer, upload


def _entries(app) -> list[AuditEntry]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def _exercise(client) -> dict:
    client.post("/login", data={"username": "archivist", "password": "wrong-password"})
    login(client, "archivist")
    c = new_customer(client)
    client.patch(f"/api/v1/customers/{c['id']}", json={"project": "翠湖", "phones": "13800000000", "reason": "更正"})
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
    details = json.loads(update.details)
    assert details["changes"]["project"] == {"before": "", "after": "翠湖"}
    # personal data is kept apart from the chained details (so erasure can blank it), named but not shown there
    assert details["personal_fields"] == ["phones"] and "1380000" not in update.details
    assert update.personal_data["changes"]["phones"] == {"before": "13912345678", "after": "13800000000"}
    create = next(e for e in entries if e.action == "customer.create")
    assert create.personal_data["after"]["name"] == "王小明" and "王小明" not in create.details
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


# ------------------------------------------------------------------- the keyed chain, its anchors, erasure


def _head(app) -> tuple[int, str]:
    with app.app_context():
        head = db.session.get(AuditHead, 1)
        return head.seq, head.last_hash


def _rewrite_from(app, first_seq: int, rehash) -> None:
    """What someone with the database but without the audit key can do: rewrite entries from ``first_seq``
    on, recompute every later hash with ``rehash`` and move the head along."""
    with app.app_context():
        s = db.session
        prev = s.scalar(select(AuditEntry.hash).where(AuditEntry.seq == first_seq - 1)) or GENESIS
        for e in s.scalars(select(AuditEntry).where(AuditEntry.seq >= first_seq).order_by(AuditEntry.seq)):
            e.prev_hash = prev
            e.hash = prev = rehash(e)
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=prev))
        s.commit()


def _unkeyed(e: AuditEntry) -> str:
    # the app's own public SHA-256 rule, as for entries written before the key existed
    e.scheme, e.personal, e.personal_digest = "sha256", None, ""
    return entry_hash(e.prev_hash, e.seq, e.at, e.actor_id, e.actor_name, e.action, e.object_type, e.object_id,
                      e.ip, e.details)


def _other_key(e: AuditEntry) -> str:
    return entry_mac(AuditKey("a key the attacker made up"), e.prev_hash, e.seq, e.at, e.actor_id, e.actor_name,
                     e.action, e.object_type, e.object_id, e.ip, e.details, e.personal_digest)


def test_deleting_the_newest_entries_and_moving_the_head_back_is_caught_by_the_anchor(app, client, runner, users):
    _exercise(client)
    first = runner.invoke(args=["verify-audit"])
    n, _ = _head(app)
    assert first.exit_code == 0 and f"anchored at {n} entries" in first.output, first.output
    keep = n - 3
    with app.app_context():
        s = db.session
        mac = s.scalar(select(AuditEntry.hash).where(AuditEntry.seq == keep))
        s.execute(delete(AuditEntry).where(AuditEntry.seq > keep))
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=keep, last_hash=mac))
        s.commit()
        assert verify_chain(s) == []  # the database alone looks whole: only the anchor knows
    bad = runner.invoke(args=["verify-audit"])
    assert bad.exit_code == 1 and "DAMAGED" in bad.output
    assert f"entries after {keep} were deleted" in bad.output and f"counted {n} entries" in bad.output
    assert _head(app)[0] == keep  # a damaged log is not anchored again


def test_an_edit_recomputed_without_the_key_is_caught(app, client, runner, users):
    _exercise(client)
    assert runner.invoke(args=["verify-audit"]).exit_code == 0
    n, _ = _head(app)
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET details = '{}' WHERE action = 'file.download'"))
        edited = conn.execute(text("SELECT seq FROM audit_log WHERE action = 'file.download'")).scalar()
    # with another key: every MAC from the edit on fails
    _rewrite_from(app, edited, _other_key)
    bad = runner.invoke(args=["verify-audit"])
    assert bad.exit_code == 1
    assert f"entry {edited}: content was changed after it was written" in bad.output
    assert f"entry {n} differs from the anchor" in bad.output


def test_the_whole_log_recomputed_with_the_public_hash_is_caught(app, client, runner, users):
    """Rewritten from the first entry with the old unkeyed SHA-256 rule, the chain is consistent in itself;
    a downgrade after keyed entries is refused, and the anchor's MAC no longer matches."""
    _exercise(client)
    assert runner.invoke(args=["verify-audit"]).exit_code == 0
    n, _ = _head(app)
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET details = '{}' WHERE action = 'file.download'"))
    _rewrite_from(app, 3, _unkeyed)
    bad = runner.invoke(args=["verify-audit"])
    assert bad.exit_code == 1 and "entry 3: written with the old unkeyed rule after keyed entries" in bad.output
    _rewrite_from(app, 1, _unkeyed)
    with app.app_context():
        assert verify_chain(db.session) == []  # an all-unkeyed chain is consistent in itself
    bad = runner.invoke(args=["verify-audit"])
    assert bad.exit_code == 1 and f"entry {n} differs from the anchor" in bad.output


def test_a_forged_anchor_is_reported_and_the_signed_one_still_counts(app, client, runner, users, store):
    _exercise(client)
    assert runner.invoke(args=["verify-audit"]).exit_code == 0
    n, mac = _head(app)
    fake = json.dumps({"seq": n + 50, "mac": mac, "at": "2026-11-25T00:00:00+00:00", "key_id": "0" * 16,
                       "sig": "0" * 64}).encode()
    store.put(anchors.anchor_blob_key(n + 50), io.BytesIO(fake))
    bad = runner.invoke(args=["verify-audit"])
    assert bad.exit_code == 1 and "signed with another audit key" in bad.output
    assert f"newest anchor: {n} entries" in bad.output and "were deleted" not in bad.output


def test_the_periodic_job_anchors_the_head_under_a_lock(app, client, users, store):
    _exercise(client)
    task = app.extensions["tasks"]["anchor_audit"]
    scheduled = task.s().validate_datetime  # every ARCHIVE_AUDIT_ANCHOR_MINUTES (15)
    assert scheduled(datetime(2026, 11, 25, 3, 15)) and not scheduled(datetime(2026, 11, 25, 3, 16))
    with app.app_context():
        jobs.run_pending()  # the upload's extraction and indexing
    n, mac = _head(app)
    with app.app_context():
        task()  # what the consumer does on schedule
        assert jobs.run_pending() == 1
    key = anchors.anchor_blob_key(n)
    with store.open(key) as fh:
        assert json.loads(fh.read())["mac"] == mac
    assert store.retention(key).locked() and store.retention(key).until.year >= 2120
    with pytest.raises(ObjectLocked):
        store.delete(key)
    with app.app_context():
        task()
        jobs.run_pending()
    assert list(store.keys(anchors.PREFIX)) == [key]  # an unchanged head: no second anchor
    if app.config["STACK"] == "sqlite-fs":
        # the embedded default keeps it as a file beside the blobs, not in the database
        assert (Path(app.config["STORAGE_DIR"]) / key).is_file()


def test_erasure_blanks_personal_data_in_the_log_and_verify_audit_accounts_for_it(app, client, runner, users):
    from .test_retention import NOW, _approved_batch, _execute, _users, _visitor_card

    address = "上海市黄浦区南京东路100号"
    cid, rid = _visitor_card(app, client, name="林小红")
    _visitor_card(app, client, name="陈大文", marker="Keepmarker5521", last_contact="2025-06-01")
    with app.app_context():
        u = _users(users)
        customers.update_customer(db.session, u["archivist"], cid, {"address": address, "reason": "更正"}, now=NOW)
        db.session.commit()
        assert address in "".join(e.personal or "" for e in db.session.scalars(select(AuditEntry)))
        batch = _approved_batch(u, [rid])
        _execute(app, u, batch)
        batch_no = batch.batch_no
        entries = list(db.session.scalars(select(AuditEntry)))
        stored = "".join(f"{e.details}{e.personal or ''}" for e in entries)
        assert address not in stored and "林小红" not in stored and "陈大文" in stored
        erase = next(e for e in entries if e.action == "customer.erase")
        blanked = [e.seq for e in entries if e.personal_digest and e.personal is None]
        assert json.loads(erase.details)["personal_erased"] == blanked and len(blanked) == 2
    if app.config["STACK"] == "sqlite-fs":
        db_file = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
        assert address.encode() not in db_file.read_bytes()
    ok = runner.invoke(args=["verify-audit"])
    assert ok.exit_code == 0, ok.output
    assert f"2 entries' personal data erased on 2026-11-25 under destruction {batch_no}" in ok.output
    # a blank no erasure entry lists is refused
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET personal = NULL WHERE action = 'customer.create' "
                          "AND personal LIKE '%陈大文%'"))
    bad = runner.invoke(args=["verify-audit"])
    assert bad.exit_code == 1 and "personal data was removed without an erasure entry" in bad.output


def test_personal_data_edited_in_place_is_caught(app, client, runner, users):
    _exercise(client)
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET personal = replace(personal, '13800000000', '13899999999') "
                          "WHERE action = 'customer.update'"))
    bad = runner.invoke(args=["verify-audit"])
    assert bad.exit_code == 1 and "personal data was changed after it was written" in bad.output


def test_entries_from_before_the_key_keep_verifying_with_the_old_rule(tmp_path, sqlite_template):
    """A database upgraded through 0006 keeps its unkeyed entries; the first keyed one chains onto them."""
    from flask_migrate import downgrade, upgrade

    from archive_app import create_app
    from archive_app.audit.log import record_event, walk_chain

    shutil.copy(sqlite_template, tmp_path / "old.db")
    app = create_app({"SECRET_KEY": "s", "AUDIT_KEY": "k", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/old.db",
                      "DATA_DIR": str(tmp_path), "STORAGE_BACKEND": "fs", "STORAGE_DIR": str(tmp_path / "blobs")})
    migrations = app.extensions["migrate"].directory
    at = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    try:
        with app.app_context():
            downgrade(directory=migrations, revision="0005")
            prev = GENESIS
            with db.engine.begin() as conn:  # what the code before the key wrote
                for seq in (1, 2):
                    h = entry_hash(prev, seq, at, None, "system", "user.create", "user", str(seq), "", "{}")
                    conn.execute(text("INSERT INTO audit_log (seq, at, actor_name, action, object_type, object_id, "
                                      "ip, details, prev_hash, hash) VALUES (:seq, :at, 'system', 'user.create', "
                                      "'user', :oid, '', '{}', :prev, :h)"),
                                 {"seq": seq, "at": at, "oid": str(seq), "prev": prev, "h": h})
                    prev = h
                conn.execute(text("UPDATE audit_head SET seq = 2, last_hash = :h"), {"h": prev})
            upgrade(directory=migrations)
            record_event(db.session, "login.success", actor_name="admin", now=at)
            db.session.commit()
            walk = walk_chain(db.session)
            assert (walk.problems, walk.legacy, walk.keyed) == ([], 2, 1)
            assert db.session.scalar(select(AuditEntry.prev_hash).where(AuditEntry.seq == 3)) == prev
        out = app.test_cli_runner().invoke(args=["verify-audit"])
        assert out.exit_code == 0 and "2 written before the audit key" in out.output, out.output
    finally:
        with app.app_context():
            db.engine.dispose()
