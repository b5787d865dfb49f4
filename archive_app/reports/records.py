"""档案: records entered and filed (审核归档) per week, the reading queue (文字识别) by state, and what falls
due for disposal (到期待鉴定) now and in the coming years. Counted over the records the viewer sees
(``policy.visible_records``: 密级 and department)."""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.intake.models import Customer, Record, RecordFile
from archive_app.reports.periods import Period, as_date, local_week_of, week_label
from archive_app.reports.scoping import report_scope
from archive_app.reports.tables import Chart, Report, Series, Table
from archive_app.retention.disposal import due_filter

SLUG = "records"
TITLE = "档案归档、识别与到期"
READING_STATES = {"queued": "排队中", "processing": "识别中", "done": "已完成", "failed": "失败"}
# Years ahead shown in the due-for-disposal table (later ones summed in its last line).
DUE_YEARS = 5


def _visible(actor: User, *columns):
    return policy.visible_records(actor, select(*columns).select_from(Record).join(Customer, Customer.id == Record.customer_id))


def reading_counts(session: Session, actor: User) -> dict[str, tuple[int, int]]:
    """Files of the records ``actor`` sees per reading state: {state: (files, pages read)}."""
    stmt = _visible(actor, RecordFile.extract_status, func.count(), func.sum(RecordFile.pages_done)) \
        .join(RecordFile, RecordFile.record_id == Record.id).where(Record.status != "destroyed") \
        .group_by(RecordFile.extract_status)
    return {s: (int(n), int(p or 0)) for s, n, p in session.execute(stmt)}


def due_now(session: Session, actor: User, today: date) -> int:
    """Records ``actor`` sees that are due for disposal review by ``today``."""
    return int(session.scalar(_visible(actor, func.count()).where(*due_filter(today))) or 0)


def filed_read_due(session: Session, actor: User, period: Period, *, today: date, tz: str) -> Report:
    """Records entered and filed per week; files per reading state; records due for disposal by year."""
    _department_id, scope_name = report_scope(session, actor, "report.archive")
    start, end = period.bounds(tz)
    per_week: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    entered = local_week_of(Record.created_at, tz)
    for w, n in session.execute(_visible(actor, entered, func.count())
                                .where(Record.created_at >= start, Record.created_at < end).group_by(entered)):
        per_week[as_date(w)][0] = int(n)
    filed = local_week_of(Record.reviewed_at, tz)
    for w, n in session.execute(_visible(actor, filed, func.count())
                                .where(Record.reviewed_at >= start, Record.reviewed_at < end,
                                       Record.status != "draft").group_by(filed)):
        per_week[as_date(w)][1] = int(n)
    week_rows = [[w.isoformat(), *per_week.get(w, [0, 0])] for w in period.weeks]
    drafts = int(session.scalar(_visible(actor, func.count()).where(Record.status == "draft")) or 0)

    reading = reading_counts(session, actor)
    reading_rows = [[label, *reading.get(state, (0, 0))] for state, label in READING_STATES.items()]

    due_rows = [["已到期（截至今日）", due_now(session, actor, today)]]
    years: dict[int, int] = defaultdict(int)
    scheduled = (Record.status == "filed", Record.on_hold.is_(False), Record.disposal_state == "scheduled",
                 Record.disposal_date > today)
    # Grouped by day and summed by year here: the due index is read in order (see retention.schedule).
    for day, n in session.execute(_visible(actor, Record.disposal_date, func.count()).where(*scheduled)
                                  .group_by(Record.disposal_date)):
        years[min(as_date(day).year, today.year + DUE_YEARS)] += int(n)
    for year in range(today.year, today.year + DUE_YEARS + 1):
        label = f"{year} 年内到期" if year < today.year + DUE_YEARS else f"{year} 年及以后到期"
        due_rows.append([label, years.get(year, 0)])

    labels = [week_label(w) for w in period.weeks]
    charts = [Chart("bar", "每周录入与归档", labels, [Series("录入", [r[1] for r in week_rows]),
                                                 Series("归档", [r[2] for r in week_rows])]),
              Chart("bar", "文字识别队列", [r[0] for r in reading_rows], [Series("文件数", [r[1] for r in reading_rows])]),
              Chart("bar", "到期待鉴定", [r[0] for r in due_rows], [Series("档案数", [r[1] for r in due_rows])])]
    return Report(SLUG, TITLE, period, scope_name, [
        Table("weeks", f"按周（待审核草稿现有 {drafts} 件）", ["周（周一）", "录入", "审核归档"], week_rows),
        Table("reading", "文字识别队列", ["状态", "文件数", "已识别页数"], reading_rows),
        Table("disposal", "到期待鉴定", ["到期", "档案数"], due_rows),
    ], charts, as_of=today)
