"""The review queue (档案审核): every draft waiting for this reviewer, counted and paged; many approved at
once, each under the same rules as one (the uploader never approves their own record).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.errors import DomainError, ValidationFailed
from archive_app.i18n import _, _l
from archive_app.intake import records as record_svc
from archive_app.intake.models import Customer, Record, RecordFile

PER_PAGE = 50
# How many drafts one bulk approval may name (the page's largest selection is PER_PAGE_CHOICES' last).
MAX_BULK = 1000
PER_PAGE_CHOICES = (50, 100, 200)
# The queue's orders: (label, columns).
SORTS = {
    "oldest": (_l("上传时间（最早在前）"), (Record.created_at, Record.id)),
    "newest": (_l("上传时间（最新在前）"), (Record.created_at.desc(), Record.id.desc())),
    "code": (_l("档号"), (Record.archival_code,)),
    "customer": (_l("客户"), (Customer.name, Record.archival_code)),
    "type": (_l("档案类型"), (Record.record_type, Record.archival_code)),
}


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue: its drafts, the true number waiting, pages, and each draft's page count."""

    records: list[Record]
    total: int
    page: int
    pages: int
    per_page: int
    sort: str
    page_counts: dict[int, int]


def _waiting(actor: User):
    return policy.visible_records(actor, select(Record).join(Customer)).where(
        Record.status == "draft", Record.created_by_id != actor.id, Record.returned_at.is_(None))


def queue_page(session: Session, actor: User, *, page: int = 1, per_page: int = PER_PAGE,
               sort: str = "oldest") -> QueuePage:
    """The drafts this reviewer may check (not their own, not sent back), one page in ``sort`` order."""
    policy.require(actor, "review.queue")
    sort = sort if sort in SORTS else "oldest"
    per_page = per_page if per_page in PER_PAGE_CHOICES else PER_PAGE
    waiting = _waiting(actor)
    total = session.scalar(select(func.count()).select_from(waiting.with_only_columns(Record.id).subquery())) or 0
    pages = max((total + per_page - 1) // per_page, 1)
    page = min(max(page, 1), pages)
    rows = list(session.scalars(waiting.options(selectinload(Record.customer), selectinload(Record.created_by))
                                .order_by(*SORTS[sort][1]).limit(per_page).offset((page - 1) * per_page)))
    return QueuePage(rows, total, page, pages, per_page, sort, page_counts(session, [r.id for r in rows]))


def page_counts(session: Session, record_ids: Iterable[int]) -> dict[int, int]:
    """Each record's pages over all its files (a file whose pages are unknown counts none)."""
    ids = list(record_ids)
    if not ids:
        return {}
    return dict(session.execute(select(RecordFile.record_id, func.coalesce(func.sum(RecordFile.page_count), 0))
                                .where(RecordFile.record_id.in_(ids)).group_by(RecordFile.record_id)).all())


@dataclass(frozen=True)
class Outcome:
    """What became of one draft of a bulk approval: filed, or refused with the reason."""

    record_id: int
    label: str
    approved: bool
    reason: str = ""


def approve_many(session: Session, actor: User, record_ids: Iterable[int], *, now: datetime, comment: str = "",
                 ip: str = "") -> list[Outcome]:
    """Approve each named draft as ``records.review_record`` would one by one; a draft that may not be
    approved (the actor's own upload, already filed, no files, out of sight) is refused with its reason
    and the others still go through. Each approval is its own audit entry."""
    policy.require(actor, "review.queue")
    ids = list(dict.fromkeys(int(i) for i in record_ids))
    if not ids:
        raise ValidationFailed(_("请先勾选要审核归档的档案"), code="nothing_selected")
    if len(ids) > MAX_BULK:
        raise ValidationFailed(_("一次最多审核 %(max_bulk)s 件", max_bulk=MAX_BULK), code="too_many")
    # One query for the drafts and their files instead of two per record; held here, as the session's
    # identity map only keeps objects someone references.
    loaded = {r.id: r for r in session.scalars(select(Record).where(Record.id.in_(ids))
                                               .options(selectinload(Record.files), selectinload(Record.customer)))}
    out, events = [], []
    for record_id in ids:
        record = loaded.get(record_id)
        label = policy.record_code(actor, record) if record is not None else f"#{record_id}"
        try:
            filed, details = record_svc.file_draft(session, actor, record_id, now=now, comment=comment)
        except DomainError as exc:
            out.append(Outcome(record_id, label, False, exc.message))
        else:
            out.append(Outcome(record_id, label, True))
            events.append({"action": "record.review", "actor": actor, "object_type": "record",
                           "object_id": filed.id, "ip": ip, "now": now, "details": details})
    # One entry per approval, appended together (the chain's head moves once).
    audit.record_events(session, events)
    session.flush()
    return out


__all__ = ["MAX_BULK", "Outcome", "PER_PAGE", "PER_PAGE_CHOICES", "QueuePage", "SORTS", "approve_many",
           "page_counts", "queue_page"]
