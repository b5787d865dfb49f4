"""The reports there are: slug, title, the action that shows them, and the function that builds them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.errors import NotFound
from archive_app.i18n import _, _l
from archive_app.reports import borrowing, customers, follow_ups, grades, records, sales
from archive_app.reports.periods import Period
from archive_app.reports.tables import Report


@dataclass(frozen=True)
class ReportKind:
    slug: str
    title: str
    action: str
    build: Callable[..., Report]
    summary: str


REPORTS: dict[str, ReportKind] = {k.slug: k for k in (
    ReportKind(sales.SLUG, sales.TITLE, "report.sales", lambda s, a, p, today, tz: sales.visits_and_deals(
        s, a, p, today=today), _l("每周、每位置业顾问、每个项目的来访与成交")),
    ReportKind(grades.SLUG, grades.TITLE, "report.sales", lambda s, a, p, today, tz: grades.weekly_grades(
        s, a, p, today=today), _l("每周末各等级客户数，降级及其原因")),
    ReportKind(customers.SLUG, customers.TITLE, "report.sales", lambda s, a, p, today, tz: customers.retained_and_potential(
        s, a, p, today=today, tz=tz), _l("保有客户与潜在客户，按项目与等级")),
    ReportKind(follow_ups.SLUG, follow_ups.TITLE, "report.sales", lambda s, a, p, today, tz: follow_ups.due_and_overdue(
        s, a, p, today=today), _l("各置业顾问到期与逾期回访")),
    ReportKind(borrowing.SLUG, borrowing.TITLE, "report.archive", lambda s, a, p, today, tz: borrowing.borrowing(
        s, a, p, today=today, tz=tz), _l("借阅申请，按部门、用途与周")),
    ReportKind(records.SLUG, records.TITLE, "report.archive", lambda s, a, p, today, tz: records.filed_read_due(
        s, a, p, today=today, tz=tz), _l("录入与归档、文字识别队列、到期待鉴定")),
)}


def kinds_for(actor: User) -> list[ReportKind]:
    """The reports ``actor`` may open, in menu order."""
    return [k for k in REPORTS.values() if policy.can(actor, k.action)]


def build_report(session: Session, actor: User, slug: str, period: Period, *, today: date, tz: str) -> Report:
    """Report ``slug`` over ``period`` as ``actor`` may see it (404 ``report_not_found`` for an unknown one,
    403 without its action)."""
    kind = REPORTS.get(slug)
    if kind is None:
        raise NotFound(_("没有这个报表"), code="report_not_found")
    return kind.build(session, actor, period, today, tz)
