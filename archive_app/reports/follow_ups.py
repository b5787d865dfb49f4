"""回访: follow-ups due and overdue per consultant today, and per week those that fell due and were made."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from archive_app.accounts.models import User
from archive_app.i18n import _, _l
from archive_app.reports.periods import Period, fold_weeks, week_label
from archive_app.reports.scoping import NOBODY, carried, report_scope, user_names
from archive_app.reports.tables import Chart, Report, Series, Table
from archive_app.visits.models import FollowUp

SLUG = "follow-ups"
TITLE = _l("回访到期与逾期")
# "Due soon": the days after today a consultant plans for.
SOON_DAYS = 7


def _count(cond):
    return func.sum(case((cond, 1), else_=0))


def due_and_overdue(session: Session, actor: User, period: Period, *, today: date) -> Report:
    """Open follow-ups overdue, due today and due in the next days, per consultant; per week of ``period``
    those due and those made (on time or late)."""
    department_id, scope_name = report_scope(session, actor, "report.sales")
    def counted(*columns):
        return carried(select(*columns).select_from(FollowUp), department_id, FollowUp.department_id)

    open_ = FollowUp.done_on.is_(None)
    soon = today + timedelta(days=SOON_DAYS)
    rows = session.execute(
        counted(FollowUp.assignee_id, _count(FollowUp.due_on < today), _count(FollowUp.due_on == today),
                _count(FollowUp.due_on > today))
        .where(open_, FollowUp.due_on.is_not(None), FollowUp.due_on <= soon)
        .group_by(FollowUp.assignee_id)).all()
    done = dict(session.execute(
        counted(FollowUp.assignee_id, func.count())
        .where(FollowUp.done_on >= period.start, FollowUp.done_on <= period.end)
        .group_by(FollowUp.assignee_id)).all())
    per: dict[int | None, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for aid, late, on_day, later in rows:
        per[aid][:3] = [int(late or 0), int(on_day or 0), int(later or 0)]
    for aid, n in done.items():
        per[aid][3] = int(n)
    names = user_names(session, per)
    consultant_rows = sorted(([names.get(a, NOBODY) if a else NOBODY, *c] for a, c in per.items()),
                             key=lambda r: (-r[1], -r[2], r[0]))

    # Per day (each date index read in order), per week here.
    due = fold_weeks(session.execute(
        counted(FollowUp.due_on, func.count(),
                _count(FollowUp.done_on.is_not(None) & (FollowUp.done_on <= FollowUp.due_on)))
        .where(FollowUp.due_on >= period.start, FollowUp.due_on <= period.end).group_by(FollowUp.due_on)))
    made = fold_weeks(session.execute(
        counted(FollowUp.done_on, func.count())
        .where(FollowUp.done_on >= period.start, FollowUp.done_on <= period.end).group_by(FollowUp.done_on)))
    week_rows = [[w.isoformat(), *due.get(w, (0, 0)), made.get(w, [0])[0]] for w in period.weeks]

    top = consultant_rows[:15]
    charts = [Chart("bar", _("置业顾问待回访"), [r[0] for r in top],
                    [Series(_("已逾期"), [r[1] for r in top]), Series(_("今日到期"), [r[2] for r in top]),
                     Series(_("%(soon_days)s 日内到期", soon_days=SOON_DAYS), [r[3] for r in top])], stacked=True),
              Chart("line", _("每周到期与完成"), [week_label(w) for w in period.weeks],
                    [Series(_("到期"), [r[1] for r in week_rows]), Series(_("完成"), [r[3] for r in week_rows])])]
    return Report(SLUG, TITLE, period, scope_name, [
        Table("consultants", _("按置业顾问（截至 %(today)s）", today=today.isoformat()),
              [_("置业顾问"), _("已逾期"), _("今日到期"), _("%(soon_days)s 日内到期", soon_days=SOON_DAYS), _("本时段已回访")], consultant_rows),
        Table("weeks", _("按周"), [_("周（周一）"), _("到期"), _("按时完成"), _("完成回访")], week_rows),
    ], charts, as_of=today)
