"""保有客户与潜在客户: retained customers (成交 recorded) against potential ones (not yet), by project and
grade, and how many became retained or came new each week (客户数据管理制度 §八: 保有客户报告, 潜在客户报告)."""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from archive_app.accounts.models import User
from archive_app.i18n import _, _l
from archive_app.intake.models import ERASED_NAME, Customer
from archive_app.reports.periods import Period, as_date, fold_weeks, local_week_of, week_label
from archive_app.reports.scoping import NOBODY, in_department, report_scope
from archive_app.reports.tables import Chart, Report, Series, Table

SLUG = "customers"
TITLE = _l("保有客户与潜在客户")
NO_GRADE = _l("未评级")


def retained_and_potential(session: Session, actor: User, period: Period, *, today: date, tz: str) -> Report:
    """Retained and potential customers today, by project and by grade; new ones per week of ``period``."""
    department_id, scope_name = report_scope(session, actor, "report.sales")
    live = (Customer.name != ERASED_NAME, in_department(Customer.department_id, department_id))
    retained = func.sum(case((Customer.deal_closed_on.is_not(None), 1), else_=0))
    potential = func.sum(case((Customer.deal_closed_on.is_(None), 1), else_=0))

    # One pass over the customers by (department, project, grade), summed both ways here: grouped in the
    # order of ix_customers_department_project, so the database reads that index in order and sorts nothing.
    by_project: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    by_grade: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for _dept, project, grade, r, p in session.execute(
            select(Customer.department_id, Customer.project, Customer.grade, retained, potential).where(*live)
            .group_by(Customer.department_id, Customer.project, Customer.grade)):
        r, p = int(r or 0), int(p or 0)
        for row in (by_project[project or NOBODY], by_grade[grade or NO_GRADE]):
            row[0], row[1], row[2] = row[0] + r, row[1] + p, row[2] + r + p
    project_rows = sorted(([k, *v] for k, v in by_project.items()), key=lambda r: (-r[3], r[0]))
    grade_rows = sorted(([k, *v] for k, v in by_grade.items()), key=lambda r: (r[0] == NO_GRADE, r[0]))
    total = [sum(r[1] for r in project_rows), sum(r[2] for r in project_rows)]

    start, end = period.bounds(tz)
    new_week = local_week_of(Customer.created_at, tz)
    came = {as_date(w): n for w, n in session.execute(
        select(new_week, func.count()).where(Customer.created_at >= start, Customer.created_at < end, *live)
        .group_by(new_week))}
    closed = fold_weeks(session.execute(
        select(Customer.deal_closed_on, func.count()).where(Customer.deal_closed_on >= period.start,
                                                            Customer.deal_closed_on <= period.end, *live)
        .group_by(Customer.deal_closed_on)))
    week_rows = [[w.isoformat(), int(came.get(w, 0)), closed.get(w, [0])[0]] for w in period.weeks]

    top = project_rows[:15]
    charts = [Chart("bar", _("各项目保有与潜在客户"), [r[0] for r in top],
                    [Series(_("保有客户"), [r[1] for r in top]), Series(_("潜在客户"), [r[2] for r in top])], stacked=True),
              Chart("line", _("每周新增客户与新成交"), [week_label(w) for w in period.weeks],
                    [Series(_("新增客户"), [r[1] for r in week_rows]), Series(_("新成交"), [r[2] for r in week_rows])])]
    return Report(SLUG, TITLE, period, scope_name, [
        Table("projects", _("按项目（截至 %(today)s）", today=today.isoformat()), [_("项目"), _("保有客户"), _("潜在客户"), _("合计")],
              project_rows + [[_("合计"), total[0], total[1], total[0] + total[1]]]),
        Table("grades", _("按等级"), [_("等级"), _("保有客户"), _("潜在客户"), _("合计")], grade_rows),
        Table("weeks", _("按周"), [_("周（周一）"), _("新增客户"), _("新成交")], week_rows),
    ], charts, as_of=today)
