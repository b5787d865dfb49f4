"""Fixity checks: stored originals re-hashed against the SHA-256 recorded at intake.

A run (``run_check``) picks files — all, a percentage, or the nightly share that covers the store
every ``ARCHIVE_FIXITY_CYCLE_DAYS`` — least recently checked first, reads each object once (hashing
it and, when it matches, opening it as the format it was accepted as), keeps the latest result per
file and lists stored objects that no row points to. Downloads go through ``open_verified``: small
originals are verified before a byte is sent, larger ones while they stream.
"""
from __future__ import annotations

import hashlib
import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import BinaryIO, Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive_app.audit import log as audit
from archive_app.errors import Conflict, DomainError
from archive_app.fixity.models import FixityResult, FixityRun
from archive_app.i18n import _, _l
from archive_app.intake import filetypes
from archive_app.intake.models import Record, RecordFile
from storage import BlobNotFound, BlobStore, StorageError

STATUS_LABELS = {
    "ok": _l("完好"),
    "mismatch": _l("内容与登记的 SHA-256 不符"),
    "missing": _l("存储中缺少该文件"),
    "unreadable": _l("文件无法打开"),
    "orphan": _l("存储中的对象没有对应的文件记录"),
}
CHUNK = 1024 * 1024
# Originals are read into memory up to this size, beyond it into a temp file.
SPOOL_IN_MEMORY = 8 * 1024 * 1024
# Files whose metadata is read in one short transaction: on SQLite every transaction holds the
# write lock, so none stays open while objects are being read.
BATCH = 200
# Objects younger than this may be uploads whose row has not committed yet: not reported as orphans.
ORPHAN_GRACE = timedelta(hours=1)
ORPHAN_PREFIX = "records/"

FailureHook = Callable[["FileCheck"], None]
# A result belongs to its file only while the file's record is the one it was found for: file rows
# are deleted by a destruction and SQLite may give a later file the same id, while records are
# never deleted (a destroyed one keeps its tombstone), so a stale result never reaches a new file.
_OWN_RESULT = (FixityResult.file_id == RecordFile.id) & (FixityResult.record_id == RecordFile.record_id)


class FixityMismatch(StorageError):
    """The bytes streamed do not have the SHA-256 (or size) recorded at intake."""


@dataclass(frozen=True)
class FileCheck:
    """The outcome of checking one stored original (or one object without a row: ``file_id`` 0)."""

    file_id: int
    record_id: int
    archival_code: str
    object_key: str
    name: str
    status: str
    detail: str = ""
    size: int = 0

    @property
    def failed(self) -> bool:
        return self.status != "ok"

    @property
    def label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class _Target:
    file_id: int
    record_id: int
    archival_code: str
    object_key: str
    name: str
    sha256: str
    size: int


@dataclass
class RunReport:
    """What a run found, with its throughput (the command prints it)."""

    run_id: int
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    failures: list[FileCheck] = field(default_factory=list)
    orphans: list[FileCheck] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.failures and not self.orphans

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds if self.seconds else 0.0


class Throttle:
    """Sleeps so that the bytes read since the start average at most ``rate_mb`` MB/s (0: never)."""

    def __init__(self, rate_mb: float = 0.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate_mb * 1e6
        self.clock, self.sleep = clock, sleep
        self.start = clock()
        self.done = 0

    def __call__(self, nbytes: int) -> None:
        self.done += nbytes
        if self.rate > 0:
            ahead = self.done / self.rate - (self.clock() - self.start)
            if ahead > 0:
                self.sleep(ahead)


def _copy_hashing(stream: BinaryIO, into: BinaryIO, throttle: Callable[[int], None] | None) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        into.write(chunk)
        size += len(chunk)
        if throttle:
            throttle(len(chunk))
    return digest.hexdigest(), size


def _mismatch_detail(expected_sha: str, expected_size: int, sha: str, size: int) -> str:
    return (_("登记 SHA-256 %(value)s…（%(expected_size)s 字节），实际 %(value2)s…（%(size)s 字节）", value=expected_sha[:16], expected_size=expected_size, value2=sha[:16], size=size))


def check_object(store: BlobStore, target: _Target, tmp_dir: str | None = None,
                 throttle: Callable[[int], None] | None = None) -> FileCheck:
    """Read one stored original once: its hash and size against the row, then open it as its format."""
    def result(status: str, detail: str = "", size: int = 0) -> FileCheck:
        return FileCheck(target.file_id, target.record_id, target.archival_code, target.object_key, target.name,
                         status, detail, size)

    try:
        stream = store.open(target.object_key)
    except BlobNotFound:
        return result("missing", _("对象 %(object_key)s 不存在", object_key=target.object_key))
    with tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY, dir=tmp_dir) as spool:
        try:
            sha, size = _copy_hashing(stream, spool, throttle)
        finally:
            stream.close()
        if sha != target.sha256 or size != target.size:
            return result("mismatch", _mismatch_detail(target.sha256, target.size, sha, size), size)
        try:
            filetypes.inspect(spool, target.name)  # type: ignore[arg-type]
        except DomainError as exc:
            return result("unreadable", exc.message, size)
    return result("ok", size=size)


# ------------------------------------------------------------------------------------------ which files


def _targets(session: Session, file_ids: list[int]) -> list[_Target]:
    rows = session.execute(select(RecordFile.id, RecordFile.record_id, Record.archival_code, RecordFile.object_key,
                                  RecordFile.original_name, RecordFile.sha256, RecordFile.size)
                           .join(Record, Record.id == RecordFile.record_id)
                           .where(RecordFile.id.in_(file_ids)).order_by(RecordFile.id))
    return [_Target(*row) for row in rows]


def choose_files(session: Session, scope: str, *, pct: float | None = None, cycle_days: int = 30) -> list[int]:
    """The ids of the files a run checks, least recently checked first (never checked before all).

    ``all``: every stored original; ``sample``: ``pct`` percent of them; ``cycle``: the nightly
    share, 1/``cycle_days`` of them, so that checking the oldest each night covers the store in
    ``cycle_days`` nights.
    """
    total = session.scalar(select(func.count()).select_from(RecordFile)) or 0
    if scope == "all":
        count = total
    elif scope == "sample":
        if pct is None or not 0 < pct <= 100:
            raise ValueError("sample percentage must be in (0, 100]")
        count = math.ceil(total * pct / 100)
    elif scope == "cycle":
        count = math.ceil(total / max(cycle_days, 1))
    else:
        raise ValueError(f"unknown fixity scope {scope!r}")
    never_checked = FixityResult.checked_at.is_(None)
    query = (select(RecordFile.id).outerjoin(FixityResult, _OWN_RESULT)
             .order_by(never_checked.desc(), FixityResult.checked_at, RecordFile.id).limit(count))
    return list(session.scalars(query))


def orphan_objects(session: Session, store: BlobStore, now: datetime) -> list[FileCheck]:
    """Stored originals no file row points to (past the grace that spares uploads in flight)."""
    known = set(session.scalars(select(RecordFile.object_key)))
    session.rollback()  # end the read before listing the store (SQLite: the read holds the write lock)
    return [FileCheck(0, 0, "", key, "", "orphan", STATUS_LABELS["orphan"])
            for key in store.keys(ORPHAN_PREFIX)
            if key not in known and store.written_before(key, now - ORPHAN_GRACE)]


# ---------------------------------------------------------------------------------------------- a run


def save_result(session: Session, check: FileCheck, now: datetime, run_id: int | None = None) -> None:
    """Keep ``check`` as its file's latest result."""
    row = session.get(FixityResult, check.file_id)
    if row is None:
        row = FixityResult(file_id=check.file_id)
        session.add(row)
    row.record_id, row.checked_at, row.status, row.detail, row.run_id = (check.record_id, now, check.status,
                                                                         check.detail, run_id)


def run_check(session: Session, store: BlobStore, *, now: datetime, scope: str = "all", pct: float | None = None,
              cycle_days: int = 30, rate_mb: float = 0.0, trigger: str = "command", tmp_dir: str | None = None,
              clock: Callable[[], datetime] | None = None) -> RunReport:
    """Check the chosen files and the store for objects without a row; keep results, audit the run.

    Commits as it goes, and says so: a run reads the whole store for minutes or hours, and a
    transaction held that long would block every upload on SQLite. The run row is committed first
    (the admin page shows it running), then each batch's results.
    """
    clock = clock or (lambda: now)
    started = time.monotonic()
    file_ids = choose_files(session, scope, pct=pct, cycle_days=cycle_days)
    run = FixityRun(started_at=now, scope=scope, sample_pct=pct if scope == "sample" else None, trigger=trigger)
    session.add(run)
    session.commit()
    report = RunReport(run_id=run.id)
    throttle = Throttle(rate_mb)
    try:
        for start in range(0, len(file_ids), BATCH):
            targets = _targets(session, file_ids[start:start + BATCH])
            session.rollback()  # nothing held while objects are read
            checks = [check_object(store, t, tmp_dir, throttle) for t in targets]
            moment = clock()
            for check in checks:
                save_result(session, check, moment, run.id)
                report.files += 1
                report.bytes += check.size
                if check.failed:
                    report.failures.append(check)
            session.commit()
        report.orphans = orphan_objects(session, store, now)
    except StorageError as exc:
        # The store went away: not a fixity failure of any file. The run is closed with what it
        # checked and why it stopped, and the error goes to the caller (the command exits non-zero).
        session.rollback()
        report.seconds = time.monotonic() - started
        _finish(session, run, report, clock(), stopped=_("存储服务不可用，检测中止：%(exc)s", exc=exc))
        raise
    report.seconds = time.monotonic() - started
    _finish(session, run, report, clock())
    return report


def _finish(session: Session, run: FixityRun, report: RunReport, now: datetime, stopped: str = "") -> None:
    run = session.get(FixityRun, run.id)
    run.finished_at = now
    run.files_checked, run.bytes_checked = report.files, report.bytes
    run.failures, run.orphans = len(report.failures), len(report.orphans)
    problems = [asdict(c) for c in report.failures + report.orphans]
    if stopped:
        problems.append({"status": "stopped", "detail": stopped})
    run.problems = json.dumps(problems, ensure_ascii=False, default=str)
    details = {"scope": run.scope, "files": report.files, "bytes": report.bytes,
               "failures": [_audited(c) for c in report.failures], "orphans": [c.object_key for c in report.orphans]}
    if stopped:
        details["stopped"] = stopped
    audit.record_event(session, "fixity.check", actor_name=f"fixity-check ({run.trigger})", object_type="fixity_run",
                       object_id=run.id, now=now, details=details)
    session.commit()


def _audited(check: FileCheck) -> dict:
    return {"archival_code": check.archival_code, "file_id": check.file_id, "status": check.status}


def flag_failure(session: Session, check: FileCheck, now: datetime, *, found_by: str) -> None:
    """Keep a failure found outside a run (a download whose bytes no longer match) and audit it."""
    save_result(session, check, now)
    audit.record_event(session, "fixity.failed", actor_name=found_by, object_type="record", object_id=check.record_id,
                       now=now, details=_audited(check) | {"detail": check.detail})
    session.flush()


# ------------------------------------------------------------------------------------------ downloads


def refused(check_detail: str = "") -> Conflict:
    """The answer to a download of bytes that no longer match (409 ``fixity_failed``)."""
    return Conflict(_("该文件未通过完整性检测（存储内容与归档时登记的 SHA-256 不符），已停止提供，请联系档案管理员")
                    + (f"：{check_detail}" if check_detail else ""), code="fixity_failed")


class VerifyingReader:
    """Streams an object, hashing it; at the end, bytes that do not match call ``on_mismatch`` and raise
    FixityMismatch, so the transfer fails instead of completing (Content-Length is never reached)."""

    def __init__(self, raw: BinaryIO, target: _Target, on_mismatch: FailureHook) -> None:
        self._raw, self._target, self._on_mismatch = raw, target, on_mismatch
        self._hash, self._size, self._done = hashlib.sha256(), 0, False

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._hash.update(data)
        self._size += len(data)
        if self._size > self._target.size or (not data and not self._done):
            self._done = True
            sha = self._hash.hexdigest()
            if self._size != self._target.size or sha != self._target.sha256:
                t = self._target
                check = FileCheck(t.file_id, t.record_id, t.archival_code, t.object_key, t.name, "mismatch",
                                  _mismatch_detail(t.sha256, t.size, sha, self._size), self._size)
                self._on_mismatch(check)
                raise FixityMismatch(f"{t.object_key}: {check.detail}")
        return data

    def close(self) -> None:
        self._raw.close()


def open_verified(session: Session, store: BlobStore, row: RecordFile, *, max_bytes: int, on_failure: FailureHook,
                  tmp_dir: str | None = None) -> BinaryIO:
    """The stored bytes of ``row`` to send, never bytes known not to match.

    A file whose latest result is a failure is refused (409 ``fixity_failed``) until a check finds it
    whole again. One up to ``max_bytes`` is read and hashed first and served from that copy; a
    mismatch is flagged through ``on_failure`` (which commits on its own: the refusal rolls the
    request back) and refused. A larger one streams through a VerifyingReader.
    """
    state = session.get(FixityResult, row.id)
    if state is not None and state.record_id == row.record_id and state.status != "ok":
        raise refused(str(STATUS_LABELS.get(state.status, state.status)))
    target = _Target(row.id, row.record_id, row.record.archival_code, row.object_key, row.original_name, row.sha256,
                     row.size)
    try:
        raw = store.open(row.object_key)
    except BlobNotFound:
        session.rollback()  # see below
        on_failure(FileCheck(row.id, row.record_id, target.archival_code, row.object_key, row.original_name,
                             "missing", _("对象 %(object_key)s 不存在", object_key=row.object_key)))
        raise refused(str(STATUS_LABELS["missing"])) from None
    if row.size > max_bytes:
        return VerifyingReader(raw, target, on_failure)  # type: ignore[return-value]
    spool = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY, dir=tmp_dir)
    try:
        sha, size = _copy_hashing(raw, spool, None)
    except BaseException:
        spool.close()
        raise
    finally:
        raw.close()
    if sha != row.sha256 or size != row.size:
        spool.close()
        check = FileCheck(row.id, row.record_id, target.archival_code, row.object_key, row.original_name, "mismatch",
                          _mismatch_detail(row.sha256, row.size, sha, size), size)
        # The hook writes in a transaction of its own; this one (reads only so far) must not hold
        # SQLite's write lock meanwhile.
        session.rollback()
        on_failure(check)
        raise refused()
    spool.seek(0)
    return spool  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------- reading


def failed_files(session: Session, record_id: int | None = None) -> list[tuple[FixityResult, RecordFile]]:
    """Current failures (latest result not ok) of existing files, newest first; of one record if given."""
    query = (select(FixityResult, RecordFile).join(RecordFile, _OWN_RESULT)
             .where(FixityResult.status != "ok").order_by(FixityResult.checked_at.desc()))
    if record_id is not None:
        query = query.where(RecordFile.record_id == record_id)
    return [(result, row) for result, row in session.execute(query)]


def failure_count(session: Session) -> int:
    """How many existing files' latest check failed (the inbox notice)."""
    return session.scalar(select(func.count()).select_from(FixityResult)
                          .join(RecordFile, _OWN_RESULT)
                          .where(FixityResult.status != "ok")) or 0


def recent_runs(session: Session, limit: int = 20) -> list[FixityRun]:
    """The last runs, newest first."""
    return list(session.scalars(select(FixityRun).order_by(FixityRun.started_at.desc(), FixityRun.id.desc())
                                .limit(limit)))


def latest_results(session: Session, record_id: int) -> dict[int, FixityResult]:
    """The latest result of each existing file of one record, by file id (files never checked: absent)."""
    query = (select(FixityResult).join(RecordFile, _OWN_RESULT).where(RecordFile.record_id == record_id))
    return {r.file_id: r for r in session.scalars(query)}


def run_dict(run: FixityRun) -> dict:
    """The API representation of one run: its scope and figures (the problems stay on the admin page,
    which names records through the policy's projection)."""
    from archive_app.clock import utc_iso

    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    return {"id": run.id, "started_at": utc_iso(run.started_at), "finished_at": utc_iso(run.finished_at),
            "scope": run.scope, "sample_pct": run.sample_pct, "trigger": run.trigger,
            "files_checked": run.files_checked, "bytes_checked": run.bytes_checked, "failures": run.failures,
            "orphans": run.orphans, "seconds": seconds,
            "mb_per_s": round(run.bytes_checked / 1e6 / seconds, 2) if seconds else None}


def coverage(session: Session, now: datetime, cycle_days: int) -> tuple[int, int]:
    """(files checked within the last cycle, files stored)."""
    total = session.scalar(select(func.count()).select_from(RecordFile)) or 0
    recent = session.scalar(select(func.count()).select_from(FixityResult)
                            .join(RecordFile, _OWN_RESULT)
                            .where(FixityResult.checked_at >= now - timedelta(days=cycle_days))) or 0
    return recent, total


__all__ = ["STATUS_LABELS", "FileCheck", "RunReport", "FixityMismatch", "check_object", "choose_files",
           "orphan_objects", "run_check", "save_result", "flag_failure", "open_verified", "refused",
           "failed_files", "failure_count", "recent_runs", "latest_results", "run_dict", "coverage", "Throttle"]
