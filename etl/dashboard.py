"""``etl dashboard``: a chart of the days (PNG) and a page a person reads (HTML), from frames and states already read.

Pure: the daily summaries (:func:`etl.query.load_summaries`) and each day's state in each step (:mod:`etl.status`)
come in, bytes and text go out; no store, no Luigi, no clock. The rolling average is the pipeline's own
(:func:`etl.metrics.rolling_metrics` over its windows), so the line is the reports' ``avg_daily_revenue``. The page
holds everything itself (the chart as a data URL, styles inline, no script) and escapes every value it shows.
matplotlib (the ``dashboard`` extra) draws with its Agg renderer: no display needed.
"""

from __future__ import annotations

import base64
import calendar
import datetime
import html
import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from etl.metrics import rolling_metrics, window_dates
from etl.status_view import SYMBOLS, DayRow, day_outcome, summary_lines

WIDTH_PX, HEIGHT_PX, DPI = 1200, 640, 100
# A colour per state (etl.status_view's states), the calendar's and the chart's marks alike.
COLOURS = {
    "done": "#2e7d32",
    "expired": "#9e9e9e",
    "stale": "#f9a825",
    "missing": "#cfd8dc",
    "failed": "#c62828",
    "held back": "#ef6c00",
    "not due": "#ffffff",
    "running": "#1565c0",
    "disabled": "#6a1b9a",
}
REVENUE, AVERAGE, ORDERS = "#1f4e79", "#e07b00", "#7f9fbf"
# The summary fields the table shows, in order: (field, heading, money, adds up over days: customers repeat).
TABLE = (
    ("total_orders", "orders", False, True),
    ("total_revenue", "revenue", True, True),
    ("rolling_average", "{window}-day average revenue", True, False),
    ("net_revenue", "net revenue", True, True),
    ("refunds", "refunds", True, True),
    ("refund_count", "refund count", False, True),
    ("excluded_orders", "excluded orders", False, True),
    ("avg_order_value", "average order", True, False),
    ("unique_customers", "customers", False, False),
    ("total_items", "items", False, True),
    ("duplicates_removed", "duplicates removed", False, True),
    ("negatives_fixed", "negatives fixed", False, True),
)


def summaries_by_day(summaries: pd.DataFrame) -> dict[datetime.date, dict]:
    """Each day's summary (a row of ``load_summaries``) by its day."""
    return {day.date(): row for day, row in zip(summaries["date"], summaries.to_dict("records"), strict=True)}


def rolling_averages(
    summaries: pd.DataFrame, days: Sequence[datetime.date], window_days: int, start_date: datetime.date
) -> dict[datetime.date, float]:
    """Each of ``days``' average daily revenue over its window, as the pipeline computes it, where the summaries hold
    every day of that window (a window with a day missing has none, as the pipeline's rolling metrics wait then)."""
    by_day = summaries_by_day(summaries)
    averages = {}
    for day in days:
        window = window_dates(day, window_days, start_date)
        if all(d in by_day for d in window):
            found = [{**by_day[d], "execution_date": d.isoformat()} for d in window]
            averages[day] = rolling_metrics(day, found, window_days)["avg_daily_revenue"]
    return averages


def chart_png(
    rows: Sequence[DayRow], summaries: pd.DataFrame, averages: dict[datetime.date, float], window_days: int
) -> bytes:
    """Daily revenue with its rolling average above, daily orders below, and a band on every day of ``rows``
    without a summary, red where the day failed and grey otherwise; PNG bytes of WIDTH_PX x HEIGHT_PX."""
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    revenue_axes, orders_axes = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    days = pd.DatetimeIndex([row.day for row in rows], name="date").as_unit("s")
    # A day without figures is a row of NaN: it breaks the line, and a range without any still draws.
    in_range = summaries.set_index("date").reindex(index=days, columns=["total_revenue", "total_orders"])
    dates = days.to_numpy()
    revenue_axes.plot(dates, in_range["total_revenue"], marker="o", markersize=3, color=REVENUE, label="revenue")
    kept = sorted(averages.items())
    revenue_axes.plot(
        np.array([np.datetime64(day) for day, _ in kept], dtype="datetime64[s]"),
        [value for _, value in kept],
        color=AVERAGE,
        linewidth=2,
        label=f"{window_days}-day rolling average",
    )
    orders_axes.bar(dates, in_range["total_orders"], width=0.8, color=ORDERS, label="orders")
    with_figures = {day.date() for day in in_range["total_revenue"].dropna().index}
    half_day = np.timedelta64(12, "h")
    for label, marked in _marked_days(rows, with_figures).items():
        for number, day in enumerate(marked):
            for axes in (revenue_axes, orders_axes):
                axes.axvspan(
                    np.datetime64(day) - half_day, np.datetime64(day) + half_day, color=COLOURS[label], alpha=0.35,
                    linewidth=0, label=label if number == 0 and axes is revenue_axes else None,
                )  # fmt: skip
    first, last = rows[0].day, rows[-1].day
    orders_axes.set_xlim(np.datetime64(first) - 3 * half_day, np.datetime64(last) + 3 * half_day)
    revenue_axes.set_title(f"Daily revenue and orders, {first} to {last}")
    revenue_axes.set_ylabel("revenue")
    revenue_axes.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    locator = AutoDateLocator()
    orders_axes.xaxis.set_major_locator(locator)
    orders_axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    orders_axes.set_ylabel("orders")
    revenue_axes.legend(loc="upper left", fontsize="small")
    for axes in (revenue_axes, orders_axes):
        axes.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def page_html(
    title: str,
    rows: Sequence[DayRow],
    summaries: pd.DataFrame,
    averages: dict[datetime.date, float],
    png: bytes,
    window_days: int,
) -> str:
    """One self-contained page: ``title``, the chart, the partition calendar (a cell a day and step, coloured by its
    state, the reason on hover) with its month summaries, and the table of the daily summaries."""
    image = base64.b64encode(png).decode("ascii")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_text(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{_text(title)}</h1>",
        f'<img class="chart" alt="daily revenue, its rolling average and daily orders" width="{WIDTH_PX}" '
        f'height="{HEIGHT_PX}" src="data:image/png;base64,{image}">',
        "<h2>Partitions</h2>",
        *_calendar(rows),
        "<h2>Daily summaries</h2>",
        *_table(rows, summaries, averages, window_days),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _marked_days(rows: Sequence[DayRow], with_figures: set[datetime.date]) -> dict[str, list[datetime.date]]:
    """The days without figures: ``failed`` where the day failed, ``missing`` for any other reason."""
    marked: dict[str, list[datetime.date]] = {"failed": [], "missing": []}
    for row in rows:
        if row.day not in with_figures:
            marked["failed" if day_outcome(row).state == "failed" else "missing"].append(row.day)
    return {label: days for label, days in marked.items() if days}


def _calendar(rows: Sequence[DayRow]) -> list[str]:
    """Per month a row per step, a cell per day of the month (blank outside the range), then the legend and the
    month summaries of ``etl status``."""
    by_day = {row.day: row for row in rows}
    names = list(rows[0].steps)
    lines = ['<table class="calendar">', "<tr><th></th><th></th>"]
    lines[-1] += "".join(f"<th>{n}</th>" for n in range(1, 32)) + "</tr>"
    for year, month in dict.fromkeys((row.day.year, row.day.month) for row in rows):
        days = [datetime.date(year, month, n) for n in range(1, calendar.monthrange(year, month)[1] + 1)]
        for number, name in enumerate(names):
            label = f"{year:04d}-{month:02d}" if number == 0 else ""
            cells = "".join(_cell(by_day.get(day), day, name) for day in days)
            lines.append(f'<tr><th class="month">{label}</th><th class="step">{_text(name)}</th>{cells}</tr>')
    lines.append("</table>")
    legend = "".join(
        f'<span class="key"><span class="swatch" style="background:{colour}"></span>{_text(state)}</span>'
        for state, colour in COLOURS.items()
    )
    lines.append(f'<p class="legend">{legend}</p>')
    lines += [f'<p class="summary">{_text(line)}</p>' for line in summary_lines(rows)]
    return lines


def _cell(row: DayRow | None, day: datetime.date, name: str) -> str:
    if row is None:
        return '<td class="outside"></td>'
    status = row.steps[name]
    hover = f"{day} {name}: {status.state}" + (f": {status.reason}" if status.reason else "")
    return (
        f'<td class="state" style="background:{COLOURS[status.state]}" title="{_text(hover)}" '
        f'data-day="{day}" data-step="{_text(name)}" data-state="{_text(status.state)}">'
        f"{_text(SYMBOLS[status.state])}</td>"
    )


def _table(
    rows: Sequence[DayRow], summaries: pd.DataFrame, averages: dict[datetime.date, float], window_days: int
) -> list[str]:
    """A row a day: its summary's figures, or its state and why where it has none; totals of the period last."""
    by_day = summaries_by_day(summaries)
    headings = "".join(f"<th>{_text(heading.format(window=window_days))}</th>" for _, heading, _, _ in TABLE)
    lines = ['<table class="summaries">', f"<thead><tr><th>date</th>{headings}</tr></thead>", "<tbody>"]
    totals = dict.fromkeys(field for field, _, _, summed in TABLE if summed)
    for row in rows:
        summary = by_day.get(row.day)
        if summary is None:
            outcome = day_outcome(row)
            said = outcome.state + (f": {outcome.reason}" if outcome.reason else "")
            lines.append(
                f'<tr class="absent"><td>{row.day}</td><td class="why" colspan="{len(TABLE)}">{_text(said)}</td></tr>'
            )
            continue
        values = {**summary, "rolling_average": averages.get(row.day)}
        for field in totals:
            if values.get(field) is not None:
                totals[field] = (totals[field] or 0) + values[field]
        cells = "".join(f"<td>{_number(values.get(field), money)}</td>" for field, _, money, _ in TABLE)
        lines.append(f"<tr><td>{row.day}</td>{cells}</tr>")
    footer = "".join(f"<td>{_number(totals.get(field), money)}</td>" for field, _, money, _ in TABLE)
    lines += ["</tbody>", f"<tfoot><tr><th>period</th>{footer}</tr></tfoot>", "</table>"]
    return lines


def _number(value: object, money: bool) -> str:
    """``1,234.50`` for money, ``1,234`` for counts, empty for none; anything else escaped as text."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return f"{value:,.2f}" if money else f"{value:,}"
    return _text(str(value))


def _text(value: str) -> str:
    return html.escape(value, quote=True)


_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
img.chart { max-width: 100%; height: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; }
table.calendar td, table.calendar th { width: 1.3em; height: 1.3em; padding: 0; text-align: center; }
table.calendar td.state { border: 1px solid #fff; color: rgba(0, 0, 0, 0.45); font-size: 0.75em; cursor: default; }
table.calendar th.month, table.calendar th.step { width: auto; padding: 0 0.5em; text-align: left; font-weight: normal;
  white-space: nowrap; }
p.legend .key { margin-right: 1em; white-space: nowrap; }
p.legend .swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em; border: 1px solid #999; }
p.summary { margin: 0.2em 0; font-size: 0.85em; }
table.summaries th, table.summaries td { border-bottom: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
table.summaries td:first-child { text-align: left; white-space: nowrap; }
table.summaries tr.absent td.why { text-align: left; color: #8a1c1c; }
table.summaries tfoot th, table.summaries tfoot td { font-weight: bold; border-top: 2px solid #999; }
"""
