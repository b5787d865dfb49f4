"""Backup, verification and restore of the whole archive into a folder or an S3 bucket.

Layout of a destination DEST (a folder, or ``s3://bucket/prefix``: ``destinations.py``)::

    DEST/objects/<sha256[:2]>/<sha256>     one pool of stored objects, shared by every backup
    DEST/<YYYYmmddTHHMMSSZ>/database.*      the database (SQLite file, or pg_dump custom format)
    DEST/<YYYYmmddTHHMMSSZ>/manifest.json   written last: a backup without it is unfinished

Consistency while the service runs: the database is copied first, at one instant (SQLite's online
backup API; PostgreSQL: ``pg_dump --snapshot`` of a repeatable-read transaction that also counts the
rows and lists the object keys), and the object keys are read *from that copy*. Objects are written
before their rows commit and never change afterwards, so every key the copy names is already in the
store and still holds the same bytes (unless destroyed meanwhile, which the manifest reports as
missing and the next restore replays anyway). Incremental: a key a previous manifest lists with its
pool file present is not read again.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Iterator

from sqlalchemy import Date, create_engine, func, inspect, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session

from archive_app.audit import log as audit
from archive_app.audit.anchors import PREFIX as ANCHOR_PREFIX
from archive_app.audit.anchors import lock_anchor
from archive_app.audit.verification import verify_log
from archive_app.backup.destinations import LOCK, MANIFEST, POOL, Destination, FolderDestination, open_destination
from archive_app.dbtypes import UTCDateTime
from archive_app.errors import Conflict, NotFound, StorageFailed
from archive_app.extensions import db
from archive_app.i18n import _
from archive_app.intake.models import Record
from archive_app.retention import disposal
from archive_app.retention.models import DestructionEntry, DisposalBatch, DisposalItem
from storage import BlobStore

FORMAT = 1
CHUNK = 1024 * 1024
__all__ = ["LOCK", "MANIFEST", "POOL", "create_backup", "verify_backup", "restore_backup", "run_backup",
           "prune_backups", "list_backups", "read_manifest", "pool_path"]
AUDIT_KEY_NOTE = ("审计密钥（ARCHIVE_AUDIT_KEY 或审计密钥文件）不在数据库中，也不在本备份中：请另行妥善保管，"
                  "恢复后校验审计日志（verify-audit）需要同一密钥。")


class BackupFailed(StorageFailed):
    """The backup could not be written or read (a tool, the destination, the store)."""


@dataclass
class BackupResult:
    """What ``create_backup`` wrote."""

    name: str
    path: Path | str  # the backup's folder, or its s3:// address
    objects: int = 0
    copied: int = 0
    copied_bytes: int = 0
    reused: int = 0  # listed by an earlier manifest, pool file present: not read again
    missing: list[str] = field(default_factory=list)


@dataclass
class VerifyResult:
    """What ``verify_backup`` checked, and every mismatch found (empty: the backup is whole)."""

    backups: list[str] = field(default_factory=list)
    files: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class RestoreResult:
    """What ``restore_backup`` did and checked."""

    name: str
    rows: dict[str, int] = field(default_factory=dict)
    objects: int = 0
    redestroyed: list[str] = field(default_factory=list)
    not_in_backup: list[str] = field(default_factory=list)
    audit_entries: int = 0


# --------------------------------------------------------------------------------------------- helpers


Dest = str | os.PathLike[str] | Destination  # a folder path, or a destination opened with its settings


def _sha256_stream(fh) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := fh.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _sha256_file(path: Path) -> tuple[str, int]:
    with open(path, "rb") as fh:
        return _sha256_stream(fh)


def pool_path(dest: Path, sha256: str) -> Path:
    """Where the object with this SHA-256 lives in the pool of the folder ``dest``."""
    return dest / POOL / sha256[:2] / sha256


def list_backups(dest: Dest) -> list[str]:
    """The finished backups in ``dest`` (those with a manifest), oldest first."""
    target = open_destination(dest)
    return [name for name in target.names() if target.exists(f"{name}/{MANIFEST}")]


def read_manifest(dest: Dest, name: str) -> dict:
    """The manifest of one backup; NotFound if there is none."""
    try:
        with open_destination(dest).open(f"{name}/{MANIFEST}") as fh:
            return json.loads(fh.read().decode("utf-8"))
    except FileNotFoundError:
        raise NotFound(_("备份 %(name)s 不存在或未完成", name=name), code="backup_not_found") from None


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def _row_from_json(table, row: dict) -> dict:
    out = {}
    for col in table.columns:
        if col.name not in row:
            continue
        value = row[col.name]
        if value is not None and isinstance(col.type, UTCDateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(col.type, Date):
            value = date.fromisoformat(value)
        out[col.key] = value
    return out


def _snapshot_facts(conn: Connection) -> dict:
    """Row counts, the keys of every object the database points to, the audit head and the 销毁清册,
    all read in one snapshot (the one the database copy was taken from)."""
    tables = db.metadata.sorted_tables
    rows = {t.name: conn.scalar(select(func.count()).select_from(t)) for t in tables}
    keys: set[str] = set()
    for table, columns in (("record_files", ("object_key", "searchable_key")), ("file_pages", ("thumb_key", "view_key")),
                           ("disposal_batches", ("certificate_key",))):
        t = db.metadata.tables[table]
        for col in columns:
            keys.update(k for k in conn.scalars(select(t.c[col]).where(t.c[col].isnot(None))) if k)
    head = db.metadata.tables["audit_head"]
    seq = conn.scalar(select(head.c.seq).where(head.c.id == 1)) or 0
    revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    entries, batches = DestructionEntry.__table__, DisposalBatch.__table__
    batch_rows = {row["id"]: {k: _json_value(v) for k, v in row.items()}
                  for row in conn.execute(select(batches).where(batches.c.id.in_(select(entries.c.batch_id))))
                  .mappings()}
    register = [{"entry": {k: _json_value(v) for k, v in row.items() if k != "id"}, "batch": batch_rows[row["batch_id"]]}
                for row in conn.execute(select(entries).order_by(entries.c.id)).mappings()]
    return {"rows": rows, "keys": keys, "audit_head_seq": seq, "revision": revision, "register": register}


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (password passed in the environment)."""
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    target = f"postgresql://{url.username or ''}@{url.host or 'localhost'}:{url.port or 5432}/{url.database}"
    return target, env


def _run(argv: list[str], env: dict[str, str]) -> None:
    if shutil.which(argv[0]) is None:
        raise BackupFailed(_("找不到 %(value)s：请安装 postgresql-client（scripts/install-pg-client.sh）", value=argv[0]),
                           code="pg_tools_missing")
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupFailed(_("%(value)s 失败：%(value2)s", value=argv[0], value2=done.stderr.strip()[:500]), code="pg_tool_failed")


def _sqlite_path(engine: Engine) -> Path:
    return Path(make_url(str(engine.url)).database).absolute()


def _dump_database(engine: Engine, folder: Path) -> tuple[str, dict]:
    """Copy the database into ``folder`` at one instant; returns the file name and the facts of that copy."""
    if engine.dialect.name == "sqlite":
        target = folder / "database.sqlite3"
        src = sqlite3.connect(_sqlite_path(engine))
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # the online backup API: a consistent copy while writers go on
        finally:
            dst.close()
            src.close()
        copy = create_engine(f"sqlite:///{target}")
        try:
            with copy.connect() as conn:
                return target.name, _snapshot_facts(conn)
        finally:
            copy.dispose()
    if engine.dialect.name == "postgresql":
        target = folder / "database.pgdump"
        libpq, env = _libpq(engine)
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            with conn.begin():
                snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
                facts = _snapshot_facts(conn)
                # pg_dump reads the very snapshot the facts were counted in, while this transaction holds it.
                _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                      "--file", str(target), libpq], env)
        return target.name, facts
    raise BackupFailed(_("不支持备份 %(name)s 数据库", name=engine.dialect.name), code="unsupported_database")


def _known_objects(dest: Destination) -> dict[str, dict]:
    """key -> {sha256, size} from every earlier manifest (objects are immutable: same key, same bytes)."""
    known: dict[str, dict] = {}
    for name in list_backups(dest):
        known.update(read_manifest(dest, name)["objects"])
    return known


def _copy_object(store: BlobStore, key: str, dest: Destination) -> tuple[str, int, bool]:
    """Stream one object into the pool; returns (sha256, size, newly written)."""
    digest, size = hashlib.sha256(), 0
    fd, tmp_name = tempfile.mkstemp(dir=dest.spool_dir())
    try:
        with os.fdopen(fd, "wb") as out, store.open(key) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        return sha, size, dest.pool_add(sha, Path(tmp_name))
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


# ---------------------------------------------------------------------------------------------- backup


def create_backup(engine: Engine, store: BlobStore, dest: Dest, *, now: datetime,
                  audit_key: str | None = None) -> BackupResult:
    """Back up the database, every object it points to and the audit anchors into ``dest``.

    ``audit_key``: included in the backup (mode 600) only when given; otherwise the manifest says
    the operator must keep it. Objects a previous backup in ``dest`` already holds are not read again.
    """
    target = open_destination(dest)
    taken = set(target.names())
    name = now.strftime("%Y%m%dT%H%M%SZ")
    n = 1
    while name in taken:
        n += 1
        name = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{n}"
    with target.staging(name) as work:
        db_file, facts = _dump_database(engine, work)
        files = {db_file: dict(zip(("sha256", "size"), _sha256_file(work / db_file)))}
        target.write_file(f"{name}/{db_file}", work / db_file)
        if audit_key is not None:
            key_file = work / "audit_key"
            key_file.write_text(audit_key)
            key_file.chmod(0o600)
            files["audit_key"] = dict(zip(("sha256", "size"), _sha256_file(key_file)))
            target.write_file(f"{name}/audit_key", key_file)
    # Anchors written after the copy count entries the copy does not hold: a restore would see them as
    # deleted entries. Only those up to the copied head go in.
    anchors = [k for k in store.keys(ANCHOR_PREFIX)
               if k.removeprefix(ANCHOR_PREFIX).removesuffix(".json").isdigit()
               and int(k.removeprefix(ANCHOR_PREFIX).removesuffix(".json")) <= facts["audit_head_seq"]]
    known = _known_objects(target)
    result = BackupResult(name=name, path=target.root / name if isinstance(target, FolderDestination)
                          else target.describe(name))
    objects: dict[str, dict] = {}
    for key in sorted(facts["keys"] | set(anchors)):
        seen = known.get(key)
        if seen and target.pool_size(seen["sha256"]) == seen["size"]:
            objects[key] = seen
            result.reused += 1
            continue
        try:
            sha, size, new = _copy_object(store, key, target)
        except Exception as exc:  # noqa: BLE001 - a destroyed or lost object is reported, the rest goes on
            if store.exists(key):
                raise BackupFailed(_("读取存储对象 %(key)s 失败：%(exc)s", key=key, exc=exc), code="storage_unavailable") from exc
            result.missing.append(key)
            continue
        objects[key] = {"sha256": sha, "size": size}
        if new:
            result.copied += 1
            result.copied_bytes += size
    result.objects = len(objects)
    manifest = {
        "format": FORMAT, "name": name, "created_at": now.isoformat(), "dialect": engine.dialect.name,
        "revision": facts["revision"], "database": db_file, "files": files, "rows": facts["rows"],
        "audit_head_seq": facts["audit_head_seq"], "objects": objects, "missing": result.missing,
        "register": facts["register"], "audit_key_included": audit_key is not None,
        "note": "" if audit_key is not None else AUDIT_KEY_NOTE,
    }
    target.check_lock()  # a run that lost its hold on the destination must not finish a backup in it
    target.write_bytes(f"{name}/{MANIFEST}",
                       json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8"))
    return result


@dataclass
class BackupRun:
    """One run of ``run_backup``: the backup written (None when it failed), what was pruned, the error."""

    result: BackupResult | None
    pruned: list[str] = field(default_factory=list)
    error: str = ""


RUN_ACTIONS = ("backup.create", "backup.fail", "backup.restore")


@contextmanager
def exclusive(dest: Destination) -> Iterator[None]:
    """Hold ``dest`` for one run: pruning while another run copies could delete a pool file that run
    has just counted on. A second run (the worker's and an operator's at once) is refused at once.
    """
    with dest.lock():
        yield


def remove_unfinished(dest: Dest) -> list[str]:
    """Remove the backups a stopped run left without a manifest; only while holding ``dest``
    (else a running backup's files would go). Their pool objects go with the next prune."""
    target = open_destination(dest)
    done = set(list_backups(target))
    stale = [name for name in target.names() if name not in done]
    for name in stale:
        target.remove_backup(name)
    return stale


def run_backup(session: Session, store: BlobStore, dest: Dest, *, now: datetime,
               keep: int | None = None, audit_key: str | None = None, actor_name: str = "archive backup") -> BackupRun:
    """Back up into ``dest``, then keep the newest ``keep`` backups (None: keep all); audit the run,
    success or failure (flushed: the caller commits, also when the run failed)."""
    try:
        target = open_destination(dest)
        dest = target.label
        with exclusive(target):
            remove_unfinished(target)
            result = create_backup(session.get_bind(), store, target, now=now, audit_key=audit_key)
            run = BackupRun(result, pruned=prune_backups(target, keep) if keep else [])
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded and shown, never silent
        session.rollback()
        run = BackupRun(None, error=f"{type(exc).__name__}: {exc}"[:500])
        audit.record_event(session, "backup.fail", actor_name=actor_name, object_type="backup", object_id="",
                           now=now, details={"dest": str(dest), "error": run.error})
        session.flush()
        return run
    audit.record_event(session, "backup.create", actor_name=actor_name, object_type="backup", object_id=result.name,
                       now=now, details={"dest": str(dest), "objects": result.objects, "copied": result.copied,
                                         "copied_bytes": result.copied_bytes, "missing": len(result.missing),
                                         "pruned": run.pruned})
    session.flush()
    return run


def recent_runs(session: Session, limit: int = 30) -> list:
    """The latest backup, failed backup and restore entries of the audit log, newest first."""
    from archive_app.audit.models import AuditEntry

    return list(session.scalars(select(AuditEntry).where(AuditEntry.action.in_(RUN_ACTIONS))
                                .order_by(AuditEntry.seq.desc()).limit(limit)))


def prune_backups(dest: Dest, keep: int) -> list[str]:
    """Keep the newest ``keep`` backups in ``dest``; remove the older ones and every pool object no kept
    manifest lists (so a destroyed record's bytes leave the pool with the last backup holding them).
    Returns the names removed."""
    target = open_destination(dest)
    names = list_backups(target)
    removed = names[:-keep] if keep > 0 else []
    if not removed:
        return []
    target.check_lock()
    for name in removed:
        # The manifest goes first: a run stopped halfway leaves an unfinished backup, never a backup
        # whose objects are gone.
        target.remove_backup(name)
    wanted = {meta["sha256"] for meta in _known_objects(target).values()}
    target.pool_remove([sha for sha in target.pool() if sha not in wanted])
    return removed


def backup_time(name: str) -> datetime | None:
    """When a backup was made, from its folder name (``YYYYmmddTHHMMSSZ``, maybe ``-n``); None if not one."""
    try:
        return datetime.strptime(name.split("-")[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def held_until(backup_names: Iterable[str], destroyed_at: datetime, keep: int,
               every: timedelta = timedelta(days=1)) -> datetime | None:
    """Until when a backup may still hold a record destroyed at ``destroyed_at``: the last backup made before
    it is pruned once ``keep`` newer ones exist, one per ``every``. None: no backup in the folder holds it."""
    before = [t for t in map(backup_time, backup_names) if t is not None and t < destroyed_at]
    return max(before) + keep * every if before else None


# ---------------------------------------------------------------------------------------------- verify


def verify_backup(dest: Dest, name: str | None = None) -> VerifyResult:
    """Re-hash one backup (or every backup in ``dest``) against its manifest; each pool file is read once."""
    target = open_destination(dest)
    names = [name] if name else list_backups(target)
    if not names:
        raise NotFound(_("%(label)s 中没有已完成的备份", label=target.label), code="backup_not_found")
    result = VerifyResult(backups=names)
    hashed: dict[str, tuple[str, int] | None] = {}

    def check(path: str, expected: dict, label: str) -> None:
        if path not in hashed:
            try:
                with target.open(path) as fh:
                    hashed[path] = _sha256_stream(fh)
            except FileNotFoundError:
                hashed[path] = None
            result.files += 1
        got = hashed[path]
        if got is None:
            result.problems.append(_("%(label)s: 文件缺失 (%(describe)s)", label=label, describe=target.describe(path)))
        elif got != (expected["sha256"], expected["size"]):
            result.problems.append(_("%(label)s: SHA-256 或大小不符 (%(describe)s)", label=label, describe=target.describe(path)))

    for backup in names:
        manifest = read_manifest(target, backup)
        for file_name, expected in manifest["files"].items():
            check(f"{backup}/{file_name}", expected, f"{backup}/{file_name}")
        for key, expected in manifest["objects"].items():
            check(target.pool_path(expected["sha256"]), expected, f"{backup}: {key}")
    return result


# --------------------------------------------------------------------------------------------- restore


def _database_is_empty(engine: Engine) -> bool:
    if engine.dialect.name == "sqlite":
        path = _sqlite_path(engine)
        if not path.exists() or path.stat().st_size == 0:
            return True
    return not inspect(engine).get_table_names()


def _load_database(engine: Engine, source: Path, manifest: dict) -> None:
    if manifest["dialect"] != engine.dialect.name:
        raise Conflict(_("备份来自 %(dialect)s 数据库，不能恢复到 %(name)s", dialect=manifest['dialect'], name=engine.dialect.name),
                       code="backup_dialect_mismatch")
    engine.dispose()
    if engine.dialect.name == "sqlite":
        target = _sqlite_path(engine)
        target.parent.mkdir(parents=True, exist_ok=True)
        src, dst = sqlite3.connect(source), sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        return
    libpq, env = _libpq(engine)
    _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--dbname", libpq, str(source)], env)


def _register(root: Destination) -> dict[int, dict]:
    """record_id -> its 销毁清册 line, from every manifest in the folder (the newest knows the most)."""
    lines: dict[int, dict] = {}
    for name in list_backups(root):
        for line in read_manifest(root, name)["register"]:
            lines.setdefault(line["entry"]["record_id"], line)
    return lines


def _ensure_batch(session: Session, line: dict, now: datetime) -> DisposalBatch:
    """The batch of a register line in the restored database, brought to its executed state."""
    saved = _row_from_json(DisposalBatch.__table__, line["batch"])
    batch = session.get(DisposalBatch, saved["id"])
    from archive_app.accounts.models import User

    for col in ("approved_by_id", "executed_by_id"):
        if saved.get(col) is not None and session.get(User, saved[col]) is None:
            saved[col] = None  # the account came after the backup; the register line keeps the names
    if batch is None:
        if session.get(User, saved["created_by_id"]) is None:
            raise Conflict(_("销毁批次 %(batch_no)s 的创建人不在备份中，无法重建该批次", batch_no=saved['batch_no']),
                           code="batch_not_restorable")
        batch = DisposalBatch(**saved)
        session.add(batch)
        session.flush()
        if session.get_bind().dialect.name == "postgresql":
            # The id came from the register, not the sequence: move the sequence past it.
            session.execute(text("SELECT setval(pg_get_serial_sequence('disposal_batches', 'id'), "
                                 "(SELECT max(id) FROM disposal_batches))"))
    else:
        for k in ("status", "approved_by_id", "approved_at", "executed_by_id", "started_at", "finished_at", "method",
                  "certificate_key", "certificate_sha256", "decision_note", "submitted_at"):
            setattr(batch, k, saved.get(k))
    session.flush()
    return batch


def replay_destructions(session: Session, store: BlobStore, register: Iterable[dict], *, now: datetime,
                        result: RestoreResult) -> None:
    """Destroy again every record of the 销毁清册 the restored database still holds, keeping its register line.

    Uses the disposal's own purge path (objects past their retention date, file and page rows,
    tombstone, personal data of a customer left without records). A record the backup does not hold
    at all has nothing to destroy; it is reported.
    """
    for line in register:
        entry = _row_from_json(DestructionEntry.__table__, line["entry"])
        record = session.get(Record, entry["record_id"])
        if record is None:
            result.not_in_backup.append(entry["archival_code"])
            continue
        if record.status == "destroyed" and session.scalar(
                select(DestructionEntry.id).where(DestructionEntry.record_id == record.id)) is not None:
            continue
        batch = _ensure_batch(session, line, now)
        disposal.destroy_blobs(store, record)
        disposal.tombstone(session, record, entry["destroyed_at"])
        item = session.scalar(select(DisposalItem).where(DisposalItem.batch_id == batch.id,
                                                         DisposalItem.record_id == record.id))
        if item is not None:
            item.state, item.error = "destroyed", ""
        if session.scalar(select(DestructionEntry.id).where(DestructionEntry.record_id == record.id)) is None:
            session.add(DestructionEntry(**entry))
        audit.record_event(session, "backup.redestroy", actor_name="archive restore", object_type="record",
                           object_id=record.id, now=now,
                           details={"batch_no": batch.batch_no, "archival_code": record.archival_code})
        session.flush()
        disposal.erase_customer_if_all_destroyed(session, record.customer_id, batch.batch_no, None, now)
        result.redestroyed.append(record.archival_code)
    session.commit()


def restore_backup(session: Session, store: BlobStore, src: Dest, *, now: datetime,
                   name: str | None = None) -> RestoreResult:
    """Fill an empty database and an empty store from one backup (default: the newest) in ``src``.

    Checks the backup's hashes first, then, once loaded, the row counts and every object's bytes
    against the manifest; then destroys again what the 销毁清册 of any backup in ``src`` lists, and
    verifies the audit log (Conflict ``audit_damaged`` if it does not verify). Queuing the index
    rebuild is the caller's (the index is derived data). No backup run may prune ``src`` meanwhile.
    """
    target = open_destination(src)
    if not list_backups(target):  # before locking, which would make a mistyped folder
        raise NotFound(_("%(label)s 中没有已完成的备份", label=target.label), code="backup_not_found")
    with exclusive(target):
        return _restore_backup(session, store, target, now=now, name=name)


def _restore_backup(session: Session, store: BlobStore, root: Destination, *, now: datetime,
                    name: str | None) -> RestoreResult:
    names = list_backups(root)
    if not names:
        raise NotFound(_("%(label)s 中没有已完成的备份", label=root.label), code="backup_not_found")
    name = name or names[-1]
    manifest = read_manifest(root, name)
    checked = verify_backup(root, name)
    if checked.problems:
        raise Conflict(_("备份已损坏：") + "；".join(checked.problems[:5]), code="backup_damaged")
    engine = session.get_bind()
    session.close()
    if not _database_is_empty(engine):
        raise Conflict(_("目标数据库不是空的：只能恢复到空数据库"), code="target_not_empty")
    if next(iter(store.keys()), None) is not None:
        raise Conflict(_("目标存储不是空的：只能恢复到空的存储"), code="target_not_empty")
    with root.local_copy(f"{name}/{manifest['database']}") as source:
        _load_database(engine, source, manifest)
    result = RestoreResult(name=name)
    for key, meta in sorted(manifest["objects"].items()):
        with root.open(root.pool_path(meta["sha256"])) as fh:
            store.put(key, fh)
    # Counts and bytes as restored, before anything changes them.
    with engine.connect() as conn:
        facts = _snapshot_facts(conn)
    if facts["rows"] != manifest["rows"]:
        diff = {t: (manifest["rows"].get(t), n) for t, n in facts["rows"].items() if manifest["rows"].get(t) != n}
        raise Conflict(_("恢复后行数与清单不符：%(diff)s", diff=diff), code="restore_mismatch")
    for key, meta in manifest["objects"].items():
        digest, size = hashlib.sha256(), 0
        with store.open(key) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
        if (digest.hexdigest(), size) != (meta["sha256"], meta["size"]):
            raise Conflict(_("恢复后对象 %(key)s 与清单不符", key=key), code="restore_mismatch")
    result.rows, result.objects = facts["rows"], len(manifest["objects"])
    for key in manifest["objects"]:
        if key.startswith(ANCHOR_PREFIX):
            lock_anchor(store, key, now)  # locks are not copied; records' locks follow with retention-sync
    # Destruction wins over restore: what any backup's register lists as destroyed is destroyed again.
    register = _register(root)
    known = _known_objects(root)
    replay_destructions(session, store, register.values(), now=now, result=result)
    for line in register.values():  # the certificates of batches newer than the backup
        key = line["batch"].get("certificate_key")
        if key and key in known and not store.exists(key):
            with root.open(root.pool_path(known[key]["sha256"])) as fh:
                store.put(key, fh)
    audit.record_event(session, "backup.restore", actor_name="archive restore", object_type="backup",
                       object_id=name, now=now,
                       details={"rows": sum(result.rows.values()), "objects": result.objects,
                                "redestroyed": result.redestroyed})
    session.commit()
    disposal.scrub_database(session)
    report = verify_log(session, store)
    session.rollback()
    if not report.intact:
        problems = [f"entry {p.seq}: {p.problem}" for p in report.problems] + list(report.anchor_problems)
        raise Conflict(_("恢复后审计日志校验失败：") + "；".join(problems[:5]), code="audit_damaged")
    result.audit_entries = report.walk.entries
    return result
