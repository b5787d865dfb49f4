"""Reading the audit log: the log page's filtered listing, and "was this already written lately?"."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.audit.models import AuditEntry
from archive_app.errors import ValidationFailed
from archive_app.i18n import _
from archive_app.intake.models import Customer, Record


def recorded_since(session: Session, actor_id: int, action: str, object_type: str, object_id: Any,
                   since: datetime) -> bool:
    """Whether ``actor_id`` already has an ``action`` entry on this object after ``since``."""
    return session.scalar(select(AuditEntry.id).where(
        AuditEntry.actor_id == actor_id, AuditEntry.action == action, AuditEntry.at > since,
        AuditEntry.object_type == object_type, AuditEntry.object_id == str(object_id)).limit(1)) is not None


@dataclass(frozen=True)
class LogFilter:
    """What the log page is narrowed to: a user (username or display name), an action (or a kind of
    actions: a prefix such as ``loan``), a record (档号) or customer (客户号), local dates."""

    user: str = ""
    action: str = ""
    target: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "LogFilter":
        """The filter from query-string arguments (shared by the page, its exports and the API)."""
        f = cls(user=(args.get("user") or "").strip()[:100], action=(args.get("action") or "").strip()[:64],
                target=(args.get("target") or "").strip()[:64],
                date_from=_date(args.get("date_from"), _("开始日期")), date_to=_date(args.get("date_to"), _("结束日期")))
        if f.date_from and f.date_to and f.date_from > f.date_to:
            raise ValidationFailed(_("开始日期不能晚于结束日期"), code="invalid_date_range")
        return f

    def as_args(self) -> dict[str, str]:
        """The filter as query-string arguments (empty ones left out), for links and the audit entry."""
        out = {"user": self.user, "action": self.action, "target": self.target,
               "date_from": self.date_from.isoformat() if self.date_from else "",
               "date_to": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in out.items() if v}


def _date(value: str | None, label: str) -> date | None:
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(_("%(label)s格式不正确（例如 2026-11-25）", label=label), code="invalid_date") from None


def _filtered(stmt: Select, f: LogFilter, tz: str) -> Select:
    if f.user:
        ids = select(User.id).where((User.username == f.user) | (User.display_name == f.user))
        # Failed log-ins name no user row: match the name they were written with as well.
        stmt = stmt.where(AuditEntry.actor_id.in_(ids) | (AuditEntry.actor_name == f.user))
    if f.action:
        # "loan" matches every loan.* action; "loan.approve" only itself.
        stmt = stmt.where((AuditEntry.action == f.action)
                          | AuditEntry.action.startswith(f.action + ".", autoescape=True))
    if f.target:
        stmt = stmt.where(_about(f.target))
    zone = ZoneInfo(tz)
    if f.date_from:
        stmt = stmt.where(AuditEntry.at >= datetime.combine(f.date_from, time(), zone))
    if f.date_to:
        stmt = stmt.where(AuditEntry.at < datetime.combine(f.date_to + timedelta(days=1), time(), zone))
    return stmt


def _about(target: str):
    """Entries about the record with this 档号 or the customer with this 客户号 (and the customer's records),
    and entries whose details quote that number (a loan, a disposal batch naming the record)."""
    records = select(cast(Record.id, String)).where(Record.archival_code == target)
    customers = select(Customer.id).where(Customer.customer_no == target)
    customer_records = select(cast(Record.id, String)).where(Record.customer_id.in_(customers))
    return or_(and_(AuditEntry.object_type == "record", AuditEntry.object_id.in_(records)),
               and_(AuditEntry.object_type == "customer",
                    AuditEntry.object_id.in_(select(cast(Customer.id, String)).where(Customer.customer_no == target))),
               and_(AuditEntry.object_type == "record", AuditEntry.object_id.in_(customer_records)),
               AuditEntry.details.contains(f'"{target}"', autoescape=True))


def iter_log(session: Session, f: LogFilter, *, tz: str, limit: int, batch: int = 1000):
    """The (filtered) log newest first, at most ``limit`` entries, read ``batch`` at a time (exports)."""
    last_seq: int | None = None
    left = limit
    while left > 0:
        stmt = _filtered(select(AuditEntry), f, tz)
        if last_seq is not None:
            stmt = stmt.where(AuditEntry.seq < last_seq)
        rows = list(session.scalars(stmt.order_by(AuditEntry.seq.desc()).limit(min(batch, left))))
        if not rows:
            return
        yield rows
        left -= len(rows)
        last_seq = rows[-1].seq


def log_page(session: Session, f: LogFilter, *, tz: str, page: int,
             per_page: int = 50) -> tuple[list[AuditEntry], int, int]:
    """One page of the (filtered) log, newest first: the entries, the number of pages and of entries."""
    total = session.scalar(_filtered(select(func.count(AuditEntry.id)), f, tz)) or 0
    rows = list(session.scalars(_filtered(select(AuditEntry), f, tz).order_by(AuditEntry.seq.desc())
                                .limit(per_page).offset((page - 1) * per_page)))
    return rows, max((total + per_page - 1) // per_page, 1), total


def read_log(session: Session, actor: User, f: LogFilter, *, tz: str, page: int, per_page: int = 50,
             ip: str = "") -> tuple[list[AuditEntry], int, int]:
    """``log_page`` for ``actor``, who must be allowed to see the log; the look itself is logged (audit.view)."""
    policy.require(actor, "audit.view")
    rows, pages, total = log_page(session, f, tz=tz, page=page, per_page=per_page)
    audit.record_read(session, "audit.view", actor=actor, object_type="audit_log", ip=ip,
                       details={"filters": f.as_args(), "page": page, "total": total})
    session.flush()
    return rows, pages, total
