"""The landing page after login (工作台): what waits for this user, each count a link to its list.

What a user sees follows what the policy lets them do, never their role by name: the archive's keepers
see the intake, the review backlog, failed text recognition and what is due for disposal; whoever
approves sees what waits for them; whoever reads the sales reports sees this week's figures of their
department (a head) or the company, with a chart. Counts only: no record or customer is named here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.borrowing.models import LoanRequest
from archive_app.corrections.models import ChangeRequest
from archive_app.i18n import _
from archive_app.intake.models import Record
from archive_app.reports import grades, records, sales
from archive_app.reports.periods import Period, monday, period_for
from archive_app.reports.scoping import carried, report_scope
from archive_app.reports.tables import Chart, Series
from archive_app.retention.models import DisposalBatch
from archive_app.visits import follow_ups
from archive_app.visits.models import FollowUp

# Weeks the dashboard's chart shows.
CHART_WEEKS = 8


@dataclass(frozen=True)
class Tile:
    """One count and where its list is: an endpoint and its arguments (None: no list to open)."""

    label: str
    count: int
    endpoint: str | None = None
    args: dict = field(default_factory=dict)
    urgent: bool = False


@dataclass
class Section:
    title: str
    tiles: list[Tile]


@dataclass
class Dashboard:
    sections: list[Section]
    charts: list[Chart] = field(default_factory=list)
    scope: str = ""
    reports: bool = False


def _archive_work(session: Session, user: User, today: date, tz: str) -> Section | None:
    if not policy.can(user, "record.upload") and not policy.can(user, "review.queue"):
        return None
    zone = ZoneInfo(tz)
    since = datetime.combine(today, time.min, zone)
    entered = int(session.scalar(records.over_visible_records(user, func.count())
                                 .where(Record.created_at >= since)) or 0)
    drafts = int(session.scalar(records.over_visible_records(user, func.count()).where(Record.status == "draft")) or 0)
    checks = policy.can(user, "record.checks")
    day = today.isoformat()
    tiles = [Tile(_("今日录入"), entered, "four_checks.index" if checks else None, {"date_from": day, "date_to": day})]
    if policy.can(user, "review.queue"):
        tiles.append(Tile(_("待审核"), drafts, "review.queue", urgent=drafts > 0))
    else:
        tiles.append(Tile(_("待审核（草稿）"), drafts, "four_checks.index" if checks else None, {"status": "draft"}))
    failed = records.reading_counts(session, user).get("failed", 0)
    tiles.append(Tile(_("文字识别失败"), failed, "four_checks.index" if checks else None,
                      {"kind": "usability", "result": "failed"}, urgent=failed > 0))
    if policy.can(user, "disposal.view_due"):
        due = records.due_now(session, user, today)
        tiles.append(Tile(_("到期待鉴定"), due, "retention.due", urgent=due > 0))
    return Section(_("档案工作"), tiles)


def _approvals(session: Session, user: User) -> Section | None:
    tiles = []
    if policy.can(user, "loan.approve"):
        n = int(session.scalar(select(func.count()).select_from(LoanRequest).where(policy.loans_to_decide(user))) or 0)
        tiles.append(Tile(_("借阅待审批"), n, "loans.queue", urgent=n > 0))
    if policy.can(user, "correction.approve_head") or policy.can(user, "correction.approve_second"):
        n = int(session.scalar(select(func.count()).select_from(ChangeRequest)
                               .where(policy.changes_to_decide(user))) or 0)
        tiles.append(Tile(_("数据变更待审批"), n, "corrections.queue", urgent=n > 0))
    if policy.can(user, "disposal.approve"):
        n = int(session.scalar(select(func.count()).select_from(DisposalBatch)
                               .where(DisposalBatch.status == "submitted")) or 0)
        tiles.append(Tile(_("销毁待审批"), n, "retention.batches", urgent=n > 0))
    return Section(_("待我审批"), tiles) if tiles else None


def _my_follow_ups(session: Session, user: User, today: date) -> Section | None:
    if not policy.can(user, "followup.record"):
        return None
    counts = follow_ups.due_counts(session, user, today)
    return Section(_("我的回访"), [Tile(_("已逾期"), counts.overdue, "visits.due_follow_ups", urgent=counts.overdue > 0),
                                Tile(_("今日到期"), counts.today, "visits.due_follow_ups")])


def _sales_figures(session: Session, user: User, today: date) -> tuple[Section, list[Chart], str]:
    period = period_for(today, weeks=CHART_WEEKS)
    department_id, scope = report_scope(session, user, "report.sales")
    week_rows = sales.weekly_rows(session, period, department_id)
    this_week = week_rows[-1]
    grade_counts = grades.weekly_grade_counts(session, Period(period.weeks[-1], period.end), department_id)[monday(today)]
    overdue = int(session.scalar(
        carried(select(func.count()).select_from(FollowUp), department_id, FollowUp.department_id)
        .where(FollowUp.done_on.is_(None), FollowUp.due_on < today)) or 0)
    link = {"slug": sales.SLUG}
    tiles = [Tile(_("本周来访"), int(this_week[1]), "reports.show", link),
             Tile(_("本周成交"), int(this_week[4]), "reports.show", link),
             Tile(_("逾期未回访"), overdue, "reports.show", {"slug": "follow-ups"}, urgent=overdue > 0),
             *(Tile(_("%(g)s 级客户", g=g), n, "reports.show", {"slug": grades.SLUG}) for g, n in grade_counts.items())]
    charts = [sales.weekly_chart(period, week_rows),
              Chart("bar", _("各等级客户数（本周末）"), [_("%(g)s 级", g=g) for g in grade_counts],
                    [Series(_("客户数"), list(grade_counts.values()))])]
    return Section(_("%(scope)s · 本周（%(monday)s 起）", scope=scope, monday=monday(today).isoformat()), tiles), charts, scope


def dashboard_for(session: Session, user: User, *, today: date, tz: str) -> Dashboard:
    """What ``user``'s landing page shows today."""
    board = Dashboard([], reports=policy.can(user, "report.view"))
    for section in (_approvals(session, user), _archive_work(session, user, today, tz),
                    _my_follow_ups(session, user, today)):
        if section is not None and section.tiles:
            board.sections.append(section)
    if policy.can(user, "report.sales"):
        section, charts, scope = _sales_figures(session, user, today)
        board.sections.append(section)
        board.charts, board.scope = charts, scope
    return board
