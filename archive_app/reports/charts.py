"""Charts drawn on the server as SVG: bars (grouped or stacked) and lines, Chinese labels, no script.

The page embeds the SVG; nothing is loaded from elsewhere and no JavaScript runs (the content
security policy allows neither). Colours are presentation attributes, not style attributes, for
the same reason. Each chart carries a <title> and <desc> (read by screen readers, role="img"), and each
bar or point its own <title> with its category, series and value (shown on hover).
"""
from __future__ import annotations

import itertools
import math

from markupsafe import Markup, escape

from archive_app.i18n import _
from archive_app.reports.tables import Chart

PALETTE = ("#1d5fa8", "#e07b39", "#3a9a5b", "#b8404a", "#7a5cb0", "#6b7785")
WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 36, 64
LEGEND_STEP = 110
# Gridlines above the axis.
TICKS = 4
_ids = itertools.count(1)


def nice_ceiling(value: float) -> float:
    """A round axis top at or above ``value`` whose four gridlines fall on whole numbers (the charts count
    things): four steps of 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten, each a whole number."""
    if value <= 0:
        return TICKS
    step_wanted = value / TICKS
    power = 10 ** max(math.floor(math.log10(step_wanted)), 0)
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= step_wanted and float(step * power).is_integer():
            return TICKS * step * power
    return TICKS * 10 * power


def _fmt(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def _frame(chart: Chart, top_value: float, body: list[str], chart_id: str) -> Markup:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{chart.kind}" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
             f'font-family="sans-serif" font-size="12">',
             f'<title id="{chart_id}-t">{escape(chart.title)}</title>',
             f'<desc id="{chart_id}-d">{escape(_describe(chart))}</desc>',
             f'<text x="{LEFT}" y="16" font-size="14" font-weight="bold" fill="#222">{escape(chart.title)}</text>']
    for i in range(TICKS + 1):
        value = top_value * i / TICKS
        y = TOP + plot_h - plot_h * i / TICKS
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e3e6ea"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{_fmt(value)}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#888"/>')
    parts += body
    for i, series in enumerate(chart.series):  # legend, above the plot on the right
        colour = PALETTE[i % len(PALETTE)]
        x = WIDTH - RIGHT - LEGEND_STEP * (len(chart.series) - i)
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="15" fill="#333">{escape(series.name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _describe(chart: Chart) -> str:
    lines = []
    for series in chart.series:
        pairs = "，".join(f"{c} {_fmt(v)}" for c, v in zip(chart.categories, series.values, strict=False))
        lines.append(f"{series.name}：{pairs or _('无数据')}")
    return "；".join(lines)


def _x_label(x: float, label: str, many: bool) -> str:
    y = TOP + (HEIGHT - TOP - BOTTOM) + 16
    text = label if len(label) <= 8 else label[:7] + "…"
    if many:
        return (f'<text x="{x:.1f}" y="{y}" text-anchor="end" fill="#333" '
                f'transform="rotate(-40 {x:.1f} {y})">{escape(text)}</text>')
    return f'<text x="{x:.1f}" y="{y}" text-anchor="middle" fill="#333">{escape(text)}</text>'


def bar_chart(chart: Chart) -> Markup:
    """Grouped bars (one per series side by side) or ``stacked`` bars, one slot per category."""
    chart_id = f"chart{next(_ids)}"
    n = max(len(chart.categories), 1)
    totals = ([sum(vals) for vals in zip(*(s.values for s in chart.series), strict=False)] if chart.stacked
              else [max((s.values[i] for s in chart.series), default=0) for i in range(len(chart.categories))])
    top = nice_ceiling(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    inner = slot * 0.8
    body: list[str] = []
    many = n > 8
    for i, category in enumerate(chart.categories):
        x0 = LEFT + slot * i + (slot - inner) / 2
        base = TOP + plot_h
        for j, series in enumerate(chart.series):
            value = series.values[i] if i < len(series.values) else 0
            h = plot_h * value / top
            if chart.stacked:
                x, w, y = x0, inner, base - h
                base -= h
            else:
                w = inner / max(len(chart.series), 1)
                x, y = x0 + w * j, TOP + plot_h - h
            body.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(w - 1, 1):.1f}" height="{h:.1f}" '
                        f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(category)} · {escape(series.name)}：'
                        f'{_fmt(value)}</title></rect>')
        body.append(_x_label(LEFT + slot * i + slot / 2, category, many))
    return _frame(chart, top, body, chart_id)


def line_chart(chart: Chart) -> Markup:
    """One line per series over the categories, each point marked and titled."""
    chart_id = f"chart{next(_ids)}"
    n = max(len(chart.categories), 1)
    top = nice_ceiling(max((v for s in chart.series for v in s.values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    body: list[str] = []
    for j, series in enumerate(chart.series):
        colour = PALETTE[j % len(PALETTE)]
        points = [(LEFT + slot * i + slot / 2, TOP + plot_h - plot_h * v / top) for i, v in enumerate(series.values)]
        body.append(f'<polyline class="line" fill="none" stroke="{colour}" stroke-width="2" points="'
                    + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')
        for (x, y), category, value in zip(points, chart.categories, series.values, strict=False):
            body.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                        f'<title>{escape(category)} · {escape(series.name)}：{_fmt(value)}</title></circle>')
    many = n > 8
    for i, category in enumerate(chart.categories):
        body.append(_x_label(LEFT + slot * i + slot / 2, category, many))
    return _frame(chart, top, body, chart_id)


def draw(chart: Chart) -> Markup:
    """The chart as inline SVG."""
    return line_chart(chart) if chart.kind == "line" else bar_chart(chart)
