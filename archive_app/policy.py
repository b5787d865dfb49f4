"""The one access policy: may user U do action A on object O?

Every view, download, API call, search hit, thumbnail, loan step, hold and destruction asks
``can``/``require`` with an action from ``ACTIONS``; templates ask ``can`` only. Nothing outside
this module looks at a user's role.

Business staff (staff, department heads, the general manager) see the catalogue of their own
department's files (the general manager: every file) up to their clearance, but read a record's
pages (``record.read``) or download it (``record.download``) only under an approved borrowing
request whose window is open now. Archive staff (archivist, reviewer, admin) keep the catalogue
and may open any file up to their clearance; auditors see the catalogue and never read or download.

Each action has the roles that may do it at all (``ROLES``); some add a condition on the object
(``Customer``, ``Record`` or ``LoanRequest``) or on the user's department, in ``can``. Actions
asked without an object answer "may this user do it at all" (menus, page access); with one, "on
this object".

``can`` stays pure: whether a borrowing grant is active is asked through an injected
``grant_checker(record, "view" | "download") -> bool`` (``intake.records.grant_checker`` builds
one over a session and a time). Without a checker, no grant is assumed.

What a user may *see* of a record they meet is ``visibility``: nothing, that it exists, its
metadata (档号, 题名, type, customer) or its content. Lists that are not filtered by the catalogue
(an approval queue, the paper desk, holds, disposal batches, the registers, messages) name a
record through the projection (``shown_record`` / ``record_label``): its 档号 and 题名 only when
the metadata is visible, a neutral placeholder otherwise. The SQL and index filters
(``visible_records``, ``record_scope``) select exactly the records whose metadata is visible.

A customer's phones and ID number are whole for whoever handles the customer (``customer.pii_whole``)
and masked for everyone else until an audited reveal: every page, API answer and export that shows
them goes through ``shown_personal`` / ``shown_field`` / ``shown_text``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, true

from archive_app.accounts.models import ApiToken, Role, User
from archive_app.borrowing.models import LoanRequest
from archive_app.corrections.models import ChangeRequest
from archive_app.errors import Forbidden, NotFound
from archive_app.i18n import _, _l
from archive_app.intake.masks import mask_field, mask_numbers_in
from archive_app.intake.models import Customer, Record
from archive_app.retention.models import LegalHold

# Roles that keep the catalogue and therefore see every customer's file.
ARCHIVE_ROLES = frozenset({Role.ARCHIVIST, Role.REVIEWER, Role.ADMIN})
# Roles that see every customer's file but do not manage it.
COMPANY_WIDE_ROLES = ARCHIVE_ROLES | {Role.GENERAL_MANAGER, Role.AUDITOR}
# Roles that use records for business: their reading and downloading go through borrowing.
BUSINESS_ROLES = frozenset({Role.STAFF, Role.DEPT_HEAD, Role.GENERAL_MANAGER})
EVERYONE = frozenset(Role)
_KEEPERS = frozenset({Role.ARCHIVIST, Role.ADMIN})
# The appraisal group (鉴定小组): the archive's keepers and the auditors.
_APPRAISERS = frozenset({Role.ARCHIVIST, Role.AUDITOR, Role.ADMIN})
# Roles whose reports count the whole company (a department head's count their department).
_REPORT_COMPANY = frozenset({Role.ARCHIVIST, Role.ADMIN, Role.GENERAL_MANAGER})

# Who may do each action at all; ``can`` adds the conditions on objects and departments.
ROLES: dict[str, frozenset[Role]] = {
    # the catalogue
    "customer.list": EVERYONE,
    "customer.view": EVERYONE,                        # obj Customer: their department, or company-wide
    "customer.create": _KEEPERS,
    "customer.edit": _KEEPERS,
    "customer.serve": frozenset({Role.STAFF, Role.DEPT_HEAD}),   # may be a customer's consultant (置业顾问)
    # Full phone numbers and ID number, shown masked otherwise; obj Customer: one they see. Audited each time.
    # Auditors check the log, they do not contact customers.
    "customer.pii_reveal": EVERYONE - {Role.AUDITOR},
    # The same values whole without a click, for whoever handles the customer (obj Customer they see): the
    # archivists, who file and check every customer's papers; the consultant the customer belongs to; the
    # head of the customer's department, who answers for its customers and approves their changes. Without
    # a customer (a register's rows, which belong to nobody yet): the archivists who bring registers in.
    "customer.pii_whole": frozenset({Role.ARCHIVIST, Role.STAFF, Role.DEPT_HEAD}),
    "record.view": EVERYONE,                          # obj Record: clearance and department
    "record.upload": _KEEPERS,
    "record.edit": _KEEPERS,                          # obj Record: a draft
    "record.correct": _KEEPERS,                       # obj Record: a filed one, with a reason (audited)
    "record.review": frozenset({Role.REVIEWER, Role.ADMIN}),     # obj Record: filed by someone else
    "record.read": EVERYONE - {Role.AUDITOR},         # business roles: under an active borrowing grant
    "record.download": EVERYONE - {Role.AUDITOR},
    "review.queue": frozenset({Role.REVIEWER, Role.ADMIN}),
    # people and the system
    "user.manage": frozenset({Role.ADMIN}),
    "user.deactivate": frozenset({Role.ADMIN}),
    "audit.view": frozenset({Role.ADMIN, Role.AUDITOR}),
    "audit.verify": frozenset({Role.ADMIN, Role.AUDITOR}),  # check the chain from the log page (audited)
    "backup.view": frozenset({Role.ADMIN}),           # the backup page: schedule, backups, last runs
    "token.manage": EVERYONE,
    "token.manage_all": frozenset({Role.ADMIN}),      # see and revoke every user's tokens
    "token.revoke": EVERYONE,                         # obj ApiToken: their own, or any for an admin
    "password.change": EVERYONE,                      # their own, knowing the current one
    "account.second_factor": EVERYONE,                # their own TOTP second factor
    "account.language": EVERYONE,                     # their own interface language
    # borrowing
    "loan.request": BUSINESS_ROLES,                   # the borrowing pages; obj: may ask for it (loan.borrow)
    "loan.borrow": EVERYONE,                          # obj Record/Customer: may be named in the user's request
    "loan.approve": frozenset({Role.DEPT_HEAD, Role.GENERAL_MANAGER}),   # decides at some step
    "loan.approve_head": frozenset({Role.DEPT_HEAD}),  # obj LoanRequest: of their own department
    "loan.approve_gm": frozenset({Role.GENERAL_MANAGER}),
    # Nobody approves their own request and a head has no head above: these go to the GM step.
    "loan.skip_head": frozenset({Role.DEPT_HEAD, Role.GENERAL_MANAGER}),
    "loan.revoke": EVERYONE,                          # obj LoanRequest: their own, or any for an admin
    # obj LoanRequest: may know it exists (its number, state): the requester, whoever sees every line
    # of the 查阅登记表, and the head of the department it was filed in. Others: as if missing.
    "loan.view": EVERYONE,
    "paper.manage": _KEEPERS,
    "paper.hand_out": _KEEPERS,
    "paper.return": _KEEPERS,
    # the 查阅登记表: every line, their department's lines, or (register.view alone) their own
    "register.view": EVERYONE,
    "register.view_all": COMPANY_WIDE_ROLES,
    "register.view_department": frozenset({Role.DEPT_HEAD}),   # needs a department
    # retention and destruction
    "retention.view": frozenset({Role.ADMIN, Role.ARCHIVIST, Role.AUDITOR, Role.GENERAL_MANAGER, Role.DEPT_HEAD}),
    "schedule.edit": frozenset({Role.ADMIN}),
    "hold.place": frozenset({Role.ARCHIVIST, Role.ADMIN, Role.AUDITOR, Role.GENERAL_MANAGER}),
    "hold.release": frozenset({Role.ARCHIVIST, Role.ADMIN, Role.AUDITOR, Role.GENERAL_MANAGER}),
    # obj LegalHold: its reason and mandate (litigation details), for whoever deals with holds and
    # may see what it covers (the record's metadata, the customer).
    "hold.view": frozenset({Role.ARCHIVIST, Role.ADMIN, Role.AUDITOR, Role.GENERAL_MANAGER, Role.DEPT_HEAD}),
    "disposal.view_due": _APPRAISERS | {Role.GENERAL_MANAGER},
    "disposal.review": _APPRAISERS,
    "disposal.approve": frozenset({Role.GENERAL_MANAGER}),
    # 监销人: company leadership and the appraisal group.
    "disposal.supervise": frozenset({Role.AUDITOR, Role.GENERAL_MANAGER, Role.DEPT_HEAD}),
    "disposal.execute": _KEEPERS,
    # told what of their department's files was destroyed (needs a department)
    "disposal.follow_department": frozenset({Role.DEPT_HEAD}),
    # fixity (完整性检测): the runs and failures page; failures are told in the keepers' inbox
    "fixity.view": frozenset({Role.ARCHIVIST, Role.ADMIN, Role.AUDITOR}),
    "fixity.notify": _KEEPERS,
    # 四性检测 (intake.admission_checks): a record's results (obj Record: one they see) and the batch page;
    # reviewers see them before they file a record. Keepers run them again.
    "record.checks": frozenset({Role.ARCHIVIST, Role.REVIEWER, Role.ADMIN, Role.AUDITOR}),
    "record.checks_run": _KEEPERS,
    # visits (来访): visitor cards (温馨卡), grades, follow-ups (回访). With a Customer: one whose file
    # the user sees (their department, or company-wide), as ``customer.view``.
    "visit.view": EVERYONE,
    # Consultants enter the day's cards themselves (电子温馨卡); archivists enter them from the paper.
    "visit.record": _KEEPERS | {Role.STAFF, Role.DEPT_HEAD},
    "grade.change": _KEEPERS | {Role.STAFF, Role.DEPT_HEAD},
    # Following up is the consultants' (and their head's) work: the due list and the inbox are theirs.
    "followup.record": frozenset({Role.STAFF, Role.DEPT_HEAD}),
    # the due follow-ups of the whole department, not only their own (the 现场主管's check)
    "followup.view_department": frozenset({Role.DEPT_HEAD}),
    # 客户数据变更 (corrections): business staff propose a change (obj Customer: one they see; needs a
    # department, whose head decides); fields marked sensitive need a second step by the archive or the GM.
    "correction.request": frozenset({Role.STAFF, Role.DEPT_HEAD}),
    "correction.approve_head": frozenset({Role.DEPT_HEAD}),   # obj ChangeRequest: their department's, not their own
    "correction.approve_second": frozenset({Role.ARCHIVIST, Role.GENERAL_MANAGER}),   # obj: not their own
    # A head has no head above: their own requests go straight to the second step.
    "correction.skip_head": frozenset({Role.DEPT_HEAD}),
    # obj ChangeRequest: the requester, whoever may decide a step of it, and those who see every customer.
    "correction.view": EVERYONE,
    # obj Customer: the change history (变更记录) of a customer they see
    "customer.history": EVERYONE,
    # 每季度核实: the list of customers still to verify (scoped to what they see), marking one verified
    # (obj Customer: one they see), and the department's progress per consultant.
    "verification.view": frozenset({Role.STAFF, Role.DEPT_HEAD, Role.ARCHIVIST, Role.ADMIN, Role.GENERAL_MANAGER}),
    "verification.mark": frozenset({Role.STAFF, Role.DEPT_HEAD, Role.ARCHIVIST}),
    "verification.progress": frozenset({Role.DEPT_HEAD, Role.ARCHIVIST, Role.ADMIN, Role.GENERAL_MANAGER}),
    # registers in (登记表导入): bringing the sales office's Excel registers into the catalogue, and their
    # import reports, are the keepers' work, like opening a customer's file
    "register.import": _KEEPERS,
    # reports out (报表) and the landing page. Sales figures (visits, deals, grades, retained and
    # potential customers, follow-ups) are the heads' and leadership's; archive figures (borrowing,
    # records filed, read and due) also the archivists'. A head sees their department's figures
    # (needs a department), the others the company's (``report_department``).
    "report.view": _REPORT_COMPANY | {Role.DEPT_HEAD},
    "report.sales": frozenset({Role.DEPT_HEAD, Role.GENERAL_MANAGER, Role.ADMIN}),
    "report.archive": _REPORT_COMPANY | {Role.DEPT_HEAD},
    "dashboard.view": EVERYONE,
}
ACTIONS = frozenset(ROLES)
# Actions on a customer's visits: decided by role, and by the customer's department when one is named.
VISIT_ACTIONS = frozenset({"visit.view", "visit.record", "grade.change", "followup.record"})
# Actions ``can`` decides from the role alone (``users_who_may`` can turn them into SQL).
ROLE_ONLY = ACTIONS - {"customer.view", "customer.pii_reveal", "customer.pii_whole", "record.view", "record.edit", "record.review",
                       "record.correct",
                       "record.checks", "record.checks_run",
                       "record.read", "record.download", "loan.request", "loan.borrow", "loan.approve_head", "loan.revoke",
                       "loan.view", "hold.view", "token.revoke", "register.view_department",
                       "disposal.follow_department", "correction.request", "correction.approve_head",
                       "correction.approve_second", "correction.view", "customer.history",
                       "verification.mark", "report.view", "report.sales", "report.archive"} - VISIT_ACTIONS
REPORT_ACTIONS = frozenset({"report.view", "report.sales", "report.archive"})
# The 密级 a new account of each role may see unless the administrator says otherwise.
DEFAULT_CLEARANCE: dict[Role, int] = {
    Role.ADMIN: 3, Role.ARCHIVIST: 3, Role.REVIEWER: 3, Role.GENERAL_MANAGER: 3,
    Role.AUDITOR: 3, Role.DEPT_HEAD: 2, Role.STAFF: 1,
}
# Content actions and the borrowing grant a business user needs for them.
GRANT_FOR = {"record.read": "view", "record.download": "download"}

GrantChecker = Callable[[Record, str], bool]


def default_clearance(role: Role) -> int:
    """The clearance (密级 0-3) a new account of ``role`` gets unless one is given."""
    return DEFAULT_CLEARANCE[role]


def role_may(role: Role | str, action: str) -> bool:
    """Whether any active user of ``role`` may do ``action`` (one decided by role alone), e.g. before a
    role change takes effect."""
    if action not in ROLE_ONLY:
        raise ValueError(f"{action!r} is not decided by role alone")
    try:
        return Role(role) in ROLES[action]
    except ValueError:
        return False


def _role(user: User | None) -> Role | None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    try:
        return Role(user.role)
    except ValueError:
        return None


def _sees_department(user: User, role: Role, department_id: int | None) -> bool:
    """Whether the user sees the files of a department: company-wide, or their own department."""
    return role in COMPANY_WIDE_ROLES or (user.department_id is not None and user.department_id == department_id)


def _sees_customer(user: User, role: Role, customer: Customer) -> bool:
    return _sees_department(user, role, customer.department_id)


def _handles_customer(user: User, role: Role, customer: Customer | None) -> bool:
    """Whether the user works with this customer's data (``customer.pii_whole``)."""
    if customer is None:
        return role is Role.ARCHIVIST
    if not isinstance(customer, Customer) or not _sees_customer(user, role, customer):
        return False
    if role is Role.ARCHIVIST or (customer.consultant_id is not None and customer.consultant_id == user.id):
        return True
    return role is Role.DEPT_HEAD and user.department_id is not None and user.department_id == customer.department_id


def _sees_record(user: User, role: Role, record: Record) -> bool:
    return record.secrecy <= user.clearance and _sees_customer(user, role, record.customer)


def _knows_loan(user: User, role: Role, req: Any) -> bool:
    if not isinstance(req, LoanRequest):
        return True
    if req.requester_id == user.id or role in ROLES["register.view_all"]:
        return True
    # Agrees with the 查阅登记表's department scope: a head knows their department's requests.
    return (role in ROLES["register.view_department"] and user.department_id is not None
            and user.department_id == req.department_id)


def _may_borrow(user: User, role: Role, obj: Any) -> bool:
    """Whether ``obj`` (a Customer or Record; None: nothing named yet) may be named in the user's request."""
    if isinstance(obj, Customer):
        return _sees_customer(user, role, obj)
    if isinstance(obj, Record):
        # A destroyed record is a tombstone: nothing left to lend.
        return obj.status != "destroyed" and _sees_record(user, role, obj)
    return True


def _may_correct(user: User, role: Role, action: str, obj: Any) -> bool:
    """The change-request actions; without an object: may the user use that page at all."""
    if action == "correction.request":
        return user.department_id is not None and (obj is None or _sees_customer(user, role, obj))
    if not isinstance(obj, ChangeRequest):
        return obj is None
    if action == "correction.approve_head":
        # Nobody decides their own request; a head decides their own department's only.
        return obj.requester_id != user.id and user.department_id is not None and user.department_id == obj.department_id
    if action == "correction.approve_second":
        return obj.requester_id != user.id and _sees_customer(user, role, obj.customer)
    # correction.view
    return (obj.requester_id == user.id or role in COMPANY_WIDE_ROLES
            or (role is Role.DEPT_HEAD and user.department_id is not None and user.department_id == obj.department_id))


def can(user: User | None, action: str, obj: Any = None, grant_checker: GrantChecker | None = None) -> bool:
    """Decide one action. ``obj`` is the Customer, Record or LoanRequest the action concerns, if any.

    ``grant_checker(record, "view" | "download")`` answers whether the user holds an active
    borrowing grant; it is asked only for business roles' ``record.read`` / ``record.download``.
    """
    if action not in ROLES:
        raise ValueError(f"unknown action {action!r}")
    role = _role(user)
    if role is None or role not in ROLES[action]:
        return False
    if action in ROLE_ONLY:
        return True
    if action in {"customer.view", "customer.pii_reveal"}:
        return _sees_customer(user, role, obj)
    if action == "customer.pii_whole":
        return _handles_customer(user, role, obj)
    if action in VISIT_ACTIONS | {"customer.history", "verification.mark"}:
        # Without a customer: may they use the page at all.
        return obj is None or _sees_customer(user, role, obj)
    if action.startswith("correction."):
        return _may_correct(user, role, action, obj)
    if action == "loan.request":
        # Someone must approve: the department's head, or for the general manager (no
        # department) another general manager.
        if user.department_id is None and role is not Role.GENERAL_MANAGER:
            return False
        return _may_borrow(user, role, obj)
    if action == "loan.borrow":
        return _may_borrow(user, role, obj)
    if action == "loan.approve_head":
        # A head decides the requests filed in their own department only.
        if isinstance(obj, LoanRequest):
            return user.department_id is not None and user.department_id == obj.department_id
        return True
    if action == "loan.revoke":
        return role is Role.ADMIN or (isinstance(obj, LoanRequest) and obj.requester_id == user.id)
    if action == "loan.view":
        return _knows_loan(user, role, obj)
    if action == "hold.view":
        if isinstance(obj, LegalHold):
            return (_sees_record(user, role, obj.record) if obj.record_id is not None
                    else _sees_customer(user, role, obj.customer))
        return True
    if action == "token.revoke":
        return role is Role.ADMIN or (isinstance(obj, ApiToken) and obj.user_id == user.id)
    if action in {"register.view_department", "disposal.follow_department"}:
        return user.department_id is not None
    if action in REPORT_ACTIONS:
        # A head's figures are their department's: without one there is nothing to count.
        return role in _REPORT_COMPANY or user.department_id is not None
    if action in {"record.checks", "record.checks_run"}:
        # Without a record: may they use the batch page at all; with one: only one they see.
        return obj is None or _sees_record(user, role, obj)
    record: Record = obj
    if not _sees_record(user, role, record):
        return False
    if action == "record.view":
        return True
    if action == "record.edit":
        return record.status == "draft"
    if action == "record.correct":
        return record.status == "filed"
    if action == "record.review":
        # Four eyes: whoever filed the record cannot be the one who checks it.
        return record.created_by_id != user.id
    if action in GRANT_FOR:
        if role in BUSINESS_ROLES:
            return grant_checker is not None and bool(grant_checker(record, GRANT_FOR[action]))
        return True
    return False


def second_factor_required(user: User | None, required_roles: Iterable[str]) -> bool:
    """Whether ``user``'s role is one ARCHIVE_TOTP_REQUIRED_ROLES obliges to use a second factor."""
    role = _role(user)
    return role is not None and role.value in set(required_roles)


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


def require(user: User | None, action: str, obj: Any = None, grant_checker: GrantChecker | None = None, *,
            code: str | None = None, message: str | None = None) -> None:
    """Raise unless ``can``.

    With ``code``/``message`` a refusal is ``Forbidden(message, code)`` (a service keeps its own
    stable wording). Without them, existence is hidden (NotFound) when the Customer or Record
    itself is invisible to the user, and any other refusal is the generic ``forbidden``. Every
    refusal raised here names the action and object and is marked ``refusal``, so the audit log
    records it as one even when the user is told "not found".
    """
    if can(user, action, obj, grant_checker):
        return
    raise _refusal(user, action, obj, code, message)


def _refusal(user: User | None, action: str, obj: Any, code: str | None,
             message: str | None) -> Forbidden | NotFound:
    exc: Forbidden | NotFound
    if code is not None or message is not None:
        exc = Forbidden(message or _("您没有权限执行此操作"), code=code or "forbidden")
    elif isinstance(obj, Record) and action != "record.view" and can(user, "record.view", obj):
        exc = Forbidden(_("您没有权限执行此操作"), code="forbidden")
    elif isinstance(obj, Customer) and action != "customer.view" and can(user, "customer.view", obj):
        exc = Forbidden(_("您没有权限执行此操作"), code="forbidden")
    # An invisible object answers exactly as a missing one does, so no answer tells them apart.
    elif isinstance(obj, Customer):
        exc = NotFound(_("客户档案不存在"), code="customer_not_found")
    elif isinstance(obj, Record):
        exc = NotFound(_("档案不存在或无权查看"), code="not_found")
    else:
        exc = Forbidden(_("您没有权限执行此操作"), code="forbidden")
    exc.policy_action, exc.subject, exc.refusal = action, obj, True
    return exc


def users_who_may(action: str, *, active: bool = True) -> ColumnElement[bool]:
    """A SQL condition on ``User``: the users who may do ``action`` (one decided by role alone).

    ``active=False`` also matches deactivated accounts (e.g. "does an administrator account exist").
    """
    if action not in ROLE_ONLY:
        raise ValueError(f"{action!r} is not decided by role alone")
    cond = User.role.in_(sorted(r.value for r in ROLES[action]))
    return and_(cond, User.is_active_flag.is_(True)) if active else cond


def report_department(user: User | None) -> int | None:
    """The department whose figures a report shows ``user`` (a department head's own), or None for the
    whole company. Ask ``can(user, "report.…")`` first: it refuses a head without a department."""
    role = _role(user)
    if role in _REPORT_COMPANY:
        return None
    if role is None or role not in ROLES["report.view"] or user.department_id is None:
        # Never "the whole company" by default: a caller that skipped ``can`` gets a refusal.
        raise Forbidden(_("您没有权限查看报表"), code="forbidden")
    return user.department_id


def loans_to_decide(user: User | None) -> ColumnElement[bool]:
    """A SQL condition on ``LoanRequest``: the requests at a step this user decides.

    Agrees with ``loan.approve_head`` / ``loan.approve_gm`` on a request: a department head sees
    their department's requests waiting for the head, the general manager those waiting for them.
    """
    steps = []
    if can(user, "loan.approve_head") and user.department_id is not None:
        steps.append(and_(LoanRequest.status == "pending_head", LoanRequest.department_id == user.department_id))
    if can(user, "loan.approve_gm"):
        steps.append(LoanRequest.status == "pending_gm")
    return or_(*steps) if steps else false()


def changes_to_decide(user: User | None) -> ColumnElement[bool]:
    """A SQL condition on ``ChangeRequest``: the requests at a step this user decides (less their own)."""
    steps = []
    if can(user, "correction.approve_head") and user.department_id is not None:
        steps.append(and_(ChangeRequest.status == "pending_head", ChangeRequest.department_id == user.department_id))
    if can(user, "correction.approve_second"):
        steps.append(ChangeRequest.status == "pending_second")
    if not steps:
        return false()
    return and_(or_(*steps), ChangeRequest.requester_id != user.id)


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


# ---------------------------------------------------------------------------------------------- visibility


class Visibility(IntEnum):
    """How much of a record a user may see, each level including the ones below it."""

    NONE = 0      # not even that it exists: lists leave it out, its URL answers 404
    EXISTS = 1    # that it exists (a line in a list the user may read), named by a placeholder
    METADATA = 2  # 档号, 题名, record type, customer (``record.view``)
    CONTENT = 3   # text, snippets, pages, files (``record.read`` now)


# What a record or customer whose metadata the viewer may not see is called wherever a list names it.
HIDDEN_RECORD = _l("（无权查看的档案）")
HIDDEN_CUSTOMER = _l("（无权查看的客户）")


def sees_metadata(user: User | None, *, secrecy: int, department_id: int | None) -> bool:
    """``record.view`` from plain values (a record's 密级 and its customer's department), for rows
    selected as columns. Agrees with ``can(user, "record.view", r)`` and ``visible_records``."""
    role = _role(user)
    return role is not None and secrecy <= user.clearance and _sees_department(user, role, department_id)


def sees_customer(user: User | None, *, department_id: int | None) -> bool:
    """``customer.view`` from a customer's department alone, for rows selected as columns."""
    role = _role(user)
    return role is not None and _sees_department(user, role, department_id)


def visibility(user: User | None, record: Record, *, met: bool = False,
               grant_checker: GrantChecker | None = None) -> Visibility:
    """What ``user`` may see of ``record``.

    ``met``: the user meets the record through something they may see (a loan they decide, a
    batch they review, a register line in their scope), so at least its existence is shown.
    CONTENT is asked of ``can(.., "record.read", ..)`` with ``grant_checker`` (none: no loan).
    """
    floor = Visibility.EXISTS if met and _role(user) is not None else Visibility.NONE
    if not can(user, "record.view", record):
        return floor
    if can(user, "record.read", record, grant_checker):
        return Visibility.CONTENT
    return Visibility.METADATA


@dataclass(frozen=True)
class ShownRecord:
    """A record as one viewer may see it: its own metadata, or placeholders.

    ``visible`` says which; pages link to the record only when it is visible.
    """

    id: int
    visible: bool
    archival_code: str
    title: str
    record_type: str
    customer_no: str
    secrecy: int | None

    @property
    def label(self) -> str:
        """档号 and 题名 in one string (messages, export titles), or the placeholder."""
        return f"{self.archival_code} {self.title}" if self.visible else str(HIDDEN_RECORD)


def shown_record(user: User | None, record: Record) -> ShownRecord:
    """The projection of ``record`` for ``user`` (met in a list they may read: at least EXISTS)."""
    if visibility(user, record, met=True) >= Visibility.METADATA:
        return ShownRecord(record.id, True, record.archival_code, record.title, record.record_type,
                           record.customer.customer_no or "", record.secrecy)
    return ShownRecord(record.id, False, str(HIDDEN_RECORD), str(HIDDEN_RECORD), "", "", None)


def record_label(user: User | None, record: Record | None) -> str:
    """How a message, page or export names ``record`` to ``user``: 档号 and 题名, or the placeholder."""
    if record is None:
        return str(HIDDEN_RECORD)
    return shown_record(user, record).label


def record_code(user: User | None, record: Record | None) -> str:
    """The 档号 of ``record`` if ``user`` may see its metadata, else the placeholder (short messages)."""
    if record is None or not can(user, "record.view", record):
        return str(HIDDEN_RECORD)
    return record.archival_code


def customer_label(user: User | None, customer: Customer | None) -> str:
    """How a page names ``customer`` to ``user``: name and 客户号, or the placeholder."""
    if customer is None or not can(user, "customer.view", customer):
        return str(HIDDEN_CUSTOMER)
    return f"{customer.name}（{customer.customer_no}）" if customer.customer_no else customer.name


# ------------------------------------------------------------------------------------------- personal data


@dataclass(frozen=True)
class ShownPersonal:
    """A customer's phones and ID number as one viewer sees them: whole, or masked (139****5678,
    110101********1234). ``whole`` says which; pages offer the audited 「显示」 only when it is False."""

    phones: str
    id_number: str | None
    whole: bool


def shows_whole(user: User | None, customer: Customer | None, *, revealed: bool = False) -> bool:
    """Whether ``user`` sees ``customer``'s phones and ID number whole: they handle the customer
    (``customer.pii_whole``), or ``revealed``, which a caller passes only after ``reveal_pii`` allowed and
    audited the look. ``customer`` None: a register's rows, which belong to no customer yet."""
    return revealed or can(user, "customer.pii_whole", customer)


def shown_personal(user: User | None, customer: Customer, *, revealed: bool = False) -> ShownPersonal:
    """The projection of ``customer``'s phones and ID number for ``user``: every page, API answer, search
    hit and export that shows them goes through here."""
    whole = shows_whole(user, customer, revealed=revealed)
    phones = customer.phones or ""
    return ShownPersonal(phones if whole else mask_field("phones", phones),
                         customer.id_number if whole else (mask_field("id_number", customer.id_number or "") or None),
                         whole)


def shown_field(user: User | None, customer: Customer | None, field: str, value: str, *,
                revealed: bool = False) -> str:
    """One stored value of a customer's ``field`` (a history line, a change request) as ``user`` sees it."""
    return value if shows_whole(user, customer, revealed=revealed) else mask_field(field, value)


def shown_text(user: User | None, customer: Customer | None, text: str) -> str:
    """Free text that may hold phones or ID numbers (a register row's error) as ``user`` sees it: whole for
    whoever handles ``customer`` (None: a register's rows), every long number masked for anyone else."""
    return text if shows_whole(user, customer) else mask_numbers_in(text)
