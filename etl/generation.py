"""Synthetic orders: a realistic, reproducible day of e-commerce orders with injected dirt.

Everything is vectorised numpy, seeded from (seed, date), so a day generated again is the same bytes.
"""

from __future__ import annotations

import dataclasses
import datetime

import numpy as np
import pandas as pd

from etl.csv_io import ORDER_COLUMNS

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


def generate_orders(date: datetime.date, settings: GenerationSettings) -> pd.DataFrame:
    """One day of orders in the canonical columns, dirt included, sorted by timestamp."""
    rng = np.random.default_rng([settings.seed, date.toordinal()])
    count = max(1, int(rng.poisson(expected_volume(date, settings))))
    product_ids, product_categories, product_prices = _catalogue(settings.seed)

    seconds = np.sort(
        rng.choice(24, size=count, p=HOURLY_PROFILE / HOURLY_PROFILE.sum()) * 3600 + rng.integers(0, 3600, size=count)
    )
    product = rng.integers(0, PRODUCTS, size=count)
    quantity = rng.choice(np.arange(1, 6), size=count, p=QUANTITY_WEIGHTS)
    unit_price = product_prices[product]
    customer_weights = 1.0 / np.arange(10, settings.customers + 10)
    customer = rng.choice(settings.customers, size=count, p=customer_weights / customer_weights.sum())
    frame = pd.DataFrame(
        {
            "order_id": np.char.mod(f"ORD-{date:%Y%m%d}-%07d", np.arange(1, count + 1)),
            "customer_id": np.char.mod("CUST-%05d", customer + 1),
            "product_id": product_ids[product],
            "category": product_categories[product],
            "quantity": quantity,
            "unit_price": unit_price,
            "total_amount": np.round(quantity * unit_price, 2),
            "order_timestamp": np.datetime_as_string(np.datetime64(date, "s") + seconds, unit="s"),
            "status": np.asarray(STATUSES)[rng.choice(len(STATUSES), size=count, p=STATUS_WEIGHTS)],
            "payment_method": np.asarray(PAYMENT_METHODS)[
                rng.choice(len(PAYMENT_METHODS), size=count, p=PAYMENT_WEIGHTS)
            ],
        },
        columns=list(ORDER_COLUMNS),
    )
    return _inject_dirt(frame, rng, settings)


def _catalogue(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fixed product catalogue: ids, categories and prices inside each category's range."""
    rng = np.random.default_rng([seed, 0])
    names = np.asarray(list(CATEGORY_PRICE_RANGES))
    categories = names[rng.integers(0, len(names), size=PRODUCTS)]
    low = np.array([CATEGORY_PRICE_RANGES[c][0] for c in categories])
    high = np.array([CATEGORY_PRICE_RANGES[c][1] for c in categories])
    prices = np.round(low + (high - low) * rng.beta(1.5, 4.0, size=PRODUCTS), 2)
    return np.char.mod("PROD-%04d", np.arange(1, PRODUCTS + 1)), categories, prices


def _inject_dirt(frame: pd.DataFrame, rng: np.random.Generator, settings: GenerationSettings) -> pd.DataFrame:
    """Sign errors, nulls in non-critical columns, and duplicated rows right after their originals."""
    count = len(frame)
    negative = rng.random(count) < settings.negative_rate
    frame.loc[negative, "quantity"] *= -1
    frame.loc[negative, "total_amount"] *= -1
    for column in NULLABLE_COLUMNS:
        frame[column] = frame[column].where(rng.random(count) >= settings.null_rate, None)
    duplicated = np.flatnonzero(rng.random(count) < settings.duplicate_rate)
    order = np.argsort(np.concatenate([np.arange(count), duplicated]), kind="stable")
    return frame.iloc[np.concatenate([np.arange(count), duplicated])[order]].reset_index(drop=True)
