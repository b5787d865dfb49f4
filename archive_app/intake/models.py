"""Customers (one file each), records (件) in the four parts, and the files of each record."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive_app.accounts.models import Department, User
from archive_app.clock import utcnow
from archive_app.dbtypes import UTCDateTime
from archive_app.extensions import db
from archive_app.i18n import _

# The name an erased customer keeps (its personal data blanked after its last record was destroyed).
ERASED_NAME = "（已销毁）"
# A customer's personal data: blanked when the customer is erased, and kept out of the audit log's chained
# bytes (its ``personal`` field) so the erasure can reach the log too.
PERSONAL_FIELDS = ("name", "phones", "id_number", "address", "unit", "notes")


class Customer(db.Model):
    """A person or company; the archive holds exactly one file (一户一档) for each."""

    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint("kind IN ('person', 'company')", name="kind"),
        CheckConstraint("grade IS NULL OR grade IN ('A', 'B', 'C', 'D')", name="grade"),
        # The reports' counts (reports/): a department's customers by grade, deals and new customers per week.
        Index("ix_customers_department_grade", "department_id", "grade", "consultant_id"),
        # Deals per day, consultant and project of a department or the company, from the index alone.
        Index("ix_customers_deal_report", "deal_closed_on", "department_id", "consultant_id", "project"),
        Index("ix_customers_created_at", "created_at"),
        # Retained and potential customers by project and grade, read from the index alone (a department's
        # range of it, or the whole of it for the company: narrower than the table).
        Index("ix_customers_department_project", "department_id", "project", "grade", "deal_closed_on", "name"),
        # A counted visit's project and department by its customer id without reading the wide row.
        Index("ix_customers_project_lookup", "id", "project", "department_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # 客户号, set right after the first flush from the id and never changed.
    customer_no: Mapped[str | None] = mapped_column(String(16), unique=True, nullable=True)
    kind: Mapped[str] = mapped_column(String(16), default="person")
    name: Mapped[str] = mapped_column(String(200), index=True)
    # Comma-separated, digits only; searched with LIKE.
    phones: Mapped[str] = mapped_column(String(200), default="")
    # 身份证号 for a person, 统一社会信用代码 for a company.
    id_number: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    business_type: Mapped[str] = mapped_column(String(8), default="购房")
    grade: Mapped[str | None] = mapped_column(String(1), nullable=True)
    consultant_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), nullable=True)
    project: Mapped[str] = mapped_column(String(100), default="")
    unit: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    # The events retention periods count from (成交, 合同终止, 最后联系); unknown until entered.
    deal_closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    contract_ended_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    last_contact_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)

    consultant: Mapped[User | None] = relationship(foreign_keys=[consultant_id])
    department: Mapped[Department | None] = relationship()
    records: Mapped[list["Record"]] = relationship(back_populates="customer", order_by="Record.part, Record.item_no")


    @property
    def erased(self) -> bool:
        """Whether destruction has erased this customer (every record destroyed, personal data blanked)."""
        return self.name == ERASED_NAME

class Record(db.Model):
    """One record (件) in a customer's file; its 档号 is given once and never changes."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("customer_id", "part", "item_no"),
        CheckConstraint("part BETWEEN 1 AND 4", name="part"),
        CheckConstraint("secrecy BETWEEN 0 AND 3", name="secrecy"),
        CheckConstraint("status IN ('draft', 'filed', 'destroyed')", name="status"),
        CheckConstraint("disposal_state IN ('scheduled', 'permanent', 'awaiting_event', 'held')",
                        name="disposal_state"),
        # The due list (filed, not held, scheduled, dated up to a day) read from the index alone.
        Index("ix_records_due", "status", "on_hold", "disposal_state", "disposal_date", "id"),
        # Records entered and filed per week (reports.records) read only the period's rows.
        Index("ix_records_created_at", "created_at"),
        Index("ix_records_reviewed_at", "reviewed_at"),
        # A department's records counted by their own department (the customer's, carried here) from
        # the index alone, reading only the rows counted: entered and filed per week, drafts, due for
        # disposal; and the department's record ids for its files' reading queue.
        Index("ix_records_department_created", "department_id", "created_at", "secrecy"),
        Index("ix_records_department_reviewed", "department_id", "reviewed_at", "secrecy"),
        Index("ix_records_department_due", "department_id", "status", "on_hold", "disposal_state", "disposal_date",
              "secrecy", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # The customer's department, carried on the record so that a department's report counts read the
    # records' own indexes instead of reaching the department through every customer. Kept in step by
    # intake.record_departments (a new record; a customer moved to another department).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), nullable=True)
    part: Mapped[int] = mapped_column(Integer)
    item_no: Mapped[int] = mapped_column(Integer)
    archival_code: Mapped[str] = mapped_column(String(64), unique=True)
    record_type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    doc_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    year: Mapped[int] = mapped_column(Integer)
    retention_code: Mapped[str] = mapped_column(String(8))
    secrecy: Mapped[int] = mapped_column(Integer, default=1)
    location_room: Mapped[str] = mapped_column(String(50), default="")
    location_cabinet: Mapped[str] = mapped_column(String(50), default="")
    location_shelf: Mapped[str] = mapped_column(String(50), default="")
    location_box: Mapped[str] = mapped_column(String(50), default="")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A draft the reviewer sent back to its uploader (退回修改): out of the review queue, the reason in the
    # uploader's inbox, until a keeper saves its metadata again.
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    returned_reason: Mapped[str] = mapped_column(String(500), default="")
    # Retention, derived by retention.schedule.disposal_for and stored so the due list is a query.
    disposal_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    disposal_state: Mapped[str] = mapped_column(String(16), default="awaiting_event")
    disposal_basis: Mapped[str] = mapped_column(String(300), default="")
    # Mirrors an active legal hold on the record or its customer (kept in step by retention.holds).
    on_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    # A disposal review's decision to keep the record longer (keep_until) or for good.
    keep_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    keep_permanent: Mapped[bool] = mapped_column(Boolean, default=False)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    customer: Mapped[Customer] = relationship(back_populates="records")
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    returned_by: Mapped[User | None] = relationship(foreign_keys=[returned_by_id])
    files: Mapped[list["RecordFile"]] = relationship(back_populates="record", order_by="RecordFile.id")

    @property
    def shelf_location(self) -> str:
        """Where the paper original is kept (室 柜 架 盒), or '' when no place is registered."""
        parts = (self.location_room, self.location_cabinet, self.location_shelf, self.location_box)
        return " ".join(p.strip() for p in parts if p and p.strip())


class RecordFile(db.Model):
    """The stored bytes of a record: which object holds them and the SHA-256 they must have."""

    __tablename__ = "record_files"
    # The reading queue of a department's records, from the index alone.
    __table_args__ = (Index("ix_record_files_record_status", "record_id", "extract_status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    object_key: Mapped[str] = mapped_column(String(200), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(255))
    page_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Text extraction (background job): queued -> processing -> done | failed (with the reason).
    extract_status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    extract_error: Mapped[str] = mapped_column(Text, default="")
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    extract_attempts: Mapped[int] = mapped_column(Integer, default=0)
    extract_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The worker running the job holds a lease it renews; a lapsed lease means the worker is gone and the
    # sweep hands the job to another, which resumes after the last stored page.
    leased_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Times the job was taken again after its worker was lost, and why the last time (vocabulary.RETRY_REASONS).
    retries: Mapped[int] = mapped_column(Integer, default=0)
    last_retry_reason: Mapped[str] = mapped_column(String(32), default="")
    # The PDF copy with an invisible text layer over each scanned page (reading.searchable_copy), made
    # when the job finishes; None for files without OCR'd pages. The original is never replaced by it.
    searchable_key: Mapped[str | None] = mapped_column(String(240), nullable=True)

    record: Mapped[Record] = relationship(back_populates="files")

    @property
    def retry_note(self) -> str:
        """「第 N 次重试：原因」 for the record page and the API, or '' when the job never had to be retaken."""
        from archive_app.vocabulary import RETRY_REASONS

        if not self.retries:
            return ""
        return _("第 %(retries)s 次重试：%(value)s", retries=self.retries, value=RETRY_REASONS.get(self.last_retry_reason, self.last_retry_reason))

    pages: Mapped[list["FilePage"]] = relationship(back_populates="file", order_by="FilePage.page_no",
                                                   cascade="all, delete-orphan")


class FilePage(db.Model):
    """One page of a stored file: its extracted text and its derived images (thumbnail, view)."""

    __tablename__ = "file_pages"
    __table_args__ = (UniqueConstraint("file_id", "page_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("record_files.id"), index=True)
    page_no: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    # "text" (the PDF's own text layer), "ocr", or "none" (nothing readable on the page)
    source: Mapped[str] = mapped_column(String(8), default="none")
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    thumb_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    view_key: Mapped[str | None] = mapped_column(String(200), nullable=True)

    file: Mapped[RecordFile] = relationship(back_populates="pages")


class AdmissionCheck(db.Model):
    """The latest result of one 四性检测 check (intake.admission_checks) of a record or one of its files.

    ``file_id`` 0 is the record itself (integrity: its metadata). No foreign key to the file: a
    destruction deletes file rows, and a result of a file that is gone is simply never joined again.
    """

    __tablename__ = "admission_checks"
    __table_args__ = (
        UniqueConstraint("record_id", "file_id", "kind"),
        CheckConstraint("kind IN ('authenticity', 'integrity', 'usability', 'security')", name="kind"),
        CheckConstraint("result IN ('passed', 'flag', 'failed', 'pending')", name="result"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    file_id: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(String(8), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Who ran it: the uploader's or re-runner's display name, or the text-extraction job (usability).
    checker: Mapped[str] = mapped_column(String(100), default="")
