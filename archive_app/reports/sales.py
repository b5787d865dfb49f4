"""来访与成交: visits and deals per week, per consultant (置业顾问) and per project (项目).

A visit is one visit date on a visitor card (一次、二次、三次…到访); 踩盘 visits (competitors who only
came to look) are counted apart, never as visits. A deal is a customer whose 成交 date falls in the
week; it counts for the customer's consultant and project.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import case, func, select, true
from sqlalchemy.orm import Session

from archive_app.accounts.models import User
from archive_app.i18n import _, _l
from archive_app.intake.models import Customer
from archive_app.reports.periods import Period, as_date, fold_weeks, monday, week_label
from archive_app.reports.scoping import NOBODY, in_department, report_scope, scoped, user_names
from archive_app.reports.tables import Chart, Report, Series, Table
from archive_app.visits.models import CardVisit, VisitorCard

SLUG = "visits"
TITLE = _l("来访与成交")


def _visit_counts(session: Session, period: Period, department_id: int | None, key):
    return _visits_by(session, period, department_id, (key,))


def _deal_counts(session: Session, period: Period, department_id: int | None, keys: tuple):
    """[*keys, deals] of ``period`` grouped by ``keys``."""
    stmt = (select(*keys, func.count()).select_from(Customer)
            .where(Customer.deal_closed_on >= period.start, Customer.deal_closed_on <= period.end,
                   in_department(Customer.department_id, department_id))
            .group_by(*keys))
    return session.execute(stmt).all()


def weekly_rows(session: Session, period: Period, department_id: int | None) -> list[list]:
    """Per week of ``period``: [Monday, visits, first visits, 踩盘 visits, deals]."""
    by_week = fold_weeks(_visit_counts(session, period, department_id, CardVisit.visited_on))
    deals_week = fold_weeks(_deal_counts(session, period, department_id, (Customer.deal_closed_on,)))
    return [[w.isoformat(), *by_week.get(w, (0, 0, 0)), deals_week.get(w, [0])[0]] for w in period.weeks]


def weekly_chart(period: Period, week_rows: list[list]) -> Chart:
    """Visits and deals per week as bars."""
    return Chart("bar", _("每周来访与成交"), [week_label(w) for w in period.weeks],
                 [Series(_("来访"), [r[1] for r in week_rows]), Series(_("成交"), [r[4] for r in week_rows])])


def _visits_by(session: Session, period: Period, department_id: int | None, keys: tuple, *, project: bool = False):
    """[*keys, visits, first visits, 踩盘] of ``period`` grouped by ``keys``; the customers table is joined only
    for the project (``project=True``), else a department is reached by a semi-join."""
    if project and session.get_bind().dialect.name == "sqlite":
        # SQLite joins by looking up each row in an index: fewer rows to look up (a card's, not a visit's)
        # pay. PostgreSQL hashes the cards and customers once and joins the visits to them faster as they are.
        return _visits_by_card(session, period, department_id, keys)
    if not project and department_id is None:
        return _company_visits_by(session, period, keys)
    scouting = case((VisitorCard.scouting.is_(True), 1), else_=0)
    first = case(((CardVisit.visit_no == 1) & VisitorCard.scouting.is_(False), 1), else_=0)
    stmt = (select(*keys, func.count() - func.sum(scouting), func.sum(first), func.sum(scouting))
            .select_from(CardVisit).join(VisitorCard, VisitorCard.id == CardVisit.card_id)
            .where(CardVisit.visited_on >= period.start, CardVisit.visited_on <= period.end))
    if project:
        stmt = stmt.join(Customer, Customer.id == VisitorCard.customer_id) \
            .where(in_department(Customer.department_id, department_id))
    else:
        stmt = scoped(stmt, department_id, VisitorCard.customer_id)
    return session.execute(stmt.group_by(*keys)).all()


def _company_visits_by(session: Session, period: Period, keys: tuple):
    """As ``_visits_by`` for the whole company and keys of the visit itself (its day): every visit counted
    from the visits' day index alone, less the visits of the few 踩盘 cards (read from the scouting index,
    then each card's visits), instead of looking up the card of every visit."""
    first = func.sum(case((CardVisit.visit_no == 1, 1), else_=0))
    in_period = (CardVisit.visited_on >= period.start, CardVisit.visited_on <= period.end)
    every = session.execute(select(*keys, func.count(), first).where(*in_period).group_by(*keys)).all()
    scouting_cards = select(VisitorCard.id).where(VisitorCard.scouting == true())
    scouted = {tuple(key): (int(n), int(f or 0)) for *key, n, f in session.execute(
        select(*keys, func.count(), first).where(*in_period, CardVisit.card_id.in_(scouting_cards)).group_by(*keys))}
    rows = []
    for *key, n, f in every:
        sn, sf = scouted.get(tuple(key), (0, 0))
        rows.append((*key, int(n) - sn, int(f or 0) - sf, sn))
    return rows


def _visits_by_card(session: Session, period: Period, department_id: int | None, keys: tuple):
    """As ``_visits_by`` for keys of the card and its customer (consultant, project), on SQLite: the period's
    visits are first counted per card (from the visits' day index alone), and only those per-card counts,
    fewer than the visits, look up their card and customer; over 52 weeks the per-visit lookups were most of
    the page."""
    per_card = (select(CardVisit.card_id.label("card_id"), func.count().label("visits"),
                       func.sum(case((CardVisit.visit_no == 1, 1), else_=0)).label("firsts"))
                .where(CardVisit.visited_on >= period.start, CardVisit.visited_on <= period.end)
                .group_by(CardVisit.card_id).subquery())
    scouting = case((VisitorCard.scouting.is_(True), per_card.c.visits), else_=0)
    first = case((VisitorCard.scouting.is_(False), per_card.c.firsts), else_=0)
    stmt = (select(*keys, func.sum(per_card.c.visits) - func.sum(scouting), func.sum(first), func.sum(scouting))
            .select_from(per_card).join(VisitorCard, VisitorCard.id == per_card.c.card_id)
            .join(Customer, Customer.id == VisitorCard.customer_id)
            .where(in_department(Customer.department_id, department_id)))
    return session.execute(stmt.group_by(*keys)).all()


def _per_key(session: Session, period: Period, department_id: int | None, visit_key, deal_key, *,
             project: bool = False) -> dict:
    """{key: [visits, first visits, 踩盘, deals]}: the visits grouped by ``visit_key``, the deals by ``deal_key``."""
    visit_keys = visit_key if isinstance(visit_key, tuple) else (visit_key,)
    deal_keys = deal_key if isinstance(deal_key, tuple) else (deal_key,)
    one = len(visit_keys) == 1
    per: dict = defaultdict(lambda: [0, 0, 0, 0])
    for *key, v, f, sc in _visits_by(session, period, department_id, visit_keys, project=project):
        row = per[key[0] if one else tuple(key)]
        row[0], row[1], row[2] = row[0] + int(v or 0), row[1] + int(f or 0), row[2] + int(sc or 0)
    for *key, n in _deal_counts(session, period, department_id, deal_keys):
        per[key[0] if one else tuple(key)][3] += int(n)
    return per


def visits_and_deals(session: Session, actor: User, period: Period, *, today: date) -> Report:
    """Visits (first visits, 踩盘 apart) and deals per week, per consultant and per project."""
    department_id, scope = report_scope(session, actor, "report.sales")
    # One small GROUP BY per table the report shows (weeks folded from days here): a single
    # (week, consultant, project) cube would send thousands of rows to fold in Python.
    per_week: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for day, counts in _per_key(session, period, department_id, CardVisit.visited_on, Customer.deal_closed_on).items():
        week = per_week[monday(as_date(day))]
        for i, n in enumerate(counts):
            week[i] += n
    # Consultants and projects in one pass (at most consultants × projects groups), summed both ways here.
    per_consultant: dict[int | None, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    per_project: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (cid, project), counts in _per_key(session, period, department_id,
                                           (VisitorCard.consultant_id, Customer.project),
                                           (Customer.consultant_id, Customer.project), project=True).items():
        for row in (per_consultant[cid], per_project[project or NOBODY]):
            for i, n in enumerate(counts):
                row[i] += n
    week_rows = [[w.isoformat(), *per_week.get(w, [0, 0, 0, 0])] for w in period.weeks]
    names = user_names(session, per_consultant)
    consultant_rows = sorted(([names.get(cid, NOBODY) if cid else NOBODY, c[0], c[1], c[3]]
                              for cid, c in per_consultant.items()), key=lambda r: (-r[1], -r[3], r[0]))
    project_rows = sorted(([p, c[0], c[1], c[3]] for p, c in per_project.items()), key=lambda r: (-r[1], -r[3], r[0]))

    charts = [
        weekly_chart(period, week_rows),
        Chart("bar", _("置业顾问来访与成交"), [r[0] for r in consultant_rows[:15]],
              [Series(_("来访"), [r[1] for r in consultant_rows[:15]]), Series(_("成交"), [r[3] for r in consultant_rows[:15]])]),
    ]
    return Report(SLUG, TITLE, period, scope, [
        Table("weeks", _("按周"), [_("周（周一）"), _("来访"), _("首次到访"), _("踩盘"), _("成交")], week_rows),
        Table("consultants", _("按置业顾问"), [_("置业顾问"), _("来访"), _("首次到访"), _("成交")], consultant_rows),
        Table("projects", _("按项目"), [_("项目"), _("来访"), _("首次到访"), _("成交")], project_rows),
    ], charts, as_of=today)
