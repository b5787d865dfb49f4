"""Borrowing (借阅): requests for records, their approvals, paper originals handed out, handovers.

The state machine that moves a request between statuses lives in ``borrowing/loans.py``
(``TRANSITIONS``); these are only the rows.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive_app.accounts.models import Department, User
from archive_app.clock import utcnow
from archive_app.dbtypes import UTCDateTime, in_values
from archive_app.extensions import db
from archive_app.intake.models import Customer, Record

# 查阅 (view online), 复制/调用 (download a copy), 借出原件 (paper original)
LOAN_KINDS = ("view", "download", "original")
LOAN_STATUSES = ("pending_head", "pending_gm", "approved", "rejected", "expired", "revoked", "closed")
PAPER_STATUSES = ("out", "returned")


class LoanRequest(db.Model):
    """One request to use named records for a purpose, inside a time window."""

    __tablename__ = "loan_requests"
    __table_args__ = (
        CheckConstraint(in_values("kind", LOAN_KINDS), name="kind"),
        CheckConstraint(in_values("status", LOAN_STATUSES), name="status"),
        CheckConstraint("window_end > window_start", name="window"),
        # Requests per week, department and purpose in a period (reports.borrowing).
        Index("ix_loan_requests_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # 借阅单号 JY-年-id, set right after the first flush and never changed.
    request_no: Mapped[str | None] = mapped_column(String(24), unique=True, nullable=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The requester's department when the request was made (its head approves).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), nullable=True, index=True)
    # Set when the request named a whole customer file (its records at that moment are the items).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(Text)
    reason_for_long_window: Mapped[str] = mapped_column(Text, default="")
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="pending_head", index=True)
    # Whether the general manager must approve after the department head (fixed at creation).
    needs_gm: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When the request left the pending states (approved, rejected, expired, revoked).
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Why it was rejected or revoked.
    status_reason: Mapped[str] = mapped_column(Text, default="")

    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    department: Mapped[Department | None] = relationship()
    customer: Mapped[Customer | None] = relationship()
    items: Mapped[list[LoanItem]] = relationship(back_populates="request", order_by="LoanItem.id",
                                                   cascade="all, delete-orphan")
    approvals: Mapped[list[LoanApproval]] = relationship(back_populates="request", order_by="LoanApproval.id")

    @property
    def record_ids(self) -> set[int]:
        return {i.record_id for i in self.items}


class LoanItem(db.Model):
    """One record named by a request; approval never reaches beyond these."""

    __tablename__ = "loan_items"
    __table_args__ = (UniqueConstraint("request_id", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("loan_requests.id"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)

    request: Mapped[LoanRequest] = relationship(back_populates="items")
    record: Mapped[Record] = relationship()


class LoanApproval(db.Model):
    """One decision on a request: the department head's step or the general manager's."""

    __tablename__ = "loan_approvals"
    __table_args__ = (
        CheckConstraint("step IN ('head', 'gm')", name="step"),
        CheckConstraint("decision IN ('approve', 'reject')", name="decision"),
        UniqueConstraint("request_id", "step"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("loan_requests.id"), index=True)
    step: Mapped[str] = mapped_column(String(8))
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    request: Mapped[LoanRequest] = relationship(back_populates="approvals")
    approver: Mapped[User] = relationship()


class PaperLoan(db.Model):
    """A paper original handed out by an archivist; at most one open per record (partial unique index)."""

    __tablename__ = "paper_loans"
    __table_args__ = (
        CheckConstraint(in_values("status", PAPER_STATUSES), name="status"),
        CheckConstraint("pages_out > 0", name="pages_out"),
        # One holder at a time, enforced by the database on SQLite and PostgreSQL alike.
        Index("uq_paper_loans_open_record", "record_id", unique=True,
              sqlite_where=text("returned_at IS NULL"), postgresql_where=text("returned_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("loan_requests.id"), index=True)
    handed_out_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The borrower who signed for it; ``holder`` is who has it now (changes at a handover).
    received_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    holder_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    pages_out: Mapped[int] = mapped_column(Integer)
    out_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    returned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    pages_back: Mapped[int | None] = mapped_column(Integer, nullable=True)
    condition_note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="out")

    record: Mapped[Record] = relationship()
    request: Mapped[LoanRequest] = relationship()
    handed_out_by: Mapped[User] = relationship(foreign_keys=[handed_out_by_id])
    received_by: Mapped[User] = relationship(foreign_keys=[received_by_id])
    holder: Mapped[User] = relationship(foreign_keys=[holder_id])
    returned_to: Mapped[User | None] = relationship(foreign_keys=[returned_to_id])


class Handover(db.Model):
    """交接记录: what a departing user's customers and open paper loans were handed to, and by whom."""

    __tablename__ = "handovers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    customers_count: Mapped[int] = mapped_column(Integer, default=0)
    paper_loans_count: Mapped[int] = mapped_column(Integer, default=0)
    requests_revoked_count: Mapped[int] = mapped_column(Integer, default=0)

    from_user: Mapped[User] = relationship(foreign_keys=[from_user_id])
    to_user: Mapped[User] = relationship(foreign_keys=[to_user_id])
    by: Mapped[User] = relationship(foreign_keys=[by_id])
