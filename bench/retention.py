"""Benchmark of the due list and of opening a disposal review batch on 1,000,000 records.

Issue 5 item 8: with 1,000,000 records on SQLite and on PostgreSQL, computing the due list for a
date and building a batch takes <= 2 s. Run from the project's virtualenv:

    .venv/bin/python bench/retention.py                        # 1,000,000 records, SQLite and PostgreSQL
    .venv/bin/python bench/retention.py --backend both --runs 3
    .venv/bin/python bench/retention.py -n 100000 --backend sqlite --explain
    .venv/bin/python bench/retention.py --backend postgresql --keep     # keep the database for reruns
    .venv/bin/python bench/retention.py --drop-kept            # remove databases kept by --keep

For each backend it builds the schema with the migrations (``flask db upgrade``, as ``archive
init`` does), so it measures the committed schema: ``ix_records_due (status, on_hold,
disposal_state, disposal_date, id)`` and ``disposal_items`` without foreign keys. It creates one
archivist through the accounts service, then bulk-loads customers (5-10 records each) and
records: SQLAlchemy Core executemany in chunks of 20,000 on SQLite, COPY on PostgreSQL. The mix:
70 % of records ``scheduled`` with disposal dates over 2020-2060 (mostly 1 January, the cut-off;
one in ten moved by a hold's pause or a review's extension), 12 % ``permanent``, 14 %
``awaiting_event``, 1 % on legal hold, 3 % already destroyed by an executed earlier batch (whose
items are loaded too, so the "not in an open batch" test sees history). Then ANALYZE
(PostgreSQL: VACUUM ANALYZE, the state autovacuum leaves a table in), and it times the service
calls themselves, ``--runs`` times each (default 5), each run in a fresh session/transaction:

(a) ``disposal.due_list(session, on, limit=100)``: the count and the first page with customers;
(b) ``disposal.create_batch(session, actor, on)``: the INSERT ... SELECT of every due record, the
    audit entry and the commit; after each run the batch, its items and the audit entry are
    deleted and the audit head restored (untimed; PostgreSQL then vacuums those tables), so every
    run sees the same due set;
(c) ``retention.due_counts_by_year(session)``: the 到期档案 overview.

It prints, per backend, the load time, record and due counts, p50/max of each operation (and of
the statements inside (a) and (b), captured from the engine, and this process's CPU time: all
of SQLite's work, only the client's with PostgreSQL) and a PASS/FAIL line: PASS when every
run of (a) and of (b) took <= 2 s. ``--explain`` adds the plans of the statements those calls
actually ran: EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL (inside a
transaction that is rolled back).

This is a benchmark, not a test: it exits 0 unless the setup fails. The SQLite file lives in a
temporary directory under /tmp and the PostgreSQL database (``bench_retention``) is dropped at
the end, unless ``--keep`` is given (then a later run with the same -n reuses them, provided
their due index is the migrations' one).
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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import delete, event, func, insert, literal, select, update  # noqa: E402

from archive_app import create_app  # noqa: E402
from archive_app.accounts import users as accounts  # noqa: E402
from archive_app.accounts.models import User  # noqa: E402
from archive_app.audit.models import AuditEntry, AuditHead  # noqa: E402
from archive_app.commands import upgrade_database  # noqa: E402
from archive_app.extensions import db  # noqa: E402
from archive_app.intake.models import Customer, Record  # noqa: E402
from archive_app.retention import disposal  # noqa: E402
from archive_app.retention import schedule as retention  # noqa: E402
from archive_app.retention.models import DisposalBatch, DisposalItem  # noqa: E402
from bench.corpus import CITIES, PROJECTS, RECORD_TYPES, RETENTION, ROADS, make_id, make_name, make_phone  # noqa: E402

PG_BASE_URL = os.environ.get("ARCHIVE_BENCH_PG_URL", "postgresql+pg8000://postgres@127.0.0.1:5432/postgres")
PG_DB = "bench_retention"
KEEP_DIR = Path(tempfile.gettempdir()) / "bench-retention"
TARGET_S = 2.0
CHUNK = 20_000
BENCH_USER = "bench-archivist"
BENCH_PASSWORD = "bench-archivist-Passw0rd"
DEPARTMENTS = ["销售一部", "销售二部", "销售三部", "客服部", "渠道部", "大客户部"]

UTC = timezone.utc
BASE_TIME = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- data


CUSTOMER_COLS = ["id", "customer_no", "kind", "name", "phones", "id_number", "business_type", "grade",
                 "consultant_id", "department_id", "project", "unit", "address", "notes", "created_at",
                 "updated_at", "created_by_id", "deal_closed_on", "contract_ended_on", "last_contact_on"]
RECORD_COLS = ["id", "customer_id", "part", "item_no", "archival_code", "record_type", "title", "doc_date", "year",
               "retention_code", "secrecy", "location_room", "location_cabinet", "location_shelf", "location_box",
               "status", "created_by_id", "created_at", "updated_at", "reviewed_by_id", "reviewed_at",
               "disposal_date", "disposal_state", "disposal_basis", "on_hold", "keep_until", "keep_permanent",
               "destroyed_at"]
TYPES = list(RECORD_TYPES)
YEARS_OF = {"温馨卡": 3, "来电来访登记表": 3, "租赁合同": 10, "客户投诉处理表": 10, "满意度调查表": 10, "往来函件": 10}


def generate(n: int, seed: int, user_id: int, dept_ids: list[int]) -> Iterator[tuple[list[tuple], list[tuple]]]:
    """Customers and their records, in chunks of about CHUNK records (customers first). Deterministic."""
    rng = random.Random(seed)
    customers: list[tuple] = []
    records: list[tuple] = []
    rid = cid = 0
    while rid < n:
        cid += 1
        company = rng.random() < 0.05
        name = f"{make_name(rng)}置业有限公司" if company else make_name(rng)
        prov, city, districts = rng.choice(CITIES)
        no = f"C{cid:07d}"
        deal = date(rng.randint(2008, 2026), rng.randint(1, 12), rng.randint(1, 28)) if rng.random() < 0.7 else None
        created = BASE_TIME - timedelta(days=rng.randrange(0, 365 * 15), seconds=rng.randrange(86400))
        customers.append((
            cid, no, "company" if company else "person", name, make_phone(rng), None if company else make_id(rng),
            "购房", rng.choice("ABCD"), None, rng.choice(dept_ids), rng.choice(PROJECTS),
            f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(1, 33)}{rng.randint(1, 4):02d}室",
            f"{prov if prov != city else ''}{city}{rng.choice(districts)}{rng.choice(ROADS)}{rng.randint(1, 999)}号",
            "", created, created, user_id, deal, None, deal or created.date()))
        item_no: dict[int, int] = {}
        for _ in range(min(rng.randint(5, 10), n - rid)):
            rid += 1
            rtype = rng.choice(TYPES)
            part = RECORD_TYPES[rtype]
            item = item_no[part] = item_no.get(part, 0) + 1
            year = rng.randint(2008, 2026)
            doc_date = date(year, rng.randint(1, 12), rng.randint(1, 28))
            status, on_hold, ddate, destroyed_at = "filed", False, None, None
            u = rng.random()
            if u < 0.03:  # destroyed by an earlier batch: kept as a tombstone row
                status, state = "destroyed", "scheduled"
                ddate = date(rng.randint(2020, 2025), 1, 1)
                destroyed_at = datetime(ddate.year, 6, 30, 10, 0, tzinfo=UTC)
                basis = f"{rtype}：已于 {ddate.year} 年鉴定销毁"
            elif u < 0.04:
                state, on_hold, basis = "held", True, "诉讼保全（冻结）中，暂停计算保管期限"
            elif u < 0.74:
                state = "scheduled"
                ddate = date(rng.randint(2020, 2060), 1, 1)
                if rng.random() < 0.1:  # a hold's pause or a review's extension moved it off 1 January
                    ddate += timedelta(days=rng.randint(1, 364))
                years = YEARS_OF.get(rtype, 30)
                basis = (f"{rtype}：自成交日期 {ddate.year - years - 1}-06-30 起，年度终了后保管{years}年"
                         f"（保管期限表第1版）")
            elif u < 0.86:
                state, basis = "permanent", f"{rtype}：永久（保管期限表第1版）"
            else:
                state, basis = "awaiting_event", f"{rtype}：等待起算事件「成交日期」"
            ts = BASE_TIME - timedelta(days=rng.randrange(0, 365 * 10), seconds=rng.randrange(86400))
            records.append((
                rid, cid, part, item, f"0001-{year}-{RETENTION[part]}-{no}-{part}-{item:04d}", rtype, f"{name}{rtype}",
                doc_date, year, RETENTION[part], rng.choice((0, 1, 1, 2)), "一号库房", f"{rng.randint(1, 40)}号柜",
                f"{rng.randint(1, 6)}层", f"{year}-{rng.randint(1, 500):03d}", status, user_id, ts, ts, user_id, ts,
                ddate, state, basis, on_hold, None, False, destroyed_at))
        if len(records) >= CHUNK:
            yield customers, records
            customers, records = [], []
    if records or customers:
        yield customers, records


def _pg_text(v) -> str:
    if v is None:
        return "\\N"
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy(raw, table: str, cols: list[str], rows: list[tuple]) -> None:
    body = "".join("\t".join(_pg_text(v) for v in row) + "\n" for row in rows)
    cur = raw.cursor()
    cur.execute(f"COPY {table} ({', '.join(cols)}) FROM STDIN", stream=[body])
    cur.close()


def load(backend: str, n: int, seed: int) -> dict:
    """Migrate, create the user and departments, bulk-load; return timings and counts."""
    t0 = time.perf_counter()
    upgrade_database()
    t_migrate = time.perf_counter() - t0
    s = db.session
    user = accounts.create_user(s, username=BENCH_USER, password=BENCH_PASSWORD, role="archivist",
                                display_name="基准测试档案员", department="档案室")
    dept_ids = [accounts.get_or_create_department(s, d).id for d in DEPARTMENTS]
    s.commit()
    user_id = user.id
    db.session.remove()
    customers_t, records_t = Customer.__table__, Record.__table__
    t1 = time.perf_counter()
    n_cust = n_rec = 0
    gen_s = 0.0
    if backend == "sqlite":
        with db.engine.connect() as conn:
            # Load only: a big page cache and no fsync on this connection (disposed of afterwards).
            raw = conn.connection.driver_connection  # outside a transaction: pragmas need that
            raw.execute("PRAGMA cache_size=-262144")
            raw.execute("PRAGMA synchronous=OFF")
            it = generate(n, seed, user_id, dept_ids)
            while True:
                g = time.perf_counter()
                chunk = next(it, None)
                gen_s += time.perf_counter() - g
                if chunk is None:
                    break
                custs, recs = chunk
                with conn.begin():
                    if custs:
                        conn.execute(insert(customers_t), [dict(zip(CUSTOMER_COLS, c, strict=True)) for c in custs])
                    conn.execute(insert(records_t), [dict(zip(RECORD_COLS, r, strict=True)) for r in recs])
                n_cust += len(custs)
                n_rec += len(recs)
                progress(n_rec, n, t1)
    else:
        raw = db.engine.raw_connection()
        try:
            it = generate(n, seed, user_id, dept_ids)
            while True:
                g = time.perf_counter()
                chunk = next(it, None)
                gen_s += time.perf_counter() - g
                if chunk is None:
                    break
                custs, recs = chunk
                if custs:
                    _copy(raw, "customers", CUSTOMER_COLS, custs)
                _copy(raw, "records", RECORD_COLS, recs)
                raw.commit()
                n_cust += len(custs)
                n_rec += len(recs)
                progress(n_rec, n, t1)
            cur = raw.cursor()
            for table in ("customers", "records"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            raw.commit()
        finally:
            raw.close()
    print(file=sys.stderr)
    t_insert = time.perf_counter() - t1
    # History: the destroyed records came out of an executed batch, whose items stay.
    with db.engine.begin() as conn:
        bid = conn.execute(insert(DisposalBatch).values(
            batch_no="XH-2025-0001", due_by=date(2025, 12, 31), status="executed", created_by_id=user_id,
            created_at=BASE_TIME, decision_note="", method=disposal.METHOD, executed_by_id=user_id,
            finished_at=BASE_TIME).returning(DisposalBatch.id)).scalar_one()
        conn.execute(insert(DisposalItem).from_select(
            ["batch_id", "record_id", "due_on", "decision", "reason", "state", "error"],
            select(literal(bid), Record.id, Record.disposal_date, literal("destroy"), literal("已到保管期限"),
                   literal("destroyed"), literal("")).where(Record.status == "destroyed")))
    t2 = time.perf_counter()
    analyze(backend)
    t_analyze = time.perf_counter() - t2
    db.engine.dispose()
    return {"migrate_s": t_migrate, "insert_s": t_insert, "generate_s": gen_s, "analyze_s": t_analyze,
            "customers": n_cust, "records": n_rec}


def progress(done: int, n: int, t0: float) -> None:
    el = time.perf_counter() - t0
    print(f"\r  loaded {done:,}/{n:,} records in {el:.0f} s ({done / max(el, 1e-9):,.0f}/s)",
          end="", file=sys.stderr, flush=True)


def analyze(backend: str) -> None:
    if backend == "sqlite":
        with db.engine.connect() as conn:
            raw = conn.connection.driver_connection  # autocommit: the checkpoint needs no open transaction
            raw.execute("ANALYZE")
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        pg_autocommit("VACUUM ANALYZE")


def vacuum_after_cleanup(backend: str) -> None:
    """After deleting a run's batch: PostgreSQL reclaims the dead item rows (autovacuum would)."""
    if backend == "postgresql":
        pg_autocommit("VACUUM ANALYZE disposal_items, disposal_batches, audit_log, audit_head")


def pg_autocommit(sql: str) -> None:
    """VACUUM cannot run in a transaction block: a separate autocommit connection."""
    engine = sa.create_engine(db.engine.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- measuring


class StatementLog:
    """Every statement the engine runs while ``capture`` is on, with its parameters and duration."""

    def __init__(self, engine) -> None:
        self.on = False
        self.items: list[dict] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.items.append({"sql": statement, "params": parameters, "t0": time.perf_counter(), "s": None})

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self.on and self.items and self.items[-1]["sql"] == statement:
            self.items[-1]["s"] = time.perf_counter() - self.items[-1]["t0"]

    @contextmanager
    def capture(self):
        self.items = []
        self.on = True
        try:
            yield self.items
        finally:
            self.on = False


def _first_word(sql: str) -> str:
    return sql.lstrip().split(None, 1)[0].upper()


def _kind(sql: str) -> str:
    s = " ".join(sql.split())
    if s.startswith("INSERT INTO disposal_items"):
        return "insert…select items"
    if s.startswith("SELECT") and "FROM records" in s and "GROUP BY" in s:
        return "group by date"
    if "count(*)" in s and "FROM records" in s:
        return "count"
    if s.startswith("SELECT") and "FROM records" in s and "LIMIT" in s:
        return "first page"
    if "FROM customers" in s:
        return "page customers"
    return ""


def audit_state() -> tuple[int, str]:
    with db.engine.connect() as conn:
        return tuple(conn.execute(select(AuditHead.seq, AuditHead.last_hash).where(AuditHead.id == 1)).one())


def remove_batch(batch_id: int, head: tuple[int, str]) -> None:
    with db.engine.begin() as conn:
        conn.execute(delete(DisposalItem).where(DisposalItem.batch_id == batch_id))
        conn.execute(delete(DisposalBatch).where(DisposalBatch.id == batch_id))
        conn.execute(delete(AuditEntry).where(AuditEntry.seq > head[0]))
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=head[0], last_hash=head[1]))


def leftover_batches() -> None:
    """A kept database after an interrupted run: remove the bench's open batches."""
    with db.engine.connect() as conn:
        ids = list(conn.scalars(select(DisposalBatch.id).where(DisposalBatch.status == "reviewing")))
    for bid in ids:
        with db.engine.begin() as conn:
            conn.execute(delete(DisposalItem).where(DisposalItem.batch_id == bid))
            conn.execute(delete(DisposalBatch).where(DisposalBatch.id == bid))


# Beside the wall-clock times: all of SQLite's work (it runs in this process), only the client's
# share with PostgreSQL. Well under the wall time means the run waited for a shared CPU or the disk.
CPU_PART = "(CPU time of this process)"


def measure(backend: str, on: date, runs: int, log: StatementLog) -> dict:
    """Time the three operations; return {op: {"times": [...], ...}}."""
    out: dict[str, dict] = {}
    s = db.session
    user_id = s.scalar(select(User.id).where(User.username == BENCH_USER))
    db.session.remove()

    # (a) due list: count + first page (with customers)
    times, parts, due = [], {}, None
    for _ in range(runs):
        db.session.remove()
        with log.capture() as items:
            t, c = time.perf_counter(), time.process_time()
            total, rows = disposal.due_list(db.session, on, limit=100)
            times.append(time.perf_counter() - t)
            parts.setdefault(CPU_PART, []).append(time.process_time() - c)
        assert len(rows) == min(100, total) and all(r.customer is not None for r in rows)
        due = total
        db.session.rollback()
        for it in items:
            k = _kind(it["sql"])
            if k and it["s"] is not None:
                parts.setdefault(k, []).append(it["s"])
    out["due_list"] = {"times": times, "parts": parts, "due": due}

    # (b) create_batch: INSERT … SELECT of all due records + audit + commit; removed after each run
    times, parts, items_n = [], {}, None
    for i in range(runs):
        db.session.remove()
        head = audit_state()
        actor = db.session.get(User, user_id)
        now = BASE_TIME + timedelta(minutes=i)
        with log.capture() as items:
            t, c = time.perf_counter(), time.process_time()
            batch = disposal.create_batch(db.session, actor, on, now=now)
            db.session.commit()  # the request's unit of work
            times.append(time.perf_counter() - t)
            parts.setdefault(CPU_PART, []).append(time.process_time() - c)
        bid = batch.id
        items_n = db.session.scalar(select(func.count()).where(DisposalItem.batch_id == bid))
        db.session.remove()
        for it in items:
            k = _kind(it["sql"])
            if k and it["s"] is not None:
                parts.setdefault(k, []).append(it["s"])
        remove_batch(bid, head)
        vacuum_after_cleanup(backend)
    out["create_batch"] = {"times": times, "parts": parts, "items": items_n}

    # (c) the per-year overview
    times, years = [], None
    for _ in range(runs):
        db.session.remove()
        t = time.perf_counter()
        years = retention.due_counts_by_year(db.session)
        times.append(time.perf_counter() - t)
        db.session.rollback()
    out["due_counts_by_year"] = {"times": times, "years": years}
    db.session.remove()
    return out


def explain(backend: str, on: date, log: StatementLog) -> list[str]:
    """The plans of the statements due_list, create_batch and due_counts_by_year run."""
    user_id = db.session.scalar(select(User.id).where(User.username == BENCH_USER))
    db.session.remove()
    captured: list[dict] = []
    with log.capture() as items:
        disposal.due_list(db.session, on, limit=100)
        db.session.rollback()
        retention.due_counts_by_year(db.session)
        db.session.rollback()
    captured += items
    head = audit_state()
    with log.capture() as items:
        batch = disposal.create_batch(db.session, db.session.get(User, user_id), on, now=BASE_TIME)
    bid = batch.id
    db.session.remove()
    captured += [it for it in items if _first_word(it["sql"]) == "INSERT" and "disposal_items" in it["sql"]]
    remove_batch(bid, head)
    vacuum_after_cleanup(backend)

    lines: list[str] = []
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        for it in captured:
            kind = _kind(it["sql"])
            if kind not in ("count", "first page", "insert…select items", "group by date"):
                continue
            lines.append(f"-- {kind}: " + " ".join(it["sql"].split()))
            lines.append(f"   params: {it['params']!r}")
            if backend == "sqlite":
                cur.execute("EXPLAIN QUERY PLAN " + it["sql"], it["params"])
                depth: dict[int, int] = {0: 0}
                for node_id, parent, _unused, detail in cur.fetchall():
                    depth[node_id] = depth.get(parent, 0) + 1
                    lines.append("   " + "  " * depth[node_id] + detail)
            else:
                params = it["params"]
                if kind == "insert…select items":
                    # The run's batch is gone: insert (then roll back) under the earlier, executed batch.
                    cur.execute("SELECT id FROM disposal_batches WHERE batch_no = 'XH-2025-0001'")
                    params = (cur.fetchone()[0],) + tuple(params[1:])
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + it["sql"], params)
                lines += ["   " + r[0] for r in cur.fetchall()]
                raw.rollback()  # the INSERT … SELECT under EXPLAIN ANALYZE really ran
        cur.close()
        raw.rollback()
    finally:
        raw.close()
    return lines


# --------------------------------------------------------------------------- reporting


def fmt_row(label: str, times: list[float]) -> str:
    p50, mx = statistics.median(times), max(times)
    ok = "yes" if mx <= TARGET_S else ("p50 only" if p50 <= TARGET_S else "NO")
    return f"  {label:<44} {len(times):>4} {p50:>9.3f} {mx:>9.3f}   {ok}"


def fmt_part(label: str, times: list[float]) -> str:
    return f"  {'      ' + label:<44} {len(times):>4} {statistics.median(times):>9.3f} {max(times):>9.3f}"


def report(title: str, info: dict, res: dict) -> list[str]:
    n = info["records"]
    due = res["due_list"]["due"]
    items = res["create_batch"]["items"]
    lines = [f"== {title} ==",
             f"  schema: {info['schema']}",
             f"  records {n:,} of {info['customers']:,} customers; load {info['load_s']:.1f} s "
             f"({info['load_detail']})",
             f"  due by {info['on'].isoformat()}: {due:,} records ({100 * due / n:.1f} %); "
             f"create_batch put {items:,} items in the batch",
             f"  {'operation':<44} {'runs':>4} {'p50 (s)':>9} {'max (s)':>9}   ≤ {TARGET_S:g} s",
             fmt_row("(a) due_list(on, limit=100)", res["due_list"]["times"])]
    lines += [fmt_part(k, v) for k, v in sorted(res["due_list"]["parts"].items())]
    lines.append(fmt_row(f"(b) create_batch ({items:,} items, commit)", res["create_batch"]["times"]))
    lines += [fmt_part(k, v) for k, v in sorted(res["create_batch"]["parts"].items())]
    lines.append(fmt_row("(c) due_counts_by_year", res["due_counts_by_year"]["times"]))
    worst = max(max(res[k]["times"]) for k in ("due_list", "create_batch"))
    worst_c = max(res["due_counts_by_year"]["times"])
    lines.append(f"  {'PASS' if worst <= TARGET_S else 'FAIL'}: due list (a) and batch (b) ≤ {TARGET_S:g} s in every "
                 f"run (slowest {worst:.3f} s); overview (c) slowest {worst_c:.3f} s "
                 f"({'within' if worst_c <= TARGET_S else 'OVER'} {TARGET_S:g} s too)")
    return lines


def schema_summary() -> tuple[list[str], str]:
    """The due index's columns as found in the database, and a one-line description of the schema."""
    insp = sa.inspect(db.engine)
    due_cols = next((ix["column_names"] for ix in insp.get_indexes("records") if ix["name"] == "ix_records_due"), [])
    fks = insp.get_foreign_keys("disposal_items")
    item_ix = sorted({f"{ix['name']} ({', '.join(ix['column_names'])})" for ix in insp.get_indexes("disposal_items")}
                     | {f"{uq['name']} ({', '.join(uq['column_names'])})"
                        for uq in insp.get_unique_constraints("disposal_items")})
    return due_cols, (f"ix_records_due ({', '.join(due_cols) or 'MISSING'}); disposal_items: {len(fks)} foreign "
                      f"keys, indexes {', '.join(item_ix)}")


def model_due_columns() -> list[str]:
    idx = next(ix for ix in Record.__table__.indexes if ix.name == "ix_records_due")
    return [col.name for col in idx.columns]


# --------------------------------------------------------------------------- backends


@contextmanager
def backend_app(backend: str, n: int, keep: bool) -> Iterator[tuple[object, str, bool]]:
    """An app on a scratch database; yields (app, where, reused)."""
    if backend == "sqlite":
        if keep:
            KEEP_DIR.mkdir(exist_ok=True)
            folder = KEEP_DIR
        else:
            folder = Path(tempfile.mkdtemp(prefix="bench-retention-", dir=tempfile.gettempdir()))
        path = folder / f"retention-{n}.db"
        url = f"sqlite:///{path}"
        reused = keep and path.exists()
        where = str(path)
        admin = None
    else:
        admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB,)).scalar()
            if exists and not keep:
                conn.exec_driver_sql(f'DROP DATABASE "{PG_DB}" WITH (FORCE)')
            if not exists or not keep:
                conn.exec_driver_sql(f'CREATE DATABASE "{PG_DB}"')
        url = PG_BASE_URL.rsplit("/", 1)[0] + "/" + PG_DB
        reused = bool(exists and keep)
        folder = Path(tempfile.mkdtemp(prefix="bench-retention-pg-", dir=tempfile.gettempdir()))
        where = url
    app = create_app({"SECRET_KEY": "bench", "AUDIT_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url,
                      "DATA_DIR": str(folder), "STORAGE_BACKEND": "fs", "STORAGE_DIR": str(folder / "blobs"),
                      "FONDS_CODE": "0001"})
    try:
        with app.app_context():
            if reused:
                count = db.session.scalar(select(func.count()).select_from(Record))
                db.session.remove()
                if count != n:
                    raise SystemExit(f"the kept database {where} has {count:,} records, not {n:,}: "
                                     f"run without --keep once to rebuild it")
        yield app, where, reused
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if backend == "sqlite":
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)
            if not keep:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            admin.dispose()


def run_backend(backend: str, args) -> list[str]:
    on = args.on
    out: list[str] = []
    with backend_app(backend, args.n, args.keep) as (app, where, reused):
        with app.app_context():
            if db.engine.dialect.name == "sqlite":
                version = "SQLite " + db.session.scalar(sa.text("SELECT sqlite_version()"))
            else:
                version = db.session.scalar(sa.text("SELECT version()")).split(" on ")[0]
            db.session.remove()
            print(f"[{backend}] {version}, database {where}", file=sys.stderr)
            if reused:
                due_cols, _ = schema_summary()
                if due_cols != model_due_columns():
                    raise SystemExit(f"the kept database {where} has ix_records_due ({', '.join(due_cols)}), not the "
                                     f"migrations' ({', '.join(model_due_columns())}): run --drop-kept, then rerun")
                leftover_batches()
                analyze(backend)
                info = {"records": db.session.scalar(select(func.count()).select_from(Record)),
                        "customers": db.session.scalar(select(func.count()).select_from(Customer)),
                        "load_s": 0.0, "load_detail": "reused a kept database"}
                db.session.remove()
            else:
                t = time.perf_counter()
                ld = load(backend, args.n, args.seed)
                info = {"records": ld["records"], "customers": ld["customers"], "load_s": time.perf_counter() - t,
                        "load_detail": f"migrations {ld['migrate_s']:.1f} s, generate {ld['generate_s']:.1f} s + "
                                       f"insert {ld['insert_s'] - ld['generate_s']:.1f} s, "
                                       f"{'ANALYZE' if backend == 'sqlite' else 'VACUUM ANALYZE'} "
                                       f"{ld['analyze_s']:.1f} s"}
            info["on"] = on
            info["schema"] = schema_summary()[1]
            log = StatementLog(db.engine)
            print(f"[{backend}] measuring ({args.runs} runs each) …", file=sys.stderr)
            res = measure(backend, on, args.runs, log)
            out += report(f"{version} — {args.n:,} records", info, res)
            if args.explain:
                out.append("  plans:")
                out += ["  " + ln for ln in explain(backend, on, log)]
            if args.verbose_years:
                out.append("  due_counts_by_year: " + ", ".join(f"{y}: {c:,}" for y, c in
                                                                 res["due_counts_by_year"]["years"]))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=1_000_000, help="records (default 1,000,000)")
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--keep", action="store_true", help="keep the database (and reuse a kept one with the same -n)")
    p.add_argument("--explain", action="store_true", help="print the plans of the due-list and batch statements")
    p.add_argument("--runs", type=int, default=5, help="timed runs of each operation (default 5)")
    p.add_argument("--on", type=date.fromisoformat, default=date(2026, 12, 31), help="due date (default 2026-12-31)")
    p.add_argument("--seed", type=int, default=20261231, help="data generator seed")
    p.add_argument("--verbose-years", action="store_true", help="print the per-year counts")
    p.add_argument("--drop-kept", action="store_true", help="remove the databases kept by --keep, and exit")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    if args.drop_kept:
        shutil.rmtree(KEEP_DIR, ignore_errors=True)
        admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        admin.dispose()
        print(f"removed {KEEP_DIR} and database {PG_DB}")
        return 0
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"bench/retention.py: {args.n:,} records, due by {args.on.isoformat()}, {args.runs} runs, "
          f"{os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for backend in backends:
        lines = run_backend(backend, args)
        print("\n".join(lines), flush=True)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
