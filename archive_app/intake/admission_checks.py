"""四性检测 at intake (DA/T 70): each record's authenticity, integrity, usability and security, kept per record.

It lives in intake because it judges a record as it is taken in (接收检测): it runs inside the
upload's own transaction, from what the upload already learnt while inspecting the file (its
SHA-256, its audit entry, the PDF's structure, read once by ``filetypes.examine``). Fixity is the
other half of "nothing lost": it re-checks the stored bytes later, on a schedule.

The four checks (results: ``passed`` 通过, ``flag`` 需关注, ``failed`` 未通过, ``pending`` 待检测):

* authenticity 真实性 (per file): the SHA-256 is recorded and the upload is in the audit log with
  that hash; a re-run also re-hashes the stored bytes against it.
* integrity 完整性 (per record, ``file_id`` 0): the metadata its record type needs (``REQUIRED``)
  is there; what is missing is listed.
* usability 可用性 (per file): the file renders. The upload only opens it (PDF page count, image
  headers); rendering is what the text-extraction job does to every page anyway, so its outcome
  decides (``after_extraction``): page 1 rendered → passed, the job failed → failed with its reason,
  until then pending. Nothing is decoded twice.
* security 安全性 (per file): a PDF with JavaScript, an OpenAction or Launch action, other active
  actions, embedded files, XFA or encryption is flagged (never refused: intake refuses only what it
  already refused, e.g. a PDF that needs a password to open).

Only the latest result of each check is kept (the audit log holds each re-run and export).
"""
from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from archive_app import exports, policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.audit.models import AuditEntry
from archive_app.clock import utc_iso
from archive_app.errors import Conflict, DomainError, NotFound, StorageFailed, ValidationFailed
from archive_app.i18n import _, _l, ngettext
from archive_app.intake import filetypes
from archive_app.intake.models import AdmissionCheck, Customer, FilePage, Record, RecordFile
from archive_app.vocabulary import RECORD_STATUSES
from storage import BlobNotFound, BlobStore, StorageError

KINDS = {"authenticity": _l("真实性"), "integrity": _l("完整性"), "usability": _l("可用性"), "security": _l("安全性")}
RESULTS = {"passed": _l("通过"), "flag": _l("需关注"), "failed": _l("未通过"), "pending": _l("待检测")}
# The worse of two results wins a record's summary of one check.
_SEVERITY = {"passed": 0, "pending": 1, "flag": 2, "failed": 3}
RECORD_LEVEL = 0  # file_id of a check of the record itself (integrity)
EXTRACTION_CHECKER = "文字识别任务"
BACKFILL_CHECKER = "four-checks 命令"

# Metadata every record needs: 档号, 题名, 年度, 保管期限 (given at filing), and where its paper original is.
COMMON_FIELDS: tuple[tuple[str, str], ...] = (
    ("archival_code", _l("档号")), ("title", _l("题名")), ("year", _l("年度")), ("retention_code", _l("保管期限")),
    ("location_room", _l("原件存放位置（库房）")),
)
# Record types without a date of their own (a copy of an ID card or licence); every other type needs 文件日期.
UNDATED_TYPES = frozenset({"身份证复印件", "营业执照副本复印件"})
# What the customer's file must say for a record of these types to make sense.
CUSTOMER_FIELDS: dict[str, tuple[str, str]] = {
    "身份证复印件": ("id_number", _l("客户身份证号")),
    "营业执照副本复印件": ("id_number", _l("客户统一社会信用代码")),
}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024
# The upload's audit entry is written in the same transaction as the file row: seconds apart at most.
AUDIT_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Finding:
    """One check's outcome before it is stored."""

    kind: str
    file_id: int
    result: str
    detail: str


# ------------------------------------------------------------------------------------------ the checks


def missing_metadata(record: Record) -> list[str]:
    """The names (简体中文) of the metadata ``record`` lacks for its type; empty when complete."""
    missing = [str(label) for name, label in COMMON_FIELDS if not str(getattr(record, name) or "").strip()]
    if record.record_type not in UNDATED_TYPES and record.doc_date is None:
        missing.append(_("文件日期"))
    needed = CUSTOMER_FIELDS.get(record.record_type)
    if needed is not None and not (getattr(record.customer, needed[0]) or "").strip():
        missing.append(str(needed[1]))
    if record.record_type == "营业执照副本复印件" and record.customer.kind != "company":
        missing.append(_("客户类型应为企业客户"))
    if not record.files:
        missing.append(_("电子文件"))
    return missing


def integrity(record: Record) -> Finding:
    """完整性: the metadata the record's type needs is present."""
    missing = missing_metadata(record)
    if missing:
        return Finding("integrity", RECORD_LEVEL, "failed", _("缺少必备著录项：") + "、".join(missing))
    date_note = "" if record.record_type in UNDATED_TYPES else _("、文件日期")
    return Finding("integrity", RECORD_LEVEL, "passed",
                   _("必备著录项齐全（档号、题名、年度、保管期限、原件存放位置%(date_note)s）", date_note=date_note))


def authenticity(session: Session, row: RecordFile, actual_sha: str | None = None,
                 actual_size: int | None = None) -> Finding:
    """真实性: the file's SHA-256 is recorded and its upload audited with that hash; with ``actual_sha``
    (a re-run read the stored bytes) the bytes still have it."""
    problems = []
    if not _SHA256.match(row.sha256 or ""):
        problems.append(_("未登记有效的 SHA-256"))
    # The uploader, the action and a window around the file row's creation come first: the audit log's
    # (actor, action, at) index finds the few candidates, whatever the size of the log.
    entry = session.scalar(select(AuditEntry.seq).where(
        AuditEntry.actor_id == row.uploaded_by_id, AuditEntry.action == "file.upload",
        AuditEntry.at.between(row.created_at - AUDIT_WINDOW, row.created_at + AUDIT_WINDOW),
        AuditEntry.object_type == "record", AuditEntry.object_id == str(row.record_id),
        AuditEntry.details.contains(row.sha256 or "-"))
        .order_by(AuditEntry.seq).limit(1))
    if entry is None:
        problems.append(_("审计日志中没有该文件的上传记录"))
    if actual_sha == "":
        problems.append(_("存储中缺少该文件，无法复核"))
    elif actual_sha is not None and (actual_sha != row.sha256 or actual_size != row.size):
        problems.append(_("存储内容与登记的 SHA-256 不符（实际 %(value)s…，%(actual_size)s 字节）", value=actual_sha[:16], actual_size=actual_size))
    if problems:
        return Finding("authenticity", row.id, "failed", "；".join(problems))
    detail = _("SHA-256 %(value)s… 已登记，上传已记入审计日志（第 %(entry)s 条）", value=row.sha256[:16], entry=entry)
    if actual_sha is not None:
        detail += _("，存储内容复核一致")
    return Finding("authenticity", row.id, "passed", detail)


def security(row: RecordFile, risks: Sequence[filetypes.Risk]) -> Finding:
    """安全性: what ``filetypes.pdf_risks`` found in a PDF is flagged; an image carries nothing active."""
    if risks:
        return Finding("security", row.id, "flag", "；".join(r.detail for r in risks))
    if row.mime_type == "application/pdf":
        return Finding("security", row.id, "passed", _("未发现脚本、自动执行或启动动作、嵌入文件，未加密"))
    return Finding("security", row.id, "passed", _("图像文件，不含可执行内容"))


def usability(session: Session, row: RecordFile) -> Finding:
    """可用性, from what the text-extraction job found rendering the file's pages."""
    first = session.scalar(select(FilePage).where(FilePage.file_id == row.id, FilePage.page_no == 1))
    rendered = first is not None and bool(first.view_key)
    pages = ngettext("共 %(num)s 页", "共 %(num)s 页", row.page_count) if row.page_count else _("页数未知")
    if row.extract_status == "done":
        if rendered:
            return Finding("usability", row.id, "passed", _("第 1 页已渲染（%(pages)s）", pages=pages))
        return Finding("usability", row.id, "failed", _("处理已完成，但第 1 页没有渲染结果"))
    if row.extract_status == "failed":
        reason = (row.extract_error or "").split(": ", 1)[-1] or _("原因未知")
        where = _("第 1 页已渲染，但后续页面无法读取") if rendered else _("文件无法渲染")
        return Finding("usability", row.id, "failed", f"{where}：{reason}")
    kind = "PDF" if row.mime_type == "application/pdf" else _("图像")
    return Finding("usability", row.id, "pending", _("%(kind)s文件可打开（%(pages)s），待后台任务渲染第 1 页后确认", kind=kind, pages=pages))


# ------------------------------------------------------------------------------------------ keeping them


def save(session: Session, record_id: int, findings: Iterable[Finding], *, now: datetime, checker: str) -> None:
    """Keep each finding as the latest result of its check."""
    findings = list(findings)
    current = {(c.file_id, c.kind): c for c in session.scalars(
        select(AdmissionCheck).where(AdmissionCheck.record_id == record_id))}
    for f in findings:
        row = current.get((f.file_id, f.kind))
        if row is None:
            row = AdmissionCheck(record_id=record_id, file_id=f.file_id, kind=f.kind)
            session.add(row)
        row.result, row.detail, row.checked_at, row.checker = f.result, f.detail, now, checker[:100]
    session.flush()


def at_intake(session: Session, record: Record, stored: Sequence[tuple[RecordFile, Sequence[filetypes.Risk]]], *,
              now: datetime, checker: str) -> None:
    """The checks of newly stored files (with the risks their upload's inspection found) and of the record's
    metadata, in the upload's transaction (after its audit entries, which authenticity looks for)."""
    session.flush()
    findings = [integrity(record)]
    for row, risks in stored:
        findings += [authenticity(session, row), usability(session, row), security(row, risks)]
    save(session, record.id, findings, now=now, checker=checker)


def refresh_integrity(session: Session, record: Record, *, now: datetime, checker: str) -> None:
    """Integrity again after the record's metadata changed (a correction may complete it)."""
    save(session, record.id, [integrity(record)], now=now, checker=checker)


def after_extraction(session: Session, file_id: int, *, now: datetime) -> None:
    """Usability of one file from its finished (or failed) extraction job; the caller commits."""
    row = session.get(RecordFile, file_id)
    if row is not None:
        save(session, row.record_id, [usability(session, row)], now=now, checker=EXTRACTION_CHECKER)


def catch_up_usability(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Usability of files still 待检测 whose extraction has ended without the job saying so (the stale-job
    sweep failed them, or the job's own update was lost); how many were settled. The caller commits."""
    rows = session.scalars(select(RecordFile).join(AdmissionCheck, and_(
        AdmissionCheck.file_id == RecordFile.id, AdmissionCheck.record_id == RecordFile.record_id))
        .where(AdmissionCheck.kind == "usability", AdmissionCheck.result == "pending",
               RecordFile.extract_status.in_(["done", "failed"])).limit(limit)).all()
    for row in rows:
        save(session, row.record_id, [usability(session, row)], now=now, checker=EXTRACTION_CHECKER)
    return len(rows)


def _reread(store: BlobStore, row: RecordFile, tmp_dir: str | None) -> tuple[str, int, list[Finding]]:
    """Read a stored original once: its hash and size, and its structure again (security, opening)."""
    try:
        stream = store.open(row.object_key)
    except BlobNotFound:
        return "", 0, [Finding("usability", row.id, "failed", _("存储中缺少该文件（%(object_key)s）", object_key=row.object_key))]
    with tempfile.SpooledTemporaryFile(8 * CHUNK, dir=tmp_dir) as spool:
        digest, size = hashlib.sha256(), 0
        try:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                spool.write(chunk)
                size += len(chunk)
        finally:
            stream.close()
        try:
            _unused, _unused, risks = filetypes.examine(spool, row.original_name)  # type: ignore[arg-type]
        except DomainError as exc:
            return digest.hexdigest(), size, [Finding("usability", row.id, "failed", _("文件无法打开：%(message)s", message=exc.message))]
    return digest.hexdigest(), size, [security(row, risks)]


def rerun(session: Session, store: BlobStore, actor: User, record_id: int, *, now: datetime, ip: str = "",
          tmp_dir: str | None = None) -> Record:
    """Run the four checks of a record again (archivists, administrators), reading each stored file once;
    audited. The caller commits."""
    record = session.get(Record, record_id)
    if record is None:
        raise NotFound(_("档案不存在或无权查看"), code="not_found")
    policy.require(actor, "record.checks_run", record)
    if record.status == "destroyed":
        raise Conflict(_("该档案已销毁，没有可检测的文件"), code="record_destroyed")
    session.commit()  # nothing held while the files are read (SQLite: the write lock)
    findings = check_stored(session, store, record, now=now, checker=actor.display_name, tmp_dir=tmp_dir)
    audit.record_event(session, "admission_checks.run", actor=actor, object_type="record", object_id=record.id,
                       ip=ip, now=now, details={"archival_code": record.archival_code,
                                                "results": summary_of(findings)})
    session.flush()
    return record


def check_stored(session: Session, store: BlobStore, record: Record, *, now: datetime, checker: str,
                 tmp_dir: str | None = None) -> list[Finding]:
    """The four checks of a stored record from its stored files (each read once), kept; what they found.

    Raises StorageFailed (503 ``storage_unavailable``) when the store does not answer.
    """
    findings = [integrity(record)]
    for row in record.files:
        try:
            sha, size, found = _reread(store, row, tmp_dir)
        except StorageError:
            raise StorageFailed(_("存储服务不可用，暂时无法检测"), code="storage_unavailable") from None
        findings.append(authenticity(session, row, sha, size))
        if not any(f.kind == "usability" for f in found):
            found.append(usability(session, row))
        if not any(f.kind == "security" for f in found):
            found.append(Finding("security", row.id, "flag", _("文件无法读取，未能检查")))
        findings += found
    save(session, record.id, findings, now=now, checker=checker)
    return findings


def backfill(session: Session, store: BlobStore, *, now: datetime, everything: bool = False,
             tmp_dir: str | None = None) -> list[tuple[Record, list[Finding]]]:
    """Check the records that have no 四性检测 result yet (filed before it existed), or with ``everything``
    every record that is not destroyed; commits after each record and audits the run
    (``admission_checks.run``, one entry naming how many). What each record's checks found."""
    stmt = select(Record.id).where(Record.status != "destroyed").order_by(Record.id)
    if not everything:
        stmt = stmt.where(~exists().where(AdmissionCheck.record_id == Record.id))
    ids = list(session.scalars(stmt))
    session.commit()
    done = []
    for record_id in ids:
        record = session.get(Record, record_id)
        findings = check_stored(session, store, record, now=now, checker=BACKFILL_CHECKER, tmp_dir=tmp_dir)
        session.commit()
        done.append((record, findings))
    failed = [r.archival_code for r, found in done if any(f.result == "failed" for f in found)]
    audit.record_event(session, "admission_checks.run", actor_name=BACKFILL_CHECKER, object_type="admission_checks",
                       object_id="all" if everything else "missing", now=now,
                       details={"records": len(done), "failed": failed})
    session.commit()
    return done


# ------------------------------------------------------------------------------------------ reading them


def summary_of(rows: Iterable[AdmissionCheck | Finding]) -> dict[str, str]:
    """Each check's worst result over the record and its files (a check never run: absent)."""
    out: dict[str, str] = {}
    for row in rows:
        if row.kind not in out or _SEVERITY[row.result] > _SEVERITY[out[row.kind]]:
            out[row.kind] = row.result
    return {kind: out[kind] for kind in KINDS if kind in out}


@dataclass
class RecordChecks:
    """A record's latest results: each row with its file (None: the record itself), and the summary."""

    record: Record
    rows: list[tuple[AdmissionCheck, RecordFile | None]] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, str]:
        return summary_of(r for r, _ in self.rows)

    @property
    def overall(self) -> str:
        """The worst result of all, or '' when nothing was checked yet."""
        return max(self.summary.values(), key=_SEVERITY.__getitem__, default="")


def record_checks(session: Session, record: Record) -> RecordChecks:
    """The latest results of one record, record-level first, then by file and check."""
    files = {f.id: f for f in record.files}
    rows = session.scalars(select(AdmissionCheck).where(AdmissionCheck.record_id == record.id))
    order = list(KINDS)
    kept = [(r, files.get(r.file_id)) for r in rows if r.file_id == RECORD_LEVEL or r.file_id in files]
    kept.sort(key=lambda p: (p[0].file_id, order.index(p[0].kind)))
    return RecordChecks(record, kept)


def checks_for_viewer(session: Session, actor: User, record_id: int) -> RecordChecks:
    """A record's results for someone the policy lets see them (``record.checks``)."""
    record = session.get(Record, record_id)
    if record is None:
        raise NotFound(_("档案不存在或无权查看"), code="not_found")
    policy.require(actor, "record.checks", record)
    return record_checks(session, record)


# ---------------------------------------------------------------------------------------------- batches

FILTER_RESULTS = {"": _l("全部"), "problem": _l("有未通过、需关注或待检测项"), "failed": _l("有未通过项"), "flag": _l("有需关注项"),
                  "pending": _l("有待检测项"), "passed": _l("全部通过")}
FILTER_STATUSES = {"": _l("全部"), "draft": _l("待审核"), "filed": _l("已归档")}
PER_PAGE = 100
EXPORT_CHUNK = 500


@dataclass(frozen=True)
class ChecksFilter:
    """A batch of records by upload date (local days), result, check and state."""

    date_from: date | None = None
    date_to: date | None = None
    result: str = ""
    kind: str = ""
    status: str = ""

    def as_args(self) -> dict[str, str]:
        """The filter as query-string arguments (links keep it across pages and exports)."""
        args = {"date_from": self.date_from.isoformat() if self.date_from else "",
                "date_to": self.date_to.isoformat() if self.date_to else "",
                "result": self.result, "kind": self.kind, "status": self.status}
        return {k: v for k, v in args.items() if v}

    def describe(self) -> str:
        """The filter in words (the XLSX title)."""
        parts = []
        if self.date_from or self.date_to:
            parts.append(_("上传日期 %(value)s 至 %(value2)s", value=self.date_from or '…', value2=self.date_to or '…'))
        if self.status:
            parts.append(str(FILTER_STATUSES[self.status]))
        if self.kind:
            parts.append(str(KINDS[self.kind]))
        if self.result:
            parts.append(str(FILTER_RESULTS[self.result]))
        return "，".join(parts)


def parse_filter(args: Mapping[str, Any]) -> ChecksFilter:
    """A filter from query arguments; ValidationFailed (400) names what is wrong."""
    def day(name: str, label: str) -> date | None:
        raw = str(args.get(name) or "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ValidationFailed(_("%(label)s格式不正确（例如 2026-11-25）", label=label), code="invalid_date") from None

    date_from, date_to = day("date_from", _("开始日期")), day("date_to", _("结束日期"))
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed(_("结束日期不能早于开始日期"), code="invalid_date_range")
    result, kind, status = (str(args.get(k) or "") for k in ("result", "kind", "status"))
    if result not in FILTER_RESULTS:
        raise ValidationFailed(_("检测结果筛选无效"), code="invalid_parameter")
    if kind and kind not in KINDS:
        raise ValidationFailed(_("检测项筛选无效"), code="invalid_parameter")
    if status not in FILTER_STATUSES:
        raise ValidationFailed(_("档案状态筛选无效"), code="invalid_parameter")
    return ChecksFilter(date_from, date_to, result, kind, status)


def _records_query(viewer: User, f: ChecksFilter, tz: str):
    stmt = policy.visible_records(viewer, select(Record).join(Customer)).where(Record.status != "destroyed")
    zone = ZoneInfo(tz)
    if f.date_from:
        stmt = stmt.where(Record.created_at >= datetime.combine(f.date_from, time.min, zone))
    if f.date_to:
        stmt = stmt.where(Record.created_at < datetime.combine(f.date_to + timedelta(days=1), time.min, zone))
    if f.status:
        stmt = stmt.where(Record.status == f.status)
    of_record = AdmissionCheck.record_id == Record.id
    if f.kind:
        of_record = and_(of_record, AdmissionCheck.kind == f.kind)
    if f.result == "problem":
        stmt = stmt.where(exists().where(of_record, AdmissionCheck.result != "passed"))
    elif f.result == "passed":
        stmt = stmt.where(exists().where(of_record), ~exists().where(of_record, AdmissionCheck.result != "passed"))
    elif f.result:
        stmt = stmt.where(exists().where(of_record, AdmissionCheck.result == f.result))
    return stmt


def with_checks(session: Session, records: list[Record]) -> list[RecordChecks]:
    """The latest results of each of ``records`` (already chosen through the policy), in two queries."""
    if not records:
        return []
    files = {f.id: f for f in session.scalars(select(RecordFile).where(
        RecordFile.record_id.in_([r.id for r in records])))}
    by_record: dict[int, RecordChecks] = {r.id: RecordChecks(r) for r in records}
    order = list(KINDS)
    for row in session.scalars(select(AdmissionCheck).where(AdmissionCheck.record_id.in_(list(by_record)))):
        f = files.get(row.file_id)
        if row.file_id == RECORD_LEVEL or (f is not None and f.record_id == row.record_id):
            by_record[row.record_id].rows.append((row, f))
    for rc in by_record.values():
        rc.rows.sort(key=lambda p: (p[0].file_id, order.index(p[0].kind)))
    return [by_record[r.id] for r in records]


@dataclass
class BatchPage:
    """One page of a batch: records (newest upload first) with their results, and how many match."""

    items: list[RecordChecks]
    total: int
    page: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)


def batch_page(session: Session, viewer: User, f: ChecksFilter, *, tz: str, page: int = 1) -> BatchPage:
    """The records of a batch the viewer may see (``record.checks``), one page of them."""
    policy.require(viewer, "record.checks")
    stmt = _records_query(viewer, f, tz)
    total = session.scalar(select(func.count()).select_from(stmt.with_only_columns(Record.id).subquery())) or 0
    records = list(session.scalars(stmt.order_by(Record.created_at.desc(), Record.id.desc())
                                   .offset((page - 1) * PER_PAGE).limit(PER_PAGE)))
    return BatchPage(with_checks(session, records), total, page)


def iter_batch(session: Session, viewer: User, f: ChecksFilter, *, tz: str) -> Iterator[RecordChecks]:
    """Every record of a batch the viewer may see, in chunks (keyset on id, so none is read twice)."""
    policy.require(viewer, "record.checks")
    last = 0
    while True:
        records = list(session.scalars(_records_query(viewer, f, tz).where(Record.id > last)
                                       .order_by(Record.id).limit(EXPORT_CHUNK)))
        if not records:
            return
        yield from with_checks(session, records)
        last = records[-1].id


HEADERS = [_l("档号"), _l("题名"), _l("档案类型"), _l("档案状态"), _l("上传时间"), _l("文件"), _l("检测项"), _l("结果"), _l("说明"), _l("检测时间"), _l("检测人")]
SHEET_TITLE = _l("四性检测结果")
EXPORT_FORMATS = ("xlsx", "csv")


@dataclass(frozen=True)
class ChecksExport:
    """An exported batch, ready to send."""

    filename: str
    ascii_filename: str
    mimetype: str
    content: bytes
    rows: int


def export_batch(session: Session, viewer: User, f: ChecksFilter, fmt: str, *, tz: str, now: datetime,
                 ip: str = "") -> ChecksExport:
    """A batch's results, one line per check, as XLSX or CSV; the export is audited before it is handed over."""
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed(_("导出格式须为 xlsx 或 csv"), code="invalid_format")
    policy.require(viewer, "record.checks")
    count = 0

    def cells() -> Iterator[list[Any]]:
        nonlocal count
        for rc in iter_batch(session, viewer, f, tz=tz):
            r = rc.record
            for check, file in rc.rows:
                count += 1
                yield [r.archival_code, r.title, r.record_type, RECORD_STATUSES.get(r.status, r.status), r.created_at,
                       file.original_name if file else _("（档案著录）"), KINDS[check.kind],
                       RESULTS[check.result], check.detail, check.checked_at, check.checker]

    content, mimetype = exports.titled_table(fmt, HEADERS, cells(), SHEET_TITLE, described=f.describe(),
                                             exported_by=viewer.display_name, now=now, tz=tz)
    audit.record_event(session, "admission_checks.export", actor=viewer, object_type="admission_checks",
                       object_id=fmt, ip=ip, now=now, details={"format": fmt, "rows": count, "filters": f.as_args()})
    session.flush()
    day = f"{now.astimezone(ZoneInfo(tz)):%Y-%m-%d}"
    return ChecksExport(filename=f"{SHEET_TITLE}-{day}.{fmt}", ascii_filename=f"four-checks-{day}.{fmt}",
                        mimetype=mimetype, content=content, rows=count)


def check_dict(row: AdmissionCheck, file: RecordFile | None) -> dict[str, Any]:
    """The API representation of one result."""
    return {"kind": row.kind, "kind_label": KINDS[row.kind], "file_id": row.file_id or None,
            "file_name": file.original_name if file else None, "result": row.result,
            "result_label": RESULTS[row.result], "detail": row.detail, "checked_at": utc_iso(row.checked_at),
            "checker": row.checker}


__all__ = ["KINDS", "RESULTS", "Finding", "missing_metadata", "integrity", "authenticity", "security", "usability",
           "save", "at_intake", "refresh_integrity", "after_extraction", "catch_up_usability", "check_stored", "backfill", "rerun", "summary_of", "RecordChecks",
           "record_checks", "with_checks", "checks_for_viewer", "ChecksFilter", "parse_filter", "batch_page", "iter_batch",
           "export_batch", "check_dict", "BatchPage", "ChecksExport"]
