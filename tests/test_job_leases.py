"""Jobs that recover: a worker SIGKILLed in the middle of a file is replaced, and the file is finished
from the page it had reached, every page stored once, the retry shown on the record page."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from archive_app.clock import utcnow
from archive_app.extensions import db
from archive_app.intake.models import FilePage, RecordFile
from archive_app.jobs import requeue_stale, run_pending
from archive_app.reading.extraction_job import derived_key

from .generated import images as gi
from .generated import pdfs
from .helpers import login, new_customer, upload, worker_env

ARCHIVE = str(Path(sys.executable).with_name("archive"))
PAGES = 6
RETRY_NOTE = "第 1 次重试：上次处理中断（工作进程无响应）"


def _scan_pdf() -> bytes:
    # Image-only pages, each with its own line, so every page is OCR'd (about a second each here):
    # slow enough to kill the worker between two pages, fast enough for a test.
    return pdfs.image_pdf([gi.render_lines([f"第{k}页 合同条款 {k}{k}{k}号"], 48) for k in range(1, PAGES + 1)])


def _file_state(app, file_id: int) -> tuple[RecordFile, dict[int, int]]:
    with app.app_context():
        row = db.session.get(RecordFile, file_id)
        db.session.expunge(row)
        pages = dict(db.session.execute(select(FilePage.page_no, FilePage.id).where(FilePage.file_id == file_id)).all())
        db.session.rollback()  # SQLite: every transaction holds the write lock
    return row, pages


def _start_worker(app, log_path: Path) -> subprocess.Popen:
    # Its own process group: SIGKILL reaches the consumer, its scheduler and its worker processes at once.
    env = worker_env(app, ARCHIVE_JOB_LEASE_SECONDS="2", ARCHIVE_JOB_SWEEP_SECONDS="1")
    with open(log_path, "ab") as log:
        return subprocess.Popen([ARCHIVE, "worker", "--workers", "1"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _kill(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)


def test_a_sigkilled_worker_s_file_is_finished_from_the_page_it_reached(app, client, users, store, tmp_path):
    login(client, "archivist")
    c = new_customer(client, name="鲍春来")
    rec = upload(client, c["id"], [(_scan_pdf(), "contract.pdf")]).json
    fid = rec["files"][0]["id"]
    log_path = tmp_path / "worker.log"

    first = _start_worker(app, log_path)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            row, pages = _file_state(app, fid)
            if len(pages) >= 2:
                break
            assert first.poll() is None, log_path.read_text()
            time.sleep(0.05)
        else:
            raise AssertionError(f"no page read in time\n{log_path.read_text()}")
    finally:
        _kill(first)
    killed_at = time.monotonic()
    row, before = _file_state(app, fid)
    assert 2 <= len(before) < PAGES, f"killed too late to prove anything: {sorted(before)}"
    assert row.extract_status == "processing" and row.leased_by and row.lease_until is not None
    assert sorted(before) == list(range(1, len(before) + 1))

    second = _start_worker(app, log_path)
    try:
        while time.monotonic() < killed_at + 120:
            row, after = _file_state(app, fid)
            if row.extract_status in ("done", "failed"):
                break
            assert second.poll() is None, log_path.read_text()
            time.sleep(0.2)
    finally:
        second.terminate()
        second.wait(timeout=30)
    took = time.monotonic() - killed_at
    assert row.extract_status == "done", f"{row.extract_status} {row.extract_error}\n{log_path.read_text()}"
    assert took < 120
    # every page once; the pages read before the kill were kept (same rows), not read again
    assert sorted(after) == list(range(1, PAGES + 1))
    assert {n: after[n] for n in before} == before
    # the retaken job stored pages: a later interruption starts the count of fruitless attempts afresh
    assert (row.pages_done, row.page_count, row.extract_attempts) == (PAGES, PAGES, 1)
    assert (row.retries, row.last_retry_reason, row.leased_by, row.lease_until) == (1, "lease_expired", None, None)
    with app.app_context():
        texts = dict(db.session.execute(select(FilePage.page_no, FilePage.text).where(FilePage.file_id == fid)).all())
        db.session.rollback()
    assert all(f"{k}{k}{k}" in texts[k] for k in range(1, PAGES + 1)), texts
    for k in range(1, PAGES + 1):
        for kind in ("thumb", "view"):
            with store.open(derived_key(row.object_key, k, kind)) as fh:
                assert fh.read(2) == b"\xff\xd8"  # a JPEG
    # the record page and the status API say it was taken again, and why
    page = client.get(f"/records/{rec['id']}").get_data(as_text=True)
    assert RETRY_NOTE in page
    status = client.get(f"/api/v1/records/{rec['id']}/status").json["files"][0]
    assert (status["retries"], status["retry_note"]) == (1, RETRY_NOTE)


def _stall(app, fid: int, holder: str, until, pages: list[int]) -> None:
    """The state a worker leaves behind when it dies holding the lease, having stored ``pages``."""
    with app.app_context():
        app.extensions["queue"].flush()  # its job left the queue with it
        db.session.execute(update(RecordFile).where(RecordFile.id == fid).values(
            extract_status="processing", leased_by=holder, lease_until=until, extract_attempts=1,
            pages_done=len(pages), extract_updated_at=utcnow()))
        for n in pages:
            db.session.add(FilePage(file_id=fid, page_no=n, text=f"kept {n}", source="text"))
        db.session.commit()


def test_a_lapsed_lease_is_handed_on_and_the_job_resumes(app, client, users):
    login(client, "archivist")
    c = new_customer(client, name="丁德元")
    rec = upload(client, c["id"], [(pdfs.text_pdf(pages=3), "c.pdf")]).json
    fid = rec["files"][0]["id"]
    _stall(app, fid, "lost-host:1", utcnow() + timedelta(seconds=30), [1])
    with app.app_context():
        assert requeue_stale() == []  # a live lease is left alone, however old the job
        db.session.execute(update(RecordFile).where(RecordFile.id == fid).values(
            lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert requeue_stale() == [fid]  # lapsed: back on the queue at once, not after 15 minutes
        assert requeue_stale() == []
        run_pending()
    row, pages = _file_state(app, fid)
    assert row.extract_status == "done" and sorted(pages) == [1, 2, 3]
    with app.app_context():
        kept = db.session.scalar(select(FilePage.text).where(FilePage.file_id == fid, FilePage.page_no == 1))
        db.session.rollback()
    assert kept == "kept 1"  # resumed after the stored page, which was not read again
    assert (row.retries, row.last_retry_reason, row.extract_attempts) == (1, "lease_expired", 1)
    assert RETRY_NOTE in client.get(f"/records/{rec['id']}").get_data(as_text=True)


def test_a_duplicate_job_leaves_a_file_a_live_worker_holds_alone(app, client, users):
    login(client, "archivist")
    c = new_customer(client, name="金玉婷")
    rec = upload(client, c["id"], [(pdfs.text_pdf(pages=2), "d.pdf")]).json
    fid = rec["files"][0]["id"]
    _stall(app, fid, "busy-host:7", utcnow() + timedelta(seconds=30), [1])
    with app.app_context():
        app.extensions["tasks"]["extract_file"](fid)  # e.g. queued twice
        run_pending()
    row, pages = _file_state(app, fid)
    # untouched: the live holder's lease, its progress, its pages
    assert (row.extract_status, row.leased_by, row.pages_done, row.retries) == ("processing", "busy-host:7", 1, 0)
    assert sorted(pages) == [1]


def test_a_worker_renews_its_lease_and_a_stalled_one_writes_nothing_once_handed_on(app, client, users):
    from archive_app.reading.extraction_job import Lease, LeaseLost, _claim, _fenced, kept

    login(client, "archivist")
    c = new_customer(client, name="柏林")
    rec = upload(client, c["id"], [(pdfs.text_pdf(pages=2), "e.pdf")]).json
    fid = rec["files"][0]["id"]
    with app.app_context():
        app.extensions["queue"].flush()
        lease = Lease(fid, "slow-host:3", seconds=1)
        assert _claim(db.session, lease, utcnow())
        with kept(db.engine, lease, utcnow):
            time.sleep(2.5)  # longer than the lease: only the renewals keep it
            assert requeue_stale() == []
        assert not lease.lost.is_set()
        time.sleep(1.2)  # no longer renewed: it lapses and the sweep hands the job on
        assert requeue_stale() == [fid]
        try:
            _fenced(db.session, lease, utcnow, pages_done=2, extract_status="done")
            raise AssertionError("a lost lease still wrote")
        except LeaseLost:
            pass
    row, _ = _file_state(app, fid)
    assert (row.extract_status, row.pages_done, row.leased_by, row.retries) == ("queued", 0, None, 1)


def test_a_lapsed_job_that_died_three_times_in_a_row_is_failed_not_handed_on(app, client, users):
    login(client, "archivist")
    c = new_customer(client, name="单雄")
    stuck, moving = (upload(client, c["id"], [(pdfs.text_pdf(pages=2, marker=m), f"{m}.pdf")]).json["files"][0]["id"]
                     for m in ("stuck", "moving"))
    past = utcnow() - timedelta(seconds=1)
    _stall(app, stuck, "dead-host:1", past, [1])
    _stall(app, moving, "dead-host:1", past, [1])
    with app.app_context():
        db.session.execute(update(RecordFile).where(RecordFile.id == stuck).values(extract_attempts=3))
        db.session.commit()
        assert requeue_stale() == [moving]
    row, pages = _file_state(app, stuck)
    assert row.extract_status == "failed" and row.extract_error.startswith("worker_crashed") and sorted(pages) == [1]
