"""An independent reference for the processing rules, in plain Python over the raw CSV text.

Tests compare the pipeline's outputs with these figures; nothing here uses the ``etl`` package or pandas.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path


def reference_summary(raw_csv: Path) -> dict:
    """Recompute a day's summary from its raw file, row by row."""
    seen: set[str] = set()
    rows = []
    duplicates = negatives = 0
    with open(raw_csv, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["order_id"] in seen:
                duplicates += 1
                continue
            seen.add(row["order_id"])
            quantity, price = int(row["quantity"]), float(row["unit_price"])
            total = float(row["total_amount"])
            if quantity < 0 or price < 0:
                negatives += 1
                total = round(abs(quantity) * abs(price), 2)
            rows.append({**row, "total_amount": total})
    revenue = round(sum(r["total_amount"] for r in rows), 2)
    return {
        "total_orders": len(rows),
        "total_revenue": revenue,
        "avg_order_value": round(revenue / len(rows), 2),
        "unique_customers": len({r["customer_id"] for r in rows}),
        "duplicates_removed": duplicates,
        "negatives_fixed": negatives,
        "orders_by_category": dict(Counter(r["category"] or "unknown" for r in rows)),
    }


def reference_rolling(day_totals: list[tuple[int, float]]) -> dict:
    """Window figures from (orders, revenue) per day of the window, the last being the day itself."""
    days = len(day_totals)
    orders = sum(o for o, _ in day_totals)
    revenue = sum(r for _, r in day_totals)
    today_orders, today_revenue = day_totals[-1]
    return {
        "days_in_window": days,
        "total_orders_7d": orders,
        "total_revenue_7d": round(revenue, 2),
        "avg_daily_orders": round(orders / days, 2),
        "orders_growth_vs_avg": round((today_orders - orders / days) / (orders / days), 4),
        "revenue_growth_vs_avg": round((today_revenue - revenue / days) / (revenue / days), 4),
    }
