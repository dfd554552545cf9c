"""Cleaning and summarising a day, checked against a plain-Python row-by-row reference."""

from __future__ import annotations

import datetime
import json
import math

import numpy as np
import pandas as pd
import pytest

from etl.csv_io import ORDER_COLUMNS, read_orders, write_orders
from etl.generation import GenerationSettings, generate_orders
from etl.storage import LocalStore
from etl.storage.layout import file_key
from etl.transform import CleaningStats, clean_orders, summarize_day

DAY = datetime.date(2024, 3, 9)  # a Saturday
ENGLISH_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
DERIVED = ["order_date", "hour", "day_of_week", "is_weekend"]


def is_null(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def reference_clean(orders: pd.DataFrame) -> tuple[list[dict], dict]:
    """Row by row: first occurrence of each order_id wins; a sign error gets abs() of quantity and price and
    total = numpy-round(q * p, 2), other totals kept; null labels become 'unknown'; derived date columns."""
    seen: set[str] = set()
    rows: list[dict] = []
    duplicates = negatives = 0
    for record in orders.to_dict("records"):
        if record["order_id"] in seen:
            duplicates += 1
            continue
        seen.add(record["order_id"])
        row = {column: record[column] for column in ORDER_COLUMNS}
        q, p = int(row["quantity"]), float(row["unit_price"])
        if q < 0 or p < 0:
            negatives += 1
            q, p = abs(q), abs(p)
            row["total_amount"] = float(np.round(q * p, 2))
        row["quantity"], row["unit_price"] = q, p
        row["total_amount"] = float(row["total_amount"])
        for column in ("category", "status", "payment_method"):
            if is_null(row[column]):
                row[column] = "unknown"
        stamp = datetime.datetime.fromisoformat(row["order_timestamp"])
        row["order_date"] = f"{stamp.year:04d}-{stamp.month:02d}-{stamp.day:02d}"
        row["hour"] = stamp.hour
        row["day_of_week"] = ENGLISH_DAYS[stamp.weekday()]
        row["is_weekend"] = stamp.weekday() in (5, 6)
        rows.append(row)
    stats = {
        "rows_in": len(orders),
        "rows_out": len(rows),
        "duplicates_removed": duplicates,
        "negatives_fixed": negatives,
    }
    return rows, stats


def output_records(cleaned: pd.DataFrame) -> list[dict]:
    records = cleaned.to_dict("records")
    for record in records:
        record["quantity"] = int(record["quantity"])
        record["hour"] = int(record["hour"])
        record["is_weekend"] = bool(record["is_weekend"])
        record["total_amount"] = float(record["total_amount"])
        record["unit_price"] = float(record["unit_price"])
    return records


def assert_matches_reference(orders: pd.DataFrame) -> tuple[pd.DataFrame, CleaningStats]:
    expected_rows, expected_stats = reference_clean(orders)
    cleaned, stats = clean_orders(orders)
    assert list(cleaned.columns) == [*ORDER_COLUMNS, *DERIVED]
    got = output_records(cleaned)
    assert len(got) == len(expected_rows)
    for i, (g, e) in enumerate(zip(got, expected_rows, strict=True)):
        assert g == e, f"row {i} ({e['order_id']}) differs"
    assert stats == CleaningStats(**expected_stats)
    return cleaned, stats


def crafted() -> pd.DataFrame:
    rows = [
        # order_id, customer, category, quantity, unit_price, total, timestamp, status, payment
        ("A", "C1", "Books", 2, 10.0, 20.0, "2024-03-09T00:00:00", "completed", "paypal"),
        ("B", "C2", "Toys", -3, 1.15, -3.45, "2024-03-09T13:05:00", "shipped", None),  # quantity sign error
        ("A", "C9", "Grocery", 9, 9.0, 81.0, "2024-03-09T14:00:00", "pending", "paypal"),  # duplicate id, differs
        ("C", "C1", None, 1, -19.99, -19.99, "2024-03-09T23:59:59", None, "gift_card"),  # price sign error
        ("D", "C3", "Beauty", -2, -2.675, 5.35, "2024-03-09T07:30:00", "returned", "credit_card"),  # both negative
        ("E", "C4", "Sports", 1, 5.0, 4.5, "2024-03-09T09:00:00", "completed", "paypal"),  # odd total, kept
        ("B", "C2", "Toys", 3, 1.15, 3.45, "2024-03-09T13:05:00", "shipped", None),  # duplicate of B, positive
        ("F", "C5", "Books", 0, 12.0, 0.0, "2024-03-09T18:45:10", "cancelled", "debit_card"),  # zero is not negative
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "order_id",
            "customer_id",
            "category",
            "quantity",
            "unit_price",
            "total_amount",
            "order_timestamp",
            "status",
            "payment_method",
        ],
    )
    frame.insert(2, "product_id", [f"P{i}" for i in range(len(frame))])
    return frame[list(ORDER_COLUMNS)].astype({"quantity": np.int64})


def test_crafted_day_matches_the_reference():
    assert_matches_reference(crafted())


def test_crafted_day_pins_each_cleaning_rule():
    cleaned, stats = clean_orders(crafted())
    rows = cleaned.set_index("order_id")
    assert list(cleaned["order_id"]) == ["A", "B", "C", "D", "E", "F"], "first occurrences, in file order"
    assert rows.loc["A", "customer_id"] == "C1", "the first A is kept, not the later one"
    assert (rows.loc["B", "quantity"], rows.loc["B", "unit_price"], rows.loc["B", "total_amount"]) == (3, 1.15, 3.45)
    assert (rows.loc["C", "quantity"], rows.loc["C", "unit_price"], rows.loc["C", "total_amount"]) == (1, 19.99, 19.99)
    assert (rows.loc["D", "quantity"], rows.loc["D", "unit_price"]) == (2, 2.675)
    assert rows.loc["D", "total_amount"] == 5.35
    assert rows.loc["E", "total_amount"] == 4.5, "a positive row keeps its total even if inconsistent"
    assert rows.loc["F", "quantity"] == 0 and rows.loc["F", "total_amount"] == 0.0
    assert rows.loc["C", "category"] == "unknown" and rows.loc["C", "status"] == "unknown"
    assert rows.loc["B", "payment_method"] == "unknown"
    assert not cleaned[["category", "status", "payment_method"]].isna().any().any()
    assert stats == CleaningStats(rows_in=8, rows_out=6, duplicates_removed=2, negatives_fixed=3)


def test_crafted_day_derived_columns():
    cleaned, _ = clean_orders(crafted())
    rows = cleaned.set_index("order_id")
    assert set(cleaned["order_date"]) == {"2024-03-09"}
    assert rows["hour"].to_dict() == {"A": 0, "B": 13, "C": 23, "D": 7, "E": 9, "F": 18}
    assert set(cleaned["day_of_week"]) == {"Saturday"}
    assert cleaned["is_weekend"].all()
    assert cleaned["hour"].dtype == np.int64
    assert cleaned["is_weekend"].dtype == bool


def test_weekday_names_and_weekend_flag_across_a_week():
    week = [DAY + datetime.timedelta(days=i) for i in range(7)]  # Saturday .. Friday
    frame = crafted().iloc[[0] * 7].reset_index(drop=True)
    frame["order_id"] = [f"W{i}" for i in range(7)]
    frame["order_timestamp"] = [f"{d.isoformat()}T12:00:00" for d in week]
    cleaned, _ = clean_orders(frame)
    assert cleaned["day_of_week"].tolist() == [
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
    ]
    assert cleaned["is_weekend"].tolist() == [True, True, False, False, False, False, False]
    assert cleaned["order_date"].tolist() == [d.isoformat() for d in week]


@pytest.mark.parametrize(
    "date", [datetime.date(2024, 1, 1), DAY, datetime.date(2024, 3, 10), datetime.date(2024, 7, 4)]
)
def test_generated_day_matches_the_reference(date):
    orders = generate_orders(date, GenerationSettings())
    _, stats = assert_matches_reference(orders)
    assert stats.rows_in == len(orders)


def test_generated_dirty_day_matches_the_reference():
    settings = GenerationSettings(duplicate_rate=0.3, negative_rate=0.3, null_rate=0.2)
    orders = generate_orders(DAY, settings)
    _, stats = assert_matches_reference(orders)
    assert stats.duplicates_removed > 10 and stats.negatives_fixed > 10, "the dirty paths were exercised"


def test_generated_day_read_from_csv_matches_the_reference(tmp_path):
    store, key = LocalStore(tmp_path), file_key("raw", DAY, "orders.csv")
    write_orders(store, key, generate_orders(DAY, GenerationSettings(negative_rate=0.2)))
    assert_matches_reference(read_orders(store, key))


def test_clean_orders_does_not_modify_its_input():
    orders = crafted()
    before = orders.copy()
    clean_orders(orders)
    pd.testing.assert_frame_equal(orders, before)


def test_clean_orders_of_an_empty_day():
    empty = crafted().iloc[0:0]
    cleaned, stats = clean_orders(empty)
    assert len(cleaned) == 0
    assert stats == CleaningStats(0, 0, 0, 0)


def reference_summary(rows: list[dict], date: datetime.date, stats: dict) -> dict:
    revenue = round(math.fsum(r["total_amount"] for r in rows), 2)
    summary = {
        "execution_date": date.isoformat(),
        "total_orders": len(rows),
        "total_revenue": revenue,
        "avg_order_value": round(revenue / len(rows), 2) if rows else 0.0,
        "unique_customers": len({r["customer_id"] for r in rows}),
        "total_items": sum(r["quantity"] for r in rows),
        "duplicates_removed": stats["duplicates_removed"],
        "negatives_fixed": stats["negatives_fixed"],
    }
    for column in ("category", "status", "payment_method"):
        groups: dict[str, list[float]] = {}
        for r in rows:
            groups.setdefault(r[column], []).append(r["total_amount"])
        summary[f"by_{column}"] = {
            key: {"orders": len(values), "revenue": round(math.fsum(values), 2)}
            for key, values in sorted(groups.items())
        }
    return summary


def assert_summary_matches(got: dict, expected: dict) -> None:
    assert set(got) == set(expected)
    for key, value in expected.items():
        if key.startswith("by_"):
            assert list(got[key]) == list(value), f"{key}: keys in sorted order"
            for label, figures in value.items():
                assert got[key][label]["orders"] == figures["orders"], (key, label)
                assert got[key][label]["revenue"] == pytest.approx(figures["revenue"], abs=1e-9), (key, label)
        elif isinstance(value, float):
            assert got[key] == pytest.approx(value, abs=1e-9), key
        else:
            assert got[key] == value, key


@pytest.mark.parametrize("date", [DAY, datetime.date(2024, 6, 3)])
def test_summarize_day_figures_are_recomputed_independently(date):
    orders = generate_orders(date, GenerationSettings(null_rate=0.05))
    rows, stats = reference_clean(orders)
    cleaned, cleaning_stats = clean_orders(orders)

    summary = summarize_day(cleaned, date, cleaning_stats)

    assert_summary_matches(summary, reference_summary(rows, date, stats))
    assert "unknown" in summary["by_category"], "null categories are reported as unknown"
    assert sum(v["orders"] for v in summary["by_status"].values()) == summary["total_orders"]


def test_summarize_day_of_the_crafted_day():
    orders = crafted()
    rows, stats = reference_clean(orders)
    cleaned, cleaning_stats = clean_orders(orders)
    summary = summarize_day(cleaned, DAY, cleaning_stats)
    assert_summary_matches(summary, reference_summary(rows, DAY, stats))
    # Hand-checked: 20.0 + 3.45 + 19.99 + 5.35 + 4.5 + 0.0 = 53.29 over 6 orders.
    assert summary["total_revenue"] == 53.29
    assert summary["avg_order_value"] == 8.88
    assert summary["unique_customers"] == 5
    assert summary["total_items"] == 2 + 3 + 1 + 2 + 1 + 0
    assert summary["by_payment_method"]["unknown"] == {"orders": 1, "revenue": 3.45}


def test_summary_is_plain_json_types():
    cleaned, stats = clean_orders(generate_orders(DAY, GenerationSettings()))
    summary = summarize_day(cleaned, DAY, stats)
    assert json.loads(json.dumps(summary)) == summary
    for key in ("total_orders", "unique_customers", "total_items", "duplicates_removed", "negatives_fixed"):
        assert type(summary[key]) is int, key
    assert type(summary["total_revenue"]) is float


def test_revenue_is_rounded_to_cents():
    frame = crafted().iloc[[0, 5]].reset_index(drop=True)
    frame["total_amount"] = [0.104, 0.003]  # sums to 0.107
    cleaned, stats = clean_orders(frame)
    summary = summarize_day(cleaned, DAY, stats)
    assert summary["total_revenue"] == 0.11
    assert summary["avg_order_value"] == round(0.11 / 2, 2), "the average of the rounded revenue"
    assert summary["by_category"] == {
        "Books": {"orders": 1, "revenue": 0.1},
        "Sports": {"orders": 1, "revenue": 0.0},
    }, "breakdown revenues are in cents too"


def test_summary_of_an_empty_day_has_zero_average():
    cleaned, stats = clean_orders(crafted().iloc[0:0])
    summary = summarize_day(cleaned, DAY, stats)
    assert summary["total_orders"] == 0
    assert summary["total_revenue"] == 0.0
    assert summary["avg_order_value"] == 0.0
    assert summary["by_category"] == {}
