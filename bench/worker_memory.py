"""A real worker's memory and time reading a scanned contract, as uploaded.

Run from the project's virtualenv:

    python bench/worker_memory.py              # a 30-page scan (A4, 300 dpi), one worker
    python bench/worker_memory.py --pages 10
    python bench/worker_memory.py --timeline 3   # also the peak of every 3 seconds: what grows, when

It sets up a throw-away embedded default (SQLite, file store, SQLite queue), uploads an image-only PDF
of --pages A4 pages at 300 dpi (dense Chinese pages, every third one a contract page with numbers on
each line: ``tests/generated/documents.py``) through the API, runs ``archive worker --workers 1
--drain`` (text extraction, OCR, indexing, the searchable copy) and samples the resident memory
(VmRSS) of the worker process and its children every 50 ms until it exits. Prints the peak, the
seconds, the pages stored and whether the searchable copy was made. The issue's targets: a worker
<= 500 MB; an A4 page in about 3 s. A benchmark, not a test: it exits 0 unless the setup fails.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from archive_app.extensions import db  # noqa: E402
from archive_app.intake.models import FilePage, RecordFile  # noqa: E402
from tests.generated import documents, pdfs  # noqa: E402
from tests.helpers import embedded_archive, new_customer, upload, worker_env  # noqa: E402


def rss_kb(pid: int) -> dict[int, int]:
    """VmRSS in kB of ``pid`` and of each of its descendants (none once it is gone)."""
    out: dict[int, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            out[pid] = next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            children = [int(c) for c in fh.read().split()]
    except (OSError, ValueError):
        return out
    for child in children:
        out.update(rss_kb(child))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=30)
    ap.add_argument("--timeline", type=float, default=0.0, metavar="SECONDS",
                    help="also print the worker's peak RSS in every window of this many seconds")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    app, client = embedded_archive(str(tmp))
    customer = new_customer(client, name="贝思远")
    pages = [(documents.contract_a4(seed=k) if k % 3 == 2 else documents.dense_chinese_a4(seed=k))[0]
             for k in range(args.pages)]
    pdf = pdfs.image_pdf(pages, dpi=300)
    del pages
    rec = upload(client, customer["id"], [(pdf, "c.pdf")]).json
    fid = rec["files"][0]["id"]

    env = worker_env(app)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with open(tmp / "worker.log", "ab") as log:
        started = time.monotonic()
        worker = subprocess.Popen([str(Path(sys.executable).with_name("archive")), "worker", "--workers", "1",
                                   "--drain"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        peak, each, windows = 0, {}, {}
        while worker.poll() is None:
            now = rss_kb(worker.pid)
            total = sum(now.values())
            peak = max(peak, total)
            if args.timeline > 0:
                window = int((time.monotonic() - started) // args.timeline)
                windows[window] = max(windows.get(window, 0), total)
            for pid, kb in now.items():
                each[pid] = max(each.get(pid, 0), kb)
            time.sleep(0.05)
        seconds = time.monotonic() - started
    with app.app_context():
        row = db.session.get(RecordFile, fid)
        stored = db.session.scalar(select(func.count()).select_from(FilePage).where(FilePage.file_id == fid))
        status, copy = row.extract_status, row.searchable_key
    print(f"scanned PDF of {args.pages} A4 pages at 300 dpi ({len(pdf) / 1e6:.1f} MB), one worker (--drain)")
    print(f"worker: {seconds:.1f} s in all ({seconds / args.pages:.2f} s a page, start-up and indexing "
          f"included)")
    print(f"peak RSS: {peak / 1024:.0f} MB the worker with its children; each process's own peak: "
          + ", ".join(f"{'worker' if pid == worker.pid else 'child'} {kb / 1024:.0f} MB" for pid, kb in each.items())
          + " (target <= 500 MB a worker process)")
    if windows:
        print(f"peak RSS (MB) of each {args.timeline:g} s: " + " ".join(
            f"{k * args.timeline:g}s:{kb / 1024:.0f}" for k, kb in sorted(windows.items())))
    print(f"file {status}, {stored} of {args.pages} pages stored, searchable copy: {'yes' if copy else 'no'}")
    print(f"(data dir {tmp}; worker log {tmp / 'worker.log'})")


if __name__ == "__main__":
    main()
