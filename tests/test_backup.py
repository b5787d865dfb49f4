"""Backup, backup-verify and restore on both stacks: backup -> restore into an empty database and store ->
byte-identical objects, equal row counts, verify-audit passing, search working; a second backup copies only
new objects; restoring a backup older than a destruction leaves the destroyed record destroyed."""
from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from archive_app.audit.anchors import PREFIX, anchor_head
from archive_app.backup import backups
from archive_app.extensions import db
from archive_app.intake.models import Customer, Record
from archive_app.jobs import run_pending
from archive_app.retention.models import DestructionEntry
from archive_app.wiring import get_index

from .conftest import PG_BASE_URL, make_app
from .helpers import login
from .test_retention import MARKER, NOW, _approved_batch, _everyone, _execute, _req, _users, _visitor_card


@pytest.fixture
def fresh(app, request, tmp_path):
    """Build apps of the same stack over an empty database and an empty store (a wiped machine)."""
    built: list = []
    databases: list[str] = []

    def build():
        n = len(built)
        folder = tmp_path / f"fresh{n}"
        folder.mkdir()
        extra = {"AUDIT_KEY": app.config["AUDIT_KEY"], "DATA_DIR": str(folder / "data")}
        if app.config["STACK"].startswith("sqlite"):
            extra["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{folder / 'restored.db'}"
        else:
            name = f"archive_restore_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            admin.dispose()
            databases.append(name)
            extra["SQLALCHEMY_DATABASE_URI"] = PG_BASE_URL.rsplit("/", 1)[0] + "/" + name
            extra["QUEUE_NAME"] = f"test-{uuid.uuid4().hex[:8]}"
        if app.config["STACK"].endswith("s3"):
            extra["S3_BUCKET"] = f"restore-{uuid.uuid4().hex[:20]}"
        else:
            extra["STORAGE_DIR"] = str(folder / "blobs")
        restored = make_app(app.config["STACK"], folder, request, extra)
        restored.config["STACK"] = app.config["STACK"]
        built.append(restored)
        return restored

    yield build
    for restored in built:
        index = restored.extensions.pop("search_index", None)
        if index is not None:
            index.close()
        with restored.app_context():
            db.session.remove()
            db.engine.dispose()
        restored.extensions["queue"].flush()
    if databases:
        admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in databases:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _contents(store) -> dict[str, bytes]:
    out = {}
    for key in store.keys():
        with store.open(key) as fh:
            out[key] = fh.read()
    return out


def _counts(app) -> dict[str, int]:
    with app.app_context(), db.engine.connect() as conn:
        return {t.name: conn.scalar(select(sa.func.count()).select_from(t)) for t in db.metadata.sorted_tables}


def _anchor(app) -> None:
    with app.app_context():
        assert anchor_head(db.session, app.extensions["blob_store"], datetime.now(UTC)) is not None
        db.session.commit()


def test_backup_restores_byte_for_byte_onto_an_empty_machine(app, client, users, fresh, tmp_path):
    _, rid = _visitor_card(app, client)
    _anchor(app)
    store = app.extensions["blob_store"]
    dest = tmp_path / "backups"
    with app.app_context():
        result = backups.create_backup(db.engine, store, dest, now=datetime.now(UTC))
        keys = [f.object_key for f in db.session.get(Record, rid).files]
    before, counts = _contents(store), _counts(app)
    manifest = backups.read_manifest(dest, result.name)
    # originals, page images and the anchor are in the pool; nothing else of the store was needed
    assert set(manifest["objects"]) == set(before) and any(k.startswith(PREFIX) for k in before)
    assert set(keys) <= set(manifest["objects"]) and len(manifest["objects"]) >= 3
    assert result.copied == len(before) and not result.missing
    assert "审计密钥" in manifest["note"] and not (result.path / "audit_key").exists()
    assert backups.verify_backup(dest).problems == []

    # one flipped bit in the pool is found by backup-verify (CLI exit 1), and restore refuses the backup
    victim = backups.pool_path(dest, manifest["objects"][keys[0]]["sha256"])
    original = victim.read_bytes()
    victim.write_bytes(bytes([original[0] ^ 1]) + original[1:])
    damaged = app.test_cli_runner().invoke(args=["backup-verify", str(dest)])
    assert damaged.exit_code == 1 and "BACKUP DAMAGED: 1" in damaged.output
    victim.write_bytes(original)
    assert app.test_cli_runner().invoke(args=["backup-verify", str(dest)]).exit_code == 0

    target = fresh()
    out = target.test_cli_runner().invoke(args=["restore", str(dest)])
    assert out.exit_code == 0, out.output
    assert "counts and hashes match" in out.output and "audit log intact" in out.output
    # a restored archive refuses to be restored over
    again = target.test_cli_runner().invoke(args=["restore", str(dest)])
    assert again.exit_code != 0 and "target_not_empty" in again.output
    assert _contents(target.extensions["blob_store"]) == before
    restored_counts = _counts(target)
    # the restore adds exactly its own audit entry
    assert restored_counts.pop("audit_log") == counts.pop("audit_log") + 1
    assert restored_counts == counts
    verified = target.test_cli_runner().invoke(args=["verify-audit"])
    assert verified.exit_code == 0 and "audit log intact" in verified.output
    with target.app_context():
        run_pending()  # the queued index rebuild
        assert get_index().search(_req(MARKER), _everyone()).total == 1
        assert db.session.get(Record, rid).status == "filed"


def test_a_second_backup_copies_only_new_objects(app, client, users, tmp_path):
    _visitor_card(app, client)
    store = app.extensions["blob_store"]
    dest = tmp_path / "backups"
    with app.app_context():
        first = backups.create_backup(db.engine, store, dest, now=datetime.now(UTC))
        pool_before = {p for p in (dest / "objects").rglob("*") if p.is_file()}
    _, rid = _visitor_card(app, client, name="陈大文", marker="Secondmarker42")
    with app.app_context():
        new_keys = [f.object_key for f in db.session.get(Record, rid).files]
        new_keys += [k for f in db.session.get(Record, rid).files for p in f.pages for k in (p.thumb_key, p.view_key)
                     if k]
    out = app.test_cli_runner().invoke(args=["backup", str(dest)])
    assert out.exit_code == 0, out.output
    assert "The audit key is NOT in this backup" in out.output
    # "backup NAME written to PATH: N object(s), M new (B bytes)"
    written = re.search(r"backup (\S+) written to .*: (\d+) object\(s\), (\d+) new .*, (\d+) already", out.output)
    # the first backup's objects are taken from its manifest, not read from the store again
    assert int(written.group(4)) == first.objects
    second_name, second_objects, second_copied = written.group(1), int(written.group(2)), int(written.group(3))
    assert len(backups.read_manifest(dest, second_name)["objects"]) == second_objects
    pool_after = {p for p in (dest / "objects").rglob("*") if p.is_file()}
    assert first.copied == first.objects > 0
    assert second_objects == first.objects + len(new_keys)
    assert second_copied == len(new_keys) == len(pool_after - pool_before)
    assert backups.list_backups(dest) == [first.name, second_name]
    assert backups.verify_backup(dest).problems == []


def test_restoring_a_backup_older_than_a_destruction_destroys_the_record_again(app, client, users, fresh, tmp_path):
    cid, rid = _visitor_card(app, client, name="林小红")
    _, other = _visitor_card(app, client, name="陈大文", marker="Keepmarker5521", last_contact="2025-06-01")
    _anchor(app)
    store = app.extensions["blob_store"]
    dest = tmp_path / "backups"
    with app.app_context():
        old = backups.create_backup(db.engine, store, dest, now=NOW - timedelta(hours=1))  # NOW: the destruction
        rec = db.session.get(Record, rid)
        keys = [f.object_key for f in rec.files] + [k for f in rec.files for p in f.pages
                                                    for k in (p.thumb_key, p.view_key) if k]
        assert set(keys) <= set(backups.read_manifest(dest, old.name)["objects"])
        u = _users(users)
        batch = _approved_batch(u, [rid])
        assert _execute(app, u, batch).destroyed == 1
        cert_key = batch.certificate_key
        # the newer backup carries the 销毁清册 that the old one predates
        newer = backups.create_backup(db.engine, store, dest, now=NOW + timedelta(hours=1))
        assert [line["entry"]["record_id"] for line in backups.read_manifest(dest, newer.name)["register"]] == [rid]
    target = fresh()
    out = target.test_cli_runner().invoke(args=["restore", str(dest), "--name", old.name])
    assert out.exit_code == 0, out.output
    code = None
    with target.app_context():
        s = db.session
        restored_store = target.extensions["blob_store"]
        tomb = s.get(Record, rid)
        code = tomb.archival_code
        assert tomb.status == "destroyed" and not tomb.files
        assert not any(restored_store.exists(k) for k in keys)
        [entry] = s.scalars(select(DestructionEntry)).all()
        assert (entry.record_id, entry.executed_by, entry.destroyed_at) == (rid, "archivist", NOW)
        assert s.get(Customer, cid).erased
        assert s.get(Record, other).status == "filed"
        assert restored_store.exists(cert_key)  # the certificate of the batch newer than the backup
        s.rollback()  # SQLite: an open transaction holds the write lock the index rebuild needs
        run_pending()
        assert get_index().search(_req(MARKER), _everyone()).total == 0
        assert get_index().search(_req("Keepmarker5521"), _everyone()).total == 1
    assert f"destroyed again (in the 销毁清册): {code}" in out.output
    verified = target.test_cli_runner().invoke(args=["verify-audit"])
    assert verified.exit_code == 0, verified.output
    # the 销毁清册 says until when the backups still hold it: the old backup, kept 7 nightly runs
    app.config.update(BACKUP_DIR=str(dest), BACKUP_KEEP=7)
    login(client, "archivist")
    page = client.get("/disposal/register").text
    until = backups.backup_time(old.name) + timedelta(days=7)
    assert "备份保留至" in page and until.astimezone(ZoneInfo(app.config["TIMEZONE"])).strftime("%Y-%m-%d") in page
    # once the last backup holding it is pruned, the destroyed record's bytes leave the pool too
    destroyed_shas = {m["sha256"] for k, m in backups.read_manifest(dest, old.name)["objects"].items() if k in keys}
    assert destroyed_shas and all(backups.pool_path(dest, sha).exists() for sha in destroyed_shas)
    assert backups.prune_backups(dest, keep=1) == [old.name]
    assert backups.list_backups(dest) == [newer.name]
    assert not any(backups.pool_path(dest, sha).exists() for sha in destroyed_shas)
    assert backups.verify_backup(dest).problems == []


def test_the_manifest_lists_sha256_and_size_of_every_file(app, client, users, tmp_path):
    _visitor_card(app, client)
    dest = tmp_path / "b"
    with app.app_context():
        result = backups.create_backup(db.engine, app.extensions["blob_store"], dest, now=datetime.now(UTC),
                                       audit_key=app.config["AUDIT_KEY"])
    manifest = json.loads((result.path / "manifest.json").read_text("utf-8"))
    for name, meta in manifest["files"].items():
        data = Path(result.path / name).read_bytes()
        import hashlib

        assert (hashlib.sha256(data).hexdigest(), len(data)) == (meta["sha256"], meta["size"])
    assert manifest["audit_key_included"] and (result.path / "audit_key").stat().st_mode & 0o777 == 0o600
    assert manifest["dialect"] == ("sqlite" if app.config["STACK"].startswith("sqlite") else "postgresql")


def test_the_worker_backs_up_keeps_the_last_n_and_the_admin_page_shows_each_run(app, client, users, tmp_path):
    from archive_app.jobs import scheduled_backup

    _visitor_card(app, client)
    dest = tmp_path / "nightly"
    app.config.update(BACKUP_DIR=str(dest), BACKUP_KEEP=1)
    with app.app_context():
        first = scheduled_backup()
        db.session.commit()
    app.config["CLOCK"] = lambda: datetime.now(UTC) + timedelta(days=1)
    with app.app_context():
        second = scheduled_backup()
        db.session.commit()
    assert first and second and first != second
    assert backups.list_backups(dest) == [second]  # keep the last 1
    # a run that cannot write is recorded as failed, not lost
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    app.config["BACKUP_DIR"] = str(blocker)
    with app.app_context():
        assert scheduled_backup() == ""
        db.session.commit()
    app.config["BACKUP_DIR"] = str(dest)
    login(client, "admin")
    body = client.get("/admin/backups").text
    assert second in body and f"已删除旧备份 {first}" in body and "失败" in body and "备份失败" in body
    client.post("/logout")
    login(client, "archivist")
    assert client.get("/admin/backups").status_code == 403


def test_a_second_run_on_the_same_folder_is_refused_while_one_holds_it(app, client, users, tmp_path):
    import fcntl

    _visitor_card(app, client)
    dest = tmp_path / "busy"
    dest.mkdir()
    with open(dest / backups.LOCK, "a+b") as held:  # another run (the worker's) holds the folder
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with app.app_context():
            run = backups.run_backup(db.session, app.extensions["blob_store"], dest, now=datetime.now(UTC), keep=1)
            db.session.commit()
        assert run.result is None and "另一个备份或恢复正在使用" in run.error
        assert backups.list_backups(dest) == []
    with app.app_context():  # released: the next run goes through
        run = backups.run_backup(db.session, app.extensions["blob_store"], dest, now=datetime.now(UTC), keep=1)
        db.session.commit()
    assert run.result is not None and backups.list_backups(dest) == [run.result.name]
