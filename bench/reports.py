"""Benchmark of the report pages (报表) and the landing page (工作台) at 100,000 customers.

Issue 14 item 6: every report page answers in under 300 ms with 100,000 customers. Run from the
project's virtualenv:

    .venv/bin/python bench/reports.py                       # 100,000 customers, SQLite and PostgreSQL
    .venv/bin/python bench/reports.py -n 20000 --backend sqlite --runs 3

For each backend it builds the schema with the migrations (as ``archive init`` does), creates the
accounts through the accounts service (a general manager, an archivist, six department heads and
ten consultants per department), then bulk-loads, in proportion to the customers: one visitor card
each with one to four visits over the last two years, one to four grade changes each (a chain that
ends at the customer's grade, downgrades with a reason), one to three follow-ups (a tenth still
open), 30 % deals, a loan request for every fifth customer, and ``--records`` records per customer
with one file each in a mix of reading states. Loading uses SQLAlchemy Core executemany on SQLite
and COPY on PostgreSQL; then ANALYZE.

It then logs in through the Flask test client as the general manager (the whole company: the
heaviest scope), a department head and the archivist, and times each report page (HTML with its
SVG charts) over the default twelve weeks and over 52 weeks, one XLSX export and each dashboard,
``--runs`` times each (default 5), and prints the median and the worst per page with PASS/FAIL
against 300 ms. The clock is fixed at 2026-11-30 so the data's dates stay relative to "today".

This is a benchmark, not a test: it exits 0 unless the setup fails. The SQLite file lives in a
temporary directory and the PostgreSQL database (``bench_reports``) is dropped at the end, unless
``--keep DIR``: then both stay, and a later run with the same ``--keep DIR`` migrates them (new indexes),
analyzes (PostgreSQL: vacuums and analyzes) and measures without loading again (delete DIR to load afresh). Besides wall time it prints the
median CPU time of this process per page (the app runs in it through the test client), which a loaded
machine disturbs less; on PostgreSQL the server's own time is not in it.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from archive_app import create_app  # noqa: E402
from archive_app.accounts import users as accounts  # noqa: E402
from archive_app.accounts.users import hash_password  # noqa: E402
from archive_app.borrowing.models import LoanRequest  # noqa: E402
from archive_app.commands import upgrade_database  # noqa: E402
from archive_app.extensions import db  # noqa: E402
from archive_app.intake.models import Customer, Record, RecordFile  # noqa: E402
from archive_app.visits.models import CardVisit, FollowUp, GradeChange, VisitorCard  # noqa: E402
from bench.corpus import PROJECTS, make_name, make_phone  # noqa: E402

PG_BASE_URL = os.environ.get("ARCHIVE_BENCH_PG_URL", "postgresql+pg8000://postgres@127.0.0.1:5432/postgres")
PG_DB = "bench_reports"
TARGET_MS = 300.0
CHUNK = 20_000
PASSWORD = "bench-reports-Passw0rd"
DEPARTMENTS = ["销售一部", "销售二部", "销售三部", "客服部", "渠道部", "大客户部"]
CONSULTANTS_PER_DEPARTMENT = 10
TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
GRADES = "ABCD"
REASONS = ["预算不足", "已购他盘", "暂缓购房", "联系不上", "意向转弱", "家人反对"]
PURPOSES = ["核对合同", "办理按揭", "客户投诉处理", "产权办理", "交房核对", "财务对账", "法务审查", "续租核对",
            "退房处理", "资料补全", "审计抽查", "客户回访"]
READING = ["done"] * 90 + ["failed"] * 3 + ["queued"] * 5 + ["processing"] * 2
PAGES = [("visits", "来访与成交"), ("grades", "客户等级周报"), ("customers", "保有客户与潜在客户"),
         ("follow-ups", "回访"), ("borrowing", "借阅"), ("records", "档案")]


# --------------------------------------------------------------------------- data


def _day(rng: random.Random, back_days: int) -> date:
    return TODAY - timedelta(days=rng.randrange(back_days))


def generate(n: int, seed: int, records_per: int, creator: int, depts: list[int], staff: dict[int, list[int]]):
    """Rows per table in chunks of about CHUNK customers; deterministic."""
    rng = random.Random(seed)
    ids = {"card": 0, "visit": 0, "grade": 0, "follow": 0, "loan": 0, "record": 0}
    rows: dict[str, list[dict]] = {k: [] for k in ("customers", "cards", "visits", "grades", "follows", "loans",
                                                     "records", "files")}
    for cid in range(1, n + 1):
        dept = rng.choice(depts)
        consultant = rng.choice(staff[dept])
        first = _day(rng, 730)
        created = datetime.combine(first, datetime.min.time(), UTC) + timedelta(hours=rng.randrange(1, 12))
        # the grade history: a chain of 1-4 grades, the last one the customer's
        chain, day = [], first
        grade = rng.choice("ABC")
        for step in range(rng.randint(1, 4)):
            if step:
                grade = rng.choice([g for g in GRADES if g != chain[-1][0]])
                day = min(day + timedelta(days=rng.randint(3, 120)), TODAY)
            chain.append((grade, day))
        deal = first + timedelta(days=rng.randint(0, 200)) if rng.random() < 0.3 else None
        deal = deal if deal is None or deal <= TODAY else None
        rows["customers"].append({
            "id": cid, "customer_no": f"K{cid:07d}", "kind": "person", "name": make_name(rng), "phones": make_phone(rng),
            "id_number": None, "business_type": "购房", "grade": chain[-1][0], "consultant_id": consultant,
            "department_id": dept, "project": rng.choice(PROJECTS), "unit": "", "address": "", "notes": "",
            "deal_closed_on": deal, "contract_ended_on": None, "last_contact_on": chain[-1][1],
            "created_at": created, "updated_at": created, "created_by_id": creator})
        ids["card"] += 1
        card = ids["card"]
        rows["cards"].append({"id": card, "customer_id": cid, "record_id": None, "unit_type": None, "age_band": None,
                              "housing": None, "purpose": None, "channel": None, "area_band": None,
                              "price_band": None, "income_band": None, "consultant_id": consultant,
                              "grade": chain[0][0], "scouting": rng.random() < 0.03, "notes": "",
                              "created_by_id": creator, "created_at": created})
        visit_day = first
        for no in range(1, rng.randint(1, 4) + 1):
            ids["visit"] += 1
            rows["visits"].append({"id": ids["visit"], "card_id": card, "visit_no": no, "visited_on": visit_day})
            visit_day = min(visit_day + timedelta(days=rng.randint(2, 40)), TODAY)
        before = None
        for grade, day in chain:
            ids["grade"] += 1
            down = before is not None and GRADES.index(grade) > GRADES.index(before)
            rows["grades"].append({"id": ids["grade"], "customer_id": cid, "department_id": dept,
                                   "from_grade": before, "to_grade": grade,
                                   "changed_on": day, "changed_at": datetime.combine(day, datetime.min.time(), UTC),
                                   "changed_by_id": consultant, "reason": rng.choice(REASONS) if down else "",
                                   "card_id": card if before is None else None})
            before = grade
        due = first + timedelta(days=3)
        for _ in range(rng.randint(1, 3)):
            ids["follow"] += 1
            open_ = rng.random() < 0.1 or due > TODAY
            done = None if open_ else due + timedelta(days=rng.randint(-1, 6))
            rows["follows"].append({"id": ids["follow"], "customer_id": cid, "department_id": dept,
                                    "assignee_id": consultant, "due_on": due,
                                    "done_on": done if done is None or done <= TODAY else TODAY,
                                    "way": None if open_ else "phone", "result": "" if open_ else "已联系",
                                    "done_by_id": None if open_ else consultant, "card_id": None,
                                    "created_at": created})
            due = due + timedelta(days=rng.randint(7, 60))
        if cid % 5 == 0:
            ids["loan"] += 1
            at = NOW - timedelta(days=rng.randrange(365), hours=rng.randrange(24))
            rows["loans"].append({"id": ids["loan"], "request_no": f"JY-{ids['loan']:07d}", "requester_id": consultant,
                                  "department_id": dept, "customer_id": cid,
                                  "kind": rng.choice(("view", "view", "download", "original")),
                                  "purpose": rng.choice(PURPOSES), "reason_for_long_window": "",
                                  "window_start": at, "window_end": at + timedelta(hours=8),
                                  "status": rng.choice(("approved", "closed", "expired", "rejected", "pending_head")),
                                  "needs_gm": False, "created_at": at, "decided_at": None, "closed_at": None,
                                  "status_reason": ""})
        for item in range(1, records_per + 1):
            ids["record"] += 1
            rid = ids["record"]
            at = created + timedelta(days=rng.randint(0, 30))
            at = min(at, NOW)
            filed = rng.random() < 0.97
            due_on = date(rng.randint(2024, 2060), 1, 1) if rng.random() < 0.7 else None
            rows["records"].append({
                "id": rid, "customer_id": cid, "part": 1, "item_no": item, "archival_code": f"0001-B-{cid:07d}-1-{item:04d}",
                "record_type": "温馨卡", "title": "温馨卡", "doc_date": first, "year": first.year, "retention_code": "D10",
                "secrecy": rng.choice((0, 1, 1, 2)), "location_room": "", "location_cabinet": "", "location_shelf": "",
                "location_box": "", "status": "filed" if filed else "draft", "created_by_id": creator,
                "created_at": at, "updated_at": at, "reviewed_by_id": creator if filed else None,
                "reviewed_at": at + timedelta(hours=2) if filed else None, "disposal_date": due_on,
                "disposal_state": "scheduled" if due_on else "awaiting_event", "disposal_basis": "",
                "on_hold": False, "keep_until": None, "keep_permanent": False, "destroyed_at": None})
            status = rng.choice(READING)
            rows["files"].append({
                "id": rid, "record_id": rid, "object_key": f"bench/{rid}", "sha256": f"{rid:064x}", "size": 100_000,
                "mime_type": "application/pdf", "original_name": "scan.pdf", "page_count": 2, "uploaded_by_id": creator,
                "created_at": at, "extract_status": status, "extract_error": "", "pages_done": 2 if status == "done" else 0,
                "extract_attempts": 1, "extract_updated_at": at, "leased_by": None, "lease_until": None, "retries": 0,
                "last_retry_reason": "", "searchable_key": None})
        if cid % CHUNK == 0 or cid == n:
            yield rows
            rows = {k: [] for k in rows}


TABLES = {"customers": Customer.__table__, "cards": VisitorCard.__table__, "visits": CardVisit.__table__,
          "grades": GradeChange.__table__, "follows": FollowUp.__table__, "loans": LoanRequest.__table__,
          "records": Record.__table__, "files": RecordFile.__table__}


def _pg_text(v) -> str:
    if v is None:
        return "\\N"
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def load(backend: str, n: int, seed: int, records_per: int) -> dict[str, float | int]:
    """Migrate, create the accounts, bulk-load every table; the counts and the load time."""
    upgrade_database()
    s = db.session
    hashed = hash_password(PASSWORD)
    make = lambda name, role, dept=None: accounts.create_user(  # noqa: E731
        s, username=name, password=PASSWORD, role=role, display_name=name, department=dept, password_hash=hashed)
    creator = make("bench-archivist", "archivist", "档案室").id
    make("bench-gm", "general_manager")
    staff: dict[int, list[int]] = {}
    for i, name in enumerate(DEPARTMENTS):
        make(f"bench-head-{i}", "dept_head", name)
        dept = accounts.get_or_create_department(s, name).id
        staff[dept] = [make(f"{name}顾问{j:02d}", "staff", name).id for j in range(CONSULTANTS_PER_DEPARTMENT)]
    s.commit()
    db.session.remove()
    t0 = time.perf_counter()
    counts = dict.fromkeys(TABLES, 0)
    order = list(TABLES)
    if backend == "sqlite":
        with db.engine.connect() as conn:
            raw = conn.connection.driver_connection
            raw.execute("PRAGMA synchronous=OFF")
            for chunk in generate(n, seed, records_per, creator, list(staff), staff):
                with conn.begin():
                    for name in order:
                        if chunk[name]:
                            conn.execute(insert(TABLES[name]), chunk[name])
                            counts[name] += len(chunk[name])
                print(f"\r  {counts['customers']:,} customers", end="", file=sys.stderr, flush=True)
            raw.execute("ANALYZE")
    else:
        raw = db.engine.raw_connection()
        try:
            for chunk in generate(n, seed, records_per, creator, list(staff), staff):
                cur = raw.cursor()
                for name in order:
                    if chunk[name]:
                        cols = list(chunk[name][0])
                        body = "".join("\t".join(_pg_text(r[c]) for c in cols) + "\n" for r in chunk[name])
                        cur.execute(f"COPY {TABLES[name].name} ({', '.join(cols)}) FROM STDIN", stream=[body])
                        counts[name] += len(chunk[name])
                raw.commit()
                print(f"\r  {counts['customers']:,} customers", end="", file=sys.stderr, flush=True)
            cur = raw.cursor()
            for table in TABLES.values():
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT coalesce(max(id), 1) FROM {table.name}))")
            raw.commit()
        finally:
            raw.close()
        engine = sa.create_engine(db.engine.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        engine.dispose()
    print(file=sys.stderr)
    db.engine.dispose()
    return {"load_s": time.perf_counter() - t0, **counts}


# --------------------------------------------------------------------------- measuring


def timed(client, url: str, runs: int) -> tuple[float, float, float, int]:
    """Median and worst wall milliseconds of ``runs`` GETs of ``url`` (after one warm-up), the median CPU
    milliseconds of this process (the app runs in it: on a loaded machine this is the page's own cost,
    without the database server's on PostgreSQL), and the status."""
    status = client.get(url).status_code
    times, cpu = [], []
    for _ in range(runs):
        c = time.process_time()
        t = time.perf_counter()
        resp = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        status = resp.status_code
        resp.close()
    return statistics.median(times), max(times), statistics.median(cpu), status


def measure(app, runs: int) -> list[tuple[str, str, float, float, float, int]]:
    """(who, page, median ms, worst ms, median CPU ms, status) for every page each viewer may open."""
    out = []
    year = "?from=2025-12-01&to=2026-11-30"
    # /reports (the list of reports: no counting) is the baseline: what any page costs on this machine now.
    plan = [("bench-gm", ["/reports"] + [f"/reports/{slug}" for slug, _ in PAGES] + [f"/reports/{slug}{year}" for slug, _ in PAGES]
             + ["/reports/grades.xlsx?table=weeks", "/api/v1/reports/grades", "/dashboard"]),
            ("bench-head-0", [f"/reports/{slug}" for slug, _ in PAGES] + ["/dashboard"]),
            ("bench-archivist", ["/reports/borrowing", "/reports/records", "/dashboard"])]
    for username, urls in plan:
        client = app.test_client()
        resp = client.post("/login", data={"username": username, "password": PASSWORD})
        assert resp.status_code == 302, resp.status_code
        me = client.get("/api/v1/me").json
        assert me["username"] == username, me
        for url in urls:
            median, worst, cpu, status = timed(client, url, runs)
            out.append((username, url, median, worst, cpu, status))
    return out


def _kept_ready(backend: str, url: str, keep: Path | None) -> bool:
    """With ``--keep``: whether a database loaded by an earlier run (its marker file) can be measured again."""
    if keep is None or not (keep / f"{backend}.loaded").exists():
        return False
    if backend == "sqlite":
        return (keep / "reports.db").exists()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return bool(conn.exec_driver_sql("SELECT count(*) FROM customers").scalar())
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def run_backend(backend: str, args) -> list[str]:
    keep = Path(args.keep).resolve() if args.keep else None
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    folder = keep or Path(tempfile.mkdtemp(prefix="bench-reports-"))
    admin = None
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'reports.db'}"
    else:
        admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
        url = PG_BASE_URL.rsplit("/", 1)[0] + "/" + PG_DB
    reuse = _kept_ready(backend, url, keep)
    if not reuse:
        (folder / f"{backend}.loaded").unlink(missing_ok=True)
        if backend == "sqlite":
            (folder / "reports.db").unlink(missing_ok=True)
        else:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
                conn.exec_driver_sql(f'CREATE DATABASE "{PG_DB}"')
    app = create_app({"SECRET_KEY": "bench", "AUDIT_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url,
                      "DATA_DIR": str(folder), "STORAGE_BACKEND": "fs", "STORAGE_DIR": str(folder / "blobs"),
                      "FONDS_CODE": "0001", "WTF_CSRF_ENABLED": False, "TIMEZONE": "Asia/Shanghai"})
    app.config["CLOCK"] = lambda: NOW
    lines = []
    try:
        if reuse:
            # Newer migrations (indexes) still apply to the kept database, then fresh statistics.
            with app.app_context():
                upgrade_database()
                _analyze(backend)
            lines.append(f"[{backend}] reused the database kept in {folder}")
        else:
            with app.app_context():
                info = load(backend, args.n, args.seed, args.records)
            if keep is not None:
                (folder / f"{backend}.loaded").write_text(f"{args.n} {args.seed} {args.records}\n")
            lines.append(f"[{backend}] loaded in {info['load_s']:.1f} s: " + ", ".join(
                f"{k} {v:,}" for k, v in info.items() if k != "load_s"))
        # Outside any app context: each request then has its own (flask-login keeps the signed-in
        # user in it, so an outer one would serve every client as the first user).
        for who, url_, median, worst, cpu, status in measure(app, args.runs):
            verdict = "PASS" if worst <= TARGET_MS and status == 200 else "FAIL"
            lines.append(f"[{backend}] {who:16} {url_:45} p50 {median:7.1f} ms  max {worst:7.1f} ms  "
                         f"cpu {cpu:7.1f} ms  HTTP {status}  {verdict}")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
        if admin is not None:
            if keep is None:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            admin.dispose()
    return lines


def _analyze(backend: str) -> None:
    if backend == "sqlite":
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        # VACUUM too: a migration that rewrote rows (0022 filled records.department_id) leaves pages that
        # are not all-visible, and every index-only count then reads the table as well (autovacuum is off
        # on some machines).
        engine = sa.create_engine(db.engine.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        engine.dispose()
    db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="customers (default 100,000)")
    parser.add_argument("--records", type=int, default=3, help="records per customer (default 3)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep", metavar="DIR",
                        help="keep the SQLite file (in DIR) and the PostgreSQL database after the run, and reuse "
                             "them when already loaded: later runs only migrate, analyze and measure")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    load_avg = os.getloadavg()
    for backend in backends:
        for line in run_backend(backend, args):
            print(line, flush=True)
    print(f"load average at start {load_avg[0]:.1f}, at end {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
