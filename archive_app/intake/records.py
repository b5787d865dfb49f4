"""File records (件) into a customer's file: upload, number, review, download.

Consistency rule: every blob is written before the row that points to it commits; if the commit
fails the blobs are removed; if storage fails no row is written. ``archive sweep-orphans`` removes
anything a crash between the two steps could still leave behind.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, BinaryIO, Callable, Mapping, Sequence, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.audit.queries import recorded_since
from archive_app.borrowing import loans, watermark
from archive_app.borrowing.models import LoanRequest
from archive_app.errors import (
    BadFile,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    StorageFailed,
    TooLarge,
    ValidationFailed,
)
from archive_app.i18n import _
from archive_app.intake import admission_checks, filetypes, numbering, record_departments
from archive_app.intake.customers import get_customer
from archive_app.intake.models import Customer, FilePage, Record, RecordFile
from archive_app.reading.extraction_job import record_status
from archive_app.retention import holds, upkeep
from archive_app.vocabulary import PARTS, RECORD_TYPES, SECRECY_LEVELS
from storage import BlobNotFound, BlobStore, BlobTooLarge, StorageError, UnfinishedUpload

log = logging.getLogger(__name__)
T = TypeVar("T")

LOCATION_FIELDS = ("location_room", "location_cabinet", "location_shelf", "location_box")


@dataclass
class IncomingFile:
    """An uploaded file: its client-side name, a seekable stream and, if spooled to disk, its path."""

    filename: str
    stream: BinaryIO
    path: str | None = None
    sha256: str | None = None  # computed while the file was spooled, when it was
    # What could act on a reader's machine, found while the upload inspected it (四性检测: security).
    risks: list[filetypes.Risk] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Cleaned here, so every way in (pages, API, commands) keeps names alike.
        self.filename = filetypes.clean_filename(self.filename)


@dataclass(frozen=True)
class ArchiveSettings:
    """The settings record filing depends on."""

    fonds_code: str
    timezone: str
    max_file_size: int
    # Called with the ids of newly stored files after their rows commit (queues text extraction).
    on_files_stored: Callable[[list[int]], None] | None = None
    # Where watermarked copies are written while they are served (None: the system's temp folder).
    tmp_dir: str | None = None
    # Originals up to this size are re-hashed before they are sent (ARCHIVE_FIXITY_VERIFY_MAX_MB).
    verify_max_bytes: int = 64 * 1024 * 1024
    # Keeps a fixity failure found while serving, in a transaction of its own (the refusal rolls
    # the request back; a transfer cut mid-stream has no request left). None: in the request's session.
    on_fixity_failure: Callable[[Any], None] | None = None


@dataclass
class Download:
    """Bytes to hand out: the stored original, or a watermarked copy made for a borrower.

    ``stream`` is open at offset 0 and must be closed by whoever sends it. ``size`` is the exact
    length of what ``stream`` yields (None when unknown); ``etag`` is set for originals only.
    """

    name: str
    mime_type: str
    stream: BinaryIO
    size: int | None
    etag: str | None = None
    request_no: str | None = None  # the loan a watermarked copy was made under


def parse_record_fields(data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Validate record metadata from a form or JSON body; Chinese messages, stable codes."""
    out: dict[str, Any] = {}
    allowed = {"part", "record_type", "title", "doc_date", "secrecy", *LOCATION_FIELDS}
    for key in data:
        if key not in allowed:
            raise ValidationFailed(_("未知字段：%(key)s", key=key), code="unknown_field")
    if not partial or "record_type" in data:
        rtype = str(data.get("record_type") or "").strip()
        if rtype not in RECORD_TYPES:
            raise ValidationFailed(_("请选择有效的档案类型"), code="invalid_record_type")
        out["record_type"] = rtype
    if not partial or "part" in data:
        raw = data.get("part") or (RECORD_TYPES[out["record_type"]][0] if "record_type" in out else None)
        try:
            part = int(raw)
        except (TypeError, ValueError):
            part = 0
        if part not in PARTS:
            raise ValidationFailed(_("部分须为 1–4"), code="invalid_part")
        out["part"] = part
    if not partial or "title" in data:
        title = str(data.get("title") or "").strip() or out.get("record_type", "")
        if not title or len(title) > 300:
            raise ValidationFailed(_("请填写题名（不超过 300 字）"), code="invalid_title")
        out["title"] = title
    if not partial or "doc_date" in data:
        raw = data.get("doc_date")
        if raw in (None, ""):
            out["doc_date"] = None
        else:
            try:
                out["doc_date"] = raw if isinstance(raw, date) else date.fromisoformat(str(raw))
            except ValueError:
                raise ValidationFailed(_("文件日期格式应为 YYYY-MM-DD"), code="invalid_date") from None
    if not partial or "secrecy" in data:
        try:
            secrecy = int(data.get("secrecy", 1) if data.get("secrecy") not in (None, "") else 1)
        except (TypeError, ValueError):
            secrecy = -1
        if secrecy not in SECRECY_LEVELS:
            raise ValidationFailed(_("密级须为 0 公开、1 内部、2 秘密、3 机密"), code="invalid_secrecy")
        out["secrecy"] = secrecy
    for key in LOCATION_FIELDS:
        if not partial or key in data:
            out[key] = str(data.get(key) or "").strip()[:50]
    return out


def _inspect_all(files: Sequence[IncomingFile], max_size: int) -> list[tuple[IncomingFile, str, int | None]]:
    if not files:
        raise ValidationFailed(_("请至少选择一个文件"), code="no_files")
    checked = []
    for f in files:
        mime, pages, f.risks = filetypes.examine(f.stream, f.filename)
        f.stream.seek(0, 2)
        size = f.stream.tell()
        f.stream.seek(0)
        if size > max_size:
            raise TooLarge(_("文件过大：%(filename)s（上限 %(value)s MB）", filename=f.filename, value=max_size // (1024 * 1024)), code="file_too_large")
        checked.append((f, mime, pages))
    return checked


def _put_all(store: BlobStore, customer_no: str, checked, max_size: int) -> list[tuple[Any, str, int | None, Any]]:
    """Write every file to storage; on any failure remove what was written and raise."""
    written = []
    try:
        for f, mime, pages in checked:
            key = f"records/{customer_no}/{uuid.uuid4().hex}"
            if f.path:
                # A complete file on disk: the store may adopt it instead of copying it.
                f.stream.flush()
                result = store.put_file(key, f.path, max_size=max_size, content_type=mime, sha256=f.sha256)
            else:
                result = store.put(key, f.stream, max_size=max_size, content_type=mime)
            written.append((f, mime, pages, result))
    except BlobTooLarge:
        _remove_blobs(store, [w[3].key for w in written])
        raise TooLarge(_("文件过大（上限 %(value)s MB）", value=max_size // (1024 * 1024)), code="file_too_large") from None
    except StorageError as exc:
        _remove_blobs(store, [w[3].key for w in written])
        log.error("storage write failed: %s", exc)
        raise StorageFailed(_("存储服务不可用，文件未保存，请稍后重试"), code="storage_unavailable") from None
    return written


def _remove_blobs(store: BlobStore, keys: Sequence[str]) -> None:
    for key in keys:
        try:
            store.delete(key)
        except StorageError:
            # The orphan sweep will get it; the row was never written, so nothing points at it.
            log.exception("could not remove blob %s after a failed upload", key)


def _duplicates(session: Session, customer_id: int, written) -> list[dict[str, str]]:
    hashes = [w[3].sha256 for w in written]
    found = []
    seen: set[str] = set()
    for w in written:
        if w[3].sha256 in seen:
            found.append({"file": w[0].filename, "archival_code": _("（本次上传中重复）")})
        seen.add(w[3].sha256)
    rows = session.execute(
        select(RecordFile.sha256, RecordFile.original_name, Record.archival_code)
        .join(Record, RecordFile.record_id == Record.id)
        .where(Record.customer_id == customer_id, RecordFile.sha256.in_(hashes))
    ).all()
    for sha, name, code in rows:
        for w in written:
            if w[3].sha256 == sha:
                found.append({"file": w[0].filename, "archival_code": code, "existing_name": name})
    return found


def _commit_or_clean(session: Session, store: BlobStore, keys: Sequence[str]) -> None:
    try:
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        _remove_blobs(store, keys)
        log.error("database commit failed, blobs removed: %s", exc)
        raise StorageFailed(_("数据库暂时不可用，文件未保存，请稍后重试"), code="database_error") from None


def _database_failed(session: Session, store: BlobStore, keys: Sequence[str], exc: SQLAlchemyError) -> StorageFailed:
    """Roll back and remove the blobs after a database error before the commit; the error to raise."""
    session.rollback()
    _remove_blobs(store, keys)
    log.error("database error while filing, blobs removed: %s", exc)
    return StorageFailed(_("数据库暂时不可用，文件未保存，请稍后重试"), code="database_error")


def _file_rows(record: Record, actor: User, written, now: datetime) -> list[RecordFile]:
    return [RecordFile(record=record, object_key=res.key, sha256=res.sha256, size=res.size, mime_type=mime,
                       original_name=f.filename, page_count=pages, uploaded_by_id=actor.id,
                       extract_status="queued", extract_updated_at=now)
            for f, mime, pages, res in written]


def _audit_files(session: Session, actor: User, record: Record, rows: list[RecordFile], ip: str) -> None:
    for row in rows:
        audit.record_event(session, "file.upload", actor=actor, object_type="record", object_id=record.id, ip=ip,
                           details={"archival_code": record.archival_code, "file": row.original_name,
                                    "sha256": row.sha256, "size": row.size, "mime": row.mime_type})


def _admission_checks(session: Session, actor: User, record: Record, rows: list[RecordFile], written,
                      now: datetime) -> None:
    """四性检测 of the new files and the record, in the upload's commit (rows and ``written`` share their order)."""
    admission_checks.at_intake(session, record, [(row, w[0].risks) for row, w in zip(rows, written, strict=True)],
                               now=now, checker=actor.display_name)


def _store_then_commit(session: Session, store: BlobStore, settings: ArchiveSettings, customer_id: int,
                       customer_no: str, checked, confirm_duplicate: bool,
                       build: Callable[[list], T], now: datetime) -> T:
    """Write the blobs, then let ``build`` add the rows; commit, or remove the blobs on any failure.

    The disposal dates of the records concerned go into the same commit, and their storage locks
    follow it (``upkeep.after_change``); ``now`` is the time they are computed at.

    This is the one place the rule "no row without its file, no file without its row" lives.
    """
    # Release the database (and SQLite's write lock) while bytes stream into storage.
    session.commit()
    written = _put_all(store, customer_no, checked, settings.max_file_size)
    keys = [w[3].key for w in written]
    try:
        dups = _duplicates(session, customer_id, written)
        if dups and not confirm_duplicate:
            raise Conflict(_("该客户档案中已有相同内容的文件；如确需重复保存，请确认后再次提交"),
                           code="duplicate_file", details={"duplicates": dups})
        result = build(written)
        session.flush()
    except DomainError:
        session.rollback()
        _remove_blobs(store, keys)
        raise
    except SQLAlchemyError as exc:
        raise _database_failed(session, store, keys, exc) from None
    stored = result if isinstance(result, list) else result.files
    # The record's disposal date is written in the same commit; then the storage keeps the
    # originals as long as that date says (S3 Object Lock).
    try:
        upkeep.after_change(session, store, now=now, record_ids={f.record_id for f in stored},
                            commit=lambda: _commit_or_clean(session, store, keys))
    except SQLAlchemyError as exc:
        # Only raised before the commit (after it, failures are reported): no row was written.
        raise _database_failed(session, store, keys, exc) from None
    if settings.on_files_stored is not None:
        settings.on_files_stored([f.id for f in stored])
    return result


def create_record(session: Session, store: BlobStore, settings: ArchiveSettings, actor: User, customer_id: int,
                  data: Mapping[str, Any], files: Sequence[IncomingFile], *, confirm_duplicate: bool = False,
                  ip: str = "", now: datetime) -> Record:
    """File a new record with its files into a customer's file and commit; returns the draft record."""
    customer = get_customer(session, actor, customer_id, "record.upload")
    holds.require_not_erased(customer, _("上传档案"))
    values = parse_record_fields(data)
    checked = _inspect_all(files, settings.max_file_size)
    customer_no = customer.customer_no

    def build(written) -> Record:
        locked = numbering.lock_customer(session, customer_id)
        number = numbering.next_number(session, locked, part=values["part"], record_type=values["record_type"],
                                       doc_date=values["doc_date"], fonds=settings.fonds_code,
                                       timezone=settings.timezone, now=now)
        record = Record(customer=locked, department_id=record_departments.department_of(locked),
                        item_no=number.item_no, year=number.year,
                        retention_code=number.retention_code, archival_code=number.archival_code,
                        status="draft", created_by_id=actor.id, created_at=now, updated_at=now, **values)
        session.add(record)
        rows = _file_rows(record, actor, written, now)
        session.add_all(rows)
        session.flush()
        audit.record_event(session, "record.create", actor=actor, object_type="record", object_id=record.id, ip=ip,
                           now=now, details={"after": record_snapshot(record)})
        _audit_files(session, actor, record, rows, ip)
        _admission_checks(session, actor, record, rows, written, now)
        return record

    return _store_then_commit(session, store, settings, customer_id, customer_no, checked, confirm_duplicate, build,
                              now)


def add_files(session: Session, store: BlobStore, settings: ArchiveSettings, actor: User, record_id: int,
              files: Sequence[IncomingFile], *, confirm_duplicate: bool = False, ip: str = "",
              now: datetime) -> list[RecordFile]:
    """Add more files (pages) to a draft record and commit."""
    record = get_record(session, actor, record_id, "record.edit")
    holds.require_not_held(session, record, _("补充文件"))
    holds.require_not_erased(record.customer, _("补充文件"))
    checked = _inspect_all(files, settings.max_file_size)

    def build(written) -> list[RecordFile]:
        target = session.get(Record, record_id)
        rows = _file_rows(target, actor, written, now)
        session.add_all(rows)
        session.flush()
        _audit_files(session, actor, target, rows, ip)
        _admission_checks(session, actor, target, rows, written, now)
        return rows

    return _store_then_commit(session, store, settings, record.customer_id, record.customer.customer_no, checked,
                              confirm_duplicate, build, now)


def grant_checker(session: Session, actor: User, now: datetime) -> policy.GrantChecker:
    """The policy's borrowing question over this session at ``now``: does ``actor`` hold an active grant?"""

    def check(record: Record, loan_action: str) -> bool:
        return loans.active_grant(session, actor, record, loan_action, now) is not None

    return check


def authorize(session: Session, actor: User, record_id: int, action: str = "record.view",
              now: datetime | None = None) -> tuple[Record, LoanRequest | None]:
    """Load a record the actor may act on, with the borrowing grant that allowed it (None if none was needed).

    Raises NotFound/Forbidden like ``get_record``. The grant is the one the policy was shown, not
    looked up again: a business user's read or download is always under exactly that request.
    ``now`` is the instant a borrowing grant is judged at: required for reading and downloading.
    """
    if now is None and action in policy.GRANT_FOR:
        raise ValueError(f"{action} is judged at an instant: pass now")
    record = session.get(Record, record_id)
    if record is None:
        raise NotFound(_("档案不存在或无权查看"), code="not_found")
    asked: list[LoanRequest | None] = []

    def check(rec: Record, loan_action: str) -> bool:
        asked.append(loans.active_grant(session, actor, rec, loan_action, now))
        return asked[-1] is not None

    if policy.can(actor, action, record, check):
        return record, (asked[-1] if asked else None)
    loan_action = policy.needs_grant(actor, action, record)
    if loan_action is not None:
        loans.require_grant(session, actor, record, loan_action, now)  # raises the explained refusal
    policy.require(actor, action, record, check)
    raise Forbidden(_("您没有权限执行此操作"), code="forbidden")  # not reached: require raised


def get_record(session: Session, actor: User, record_id: int, action: str = "record.view",
               now: datetime | None = None) -> Record:
    """Load a record the actor may act on, or raise NotFound/Forbidden (NotFound if it is invisible).

    For content actions of business users the refusal names the borrowing state: ``no_loan``,
    ``outside_window`` or ``view_only_loan`` (403).
    """
    return authorize(session, actor, record_id, action, now)[0]


def content_rights(session: Session, actor: User, record: Record, *, now: datetime) -> dict[str, bool]:
    """What the record page may offer: reading pages and downloading files, at ``now``."""
    checker = grant_checker(session, actor, now)
    return {"read": policy.can(actor, "record.read", record, checker),
            "download": policy.can(actor, "record.download", record, checker)}


def view_record(session: Session, actor: User, record_id: int, ip: str = "") -> Record:
    """Load a record for display and write the view to the audit log."""
    record = get_record(session, actor, record_id)
    audit.record_read(session, "record.view", actor=actor, object_type="record", object_id=record.id, ip=ip,
                       details={"archival_code": record.archival_code})
    return record


def _apply_fields(session: Session, actor: User, record: Record, data: Mapping[str, Any],
                  store: BlobStore | None, now: datetime) -> dict[str, dict[str, Any]]:
    """Set the record's metadata from ``data`` (never its 档号 or part); the changed fields' before/after."""
    holds.require_not_held(session, record, _("修改"))
    values = parse_record_fields(data, partial=True)
    values.pop("part", None)  # the part is part of the 档号, which never changes
    before = record_snapshot(record)
    for key, value in values.items():
        setattr(record, key, value)
    after = record_snapshot(record)
    changed = {k: {"before": before[k], "after": after[k]} for k in after if before[k] != after[k]}
    if changed:
        # A correction may complete (or empty) what the record's type needs.
        admission_checks.refresh_integrity(session, record, now=now, checker=actor.display_name)
        # A new type or date may move the disposal date; the locks follow given the ``store``.
        upkeep.after_change(session, store, now=now, customer_ids=[record.customer_id])
    return changed


def update_record(session: Session, actor: User, record_id: int, data: Mapping[str, Any], ip: str = "",
                  store: BlobStore | None = None, *, now: datetime) -> Record:
    """Change a draft record's metadata (never its 档号); before/after values go to the audit log.

    A draft its reviewer sent back returns to the review queue once it is saved again.
    """
    record = get_record(session, actor, record_id, "record.edit")
    changed = _apply_fields(session, actor, record, data, store, now)
    resubmitted = record.returned_at is not None
    if resubmitted:
        record.returned_at, record.returned_by_id, record.returned_reason = None, None, ""
    if changed or resubmitted:
        audit.record_event(session, "record.update", actor=actor, object_type="record", object_id=record.id,
                           ip=ip, details={"archival_code": record.archival_code, "changes": changed,
                                           **({"resubmitted": True} if resubmitted else {})})
    session.flush()
    return record


def editable_record(session: Session, actor: User, record_id: int) -> tuple[Record, str]:
    """The record and how ``actor`` may change it: "edit" (a draft) or "correct" (filed: with a reason).

    NotFound when they may not see it; Forbidden when they may see but change it in neither way.
    """
    record = get_record(session, actor, record_id)
    if policy.can(actor, "record.edit", record):
        return record, "edit"
    policy.require(actor, "record.correct", record, code="not_editable", message=_("您不能修改这件档案的著录"))
    return record, "correct"


# The longest reason a correction or a send-back keeps (the column's width).
MAX_REASON = 500


def _reason(text: Any, what: str) -> str:
    reason = str(text or "").strip()
    if not reason:
        raise ValidationFailed(_("请填写%(what)s", what=what), code="reason_required")
    if len(reason) > MAX_REASON:
        raise ValidationFailed(_("%(what)s不能超过 %(max_reason)s 字", what=what, max_reason=MAX_REASON), code="reason_too_long")
    return reason


def correct_record(session: Session, actor: User, record_id: int, data: Mapping[str, Any], reason: str,
                   ip: str = "", store: BlobStore | None = None, *, now: datetime) -> Record:
    """Correct a filed record's metadata (题名, 类型, 日期 …; never its 档号) for a stated reason.

    The record stays filed; the change, its before/after values and the reason go to the audit log
    (``record.correct``). Nothing changed is refused, so the log holds no empty corrections.
    """
    record = get_record(session, actor, record_id, "record.view")
    policy.require(actor, "record.correct", record, code="not_correctable",
                   message=_("只有档案管理员可以更正已归档的档案（待审核的档案请直接修改）"))
    why = _reason(reason, _("更正原因"))
    changed = _apply_fields(session, actor, record, data, store, now)
    if not changed:
        raise ValidationFailed(_("没有任何改动"), code="nothing_changed")
    audit.record_event(session, "record.correct", actor=actor, object_type="record", object_id=record.id, ip=ip,
                       now=now, details={"archival_code": record.archival_code, "changes": changed, "reason": why})
    session.flush()
    return record


def _draft_under_review(session: Session, actor: User, record_id: int, not_draft: Conflict,
                        own_upload: Forbidden) -> Record:
    """The draft a reviewer decides on (files or sends back): refused with ``not_draft`` once it is
    filed and ``own_upload`` for its uploader (the second-person rule), then asked of the policy."""
    record = get_record(session, actor, record_id)
    if record.status != "draft":
        raise not_draft
    if record.created_by_id == actor.id:
        raise own_upload
    policy.require(actor, "record.review", record)
    return record


def file_draft(session: Session, actor: User, record_id: int, *, now: datetime, comment: str = "") -> tuple[Record, dict]:
    """Check a draft may be filed by ``actor`` and file it; the record and the ``record.review`` audit
    details, which the caller writes (one entry, or many at once for a bulk approval).

    Everything is checked before anything is written: a refusal leaves nothing to undo.
    """
    record = _draft_under_review(session, actor, record_id,
                                 Conflict(_("该档案已归档，无需重复审核"), code="already_filed"),
                                 Forbidden(_("审核人不能审核自己上传的档案"), code="reviewer_is_uploader"))
    if not record.files:
        raise Conflict(_("档案没有任何文件，不能归档"), code="no_files")
    record.status = "filed"
    record.reviewed_by_id = actor.id
    record.reviewed_at = now
    record.returned_at, record.returned_by_id, record.returned_reason = None, None, ""
    details = {"archival_code": record.archival_code, "before": "draft", "after": "filed"}
    if comment.strip():
        details["comment"] = comment.strip()[:MAX_REASON]
    return record, details


def review_record(session: Session, actor: User, record_id: int, ip: str = "", *, now: datetime,
                  comment: str = "") -> Record:
    """A reviewer who did not upload the record checks it against paper and marks it filed."""
    record, details = file_draft(session, actor, record_id, now=now, comment=comment)
    audit.record_event(session, "record.review", actor=actor, object_type="record", object_id=record.id, ip=ip,
                       details=details)
    session.flush()
    return record


def send_back(session: Session, actor: User, record_id: int, reason: str, ip: str = "", *,
              now: datetime) -> Record:
    """The reviewer returns a draft to its uploader (退回修改) with a reason: it leaves the review queue,
    the reason shows in the uploader's inbox and on the record, until a keeper saves it again."""
    record = _draft_under_review(session, actor, record_id,
                                 Conflict(_("只有待审核的档案可以退回"), code="not_draft"),
                                 Forbidden(_("不能退回自己上传的档案"), code="reviewer_is_uploader"))
    why = _reason(reason, _("退回原因"))
    record.returned_at, record.returned_by_id, record.returned_reason = now, actor.id, why
    audit.record_event(session, "record.send_back", actor=actor, object_type="record", object_id=record.id, ip=ip,
                       now=now, details={"archival_code": record.archival_code, "reason": why})
    session.flush()
    return record


def review_queue(session: Session, actor: User, limit: int = 200) -> list[Record]:
    """Drafts waiting for a check that this actor is allowed to do (never their own uploads, nor drafts
    sent back to their uploader); the oldest ``limit`` (``intake.review.queue_page`` pages them all)."""
    policy.require(actor, "review.queue")
    stmt = policy.visible_records(actor, select(Record).join(Customer)).where(
        Record.status == "draft", Record.created_by_id != actor.id, Record.returned_at.is_(None)
    ).order_by(Record.created_at).limit(limit)
    return list(session.scalars(stmt))


def watermark_lines(actor: User, grant: LoanRequest, moment: datetime, timezone: str) -> list[str]:
    """What a borrower's copy shows: who, which department, when (local time), under which request.

    The username, time and request number are ASCII, so they survive a missing CJK font.
    """
    department = grant.department or actor.department
    local = moment.astimezone(ZoneInfo(timezone))
    return [_("借阅人 %(display_name)s (%(username)s)", display_name=actor.display_name, username=actor.username),
            _("部门 %(value)s", value=department.name if department else '-'),
            _("时间 %(local)s", local=f'{local:%Y-%m-%d %H:%M:%S}'),
            _("借阅单 %(request_no)s", request_no=grant.request_no)]


def _open_blob(store: BlobStore, key: str, message: str) -> BinaryIO:
    try:
        return store.open(key)
    except StorageError:
        raise StorageFailed(message, code="storage_unavailable") from None


def _open_verified(session: Session, store: BlobStore, settings: ArchiveSettings, row: RecordFile,
                   now: datetime, whole: bool = False) -> BinaryIO:
    """The original's bytes, never ones known not to match their SHA-256 (fixity.checks.open_verified);
    ``whole``: verified before anything is returned, whatever the size limit says."""
    from archive_app.fixity import checks as fixity

    hook = settings.on_fixity_failure or (
        lambda check: fixity.flag_failure(session, check, now, found_by="download"))
    try:
        return fixity.open_verified(session, store, row, on_failure=hook, tmp_dir=settings.tmp_dir,
                                    max_bytes=row.size if whole else settings.verify_max_bytes)
    except StorageError:
        raise StorageFailed(_("存储服务不可用，暂时无法下载"), code="storage_unavailable") from None


def _watermarked(stream: BinaryIO, name: str, mime: str, lines: list[str], grant: LoanRequest,
                 settings: ArchiveSettings) -> Download:
    """A marked copy of ``stream`` (closed here); never the unmarked bytes if marking fails."""
    try:
        marked = watermark.watermark_file(stream, mime, lines, settings.tmp_dir)
    except watermark.WatermarkError as exc:
        log.error("watermarking %s for %s failed: %s", name, grant.request_no, exc)
        raise BadFile(_("无法为该文件生成借阅水印，暂不能提供，请联系档案管理员"), code="watermark_failed") from None
    except StorageError:
        raise StorageFailed(_("存储服务不可用，暂时无法下载"), code="storage_unavailable") from None
    finally:
        stream.close()
    return Download(name=name, mime_type=mime, stream=marked, size=watermark.stream_size(marked),
                    request_no=grant.request_no)


def _commit_serving(session: Session, download: Download) -> Download:
    try:
        session.commit()
    except SQLAlchemyError:
        download.stream.close()
        session.rollback()
        raise StorageFailed(_("数据库暂时不可用，请稍后重试"), code="database_error") from None
    return download


def open_file(session: Session, store: BlobStore, settings: ArchiveSettings, actor: User, record_id: int,
              file_id: int, ip: str = "", *, now: datetime) -> Download:
    """Check the policy, write the download to the audit log, and return what to send.

    Archive staff get the stored bytes. A business user, allowed only through an approved loan,
    gets a copy watermarked with their name, department, the local time and the request number;
    the stored blob is never changed, and the audit entry names the request.
    """
    record, grant = authorize(session, actor, record_id, "record.download", now)
    row = session.get(RecordFile, file_id)
    if row is None or row.record_id != record.id:
        raise NotFound(_("文件不存在"), code="file_not_found")
    if grant is not None and row.searchable_key:
        # A borrower's copy starts from the searchable copy, so its text can be selected and searched.
        copy = _open_copy(store, row)
        if copy is not None:
            return _serve_copy(session, settings, actor, record, row, grant, copy, "file.download", ip, now)
    # A borrower's marked copy is made whole before its first byte is sent anyway: verify it whole
    # first too, whatever its size, so a mismatch is refused (409) rather than cut off mid-marking.
    stream = _open_verified(session, store, settings, row, now, whole=grant is not None)
    details: dict[str, Any] = {"archival_code": record.archival_code, "file_id": row.id, "sha256": row.sha256}
    if grant is None:
        download = Download(name=row.original_name, mime_type=row.mime_type, stream=stream, size=row.size,
                            etag=row.sha256)
    else:
        lines = watermark_lines(actor, grant, now, settings.timezone)
        download = _watermarked(stream, row.original_name, row.mime_type, lines, grant, settings)
        details |= {"request_no": grant.request_no, "watermarked": True, "served_size": download.size}
    audit.record_read(session, "file.download", actor=actor, object_type="record", object_id=record.id, ip=ip,
                       details=details)
    return _commit_serving(session, download)


def searchable_name(row: RecordFile) -> str:
    """The download name of a file's searchable copy: its own name, as a PDF."""
    stem = row.original_name.rsplit(".", 1)[0] if "." in row.original_name else row.original_name
    return f"{stem or 'file'}.pdf"


def _open_copy(store: BlobStore, row: RecordFile) -> BinaryIO | None:
    """The file's searchable copy, or None when it is not stored (a restore without derived data)."""
    try:
        return store.open(row.searchable_key)
    except BlobNotFound:
        log.warning("searchable copy %s of file %s is missing", row.searchable_key, row.id)
        return None
    except StorageError:
        raise StorageFailed(_("存储服务不可用，暂时无法下载"), code="storage_unavailable") from None


def _serve_copy(session: Session, settings: ArchiveSettings, actor: User, record: Record, row: RecordFile,
                grant: LoanRequest | None, stream: BinaryIO, action: str, ip: str, now: datetime) -> Download:
    """Hand out the searchable copy (watermarked under a loan) and write ``action`` to the audit log."""
    name = searchable_name(row)
    details: dict[str, Any] = {"archival_code": record.archival_code, "file_id": row.id, "sha256": row.sha256,
                               "searchable_copy": True}
    if grant is None:
        download = Download(name=name, mime_type="application/pdf", stream=stream, size=None)
    else:
        lines = watermark_lines(actor, grant, now, settings.timezone)
        download = _watermarked(stream, name, "application/pdf", lines, grant, settings)
        details |= {"request_no": grant.request_no, "watermarked": True, "served_size": download.size}
    audit.record_read(session, action, actor=actor, object_type="record", object_id=record.id, ip=ip,
                      details=details)
    return _commit_serving(session, download)


def open_searchable_copy(session: Session, store: BlobStore, settings: ArchiveSettings, actor: User,
                         record_id: int, file_id: int, ip: str = "", *, now: datetime) -> Download:
    """A file's searchable copy (PDF with the OCR text under each page) for someone allowed to download
    the record's files: as stored for archive staff, watermarked under a loan; audited like a download.

    The original stays what ``open_file`` serves; the copy is derived and carries no fixity promise.
    """
    record, grant = authorize(session, actor, record_id, "record.download", now)
    row = session.get(RecordFile, file_id)
    if row is None or row.record_id != record.id:
        raise NotFound(_("文件不存在"), code="file_not_found")
    stream = _open_copy(store, row) if row.searchable_key else None
    if stream is None:
        raise NotFound(_("该文件没有可检索副本"), code="no_searchable_copy")
    return _serve_copy(session, settings, actor, record, row, grant, stream, "file.download_searchable", ip, now)


def open_page_image(session: Session, store: BlobStore, settings: ArchiveSettings, actor: User, record_id: int,
                    file_id: int, page_no: int, kind: str, ip: str = "", *, now: datetime) -> Download:
    """A page's derived image (``thumb`` or ``view``) for someone allowed to read the record's content.

    Full page views are written to the audit log and, for a borrower, watermarked like downloads;
    thumbnails are too small to carry a legible mark and ride on the logged record view, unmarked.
    """
    record, grant = authorize(session, actor, record_id, "record.read", now)
    page = session.scalar(select(FilePage).join(RecordFile).where(
        RecordFile.id == file_id, RecordFile.record_id == record.id, FilePage.page_no == page_no))
    key = page and (page.thumb_key if kind == "thumb" else page.view_key)
    if not key:
        raise NotFound(_("页面不存在或尚未处理完成"), code="page_not_found")
    stream = _open_blob(store, key, _("存储服务不可用，暂时无法显示页面"))
    name = f"{file_id}-{page_no}{'-thumb' if kind == 'thumb' else ''}.jpg"
    if kind == "thumb":
        _audit_thumbnails(session, actor, record, file_id, page_no, ip, now)
        return Download(name=name, mime_type="image/jpeg", stream=stream, size=None)
    details: dict[str, Any] = {"archival_code": record.archival_code, "file_id": file_id, "page": page_no}
    if grant is None:
        download = Download(name=name, mime_type="image/jpeg", stream=stream, size=None)
    else:
        lines = watermark_lines(actor, grant, now, settings.timezone)
        download = _watermarked(stream, name, "image/jpeg", lines, grant, settings)
        details |= {"request_no": grant.request_no, "watermarked": True}
    audit.record_read(session, "page.view", actor=actor, object_type="record", object_id=record.id, ip=ip,
                       details=details)
    return _commit_serving(session, download)


# A record page shows every page's thumbnail (hundreds for a long contract): one entry per thumbnail
# would write hundreds per look, each taking the audit chain's lock. One per user, record and window
# records that they saw the pages' thumbnails, and still catches a script fetching them directly.
THUMBNAIL_AUDIT_WINDOW = timedelta(minutes=10)


def _audit_thumbnails(session: Session, actor: User, record: Record, file_id: int, page_no: int, ip: str,
                      now: datetime) -> None:
    if recorded_since(session, actor.id, "page.thumbnails", "record", record.id, now - THUMBNAIL_AUDIT_WINDOW):
        return
    audit.record_read(session, "page.thumbnails", actor=actor, object_type="record", object_id=record.id, ip=ip,
                       now=now, details={"archival_code": record.archival_code, "file_id": file_id,
                                         "first_page": page_no,
                                         "window_minutes": int(THUMBNAIL_AUDIT_WINDOW.total_seconds() // 60)})


@dataclass
class PageText:
    """The extracted text of a file's pages, as opened by one user (under ``grant`` when borrowed)."""

    record: Record
    file: RecordFile
    pages: list[FilePage]
    grant: LoanRequest | None


def open_page_text(session: Session, actor: User, record_id: int, file_id: int, page_no: int | None = None,
                   ip: str = "", *, now: datetime) -> PageText:
    """The text of one page (``page_no``) or of every page of a file, for someone allowed to read the
    record's content at ``now``; written to the audit log as ``page.text``."""
    record, grant = authorize(session, actor, record_id, "record.read", now)
    file = next((f for f in record.files if f.id == file_id), None)
    if file is None:
        raise NotFound(_("文件不存在"), code="file_not_found")
    pages = [p for p in file.pages if page_no is None or p.page_no == page_no]
    if page_no is not None and not pages:
        raise NotFound(_("页面不存在或尚未处理完成"), code="page_not_found")
    details: dict[str, Any] = {"archival_code": record.archival_code, "file_id": file.id,
                               "pages": [page_no] if page_no is not None else [p.page_no for p in pages]}
    if grant is not None:
        details["request_no"] = grant.request_no
    audit.record_read(session, "page.text", actor=actor, object_type="record", object_id=record.id, ip=ip,
                       now=now, details=details)
    session.flush()
    return PageText(record=record, file=file, pages=pages, grant=grant)


def record_snapshot(r: Record) -> dict[str, Any]:
    """The record's metadata as plain values (for audit before/after)."""
    return {"archival_code": r.archival_code, "customer_id": r.customer_id, "part": r.part,
            "record_type": r.record_type, "title": r.title,
            "doc_date": r.doc_date.isoformat() if r.doc_date else None, "secrecy": r.secrecy,
            "status": r.status, **{k: getattr(r, k) for k in LOCATION_FIELDS}}


def record_dict(r: Record, *, files: bool = True) -> dict[str, Any]:
    """The API representation of a record."""
    out = {"id": r.id, **record_snapshot(r), "item_no": r.item_no, "year": r.year,
           "retention_code": r.retention_code, "created_at": r.created_at.isoformat(),
           "created_by": r.created_by_id, "reviewed_by": r.reviewed_by_id,
           "reviewed_at": r.reviewed_at.isoformat() if r.reviewed_at else None}
    if files:
        out["files"] = [{"id": f.id, "original_name": f.original_name, "sha256": f.sha256, "size": f.size,
                         "mime_type": f.mime_type, "page_count": f.page_count,
                         "text_status": f.extract_status, "text_error": f.extract_error or None,
                         "pages_done": f.pages_done, "retries": f.retries,
                         "retry_note": f.retry_note or None, "searchable_copy": bool(f.searchable_key)}
                        for f in r.files]
        out["text_status"] = record_status(r.files)
    return out


def customer_records(session: Session, actor: User, customer: Customer) -> list[Record]:
    """The records of one customer's file that the actor may see, by part and item number."""
    stmt = policy.visible_records(actor, select(Record).join(Customer)).where(
        Record.customer_id == customer.id).order_by(Record.part, Record.item_no)
    return list(session.scalars(stmt))


def sweep_orphans(session: Session, store: BlobStore, older_than: datetime) -> list[str]:
    """Delete blobs under records/ that no row points to (left by a crash between write and commit).

    ``older_than`` protects uploads in flight: only blobs whose key is unknown *and* which were not
    seen referenced are removed; callers pass a time well before any running upload started.
    """
    known = set(session.scalars(select(RecordFile.object_key)))
    removed = []
    for key in store.keys("records/"):
        if key not in known and store.written_before(key, older_than):
            store.delete(key)
            removed.append(key)
    return removed


def abort_abandoned_uploads(store: BlobStore, older_than: datetime) -> list[UnfinishedUpload]:
    """Abort the uploads the store began before ``older_than`` and never finished; returns them.

    A storage outage in the middle of an upload leaves its parts stored (S3 keeps an open multipart
    upload; the SDK's abort could not reach the server either) where no key listing, and so no
    ``sweep_orphans``, ever sees them. ``older_than`` is the same grace: a running upload is younger.
    """
    aborted = []
    for upload in store.abandoned_uploads(older_than):
        store.abort_upload(upload)
        aborted.append(upload)
    return aborted


__all__ = ["IncomingFile", "ArchiveSettings", "Download", "create_record", "add_files", "authorize", "get_record",
           "view_record", "update_record", "editable_record", "correct_record", "file_draft", "review_record", "send_back", "review_queue", "open_file", "open_searchable_copy", "open_page_image",
           "open_page_text", "PageText",
           "watermark_lines", "record_dict", "customer_records",
           "sweep_orphans", "abort_abandoned_uploads", "parse_record_fields"]
