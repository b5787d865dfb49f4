"""原件销毁: destroying the paper originals of a batch's destroyed records, the step after the electronic one.

The electronic destruction (``disposal.execute``) removes every stored byte; the paper original
still sits on its shelf. An archivist then shreds or burns the originals (粉碎 / 焚毁 / 化浆) before two
supervisors (监销人, people who may supervise a destruction: 公司领导 / 鉴定小组 / 部门负责人), and
records it here: who, when, how, which two supervisors. Each destroyed record's tombstone line
(``DestructionEntry``) keeps where its original was shelved and when it was destroyed; the record's
shelf place is cleared, so no page offers an original that no longer exists.

Refused while an original of the batch is still out on loan (it must come back first), and done
once per batch. Records without a registered shelf place had no paper original in the archive
room: they are counted out, not destroyed.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.borrowing.models import PaperLoan
from archive_app.errors import Conflict, NotFound, ValidationFailed
from archive_app.i18n import _
from archive_app.intake.models import Record
from archive_app.retention.models import PAPER_METHODS, DestructionEntry, DisposalBatch


def paper_entries(session: Session, batch_id: int) -> list[DestructionEntry]:
    """The batch's tombstone lines whose record had a paper original (a shelf place), in order."""
    entries = session.scalars(select(DestructionEntry).where(DestructionEntry.batch_id == batch_id)
                              .options(selectinload(DestructionEntry.record)).order_by(DestructionEntry.id)).all()
    return [e for e in entries if e.paper_location or e.record.shelf_location]


def supervisors_allowed(session: Session) -> list[User]:
    """Active users who may supervise a destruction (the choices offered for the two 监销人)."""
    users = session.scalars(select(User).where(User.is_active_flag.is_(True)).order_by(User.display_name)).all()
    return [u for u in users if policy.can(u, "disposal.supervise")]


def destroy_paper(session: Session, archivist: User, batch_id: int, *, method: str, supervisor_ids: Sequence[int],
                  now: datetime, note: str = "") -> DisposalBatch:
    """Record that the batch's paper originals were destroyed by ``archivist`` with ``method`` before the
    two supervisors ``supervisor_ids``; clears their shelf places; flushes (the caller commits)."""
    policy.require(archivist, "disposal.execute", code="forbidden", message=_("只有档案管理员可以登记原件销毁"))
    batch = session.scalar(select(DisposalBatch).where(DisposalBatch.id == batch_id).with_for_update())
    if batch is None:
        raise NotFound(_("销毁批次不存在"), code="batch_not_found")
    if batch.status != "executed":
        raise Conflict(_("销毁批次 %(batch_no)s 的电子档案尚未销毁完成，不能登记原件销毁", batch_no=batch.batch_no), code="not_executed")
    if batch.paper_destroyed_at is not None:
        raise Conflict(_("销毁批次 %(batch_no)s 的原件销毁已登记", batch_no=batch.batch_no), code="paper_already_destroyed")
    if method not in PAPER_METHODS:
        raise ValidationFailed(_("请选择原件销毁方式（粉碎、焚毁或化浆）"), code="invalid_paper_method")
    ids = list(dict.fromkeys(int(i) for i in supervisor_ids))
    if len(ids) != 2:
        raise ValidationFailed(_("原件销毁须有两名不同的监销人"), code="paper_supervisors_required")
    people = [session.get(User, i) for i in ids]
    if any(u is None or not u.is_active_flag or not policy.can(u, "disposal.supervise") for u in people):
        raise ValidationFailed(_("监销人须为公司领导、鉴定小组成员或部门负责人"), code="invalid_supervisor")
    if archivist.id in ids:
        raise ValidationFailed(_("执行人不能同时担任监销人"), code="executor_is_supervisor")
    entries = paper_entries(session, batch.id)
    out = session.scalars(select(Record.archival_code).join(PaperLoan, PaperLoan.record_id == Record.id)
                          .where(PaperLoan.returned_at.is_(None),
                                 Record.id.in_([e.record_id for e in entries]))).all()
    if out:
        raise Conflict(_("以下原件借出未还，须先归还再销毁：%(value)s", value='、'.join(out)), code="paper_still_out",
                       details={"archival_codes": list(out)})
    for e in entries:
        record = e.record
        e.paper_location = e.paper_location or record.shelf_location
        e.paper_destroyed_at = now
        record.location_room = record.location_cabinet = record.location_shelf = record.location_box = ""
    batch.paper_destroyed_at, batch.paper_destroyed_by_id, batch.paper_method = now, archivist.id, method
    batch.paper_supervisor1_id, batch.paper_supervisor2_id = ids
    batch.paper_note, batch.paper_count = (note or "").strip(), len(entries)
    session.flush()
    audit.record_event(session, "disposal.paper_destroy", actor=archivist, object_type="disposal_batch",
                       object_id=batch.id, now=now,
                       details={"batch_no": batch.batch_no, "method": method, "supervisors": ids,
                                "originals": len(entries), "archival_codes": [e.archival_code for e in entries]})
    session.flush()
    return batch
