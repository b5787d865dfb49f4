"""客户等级周报: customers by grade (A/B/C/D) at the end of each week, and the downgrades (退化) with their reasons.

The 温馨卡管理制度 asks the 现场主管 to count the B and C customers, in total and per consultant, every
Saturday, and every downgrade to be reported. The count at a week's end is read backwards from today's
grades: a customer's grade then is today's, undone by every change dated after that week (each change
moved one customer from ``from_grade`` to ``to_grade``). Three GROUP BY queries, whatever the number of
customers or weeks; a customer graded without a history row (an old import) keeps their grade throughout.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from archive_app.accounts.models import User
from archive_app.i18n import _, _l
from archive_app.intake.models import Customer
from archive_app.reports.periods import Period, as_date, monday, week_label
from archive_app.reports.scoping import NOBODY, carried, in_department, report_scope, user_names
from archive_app.reports.tables import Chart, Report, Series, Table
from archive_app.visits.choices import GRADE_ORDER
from archive_app.visits.grades import is_downgrade
from archive_app.visits.models import GradeChange

SLUG = "grades"
TITLE = _l("客户等级周报")
GRADES = list(GRADE_ORDER)
# Downgrades listed one by one on the page, in the API and the export (the counts cover all of them).
DOWNGRADE_ROWS = 500


def _is_downgrade():
    """SQL: the change lowers the grade (A→B, B→D …)."""
    return or_(*(and_(GradeChange.from_grade == high, GradeChange.to_grade.in_(GRADES[i + 1:]))
                 for i, high in enumerate(GRADES[:-1])))


def grades_per_consultant(session: Session, department_id: int | None) -> dict[int | None, dict[str, int]]:
    """Today's customers per consultant and grade (one pass over the department's index)."""
    per: dict[int | None, dict[str, int]] = defaultdict(lambda: dict.fromkeys(GRADES, 0))
    # Grouped in the index's own order (department, grade, consultant): read in order, nothing sorted.
    for _dept, grade, cid, n in session.execute(
            select(Customer.department_id, Customer.grade, Customer.consultant_id, func.count())
            .where(Customer.grade.is_not(None), in_department(Customer.department_id, department_id))
            .group_by(Customer.department_id, Customer.grade, Customer.consultant_id)):
        per[cid][grade] += n
    return per


def day_moves(session: Session, since: date, department_id: int | None) -> list[tuple[date, str | None, str, int]]:
    """(day, from grade, to grade, changes) of every grade change dated ``since`` or later (later ones, even
    future-dated, included): one pass over the day index (a department's range of its own), grouped by the
    indexed columns alone, from which the moves per grade and the downgrades per day are both counted here."""
    stmt = carried(select(GradeChange.changed_on, GradeChange.from_grade, GradeChange.to_grade, func.count())
                   .select_from(GradeChange), department_id, GradeChange.department_id) \
        .where(GradeChange.changed_on >= since) \
        .group_by(GradeChange.changed_on, GradeChange.from_grade, GradeChange.to_grade)
    return [(as_date(d), f, t, int(n)) for d, f, t, n in session.execute(stmt)]


def weekly_grade_counts(session: Session, period: Period, department_id: int | None,
                        now: dict[str, int] | None = None,
                        moved: list[tuple[date, str | None, str, int]] | None = None) -> dict[date, dict[str, int]]:
    """Customers at each grade at the end (Sunday) of each week of ``period``: {Monday: {grade: n}}.
    ``now``: today's counts per grade, and ``moved``: ``day_moves`` from the period's start, when the caller
    has them already."""
    if now is None:
        scope = in_department(Customer.department_id, department_id)
        now = dict(session.execute(select(Customer.grade, func.count()).where(Customer.grade.is_not(None), scope)
                                   .group_by(Customer.grade)).all())
    if moved is None:
        moved = day_moves(session, period.start, department_id)
    # Net moves per week from the period's first week on (later ones, even future-dated, included).
    moves: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d, from_grade, to_grade, n in moved:
        week = moves[monday(d)]
        week[to_grade] += n
        if from_grade is not None:
            week[from_grade] -= n
    counts: dict[date, dict[str, int]] = {}
    running = {g: int(now.get(g, 0)) for g in GRADES}
    later = sorted((w for w in moves if w > period.weeks[-1]), reverse=True)
    for w in later:  # undo what happened after the period
        for g in GRADES:
            running[g] -= moves[w][g]
    for w in reversed(period.weeks):
        counts[w] = dict(running)
        for g in GRADES:
            running[g] -= moves.get(w, {}).get(g, 0)
    return counts


def weekly_grades(session: Session, actor: User, period: Period, *, today: date) -> Report:
    """The weekly grade report: counts by grade per week, downgrades per week and each one with its reason,
    and today's counts per consultant."""
    department_id, scope_name = report_scope(session, actor, "report.sales")
    by_consultant = grades_per_consultant(session, department_id)
    moved = day_moves(session, period.start, department_id)
    counts = weekly_grade_counts(session, period, department_id,
                                 now={g: sum(c[g] for c in by_consultant.values()) for g in GRADES}, moved=moved)
    down_per_week: dict[date, int] = defaultdict(int)
    for d, from_grade, to_grade, n in moved:
        if d <= period.end and from_grade is not None and is_downgrade(from_grade, to_grade):
            down_per_week[monday(d)] += n
    week_rows = [[w.isoformat(), *(counts[w][g] for g in GRADES), sum(counts[w].values()), int(down_per_week.get(w, 0))]
                 for w in period.weeks]

    # The newest downgrades picked by id first (read from the day index), then only those looked up with
    # their customer and who changed them: joining every downgrade of the period before keeping the newest
    # 500 looked up thousands of customers (PostgreSQL, a quarter's 11,000 downgrades: 150 ms → 45 ms).
    newest = (GradeChange.changed_on.desc(), GradeChange.id.desc())
    picked = carried(select(GradeChange.id).where(GradeChange.changed_on >= period.start,
                                                  GradeChange.changed_on <= period.end, _is_downgrade()),
                     department_id, GradeChange.department_id).order_by(*newest).limit(DOWNGRADE_ROWS).subquery()
    listed = session.execute(
        select(GradeChange.changed_on, Customer.customer_no, Customer.name, GradeChange.from_grade,
               GradeChange.to_grade, GradeChange.reason, User.display_name)
        .select_from(GradeChange).join(picked, picked.c.id == GradeChange.id)
        .join(Customer, Customer.id == GradeChange.customer_id)
        .join(User, User.id == GradeChange.changed_by_id)
        .order_by(*newest)).all()
    total_down = sum(down_per_week.values())
    down_rows = [[as_date(d).isoformat(), no or "", name, f, t, reason, by] for d, no, name, f, t, reason, by in listed]

    names = user_names(session, by_consultant)
    consultant_rows = sorted(([names.get(cid, NOBODY) if cid else NOBODY, *(c[g] for g in GRADES), sum(c.values())]
                              for cid, c in by_consultant.items()), key=lambda r: (-r[-1], r[0]))

    labels = [week_label(w) for w in period.weeks]
    charts = [Chart("line", _("各等级客户数（每周末）"), labels,
                    [Series(_("%(g)s 级", g=g), [counts[w][g] for w in period.weeks]) for g in GRADES]),
              Chart("bar", _("每周降级数"), labels, [Series(_("降级"), [r[-1] for r in week_rows])])]
    return Report(SLUG, TITLE, period, scope_name, [
        Table("weeks", _("按周（周末客户数）"), [_("周（周一）"), *(_("%(g)s 级", g=g) for g in GRADES), _("合计"), _("降级")], week_rows),
        Table("downgrades", _("降级明细"), [_("日期"), _("客户号"), _("客户"), _("原等级"), _("新等级"), _("降级原因"), _("经办人")], down_rows,
              left_out=max(total_down - len(down_rows), 0)),
        Table("consultants", _("按置业顾问（截至 %(today)s）", today=today.isoformat()), [_("置业顾问"), *(_("%(g)s 级", g=g) for g in GRADES), _("合计")],
              consultant_rows),
    ], charts, as_of=today)

