"""档号 and 客户号: how a customer and a record get their permanent reference codes.

档号 = 全宗号-年度-保管期限代码-客户号-部分-件号. It is made once, when the record is created, and
never changes. 件号 counts per customer and part; two uploads into one file at the same moment
must not get the same number, so numbering happens with the customer row locked.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive_app.errors import NotFound
from archive_app.i18n import _
from archive_app.intake.models import Customer, Record
from archive_app.vocabulary import RECORD_TYPES


def archival_code(fonds: str, year: int, retention: str, customer_no: str, part: int, item_no: int) -> str:
    """Compose a 档号: 全宗号-年度-保管期限代码-客户号-部分-件号 (item number 4 digits).

    >>> archival_code("0001", 2026, "D30", "C000042", 3, 7)
    '0001-2026-D30-C000042-3-0007'
    """
    return f"{fonds}-{year:04d}-{retention}-{customer_no}-{part}-{item_no:04d}"


def customer_no_for(customer_id: int) -> str:
    """The customer number (客户号) derived once from the row id, e.g. C000042."""
    return f"C{customer_id:06d}"


@dataclass(frozen=True)
class Number:
    """What numbering gives a new record."""

    item_no: int
    year: int
    retention_code: str
    archival_code: str


def lock_customer(session: Session, customer_id: int) -> Customer:
    """The customer row, locked until the transaction ends (serialises numbering in one file)."""
    # FOR UPDATE serialises item numbering per customer on PostgreSQL; SQLite transactions are
    # already serialised (BEGIN IMMEDIATE, see the engine setup in create_app's module).
    customer = session.scalar(select(Customer).where(Customer.id == customer_id).with_for_update())
    if customer is None:
        raise NotFound(_("客户档案不存在"), code="customer_not_found")
    return customer


def next_number(session: Session, customer: Customer, *, part: int, record_type: str, doc_date: date | None,
                fonds: str, timezone: str, now: datetime) -> Number:
    """The next 件号 and the 档号 in ``customer``'s file (call with the customer locked).

    年度 is the document's year, else the filing date's in the archive's time zone; the retention
    code comes from the record type.
    """
    item_no = (session.scalar(select(func.max(Record.item_no))
                              .where(Record.customer_id == customer.id, Record.part == part)) or 0) + 1
    year = (doc_date or now.astimezone(ZoneInfo(timezone)).date()).year
    code = RECORD_TYPES[record_type][1]
    return Number(item_no, year, code, archival_code(fonds, year, code, customer.customer_no, part, item_no))
