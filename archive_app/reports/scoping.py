"""Whose figures a report counts: the viewer's department, or the whole company (the policy says)."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, select, true
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import Department, User
from archive_app.i18n import _, _l
from archive_app.intake.models import Customer

COMPANY = _l("全公司")


def report_scope(session: Session, actor: User, action: str) -> tuple[int | None, str]:
    """Check ``action`` and answer (department id or None for the company, its Chinese name)."""
    policy.require(actor, action, message=_("您没有权限查看该报表"))
    department_id = policy.report_department(actor)
    if department_id is None:
        return None, COMPANY
    name = session.scalar(select(Department.name).where(Department.id == department_id))
    return department_id, name or _("部门 %(department_id)s", department_id=department_id)


def in_department(column: ColumnElement, department_id: int | None) -> ColumnElement[bool]:
    """``column = department_id``, or no condition for the whole company."""
    return true() if department_id is None else column == department_id


def department_customers(department_ids: int | Iterable[int]) -> Select:
    """``SELECT id FROM customers WHERE department_id …``: the department's customers, read from the
    department index alone, for ``customer_id IN (…)``."""
    if isinstance(department_ids, int):
        return select(Customer.id).where(Customer.department_id == department_ids)
    return select(Customer.id).where(Customer.department_id.in_(sorted(department_ids)))


def scoped(stmt: Select, department_id: int | None, customer_id: ColumnElement) -> Select:
    """``stmt`` limited to the customers of ``department_id`` (``customer_id`` in them); unchanged for the
    whole company, so a company-wide count reads its own table's index alone.

    A semi-join rather than a join: the department's customer ids are gathered once (SQLite builds a
    small in-memory index of them, PostgreSQL a hash) instead of looking up each counted row's customer
    in the wide customers table.
    """
    if department_id is None:
        return stmt
    return stmt.where(customer_id.in_(department_customers(department_id)))


def carried(stmt: Select, department_id: int | None, department_column: ColumnElement) -> Select:
    """``stmt`` limited to the rows carrying ``department_id`` in their own department column (records,
    grade changes, follow-ups: intake.record_departments keeps it their customer's); unchanged for the
    whole company. One range of an index that begins with the department, no customer looked up."""
    if department_id is None:
        return stmt
    return stmt.where(department_column == department_id)


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Display names of the users ``ids`` (one query), for the per-consultant rows."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(wanted))).all())


def department_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Names of the departments ``ids`` (one query)."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return dict(session.execute(select(Department.id, Department.name).where(Department.id.in_(wanted))).all())


NOBODY = _l("（未指定）")
