"""借阅: borrowing requests by department and by purpose (用途), and per week, in the period."""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from archive_app.accounts.models import User
from archive_app.borrowing.models import LOAN_KINDS, LoanRequest
from archive_app.i18n import _, _l
from archive_app.reports.periods import Period, as_date, local_week_of, week_label
from archive_app.reports.scoping import NOBODY, department_names, in_department, report_scope
from archive_app.reports.tables import Chart, Report, Series, Table

SLUG = "borrowing"
TITLE = _l("借阅统计")
KIND_LABELS = {"view": _l("查阅"), "download": _l("下载"), "original": _l("借阅原件")}
GRANTED = ("approved", "expired", "closed")
# Purposes are typed freely: the most frequent are listed, the rest summed in one line.
PURPOSE_ROWS = 20


def borrowing(session: Session, actor: User, period: Period, *, today: date, tz: str) -> Report:
    """Requests filed in ``period``: per department and kind (with how many were granted or refused), per
    purpose, per week."""
    department_id, scope_name = report_scope(session, actor, "report.archive")
    start, end = period.bounds(tz)
    where = (LoanRequest.created_at >= start, LoanRequest.created_at < end,
             in_department(LoanRequest.department_id, department_id))
    kinds = [func.sum(case((LoanRequest.kind == k, 1), else_=0)) for k in LOAN_KINDS]
    granted = func.sum(case((LoanRequest.status.in_(GRANTED), 1), else_=0))
    refused = func.sum(case((LoanRequest.status == "rejected", 1), else_=0))
    rows = session.execute(select(LoanRequest.department_id, *kinds, func.count(), granted, refused)
                           .where(*where).group_by(LoanRequest.department_id)).all()
    names = department_names(session, (r[0] for r in rows))
    department_rows = sorted(([names.get(r[0], NOBODY) if r[0] else NOBODY, *(int(x or 0) for x in r[1:])]
                              for r in rows), key=lambda r: (-r[len(LOAN_KINDS) + 1], r[0]))

    purposes = session.execute(select(LoanRequest.purpose, func.count()).where(*where)
                               .group_by(LoanRequest.purpose).order_by(func.count().desc(), LoanRequest.purpose)).all()
    purpose_rows = [[p, int(n)] for p, n in purposes[:PURPOSE_ROWS]]
    rest = sum(n for _unused, n in purposes[PURPOSE_ROWS:])
    if rest:
        purpose_rows.append([_("其他（%(value)s 种用途）", value=len(purposes) - PURPOSE_ROWS), int(rest)])

    week = local_week_of(LoanRequest.created_at, tz)
    per_week: dict[date, list[int]] = defaultdict(lambda: [0] * len(LOAN_KINDS))
    for w, *counts in session.execute(select(week, *kinds).where(*where).group_by(week)):
        per_week[as_date(w)] = [int(c or 0) for c in counts]
    week_rows = [[w.isoformat(), *per_week.get(w, [0] * len(LOAN_KINDS)), sum(per_week.get(w, []))] for w in period.weeks]

    kind_names = [KIND_LABELS[k] for k in LOAN_KINDS]
    charts = [Chart("bar", _("各部门借阅申请"), [r[0] for r in department_rows[:15]],
                    [Series(kind_names[i], [r[i + 1] for r in department_rows[:15]]) for i in range(len(LOAN_KINDS))],
                    stacked=True),
              Chart("bar", _("每周借阅申请"), [week_label(w) for w in period.weeks],
                    [Series(kind_names[i], [r[i + 1] for r in week_rows]) for i in range(len(LOAN_KINDS))], stacked=True)]
    return Report(SLUG, TITLE, period, scope_name, [
        Table("departments", _("按部门"), [_("部门"), *kind_names, _("合计"), _("已批准"), _("已驳回")], department_rows),
        Table("purposes", _("按用途"), [_("用途"), _("申请数")], purpose_rows),
        Table("weeks", _("按周"), [_("周（周一）"), *kind_names, _("合计")], week_rows),
    ], charts, as_of=today)
