"""Retention (保管期限) and disposal (鉴定/销毁): the schedule, legal holds, review batches, the register.

The rules that move these rows live in ``retention/schedule.py`` (the pure disposal-date function)
and ``retention/disposal.py`` (batches, approval, supervised destruction); these are only the rows.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive_app.accounts.models import User
from archive_app.clock import utcnow
from archive_app.dbtypes import UTCDateTime, in_values
from archive_app.extensions import db
from archive_app.i18n import _l
from archive_app.intake.models import Customer, Record

# The event a retention period is counted from (never simply the upload).
TRIGGERS = {
    "doc_date": _l("文件形成日期"),
    "deal_closed": _l("成交日期"),
    "contract_ended": _l("合同终止日期"),
    "last_contact": _l("最后联系日期"),
    "follow_contract": _l("随本客户合同"),
}
HOLD_KINDS = {"litigation": _l("诉讼"), "dispute": _l("纠纷"), "pending": _l("未了事项")}
BATCH_STATUSES = {"reviewing": _l("鉴定中"), "submitted": _l("待总经理审批"), "approved": _l("已批准，待监销"),
                  "executing": _l("销毁执行中"), "executed": _l("已销毁"), "rejected": _l("已退回")}
DECISIONS = {"destroy": _l("销毁"), "extend": _l("延长保管"), "permanent": _l("永久保存")}
# How paper originals are destroyed (原件销毁方式), as the company's 销毁清册 names them.
PAPER_METHODS = {"粉碎": _l("粉碎（碎纸机）"), "焚毁": _l("焚毁"), "化浆": _l("化浆（造纸厂回收处理）")}
ITEM_STATES = ("pending", "destroying", "destroyed", "kept", "skipped")


class ScheduleVersion(db.Model):
    """One version of the retention schedule; a change writes a new version with every rule."""

    __tablename__ = "schedule_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    created_by: Mapped[User | None] = relationship()
    rules: Mapped[list[RetentionRule]] = relationship(back_populates="schedule", order_by="RetentionRule.id",
                                                      cascade="all, delete-orphan")


class RetentionRule(db.Model):
    """How long one record type is kept (``years`` None = 永久) and from which event."""

    __tablename__ = "retention_rules"
    __table_args__ = (
        UniqueConstraint("schedule_id", "record_type"),
        CheckConstraint(in_values("trigger", TRIGGERS), name="trigger"),
        CheckConstraint("years IS NULL OR years > 0", name="years"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedule_versions.id"), index=True)
    record_type: Mapped[str] = mapped_column(String(32))
    years: Mapped[int | None] = mapped_column(Integer, nullable=True)
    trigger: Mapped[str] = mapped_column(String(16))

    schedule: Mapped[ScheduleVersion] = relationship(back_populates="rules")


class LegalHold(db.Model):
    """诉讼/纠纷/未了事项: freezes a whole customer file or one record until lifted."""

    __tablename__ = "legal_holds"
    __table_args__ = (
        CheckConstraint("(customer_id IS NULL) <> (record_id IS NULL)", name="target"),
        CheckConstraint(in_values("kind", HOLD_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), nullable=True, index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    # 依据: the case number, letter or decision that orders the hold.
    mandate: Mapped[str] = mapped_column(String(200))
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lift_reason: Mapped[str] = mapped_column(Text, default="")

    customer: Mapped[Customer | None] = relationship()
    record: Mapped[Record | None] = relationship()
    placed_by: Mapped[User] = relationship(foreign_keys=[placed_by_id])
    lifted_by: Mapped[User | None] = relationship(foreign_keys=[lifted_by_id])


class DisposalBatch(db.Model):
    """A review batch (鉴定批次): the records due up to a date, decided one by one, then destroyed."""

    __tablename__ = "disposal_batches"
    __table_args__ = (CheckConstraint(in_values("status", BATCH_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # 销毁批次号 XH-年-id, set right after the first flush.
    batch_no: Mapped[str | None] = mapped_column(String(24), unique=True, nullable=True)
    due_by: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="reviewing", index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    executed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    method: Mapped[str] = mapped_column(String(200), default="")
    # The certificate (销毁证明) PDF, stored once the batch is executed and kept permanently.
    certificate_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    certificate_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # 原件销毁: the paper originals of the destroyed records, shredded or burnt after the electronic
    # destruction, by an archivist before two named supervisors; the shelf places are then cleared.
    paper_destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    paper_destroyed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    paper_method: Mapped[str] = mapped_column(String(16), default="")
    paper_supervisor1_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    paper_supervisor2_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    paper_note: Mapped[str] = mapped_column(Text, default="")
    # How many originals were destroyed in that step (records that had a shelf place).
    paper_count: Mapped[int] = mapped_column(Integer, default=0)

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    paper_destroyed_by: Mapped[User | None] = relationship(foreign_keys=[paper_destroyed_by_id])
    paper_supervisor1: Mapped[User | None] = relationship(foreign_keys=[paper_supervisor1_id])
    paper_supervisor2: Mapped[User | None] = relationship(foreign_keys=[paper_supervisor2_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    executed_by: Mapped[User | None] = relationship(foreign_keys=[executed_by_id])
    items: Mapped[list[DisposalItem]] = relationship(
        back_populates="batch", order_by="DisposalItem.id",
        primaryjoin="DisposalBatch.id == foreign(DisposalItem.batch_id)")
    supervisors: Mapped[list[DisposalSupervisor]] = relationship(back_populates="batch",
                                                                 order_by="DisposalSupervisor.id")


class DisposalSupervisor(db.Model):
    """监销人: a named supervisor who confirmed, with their own login, that they witness the destruction."""

    __tablename__ = "disposal_supervisors"
    __table_args__ = (UniqueConstraint("batch_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("disposal_batches.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    batch: Mapped[DisposalBatch] = relationship(back_populates="supervisors")
    user: Mapped[User] = relationship()


class DisposalItem(db.Model):
    """One record in a batch: the reviewers' decision, then the destruction's progress.

    No foreign keys (see migration 0004): a batch inserts every due record in one statement and
    per-row FK checks cost PostgreSQL 6 s of 10 at 1M records. The ids come from ``records``
    (never deleted) and from the batch being created.
    """

    __tablename__ = "disposal_items"
    __table_args__ = (
        UniqueConstraint("batch_id", "record_id"),
        CheckConstraint(f"decision IS NULL OR {in_values('decision', DECISIONS)}", name="decision"),
        CheckConstraint(in_values("state", ITEM_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Leads the unique (batch_id, record_id) index, which serves lookups by batch too.
    batch_id: Mapped[int] = mapped_column(Integer)
    record_id: Mapped[int] = mapped_column(Integer, index=True)
    # The disposal date that brought the record into the batch.
    due_on: Mapped[date] = mapped_column(Date)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    keep_years: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # pending -> destroying (storage being removed) -> destroyed; kept / skipped (hold or no longer due)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str] = mapped_column(Text, default="")

    batch: Mapped[DisposalBatch] = relationship(back_populates="items",
                                                primaryjoin="foreign(DisposalItem.batch_id) == DisposalBatch.id")
    record: Mapped[Record] = relationship(primaryjoin="foreign(DisposalItem.record_id) == Record.id")
    decided_by: Mapped[User | None] = relationship(primaryjoin="foreign(DisposalItem.decided_by_id) == User.id")


class DestructionEntry(db.Model):
    """A tombstone and one line of the 销毁清册: what was destroyed, why, by whom, when. Kept forever."""

    __tablename__ = "destruction_entries"
    __table_args__ = (UniqueConstraint("batch_id", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("disposal_batches.id"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), unique=True)
    archival_code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    record_type: Mapped[str] = mapped_column(String(32))
    customer_no: Mapped[str] = mapped_column(String(16))
    date_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    date_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # The SHA-256 of every destroyed file, space-separated (proof of what was destroyed).
    sha256s: Mapped[str] = mapped_column(Text, default="")
    retention_basis: Mapped[str] = mapped_column(Text, default="")
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    approved_by: Mapped[str] = mapped_column(String(200), default="")
    supervisors: Mapped[str] = mapped_column(String(200), default="")
    executed_by: Mapped[str] = mapped_column(String(200), default="")
    destroyed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    method: Mapped[str] = mapped_column(String(200), default="")
    # The paper original: where it was shelved (室 柜 架 盒; empty: no paper original was registered)
    # and when it was destroyed (None while it waits for the batch's 原件销毁 step).
    paper_location: Mapped[str] = mapped_column(String(200), default="")
    paper_destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    batch: Mapped[DisposalBatch] = relationship()
    # The tombstone row: its 密级 and customer decide who may see this line's 档号 and 题名.
    record: Mapped[Record] = relationship(viewonly=True)
