"""The quality gate: every rule fails on a frame crafted to break it and passes on a generated day."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from etl.csv_io import ORDER_COLUMNS, read_orders_csv, write_csv
from etl.generation import GenerationSettings, generate_orders
from etl.transform import clean_orders
from etl.validation import (
    CRITICAL_COLUMNS,
    DataValidationError,
    RuleResult,
    failed_rules,
    order_timestamps,
    validate_file,
    validate_orders,
)

DAY = datetime.date(2024, 3, 9)
RULES = ["min_orders", "required_columns", "critical_not_null", "numeric_fields", "timestamps_in_day"]


def by_rule(results: list[RuleResult]) -> dict[str, RuleResult]:
    return {r.rule: r for r in results}


def clean_frame(rows: int = 5) -> pd.DataFrame:
    """A small valid day of orders on DAY."""
    return pd.DataFrame(
        {
            "order_id": [f"ORD-{i}" for i in range(rows)],
            "customer_id": [f"CUST-{i % 3}" for i in range(rows)],
            "product_id": [f"PROD-{i}" for i in range(rows)],
            "category": ["Books"] * rows,
            "quantity": np.arange(1, rows + 1, dtype=np.int64),
            "unit_price": [9.99] * rows,
            "total_amount": [round(9.99 * q, 2) for q in range(1, rows + 1)],
            "order_timestamp": [f"2024-03-09T{h:02d}:15:00" for h in range(rows)],
            "status": ["completed"] * rows,
            "payment_method": ["paypal"] * rows,
        }
    )


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as read_orders_csv returns a file that fails typed parsing: every column text."""
    return frame.astype(object).where(frame.notna(), None).map(lambda v: None if v is None else str(v))


@pytest.mark.parametrize(
    "date", [datetime.date(2024, 1, 1), DAY, datetime.date(2024, 2, 29), datetime.date(2025, 6, 1)]
)
def test_generated_day_passes_every_rule(date):
    orders = generate_orders(date, GenerationSettings())
    results = validate_orders(orders, date, min_orders=50)
    assert [r.rule for r in results] == RULES, "results come in the order of the rules"
    assert failed_rules(results) == [], [r for r in results if not r.passed]
    assert all(r.failing_rows == 0 for r in results)


def test_generated_day_read_back_from_csv_passes_every_rule(tmp_path):
    write_csv(generate_orders(DAY, GenerationSettings()), tmp_path / "orders.csv")
    assert failed_rules(validate_orders(read_orders_csv(tmp_path / "orders.csv"), DAY, 50)) == []


def test_crafted_clean_frame_passes_every_rule():
    results = validate_orders(clean_frame(), DAY, min_orders=5)
    assert all(r.passed for r in results), results
    assert by_rule(results)["required_columns"].detail == f"all {len(ORDER_COLUMNS)} columns present"
    assert by_rule(results)["critical_not_null"].detail == "no nulls in critical fields"


def test_min_orders_fails_below_the_threshold_and_names_the_shortfall():
    result = by_rule(validate_orders(clean_frame(5), DAY, min_orders=8))["min_orders"]
    assert not result.passed
    assert result.failing_rows == 3
    assert result.detail == "5 orders, at least 8 required"


def test_min_orders_passes_at_exactly_the_threshold():
    result = by_rule(validate_orders(clean_frame(5), DAY, min_orders=5))["min_orders"]
    assert result.passed and result.failing_rows == 0


def test_missing_columns_fail_and_short_circuit_the_other_rules():
    frame = clean_frame().drop(columns=["status", "quantity"])
    results = validate_orders(frame, DAY, min_orders=1)
    assert [r.rule for r in results] == ["min_orders", "required_columns"], "row rules are not run"
    required = results[1]
    assert not required.passed
    assert required.detail == "missing columns: quantity, status", "named in canonical column order"
    assert results[0].passed


def test_missing_columns_on_an_empty_frame_fail_both_rules():
    results = validate_orders(pd.DataFrame(), DAY, min_orders=3)
    assert [(r.rule, r.passed, r.failing_rows) for r in results] == [
        ("min_orders", False, 3),
        ("required_columns", False, 0),
    ]
    assert results[1].detail == "missing columns: " + ", ".join(ORDER_COLUMNS)


def test_extra_columns_are_allowed():
    frame = clean_frame().assign(coupon="SPRING")
    assert failed_rules(validate_orders(frame, DAY, min_orders=1)) == []


def test_critical_nulls_fail_with_counts_per_column_and_distinct_rows():
    frame = clean_frame(6)
    frame.loc[[1, 3], "customer_id"] = None
    frame.loc[3, "unit_price"] = np.nan  # same row as a customer_id null
    frame.loc[4, "order_timestamp"] = None

    result = by_rule(validate_orders(frame, DAY, min_orders=1))["critical_not_null"]

    assert not result.passed
    assert result.failing_rows == 3, "rows 1, 3 and 4"
    assert result.detail == "customer_id: 2 null, order_timestamp: 1 null, unit_price: 1 null"


@pytest.mark.parametrize("column", CRITICAL_COLUMNS)
def test_each_critical_column_is_checked(column):
    frame = clean_frame()
    frame[column] = frame[column].astype(object)
    frame.loc[2, column] = None
    result = by_rule(validate_orders(frame, DAY, min_orders=1))["critical_not_null"]
    assert not result.passed and result.failing_rows == 1
    assert result.detail == f"{column}: 1 null"


@pytest.mark.parametrize("column", ["category", "status", "payment_method", "product_id", "total_amount"])
def test_nulls_in_non_critical_columns_pass(column):
    frame = clean_frame()
    frame.loc[0, column] = None
    assert by_rule(validate_orders(frame, DAY, min_orders=1))["critical_not_null"].passed


def test_non_numeric_values_fail_with_the_number_of_rows():
    frame = as_text(clean_frame(6))
    frame.loc[1, "quantity"] = "two"
    frame.loc[1, "total_amount"] = "n/a"  # same row: counted once
    frame.loc[3, "unit_price"] = "9,99"
    frame.loc[5, "total_amount"] = None  # a null is not non-numeric

    result = by_rule(validate_orders(frame, DAY, min_orders=1))["numeric_fields"]

    assert not result.passed
    assert result.failing_rows == 2
    assert result.detail == "2 rows with a non-numeric amount or a fractional quantity"


def test_numeric_text_passes_the_numeric_rule():
    result = by_rule(validate_orders(as_text(clean_frame()), DAY, min_orders=1))["numeric_fields"]
    assert result.passed and result.failing_rows == 0


def test_timestamps_outside_the_day_or_unparseable_fail():
    frame = clean_frame(8)
    frame["order_timestamp"] = [
        "2024-03-09T00:00:00",  # start of day: inside
        "2024-03-09T23:59:59",  # inside
        "2024-03-08T23:59:59",  # day before
        "2024-03-10T00:00:00",  # next midnight: end is exclusive
        "yesterday",  # unparseable
        "2024-13-01T00:00:00",  # not a date
        "2024-03-09 12:00:00",  # ISO with a space: inside
        "2024-03-09T12:00:00.250",  # fractional seconds: inside
    ]
    result = by_rule(validate_orders(frame, DAY, min_orders=1))["timestamps_in_day"]
    assert not result.passed
    assert result.failing_rows == 4
    assert result.detail == "4 timestamps unparseable or outside 2024-03-09"


def test_timestamps_of_another_day_fail_every_row():
    frame = clean_frame(5)
    result = by_rule(validate_orders(frame, datetime.date(2024, 3, 10), min_orders=1))["timestamps_in_day"]
    assert not result.passed and result.failing_rows == 5


def test_null_timestamp_is_left_to_the_critical_rule():
    frame = clean_frame()
    frame.loc[0, "order_timestamp"] = None
    results = by_rule(validate_orders(frame, DAY, min_orders=1))
    assert results["timestamps_in_day"].passed
    assert not results["critical_not_null"].passed


def test_several_rules_fail_together():
    frame = as_text(clean_frame(4))
    frame.loc[0, "customer_id"] = None
    frame.loc[1, "quantity"] = "x"
    frame.loc[2, "order_timestamp"] = "2024-03-11T00:00:00"
    results = validate_orders(frame, DAY, min_orders=10)
    assert [r.rule for r in failed_rules(results)] == [
        "min_orders",
        "critical_not_null",
        "numeric_fields",
        "timestamps_in_day",
    ]


def test_failed_rules_keeps_only_failures_in_order():
    results = [RuleResult("a", True, ""), RuleResult("b", False, "", 2), RuleResult("c", False, "", 1)]
    assert [r.rule for r in failed_rules(results)] == ["b", "c"]
    assert failed_rules([]) == []


def test_rule_result_as_dict():
    assert RuleResult("min_orders", False, "3 orders", 47).as_dict() == {
        "rule": "min_orders",
        "passed": False,
        "detail": "3 orders",
        "failing_rows": 47,
    }
    assert RuleResult("x", True, "ok").failing_rows == 0


def test_order_timestamps_parses_iso_and_coerces_garbage_to_nat():
    stamps = order_timestamps(pd.DataFrame({"order_timestamp": ["2024-03-09T10:11:12", "garbage", None, "2024-03-09"]}))
    assert stamps.iloc[0] == pd.Timestamp(2024, 3, 9, 10, 11, 12)
    assert pd.isna(stamps.iloc[1]) and pd.isna(stamps.iloc[2])
    assert stamps.iloc[3] == pd.Timestamp(2024, 3, 9)
    assert stamps.dt.tz is None


def test_validate_file_reads_and_validates_a_generated_day(tmp_path):
    orders = generate_orders(DAY, GenerationSettings())
    write_csv(orders, tmp_path / "orders.csv")
    rows, results = validate_file(tmp_path / "orders.csv", DAY, min_orders=50)
    assert rows == len(orders)
    assert [r.rule for r in results] == RULES
    assert failed_rules(results) == []


def test_validate_file_reports_rule_failures_of_a_readable_file(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        ",".join(ORDER_COLUMNS)
        + "\nORD-1,CUST-1,PROD-1,Books,x,1.0,1.0,2024-03-09T10:00:00,completed,paypal"
        + "\nORD-2,CUST-1,PROD-1,Books,1,1.0,1.0,2024-03-10T10:00:00,completed,paypal\n"
    )
    rows, results = validate_file(path, DAY, min_orders=5)
    assert rows == 2
    failed = {r.rule: r.failing_rows for r in failed_rules(results)}
    assert failed == {"min_orders": 3, "numeric_fields": 1, "timestamps_in_day": 1}


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty file", b""),
        ("ragged rows", (",".join(ORDER_COLUMNS) + "\nORD-1,CUST-1\n").encode()),
        ("binary garbage", b"\xff\xfe\x00garbage\x80\x81\n\x00\x01"),
        (
            "latin-1 text",
            (",".join(ORDER_COLUMNS) + "\n").encode()
            + b"ORD-1,CUST-1,PROD-1,Caf\xe9,1,1.0,1.0,2024-03-09T10:00:00,completed,paypal\n",
        ),
    ],
)
def test_validate_file_fails_an_unreadable_file_by_rule_instead_of_raising(tmp_path, name, content):
    path = tmp_path / "orders.csv"
    path.write_bytes(content)
    rows, results = validate_file(path, DAY, min_orders=1)
    assert rows == 0, name
    assert len(results) == 1
    assert results[0].rule == "readable_csv" and not results[0].passed
    assert results[0].detail.startswith("not a readable CSV file: ")


def test_validate_file_of_a_header_only_file_fails_min_orders(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(",".join(ORDER_COLUMNS) + "\n")
    rows, results = validate_file(path, DAY, min_orders=1)
    assert rows == 0
    assert [r.rule for r in failed_rules(results)] == ["min_orders"]


def test_validate_file_with_other_columns_reports_them_missing(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,amount\nORD-1,3.5\n")
    rows, results = validate_file(path, DAY, min_orders=1)
    assert rows == 1
    assert [r.rule for r in results] == ["min_orders", "required_columns"]
    assert results[1].detail.startswith("missing columns: customer_id, product_id, category")


def test_validation_error_is_an_exception():
    assert issubclass(DataValidationError, Exception)


@pytest.mark.parametrize("case", ["one row with an offset", "every row in UTC 'Z' form"])
def test_timestamps_with_utc_offset_are_reported_not_crashed_on(case):
    frame = clean_frame(5)
    if case == "one row with an offset":
        frame.loc[2, "order_timestamp"] = "2024-03-09T10:00:00+01:00"
    else:
        frame["order_timestamp"] = frame["order_timestamp"] + "Z"
    results = validate_orders(frame, DAY, min_orders=1)
    assert [r.rule for r in results] == RULES


@pytest.mark.parametrize("quantity", ["2.5", "2.0"])
def test_a_day_that_passes_validation_can_be_cleaned(tmp_path, quantity):
    path = tmp_path / "orders.csv"
    frame = generate_orders(DAY, GenerationSettings()).astype({"quantity": object})
    frame.loc[3, "quantity"] = quantity
    frame.to_csv(path, index=False)
    orders = read_orders_csv(path)

    if failed_rules(validate_orders(orders, DAY, min_orders=50)):
        return  # rejected at the gate with a named rule: fine
    clean_orders(orders)  # accepted at the gate: processing must not crash
