"""Benchmark of search_index (Whoosh, and/or its PostgreSQL backend) against SQLite FTS5 (trigram)
on the same corpus and queries.

    .venv/bin/python bench/search.py                 # N = 100,000
    .venv/bin/python bench/search.py --million       # N = 1,000,000
    .venv/bin/python bench/search.py -n 20000 --procs 2 --queries 300
    .venv/bin/python bench/search.py --backend postgres --skip-fts   # the tables in PostgreSQL
    .venv/bin/python bench/search.py --backend both --skip-fts       # Whoosh then PostgreSQL, same queries
    .venv/bin/python bench/search.py --backend both --skip-fts --dir D --keep      # keep both indexes, then
    .venv/bin/python bench/search.py --backend both --skip-fts --dir D --reuse --pg-url URL   # query them again

``--backend postgres`` creates a database beside ARCHIVE_TEST_PG_URL's (or uses --pg-url),
migrates it, writes the records with the backend's bulk writer and drops it at the end unless
--keep; its size is the tables' and their indexes' (pg_total_relation_size). Its CPU figure is
this process's only (the server's CPU is not in it).

Prints indexing records/s, index size, p50/p95/p99 search latency (page 1, 20 hits with snippets,
as a user with a permission filter), peak RSS; then the same for FTS5 and the ratios.

FTS5 translation: text chunks of >= 3 characters are FTS5 phrases on the trigram index (exact
substring, like ours); chunks of 1-2 characters cannot use a trigram index, so they become
``LIKE '%x%'`` over the text columns (a scan); phone/ID tails match the ``nums`` column (trigram
substring of the space-separated keys); pinyin is a phrase on the ``py`` column; 档号 a phrase on
``codes``. Permissions and filters are plain columns of the same table.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import iter_records  # noqa: E402
from search_index import Access, CustomerDoc, SearchIndex, SearchRequest, normalise  # noqa: E402
from search_index.analysis import phone_id_keys, pinyin_keys  # noqa: E402
from search_index.postgres_backend import TABLES, PostgresSearchIndex  # noqa: E402

ACCESS = Access(max_secrecy=2, department_ids=frozenset({1, 2, 3, 4}))


def rss_mb() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return me, kids


def rss_now() -> str:
    """Current RSS split: anonymous (heap) vs file-backed (mmapped index pages, page cache)."""
    try:
        st = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    except OSError:
        return ""
    mb = lambda k: int(st.get(k, "0 kB").split()[0]) / 1024  # noqa: E731
    return f"now RSS {mb('VmRSS'):.0f} MB = anon {mb('RssAnon'):.0f} + file-backed {mb('RssFile'):.0f}"


def cpu_s() -> float:
    """CPU seconds of this process and its finished children (writer processes): the figures
    that do not depend on what else runs on the machine."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


_CONTRACT_RE = re.compile(r"HT-\d{4}-\d{4}")
_RECEIPT_RE = re.compile(r"No\.\d{7}")
_TRAIN_RE = re.compile(r"车次([GDKTZ]\d+)")


def _codes(content: str) -> tuple[str, str, str]:
    """The contract, receipt and train numbers ``bench.corpus`` printed in a record's text."""
    return (_CONTRACT_RE.search(content).group(), _RECEIPT_RE.search(content).group(),
            _TRAIN_RE.search(content).group(1))


def make_queries(samples, rng: random.Random, count: int) -> list[tuple[str, SearchRequest]]:
    kinds = []
    for doc, c in samples:
        name = c.name
        given = name[-2:] if len(name) >= 3 else name
        kinds.append(("given2", SearchRequest(text=given)))
        kinds.append(("fullname", SearchRequest(text=name)))
        py = sorted(pinyin_keys(name), key=len)
        if py:
            kinds.append(("pinyin", SearchRequest(text=py[-1])))
            kinds.append(("initials", SearchRequest(text=py[0])))
        kinds.append(("phone4", SearchRequest(text=c.phones[0][-4:])))
        kinds.append(("phone", SearchRequest(text=c.phones[0])))
        if c.id_number:
            kinds.append(("id6", SearchRequest(text=c.id_number[-6:])))
        road = c.address[-8:]
        kinds.append(("address", SearchRequest(text=road)))
        kinds.append(("project+unit", SearchRequest(text=f"{c.project} {c.unit.split('栋')[0]}栋")))
        kinds.append(("code", SearchRequest(text=doc.archival_code)))
        kinds.append(("code-prefix", SearchRequest(text=doc.archival_code[:22])))
        contract, receipt, train = _codes(doc.content)
        kinds.append(("code-typed", SearchRequest(text=contract)))
        kinds.append(("train", SearchRequest(text=train)))
        kinds.append(("receipt-digits", SearchRequest(text=receipt[3:])))
        kinds.append(("digit-tail", SearchRequest(text=receipt[-4:])))
        kinds.append(("dh-prefix", SearchRequest(text=doc.archival_code[:9])))
        kinds.append(("dh-compact", SearchRequest(text=doc.archival_code[:14].replace("-", ""))))
        # 客户号 as typed, in lower case (prefix search is case-insensitive)
        kinds.append(("customer-no", SearchRequest(text=c.customer_no.lower())))
        if c.kind == "company":
            kinds.append(("company", SearchRequest(text=c.name[3:9])))
        body = doc.content.split("\n")[-1]
        start = rng.randrange(0, max(1, len(body) - 12))
        phrase = "".join(ch for ch in body[start:start + rng.randint(4, 10)] if not ch.isspace())
        kinds.append(("seed-phrase", SearchRequest(text=phrase)))
        kinds.append(("common+filters", SearchRequest(text="客户", record_type=doc.record_type,
                                                       year_from=doc.year - 1, year_to=doc.year)))
        kinds.append(("name+tail", SearchRequest(text=f"{name[0]} {c.phones[0][-4:]}")))
        kinds.append(("filters-only-date", SearchRequest(customer_id=doc.customer_id, sort="date")))
        kinds.append(("control", SearchRequest(text="齉龘" + str(rng.randrange(10**6)))))
    rng.shuffle(kinds)
    # keep the mix balanced: round-robin over kinds
    by_kind: dict[str, list] = {}
    for k, r in kinds:
        by_kind.setdefault(k, []).append((k, r))
    out = []
    while len(out) < count and any(by_kind.values()):
        for k in list(by_kind):
            if by_kind[k] and len(out) < count:
                out.append(by_kind[k].pop())
    return out


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summary(label, lat_ms):
    return (f"{label}: p50 {pct(lat_ms, 50):.1f} ms  p95 {pct(lat_ms, 95):.1f} ms  "
            f"p99 {pct(lat_ms, 99):.1f} ms  mean {statistics.mean(lat_ms):.1f} ms")


# ---------------------------------------------------------------------------------------------
# FTS5

FTS_COLS = ["name", "title", "address", "project", "unit", "content", "nums", "codes", "py"]
TEXT_COLS = ["name", "title", "address", "project", "unit", "content"]


def fts_build(path: Path, n: int, seed: int) -> tuple[float, int]:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute(f"CREATE VIRTUAL TABLE fts USING fts5({', '.join(FTS_COLS)}, "
                "record_id UNINDEXED, secrecy UNINDEXED, dept UNINDEXED, year UNINDEXED, "
                "record_type UNINDEXED, customer_id UNINDEXED, sort_date UNINDEXED, "
                "tokenize='trigram')")
    t0 = time.perf_counter()
    batch = []
    for doc, _c in iter_records(n, seed=seed):
        nums = set()
        for p in doc.phones:
            nums |= phone_id_keys(p)
        nums |= phone_id_keys(doc.id_number)
        batch.append((normalise(doc.customer_name), normalise(doc.title), normalise(doc.address),
                      normalise(doc.project), normalise(doc.unit), normalise(doc.content),
                      " ".join(sorted(nums)), normalise(f"{doc.archival_code} {doc.customer_no}"),
                      " ".join(sorted(pinyin_keys(doc.customer_name))),
                      doc.record_id, doc.secrecy, doc.department_id if doc.department_id else -1,
                      doc.year, doc.record_type, doc.customer_id, doc.doc_date.isoformat()))
        if len(batch) >= 5000:
            con.executemany(f"INSERT INTO fts VALUES ({', '.join('?' * 16)})", batch)
            batch.clear()
    if batch:
        con.executemany(f"INSERT INTO fts VALUES ({', '.join('?' * 16)})", batch)
    con.commit()
    dt = time.perf_counter() - t0
    con.close()
    return dt, path.stat().st_size


def fts_translate(req: SearchRequest):
    match_parts: list[str] = []
    where: list[str] = []
    args: list = []
    text = normalise(req.text).strip()
    for chunk in req.text.split():
        c = normalise(chunk).strip()
        if not c:
            continue
        low = c.lower()
        digits = low.replace("-", "")
        if digits.isdigit() and len(digits) >= 4:
            match_parts.append(f'nums : "{digits}"')
        elif low[:4].isdigit() and "-" in low:
            match_parts.append(f'codes : "{low}"')
        elif low.isascii() and low.isalpha():
            if len(low) >= 3:
                match_parts.append(f'(py : "{low}" OR content : "{low}")')
            else:
                where.append("py LIKE ?")
                args.append(f"%{low}%")
        elif len(c) >= 3:
            match_parts.append("{" + " ".join(TEXT_COLS) + "} : \"" + c.replace('"', '""') + '"')
        else:
            where.append("(" + " OR ".join(f"{col} LIKE ?" for col in TEXT_COLS) + ")")
            args.extend([f"%{c}%"] * len(TEXT_COLS))
    del text
    if match_parts:
        where.insert(0, "fts MATCH ?")
        args.insert(0, " AND ".join(match_parts))
    if req.record_type:
        where.append("record_type = ?")
        args.append(req.record_type)
    if req.year_from is not None:
        where.append("year >= ?")
        args.append(req.year_from)
    if req.year_to is not None:
        where.append("year <= ?")
        args.append(req.year_to)
    if req.customer_id is not None:
        where.append("customer_id = ?")
        args.append(req.customer_id)
    where.append("secrecy <= ?")
    args.append(ACCESS.max_secrecy)
    where.append(f"dept IN ({', '.join(str(d) for d in sorted(ACCESS.department_ids))})")
    order = "sort_date DESC" if req.sort == "date" or not match_parts else "bm25(fts)"
    snippet = "snippet(fts, 5, '<mark>', '</mark>', '…', 16)" if match_parts else "substr(content, 1, 60)"
    cond = " AND ".join(where)
    return (f"SELECT count(*) FROM fts WHERE {cond}", args,
            f"SELECT record_id, {snippet} FROM fts WHERE {cond} ORDER BY {order} LIMIT 20", args)


def fts_search(con, req: SearchRequest):
    count_sql, a1, page_sql, a2 = fts_translate(req)
    total = con.execute(count_sql, a1).fetchone()[0]
    rows = con.execute(page_sql, a2).fetchall()
    return total, rows


# ---------------------------------------------------------------------------------------------


def pg_database(url: str | None, keep: bool, reuse: bool = False):
    """(engine, drop) of a migrated database for the PostgreSQL backend; with ``reuse`` (and a
    ``url``) the rows already written there are kept and queried."""
    import uuid

    import sqlalchemy as sa

    from archive_app import create_app
    from archive_app.commands import upgrade_database
    from archive_app.extensions import db

    base = os.environ.get("ARCHIVE_TEST_PG_URL", "postgresql+pg8000://postgres@127.0.0.1:5432/test")
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    name = None
    if url is None:
        name = f"bench_search_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = base.rsplit("/", 1)[0] + "/" + name
    tmp = tempfile.mkdtemp(prefix="bench-search-app-")
    app = create_app({"SECRET_KEY": "b", "AUDIT_KEY": "b", "SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": tmp,
                      "STORAGE_BACKEND": "fs", "STORAGE_DIR": tmp + "/b"})
    with app.app_context():
        upgrade_database()
        db.engine.dispose()
    engine = sa.create_engine(url)
    if keep:
        print(f"PostgreSQL database kept: --pg-url {url}", flush=True)
    if not (reuse and name is None):
        with engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)}")

    def drop() -> None:
        engine.dispose()
        if name is not None and not keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
        shutil.rmtree(tmp, ignore_errors=True)

    return engine, drop


def pg_size(engine) -> int:
    with engine.connect() as conn:
        return sum(int(conn.exec_driver_sql(f"SELECT pg_total_relation_size('{t}')").scalar())
                   for t in TABLES)


def run_backend(backend: str, args, n: int, work: Path, ixdir: Path, rng: random.Random,
                sample_every: int, queries):
    """Index the corpus into one backend and time the queries (made here on the first backend,
    the same ones on the next). Returns the queries."""
    label = "Whoosh" if backend == "whoosh" else "PostgreSQL"
    drop = None
    if backend == "whoosh":
        ix = SearchIndex.open(ixdir)
    else:
        engine, drop = pg_database(args.pg_url, args.keep, args.reuse)
        ix = PostgresSearchIndex.on_engine(engine)
    samples: list = []
    t0 = time.perf_counter()

    cpu0 = cpu_s()
    done = 0

    customers = 0

    def stream():
        nonlocal done, customers
        last_cid = 0
        for doc, c in iter_records(n, seed=args.seed):
            if c.customer_id != last_cid:  # each customer's own document too, as the app indexes it
                last_cid = c.customer_id
                customers += 1
                yield CustomerDoc(c.customer_id, c.customer_no, c.name, list(c.phones), c.id_number,
                                  c.department_id, datetime(2026, 1, 1))
            if doc.record_id % sample_every == 0 and doc.secrecy <= ACCESS.max_secrecy and \
                    doc.department_id in ACCESS.department_ids:
                samples.append((doc, c))
            done += 1
            if done % 20_000 == 0:
                el = time.perf_counter() - t0
                print(f"  indexed {done:,} in {el:.0f} s ({done / el:.0f} rec/s), "
                      f"RSS peak self/children {rss_mb()[0]:.0f}/{rss_mb()[1]:.0f} MB", flush=True)
            yield doc

    if args.reuse and (backend == "whoosh" or args.pg_url):
        for _ in stream():
            pass
        print("(index reused: indexing figures are those of the run that built it)")
    else:
        with ix.bulk_writer(limitmb=args.limitmb, procs=args.procs,
                            commit_every=max(50_000, n // 10)) as bw:
            bw.add(stream())
    index_s = time.perf_counter() - t0
    index_cpu = cpu_s() - cpu0
    if backend == "postgres" and not args.reuse:
        ix.optimize()  # ANALYZE: the planner's statistics of the new rows
    if not args.reuse and backend == "whoosh":
        # queries are timed on an index at rest, not while the kernel writes 5 GB back (at 1M
        # the sync takes under a second: that was not why p95 here is ~160 ms against 81-96 ms
        # when --reuse queries the same index from a new process; see README)
        ts = time.perf_counter()
        os.sync()
        print(f"index written back to disk (sync) in {time.perf_counter() - ts:.1f} s", flush=True)
    size = dir_size(ixdir) if backend == "whoosh" else pg_size(engine)
    rss_index = rss_mb()
    print(f"{label} index: {n:,} records in {index_s:.1f} s = {n / index_s:,.0f} records/s; "
          f"size {size / 2**20:,.1f} MiB ({size / n:,.0f} B/record); docs {ix.doc_count():,} "
          f"records + {customers:,} customers; "
          f"{index_cpu:.0f} CPU s (all processes) = {n / max(index_cpu, 1e-9):,.0f} records per "
          f"CPU-second", flush=True)

    if queries is None:
        queries = make_queries(samples, rng, args.queries)
    # warm-up: open the searcher, build the permission set (cached per searcher)
    ix.search(SearchRequest(text="客户"), ACCESS)
    lat: list[float] = []
    cpu_lat: list[float] = []
    cust_lat: list[float] = []
    by_kind: dict[str, list[float]] = {}
    cpu_by_kind: dict[str, list[float]] = {}
    totals: dict[str, list[int]] = {}
    for kind, req in queries:
        t = time.perf_counter()
        c = time.process_time()
        res = ix.search(req, ACCESS)
        ms = (time.perf_counter() - t) * 1000
        cpu_lat.append((time.process_time() - c) * 1000)
        cpu_by_kind.setdefault(kind, []).append(cpu_lat[-1])
        lat.append(ms)
        by_kind.setdefault(kind, []).append(ms)
        totals.setdefault(kind, []).append(res.total)
        if req.text:  # the app asks for the customers the text names too, in the same request
            t = time.perf_counter()
            ix.search_customers(req.text, ACCESS)
            cust_lat.append((time.perf_counter() - t) * 1000)
    rss_search = rss_mb()
    print(f"{len(queries)} queries as {ACCESS}")
    print(summary(label, lat))
    print(summary(f"{label} (CPU time of this process, same queries)", cpu_lat))
    print(summary(f"{label} customers the same texts name (search_customers)", cust_lat))
    for kind, v in sorted(by_kind.items()):
        print(f"    {kind:18s} n={len(v):3d}  p50 {pct(v, 50):7.1f}  p95 {pct(v, 95):7.1f}  "
              f"p99 {pct(v, 99):7.1f}  max {max(v):7.1f} ms  CPU p95 {pct(cpu_by_kind[kind], 95):6.1f}  "
              f"median total {statistics.median(totals[kind]):.0f}")
    print(f"peak RSS: indexing self {rss_index[0]:.0f} MB, writer children {rss_index[1]:.0f} MB; "
          f"after searching self {rss_search[0]:.0f} MB; {rss_now()}", flush=True)
    ix.close()
    if drop is not None:
        drop()
    return queries, lat, n / index_s, size



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--million", action="store_true", help="N = 1,000,000")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--procs", type=int, default=2, help="Whoosh writer processes")
    # 1024: each writer process holds ~4x more records per segment than with 256 (4 segments at
    # 100k instead of 8): every query pays a fixed cost per segment (p95 at 100k: ~33 vs ~40 ms)
    ap.add_argument("--limitmb", type=int, default=1024, help="posting pool per writer process")
    ap.add_argument("--dir", default=None, help="work folder (default: a temp folder, removed)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the Whoosh index and FTS file already in --dir, and the PostgreSQL "
                    "database of --pg-url (queries only)")
    ap.add_argument("--skip-fts", action="store_true")
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--backend", choices=("whoosh", "postgres", "both"), default="whoosh")
    ap.add_argument("--pg-url", default=None, help="PostgreSQL database holding migration 0019 (default: "
                    "a new one, dropped at the end)")
    args = ap.parse_args()
    n = 1_000_000 if args.million else args.n
    work = Path(args.dir or tempfile.mkdtemp(prefix="bench-search-"))
    work.mkdir(parents=True, exist_ok=True)
    ixdir = work / "whoosh"
    if ixdir.exists() and not args.reuse:
        shutil.rmtree(ixdir)
    rng = random.Random(args.seed)
    sample_every = max(1, n // 120)
    print(f"N = {n:,}  procs = {args.procs}  limitmb = {args.limitmb}  work = {work}", flush=True)

    backends = ["whoosh", "postgres"] if args.backend == "both" else [args.backend]
    queries = None
    for backend in backends:
        queries, lat, index_rate, size = run_backend(backend, args, n, work, ixdir, rng, sample_every, queries)
    if not args.skip_fts:
        fpath = work / "fts.sqlite"
        if args.reuse and fpath.exists():
            fts_s, fsize = float("nan"), fpath.stat().st_size
        else:
            if fpath.exists():
                fpath.unlink()
            fts_s, fsize = fts_build(fpath, n, args.seed)
        print(f"FTS5 trigram: {n:,} records in {fts_s:.1f} s = {n / fts_s:,.0f} records/s; "
              f"size {fsize / 2**20:,.1f} MiB", flush=True)
        con = sqlite3.connect(fpath)
        flat: list[float] = []
        fby: dict[str, list[float]] = {}
        for kind, req in queries:
            t = time.perf_counter()
            fts_search(con, req)
            ms = (time.perf_counter() - t) * 1000
            flat.append(ms)
            fby.setdefault(kind, []).append(ms)
        print(summary("FTS5", flat))
        for kind, v in sorted(fby.items()):
            print(f"    {kind:18s} n={len(v):3d}  p50 {pct(v, 50):7.1f}  p95 {pct(v, 95):7.1f}  "
                  f"max {max(v):7.1f} ms")
        print(f"ratio {backends[-1]}/FTS5: indexing rec/s {index_rate / (n / fts_s):.2f}x, "
              f"size {size / fsize:.2f}x, p50 {pct(lat, 50) / pct(flat, 50):.2f}x, "
              f"p95 {pct(lat, 95) / pct(flat, 95):.2f}x, p99 {pct(lat, 99) / pct(flat, 99):.2f}x")
        print(f"peak RSS (whole run) {rss_mb()[0]:.0f} MB")
        con.close()
    print("targets: p95 <= 30 ms at 100k, <= 150 ms at 1M; >= 1,000 records/s; 1M reindex <= 20 min, "
          "RSS <= 1.5 GB")
    if not args.keep and not args.dir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
