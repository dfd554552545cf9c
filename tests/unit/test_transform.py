"""Cleaning and summarising a day, checked against a plain-Python row-by-row reference."""

from __future__ import annotations

import dataclasses
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
EXCLUDED = ("cancelled", "canceled", "failed", "refunded", "returned", "voided")  # [revenue] excluded_statuses


def is_null(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def reference_clean(
    orders: pd.DataFrame, negative_amounts: str = "sign_error", excluded_statuses: tuple[str, ...] = ()
) -> tuple[list[dict], dict]:
    """Row by row: with "refund", a row with any negative amount is a refund (abs of its total), not an order;
    first occurrence of each order_id among orders, and among refunds, wins; a sign error gets abs() of
    quantity and price and total = numpy-round(q * p, 2), other totals kept; null labels become 'unknown';
    derived date columns; orders with an excluded status (stripped, any case) counted apart."""
    seen: dict[bool, set[str]] = {False: set(), True: set()}
    rows: list[dict] = []
    refunds: list[float] = []
    duplicates = negatives = 0
    for record in orders.to_dict("records"):
        q, p, t = int(record["quantity"]), float(record["unit_price"]), float(record["total_amount"])
        is_refund = negative_amounts == "refund" and (q < 0 or p < 0 or t < 0)
        if record["order_id"] in seen[is_refund]:
            duplicates += 1
            continue
        seen[is_refund].add(record["order_id"])
        if is_refund:
            refunds.append(abs(t))
            continue
        row = {column: record[column] for column in ORDER_COLUMNS}
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
    excluded = [r["total_amount"] for r in rows if r["status"].strip().lower() in excluded_statuses]
    stats = {
        "rows_in": len(orders),
        "rows_out": len(rows),
        "duplicates_removed": duplicates,
        "negatives_fixed": negatives,
        "refund_count": len(refunds),
        "refund_amount": math.fsum(refunds),
        "excluded_orders": len(excluded),
        "excluded_revenue": math.fsum(excluded),
    }
    return rows, stats


def assert_stats(got: CleaningStats, expected: dict) -> None:
    """Counts exactly; sums of amounts to within float summation order."""
    assert set(dataclasses.asdict(got)) == set(expected)
    for key, value in expected.items():
        if isinstance(value, float):
            assert getattr(got, key) == pytest.approx(value, abs=1e-9), key
        else:
            assert getattr(got, key) == value, key


def output_records(cleaned: pd.DataFrame) -> list[dict]:
    records = cleaned.to_dict("records")
    for record in records:
        record["quantity"] = int(record["quantity"])
        record["hour"] = int(record["hour"])
        record["is_weekend"] = bool(record["is_weekend"])
        record["total_amount"] = float(record["total_amount"])
        record["unit_price"] = float(record["unit_price"])
    return records


def assert_matches_reference(
    orders: pd.DataFrame, negative_amounts: str = "sign_error", excluded_statuses: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, CleaningStats]:
    expected_rows, expected_stats = reference_clean(orders, negative_amounts, excluded_statuses)
    cleaned, stats = clean_orders(orders, "UTC", negative_amounts, excluded_statuses)
    assert list(cleaned.columns) == [*ORDER_COLUMNS, *DERIVED]
    got = output_records(cleaned)
    assert len(got) == len(expected_rows)
    for i, (g, e) in enumerate(zip(got, expected_rows, strict=True)):
        assert g == e, f"row {i} ({e['order_id']}) differs"
    assert_stats(stats, expected_stats)
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
    assert stats == CleaningStats(
        rows_in=8,
        rows_out=6,
        duplicates_removed=2,
        negatives_fixed=3,
        refund_count=0,
        refund_amount=0.0,
        excluded_orders=0,
        excluded_revenue=0.0,
    ), "by default no refunds and no status is excluded"


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
    assert stats == CleaningStats(0, 0, 0, 0, 0, 0.0, 0, 0.0)


def reference_summary(
    rows: list[dict], date: datetime.date, stats: dict, excluded_statuses: tuple[str, ...] = ()
) -> dict:
    revenue = round(math.fsum(r["total_amount"] for r in rows), 2)
    counted = [r["total_amount"] for r in rows if r["status"].strip().lower() not in excluded_statuses]
    summary = {
        "execution_date": date.isoformat(),
        "total_orders": len(rows),
        "total_revenue": revenue,
        "net_revenue": round(math.fsum(counted) - stats["refund_amount"], 2),
        "refunds": round(stats["refund_amount"], 2),
        "refund_count": stats["refund_count"],
        "excluded_orders": len(rows) - len(counted),
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
    counts = ("total_orders", "unique_customers", "total_items", "duplicates_removed", "negatives_fixed")
    for key in (*counts, "refund_count", "excluded_orders"):
        assert type(summary[key]) is int, key
    for key in ("total_revenue", "net_revenue", "refunds"):
        assert type(summary[key]) is float, key


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


def crafted_with_refunds() -> pd.DataFrame:
    rows = [
        # order_id, customer, category, quantity, unit_price, total, timestamp, status, payment
        ("A", "C1", "Books", 2, 10.0, 20.0, "2024-03-09T00:00:00", "completed", "paypal"),
        ("A", "C1", "Books", -1, 10.0, -10.0, "2024-03-09T10:00:00", "completed", "paypal"),  # refund of A, A's id
        ("B", "C2", "Toys", 1, 5.5, 5.5, "2024-03-09T11:00:00", "FAILED", "paypal"),  # excluded, any case
        ("R-1", "C3", "Toys", 1, 8.0, -8.0, "2024-03-09T12:00:00", " Refunded ", "credit_card"),  # total only
        ("R-1", "C3", "Toys", 1, 8.0, -8.0, "2024-03-09T12:05:00", " Refunded ", "credit_card"),  # repeated refund
        ("A", "C9", "Grocery", 3, 3.0, 9.0, "2024-03-09T13:00:00", "pending", "paypal"),  # repeated order
        ("C", "C4", "Beauty", 2, -5.0, -9.5, "2024-03-09T14:00:00", "completed", "debit_card"),  # abs(total), not q*p
        ("D", "C5", None, 4, 2.5, 10.0, "2024-03-09T15:00:00", " Cancelled ", None),  # excluded, stripped
        ("E", "C1", "Sports", 1, 7.25, 7.25, "2024-03-09T16:00:00", None, "gift_card"),  # unknown: counted
        ("F", "C6", "Books", 1, 12.0, 12.0, "2024-03-09T17:00:00", "shipped", "paypal"),
    ]
    columns = ["order_id", "customer_id", "category", "quantity", "unit_price", "total_amount", "order_timestamp"]
    frame = pd.DataFrame(rows, columns=[*columns, "status", "payment_method"])
    frame.insert(2, "product_id", [f"P{i}" for i in range(len(frame))])
    return frame[list(ORDER_COLUMNS)].astype({"quantity": np.int64})


def test_refunds_are_set_apart_unchanged_and_statuses_excluded_from_net_revenue():
    cleaned, stats = assert_matches_reference(crafted_with_refunds(), "refund", EXCLUDED)
    summary = summarize_day(cleaned, DAY, stats)

    assert list(cleaned["order_id"]) == ["A", "B", "D", "E", "F"], "no refund is an order"
    assert cleaned.set_index("order_id").loc["A", "total_amount"] == 20.0, "the refund did not replace its order"
    assert (cleaned[["quantity", "unit_price", "total_amount"]] >= 0).all().all()
    # Hand-checked: orders 20 + 5.5 + 10 + 7.25 + 12 = 54.75; B (FAILED) and D (Cancelled) excluded: 15.5;
    # refunds 10 (A's) + 8 (R-1 once) + 9.5 (C's total, not 2 x 5) = 27.5.
    assert summary["total_orders"] == 5
    assert summary["total_revenue"] == 54.75
    assert summary["avg_order_value"] == round(54.75 / 5, 2)
    assert summary["unique_customers"] == 4
    assert summary["total_items"] == 2 + 1 + 4 + 1 + 1
    assert (summary["refunds"], summary["refund_count"]) == (27.5, 3)
    assert summary["excluded_orders"] == 2
    assert summary["net_revenue"] == round(54.75 - 15.5 - 27.5, 2) == 11.75
    assert (summary["duplicates_removed"], summary["negatives_fixed"]) == (2, 0)
    assert sum(v["orders"] for v in summary["by_status"].values()) == 5
    assert summary["by_status"]["FAILED"] == {"orders": 1, "revenue": 5.5}, "breakdowns keep the status as written"
    assert stats.rows_in == stats.rows_out + stats.duplicates_removed + stats.refund_count


def test_sign_error_rule_with_excluded_statuses_matches_the_reference():
    orders = crafted_with_refunds()
    rows, expected = reference_clean(orders, "sign_error", EXCLUDED)
    cleaned, stats = assert_matches_reference(orders, "sign_error", EXCLUDED)
    summary = summarize_day(cleaned, DAY, stats)
    assert_summary_matches(summary, reference_summary(rows, DAY, expected, EXCLUDED))
    assert (summary["refunds"], summary["refund_count"]) == (0.0, 0)
    rows_by_id = cleaned.set_index("order_id")
    assert (rows_by_id.loc["C", "unit_price"], rows_by_id.loc["C", "total_amount"]) == (5.0, 10.0), "made positive"
    # R-1 stays an order with its negative total (today's rule: only quantity and price are sign errors),
    # and its status " Refunded " is excluded, as are B (FAILED) and D (Cancelled).
    assert rows_by_id.loc["R-1", "total_amount"] == -8.0
    assert summary["excluded_orders"] == 3
    assert summary["net_revenue"] == round(summary["total_revenue"] - (5.5 - 8.0 + 10.0), 2) == 49.25


@pytest.mark.parametrize("negative_amounts", ["sign_error", "refund"])
def test_generated_dirty_day_with_both_rules_matches_the_reference(negative_amounts):
    orders = generate_orders(DAY, GenerationSettings(duplicate_rate=0.3, negative_rate=0.3, null_rate=0.2))
    rows, expected = reference_clean(orders, negative_amounts, EXCLUDED)
    cleaned, stats = assert_matches_reference(orders, negative_amounts, EXCLUDED)
    assert_summary_matches(summarize_day(cleaned, DAY, stats), reference_summary(rows, DAY, expected, EXCLUDED))
    assert stats.excluded_orders > 10, "the generated cancelled and returned orders are excluded"
    if negative_amounts == "refund":
        assert stats.refund_count > 10 and stats.negatives_fixed == 0
    else:
        assert stats.refund_count == 0 and stats.negatives_fixed > 10


def test_the_synthetic_sources_settings_clean_exactly_as_the_defaults():
    """What processing passes for the synthetic source changes no processed row, only the summary's new fields."""
    orders = generate_orders(DAY, GenerationSettings(duplicate_rate=0.05, negative_rate=0.05, null_rate=0.05))
    default_cleaned, default_stats = clean_orders(orders)
    cleaned, stats = clean_orders(orders, "UTC", "sign_error", EXCLUDED)
    pd.testing.assert_frame_equal(cleaned, default_cleaned)
    before, after = summarize_day(default_cleaned, DAY, default_stats), summarize_day(cleaned, DAY, stats)
    new_fields = {"net_revenue", "refunds", "refund_count", "excluded_orders"}
    assert {k: v for k, v in after.items() if k not in new_fields} == {
        k: v for k, v in before.items() if k not in new_fields
    }
    assert before["net_revenue"] == before["total_revenue"], "nothing excluded by default"
    left_out = [r for r in reference_clean(orders)[0] if r["status"] in ("cancelled", "returned")]
    assert after["excluded_orders"] == len(left_out) > 0
    assert after["net_revenue"] == pytest.approx(
        round(before["total_revenue"] - math.fsum(r["total_amount"] for r in left_out), 2), abs=1e-9
    )


def test_net_revenue_of_refunds_equal_to_sales_is_zero_not_minus_zero():
    frame = crafted_with_refunds().iloc[[0, 3]].reset_index(drop=True)
    frame["total_amount"] = [0.3, -0.1]
    frame.loc[2] = frame.loc[1].to_dict() | {"order_id": "R-2", "total_amount": -0.2}
    cleaned, stats = clean_orders(frame, "UTC", "refund")
    summary = summarize_day(cleaned, DAY, stats)
    assert (summary["total_revenue"], summary["refunds"], summary["refund_count"]) == (0.3, 0.3, 2)
    assert json.dumps(summary["net_revenue"]) == "0.0"


def test_a_refund_only_day_has_no_orders_and_negative_net_revenue():
    frame = crafted_with_refunds().iloc[[1, 3, 6]].reset_index(drop=True)
    cleaned, stats = clean_orders(frame, "UTC", "refund", EXCLUDED)
    summary = summarize_day(cleaned, DAY, stats)
    assert len(cleaned) == 0 and list(cleaned.columns) == [*ORDER_COLUMNS, *DERIVED]
    assert (summary["total_orders"], summary["total_revenue"], summary["avg_order_value"]) == (0, 0.0, 0.0)
    assert summary["refunds"] == 10.0 + 8.0 + 9.5
    assert summary["net_revenue"] == -27.5


def test_an_unknown_negative_amounts_rule_is_refused():
    with pytest.raises(ValueError, match="negative_amounts"):
        clean_orders(crafted(), "UTC", "refunds")


def test_an_orders_refunded_amount_comes_off_net_revenue_unless_its_status_is_excluded():
    orders = pd.DataFrame({
        "order_id": ["A", "B", "C", "D"], "customer_id": ["c"] * 4, "product_id": [None] * 4,
        "category": [None] * 4, "quantity": [1, 1, 1, 1], "unit_price": [100.0, 50.0, 80.0, 30.0],
        "total_amount": [100.0, 50.0, 80.0, 30.0], "order_timestamp": ["2024-01-05T10:00:00"] * 4,
        "status": ["paid", "paid", "refunded", "paid"], "payment_method": [None] * 4,
        "refunded_amount": [25.0, None, 80.0, 0.0],
    })  # fmt: skip

    cleaned, stats = clean_orders(orders, "UTC", "refund", ("refunded",))
    summary = summarize_day(cleaned, datetime.date(2024, 1, 5), stats)

    assert summary["total_revenue"] == 260.0, "every order, refunded or not"
    assert summary["net_revenue"] == 100 - 25 + 50 + 30, "C leaves whole by its status, A less its refund"
    assert (summary["refunds"], summary["refund_count"], summary["excluded_orders"]) == (25.0, 1, 1)
