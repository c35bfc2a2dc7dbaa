"""Server-side SVG charts: geometry computed here, drawn by ``templates/admin/insights/_*.html``.

No JavaScript and no inline styles (the CSP forbids both): shapes carry SVG presentation
attributes and classes styled by ``support/static/support/insights.css``. Text is
escaped by the template. Every chart is paired with a data table on the page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils import formats


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str  # tooltip and accessible name: "label: value"


@dataclass
class Tick:
    x: float
    y: float
    label: str


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    labels: list[Tick] = field(default_factory=list)  # category labels (horizontal charts)
    values: list[Tick] = field(default_factory=list)  # value labels at the bar ends
    plot_left: float = 0
    plot_bottom: float = 0
    plot_right: float = 0


def _nice_max(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^k not below ``value`` (at least 1): a readable axis end."""
    value = max(1, value)
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def daily_chart(per_day: list[dict[str, Any]], *, width: int = 760, height: int = 240) -> Chart:
    """Questions per day as bars, the answered part of each bar drawn over it.

    ``per_day`` items are ``{"day": date, "questions": int, "answered": int}``, one per
    day in order. About eight dates are labelled on the x axis whatever the period.
    """
    left, right, top, bottom = 44.0, 8.0, 10.0, 28.0
    chart = Chart(width=width, height=height, plot_left=left, plot_bottom=height - bottom, plot_right=width - right)
    if not per_day:
        return chart
    top_value = _nice_max(max(row["questions"] for row in per_day))
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / len(per_day)
    bar_w = max(1.0, slot * 0.8)
    every = max(1, round(len(per_day) / 8))
    for i, row in enumerate(per_day):
        x = left + i * slot + (slot - bar_w) / 2
        day: dt.date = row["day"]
        day_label = formats.date_format(day, "SHORT_DATE_FORMAT")
        for value, css, name in ((row["questions"], "bar-total", "questions"), (row["answered"], "bar-answered", "")):
            h = plot_h * value / top_value
            title = f"{day_label}: {row['questions']} / {row['answered']}" if name else ""
            chart.bars.append(Bar(x=round(x, 2), y=round(top + plot_h - h, 2), width=round(bar_w, 2),
                                  height=round(h, 2), css=css, title=title))  # fmt: skip
        if i % every == 0:
            chart.x_ticks.append(Tick(x=round(x + bar_w / 2, 2), y=height - 8, label=day.strftime("%m-%d")))
    for fraction in (0, 0.5, 1):
        value = top_value * fraction
        chart.y_ticks.append(Tick(x=left - 6, y=round(top + plot_h * (1 - fraction), 2), label=f"{value:g}"))
    return chart


def horizontal_chart(rows: list[tuple[str, int]], *, width: int = 760, label_width: int = 260) -> Chart:
    """One horizontal bar per ``(label, value)``, labels on the left, values at the bar ends.

    Labels longer than about 30 characters are shortened (the data table has them whole).
    """
    row_h, gap, top = 24.0, 6.0, 4.0
    height = int(top * 2 + len(rows) * (row_h + gap)) or int(row_h)
    left, right = float(label_width), 48.0
    chart = Chart(width=width, height=height, plot_left=left, plot_bottom=height, plot_right=width - right)
    if not rows:
        return chart
    top_value = _nice_max(max(value for _, value in rows))
    plot_w = width - left - right
    for i, (label, value) in enumerate(rows):
        y = top + i * (row_h + gap)
        w = plot_w * value / top_value
        short = label if len(label) <= 30 else label[:29] + "…"
        chart.bars.append(Bar(x=left, y=y, width=round(w, 2), height=row_h, css="bar-total", title=f"{label}: {value}"))
        chart.labels.append(Tick(x=left - 8, y=y + row_h * 0.7, label=short))
        chart.values.append(Tick(x=round(left + w + 6, 2), y=y + row_h * 0.7, label=str(value)))
    return chart
