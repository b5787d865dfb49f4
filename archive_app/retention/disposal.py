"""Disposal review (鉴定) and supervised destruction (监销), with the destruction register (销毁清册).

A batch lists every record due up to a date; reviewers decide each record (destroy / keep N more
years / keep permanently) with a reason; the general manager approves the batch; two named
supervisors confirm with their own logins; an archivist executes. Nothing is destroyed
automatically, nothing under a legal hold is destroyed by any path, and execution re-checks every
record's eligibility inside the execution itself.

Execution is crash-safe and idempotent. Each record moves ``pending -> destroying -> destroyed``;
``destroying`` is committed before the first byte is removed, so a run killed at any point is
resumed by running it again: storage ``destroy`` is idempotent, and the database step (tombstone,
register line, rows removed) commits once, with the item's new state. If storage refuses, the run
stops with an error and the record is not marked destroyed. The search index is purged of the
batch's destroyed records in one place, ``_purge_from_index``, at the end of every run (a resumed
one too), and the certificate is stored, both before the batch counts as executed.

Who may take each step is the policy's (``disposal.review``, ``disposal.approve``,
``disposal.supervise``, ``disposal.execute``).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, func, insert, literal, select
from sqlalchemy.orm import Session, selectinload

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.corrections import history
from archive_app.errors import Conflict, NotFound, StorageFailed, ValidationFailed
from archive_app.i18n import _
from archive_app.intake.models import ERASED_NAME, AdmissionCheck, Customer, FilePage, Record, RecordFile
from archive_app.retention import certificates, upkeep
from archive_app.retention.models import (
    BATCH_STATUSES,
    DECISIONS,
    DestructionEntry,
    DisposalBatch,
    DisposalItem,
    DisposalSupervisor,
    LegalHold,
)
from archive_app.visits.erasure import erase_visit_notes
from search_index import SearchIndex
from storage.base import BlobStore, StorageError

log = logging.getLogger(__name__)

OPEN_BATCH = ("reviewing", "submitted", "approved", "executing")
METHOD = "电子数据彻底删除（原件全部存储版本、提取文本、缩略图、检索索引）"


def _require(user: User, action: str, message: str) -> None:
    policy.require(user, action, code="forbidden", message=message)


def _batch(session: Session, batch_id: int, *, lock: bool = False) -> DisposalBatch:
    stmt = select(DisposalBatch).where(DisposalBatch.id == batch_id)
    batch = session.scalar(stmt.with_for_update() if lock else stmt)
    if batch is None:
        raise NotFound(_("销毁批次不存在"), code="batch_not_found")
    return batch


def _in_status(batch: DisposalBatch, *statuses: str) -> None:
    if batch.status not in statuses:
        raise Conflict(_("销毁批次 %(batch_no)s 当前状态为「%(value)s」，不能执行该操作", batch_no=batch.batch_no, value=BATCH_STATUSES[batch.status]),
                       code="illegal_transition")


# ---------------------------------------------------------------------------------------------- due list


def due_filter(on: date):
    """Conditions of a record due for review on ``on``: filed, not held, dated, not in an open batch."""
    in_open_batch = exists().where(DisposalItem.record_id == Record.id, DisposalItem.batch_id == DisposalBatch.id,
                                   DisposalBatch.status.in_(OPEN_BATCH),
                                   DisposalItem.state.in_(("pending", "destroying")))
    return (Record.status == "filed", Record.on_hold.is_(False), Record.disposal_state == "scheduled",
            Record.disposal_date <= on, ~in_open_batch)


def due_list(session: Session, on: date, *, limit: int = 100, offset: int = 0) -> tuple[int, list[Record]]:
    """How many records are due by ``on``, and one page of them (earliest first)."""
    conds = due_filter(on)
    total = session.scalar(select(func.count()).select_from(Record).where(*conds))
    rows = session.scalars(select(Record).where(*conds).options(selectinload(Record.customer))
                           .order_by(Record.disposal_date, Record.id).limit(limit).offset(offset)).all()
    return total, list(rows)


def create_batch(session: Session, actor: User, due_by: date, *, now: datetime, tz: str = "Asia/Shanghai"
                 ) -> DisposalBatch:
    """Open a review batch with every record due by ``due_by`` (one INSERT … SELECT)."""
    _require(actor, "disposal.review", _("只有档案管理员或鉴定小组可以发起鉴定"))
    batch = DisposalBatch(due_by=due_by, status="reviewing", created_by_id=actor.id, created_at=now)
    session.add(batch)
    session.flush()
    batch.batch_no = f"XH-{now.astimezone(ZoneInfo(tz)).year}-{batch.id:04d}"
    # In record order: the unique (batch_id, record_id) index then grows at its end. ``+ 0`` keeps
    # SQLite from scanning all records in rowid order to avoid a sort; it reads the covering due
    # index and sorts the due ones instead (1.5 s → 1.0 s at 1M records).
    src = select(literal(batch.id), Record.id, Record.disposal_date, literal("pending"), literal("")) \
        .where(*due_filter(due_by)).order_by(Record.id + 0)
    count = session.execute(insert(DisposalItem).from_select(["batch_id", "record_id", "due_on", "state", "reason"],
                                                             src)).rowcount
    if not count:
        # Undo only this batch: the caller's unit of work may hold other changes.
        session.delete(batch)
        session.flush()
        raise ValidationFailed(_("截至 %(due_by)s 没有到期待鉴定的档案", due_by=due_by.isoformat()), code="nothing_due")
    audit.record_event(session, "disposal.batch_create", actor=actor, object_type="disposal_batch",
                       object_id=batch.id, now=now,
                       details={"batch_no": batch.batch_no, "due_by": due_by.isoformat(), "records": count})
    session.flush()
    return batch


# ---------------------------------------------------------------------------------------------- review


def decide(session: Session, actor: User, batch_id: int, item_ids: Iterable[int], decision: str, *, reason: str,
           now: datetime, keep_years: int | None = None) -> int:
    """Reviewers record a decision with its reason for items of a batch under review."""
    _require(actor, "disposal.review", _("只有档案管理员或鉴定小组可以作出鉴定意见"))
    batch = _batch(session, batch_id, lock=True)
    _in_status(batch, "reviewing")
    if decision not in DECISIONS:
        raise ValidationFailed(_("鉴定意见须为 销毁、延长保管 或 永久保存"), code="invalid_decision")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("请填写鉴定理由"), code="reason_required")
    if decision == "extend" and (not isinstance(keep_years, int) or not 0 < keep_years <= 100):
        raise ValidationFailed(_("延长保管须填写 1–100 年"), code="invalid_years")
    ids = sorted(set(int(i) for i in item_ids))
    items = session.scalars(select(DisposalItem).where(DisposalItem.batch_id == batch.id,
                                                       DisposalItem.id.in_(ids))).all()
    if not ids or len(items) != len(ids):
        raise NotFound(_("所选档案不在此批次中"), code="item_not_found")
    for item in items:
        item.decision, item.reason, item.decided_by_id, item.decided_at = decision, reason, actor.id, now
        item.keep_years = keep_years if decision == "extend" else None
    audit.record_event(session, "disposal.decide", actor=actor, object_type="disposal_batch", object_id=batch.id,
                       now=now, details={"batch_no": batch.batch_no, "items": ids, "decision": decision,
                                         "keep_years": keep_years, "reason": reason})
    session.flush()
    return len(items)


def submit(session: Session, actor: User, batch_id: int, *, now: datetime) -> DisposalBatch:
    """Send a fully decided batch to the general manager."""
    _require(actor, "disposal.review", _("只有档案管理员或鉴定小组可以提交鉴定结果"))
    batch = _batch(session, batch_id, lock=True)
    _in_status(batch, "reviewing")
    undecided = session.scalar(select(func.count()).where(DisposalItem.batch_id == batch.id,
                                                          DisposalItem.decision.is_(None)))
    if undecided:
        raise ValidationFailed(_("还有 %(undecided)s 件档案没有鉴定意见", undecided=undecided), code="undecided_items")
    batch.status, batch.submitted_at = "submitted", now
    audit.record_event(session, "disposal.submit", actor=actor, object_type="disposal_batch", object_id=batch.id,
                       now=now, details={"batch_no": batch.batch_no})
    session.flush()
    return batch


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def approve(session: Session, gm: User, batch_id: int, *, now: datetime, note: str = "",
            store: BlobStore | None = None) -> DisposalBatch:
    """The general manager approves the batch; commit. Keep decisions take effect at once: the
    kept records' dates move in the same commit, and their locks on ``store``'s objects follow."""
    _require(gm, "disposal.approve", _("销毁批次须由总经理审批"))
    batch = _batch(session, batch_id, lock=True)
    _in_status(batch, "submitted")
    batch.status, batch.approved_by_id, batch.approved_at = "approved", gm.id, now
    batch.decision_note = (note or "").strip()
    kept = session.scalars(select(DisposalItem).where(DisposalItem.batch_id == batch.id,
                                                      DisposalItem.decision.in_(("extend", "permanent")))
                           .options(selectinload(DisposalItem.record))).all()
    for item in kept:
        rec = item.record
        if item.decision == "permanent":
            rec.keep_permanent = True
        else:
            rec.keep_until = _add_years(max(item.due_on, now.date()), item.keep_years or 0)
        item.state = "kept"
    session.flush()
    audit.record_event(session, "disposal.approve", actor=gm, object_type="disposal_batch", object_id=batch.id,
                       now=now, details={"batch_no": batch.batch_no, "note": batch.decision_note,
                                         "kept": [i.record.archival_code for i in kept]})
    upkeep.after_change(session, store, now=now, record_ids=[i.record_id for i in kept])
    return batch


def send_back(session: Session, gm: User, batch_id: int, *, note: str, now: datetime) -> DisposalBatch:
    """The general manager returns the batch to the reviewers with a reason."""
    _require(gm, "disposal.approve", _("销毁批次须由总经理审批"))
    if not (note or "").strip():
        raise ValidationFailed(_("退回须说明理由"), code="reason_required")
    batch = _batch(session, batch_id, lock=True)
    _in_status(batch, "submitted")
    batch.status, batch.decision_note = "reviewing", note.strip()
    audit.record_event(session, "disposal.send_back", actor=gm, object_type="disposal_batch", object_id=batch.id,
                       now=now, details={"batch_no": batch.batch_no, "note": batch.decision_note})
    session.flush()
    return batch


def _signed(session: Session, batch_id: int) -> list[int]:
    # Asked of the database, not the relationship: signatures may come from other sessions.
    return list(session.scalars(select(DisposalSupervisor.user_id).where(DisposalSupervisor.batch_id == batch_id)))


def sign_as_supervisor(session: Session, user: User, batch_id: int, *, now: datetime) -> DisposalSupervisor:
    """A supervisor (监销人) confirms, with their own login, that they witness the destruction."""
    _require(user, "disposal.supervise", _("监销人须为公司领导或鉴定小组成员"))
    batch = _batch(session, batch_id, lock=True)
    _in_status(batch, "approved")
    signed = _signed(session, batch.id)
    if user.id in signed:
        raise Conflict(_("您已确认监销"), code="already_signed")
    if len(signed) >= 2:
        raise Conflict(_("此批次已有两名监销人"), code="supervisors_complete")
    sig = DisposalSupervisor(batch_id=batch.id, user_id=user.id, signed_at=now)
    session.add(sig)
    session.flush()
    audit.record_event(session, "disposal.supervise", actor=user, object_type="disposal_batch", object_id=batch.id,
                       now=now, details={"batch_no": batch.batch_no})
    session.flush()
    return sig


# ---------------------------------------------------------------------------------------------- execution


class DestructionFailed(StorageFailed):
    """Storage refused to remove a record's bytes: the run stopped, the record is not marked destroyed."""


@dataclass
class ExecutionResult:
    """What one run of ``execute`` did."""

    destroyed: int = 0
    skipped: int = 0
    already_done: int = 0
    finished: bool = False

    def summary(self) -> str:
        """The run in one Chinese sentence (what the executor is told)."""
        text = _("销毁完成：本次销毁 %(destroyed)s 件", destroyed=self.destroyed)
        if self.already_done:
            text += _("，此前已销毁 %(already_done)s 件", already_done=self.already_done)
        if self.skipped:
            text += _("，跳过 %(skipped)s 件（冻结或不再到期，见明细）", skipped=self.skipped)
        return text + _("；销毁清册与销毁证明已生成")


def _ineligible(session: Session, record: Record, today: date) -> str:
    """Why a record may not be destroyed today (empty when it may). Reads holds, not the flag."""
    held = session.scalar(select(LegalHold.id).where(
        LegalHold.lifted_at.is_(None),
        (LegalHold.record_id == record.id) | (LegalHold.customer_id == record.customer_id)).limit(1))
    if held is not None:
        return _("档案处于冻结（诉讼保全）状态")
    if record.status != "filed":
        return _("档案状态不是已归档")
    if record.keep_permanent:
        return _("已决定永久保存")
    if record.disposal_state != "scheduled" or record.disposal_date is None or record.disposal_date > today:
        return _("档案尚未到期")
    return ""


def _names(users: Iterable[User | None]) -> str:
    return "、".join(u.display_name for u in users if u is not None)


def _blob_keys(record: Record) -> list[str]:
    keys = [f.object_key for f in record.files]
    for f in record.files:
        keys += [k for p in f.pages for k in (p.thumb_key, p.view_key) if k]
        keys += [f.searchable_key] if f.searchable_key else []
    return keys


def _derived_keys(store: BlobStore, record: Record) -> list[str]:
    """Whatever else is stored under the files' derived prefixes (pages' OCR lines, a copy of a run
    that did not commit): listed, since no row names them."""
    from archive_app.reading.searchable_copy import derived_prefix

    return [k for f in record.files for k in store.keys(derived_prefix(f.object_key))]


def destroy_blobs(store: BlobStore, record: Record) -> None:
    """Remove every stored byte of a record (originals, page images, searchable copies, OCR lines),
    past retention dates.

    Raises DestructionFailed (``details['key']``, the StorageError as its cause) at the first key the
    store refuses; keys already gone are not an error, so it can be repeated.
    """
    try:
        keys = list(dict.fromkeys(_blob_keys(record) + _derived_keys(store, record)))
    except StorageError as exc:
        raise DestructionFailed(_("存储服务不可用，无法列出档案 %(archival_code)s 的派生文件，销毁已中止", archival_code=record.archival_code),
                                code="storage_refused", details={"key": "derived/"}) from exc
    for key in keys:
        try:
            store.destroy(key, bypass_governance=True)
        except StorageError as exc:
            raise DestructionFailed(_("存储拒绝删除档案 %(archival_code)s 的文件，销毁已中止，该件未标记为已销毁", archival_code=record.archival_code),
                                    code="storage_refused", details={"key": key}) from exc


def tombstone(session: Session, record: Record, now: datetime) -> None:
    """Delete a record's file and page rows (their text) and its 四性检测 results (they describe the files'
    content, e.g. an attachment's name), and leave the record row as a destroyed tombstone."""
    file_ids = [f.id for f in record.files]
    if file_ids:
        session.execute(delete(FilePage).where(FilePage.file_id.in_(file_ids)))
        session.execute(delete(RecordFile).where(RecordFile.id.in_(file_ids)))
    session.execute(delete(AdmissionCheck).where(AdmissionCheck.record_id == record.id))
    record.status, record.destroyed_at = "destroyed", now


def _destroy_item(session: Session, store: BlobStore, batch: DisposalBatch, item: DisposalItem, executor: User,
                  now: datetime) -> str:
    """Destroy one record (or skip it); returns its final state. Commits at each step."""
    record = session.scalar(select(Record).where(Record.id == item.record_id).with_for_update()
                            .options(selectinload(Record.files).selectinload(RecordFile.pages)))
    problem = _ineligible(session, record, now.date())
    if problem:
        # Also on resume: a hold placed since the run started stops what is left of this record.
        item.state, item.error = "skipped", problem
        audit.record_event(session, "disposal.skip", actor=executor, object_type="record", object_id=record.id,
                           now=now, details={"batch_no": batch.batch_no, "archival_code": record.archival_code,
                                             "reason": problem})
        session.commit()
        return "skipped"
    if item.state == "pending":
        item.state = "destroying"
        session.commit()
    files = list(record.files)
    try:
        destroy_blobs(store, record)
    except DestructionFailed as exc:
        item.error = _("存储拒绝删除 %(key)s：%(cause)s", key=exc.details['key'], cause=exc.__cause__)
        session.commit()
        raise
    dates = [d for d in (record.doc_date,) if d] or [date(record.year, 1, 1)]
    supervisors = session.scalars(select(User).join(DisposalSupervisor, DisposalSupervisor.user_id == User.id)
                                  .where(DisposalSupervisor.batch_id == batch.id)
                                  .order_by(DisposalSupervisor.id)).all()
    session.add(DestructionEntry(
        batch_id=batch.id, record_id=record.id, archival_code=record.archival_code, title=record.title,
        record_type=record.record_type, customer_no=record.customer.customer_no or "",
        date_from=min(dates), date_to=max(dates), page_count=sum(f.page_count or len(f.pages) for f in files),
        file_count=len(files), total_bytes=sum(f.size for f in files),
        sha256s=" ".join(f.sha256 for f in files), retention_basis=record.disposal_basis,
        decision_reason=item.reason, approved_by=_names([batch.approved_by]), supervisors=_names(supervisors),
        executed_by=executor.display_name, destroyed_at=now, method=METHOD,
        # The paper original stays on its shelf until the batch's 原件销毁 step (retention.paper).
        paper_location=record.shelf_location))
    tombstone(session, record, now)
    item.state, item.error = "destroyed", ""
    audit.record_event(session, "record.destroy", actor=executor, object_type="record", object_id=record.id, now=now,
                       details={"batch_no": batch.batch_no, "archival_code": record.archival_code,
                                "sha256": [f.sha256 for f in files]})
    session.commit()
    session.expire(record)
    return "destroyed"


def _erase_customers_without_records(session: Session, batch: DisposalBatch, executor: User, now: datetime) -> int:
    """Blank the personal data of customers whose every record is now destroyed, in their file and in the
    audit entries that recorded it (the erasure entry names the batch, so verify-audit can account for it)."""
    customer_ids = set(session.scalars(select(Record.customer_id).join(DisposalItem, DisposalItem.record_id == Record.id)
                                       .where(DisposalItem.batch_id == batch.id, DisposalItem.state == "destroyed")))
    return sum(erase_customer_if_all_destroyed(session, cid, batch.batch_no, executor, now)
               for cid in sorted(customer_ids))


def erase_customer_if_all_destroyed(session: Session, customer_id: int, batch_no: str | None, actor: User | None,
                                    now: datetime) -> bool:
    """Blank one customer's personal data (file and audit entries) once every record of theirs is destroyed;
    True if it did so now."""
    live = session.scalar(select(func.count()).where(Record.customer_id == customer_id, Record.status != "destroyed"))
    c = session.get(Customer, customer_id)
    if live or c.erased:
        return False
    c.name, c.phones, c.id_number, c.address, c.unit, c.notes = ERASED_NAME, "", None, "", "", ""
    c.deal_closed_on = c.contract_ended_on = c.last_contact_on = None
    erase_visit_notes(session, customer_id)
    # The change history and change requests hold old names, phones and ID numbers: blanked with the file.
    history.erase_customer(session, customer_id)
    record_ids = list(session.scalars(select(Record.id).where(Record.customer_id == customer_id)))
    audit.erase_personal(session, customer_id=customer_id, record_ids=record_ids, actor=actor, now=now,
                         details={"customer_no": c.customer_no, "batch_no": batch_no})
    return True


def execute(session: Session, store: BlobStore, executor: User, batch_id: int, *, index: SearchIndex,
            now: datetime, tz: str = "Asia/Shanghai") -> ExecutionResult:
    """Destroy every record of an approved batch decided 销毁, re-checking each; resumable; commits.

    Needs two supervisors who signed and an executor who is neither of them. Once the records
    are gone from ``store`` and the database, ``_purge_from_index`` takes them out of ``index``
    and the certificate is stored (``tz`` for its times); both run before the batch is marked
    executed, so a crash before them is repaired by running again.
    """
    _require(executor, "disposal.execute", _("只有档案管理员可以执行销毁"))
    batch = _batch(session, batch_id, lock=True)
    if batch.status == "executed":
        return ExecutionResult(finished=True, already_done=len([i for i in batch.items if i.state == "destroyed"]))
    _in_status(batch, "approved", "executing")
    signed = _signed(session, batch.id)
    if len(signed) < 2:
        raise Conflict(_("销毁须有两名监销人确认"), code="supervisors_required")
    if executor.id in signed:
        raise Conflict(_("执行人不能同时担任监销人"), code="executor_is_supervisor")
    if batch.status == "approved":
        batch.status, batch.started_at, batch.executed_by_id, batch.method = "executing", now, executor.id, METHOD
        audit.record_event(session, "disposal.execute_start", actor=executor, object_type="disposal_batch",
                           object_id=batch.id, now=now, details={"batch_no": batch.batch_no})
    session.commit()
    result = ExecutionResult()
    result.already_done = session.scalar(select(func.count()).where(DisposalItem.batch_id == batch.id,
                                                                    DisposalItem.state == "destroyed"))
    todo = session.scalars(select(DisposalItem.id).where(DisposalItem.batch_id == batch.id,
                                                         DisposalItem.decision == "destroy",
                                                         DisposalItem.state.in_(("pending", "destroying")))
                           .order_by(DisposalItem.id)).all()
    for item_id in todo:
        item = session.get(DisposalItem, item_id)
        state = _destroy_item(session, store, batch, item, executor, now)
        if state == "destroyed":
            result.destroyed += 1
        else:
            result.skipped += 1
    batch = _batch(session, batch_id, lock=True)
    _erase_customers_without_records(session, batch, executor, now)
    session.commit()
    _purge_from_index(session, index, batch_id)
    _certify(session, store, batch_id, now, tz)
    batch = _batch(session, batch_id, lock=True)
    batch.status, batch.finished_at = "executed", now
    audit.record_event(session, "disposal.execute_finish", actor=executor, object_type="disposal_batch",
                       object_id=batch.id, now=now,
                       details={"batch_no": batch.batch_no, "destroyed": result.destroyed + result.already_done,
                                "skipped": result.skipped, "certificate_sha256": batch.certificate_sha256})
    session.commit()
    scrub_database(session)
    result.finished = True
    return result


def _purge_from_index(session: Session, index: SearchIndex, batch_id: int) -> None:
    """Take every record the batch destroyed out of the search index, leaving no byte of it behind.

    The one place destruction touches the index. ``purge`` deletes the documents and rewrites the
    segments that held them (a plain delete leaves terms and stored text in the segment files
    until a merge); it costs the size of those segments, so it runs once per run, for every record
    the batch has destroyed so far (a resumed run thus finishes what a crashed one left). Until
    then searches still read the database for every hit and never show a destroyed record.
    """
    destroyed = list(session.scalars(select(DisposalItem.record_id).where(DisposalItem.batch_id == batch_id,
                                                                          DisposalItem.state == "destroyed")))
    # customers the batch erased leave too: their own document held their name and numbers
    erased = list(session.scalars(
        select(Customer.id).join(Record, Record.customer_id == Customer.id)
        .join(DisposalItem, DisposalItem.record_id == Record.id)
        .where(DisposalItem.batch_id == batch_id, DisposalItem.state == "destroyed", Customer.name == ERASED_NAME)
        .distinct()))
    session.commit()  # no transaction held open while the index is rewritten
    if destroyed:
        index.purge(destroyed, customer_ids=erased)


def _certify(session: Session, store: BlobStore, batch_id: int, now: datetime, tz: str) -> None:
    """Store the batch's certificate (kept permanently, write-once) and record where; commit."""
    batch = _batch(session, batch_id)
    key, sha = certificates.store_certificate(store, batch, register_entries(session, batch.id),
                                              list(batch.supervisors), now=now, tz=tz)
    batch.certificate_key, batch.certificate_sha256 = key, sha
    session.commit()


def scrub_database(session: Session) -> None:
    """Push deleted rows out of the database files, so no destroyed text lingers on disk.

    SQLite runs with ``secure_delete`` (freed pages are zeroed); a truncating checkpoint then
    drops the write-ahead log, whose older frames may still hold the rows as first written.
    PostgreSQL: VACUUM frees the dead tuples of the tables that held content. Best effort: a
    busy database is scrubbed again by the next run or ``archive disposal-scrub``.
    """
    session.commit()
    engine = session.get_bind()
    try:
        if engine.dialect.name == "sqlite":
            raw = engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        elif engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM file_pages, record_files, customers")
    except Exception:  # noqa: BLE001 - the destruction itself is complete and committed
        log.exception("could not scrub the database after destruction")


def register_entries(session: Session, batch_id: int | None = None) -> list[DestructionEntry]:
    """The 销毁清册: every destroyed record (of one batch, or all), in order of destruction."""
    stmt = (select(DestructionEntry).order_by(DestructionEntry.batch_id, DestructionEntry.id)
            .options(selectinload(DestructionEntry.record).selectinload(Record.customer)))
    if batch_id is not None:
        stmt = stmt.where(DestructionEntry.batch_id == batch_id)
    return list(session.scalars(stmt))
