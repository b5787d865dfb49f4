"""Change requests (客户数据变更申请表), the change history (变更记录) and quarterly verifications (核实)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive_app.accounts.models import User
from archive_app.clock import utcnow
from archive_app.dbtypes import UTCDateTime
from archive_app.extensions import db
from archive_app.intake.models import Customer

REQUEST_STATES = ("pending_head", "pending_second", "approved", "rejected")


class ChangeRequest(db.Model):
    """One proposed change to a customer's data, with its reason and its approvals.

    ``changes`` is JSON ``{field: {"before": …, "after": …}}``: the values seen when it was filed, so the
    approval can tell whether the customer changed meanwhile. Personal values in it are blanked when the
    customer is erased (``history.erase_customer``).
    """

    __tablename__ = "change_requests"
    __table_args__ = (
        CheckConstraint("status IN ('pending_head', 'pending_second', 'approved', 'rejected')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The requester's department when filed: its head decides the first step.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), nullable=True, index=True)
    changes: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    # Whether a field marked sensitive (ARCHIVE_SENSITIVE_CUSTOMER_FIELDS) is changed: a second step follows.
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    head_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    head_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    second_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    second_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")

    customer: Mapped[Customer] = relationship()
    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    head: Mapped[User | None] = relationship(foreign_keys=[head_id])
    second: Mapped[User | None] = relationship(foreign_keys=[second_id])


class CustomerChange(db.Model):
    """One field of a customer changed once (变更记录): before, after, who asked, who approved, when, why.

    Written for an approved request and for an archivist's direct correction alike (``source``).
    Values are stored as text; personal ones are blanked when the customer is erased.
    """

    __tablename__ = "customer_changes"
    __table_args__ = (CheckConstraint("source IN ('request', 'correction')", name="source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    field: Mapped[str] = mapped_column(String(32))
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("change_requests.id"), nullable=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The head's approval (first step) and the second step's, when there was one.
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    second_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    second_by: Mapped[User | None] = relationship(foreign_keys=[second_by_id])


class CustomerVerification(db.Model):
    """A customer's data checked against reality in one quarter (每季度核实): who, when, a note."""

    __tablename__ = "customer_verifications"
    __table_args__ = (UniqueConstraint("customer_id", "quarter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # "2026Q4", in the archive's time zone.
    quarter: Mapped[str] = mapped_column(String(7), index=True)
    verified_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")

    verified_by: Mapped[User] = relationship()
