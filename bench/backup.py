"""Throughput of `archive backup`, `backup-verify` and `restore`: MB/s and files/s, into a folder and into S3.

    .venv/bin/python bench/backup.py                        # 10,000 files of ~200 KiB; S3 on the first 2,000
    .venv/bin/python bench/backup.py -n 2000 --s3-n 500     # quick
    .venv/bin/python bench/backup.py --s3-n 0               # folder only

It builds a fresh embedded default (SQLite, file store) in a temporary directory and files records
through the intake service with ``bench/fixity.py``'s generator (one file each: nine in ten PNG scans
of random pixels, one in ten a PDF). First ``--s3-n`` records are filed and backed up into
``s3://bench-backup/archive`` on a moto server this bench starts on loopback (moto keeps every object
in memory and answers slowly, hence the smaller set); then the rest, and the whole archive is backed
up into a folder. For each destination it times, through the same functions as the commands:

- a first, full backup (database copy, every object read, hashed and written);
- a second backup with nothing new (objects known from the first manifest: listing, no reads);
- backup-verify (every pool object and the database copy re-hashed);
- a restore into an empty database and file store (re-verify, load, put every object, check counts
  and hashes, verify the audit log).

The store's files were just written and sit in the page cache. It prints the figures; it is a
benchmark, not a test, and exits 0 unless the setup fails.
"""
from __future__ import annotations

import argparse
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive_app import create_app  # noqa: E402
from archive_app.backup import backups  # noqa: E402
from archive_app.commands import upgrade_database  # noqa: E402
from archive_app.extensions import db  # noqa: E402
from archive_app.wiring import backup_destination, get_store, now  # noqa: E402
from bench.fixity import file_records  # noqa: E402
from bench.upload import free_port, stop_server  # noqa: E402

BUCKET = "bench-backup"


def _line(label: str, files: int, nbytes: int, seconds: float, extra: str = "") -> None:
    print(f"  {label:<22} {files:>6} files, {nbytes / 1e6:8.1f} MB in {seconds:7.2f} s = "
          f"{nbytes / 1e6 / seconds:7.1f} MB/s, {files / seconds:7.0f} files/s{extra}")


def _restore(base: dict, work: Path, dest: str) -> tuple[float, int]:
    """Restore ``dest`` into a fresh embedded default; (seconds, objects)."""
    work.mkdir()
    app = create_app(base | {"DATA_DIR": str(work), "STORAGE_DIR": str(work / "blobs")})
    with app.app_context():
        started = time.perf_counter()
        result = backups.restore_backup(db.session, get_store(), backup_destination(dest), now=now())
        seconds = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return seconds, result.objects


def measure(app, base: dict, tmp: Path, dest: str, title: str) -> None:
    """Full backup, incremental backup, verify and restore into ``dest``; prints one line each."""
    print(f"{title}: {dest}")
    with app.app_context():
        target = backup_destination(dest)
        started = time.perf_counter()
        first = backups.run_backup(db.session, get_store(), target, now=now())
        full_s = time.perf_counter() - started
        db.session.commit()
        if first.result is None:
            raise SystemExit(f"backup failed: {first.error}")
        manifest = backups.read_manifest(target, first.result.name)
        total = sum(m["size"] for m in manifest["objects"].values())
        _line("first (full) backup", first.result.objects, first.result.copied_bytes, full_s,
              f"; {first.result.copied} copied")
        target = backup_destination(dest)
        started = time.perf_counter()
        second = backups.run_backup(db.session, get_store(), target, now=now())
        incr_s = time.perf_counter() - started
        db.session.commit()
        _line("second (nothing new)", second.result.objects, total, incr_s,
              f"; {second.result.copied} copied, {second.result.reused} known (MB/s: bytes covered, not read)")
        started = time.perf_counter()
        checked = backups.verify_backup(backup_destination(dest))
        verify_s = time.perf_counter() - started
        db_bytes = sum(f["size"] for name in checked.backups
                       for f in backups.read_manifest(target, name)["files"].values())
        _line("backup-verify (all)", checked.files, total + db_bytes, verify_s,
              f"; {len(checked.problems)} problem(s)")
    seconds, objects = _restore(base, tmp / f"restored-{title.split()[0]}", dest)
    _line("restore", objects, total, seconds, " (incl. re-verify, load, put, re-hash, verify-audit)")


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    stop_server(server, None, timeout=5)
    raise SystemExit("moto server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10000, help="files in the archive (folder destination)")
    parser.add_argument("--kb", type=int, default=200, help="approximate size of each file, KiB")
    parser.add_argument("--s3-n", type=int, default=2000, help="files backed up into S3 (moto); 0: no S3 run")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    rng = random.Random(12)
    moto = None
    try:
        base = {"SECRET_KEY": "bench", "AUDIT_KEY": "bench-audit-key", "STORAGE_BACKEND": "fs"}
        s3n = min(args.s3_n, args.n)
        if s3n:
            moto, endpoint = start_moto()
            base |= {"BACKUP_S3_ENDPOINT": endpoint, "BACKUP_S3_ACCESS_KEY": "bench", "BACKUP_S3_SECRET_KEY": "bench",
                     "BACKUP_S3_SECURE": False}
        app = create_app(base | {"DATA_DIR": str(tmp / "archive"), "STORAGE_DIR": str(tmp / "archive" / "blobs")})
        with app.app_context():
            upgrade_database()
        done = 0
        for count, dest, title in ((s3n, f"s3://{BUCKET}/archive", "S3 (moto on loopback)"),
                                   (args.n - s3n, str(tmp / "backups"), "folder (local disk)")):
            started = time.perf_counter()
            with app.app_context():
                stored = file_records(count, args.kb, rng, start=done)
            done += count
            if count:
                print(f"filed {count} more files ({done} in all), {stored / 1e6:.1f} MB in "
                      f"{time.perf_counter() - started:.1f} s")
            if count or not dest.startswith("s3://"):
                measure(app, base, tmp, dest, title)
    finally:
        stop_server(moto, None, timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
