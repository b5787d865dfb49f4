"""How long a file waits after its worker is SIGKILLed, with the real lease settings.

Run from the project's virtualenv (PYTHONPATH at the repository root):

    python bench/lease_recovery.py                       # ARCHIVE_JOB_LEASE_SECONDS=30, SWEEP=15
    python bench/lease_recovery.py --lease 10 --sweep 5 --pages 12

It sets up a throw-away embedded default (SQLite, file store, SQLite queue), uploads an image-only
PDF of --pages pages, starts `archive worker --workers 1` in its own process group, SIGKILLs the
group once 2 pages are stored, starts a new worker at once, and prints: pages stored at the kill,
seconds from the kill to the job being taken again (the issue's bound: 60 s) and to the file done,
and whether every page is stored once with the pages read before the kill kept. A benchmark, not a
test: it exits 0 unless the setup fails.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from archive_app.extensions import db  # noqa: E402
from archive_app.intake.models import FilePage, RecordFile  # noqa: E402
from tests.generated import images as gi  # noqa: E402
from tests.generated import pdfs  # noqa: E402
from tests.helpers import embedded_archive, new_customer, upload, worker_env  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lease", type=int, default=30, help="ARCHIVE_JOB_LEASE_SECONDS")
    ap.add_argument("--sweep", type=int, default=15, help="ARCHIVE_JOB_SWEEP_SECONDS")
    ap.add_argument("--pages", type=int, default=6)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-lease-"))
    app, client = embedded_archive(str(tmp), JOB_LEASE_SECONDS=args.lease, JOB_SWEEP_SECONDS=args.sweep)
    customer = new_customer(client, name="贝思远")
    pdf = pdfs.image_pdf([gi.render_lines([f"第{k}页 合同条款 {k}{k}{k}号"], 48) for k in range(1, args.pages + 1)])
    rec = upload(client, customer["id"], [(pdf, "c.pdf")]).json
    fid = rec["files"][0]["id"]

    def state():
        with app.app_context():
            row = db.session.get(RecordFile, fid)
            out = (row.extract_status, row.retries, dict(db.session.execute(
                select(FilePage.page_no, FilePage.id).where(FilePage.file_id == fid)).all()))
            db.session.rollback()
        return out

    env = worker_env(app)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    log = open(tmp / "worker.log", "ab")

    def start():
        return subprocess.Popen([str(Path(sys.executable).with_name("archive")), "worker", "--workers", "1"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)

    first = start()
    while len(state()[2]) < 2:
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    killed = time.monotonic()
    _, _, before = state()
    second = start()
    retaken = done = None
    while done is None and time.monotonic() - killed < 600:
        status, retries, after = state()
        if retaken is None and retries:
            retaken = time.monotonic() - killed
        if status in ("done", "failed"):
            done = time.monotonic() - killed
        time.sleep(0.2)
    second.terminate()
    second.wait()
    print(f"lease {args.lease} s, sweep {args.sweep} s, {args.pages} pages")
    print(f"pages stored at the kill: {len(before)}")
    print(f"kill -> taken again: {retaken:.1f} s" if retaken is not None else "never taken again")
    print(f"kill -> file {status}: {done:.1f} s" if done is not None else "not finished in 600 s")
    print(f"every page once: {sorted(after) == list(range(1, args.pages + 1))}; "
          f"pages before the kill kept: {all(after.get(n) == i for n, i in before.items())}")
    print(f"(data dir {tmp}; worker log {tmp / 'worker.log'})")


if __name__ == "__main__":
    main()
