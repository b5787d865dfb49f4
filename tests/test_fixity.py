"""Fixity: bytes changed in the store are found by `archive fixity-check` and never served again.

The corruption is real: bytes flipped in the file under the fs store's root, or the S3 object
overwritten through the minio client, behind the application's back.
"""
from __future__ import annotations

import hashlib
import io
import os
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from archive_app.audit.models import AuditEntry
from archive_app.clock import utcnow
from archive_app.extensions import db
from archive_app.fixity import checks
from archive_app.fixity.models import FixityResult, FixityRun
from archive_app.intake.models import RecordFile
from archive_app.jobs import check_fixity
from storage.filesystem import FilesystemStore

from .factories import make_customer, make_record
from .helpers import borrow, login


def _read(store, key: str) -> bytes:
    with store.open(key) as fh:
        return fh.read()


def _overwrite(store, key: str, data: bytes) -> None:
    """Replace an object's bytes directly in the backend, as a failing disk or a careless hand would."""
    if isinstance(store, FilesystemStore):
        path = store.root.joinpath(*key.split("/"))
        os.chmod(path, 0o644)
        with open(path, "r+b") as fh:
            fh.write(data)
            fh.truncate()
    else:
        store._client.put_object(store._bucket, key, io.BytesIO(data), len(data))


def _flip(store, key: str, at: int = 200, count: int = 16) -> None:
    data = bytearray(_read(store, key))
    for i in range(at, at + count):
        data[i] ^= 0xFF
    _overwrite(store, key, bytes(data))


def _stored_file(app, **record_fields):
    with app.app_context():
        record = make_record(make_customer(), **record_fields)
        f = record.files[0]
        return record.id, record.archival_code, f.id, f.object_key


def _content_url(record_id: int, file_id: int) -> str:
    return f"/api/v1/records/{record_id}/files/{file_id}/content"


def test_flipped_bytes_found_by_fixity_check_and_download_refused(app, client, users, runner, store):
    record_id, code, file_id, key = _stored_file(app)
    _, other_code, other_file, _ = _stored_file(app)
    clean = runner.invoke(args=["fixity-check", "--all"])
    assert clean.exit_code == 0, clean.output
    assert "2 file(s)" in clean.output and "all checked files intact" in clean.output

    _flip(store, key)
    found = runner.invoke(args=["fixity-check", "--all"])
    assert found.exit_code == 1
    assert f"FAILED {code} file {file_id}" in found.output and "mismatch" in found.output
    assert other_code not in found.output  # the intact record is not named
    with app.app_context():
        result = db.session.get(FixityResult, file_id)
        assert result.status == "mismatch" and db.session.get(FixityResult, other_file).status == "ok"
        run = db.session.scalars(select(FixityRun).order_by(FixityRun.id.desc())).first()
        assert (run.files_checked, run.failures, run.orphans) == (2, 1, 0) and run.finished_at is not None
        audited = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "fixity.check")
                                     .order_by(AuditEntry.seq.desc())).first()
        assert code in audited.details

    login(client, "archivist")
    refused = client.get(_content_url(record_id, file_id))
    assert refused.status_code == 409 and refused.json["error"]["code"] == "fixity_failed"
    assert client.get(f"/records/{record_id}/files/{file_id}").status_code == 409  # the page's download too
    # the record page, the archivist's inbox and the admin page say so
    assert "完整性检测未通过" in client.get(f"/records/{record_id}").text
    assert "1 个文件未通过完整性检测" in client.get("/inbox").text
    page = client.get("/admin/fixity").text
    assert code in page and "内容与登记的 SHA-256 不符" in page
    # the intact file is still served, byte for byte
    with app.app_context():
        other = db.session.get(RecordFile, other_file)
        ok = client.get(_content_url(other.record_id, other.id))
        assert ok.status_code == 200 and hashlib.sha256(ok.data).hexdigest() == other.sha256


def test_download_verifies_before_sending_and_keeps_the_failure(app, client, users, store):
    """No check has run: the download itself finds the change, refuses it, and the flag outlives the refusal."""
    record_id, code, file_id, key = _stored_file(app)
    _flip(store, key)
    login(client, "archivist")
    resp = client.get(_content_url(record_id, file_id))
    assert resp.status_code == 409 and resp.json["error"]["code"] == "fixity_failed"
    with app.app_context():
        assert db.session.get(FixityResult, file_id).status == "mismatch"
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "fixity.failed"))
        assert entry is not None and code in entry.details
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "file.download")) is None


def test_borrower_never_gets_a_watermarked_copy_of_changed_bytes(app, client, users, store):
    record_id, _, file_id, key = _stored_file(app)
    borrow(client, "staff", [record_id])  # an approved 复制 loan: the staff member gets a marked copy
    assert client.get(_content_url(record_id, file_id)).status_code == 200
    _flip(store, key)
    # The copy is marked whole before it is sent, so it is verified whole first, beyond the size limit too.
    app.config["FIXITY_VERIFY_MAX_MB"] = 0
    resp = client.get(_content_url(record_id, file_id))
    assert resp.status_code == 409 and resp.json["error"]["code"] == "fixity_failed"
    with app.app_context():
        assert db.session.get(FixityResult, file_id).status == "mismatch"


def test_worker_checks_the_nightly_share(app, users, store):
    _, code, file_id, key = _stored_file(app)
    _flip(store, key)
    assert "check_fixity" in app.extensions["tasks"]
    with app.app_context():
        assert check_fixity() == 1  # one file stored, a cycle of 30 nights: it is tonight's share
        run = db.session.scalar(select(FixityRun))
        assert (run.trigger, run.scope, run.failures) == ("worker", "cycle", 1)
        assert db.session.get(FixityResult, file_id).status == "mismatch"


def test_large_download_is_cut_off_and_flagged(app, client, users, store):
    """Above ARCHIVE_FIXITY_VERIFY_MAX_MB the bytes stream as they are read: a mismatch fails the transfer."""
    record_id, _, file_id, key = _stored_file(app)
    app.config["FIXITY_VERIFY_MAX_MB"] = 0
    login(client, "archivist")
    intact = client.get(_content_url(record_id, file_id))
    assert intact.status_code == 200  # a matching file streams through the verifying reader unharmed
    with app.app_context():
        assert hashlib.sha256(intact.data).hexdigest() == db.session.get(RecordFile, file_id).sha256
    _flip(store, key)
    with pytest.raises(checks.FixityMismatch):
        client.get(_content_url(record_id, file_id)).get_data()
    with app.app_context():
        assert db.session.get(FixityResult, file_id).status == "mismatch"
    assert client.get(_content_url(record_id, file_id)).status_code == 409


def test_missing_objects_orphans_and_unopenable_files(app, runner, users, store):
    _, gone_code, _, gone_key = _stored_file(app)
    _, broken_code, broken_id, broken_key = _stored_file(app)
    store.destroy(gone_key, bypass_governance=True)  # lost behind the archive's back
    # An object no row points to (e.g. left by a crash between write and commit)...
    store.put("records/C999999/leftover", io.BytesIO(b"%PDF-1.4 leftover"))
    # ...and a file whose bytes still match their digest but no longer open as a PDF.
    junk = b"%PDF-1.4\nnot a pdf any more\n"
    _overwrite(store, broken_key, junk)
    with app.app_context():
        db.session.execute(update(RecordFile).where(RecordFile.id == broken_id)
                           .values(sha256=hashlib.sha256(junk).hexdigest(), size=len(junk)))
        db.session.commit()
    fresh = runner.invoke(args=["fixity-check", "--all"])
    assert fresh.exit_code == 1
    assert f"FAILED {gone_code}" in fresh.output and "missing" in fresh.output
    assert f"FAILED {broken_code}" in fresh.output and "unreadable" in fresh.output
    assert "ORPHAN" not in fresh.output  # younger than the grace: may be an upload in flight
    app.config["CLOCK"] = lambda: utcnow() + timedelta(hours=2)
    later = runner.invoke(args=["fixity-check", "--all"])
    assert "ORPHAN records/C999999/leftover" in later.output and later.exit_code == 1


def test_nightly_share_covers_every_file_within_the_cycle(app, users, store):
    with app.app_context():
        customer = make_customer()
        ids = sorted(make_record(customer).files[0].id for _ in range(5))
        start = utcnow()
        seen: list[int] = []
        for night in range(3):  # ceil(5 / 3) = 2 files a night: all five within three nights
            chosen = checks.choose_files(db.session, "cycle", cycle_days=3)
            assert len(chosen) == 2
            seen += chosen
            report = checks.run_check(db.session, store, now=start + timedelta(days=night), scope="cycle",
                                      cycle_days=3)
            assert report.files == 2 and report.clean
        assert set(seen) == set(ids)
        # a sample takes a percentage, least recently checked first
        oldest = db.session.scalars(select(FixityResult.file_id)
                                    .order_by(FixityResult.checked_at, FixityResult.file_id).limit(2)).all()
        assert checks.choose_files(db.session, "sample", pct=40) == oldest


def test_rate_limit_sleeps_to_the_rate():
    slept: list[float] = []
    now = [0.0]
    throttle = checks.Throttle(rate_mb=10, clock=lambda: now[0], sleep=slept.append)
    throttle(5_000_000)  # 5 MB at 10 MB/s: half a second ahead of the clock
    assert slept == [pytest.approx(0.5)]
    now[0] = 2.0
    throttle(5_000_000)  # 10 MB in 2 s: under the rate, no sleep
    assert len(slept) == 1


def test_a_stale_result_never_reaches_another_records_file(app, client, users, store):
    """SQLite may give a new file the id of a destroyed one: a result found for another record is not its own."""
    record_id, _, file_id, _ = _stored_file(app)
    other_record, _, _, _ = _stored_file(app)
    with app.app_context():
        db.session.add(FixityResult(file_id=file_id, record_id=other_record, checked_at=utcnow(), status="mismatch",
                                    detail="found for a file since destroyed"))
        db.session.commit()
        assert checks.failure_count(db.session) == 0
    login(client, "archivist")
    assert client.get(_content_url(record_id, file_id)).status_code == 200
    assert "完整性检测未通过" not in client.get(f"/records/{record_id}").text


def test_a_run_stopped_by_storage_is_closed_not_left_running(app, users):
    """The store stops answering (an S3 port nobody serves): no file is failed, the run says why it stopped."""
    from storage import StorageError, make_store

    from .s3server import free_port

    _, _, file_id, _ = _stored_file(app)
    dead = make_store({"STORAGE_BACKEND": "s3", "S3_ENDPOINT": f"127.0.0.1:{free_port()}", "S3_ACCESS_KEY": "k",
                       "S3_SECRET_KEY": "secret-key", "S3_BUCKET": "archive", "S3_SECURE": False})
    with app.app_context():
        with pytest.raises(StorageError):
            checks.run_check(db.session, dead, now=utcnow(), scope="all")
        run = db.session.scalar(select(FixityRun))
        assert run.finished_at is not None and "检测中止" in run.problems
        assert db.session.get(FixityResult, file_id) is None
