"""Speed of `archive import`: a generated 10,000-row register checked (dry run) and imported; rows/s.

    .venv/bin/python bench/import_registers.py                    # 10,000-row 客户登记表 (XLSX), SQLite
    .venv/bin/python bench/import_registers.py --cards            # a 温馨卡登记表: cards, grades, follow-ups too
    .venv/bin/python bench/import_registers.py --db postgresql+pg8000://postgres@127.0.0.1:5432/bench
    .venv/bin/python bench/import_registers.py -n 2000 --csv      # quick, a GBK CSV

It builds a fresh archive (in the given database, which must be empty, else SQLite in a temporary
directory), files 1,000 customers first (duplicates are looked for among them), writes the register
with the tests' generator (tests/generated/registers.py: 1 row in 100 bad, 1 in 200 repeating an earlier phone),
then runs the `archive import` command twice in-process: `--dry-run`, then `--skip-errors`.
The target is 10,000 rows in 30 s. It prints the figures; it exits 0 unless the setup fails.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from archive_app import create_app  # noqa: E402
from archive_app.accounts import users as accounts  # noqa: E402
from archive_app.commands import upgrade_database  # noqa: E402
from archive_app.extensions import db  # noqa: E402
from archive_app.intake.models import Customer  # noqa: E402
from tests.generated.registers import BAD_KINDS, card_register, customer_register, to_csv, to_xlsx  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10_000, help="rows in the register")
    parser.add_argument("--cards", action="store_true", help="a visitor-card register instead of a customer list")
    parser.add_argument("--csv", action="store_true", help="write the register as a GBK CSV instead of XLSX")
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in a temporary directory)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        config = {"SECRET_KEY": "bench", "AUDIT_KEY": "bench-audit-key", "STORAGE_BACKEND": "fs",
                  "DATA_DIR": str(tmp / "archive"), "STORAGE_DIR": str(tmp / "archive" / "blobs")}
        if args.db:
            config["SQLALCHEMY_DATABASE_URI"] = args.db
        app = create_app(config)
        with app.app_context():
            upgrade_database()
            for name, role, dept in (("archivist", "archivist", "档案室"), ("staff", "staff", "销售一部")):
                accounts.create_user(db.session, username=name, password="Bench-Passw0rd-long", role=role,
                                     display_name=name, department=dept)
            db.session.add_all(Customer(name=f"在册{i}", phones=f"137{i:08d}", customer_no=f"B{i:07d}")
                               for i in range(1000))
            db.session.commit()
        if args.cards:
            rows = card_register(args.n)
        else:
            bad = {i: BAD_KINDS[(i // 100) % len(BAD_KINDS)] for i in range(50, args.n, 100)}
            twins = {i: i - 150 for i in range(175, args.n, 200) if i not in bad and i - 150 not in bad}
            rows = customer_register(args.n, bad=bad, twins=twins)
        path = tmp / ("register.csv" if args.csv else "register.xlsx")
        path.write_bytes(to_csv(rows, "gbk") if args.csv else to_xlsx(rows))
        print(f"register: {args.n} rows, {path.suffix[1:]}, {path.stat().st_size / 1e6:.2f} MB; "
              f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}")
        runner = app.test_cli_runner()
        for label, extra in (("dry run", ["--dry-run"]), ("import", ["--skip-errors", "--by", "archivist"])):
            started = time.perf_counter()
            result = runner.invoke(args=["import", str(path), *extra])
            took = time.perf_counter() - started
            summary = [line for line in result.output.splitlines() if "rows ready" in line]
            print(f"{label:8} {took:6.2f} s  {args.n / took:8.0f} rows/s  exit {result.exit_code}  "
                  f"{summary[-1] if summary else result.output[-300:]}")
        with app.app_context():
            print(f"customers on file now: {db.session.scalar(select(func.count()).select_from(Customer))}")
            db.session.remove()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
