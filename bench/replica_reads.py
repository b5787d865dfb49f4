"""What reading from a replica costs and how far behind it is: a primary and a standby on this machine.

    .venv/bin/python bench/replica_reads.py            # 500 rounds
    .venv/bin/python bench/replica_reads.py -n 2000

Starts the pair the tests use (``tests/replica_cluster.py``: initdb, pg_basebackup -R, both on free
ports, durability off) and times, through ``archive_app.replica_reads``:

- the start of the pair (initdb to a standby accepting queries);
- ``ReadRouter.choose`` for a user who never wrote (one primary lookup of the position, one replica
  round trip: the cost a routed read adds);
- ``remember_write`` (the upsert of the position and its commit after a changing request);
- the lag: from a commit on the primary to the replica reporting it replayed (polled every 1 ms).

It prints the figures (median and 95th percentile); a benchmark, not a test. Exits 0 unless setup fails.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive_app.replica_reads import ReadRouter, make_engine, remember_write  # noqa: E402
from tests.replica_cluster import start_pair, stop_pair  # noqa: E402


def _ms(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return f"median {statistics.median(samples) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms (n={len(samples)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="rounds of each measurement")
    args = parser.parse_args()
    t0 = time.perf_counter()
    pair = start_pair()
    print(f"primary + standby started in {time.perf_counter() - t0:.2f} s")
    primary_engine = sa.create_engine(pair.primary_url())
    router = ReadRouter(make_engine(pair.standby_url()))
    try:
        with primary_engine.begin() as conn:
            conn.exec_driver_sql("CREATE UNLOGGED TABLE read_positions (user_id bigint PRIMARY KEY, lsn pg_lsn NOT NULL)")
            conn.exec_driver_sql("CREATE TABLE lag_probe (n bigint)")
        pair.wait_replayed()
        choose, remember, lag = [], [], []
        with Session(primary_engine) as primary:
            for _ in range(args.n):
                t = time.perf_counter()
                choice = router.choose(primary, 1)
                choose.append(time.perf_counter() - t)
                assert choice.on_replica
                ReadRouter.release(choice)
                primary.rollback()
            for i in range(args.n):
                t = time.perf_counter()
                remember_write(primary, 2 + i % 50)
                remember.append(time.perf_counter() - t)
        with primary_engine.connect() as p, router.engine.connect() as s:
            s = s.execution_options(isolation_level="AUTOCOMMIT")
            for i in range(args.n):
                p.exec_driver_sql(f"INSERT INTO lag_probe VALUES ({i})")
                p.commit()
                target = p.exec_driver_sql("SELECT CAST(pg_current_wal_insert_lsn() AS text)").scalar()
                p.rollback()
                t = time.perf_counter()
                while not s.exec_driver_sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn").scalar():
                    time.sleep(0.001)
                lag.append(time.perf_counter() - t)
        print(f"ReadRouter.choose (position lookup + replica check): {_ms(choose)}")
        print(f"remember_write (upsert + commit on the primary):     {_ms(remember)}")
        print(f"replication lag, commit to replayed on the standby:  {_ms(lag)}")
    finally:
        router.engine.dispose()
        primary_engine.dispose()
        stop_pair(pair)
    return 0


if __name__ == "__main__":
    sys.exit(main())
