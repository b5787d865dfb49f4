"""Throughput of `archive fixity-check --all`: stored originals re-hashed and opened, MB/s and files/s.

    .venv/bin/python bench/fixity.py                      # 2,000 files of ~200 KB on the embedded default
    .venv/bin/python bench/fixity.py -n 10000 --kb 300
    .venv/bin/python bench/fixity.py --rate 20            # with the read-rate limit

It builds a fresh embedded default (SQLite, file store) in a temporary directory, files N records
through the intake service (one file each: nine in ten PNG scans of random pixels, which do not
compress, one in ten a PDF), then times ``fixity.checks.run_check(scope="all")`` — the same code
the command and the nightly job run: read each object once, SHA-256 it against the row, open it
as its format, keep the result, then list the store for objects without a row. The store's files
were just written, so they are read from the page cache unless ``--drop-caches`` (root) is given.
It prints the figures; it is a benchmark, not a test, and exits 0 unless the setup fails.
"""
from __future__ import annotations

import argparse
import io
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive_app import create_app  # noqa: E402
from archive_app.accounts import users as accounts  # noqa: E402
from archive_app.commands import upgrade_database  # noqa: E402
from archive_app.extensions import db  # noqa: E402
from archive_app.fixity import checks  # noqa: E402
from archive_app.intake import customers, records  # noqa: E402
from archive_app.wiring import archive_settings, get_store, now  # noqa: E402


def _png(kb: int, rng: random.Random) -> bytes:
    from PIL import Image

    side = max(8, int((kb * 1024 / 3) ** 0.5))
    img = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=1)
    return out.getvalue()


def _pdf(kb: int, rng: random.Random) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    # an incompressible attachment brings the file to about the requested size
    writer.add_attachment("scan.bin", rng.randbytes(kb * 1024))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def file_records(n: int, kb: int, rng: random.Random, start: int = 0) -> int:
    """File ``n`` records of one ~``kb`` KiB file each into the current app (nine in ten PNG scans, one in ten
    a PDF) through the intake service; returns the bytes stored. Needs an app context and a migrated database;
    ``start`` numbers the records on from an earlier call."""
    from sqlalchemy import select

    from archive_app.accounts.models import User

    archivist = db.session.scalar(select(User).where(User.username == "archivist"))
    if archivist is None:
        archivist = accounts.create_user(db.session, username="archivist", password="bench-Password-93",
                                         role="archivist", display_name="档案员", department="档案室")
        db.session.commit()
    customer = None
    total_bytes = 0
    for i in range(start, start + n):
        if i % 50 == 0 or customer is None:
            customer = customers.create_customer(db.session, archivist,
                                                 {"name": f"客户{i // 50}", "department": "销售一部"})
        pdf = i % 10 == 9
        data = _pdf(kb, rng) if pdf else _png(kb, rng)
        total_bytes += len(data)
        incoming = [records.IncomingFile(filename="scan.pdf" if pdf else "scan.png", stream=io.BytesIO(data))]
        records.create_record(db.session, get_store(), archive_settings(), archivist, customer.id,
                              {"record_type": "购房合同", "secrecy": 1}, incoming, now=now())
        db.session.commit()
    return total_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000, help="files to store and check")
    parser.add_argument("--kb", type=int, default=200, help="approximate size of each file, KiB")
    parser.add_argument("--rate", type=float, default=0.0, help="read-rate limit, MB/s (0: none)")
    parser.add_argument("--drop-caches", action="store_true", help="sync and drop the page cache first (root)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-fixity-"))
    rng = random.Random(12)
    try:
        app = create_app({"DATA_DIR": str(tmp), "SECRET_KEY": "bench", "AUDIT_KEY": "bench-audit-key",
                          "STORAGE_BACKEND": "fs", "STORAGE_DIR": str(tmp / "blobs")})
        with app.app_context():
            upgrade_database()
            started = time.perf_counter()
            total_bytes = file_records(args.n, args.kb, rng)
            print(f"stored {args.n} files, {total_bytes / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")
            if args.drop_caches:
                subprocess.run(["sync"], check=True)
                Path("/proc/sys/vm/drop_caches").write_text("3\n")
            report = checks.run_check(db.session, get_store(), now=now(), scope="all", rate_mb=args.rate,
                                      tmp_dir=app.config["UPLOAD_TMP_DIR"])
            print(f"fixity-check --all{f' --rate {args.rate}' if args.rate else ''}: {report.files} files, "
                  f"{report.bytes / 1e6:.1f} MB in {report.seconds:.2f} s = {report.mb_per_s:.1f} MB/s, "
                  f"{report.files_per_s:.0f} files/s; {len(report.failures)} failure(s), "
                  f"{len(report.orphans)} orphan(s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
