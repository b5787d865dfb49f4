"""The department a record carries (``records.department_id``): always its customer's.

Reports count a department's records by this column (reports.records), reading the records' own
indexes instead of reaching the department through every record's customer. It is derived data, so
it is written in two places only: when a record is made (``department_of``) and when a customer moves
to another department (``follow_customer``); migration 0022 filled it for the records before it.
"""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from archive_app.intake.models import Customer, Record


def department_of(customer: Customer) -> int | None:
    """The department a new record of ``customer`` carries (flushed: the customer's id is known)."""
    return customer.department_id


def follow_customer(session: Session, customer: Customer) -> int:
    """Give every record of ``customer`` the customer's (flushed) department; how many records moved."""
    moved = session.execute(update(Record).where(Record.customer_id == customer.id,
                                                 Record.department_id.is_distinct_from(customer.department_id))
                            .values(department_id=customer.department_id)
                            .execution_options(synchronize_session="fetch"))
    return int(moved.rowcount or 0)
