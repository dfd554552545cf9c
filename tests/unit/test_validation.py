"""The quality gate: every rule fails on a frame crafted to break it and passes on a generated day."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from etl import steps
from etl.csv_io import ORDER_COLUMNS, read_orders, write_orders
from etl.generation import GenerationSettings, generate_orders
from etl.storage import LocalStore, dumps_json
from etl.storage.layout import file_key
from etl.transform import clean_orders, summarize_day
from etl.validation import (
    CANONICAL_TIME,
    CRITICAL_COLUMNS,
    DATE_ONLY,
    NUMERIC_COLUMNS,
    DataValidationError,
    RuleResult,
    exact_strptime,
    failed_rules,
    order_timestamps,
    unreadable,
    validate_orders,
)

DAY = datetime.date(2024, 3, 9)
ORDERS_KEY = file_key("raw", DAY, "orders.csv")
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
    """The frame as read_orders returns a file that fails typed parsing: every column text."""
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


def store_with_raw_file(tmp_path, content: bytes) -> LocalStore:
    """A store whose raw partition of DAY holds ``content`` as its orders file."""
    path = tmp_path / ORDERS_KEY
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    return LocalStore(tmp_path)


def test_generated_day_read_back_from_csv_passes_every_rule(tmp_path):
    store = LocalStore(tmp_path)
    write_orders(store, ORDERS_KEY, generate_orders(DAY, GenerationSettings()))
    assert failed_rules(validate_orders(read_orders(store, ORDERS_KEY), DAY, 50)) == []


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


def test_the_critical_columns_include_total_amount():
    assert CRITICAL_COLUMNS == ("order_id", "customer_id", "order_timestamp", "quantity", "unit_price", "total_amount")


def test_a_null_total_amount_fails():
    frame = clean_frame(5)
    frame.loc[[1, 4], "total_amount"] = np.nan

    results = by_rule(validate_orders(frame, DAY, min_orders=1))

    assert not results["critical_not_null"].passed
    assert results["critical_not_null"].failing_rows == 2
    assert results["critical_not_null"].detail == "total_amount: 2 null"
    assert results["numeric_fields"].passed, "a null is the not-null rule's, not the numeric rule's"


def test_a_null_total_amount_read_from_a_file_fails(tmp_path):
    lines = [
        "ORD-1,CUST-1,PROD-1,Books,1,9.99,9.99,2024-03-09T10:00:00,completed,paypal",
        "ORD-2,CUST-2,PROD-2,Books,1,9.99,,2024-03-09T11:00:00,completed,paypal",
    ]
    store = store_with_raw_file(tmp_path, ("\n".join([",".join(ORDER_COLUMNS), *lines]) + "\n").encode())
    failed = {r.rule: r for r in failed_rules(validate_orders(read_orders(store, ORDERS_KEY), DAY, min_orders=1))}
    assert list(failed) == ["critical_not_null"]
    assert failed["critical_not_null"].detail == "total_amount: 1 null"


@pytest.mark.parametrize("column", ["category", "status", "payment_method", "product_id"])
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
    assert result.detail == "2 rows with a non-numeric or non-finite amount or a fractional quantity"


@pytest.mark.parametrize("text", ["inf", "-inf", "Infinity", "1e999"])
def test_an_infinite_total_amount_as_text_fails(text):
    frame = as_text(clean_frame(5))
    frame.loc[3, "total_amount"] = text

    results = by_rule(validate_orders(frame, DAY, min_orders=1))

    assert not results["numeric_fields"].passed
    assert results["numeric_fields"].failing_rows == 1
    assert results["critical_not_null"].passed


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_an_infinite_total_amount_as_a_number_fails(value):
    frame = clean_frame(5)
    frame.loc[0, "total_amount"] = value
    result = by_rule(validate_orders(frame, DAY, min_orders=1))["numeric_fields"]
    assert not result.passed and result.failing_rows == 1


@pytest.mark.parametrize("column", NUMERIC_COLUMNS)
def test_infinity_fails_in_every_numeric_column(column):
    frame = as_text(clean_frame(5))
    frame.loc[2, column] = "inf"
    result = by_rule(validate_orders(frame, DAY, min_orders=1))["numeric_fields"]
    assert not result.passed and result.failing_rows == 1, column


def test_inf_total_amount_read_from_a_file_fails(tmp_path):
    lines = [
        "ORD-1,CUST-1,PROD-1,Books,1,9.99,9.99,2024-03-09T10:00:00,completed,paypal",
        "ORD-2,CUST-2,PROD-2,Books,1,9.99,inf,2024-03-09T11:00:00,completed,paypal",
        "ORD-3,CUST-3,PROD-3,Books,1,9.99,-inf,2024-03-09T12:00:00,completed,paypal",
    ]
    store = store_with_raw_file(tmp_path, ("\n".join([",".join(ORDER_COLUMNS), *lines]) + "\n").encode())
    orders = read_orders(store, ORDERS_KEY)
    assert orders["total_amount"].dtype == np.float64, "read as numbers: the typed parse accepts inf"
    failed = {r.rule: r.failing_rows for r in failed_rules(validate_orders(orders, DAY, min_orders=1))}
    assert failed == {"numeric_fields": 2}


@pytest.mark.parametrize("text", ["nan", "NaN", "-nan"])
def test_a_nan_unit_price_as_text_fails(text):
    frame = as_text(clean_frame(5))
    frame.loc[1, "unit_price"] = text
    result = by_rule(validate_orders(frame, DAY, min_orders=1))["numeric_fields"]
    assert not result.passed and result.failing_rows == 1


def test_a_nan_unit_price_read_from_a_file_fails(tmp_path):
    lines = [
        "ORD-1,CUST-1,PROD-1,Books,1,9.99,9.99,2024-03-09T10:00:00,completed,paypal",
        "ORD-2,CUST-2,PROD-2,Books,1,nan,9.99,2024-03-09T11:00:00,completed,paypal",
    ]
    store = store_with_raw_file(tmp_path, ("\n".join([",".join(ORDER_COLUMNS), *lines]) + "\n").encode())
    failed = failed_rules(validate_orders(read_orders(store, ORDERS_KEY), DAY, min_orders=1))
    # Arrow reads "nan" as a null, so it is the not-null rule that names it.
    assert [(r.rule, r.failing_rows, r.detail) for r in failed] == [("critical_not_null", 1, "unit_price: 1 null")]


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


@pytest.mark.parametrize(
    ("form", "text", "expected"),
    [
        (CANONICAL_TIME, "2024-02-29T23:59:59", datetime.datetime(2024, 2, 29, 23, 59, 59)),
        (CANONICAL_TIME, "2024-01-05T00:00:00", datetime.datetime(2024, 1, 5)),
        (CANONICAL_TIME, "2024-12-31T09:05:07", datetime.datetime(2024, 12, 31, 9, 5, 7)),
        (DATE_ONLY, "2024-02-29", datetime.datetime(2024, 2, 29)),
        (DATE_ONLY, "2023-12-31", datetime.datetime(2023, 12, 31)),
        (CANONICAL_TIME, "2024-02-30T10:00:00", None),  # rolled over into March by strptime alone
        (CANONICAL_TIME, "2023-02-29T00:00:00", None),
        (CANONICAL_TIME, "2024-04-31T12:00:00", None),
        (CANONICAL_TIME, "2024-01-05T23:59:60", None),  # rolled over into the next day
        (CANONICAL_TIME, "2024-01-05T24:00:00", None),
        (CANONICAL_TIME, "2024-1-05T10:00:00", None),  # not zero-padded
        (CANONICAL_TIME, "2024-01-05T9:00:00", None),
        (CANONICAL_TIME, " 2024-01-05T10:00:00", None),  # padded with spaces
        (CANONICAL_TIME, "2024-01-05T10:00:00 ", None),
        (CANONICAL_TIME, "2024-01-05", None),  # the other form
        (DATE_ONLY, "2024-02-30", None),
        (DATE_ONLY, "2023-02-29", None),
        (DATE_ONLY, "2024-04-31", None),
        (DATE_ONLY, "2024-1-5", None),
        (DATE_ONLY, "2024-01-5", None),
        (DATE_ONLY, " 2024-01-05", None),
        (DATE_ONLY, "2024-01-05 ", None),
        (DATE_ONLY, "2024-01-05T00:00:00", None),
        (DATE_ONLY, None, None),
    ],
)
def test_exact_strptime_reads_only_the_exact_form_of_a_real_moment(form, text, expected):
    parsed = exact_strptime(pa.array(["2024-03-01" if form == DATE_ONLY else "2024-03-01T00:00:00", text]), form)
    assert parsed.to_pylist() == [datetime.datetime(2024, 3, 1), expected]


def test_order_timestamps_of_an_impossible_date_is_nat_not_the_next_month():
    stamps = order_timestamps(
        pd.DataFrame({"order_timestamp": ["2024-02-30T10:00:00", "2024-02-29T10:00:00", "2024-02-30T10:00:00Z"]})
    )
    assert pd.isna(stamps.iloc[0]), f"2024-02-30T10:00:00 read as {stamps.iloc[0]}"
    assert stamps.iloc[1] == pd.Timestamp(2024, 2, 29, 10)
    assert pd.isna(stamps.iloc[2])


def test_unreadable_is_the_readable_csv_rule_failing():
    error = pa.ArrowInvalid("CSV parse error: Expected 10 columns, got 2")
    assert unreadable(error) == [
        RuleResult("readable_csv", False, "not a readable CSV file: CSV parse error: Expected 10 columns, got 2", 0)
    ]
    assert failed_rules(unreadable(error)) == unreadable(error)


def test_validate_day_writes_the_report_of_a_generated_day(tmp_path):
    store = LocalStore(tmp_path)
    orders = generate_orders(DAY, GenerationSettings())
    write_orders(store, ORDERS_KEY, orders)

    steps.validate_day(store, DAY, min_orders=50, timezone="UTC", max_rejected_share=0.01)

    report = store.read_json(file_key("raw", DAY, "validation_report.json"))
    assert report["rows"] == len(orders)
    assert report["passed"] is True
    assert report["file"] == ORDERS_KEY
    assert [r["rule"] for r in report["rules"]] == RULES
    assert sorted(store.list_partition("raw", DAY)) == ["_validate.json", "orders.csv", "validation_report.json"]


def test_validate_day_reports_rule_failures_of_a_readable_file(tmp_path):
    store = store_with_raw_file(
        tmp_path,
        (
            ",".join(ORDER_COLUMNS)
            + "\nORD-1,CUST-1,PROD-1,Books,x,1.0,1.0,2024-03-09T10:00:00,completed,paypal"
            + "\nORD-2,CUST-1,PROD-1,Books,1,1.0,1.0,2024-03-10T10:00:00,completed,paypal\n"
        ).encode(),
    )
    with pytest.raises(DataValidationError, match="validation failed for 2024-03-09") as raised:
        steps.validate_day(store, DAY, min_orders=5, timezone="UTC", max_rejected_share=0.01)
    assert str(tmp_path / ORDERS_KEY) in str(raised.value), "the error names the file"
    failure = store.read_json(file_key("raw", DAY, "validation_failed.json"))
    assert failure["rows"] == 2 and failure["passed"] is False
    failed = {r["rule"]: r["failing_rows"] for r in failure["rules"] if not r["passed"]}
    assert failed == {"min_orders": 3, "numeric_fields": 1, "timestamps_in_day": 1}
    assert "validation_report.json" not in store.list_partition("raw", DAY), "no report for a failed day"


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
def test_an_unreadable_file_fails_by_rule_instead_of_crashing(tmp_path, name, content):
    store = store_with_raw_file(tmp_path, content)
    with pytest.raises((pa.ArrowInvalid, UnicodeDecodeError)):
        read_orders(store, ORDERS_KEY)  # what the validation step turns into the readable_csv rule

    with pytest.raises(DataValidationError, match="readable_csv: not a readable CSV file: "):
        steps.validate_day(store, DAY, min_orders=1, timezone="UTC", max_rejected_share=0.01)

    failure = store.read_json(file_key("raw", DAY, "validation_failed.json"))
    assert failure["rows"] == 0, name
    assert len(failure["rules"]) == 1
    assert failure["rules"][0]["rule"] == "readable_csv" and not failure["rules"][0]["passed"]
    assert failure["rules"][0]["detail"].startswith("not a readable CSV file: ")


def test_a_header_only_file_fails_min_orders(tmp_path):
    store = store_with_raw_file(tmp_path, (",".join(ORDER_COLUMNS) + "\n").encode())
    orders = read_orders(store, ORDERS_KEY)
    assert len(orders) == 0
    assert [r.rule for r in failed_rules(validate_orders(orders, DAY, min_orders=1))] == ["min_orders"]


def test_a_file_with_other_columns_reports_them_missing(tmp_path):
    store = store_with_raw_file(tmp_path, b"order_id,amount\nORD-1,3.5\n")
    orders = read_orders(store, ORDERS_KEY)
    assert len(orders) == 1
    results = validate_orders(orders, DAY, min_orders=1)
    assert [r.rule for r in results] == ["min_orders", "required_columns"]
    assert results[1].detail.startswith("missing columns: customer_id, product_id, category")


def test_a_failure_marker_is_removed_once_the_day_passes(tmp_path):
    store = store_with_raw_file(tmp_path, b"")
    with pytest.raises(DataValidationError):
        steps.validate_day(store, DAY, min_orders=1, timezone="UTC", max_rejected_share=0.01)
    assert "validation_failed.json" in store.list_partition("raw", DAY)

    write_orders(store, ORDERS_KEY, generate_orders(DAY, GenerationSettings()))
    steps.validate_day(store, DAY, min_orders=50, timezone="UTC", max_rejected_share=0.01)

    assert sorted(store.list_partition("raw", DAY)) == ["_validate.json", "orders.csv", "validation_report.json"]


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
    frame = generate_orders(DAY, GenerationSettings()).astype({"quantity": object})
    frame.loc[3, "quantity"] = quantity
    store = store_with_raw_file(tmp_path, frame.to_csv(index=False).encode())
    orders = read_orders(store, ORDERS_KEY)

    if failed_rules(validate_orders(orders, DAY, min_orders=50)):
        return  # rejected at the gate with a named rule: fine
    clean_orders(orders)  # accepted at the gate: processing must not crash


@pytest.mark.parametrize("column", NUMERIC_COLUMNS)
@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "1e999", ""])
def test_a_missing_or_non_finite_amount_in_a_file_never_passes_the_gate(tmp_path, column, text):
    """Such a value would make the day's summary a figure JSON cannot hold: the gate stops it, naming one row."""
    frame = generate_orders(DAY, GenerationSettings()).astype({column: object})
    frame.loc[3, column] = text
    store = store_with_raw_file(tmp_path, frame.to_csv(index=False).encode())
    orders = read_orders(store, ORDERS_KEY)

    failures = failed_rules(validate_orders(orders, DAY, min_orders=50))

    assert failures, f"{column}={text!r} must not pass the gate"
    assert {r.failing_rows for r in failures} == {1}


def test_a_clean_day_gives_a_summary_json_can_hold(tmp_path):
    store = LocalStore(tmp_path)
    write_orders(store, ORDERS_KEY, generate_orders(DAY, GenerationSettings()))
    orders = read_orders(store, ORDERS_KEY)
    assert failed_rules(validate_orders(orders, DAY, min_orders=50)) == []
    cleaned, stats = clean_orders(orders)
    assert json.loads(dumps_json(summarize_day(cleaned, DAY, stats)))["total_orders"] == stats.rows_out
