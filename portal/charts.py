"""Charts as inline SVG, drawn on the server: stacked bars per week, or a rate as a line.

No script and no `style=` (the Content-Security-Policy allows neither): colours come from classes
in site.css, positions from SVG attributes. The viewBox scales to the width of its box. Each chart
is an image with a title and a description; the table beside it is the accessible version.
"""

from __future__ import annotations

import math
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .dashboard import Column, Figure

WIDTH, HEIGHT = 480, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 12, 34
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def nice_ceiling(value: float) -> float:
    """The next 1, 2 or 5 times a power of ten at or above value (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _number(value: float, percent: bool) -> str:
    text = f"{value:g}" if value < 10_000 else f"{value / 1000:g}k"
    return f"{text} %" if percent else text


def _week(day: date) -> str:
    return f"{day:%b} {day.day}"


def _y(value: float, top: float) -> float:
    return round(TOP + PLOT_H - PLOT_H * value / top, 1)


def _axes(labels: list[date], top: float, percent: bool) -> list[str]:
    parts = []
    for tick in (0, top / 2, top):
        y = _y(tick, top)
        parts.append(format_html('<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, WIDTH - RIGHT, y, y))
        parts.append(
            format_html(
                '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>', LEFT - 4, y + 4, _number(tick, percent)
            )
        )
    slot = PLOT_W / max(len(labels), 1)
    every = max(1, math.ceil(len(labels) / 6))
    for index, day in enumerate(labels):
        if index % every == 0:
            x = round(LEFT + slot * (index + 0.5), 1)
            parts.append(
                format_html(
                    '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                    x,
                    HEIGHT - BOTTOM + 16,
                    _week(day),
                )
            )
    return parts


def _frame(figure: Figure, parts: list[str], *, chart_id: str, summary: str) -> SafeString:
    head = format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-t {}-d">'
        '<title id="{}-t">{}</title><desc id="{}-d">{}</desc>',
        WIDTH,
        HEIGHT,
        chart_id,
        chart_id,
        chart_id,
        figure.title,
        chart_id,
        summary,
    )
    return format_html("{}{}</svg>", head, format_html_join("", "{}", ((part,) for part in parts)))


def bars_svg(figure: Figure, *, chart_id: str) -> SafeString:
    """Stacked bars, one per week, of the figure's `bars` columns."""
    labels = [row["week"] for row in figure.rows]
    names = {c.key: c.label for c in figure.columns}
    totals = [sum(row.get(key) or 0 for key, _ in figure.bars) for row in figure.rows]
    top = nice_ceiling(max(totals, default=0))
    parts = _axes(labels, top, percent=False)
    slot = PLOT_W / max(len(labels), 1)
    width = round(max(slot * 0.7, 1), 1)
    for index, row in enumerate(figure.rows):
        x = round(LEFT + slot * index + (slot - width) / 2, 1)
        below = 0
        for key, css in figure.bars:
            value = row.get(key) or 0
            if not value:
                continue
            y, bottom = _y(below + value, top), _y(below, top)
            parts.append(
                format_html(
                    '<rect class="{}" x="{}" y="{}" width="{}" height="{}"><title>{}: {} {}</title></rect>',
                    css,
                    x,
                    y,
                    width,
                    round(bottom - y, 1),
                    _week(row["week"]),
                    value,
                    names[key].lower(),
                )
            )
            below += value
    if not any(totals):
        parts.append(_nothing())
    drawn = ", ".join(names[k].lower() for k, _ in figure.bars) or "nothing"
    summary = f"Stacked bars per week of {drawn}; numbers in the table."
    return _frame(figure, parts, chart_id=chart_id, summary=summary)


def line_svg(figure: Figure, *, chart_id: str) -> SafeString:
    """The figure's `line` column, a percentage, as a line with a point per week (gaps where it is
    undefined), and its reference line if it has one."""
    labels = [row["week"] for row in figure.rows]
    values = [row.get(figure.line) for row in figure.rows]
    highest = max([v for v in values if v is not None] + [(figure.reference or 0) * 1.5], default=0)
    top = min(nice_ceiling(highest), 100)
    parts = _axes(labels, top, percent=True)
    slot = PLOT_W / max(len(labels), 1)
    if figure.reference is not None:
        y = _y(figure.reference, top)
        parts.append(
            format_html('<line class="reference" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, WIDTH - RIGHT, y, y)
        )
        parts.append(
            format_html(
                '<text class="reference-label" x="{}" y="{}" text-anchor="end">{}</text>',
                WIDTH - RIGHT - 2,
                y - 4,
                figure.reference_label,
            )
        )
    run: list[str] = []
    points = []
    for index, value in enumerate([*values, None]):
        if value is None:
            if len(run) > 1:
                parts.append(format_html('<polyline class="line" points="{}"/>', " ".join(run)))
            run = []
            continue
        x, y = round(LEFT + slot * (index + 0.5), 1), _y(min(value, top), top)
        run.append(f"{x},{y}")
        points.append(
            format_html(
                '<circle class="point" cx="{}" cy="{}" r="3.5"><title>{}: {} %</title></circle>',
                x,
                y,
                _week(labels[index]),
                value,
            )
        )
    parts.extend(points)
    if not points:
        parts.append(_nothing())
    name = next(c.label for c in figure.columns if c.key == figure.line)
    summary = f"{name} per week as a line" + (f", with a line at {figure.reference_label}" if figure.reference else "")
    return _frame(figure, parts, chart_id=chart_id, summary=summary + "; numbers in the table.")


def _nothing() -> SafeString:
    return format_html(
        '<text class="axis empty" x="{}" y="{}" text-anchor="middle">Nothing in these weeks</text>',
        LEFT + PLOT_W / 2,
        TOP + PLOT_H / 2,
    )


def chart_svg(figure: Figure, *, chart_id: str) -> SafeString:
    if figure.line:
        return line_svg(figure, chart_id=chart_id)
    if figure.columns[0].kind == "week":
        return bars_svg(figure, chart_id=chart_id)
    return format_html("{}", "")  # a ranking: the table is the figure


def legend(figure: Figure) -> list[tuple[str, str]]:
    names = {c.key: c.label for c in figure.columns}
    if figure.bars:
        return [(css, names[key]) for key, css in figure.bars]
    if figure.line:
        found = [("line", names[figure.line])]
        return found + ([("reference", f"{figure.reference_label} (watch line)")] if figure.reference else [])
    return []


def cell_text(column: Column, value: object) -> str:
    """A table cell as staff read it: a week as its Monday, a share with its %, a blank as a dash."""
    if value is None:
        return "—"
    if column.kind == "week":
        return f"{value:%b} {value.day}, {value:%Y}"
    if column.kind == "percent":
        return f"{value:g} %"
    if column.kind in ("count", "minutes") and isinstance(value, int | float):
        return f"{value:,g}" if isinstance(value, float) else f"{value:,}"
    return str(value)
