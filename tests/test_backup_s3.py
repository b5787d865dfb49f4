"""Backups into an S3 bucket (a real S3 server: moto's, on loopback), on both stacks: backup -> wipe -> restore
-> byte-identical objects; backup-verify finds one flipped byte; a second backup copies only new objects;
prune keeps N; one run at a time through the lock object, a lapsed lease taken over."""
from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from archive_app.backup import backups
from archive_app.backup.destinations import LOCK, MANIFEST, open_destination
from archive_app.backup.s3_destination import S3Destination
from archive_app.errors import Conflict
from archive_app.extensions import db
from archive_app.intake.models import Record
from archive_app.jobs import run_pending
from archive_app.wiring import get_index

from .test_backup import (
    _anchor,
    _contents,
    _counts,
    fresh,  # noqa: F401 - the fixture, asked for by name below
)
from .test_retention import MARKER, _everyone, _req, _visitor_card


def _point_at_s3(app, s3_server) -> None:
    """The sqlite-fs stack has no S3 of its own: the backup settings name the server. On postgresql-s3
    they stay empty and fall back to the archive's S3 settings (same server, another bucket)."""
    if app.config["STACK"].endswith("s3"):
        return
    app.config.update(BACKUP_S3_ENDPOINT=s3_server.endpoint, BACKUP_S3_ACCESS_KEY=s3_server.access_key,
                      BACKUP_S3_SECRET_KEY=s3_server.secret_key, BACKUP_S3_SECURE=False,
                      BACKUP_S3_REGION=s3_server.region)


@pytest.fixture
def s3_url(app, s3_server) -> str:
    """A backup destination in a bucket of its own, under a prefix."""
    _point_at_s3(app, s3_server)
    return f"s3://backup-{uuid.uuid4().hex[:16]}/archive/nightly"


def _dest(app, url: str) -> S3Destination:
    target = open_destination(url, app.config)
    assert isinstance(target, S3Destination)
    return target


def _new_keys(app, rid: int) -> list[str]:
    with app.app_context():
        files = db.session.get(Record, rid).files
        return [f.object_key for f in files] + [k for f in files for p in f.pages for k in (p.thumb_key, p.view_key)
                                                if k]


def test_backup_to_s3_restores_byte_for_byte_and_verify_finds_a_flipped_byte(app, client, users, request, s3_server,
                                                                            s3_url):
    _, rid = _visitor_card(app, client)
    _anchor(app)
    before, counts = _contents(app.extensions["blob_store"]), _counts(app)  # as the backup copies them
    out = app.test_cli_runner().invoke(args=["backup", s3_url])
    assert out.exit_code == 0, out.output
    assert f"written to {s3_url}/" in out.output
    target = _dest(app, s3_url)
    [name] = backups.list_backups(target)
    manifest = backups.read_manifest(target, name)
    assert set(manifest["objects"]) == set(before)
    assert set(target.pool()) == {m["sha256"] for m in manifest["objects"].values()}

    # one flipped bit in a pool object is found by backup-verify (exit 1), and restore refuses the backup
    victim = target.pool_path(manifest["objects"][_new_keys(app, rid)[0]]["sha256"])
    with target.open(victim) as fh:
        original = fh.read()
    target.write_bytes(victim, bytes([original[0] ^ 1]) + original[1:])
    damaged = app.test_cli_runner().invoke(args=["backup-verify", s3_url])
    assert damaged.exit_code == 1 and "BACKUP DAMAGED: 1" in damaged.output and victim in damaged.output
    restored = request.getfixturevalue("fresh")()  # an empty database and store
    _point_at_s3(restored, s3_server)
    refused = restored.test_cli_runner().invoke(args=["restore", s3_url])
    assert refused.exit_code != 0 and "backup_damaged" in refused.output
    target.write_bytes(victim, original)
    intact = app.test_cli_runner().invoke(args=["backup-verify", s3_url])
    assert intact.exit_code == 0 and "backup intact" in intact.output

    out = restored.test_cli_runner().invoke(args=["restore", s3_url])
    assert out.exit_code == 0, out.output
    assert "counts and hashes match" in out.output and "audit log intact" in out.output
    assert _contents(restored.extensions["blob_store"]) == before
    restored_counts = _counts(restored)
    assert restored_counts.pop("audit_log") == counts.pop("audit_log") + 1  # the restore's own entry
    assert restored_counts == counts
    verified = restored.test_cli_runner().invoke(args=["verify-audit"])
    assert verified.exit_code == 0 and "audit log intact" in verified.output
    with restored.app_context():
        run_pending()  # the queued index rebuild
        assert get_index().search(_req(MARKER), _everyone()).total == 1
    assert not target.exists(LOCK)  # each run let go of the destination


def test_a_second_backup_to_s3_copies_only_new_objects_and_prune_keeps_n(app, client, users, s3_url):
    _visitor_card(app, client)
    store = app.extensions["blob_store"]
    started = datetime.now(UTC)
    with app.app_context():
        first = backups.run_backup(db.session, store, _dest(app, s3_url), now=started).result
        db.session.commit()
    pool_before = set(_dest(app, s3_url).pool())
    assert first.copied == first.objects == len(pool_before) > 0
    _, rid = _visitor_card(app, client, name="陈大文", marker="Secondmarker42")
    new_keys = _new_keys(app, rid)
    with app.app_context():
        second = backups.run_backup(db.session, store, _dest(app, s3_url), now=started + timedelta(days=1)).result
        db.session.commit()
    pool_after = set(_dest(app, s3_url).pool())
    # the first backup's objects come from its manifest; only the new record's are read and sent
    assert second.reused == first.objects and second.copied == len(new_keys) == len(pool_after - pool_before)
    assert second.objects == first.objects + len(new_keys)

    # a run stopped before its manifest left an unfinished backup: ignored, then cleaned by the next run
    target = _dest(app, s3_url)
    target.write_bytes("20200101T000000Z/database.sqlite3", b"half a copy")
    assert backups.list_backups(target) == [first.name, second.name]
    with app.app_context():
        third = backups.run_backup(db.session, store, target, now=started + timedelta(days=2), keep=2)
        db.session.commit()
    assert third.result is not None and third.pruned == [first.name]
    target = _dest(app, s3_url)
    assert target.names() == backups.list_backups(target) == [second.name, third.result.name]
    kept = {m["sha256"] for name in (second.name, third.result.name)
            for m in backups.read_manifest(target, name)["objects"].values()}
    assert set(target.pool()) == kept == pool_after
    with app.app_context():
        last = backups.run_backup(db.session, store, target, now=started + timedelta(days=3), keep=1)
        db.session.commit()
    assert last.pruned == [second.name, third.result.name]
    assert backups.list_backups(_dest(app, s3_url)) == [last.result.name]
    assert backups.verify_backup(_dest(app, s3_url)).problems == []


def test_one_run_at_a_time_holds_an_s3_destination_and_a_lapsed_lease_is_taken_over(app, client, users, s3_url):
    _visitor_card(app, client)
    store = app.extensions["blob_store"]
    holder = _dest(app, s3_url)
    with holder.lock():
        with app.app_context():
            run = backups.run_backup(db.session, store, _dest(app, s3_url), now=datetime.now(UTC), keep=1)
            db.session.commit()
        assert run.result is None and "另一个备份或恢复正在使用" in run.error
        holder.check_lock()  # still ours
        # another writer's lock (a server that ignored the condition): the holder notices before it prunes
        holder.write_bytes(LOCK, json.dumps({"owner": "elsewhere", "expires_at": "2999-01-01T00:00:00+00:00"})
                           .encode())
        with pytest.raises(Conflict) as lost:
            holder.check_lock()
        assert lost.value.code == "backup_lock_lost"
    with holder.open(LOCK) as fh:
        assert json.loads(fh.read())["owner"] == "elsewhere"  # not ours: left alone
    # a killed run's lock, lease lapsed: taken over
    lapsed = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    holder.write_bytes(LOCK, json.dumps({"owner": "dead-host:1:x", "expires_at": lapsed}).encode())
    with app.app_context():
        run = backups.run_backup(db.session, store, _dest(app, s3_url), now=datetime.now(UTC), keep=1)
        db.session.commit()
    assert run.result is not None, run.error
    assert backups.list_backups(holder) == [run.result.name] and holder.exists(f"{run.result.name}/{MANIFEST}")
    assert not holder.exists(LOCK)


def test_an_s3_destination_is_never_the_archive_own_bucket(app, s3_server):
    _point_at_s3(app, s3_server)
    if app.config["STACK"].endswith("s3"):
        out = app.test_cli_runner().invoke(args=["backup", f"s3://{app.config['S3_BUCKET']}/backups"])
        assert out.exit_code != 0 and "backup_dest_invalid" in out.output
    bad = app.test_cli_runner().invoke(args=["backup-verify", "s3:///nobucket"])
    assert bad.exit_code != 0 and "backup_dest_invalid" in bad.output
    assert re.search(r"s3://存储桶/前缀", bad.output)
