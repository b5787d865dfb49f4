"""档案: records entered and filed (审核归档) per week, the reading queue (文字识别) by state, and what falls
due for disposal (到期待鉴定) now and in the coming years. Counted over the records the viewer sees
(``policy.visible_records``: 密级 and department)."""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.i18n import _, _l
from archive_app.intake.models import Record, RecordFile
from archive_app.reports.periods import Period, as_date, local_week_of, week_label
from archive_app.reports.scoping import report_scope
from archive_app.reports.tables import Chart, Report, Series, Table
from archive_app.retention.disposal import due_filter

SLUG = "records"
TITLE = _l("档案归档、识别与到期")
READING_STATES = {"queued": _l("排队中"), "processing": _l("识别中"), "done": _l("已完成"), "failed": _l("失败")}
# The highest 密级 (records.secrecy is 0-3): a viewer cleared to it sees every record's metadata.
MAX_SECRECY = 3
# Years ahead shown in the due-for-disposal table (later ones summed in its last line).
DUE_YEARS = 5


def over_visible_records(actor: User, *columns, files: bool = False):
    """A count over the records ``actor`` sees (as ``policy.visible_records``), or over their files.

    Built from ``policy.record_scope`` so that a whole-company viewer cleared to the top 密级 reads the
    records' (or files') own indexes, with no join and no condition to check row by row; a department
    by the department its records carry (``records.department_id``, their customer's), a range of the
    records' department indexes.
    """
    scope = policy.record_scope(actor)
    if scope is None:
        return select(*columns).where(false())
    clearance, departments = scope
    stmt = select(*columns).select_from(RecordFile if files else Record)
    if clearance < MAX_SECRECY or departments is not None:
        if files:
            stmt = stmt.join(Record, Record.id == RecordFile.record_id)
        if clearance < MAX_SECRECY:
            stmt = stmt.where(Record.secrecy <= clearance)
        if departments is not None:
            stmt = stmt.where(Record.department_id == next(iter(departments)) if len(departments) == 1
                              else Record.department_id.in_(sorted(departments)))
    return stmt


def reading_counts(session: Session, actor: User) -> dict[str, int]:
    """Files of the records ``actor`` sees per reading state (the reading queue's index alone for the whole
    company). A destroyed record has no files left (destruction deletes them)."""
    stmt = over_visible_records(actor, RecordFile.extract_status, func.count(), files=True) \
        .group_by(RecordFile.extract_status)
    return {s: int(n) for s, n in session.execute(stmt)}


def due_now(session: Session, actor: User, today: date) -> int:
    """Records ``actor`` sees that are due for disposal review by ``today``."""
    return int(session.scalar(over_visible_records(actor, func.count()).where(*due_filter(today))) or 0)


def filed_read_due(session: Session, actor: User, period: Period, *, today: date, tz: str) -> Report:
    """Records entered and filed per week; files per reading state; records due for disposal by year."""
    _department_id, scope_name = report_scope(session, actor, "report.archive")
    start, end = period.bounds(tz)
    per_week: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    entered = local_week_of(Record.created_at, tz)
    for w, n in session.execute(over_visible_records(actor, entered, func.count())
                                .where(Record.created_at >= start, Record.created_at < end).group_by(entered)):
        per_week[as_date(w)][0] = int(n)
    filed = local_week_of(Record.reviewed_at, tz)
    for w, n in session.execute(over_visible_records(actor, filed, func.count())
                                .where(Record.reviewed_at >= start, Record.reviewed_at < end).group_by(filed)):
        per_week[as_date(w)][1] = int(n)
    week_rows = [[w.isoformat(), *per_week.get(w, [0, 0])] for w in period.weeks]
    drafts = int(session.scalar(over_visible_records(actor, func.count()).where(Record.status == "draft")) or 0)

    reading = reading_counts(session, actor)
    reading_rows = [[label, reading.get(state, 0)] for state, label in READING_STATES.items()]

    due_rows = [[_("已到期（截至今日）"), due_now(session, actor, today)]]
    years: dict[int, int] = defaultdict(int)
    scheduled = (Record.status == "filed", Record.on_hold.is_(False), Record.disposal_state == "scheduled",
                 Record.disposal_date > today)
    # Grouped by day and summed by year here: the due index is read in order (see retention.schedule).
    for day, n in session.execute(over_visible_records(actor, Record.disposal_date, func.count()).where(*scheduled)
                                  .group_by(Record.disposal_date)):
        years[min(as_date(day).year, today.year + DUE_YEARS)] += int(n)
    for year in range(today.year, today.year + DUE_YEARS + 1):
        label = _("%(year)s 年内到期", year=year) if year < today.year + DUE_YEARS else _("%(year)s 年及以后到期", year=year)
        due_rows.append([label, years.get(year, 0)])

    labels = [week_label(w) for w in period.weeks]
    charts = [Chart("bar", _("每周录入与归档"), labels, [Series(_("录入"), [r[1] for r in week_rows]),
                                                 Series(_("归档"), [r[2] for r in week_rows])]),
              Chart("bar", _("文字识别队列"), [r[0] for r in reading_rows], [Series(_("文件数"), [r[1] for r in reading_rows])]),
              Chart("bar", _("到期待鉴定"), [r[0] for r in due_rows], [Series(_("档案数"), [r[1] for r in due_rows])])]
    return Report(SLUG, TITLE, period, scope_name, [
        Table("weeks", _("按周（待审核草稿现有 %(drafts)s 件）", drafts=drafts), [_("周（周一）"), _("录入"), _("审核归档")], week_rows),
        Table("reading", _("文字识别队列"), [_("状态"), _("文件数")], reading_rows),
        Table("disposal", _("到期待鉴定"), [_("到期"), _("档案数")], due_rows),
    ], charts, as_of=today)
