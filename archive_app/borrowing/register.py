"""查阅登记表: the borrowing register, one row per (borrowing request, record it names).

The paper register the company keeps today has a line for every access: who, which record (档号),
how (查阅 / 复制调用 / 借出原件), why, for how long, who approved and when, and, for originals,
when the paper went out and came back and in what state. This module builds that register from
the borrowing tables; nothing is stored twice.

Plain functions over a SQLAlchemy session (no Flask request): ``register_page`` for the screen,
``iter_register`` for exports (every row, fetched in keyset-paged chunks so a year of requests
is never loaded at once), ``export_register`` for the audited XLSX/CSV file, ``record_history``
for the 借阅记录 block on a record's page.

Who sees which rows is decided by ``register_scope`` (see there); the filter is applied in SQL,
before paging. Each query selects plain columns through joins, and approvals and paper
movements are fetched once per page or chunk (``IN`` on the request ids), so the number of
queries does not grow with the number of rows.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from archive_app import exports, policy
from archive_app.accounts.models import Department, User
from archive_app.audit import log as audit
from archive_app.borrowing.loans import KIND_LABELS, STATUS_LABELS
from archive_app.borrowing.models import LoanApproval, LoanItem, LoanRequest, PaperLoan
from archive_app.clock import utc_iso
from archive_app.errors import Forbidden, ValidationFailed, in_range
from archive_app.i18n import _, _l
from archive_app.intake.models import Customer, Record

PER_PAGE = 50
MAX_PER_PAGE = 200
# Rows per database round trip when exporting (also bounds the IN lists of the side queries).
EXPORT_CHUNK = 500
DECISION_LABELS = {"approve": _l("同意"), "reject": _l("驳回")}
EXPORT_FORMATS = ("xlsx", "csv")
SHEET_TITLE = _l("查阅登记表")


# ---------------------------------------------------------------------------------------------- who sees what


@dataclass(frozen=True)
class RegisterScope:
    """The part of the register one user may see: ``all``, one ``department``, their ``own`` rows, or ``none``."""

    kind: str
    user_id: int | None = None
    department_id: int | None = None

    @property
    def allowed(self) -> bool:
        return self.kind != "none"


def register_scope(user: User | None) -> RegisterScope:
    """Who may read which lines of the 查阅登记表, as the policy says (``register.*``).

    * ``register.view_all`` (the archive keeps it, auditors check it, the general manager
      answers for all departments): every line;
    * ``register.view_department`` (a department head): the requests of their department (the
      department recorded on the request when it was made, so a line stays where it was
      approved even if the person moves);
    * ``register.view`` alone (business staff): only their own requests — the register names
      customers, so a colleague's borrowing is not theirs to browse.
    Inactive or anonymous users see nothing.
    """
    if not policy.can(user, "register.view"):
        return RegisterScope("none")
    if policy.can(user, "register.view_all"):
        return RegisterScope("all", user.id)
    if policy.can(user, "register.view_department"):
        return RegisterScope("department", user.id, user.department_id)
    return RegisterScope("own", user.id)


def require_register(user: User | None) -> RegisterScope:
    """The user's scope, or Forbidden when they may see no line at all."""
    scope = register_scope(user)
    if not scope.allowed:
        raise Forbidden(_("您没有权限查看查阅登记表"), code="forbidden")
    return scope


def _scoped(stmt: Select, scope: RegisterScope) -> Select:
    if scope.kind == "all":
        return stmt
    if scope.kind == "department":
        return stmt.where(LoanRequest.department_id == scope.department_id)
    if scope.kind == "own":
        return stmt.where(LoanRequest.requester_id == scope.user_id)
    return stmt.where(false())


# ---------------------------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class RegisterFilter:
    """What the register is narrowed to. Dates are local calendar days (both ends included)."""

    date_from: date | None = None
    date_to: date | None = None
    requester: str = ""  # part of the requester's 姓名 or username
    department_id: int | None = None
    customer: str = ""  # part of the customer's name or 客户号
    record_id: int | None = None

    def as_args(self) -> dict[str, str]:
        """The filter as query-string arguments (links keep it across pages and exports)."""
        args = {"date_from": self.date_from.isoformat() if self.date_from else "",
                "date_to": self.date_to.isoformat() if self.date_to else "",
                "requester": self.requester, "department_id": str(self.department_id or ""),
                "customer": self.customer, "record_id": str(self.record_id or "")}
        return {k: v for k, v in args.items() if v}


def _date_arg(value: Any, label: str) -> date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(_("%(label)s格式不正确（例如 2026-11-25）", label=label), code="invalid_date") from None


def _id_arg(value: Any, label: str) -> int | None:
    text = str(value or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValidationFailed(_("%(label)s须为整数", label=label), code="invalid_number")
    return in_range(int(text), label)


def parse_filter(args: Mapping[str, Any]) -> RegisterFilter:
    """Read a filter from query arguments (web form and API share the names)."""
    f = RegisterFilter(date_from=_date_arg(args.get("date_from"), _("起始日期")),
                       date_to=_date_arg(args.get("date_to"), _("截止日期")),
                       requester=str(args.get("requester") or "").strip()[:100],
                       department_id=_id_arg(args.get("department_id"), _("部门")),
                       customer=str(args.get("customer") or "").strip()[:100],
                       record_id=_id_arg(args.get("record_id"), _("档案编号")))
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise ValidationFailed(_("起始日期不能晚于截止日期"), code="invalid_date_range")
    return f


def _local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


# ---------------------------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class Decision:
    """One approval step as the register shows it."""

    approver: str
    at: datetime
    decision: str
    reason: str

    @property
    def label(self) -> str:
        text = DECISION_LABELS.get(self.decision, self.decision)
        return f"{text}：{self.reason}" if self.reason else text


@dataclass(frozen=True)
class PaperMovement:
    """A paper original handed out under the request, and its return if it came back."""

    out_at: datetime
    due_at: datetime
    handed_out_by: str
    received_by: str
    pages_out: int
    returned_at: datetime | None
    returned_to: str | None
    pages_back: int | None
    condition_note: str


@dataclass
class RegisterRow:
    """One line of the 查阅登记表: one record named by one borrowing request."""

    request_id: int
    request_no: str
    created_at: datetime
    requester: str
    requester_username: str
    department: str
    customer_id: int
    customer_name: str
    customer_no: str
    record_id: int
    archival_code: str
    title: str
    record_type: str
    kind: str
    purpose: str
    # Whether the viewer may see the record's metadata (else 档号 and 题名 are the placeholder).
    visible: bool
    window_start: datetime
    window_end: datetime
    status: str
    needs_gm: bool
    head: Decision | None = None
    gm: Decision | None = None
    paper: list[PaperMovement] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def customer_label(self) -> str:
        return f"{self.customer_name}（{self.customer_no}）" if self.customer_no else self.customer_name

    @property
    def gm_label(self) -> str:
        """The general manager's column when there was no GM decision: not needed, or not yet."""
        if self.gm is not None:
            return self.gm.label
        return "" if self.needs_gm else _("无需总经理审批")

    def to_dict(self) -> dict[str, Any]:
        """JSON for the API: times in UTC ISO 8601."""
        def decision(d: Decision | None) -> dict[str, Any] | None:
            return d and {"approver": d.approver, "at": utc_iso(d.at), "decision": d.decision,
                          "decision_label": DECISION_LABELS.get(d.decision, d.decision), "reason": d.reason}

        return {
            "request_id": self.request_id, "request_no": self.request_no, "created_at": utc_iso(self.created_at),
            "requester": {"display_name": self.requester, "username": self.requester_username},
            "department": self.department,
            "customer": {"id": self.customer_id, "name": self.customer_name, "customer_no": self.customer_no},
            "record": {"id": self.record_id, "visible": self.visible,
                       "archival_code": self.archival_code if self.visible else None,
                       "title": self.title if self.visible else None,
                       "record_type": self.record_type if self.visible else None},
            "kind": self.kind, "kind_label": self.kind_label, "purpose": self.purpose,
            "window_start": utc_iso(self.window_start), "window_end": utc_iso(self.window_end),
            "status": self.status, "status_label": self.status_label, "needs_gm": self.needs_gm,
            "head_approval": decision(self.head), "gm_approval": decision(self.gm),
            "paper": [{"out_at": utc_iso(p.out_at), "due_at": utc_iso(p.due_at), "handed_out_by": p.handed_out_by,
                       "received_by": p.received_by, "pages_out": p.pages_out, "returned_at": utc_iso(p.returned_at),
                       "returned_to": p.returned_to, "pages_back": p.pages_back,
                       "condition_note": p.condition_note} for p in self.paper],
        }

    def cells(self, tz: str) -> list[Any]:
        """The export columns (``HEADERS``), times as aware datetimes for the writers to localise."""
        h, g = self.head, self.gm
        return [
            self.request_no, self.created_at, self.requester, self.department, self.customer_name,
            self.customer_no, self.archival_code, self.title, self.record_type, self.kind_label, self.purpose,
            self.window_start, self.window_end, self.status_label,
            h and h.approver, h and h.at, h.label if h else "",
            g and g.approver, g and g.at, self.gm_label,
            *_paper_cells(self.paper, tz),
        ]


HEADERS = [
    _l("借阅单号"), _l("申请时间"), _l("申请人"), _l("部门"), _l("客户"), _l("客户号"), _l("档号"), _l("题名"), _l("档案类型"), _l("方式"), _l("用途"),
    _l("借阅起"), _l("借阅止"), _l("状态"),
    _l("部门负责人"), _l("部门负责人审批时间"), _l("部门负责人意见"),
    _l("总经理"), _l("总经理审批时间"), _l("总经理意见"),
    _l("原件借出时间"), _l("借出经办人"), _l("领取人"), _l("借出页数"),
    _l("原件归还时间"), _l("归还接收人"), _l("归还页数"), _l("归还情况"),
]


def _paper_cells(paper: list[PaperMovement], tz: str) -> list[Any]:
    """The eight paper columns. An original lent twice under one request lists both, one per line."""
    if not paper:
        return [None] * 8
    if len(paper) == 1:
        p = paper[0]
        return [p.out_at, p.handed_out_by, p.received_by, p.pages_out, p.returned_at, p.returned_to,
                p.pages_back, p.condition_note]
    zone = ZoneInfo(tz)

    def when(v: datetime | None) -> str:
        return v.astimezone(zone).strftime(exports.DATETIME_FORMAT) if v else _("未归还")

    def lines(values: Iterable[Any]) -> str:
        return "\n".join("" if v is None else str(v) for v in values)

    return [lines(when(p.out_at) for p in paper), lines(p.handed_out_by for p in paper),
            lines(p.received_by for p in paper), lines(p.pages_out for p in paper),
            lines(when(p.returned_at) for p in paper), lines(p.returned_to for p in paper),
            lines(p.pages_back for p in paper), lines(p.condition_note for p in paper)]


# ---------------------------------------------------------------------------------------------- queries

Requester = aliased(User, name="requester")
Approver = aliased(User, name="approver")
OutBy = aliased(User, name="out_by")
ReceivedBy = aliased(User, name="received_by")
ReturnedTo = aliased(User, name="returned_to")

# Newest request first; a request's records in the order they were named.
ORDER = (LoanRequest.created_at.desc(), LoanRequest.id.desc(), LoanItem.id.asc())


def _joined(stmt: Select) -> Select:
    return (stmt.select_from(LoanItem)
            .join(LoanRequest, LoanRequest.id == LoanItem.request_id)
            .join(Record, Record.id == LoanItem.record_id)
            .join(Customer, Customer.id == Record.customer_id)
            .join(Requester, Requester.id == LoanRequest.requester_id)
            .outerjoin(Department, Department.id == LoanRequest.department_id))


def _filtered(stmt: Select, scope: RegisterScope, f: RegisterFilter, tz: str) -> Select:
    stmt = _scoped(_joined(stmt), scope)
    if f.date_from:
        stmt = stmt.where(LoanRequest.created_at >= _local_midnight(f.date_from, tz))
    if f.date_to:
        stmt = stmt.where(LoanRequest.created_at < _local_midnight(f.date_to + timedelta(days=1), tz))
    if f.requester:
        stmt = stmt.where(or_(Requester.display_name.icontains(f.requester, autoescape=True),
                              Requester.username.icontains(f.requester, autoescape=True)))
    if f.department_id:
        stmt = stmt.where(LoanRequest.department_id == f.department_id)
    if f.customer:
        stmt = stmt.where(or_(Customer.name.icontains(f.customer, autoescape=True),
                              Customer.customer_no.icontains(f.customer, autoescape=True)))
    if f.record_id:
        stmt = stmt.where(LoanItem.record_id == f.record_id)
    return stmt


ROW_COLUMNS = (
    LoanItem.id.label("item_id"), LoanRequest.id.label("request_id"), LoanRequest.request_no,
    LoanRequest.created_at, LoanRequest.kind, LoanRequest.purpose, LoanRequest.window_start,
    LoanRequest.window_end, LoanRequest.status, LoanRequest.needs_gm,
    Requester.display_name.label("requester"), Requester.username.label("requester_username"),
    Department.name.label("department"), Customer.id.label("customer_id"), Customer.name.label("customer_name"),
    Customer.customer_no, Customer.department_id.label("customer_department_id"), Record.id.label("record_id"),
    Record.archival_code, Record.title, Record.record_type, Record.secrecy,
)


def _rows(session: Session, viewer: User, found: list[Any]) -> list[RegisterRow]:
    """Turn selected rows into register lines, with their approvals and paper movements (two queries)."""
    if not found:
        return []
    request_ids = sorted({r.request_id for r in found})
    decisions: dict[tuple[int, str], Decision] = {}
    for a in session.execute(
            select(LoanApproval.request_id, LoanApproval.step, LoanApproval.decision, LoanApproval.reason,
                   LoanApproval.at, Approver.display_name)
            .join(Approver, Approver.id == LoanApproval.approver_id)
            .where(LoanApproval.request_id.in_(request_ids))):
        decisions[(a.request_id, a.step)] = Decision(a.display_name, a.at, a.decision, a.reason)
    paper: dict[tuple[int, int], list[PaperMovement]] = defaultdict(list)
    for p in session.execute(
            select(PaperLoan.request_id, PaperLoan.record_id, PaperLoan.out_at, PaperLoan.due_at,
                   PaperLoan.pages_out, PaperLoan.returned_at, PaperLoan.pages_back, PaperLoan.condition_note,
                   OutBy.display_name.label("out_by"), ReceivedBy.display_name.label("received_by"),
                   ReturnedTo.display_name.label("returned_to"))
            .join(OutBy, OutBy.id == PaperLoan.handed_out_by_id)
            .join(ReceivedBy, ReceivedBy.id == PaperLoan.received_by_id)
            .outerjoin(ReturnedTo, ReturnedTo.id == PaperLoan.returned_to_id)
            .where(PaperLoan.request_id.in_(request_ids))
            .order_by(PaperLoan.out_at, PaperLoan.id)):
        paper[(p.request_id, p.record_id)].append(PaperMovement(
            p.out_at, p.due_at, p.out_by, p.received_by, p.pages_out, p.returned_at, p.returned_to, p.pages_back,
            p.condition_note or ""))
    out = []
    for r in found:
        # The line stays (the register must be complete for an audit); what it names of the record
        # and the customer is the policy's projection: metadata only where the viewer may see it.
        record_seen = policy.sees_metadata(viewer, secrecy=r.secrecy, department_id=r.customer_department_id)
        customer_seen = policy.sees_customer(viewer, department_id=r.customer_department_id)
        out.append(RegisterRow(
            request_id=r.request_id, request_no=r.request_no or "", created_at=r.created_at, requester=r.requester,
            requester_username=r.requester_username, department=r.department or "", customer_id=r.customer_id,
            customer_name=r.customer_name if customer_seen else policy.HIDDEN_CUSTOMER,
            customer_no=(r.customer_no or "") if customer_seen else "", record_id=r.record_id,
            archival_code=r.archival_code if record_seen else policy.HIDDEN_RECORD,
            title=r.title if record_seen else policy.HIDDEN_RECORD, record_type=r.record_type if record_seen else "",
            visible=record_seen,
            kind=r.kind, purpose=r.purpose, window_start=r.window_start, window_end=r.window_end, status=r.status,
            needs_gm=bool(r.needs_gm), head=decisions.get((r.request_id, "head")),
            gm=decisions.get((r.request_id, "gm")), paper=paper.get((r.request_id, r.record_id), [])))
    return out


@dataclass
class RegisterPage:
    """One screen of the register."""

    rows: list[RegisterRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)


def register_page(session: Session, viewer: User, f: RegisterFilter, *, tz: str, page: int = 1,
                  per_page: int = PER_PAGE) -> RegisterPage:
    """The lines the viewer may see that match ``f``, newest request first, one page of them."""
    scope = require_register(viewer)
    per_page = min(max(int(per_page), 1), MAX_PER_PAGE)
    page = max(int(page), 1)
    total = session.scalar(_filtered(select(func.count(LoanItem.id)), scope, f, tz)) or 0
    found = session.execute(_filtered(select(*ROW_COLUMNS), scope, f, tz).order_by(*ORDER)
                            .limit(per_page).offset((page - 1) * per_page)).all()
    return RegisterPage(_rows(session, viewer, found), total, page, per_page)


def iter_register(session: Session, viewer: User, f: RegisterFilter, *, tz: str,
                  chunk: int = EXPORT_CHUNK) -> Iterator[RegisterRow]:
    """Every matching line, newest first, fetched ``chunk`` at a time.

    Keyset paging on (created_at, request id, item id) rather than OFFSET: each chunk is an index
    range scan, and a request filed while the export runs cannot shift a line into two chunks.
    """
    scope = require_register(viewer)
    base = _filtered(select(*ROW_COLUMNS), scope, f, tz).order_by(*ORDER)
    after: Any = None
    while True:
        stmt = base
        if after is not None:
            at, rid, iid = after.created_at, after.request_id, after.item_id
            stmt = stmt.where(or_(LoanRequest.created_at < at,
                                  and_(LoanRequest.created_at == at, LoanRequest.id < rid),
                                  and_(LoanRequest.created_at == at, LoanRequest.id == rid, LoanItem.id > iid)))
        found = session.execute(stmt.limit(chunk)).all()
        yield from _rows(session, viewer, found)
        if len(found) < chunk:
            return
        after = found[-1]


def record_history(session: Session, viewer: User, record_id: int, *, tz: str,
                   limit: int = 100) -> list[RegisterRow] | None:
    """The register lines of one record the viewer may see (newest first), or None if they see no register.

    The caller has already checked that the viewer may see the record itself.
    """
    if not register_scope(viewer).allowed:
        return None
    return register_page(session, viewer, RegisterFilter(record_id=record_id), tz=tz, page=1,
                         per_page=min(limit, MAX_PER_PAGE)).rows


def departments(session: Session, viewer: User) -> list[Department]:
    """The departments the viewer may filter by (a department head: only their own)."""
    scope = register_scope(viewer)
    stmt = select(Department).order_by(Department.name)
    if scope.kind == "department":
        stmt = stmt.where(Department.id == scope.department_id)
    elif scope.kind != "all":
        return []
    return list(session.scalars(stmt))


# ---------------------------------------------------------------------------------------------- export


@dataclass(frozen=True)
class RegisterExport:
    """An exported register file, ready to send."""

    filename: str
    ascii_filename: str
    mimetype: str
    content: bytes
    rows: int


def describe_filter(session: Session, viewer: User, f: RegisterFilter) -> str:
    """The filter in words, for the printed page and the XLSX title (empty when unfiltered).

    A ``record_id`` names its 档号 only when ``viewer`` may see the record; otherwise it reads as
    for a record that does not exist, so the filter is no way to look up any record's 档号.
    """
    parts = []
    if f.date_from or f.date_to:
        parts.append(_("申请日期 %(value)s 至 %(value2)s", value=f.date_from or '…', value2=f.date_to or '…'))
    if f.requester:
        parts.append(_("申请人 %(requester)s", requester=f.requester))
    if f.department_id:
        dept = session.get(Department, f.department_id)
        parts.append(_("部门 %(value)s", value=dept.name if dept else f.department_id))
    if f.customer:
        parts.append(_("客户 %(customer)s", customer=f.customer))
    if f.record_id:
        rec = session.get(Record, f.record_id)
        seen = rec is not None and policy.can(viewer, "record.view", rec)
        parts.append(_("档号 %(archival_code)s", archival_code=rec.archival_code) if seen else _("档案编号 %(record_id)s", record_id=f.record_id))
    return "，".join(parts)


def export_register(session: Session, viewer: User, f: RegisterFilter, fmt: str, *, tz: str, now: datetime,
                    ip: str = "") -> RegisterExport:
    """The register (every line the viewer may see matching ``f``) as XLSX or CSV; the export is audited.

    Customer names and what was borrowed leave the system in this file, so the export itself is
    written to the audit log (who, when, format, filter, how many lines) before it is handed over.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed(_("导出格式须为 xlsx 或 csv"), code="invalid_format")
    scope = require_register(viewer)
    if now.tzinfo is None:
        raise ValueError("naive datetime given; pass an aware one")
    count = 0

    def cells() -> Iterator[list[Any]]:
        nonlocal count
        for row in iter_register(session, viewer, f, tz=tz):
            count += 1
            yield row.cells(tz)

    described = describe_filter(session, viewer, f) if fmt == "xlsx" else ""
    content, mimetype = exports.titled_table(fmt, HEADERS, cells(), SHEET_TITLE, described=described,
                                             exported_by=viewer.display_name, now=now, tz=tz)
    audit.record_read(session, "loan_register.export", actor=viewer, object_type="loan_register",
                       object_id=fmt, ip=ip, now=now,
                       details={"format": fmt, "rows": count, "scope": scope.kind, "filters": f.as_args()})
    session.flush()
    day = f"{now.astimezone(ZoneInfo(tz)):%Y-%m-%d}"
    return RegisterExport(filename=f"{SHEET_TITLE}-{day}.{fmt}", ascii_filename=f"loan-register-{day}.{fmt}",
                          mimetype=mimetype, content=content, rows=count)
