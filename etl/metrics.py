"""Rolling metrics over daily summaries, never over order rows, and the trend verdict."""

from __future__ import annotations

import datetime

from etl.day_ranges import ONE_DAY, days_between


def window_dates(date: datetime.date, window_days: int, start_date: datetime.date) -> list[datetime.date]:
    """The days of the window ending at and including ``date``, never before ``start_date``."""
    first = max(date - datetime.timedelta(days=window_days - 1), start_date)
    return days_between(first, date + ONE_DAY)


def rolling_metrics(date: datetime.date, summaries: list[dict], window_days: int) -> dict[str, object]:
    """Window totals and averages, and the day's growth against the window average.

    ``summaries`` are the daily summaries of the window (see :func:`window_dates`), ``date``'s among them.
    """
    by_date = {s["execution_date"]: s for s in summaries}
    today = by_date[date.isoformat()]
    days = len(summaries)
    total_orders = sum(int(s["total_orders"]) for s in summaries)
    total_revenue = round(sum(float(s["total_revenue"]) for s in summaries), 2)
    avg_orders = total_orders / days
    avg_revenue = total_revenue / days
    return {
        "execution_date": date.isoformat(),
        "window_start": min(by_date),
        "window_end": date.isoformat(),
        "window_days": window_days,
        "days_in_window": days,
        "total_orders_7d": total_orders,
        "total_revenue_7d": total_revenue,
        "avg_daily_orders": round(avg_orders, 2),
        "avg_daily_revenue": round(avg_revenue, 2),
        "orders_growth_vs_avg": _growth(today["total_orders"], avg_orders),
        "revenue_growth_vs_avg": _growth(today["total_revenue"], avg_revenue),
    }


def trend_verdict(revenue_growth_vs_avg: float | None, threshold: float) -> str:
    """``growing``, ``declining`` or ``stable``: the day's revenue against its window average."""
    if revenue_growth_vs_avg is None:
        return "stable"
    if revenue_growth_vs_avg > threshold:
        return "growing"
    if revenue_growth_vs_avg < -threshold:
        return "declining"
    return "stable"


def _growth(value: float, average: float) -> float | None:
    return round((value - average) / average, 4) if average else None
