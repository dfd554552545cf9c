"""Synthetic orders: a realistic, reproducible day of e-commerce orders with injected dirt.

Everything is vectorised numpy, seeded from (seed, date), so a day generated again is the same bytes.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa

CATEGORY_PRICE_RANGES = {
    "Electronics": (50.0, 1500.0),
    "Clothing": (10.0, 200.0),
    "Home & Garden": (15.0, 500.0),
    "Books": (5.0, 60.0),
    "Sports": (10.0, 400.0),
    "Beauty": (5.0, 120.0),
    "Toys": (5.0, 150.0),
    "Grocery": (2.0, 50.0),
}
STATUSES = ("completed", "shipped", "pending", "cancelled", "returned")
STATUS_WEIGHTS = (0.62, 0.18, 0.1, 0.06, 0.04)
PAYMENT_METHODS = ("credit_card", "debit_card", "paypal", "bank_transfer", "gift_card")
PAYMENT_WEIGHTS = (0.45, 0.25, 0.2, 0.07, 0.03)
WEEKDAY_FACTORS = (0.95, 0.9, 0.92, 0.97, 1.08, 1.2, 1.1)  # Monday .. Sunday
HOURLY_PROFILE = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3.5, 4.5, 5, 5.5, 6, 5.5, 5, 5, 5.5, 6, 6.5, 7, 6.5, 5, 3.5, 2]
)
QUANTITY_WEIGHTS = (0.55, 0.25, 0.1, 0.06, 0.04)  # 1 .. 5 items
TREND_EPOCH = datetime.date(2024, 1, 1)
PRODUCTS = 500
NULLABLE_COLUMNS = ("category", "status", "payment_method")


@dataclasses.dataclass(frozen=True)
class GenerationSettings:
    """Volume and dirt of a synthetic day (the ``[generation]`` config section)."""

    seed: int = 42
    mean_orders_per_day: int = 200
    yearly_growth: float = 0.10
    customers: int = 5000
    duplicate_rate: float = 0.02
    negative_rate: float = 0.01
    null_rate: float = 0.005


def expected_volume(date: datetime.date, settings: GenerationSettings) -> float:
    """Mean order count of ``date``: the base volume shaped by weekday and a slow trend."""
    years = (date - TREND_EPOCH).days / 365.25
    return settings.mean_orders_per_day * WEEKDAY_FACTORS[date.weekday()] * (1 + settings.yearly_growth) ** years


def generate_orders(date: datetime.date, settings: GenerationSettings, timezone: str = "UTC") -> pd.DataFrame:
    """One day of orders in the canonical columns, dirt included, sorted by timestamp.

    Timestamps are local times of ``timezone`` that exist: on a day whose clocks spring forward,
    none falls in the skipped hour (it moves past it, as the shop's clock did).

    Columns are built as Arrow arrays (strings from fixed-width byte buffers and dictionary lookups),
    which keeps a million-order day to a fraction of a second.
    """
    rng = np.random.default_rng([settings.seed, date.toordinal()])
    count = max(1, int(rng.poisson(expected_volume(date, settings))))
    catalogue = _catalogue(settings.seed)

    seconds = np.sort(
        rng.choice(24, size=count, p=HOURLY_PROFILE / HOURLY_PROFILE.sum()) * 3600 + rng.integers(0, 3600, size=count)
    )
    skipped = skipped_local_time(date, timezone)
    if skipped is not None:
        first, length = skipped
        in_gap = (seconds >= first) & (seconds < first + length)
        seconds = np.sort(np.where(in_gap, seconds + length, seconds))
    product = rng.integers(0, PRODUCTS, size=count)
    quantity = rng.choice(np.arange(1, 6), size=count, p=QUANTITY_WEIGHTS)
    unit_price = catalogue.prices[product]
    customer_weights = 1.0 / np.arange(10, settings.customers + 10)
    customer = rng.choice(settings.customers, size=count, p=customer_weights / customer_weights.sum())
    status = rng.choice(len(STATUSES), size=count, p=STATUS_WEIGHTS)
    payment = rng.choice(len(PAYMENT_METHODS), size=count, p=PAYMENT_WEIGHTS)

    sign = np.where(rng.random(count) < settings.negative_rate, -1, 1)
    nulls = {column: rng.random(count) < settings.null_rate for column in NULLABLE_COLUMNS}
    duplicated = np.flatnonzero(rng.random(count) < settings.duplicate_rate)
    rows = np.sort(np.concatenate([np.arange(count), duplicated]), kind="stable")

    customer_ids = _fixed_width_strings(
        settings.customers, [b"CUST-", (np.arange(1, settings.customers + 1), max(5, len(str(settings.customers))))]
    )
    table = pa.table(
        {
            "order_id": _fixed_width_strings(
                count, [f"ORD-{date:%Y%m%d}-".encode(), (np.arange(1, count + 1), max(7, len(str(count))))]
            ),
            "customer_id": customer_ids.take(customer),
            "product_id": catalogue.ids.take(product),
            "category": catalogue.categories.take(pa.array(product, mask=nulls["category"])),
            "quantity": sign * quantity,
            "unit_price": unit_price,
            "total_amount": sign * np.round(quantity * unit_price, 2),
            "order_timestamp": _fixed_width_strings(
                count,
                [
                    f"{date:%Y-%m-%d}T".encode(),
                    (seconds // 3600, 2),
                    b":",
                    (seconds // 60 % 60, 2),
                    b":",
                    (seconds % 60, 2),
                ],
            ),
            "status": pa.array(STATUSES).take(pa.array(status, mask=nulls["status"])),
            "payment_method": pa.array(PAYMENT_METHODS).take(pa.array(payment, mask=nulls["payment_method"])),
        }
    )
    return table.take(rows).to_pandas()


def skipped_local_time(date: datetime.date, timezone: str) -> tuple[int, int] | None:
    """(first second after local midnight, length in seconds) of the local times that do not exist on
    ``date`` in ``timezone`` because clocks spring forward; None on every other day."""
    zone = ZoneInfo(timezone)
    midnight = datetime.datetime.combine(date, datetime.time())
    before = midnight.replace(tzinfo=zone).utcoffset()
    after = (midnight + datetime.timedelta(days=1)).replace(tzinfo=zone).utcoffset()
    length = int((after - before).total_seconds())
    if length <= 0:
        return None
    for minute in range(24 * 60):
        local = midnight + datetime.timedelta(minutes=minute)
        if local.replace(tzinfo=zone).astimezone(datetime.UTC).astimezone(zone).replace(tzinfo=None) != local:
            return minute * 60, length
    return None


@dataclasses.dataclass(frozen=True)
class _Catalogue:
    ids: pa.Array
    categories: pa.Array
    prices: np.ndarray


@functools.cache
def _catalogue(seed: int) -> _Catalogue:
    """A fixed product catalogue: ids, categories and prices inside each category's range."""
    rng = np.random.default_rng([seed, 0])
    names = np.asarray(list(CATEGORY_PRICE_RANGES))
    categories = names[rng.integers(0, len(names), size=PRODUCTS)]
    low = np.array([CATEGORY_PRICE_RANGES[c][0] for c in categories])
    high = np.array([CATEGORY_PRICE_RANGES[c][1] for c in categories])
    prices = np.round(low + (high - low) * rng.beta(1.5, 4.0, size=PRODUCTS), 2)
    ids = _fixed_width_strings(PRODUCTS, [b"PROD-", (np.arange(1, PRODUCTS + 1), 4)])
    return _Catalogue(ids=ids, categories=pa.array(categories), prices=prices)


def _fixed_width_strings(count: int, parts: list[bytes | tuple[np.ndarray, int]]) -> pa.StringArray:
    """``count`` strings of one width, each the concatenation of ``parts``: constant bytes, or
    (numbers, digits) written zero-padded. Built as one byte matrix, without a Python string per row."""
    width = sum(len(part) if isinstance(part, bytes) else part[1] for part in parts)
    buffer = np.empty((count, width), dtype=np.uint8)
    column = 0
    for part in parts:
        if isinstance(part, bytes):
            buffer[:, column : column + len(part)] = np.frombuffer(part, dtype=np.uint8)
            column += len(part)
            continue
        numbers, digits = part
        remaining = np.asarray(numbers, dtype=np.int64)
        for position in range(column + digits - 1, column - 1, -1):
            buffer[:, position] = remaining % 10 + ord("0")
            remaining = remaining // 10
        column += digits
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(buffer))
