"""The weeks a report covers, and the SQL that puts a day or a moment into its week.

Weeks run Monday to Sunday (the office's week; the 现场主管's Saturday count falls in it) and are
named by their Monday. A moment (a UTC timestamp) is first turned into the local day of
ARCHIVE_TIMEZONE, so a record filed at 07:00 Beijing time on a Monday counts for that Monday.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import Date

from archive_app.errors import ValidationFailed
from archive_app.i18n import _

DEFAULT_WEEKS = 12
# A report of more weeks than this is refused: its charts would be unreadable and its queries long.
MAX_WEEKS = 106


def monday(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Period:
    """Whole weeks from the Monday ``start`` to the Sunday ``end``."""

    start: date
    end: date

    @property
    def weeks(self) -> list[date]:
        """Each week's Monday, oldest first."""
        return [self.start + timedelta(days=7 * i) for i in range((self.end - self.start).days // 7 + 1)]

    def bounds(self, tz: str) -> tuple[datetime, datetime]:
        """The period as UTC-comparable moments: local midnight of ``start`` to that after ``end``."""
        zone = ZoneInfo(tz)
        return (datetime.combine(self.start, time.min, zone),
                datetime.combine(self.end + timedelta(days=1), time.min, zone))

    def describe(self) -> str:
        """「2026-09-07 至 2026-11-29（12 周）」"""
        return _("%(start)s 至 %(end)s（%(count)s 周）", start=self.start.isoformat(), end=self.end.isoformat(), count=len(self.weeks))


def period_for(today: date, date_from: date | None = None, date_to: date | None = None,
               weeks: int = DEFAULT_WEEKS) -> Period:
    """The whole weeks covering ``date_from``..``date_to``; by default the ``weeks`` up to this one.

    Refuses an end before the start (400 ``invalid_date_range``) and more than MAX_WEEKS weeks
    (400 ``period_too_long``).
    """
    end = date_to or today
    start = date_from or (monday(end) - timedelta(days=7 * (weeks - 1)))
    if start > end:
        raise ValidationFailed(_("结束日期不能早于开始日期"), code="invalid_date_range")
    period = Period(monday(start), monday(end) + timedelta(days=6))
    if len(period.weeks) > MAX_WEEKS:
        raise ValidationFailed(_("报表时段最长 %(max_weeks)s 周", max_weeks=MAX_WEEKS), code="period_too_long")
    return period


def week_label(week: date) -> str:
    """How a chart names a week: its Monday, 「11-24」."""
    return f"{week.month:02d}-{week.day:02d}"


def as_date(value: Any) -> date:
    """A day from the database (SQLite answers text, PostgreSQL a date)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


class week_of(FunctionElement):
    """The Monday of a DATE column's day, in SQL: ``week_of(CardVisit.visited_on)``."""

    type = Date()
    inherit_cache = True
    name = "week_of"


@compiles(week_of, "sqlite")
def _week_of_sqlite(element: week_of, compiler: Any, **kw: Any) -> str:
    # 'weekday 0' moves forward to the Sunday (a Sunday stays), six days before it is the Monday.
    return f"date({compiler.process(list(element.clauses)[0], **kw)}, 'weekday 0', '-6 days')"


@compiles(week_of)
def _week_of_default(element: week_of, compiler: Any, **kw: Any) -> str:
    # Date arithmetic (a date minus whole days is a date): date_trunc would first turn each date into a
    # timestamp with time zone in the session's zone, row by row.
    column = compiler.process(list(element.clauses)[0], **kw)
    return f"({column} - CAST(EXTRACT(ISODOW FROM {column}) AS INTEGER) + 1)"


def fold_weeks(day_rows: Iterable[Sequence[Any]]) -> dict[date, list[int]]:
    """Rows (day, n1, n2 …) counted per day, summed per week: {Monday: [n1, n2 …]}.

    Grouping by the indexed date column itself and folding here (at most 7 rows a week) spares the
    database a date function on every counted row.
    """
    weeks: dict[date, list[int]] = {}
    for day, *counts in day_rows:
        week = monday(as_date(day))
        sums = weeks.setdefault(week, [0] * len(counts))
        for i, n in enumerate(counts):
            sums[i] += int(n or 0)
    return weeks


class local_week_of(FunctionElement):
    """The Monday of a UTC timestamp's local day in zone ``tz``: ``local_week_of(Record.created_at, tz)``."""

    type = Date()
    inherit_cache = True
    name = "local_week_of"

    def __init__(self, column: ColumnElement, tz: str) -> None:
        self.tz = tz
        super().__init__(column)


@compiles(local_week_of, "sqlite")
def _local_week_sqlite(element: local_week_of, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTC text without a zone; the zone's offset now moves it to the local day (the
    # archive's zone, Asia/Shanghai by default, has no daylight saving time).
    offset = datetime.now(ZoneInfo(element.tz)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    column = compiler.process(list(element.clauses)[0], **kw)
    return f"date({column}, '{minutes:+d} minutes', 'weekday 0', '-6 days')"


@compiles(local_week_of)
def _local_week_default(element: local_week_of, compiler: Any, **kw: Any) -> str:
    column = compiler.process(list(element.clauses)[0], **kw)
    zone = element.tz.replace("'", "")
    return f"CAST(date_trunc('week', timezone('{zone}', {column})) AS DATE)"
