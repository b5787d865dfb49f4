"""Speed of the watched intake folder: N small scans (1 in 10 misnamed or broken) filed in one pass; files/s.

    .venv/bin/python bench/intake_folder.py              # 200 files, SQLite and the file store
    .venv/bin/python bench/intake_folder.py -n 1000 --pages 5

It builds a fresh archive in a temporary directory with 20 customers, writes the files into an
intake folder (named 客户号_类型_日期.pdf; every tenth for an unknown customer or a broken PDF) and
runs ``archive intake-folder --once --settle 0`` in-process. Text extraction is only queued (no
worker runs). It prints the figures; it exits 0 unless the setup fails.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pypdf import PdfWriter  # noqa: E402

from archive_app import create_app  # noqa: E402
from archive_app.commands import upgrade_database  # noqa: E402
from archive_app.extensions import db  # noqa: E402
from archive_app.intake.models import Customer  # noqa: E402
from archive_app.intake.numbering import customer_no_for  # noqa: E402

TYPES = ("购房合同", "SJ", "FP", "身份证复印件", "FKPZ")


def _pdf(pages: int, marker: str) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Subject": marker})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="files in the folder")
    parser.add_argument("--pages", type=int, default=1, help="blank pages per PDF")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    try:
        folder = tmp / "intake"
        folder.mkdir()
        config = {"SECRET_KEY": "bench", "AUDIT_KEY": "bench-audit-key", "STORAGE_BACKEND": "fs",
                  "DATA_DIR": str(tmp / "archive"), "STORAGE_DIR": str(tmp / "archive" / "blobs"),
                  "INTAKE_FOLDER": str(folder)}
        app = create_app(config)
        with app.app_context():
            upgrade_database()
            customers = [Customer(name=f"客户{i}", phones=f"137{i:08d}", customer_no=f"T{i:06d}") for i in range(20)]
            db.session.add_all(customers)
            db.session.flush()
            for c in customers:
                c.customer_no = customer_no_for(c.id)
            numbers = [c.customer_no for c in customers]
            db.session.commit()
        size = 0
        for i in range(args.n):
            if i % 10 == 9:
                name, data = (f"C999999_收据_20240101_{i}.pdf", _pdf(1, str(i))) if i % 20 == 9 else \
                             (f"{numbers[i % 20]}_发票_20240101_{i}.pdf", b"%PDF-1.7\nbroken")
            else:
                name, data = f"{numbers[i % 20]}_{TYPES[i % 5]}_2024{1 + i % 12:02d}15_{i}.pdf", _pdf(args.pages, str(i))
            (folder / name).write_bytes(data)
            size += len(data)
        print(f"{args.n} files, {size / 1e6:.2f} MB, {args.pages} page(s) each; SQLite + file store; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        started = time.perf_counter()
        result = app.test_cli_runner().invoke(args=["intake-folder", "--once", "--settle", "0"])
        took = time.perf_counter() - started
        print(f"one pass: {took:.2f} s, {args.n / took:.1f} files/s, {took / args.n * 1000:.0f} ms/file  "
              f"exit {result.exit_code}: {result.output.strip().splitlines()[-1]}")
        with app.app_context():
            db.session.remove()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
