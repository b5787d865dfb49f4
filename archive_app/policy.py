"""The one access policy: may user U do action A on object O?

Every view, download, API call, search hit, thumbnail and loan asks ``can``/``require``.
Business staff (staff, department heads, the general manager) see the catalogue of their own
department's files (the general manager: every file) up to their clearance, but read a record's
pages (``record.read``) or download it (``record.download``) only under an approved borrowing
request whose window is open now. Archive staff (archivist, reviewer, admin) keep the catalogue
and may open any file up to their clearance; auditors see the catalogue and never read or download.

``can`` stays pure: whether a borrowing grant is active is asked through an injected
``grant_checker(record, "view" | "download") -> bool`` (``services.records.grant_checker`` builds
one over a session and a time). Without a checker, no grant is assumed.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, false, true

from archive_app.errors import Forbidden, NotFound
from archive_app.intake.models import Customer, Record
from archive_app.accounts.models import Role, User

# Roles that keep the catalogue and therefore see every customer's file.
ARCHIVE_ROLES = {Role.ARCHIVIST, Role.REVIEWER, Role.ADMIN}
# Roles that see every customer's file but do not manage it.
COMPANY_WIDE_ROLES = ARCHIVE_ROLES | {Role.GENERAL_MANAGER, Role.AUDITOR}
# Roles that use records for business: their reading and downloading go through borrowing.
BUSINESS_ROLES = {Role.STAFF, Role.DEPT_HEAD, Role.GENERAL_MANAGER}

ACTIONS = {
    "customer.list", "customer.view", "customer.create", "customer.edit",
    "record.view", "record.upload", "record.edit", "record.read", "record.download", "record.review",
    "review.queue", "user.manage", "audit.view", "token.manage",
    "loan.request", "loan.approve", "paper.manage",
}
# Content actions and the borrowing grant a business user needs for them.
GRANT_FOR = {"record.read": "view", "record.download": "download"}

GrantChecker = Callable[[Record, str], bool]


def _role(user: User | None) -> Role | None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return Role(user.role)


def _same_department(user: User, customer: Customer) -> bool:
    return user.department_id is not None and user.department_id == customer.department_id


def _sees_customer(user: User, role: Role, customer: Customer) -> bool:
    return role in COMPANY_WIDE_ROLES or _same_department(user, customer)


def can(user: User | None, action: str, obj: Any = None, grant_checker: GrantChecker | None = None) -> bool:
    """Decide one action. ``obj`` is a Customer or Record where the action concerns one.

    ``grant_checker(record, "view" | "download")`` answers whether the user holds an active
    borrowing grant; it is asked only for business roles' ``record.read`` / ``record.download``.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    role = _role(user)
    if role is None:
        return False
    if action in {"token.manage", "customer.list"}:
        return True
    if action == "user.manage":
        return role is Role.ADMIN
    if action == "audit.view":
        return role in {Role.ADMIN, Role.AUDITOR}
    if action == "review.queue":
        return role in {Role.REVIEWER, Role.ADMIN}
    if action == "customer.create":
        return role in {Role.ARCHIVIST, Role.ADMIN}
    if action == "customer.view":
        return _sees_customer(user, role, obj)
    if action == "customer.edit":
        return role in {Role.ARCHIVIST, Role.ADMIN}
    if action == "record.upload":
        # obj is the customer receiving the record
        return role in {Role.ARCHIVIST, Role.ADMIN}
    if action == "loan.approve":
        return role in {Role.DEPT_HEAD, Role.GENERAL_MANAGER}
    if action == "paper.manage":
        return role in {Role.ARCHIVIST, Role.ADMIN}
    if action == "loan.request":
        # Business users with a department (its head approves) or the general manager (another
        # general manager approves); obj, if given, must be visible to them.
        if role not in BUSINESS_ROLES or (user.department_id is None and role is not Role.GENERAL_MANAGER):
            return False
        if isinstance(obj, Customer):
            return _sees_customer(user, role, obj)
        if isinstance(obj, Record):
            # A destroyed record is a tombstone: nothing left to lend.
            return (obj.status != "destroyed" and obj.secrecy <= user.clearance
                    and _sees_customer(user, role, obj.customer))
        return True
    record: Record = obj
    if record.secrecy > user.clearance or not _sees_customer(user, role, record.customer):
        return False
    if action == "record.view":
        return True
    if action == "record.edit":
        return role in {Role.ARCHIVIST, Role.ADMIN} and record.status == "draft"
    if action == "record.review":
        # Four eyes: whoever filed the record cannot be the one who checks it.
        return role in {Role.REVIEWER, Role.ADMIN} and record.created_by_id != user.id
    if action in GRANT_FOR:
        if role is Role.AUDITOR:
            return False
        if role in BUSINESS_ROLES:
            return grant_checker is not None and bool(grant_checker(record, GRANT_FOR[action]))
        return True
    return False


def needs_grant(user: User | None, action: str, record: Record) -> str | None:
    """The loan action ("view" | "download") that alone decides ``action`` on ``record``, else None.

    Set when the user is a business user who sees the record (clearance, department) and the
    action is a content action: then a refusal is explained by the borrowing state.
    """
    role = _role(user)
    if (role not in BUSINESS_ROLES or action not in GRANT_FOR or not isinstance(record, Record)
            or not can(user, "record.view", record)):
        return None
    return GRANT_FOR[action]


def require(user: User | None, action: str, obj: Any = None, grant_checker: GrantChecker | None = None) -> None:
    """Raise Forbidden unless ``can``; hide existence (NotFound) when the object itself is invisible."""
    if can(user, action, obj, grant_checker):
        return
    if isinstance(obj, Record) and action != "record.view" and can(user, "record.view", obj):
        raise Forbidden("您没有权限执行此操作", code="forbidden")
    if isinstance(obj, Customer) and action != "customer.view" and can(user, "customer.view", obj):
        raise Forbidden("您没有权限执行此操作", code="forbidden")
    if obj is not None:
        raise NotFound("档案不存在或无权查看", code="not_found")
    raise Forbidden("您没有权限执行此操作", code="forbidden")


def record_scope(user: User | None) -> tuple[int, frozenset[int] | None] | None:
    """What records a user may see, as data for filters outside SQL (the search index).

    Returns (highest 密级, department ids or None for every department), or None for nothing.
    Must agree with ``can(user, "record.view", r)`` and ``visible_records``.
    """
    role = _role(user)
    if role is None:
        return None
    if role in COMPANY_WIDE_ROLES:
        return user.clearance, None
    if not user.department_id:
        return None
    return user.clearance, frozenset({user.department_id})


def visible_customers(user: User, stmt: Select) -> Select:
    """Restrict a query over Customer to what the user may see (filter in SQL, before paging)."""
    role = _role(user)
    if role is None:
        return stmt.where(false())
    if role in COMPANY_WIDE_ROLES:
        return stmt.where(true())
    return stmt.where(Customer.department_id == user.department_id) if user.department_id else stmt.where(false())


def visible_records(user: User, stmt: Select) -> Select:
    """Restrict a query that joins Record and Customer to the records the user may see."""
    role = _role(user)
    if role is None:
        return stmt.where(false())
    stmt = stmt.where(Record.secrecy <= user.clearance)
    if role in COMPANY_WIDE_ROLES:
        return stmt
    if not user.department_id:
        return stmt.where(false())
    return stmt.where(Customer.department_id == user.department_id)
