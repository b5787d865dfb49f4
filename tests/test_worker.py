"""The real thing: `archive worker` processes on the Redis queue read uploads while the app serves."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from archive_app.clock import utcnow
from archive_app.extensions import db
from archive_app.intake.models import RecordFile
from archive_app.jobs import requeue_stale, run_pending

from .conftest import make_app
from .generated import images as gi
from .helpers import login, new_customer, truncated_png, upload, worker_env

ARCHIVE = str(Path(sys.executable).with_name("archive"))


def _statuses(client, records) -> dict[int, dict]:
    return {r["id"]: client.get(f"/api/v1/records/{r['id']}/status").json for r in records}


def test_worker_processes_on_redis(tmp_path, request, users_factory):
    app = make_app("postgresql-fs", tmp_path, request)
    users_factory(app)
    client = app.test_client()
    login(client, "archivist")
    c = new_customer(client, name="覃小雨")
    # two small photos of a printed line (other grain, other bytes)
    good = [upload(client, c["id"], [(gi.slip_photo(seed), f"slip-{seed}.jpg")], record_type="温馨卡").json
            for seed in (1, 2)]
    # a PNG whose header is fine (so it is accepted) but whose pixels are cut off (so reading fails)
    bad = upload(client, c["id"], [(truncated_png(), "cut.png")]).json
    assert all(s["text_status"] == "queued" for s in _statuses(client, good + [bad]).values())

    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen([ARCHIVE, "worker", "--workers", "2"], env=worker_env(app), stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = _statuses(client, good + [bad])
            if all(s["text_status"] in ("done", "failed") for s in states.values()):
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.5)
        else:
            raise AssertionError(f"jobs not finished: {states}\n{(tmp_path / 'worker.log').read_text()}")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    assert [states[r["id"]]["text_status"] for r in good] == ["done", "done"]
    # the broken file failed its own job with a reason, and did not block the others
    assert states[bad["id"]]["text_status"] == "failed"
    assert "corrupt_file" in states[bad["id"]]["files"][0]["text_error"]
    found = client.get("/api/v1/search", query_string={"q": "覃小雨"}).json
    assert {i["record"]["id"] for i in found["items"]} == {r["id"] for r in good + [bad]}
    assert "worker" in (tmp_path / "worker.log").read_text().lower()


def test_a_job_lost_with_its_worker_is_requeued(app, client, users):
    login(client, "archivist")
    c = new_customer(client, name="翟志刚")
    rec = upload(client, c["id"], [(gi.slip_photo(), "a.jpg")]).json
    fid = rec["files"][0]["id"]
    with app.app_context():
        app.extensions["queue"].flush()  # the job vanished with a killed worker ...
        db.session.execute(update(RecordFile).where(RecordFile.id == fid).values(
            extract_status="processing", extract_updated_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        assert requeue_stale() == [fid]  # ... the periodic sweep puts it back
        assert requeue_stale() == []  # fresh again: not requeued twice
        run_pending()
    assert client.get(f"/api/v1/records/{rec['id']}/status").json["text_status"] == "done"


def test_a_file_that_keeps_killing_its_worker_is_failed_not_requeued(app, client, users):
    login(client, "archivist")
    c = new_customer(client, name="仇天")
    rec = upload(client, c["id"], [(gi.slip_photo(), "a.jpg")]).json
    fid = rec["files"][0]["id"]
    with app.app_context():
        db.session.execute(update(RecordFile).where(RecordFile.id == fid).values(
            extract_status="processing", extract_attempts=3, extract_updated_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        assert requeue_stale() == []
    status = client.get(f"/api/v1/records/{rec['id']}/status").json["files"][0]
    assert status["text_status"] == "failed" and status["text_error"].startswith("worker_crashed")


def test_a_job_that_runs_too_long_is_stopped():
    from archive_app.reading.extraction_job import JobTimeout, time_limit

    with time_limit(1):
        try:
            time.sleep(3)
            raise AssertionError("not interrupted")
        except JobTimeout:
            pass


def test_only_a_scheduling_worker_queues_the_periodic_jobs_but_every_worker_sweeps_leases(app, client, users):
    """Several `archive worker` on one queue (scale-out): one schedules, the others run --no-schedule,
    or each nightly job would run once per worker. Handing on a lost worker's job is every worker's."""
    from datetime import datetime

    from archive_app.jobs import make_consumer

    login(client, "archivist")
    c = new_customer(client, name="滕两机")
    rec = upload(client, c["id"], [(gi.slip_photo(), "a.jpg")]).json
    fid = rec["files"][0]["id"]
    queue = app.extensions["queue"]
    at_three = datetime(2026, 12, 2, 3, 0)  # UTC, as the queue keeps time: the fixity check's hour
    for schedule in (False, True):
        queue.flush()  # the file's job vanished with a killed worker
        with app.app_context():
            db.session.execute(update(RecordFile).where(RecordFile.id == fid).values(
                extract_status="processing", extract_updated_at=utcnow() - timedelta(hours=1)))
            db.session.commit()
            # one turn of the scheduler process `archive worker` would start (created, not forked)
            make_consumer(app, 1, schedule=schedule)._create_scheduler().loop(at_three)
        queued = {t.name for t in queue.pending()}
        assert "extract_file" in queued  # swept and queued again either way
        periodic = {"check_fixity", "expire_loans", "intake_folder"}
        assert periodic <= queued if schedule else not (periodic & queued), queued
