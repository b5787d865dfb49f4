"""What every report answers: its tables (the figures) and the charts drawn from them.

Pages, the API, the XLSX export and the SVG charts all read this one shape, so a figure shown on a
page is the figure exported.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from archive_app.reports.periods import Period

Cell = str | int | float | None


@dataclass
class Table:
    """One table of a report: a key (``?table=`` of the export), a Chinese title, headers and rows."""

    key: str
    title: str
    headers: list[str]
    rows: list[list[Cell]]
    # Rows left out of a long list (the downgrades), 0 when every row is here.
    left_out: int = 0


@dataclass
class Series:
    """One line or one colour of bars: its name and a value per category."""

    name: str
    values: list[int | float]


@dataclass
class Chart:
    """A bar chart (``stacked`` or grouped) or a line chart over the same categories."""

    kind: str  # "bar" | "line"
    title: str
    categories: list[str]
    series: list[Series]
    stacked: bool = False


@dataclass
class Report:
    """One report as one viewer may see it."""

    slug: str
    title: str
    period: Period
    scope: str  # 「全公司」 or the department's name
    tables: list[Table]
    charts: list[Chart] = field(default_factory=list)
    as_of: date | None = None

    def table(self, key: str | None) -> Table:
        """The table named ``key`` (the first when None); KeyError when there is none of that name."""
        if key is None:
            return self.tables[0]
        for table in self.tables:
            if table.key == key:
                return table
        raise KeyError(key)


def report_dict(report: Report) -> dict[str, Any]:
    """The API form of a report (schema ``Report`` in the OpenAPI document)."""
    return {
        "report": report.slug, "title": report.title, "scope": report.scope,
        "from": report.period.start.isoformat(), "to": report.period.end.isoformat(),
        "as_of": report.as_of.isoformat() if report.as_of else None,
        "tables": [{"key": t.key, "title": t.title, "columns": t.headers, "rows": t.rows, "left_out": t.left_out}
                   for t in report.tables],
        "charts": [{"kind": c.kind, "title": c.title, "stacked": c.stacked, "categories": c.categories,
                    "series": [{"name": s.name, "values": s.values} for s in c.series]} for c in report.charts],
    }
