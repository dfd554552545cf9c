"""Rolling metrics over daily summaries, never over order rows, and the trend verdict."""

from __future__ import annotations

import datetime

from etl.day_ranges import ONE_DAY, days_between

NET_FIELDS = ("total_net_revenue_7d", "avg_daily_net_revenue", "net_revenue_growth_vs_avg", "total_refunds_7d")


def window_dates(date: datetime.date, window_days: int, start_date: datetime.date) -> list[datetime.date]:
    """The days of the window ending at and including ``date``, never before ``start_date``."""
    first = max(date - datetime.timedelta(days=window_days - 1), start_date)
    return days_between(first, date + ONE_DAY)


def rolling_metrics(date: datetime.date, summaries: list[dict], window_days: int) -> dict[str, object]:
    """Window totals and averages, and the day's growth against the window average, gross and net.

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
        **_net_metrics(today, summaries),
    }


def _net_metrics(today: dict, summaries: list[dict]) -> dict[str, float | None]:
    """Net revenue and refunds of the window; all None when a summary of the window was written before they
    existed (an earlier version's), since a window missing a day's figure would give a wrong one."""
    if not all("net_revenue" in s and "refunds" in s for s in summaries):
        return dict.fromkeys(NET_FIELDS, None)
    total_net = round(sum(float(s["net_revenue"]) for s in summaries), 2)
    avg_net = total_net / len(summaries)
    return {
        "total_net_revenue_7d": total_net,
        "avg_daily_net_revenue": round(avg_net, 2),
        "net_revenue_growth_vs_avg": _growth(today["net_revenue"], avg_net),
        "total_refunds_7d": round(sum(float(s["refunds"]) for s in summaries), 2),
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
    """(value - average) against the average's size, so a day above a negative average (net of refunds) grows."""
    return round((value - average) / abs(average), 4) if average else None
