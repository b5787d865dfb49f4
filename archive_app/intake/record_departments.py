"""The department a customer's rows carry: records, grade changes and follow-ups, always the customer's.

Reports count a department's records (reports.records), grade changes (reports.grades) and follow-ups
(reports.follow_ups, the landing page) by this column, reading the rows' own indexes instead of reaching
the department through every row's customer. It is derived data, so it is written in two places only:
when a row is made (``department_of``) and when a customer moves to another department
(``follow_customer``, every carrying table at once); migrations 0022 (records) and 0024 (grade changes,
follow-ups) filled it for the rows before them.
"""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from archive_app.intake.models import Customer, Record
from archive_app.visits.models import FollowUp, GradeChange

# The tables whose rows carry their customer's department (each has customer_id and department_id).
CARRIERS = (Record, GradeChange, FollowUp)


def department_of(customer: Customer) -> int | None:
    """The department a new record, grade change or follow-up of ``customer`` carries."""
    return customer.department_id


def follow_customer(session: Session, customer: Customer) -> int:
    """Give every row of ``customer`` in each carrying table the customer's (flushed) department; how many
    rows moved, all tables together."""
    moved = 0
    for model in CARRIERS:
        result = session.execute(update(model).where(model.customer_id == customer.id,
                                                     model.department_id.is_distinct_from(customer.department_id))
                                 .values(department_id=customer.department_id)
                                 .execution_options(synchronize_session="fetch"))
        moved += int(result.rowcount or 0)
    return moved
