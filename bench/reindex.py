"""Benchmark of `archive reindex` (database -> search index) at scale.

    .venv/bin/python bench/reindex.py                      # 1,000,000 records
    .venv/bin/python bench/reindex.py -n 50000 --procs 1   # smaller, one writer process
    .venv/bin/python bench/reindex.py --dir /tmp/reindex1m --reuse-db   # time the rebuild again

1. Builds (or reuses) a SQLite database of N realistic records with the app's own tables
   (migrated like the app does, then bulk-inserted with SQLAlchemy core: customers, records, one
   file per record, its pages' text from bench/corpus.py).
2. In a fresh process (so its peak RSS is the rebuild's alone), creates the app on that database
   (ARCHIVE_* settings, like tests/conftest.py) and times
   :func:`archive_app.finding.search.rebuild_index` into an empty index folder.

Prints records/s, wall and CPU time, peak RSS of the rebuilding process and of its writer
processes, and the index size. Targets (issue 3): 1M records in <= 20 min, peak RSS <= 1.5 GB.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROWS_PER_INSERT = 5000
DEPARTMENTS = 6


def app_config(work: Path) -> dict:
    """The app's settings for a bench folder (SQLite file, fs storage, index folder)."""
    return {"SECRET_KEY": "bench", "AUDIT_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{work / 'archive.db'}",
            "DATA_DIR": str(work), "STORAGE_BACKEND": "fs", "STORAGE_DIR": str(work / "blobs"),
            "INDEX_DIR": str(work / "index")}


def _flush(conn, table, rows: list[dict]) -> None:
    if rows:
        conn.execute(table.insert(), rows)
        rows.clear()


def build_db(work: Path, n: int, seed: int) -> float:
    """Create and fill the database; returns the seconds it took."""
    from archive_app import create_app
    from archive_app.accounts.models import Department, User
    from archive_app.commands import upgrade_database
    from archive_app.extensions import db
    from archive_app.intake.models import Customer, FilePage, Record, RecordFile
    from bench.corpus import iter_records

    t0 = time.perf_counter()
    app = create_app(app_config(work))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with app.app_context():
        upgrade_database()
        with db.engine.begin() as conn:
            # one transaction for everything: one fsync at the end
            conn.execute(Department.__table__.insert(),
                         [{"id": i, "name": f"部门{i}"} for i in range(1, DEPARTMENTS + 1)])
            conn.execute(User.__table__.insert(), [{
                "id": 1, "username": "bench", "display_name": "bench", "password_hash": "x",
                "role": "admin", "clearance": 3, "created_at": now}])
            customers, records, files, pages = [], [], [], []
            seen: set[int] = set()
            for doc, c in iter_records(n, seed=seed):
                if c.customer_id not in seen:
                    seen.add(c.customer_id)
                    customers.append({
                        "id": c.customer_id, "customer_no": c.customer_no, "kind": c.kind,
                        "name": c.name, "phones": ",".join(c.phones), "id_number": c.id_number,
                        "grade": doc.grade, "department_id": c.department_id,
                        "project": c.project, "unit": c.unit, "address": c.address,
                        "created_at": now, "updated_at": now})
                records.append({
                    "id": doc.record_id, "customer_id": doc.customer_id, "part": doc.part,
                    "item_no": int(doc.archival_code.rsplit("-", 1)[1]),
                    "archival_code": doc.archival_code, "record_type": doc.record_type,
                    "title": doc.title, "doc_date": doc.doc_date, "year": doc.year,
                    "retention_code": doc.archival_code.split("-")[2], "secrecy": doc.secrecy,
                    "status": doc.status, "created_by_id": 1, "created_at": now,
                    "updated_at": doc.updated_at.replace(tzinfo=UTC)})
                texts = doc.content.split("\f")
                files.append({
                    "id": doc.record_id, "record_id": doc.record_id,
                    "object_key": f"bench/{doc.record_id}", "sha256": "0" * 64,
                    "size": len(doc.content.encode("utf-8")), "mime_type": "application/pdf",
                    "original_name": f"{doc.record_id}.pdf", "page_count": len(texts),
                    "uploaded_by_id": 1, "created_at": now, "extract_status": "done",
                    "pages_done": len(texts)})
                pages.extend({"file_id": doc.record_id, "page_no": i + 1, "text": t,
                              "source": "ocr"} for i, t in enumerate(texts))
                if len(records) >= ROWS_PER_INSERT:
                    # parents first: the foreign keys are enforced
                    for table, rows in ((Customer.__table__, customers),
                                        (Record.__table__, records),
                                        (RecordFile.__table__, files),
                                        (FilePage.__table__, pages)):
                        _flush(conn, table, rows)
                    if doc.record_id % 100_000 < ROWS_PER_INSERT:
                        print(f"  database: {doc.record_id:,} records "
                              f"({time.perf_counter() - t0:.0f} s)", flush=True)
            for table, rows in ((Customer.__table__, customers), (Record.__table__, records),
                                (RecordFile.__table__, files), (FilePage.__table__, pages)):
                _flush(conn, table, rows)
        db.engine.dispose()
    return time.perf_counter() - t0


def _cpu_s() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def run_reindex(work: Path, batch: int, procs: int, limitmb: int) -> dict:
    """Time rebuild_index into an empty index folder (run in a fresh process)."""
    from archive_app import create_app
    from archive_app.extensions import db
    from archive_app.finding.search import rebuild_index
    from search_index import SearchIndex

    ixdir = work / "index"
    shutil.rmtree(ixdir, ignore_errors=True)
    app = create_app(app_config(work))
    with app.app_context():
        index = SearchIndex.open(ixdir)
        t0 = time.perf_counter()
        cpu0 = _cpu_s()

        def progress(done: int, total: int) -> None:
            if done % 100_000 < batch:
                el = time.perf_counter() - t0
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(f"  reindexed {done:,}/{total:,} in {el:.0f} s ({done / el:,.0f} rec/s), "
                      f"peak RSS {rss:.0f} MB", flush=True)

        count = rebuild_index(db.session, index, batch=batch, progress=progress, procs=procs,
                              limitmb=limitmb)
        wall = time.perf_counter() - t0
        cpu1 = _cpu_s()
        docs = index.doc_count()
        index.close()
    return {"records": count, "docs": docs, "wall_s": wall,
            "cpu_self_s": cpu1[0] - cpu0[0], "cpu_children_s": cpu1[1] - cpu0[1],
            "peak_rss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_rss_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "index_bytes": sum(f.stat().st_size for f in ixdir.rglob("*") if f.is_file())}


def report(r: dict, procs: int) -> None:
    n = r["records"]
    cpu = r["cpu_self_s"] + r["cpu_children_s"]
    print(f"reindex: {n:,} records ({r['docs']:,} documents) in {r['wall_s']:.1f} s "
          f"= {r['wall_s'] / 60:.1f} min = {n / r['wall_s']:,.0f} records/s; "
          f"CPU {cpu:.0f} s ({n / max(cpu, 1e-9):,.0f} records per CPU-second)")
    total_rss = r["peak_rss_self_mb"] + procs * r["peak_rss_children_mb"] if procs > 1 \
        else r["peak_rss_self_mb"]
    print(f"peak RSS: rebuilding process {r['peak_rss_self_mb']:.0f} MB, largest writer process "
          f"{r['peak_rss_children_mb']:.0f} MB (x{procs if procs > 1 else 0}); "
          f"at most {total_rss:.0f} MB together")
    print(f"index size {r['index_bytes'] / 2**20:,.1f} MiB")
    print("targets: 1M reindex <= 20 min, peak RSS <= 1.5 GB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--dir", default="/tmp/bench-reindex", help="work folder (kept)")
    ap.add_argument("--reuse-db", action="store_true", help="keep the database already in --dir")
    ap.add_argument("--batch", type=int, default=1000, help="records read per batch")
    ap.add_argument("--procs", type=int, default=2, help="index writer processes")
    ap.add_argument("--limitmb", type=int, default=400, help="posting pool per writer process")
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--reindex-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.dir)
    if args.reindex_only:  # the child: print the figures as JSON for the parent
        print("RESULT " + json.dumps(run_reindex(work, args.batch, args.procs, args.limitmb)),
              flush=True)
        return
    dbfile = work / "archive.db"
    if not (args.reuse_db and dbfile.exists()):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        print(f"building a database of {args.n:,} records in {work} ...", flush=True)
        secs = build_db(work, args.n, args.seed)
        print(f"database: {args.n:,} records in {secs:.0f} s, "
              f"{dbfile.stat().st_size / 2**20:,.0f} MiB", flush=True)
    cmd = [sys.executable, __file__, "--reindex-only", "--dir", str(work), "--batch",
           str(args.batch), "--procs", str(args.procs), "--limitmb", str(args.limitmb)]
    print(f"rebuild_index: batch {args.batch}, procs {args.procs}, limitmb {args.limitmb}",
          flush=True)
    result = None
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=os.environ.copy()) as proc:
        for line in proc.stdout:
            if line.startswith("RESULT "):
                result = json.loads(line[len("RESULT "):])
            else:
                print(line, end="", flush=True)
    if proc.returncode or result is None:
        sys.exit(f"rebuild failed (exit {proc.returncode})")
    report(result, args.procs)


if __name__ == "__main__":
    main()
