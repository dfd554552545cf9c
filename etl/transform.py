"""Cleaning a validated day of orders and summarising it: exact, vectorised definitions."""

from __future__ import annotations

import dataclasses
import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.csv_io import REFUNDED_AMOUNT
from etl.validation import order_timestamps

UNKNOWN = "unknown"
BREAKDOWN_COLUMNS = ("category", "status", "payment_method")
DAY_NAMES = pa.array(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"])


NEGATIVE_AMOUNT_RULES = ("sign_error", "refund")


@dataclasses.dataclass(frozen=True)
class CleaningStats:
    """What cleaning changed, and what the summary needs of the rows that are not orders or not net revenue."""

    rows_in: int
    rows_out: int
    duplicates_removed: int
    negatives_fixed: int
    refund_count: int
    refund_amount: float  # sum of the refunds' abs(total_amount), not rounded
    excluded_orders: int  # orders whose status is excluded from net revenue
    excluded_revenue: float  # their total_amount, not rounded


def clean_orders(
    orders: pd.DataFrame,
    timezone: str = "UTC",
    negative_amounts: str = "sign_error",
    excluded_statuses: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, CleaningStats]:
    """Set refunds apart, drop repeated order_ids, fix sign errors, label missing categories, add derived columns.

    - ``negative_amounts="refund"``: a row with a negative quantity, unit_price or total_amount is a refund,
      not an order; its amount is abs(total_amount) and nothing of it is changed or kept in the orders;
    - a row whose order_id already appeared earlier among rows of its kind (orders, refunds) is removed:
      a refund may carry its order's order_id;
    - ``negative_amounts="sign_error"``: a negative quantity or unit_price is a sign error: both become absolute
      and total_amount = round(quantity * unit_price, 2); other rows keep their total_amount;
    - nulls in category, status and payment_method become ``unknown``;
    - an order whose status, stripped and lower-cased, is in ``excluded_statuses`` stays an order but is
      counted in the stats as excluded from net revenue;
    - an order's refunded_amount (a landed column: partial refunds the export states on the order) counts as
      refunds when its status is not excluded (an excluded order already leaves net revenue whole);
    - derived: order_date, hour, day_of_week, is_weekend.
    """
    if negative_amounts not in NEGATIVE_AMOUNT_RULES:
        raise ValueError(f"negative_amounts must be one of {NEGATIVE_AMOUNT_RULES}, not {negative_amounts!r}")
    refund = _has_negative_amount(orders) if negative_amounts == "refund" else np.zeros(len(orders), dtype=bool)
    duplicated = _repeated_ids(orders["order_id"], refund)
    refund_amounts = np.abs(pd.to_numeric(orders["total_amount"]).to_numpy(dtype=np.float64)[refund & ~duplicated])
    dropped = duplicated | refund
    cleaned = orders.loc[~dropped].reset_index(drop=True) if dropped.any() else orders
    quantity = pd.to_numeric(cleaned["quantity"]).to_numpy(dtype=np.int64)
    unit_price = pd.to_numeric(cleaned["unit_price"]).to_numpy(dtype=np.float64)
    negative = (quantity < 0) | (unit_price < 0)
    quantity = np.abs(quantity)
    unit_price = np.abs(unit_price)
    total = pd.to_numeric(cleaned["total_amount"]).to_numpy(dtype=np.float64, copy=True)
    total[negative] = np.round(quantity[negative] * unit_price[negative], 2)
    stamps = order_timestamps(cleaned, timezone)
    weekday = stamps.dt.day_of_week.to_numpy()
    labels = {c: _labels_filled(cleaned[c]) for c in BREAKDOWN_COLUMNS}
    excluded = _has_status(labels["status"], excluded_statuses)
    cleaned = cleaned.assign(
        quantity=quantity,
        unit_price=unit_price,
        total_amount=total,
        **labels,
        order_date=_dates(stamps),
        hour=stamps.dt.hour.astype(np.int64),
        day_of_week=pd.array(DAY_NAMES.take(weekday), dtype="str"),
        is_weekend=weekday >= 5,
    )
    partial = _refunded_amounts(cleaned) * ~excluded
    stats = CleaningStats(
        rows_in=len(orders),
        rows_out=len(cleaned),
        duplicates_removed=int(duplicated.sum()),
        negatives_fixed=int(negative.sum()),
        refund_count=len(refund_amounts) + int((partial > 0).sum()),
        refund_amount=float(refund_amounts.sum() + partial.sum()),
        excluded_orders=int(excluded.sum()),
        excluded_revenue=float(total[excluded].sum()),
    )
    return cleaned, stats


def summarize_day(cleaned: pd.DataFrame, date: datetime.date, stats: CleaningStats) -> dict[str, object]:
    """The daily summary of a cleaned day: totals, net revenue and refunds, averages and breakdowns."""
    revenue_sum = float(cleaned["total_amount"].sum())
    revenue = round(revenue_sum, 2)
    orders = len(cleaned)
    return {
        "execution_date": date.isoformat(),
        "total_orders": orders,
        "total_revenue": revenue,
        "net_revenue": _cents(revenue_sum - stats.excluded_revenue - stats.refund_amount),
        "refunds": _cents(stats.refund_amount),
        "refund_count": stats.refund_count,
        "excluded_orders": stats.excluded_orders,
        "avg_order_value": round(revenue / orders, 2) if orders else 0.0,
        "unique_customers": int(cleaned["customer_id"].nunique()),
        "total_items": int(cleaned["quantity"].sum()),
        "duplicates_removed": stats.duplicates_removed,
        "negatives_fixed": stats.negatives_fixed,
        **{f"by_{column}": _breakdown(cleaned, column) for column in BREAKDOWN_COLUMNS},
    }


def _refunded_amounts(cleaned: pd.DataFrame) -> np.ndarray:
    """Each order's refunded_amount, 0 where it has none (and on days without the column)."""
    if REFUNDED_AMOUNT not in cleaned.columns:
        return np.zeros(len(cleaned))
    return np.nan_to_num(pd.to_numeric(cleaned[REFUNDED_AMOUNT]).to_numpy(dtype=np.float64, na_value=np.nan))


def _has_negative_amount(orders: pd.DataFrame) -> np.ndarray:
    """Rows with a negative quantity, unit_price or total_amount."""
    negative = np.zeros(len(orders), dtype=bool)
    for column in ("quantity", "unit_price", "total_amount"):
        negative |= pd.to_numeric(orders[column]).to_numpy(dtype=np.float64) < 0
    return negative


def _repeated_ids(order_ids: pd.Series, refund: np.ndarray) -> np.ndarray:
    """Rows whose order_id already appeared among earlier rows of the same kind: orders and refunds apart."""
    if not refund.any():
        return order_ids.duplicated(keep="first").to_numpy()
    repeated = np.zeros(len(order_ids), dtype=bool)
    for kind in (~refund, refund):
        repeated[kind] = order_ids[kind].duplicated(keep="first").to_numpy()
    return repeated


def _has_status(statuses: pd.Series, wanted: tuple[str, ...]) -> np.ndarray:
    """Rows whose status, stripped and lower-cased, is one of ``wanted`` (compared the same way)."""
    if not wanted:
        return np.zeros(len(statuses), dtype=bool)
    normalised = pc.utf8_lower(pc.utf8_trim_whitespace(pa.array(statuses, type=pa.string())))
    value_set = pa.array(sorted({status.strip().lower() for status in wanted}), type=pa.string())
    return pc.is_in(normalised, value_set=value_set).to_numpy(zero_copy_only=False)


def _cents(amount: float) -> float:
    """``amount`` rounded to cents, never ``-0.0`` (a difference of equal sums may land a hair below zero)."""
    return round(amount, 2) + 0.0


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
