"""Cleaning a validated day of orders and summarising it: exact, vectorised definitions."""

from __future__ import annotations

import dataclasses
import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.validation import order_timestamps

UNKNOWN = "unknown"
BREAKDOWN_COLUMNS = ("category", "status", "payment_method")
DAY_NAMES = pa.array(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"])


@dataclasses.dataclass(frozen=True)
class CleaningStats:
    """What cleaning changed."""

    rows_in: int
    rows_out: int
    duplicates_removed: int
    negatives_fixed: int


def clean_orders(orders: pd.DataFrame, timezone: str = "UTC") -> tuple[pd.DataFrame, CleaningStats]:
    """Drop repeated order_ids, fix sign errors, label missing categories, add derived columns.

    - a row whose order_id already appeared earlier in the file is removed;
    - a negative quantity or unit_price is a sign error: both become absolute and
      total_amount = round(quantity * unit_price, 2); other rows keep their total_amount;
    - nulls in category, status and payment_method become ``unknown``;
    - derived: order_date, hour, day_of_week, is_weekend.
    """
    duplicated = orders["order_id"].duplicated(keep="first").to_numpy()
    cleaned = orders.loc[~duplicated].reset_index(drop=True) if duplicated.any() else orders
    quantity = pd.to_numeric(cleaned["quantity"]).to_numpy(dtype=np.int64)
    unit_price = pd.to_numeric(cleaned["unit_price"]).to_numpy(dtype=np.float64)
    negative = (quantity < 0) | (unit_price < 0)
    quantity = np.abs(quantity)
    unit_price = np.abs(unit_price)
    total = pd.to_numeric(cleaned["total_amount"]).to_numpy(dtype=np.float64, copy=True)
    total[negative] = np.round(quantity[negative] * unit_price[negative], 2)
    stamps = order_timestamps(cleaned, timezone)
    weekday = stamps.dt.day_of_week.to_numpy()
    cleaned = cleaned.assign(
        quantity=quantity,
        unit_price=unit_price,
        total_amount=total,
        **{c: _labels_filled(cleaned[c]) for c in BREAKDOWN_COLUMNS},
        order_date=_dates(stamps),
        hour=stamps.dt.hour.astype(np.int64),
        day_of_week=pd.array(DAY_NAMES.take(weekday), dtype="str"),
        is_weekend=weekday >= 5,
    )
    stats = CleaningStats(
        rows_in=len(orders),
        rows_out=len(cleaned),
        duplicates_removed=int(duplicated.sum()),
        negatives_fixed=int(negative.sum()),
    )
    return cleaned, stats


def summarize_day(cleaned: pd.DataFrame, date: datetime.date, stats: CleaningStats) -> dict[str, object]:
    """The daily summary of a cleaned day: totals, averages and breakdowns."""
    revenue = round(float(cleaned["total_amount"].sum()), 2)
    orders = len(cleaned)
    return {
        "execution_date": date.isoformat(),
        "total_orders": orders,
        "total_revenue": revenue,
        "avg_order_value": round(revenue / orders, 2) if orders else 0.0,
        "unique_customers": int(cleaned["customer_id"].nunique()),
        "total_items": int(cleaned["quantity"].sum()),
        "duplicates_removed": stats.duplicates_removed,
        "negatives_fixed": stats.negatives_fixed,
        **{f"by_{column}": _breakdown(cleaned, column) for column in BREAKDOWN_COLUMNS},
    }


def _dates(stamps: pd.Series) -> pd.Series:
    """``YYYY-MM-DD`` of each timestamp, formatted once per distinct day rather than per row."""
    days = stamps.dt.normalize()
    labels = {day: day.strftime("%Y-%m-%d") for day in days.dropna().unique()}
    return days.map(labels)


def _labels_filled(labels: pd.Series) -> pd.Series:
    """``labels`` with nulls as ``unknown``, filled by Arrow (a quarter of ``fillna``'s time on Arrow strings)."""
    filled = pc.fill_null(pa.array(labels, type=pa.string()), UNKNOWN)
    return pd.Series(pd.array(filled, dtype="str"), index=labels.index)


def _breakdown(cleaned: pd.DataFrame, column: str) -> dict[str, dict[str, float | int]]:
    """Orders and revenue per value of ``column``: one factorize and two bincounts, no groupby."""
    codes, values = pd.factorize(cleaned[column], sort=True)
    orders = np.bincount(codes, minlength=len(values))
    revenue = np.bincount(codes, weights=cleaned["total_amount"].to_numpy(dtype=np.float64), minlength=len(values))
    return {
        str(value): {"orders": int(count), "revenue": round(float(amount), 2)}
        for value, count, amount in zip(values, orders, revenue, strict=True)
    }
