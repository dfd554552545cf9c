"""The order files' bytes: typed CSV round trips, and a text fallback that lets validation speak."""

from __future__ import annotations

import datetime
import os

import numpy as np
import pandas as pd
import pytest

from etl.csv_io import ORDER_COLUMNS, read_orders_csv, write_csv
from etl.generation import GenerationSettings, generate_orders
from etl.validation import validate_orders

DAY = datetime.date(2024, 3, 9)
HEADER = ",".join(ORDER_COLUMNS)


def crafted_orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["ORD-1", "ORD-2", "ORD-3"],
            "customer_id": ["CUST-00001", "CUST-00002", "CUST-00001"],
            "product_id": ["PROD-0001", "PROD-0002", "PROD-0003"],
            "category": ["Home & Garden", None, 'Books, "rare"'],
            "quantity": np.array([1, -2, 5], dtype=np.int64),
            "unit_price": [0.1, 1234.56, 0.30000000000000004],
            "total_amount": [0.1, -2469.12, 1.5],
            "order_timestamp": ["2024-03-09T00:00:00", "2024-03-09T12:34:56", "2024-03-09T23:59:59"],
            "status": ["completed", "pending", None],
            "payment_method": ["paypal", None, "gift_card"],
        }
    )


def write_text(path, lines: list[str]) -> None:
    path.write_text("\n".join([HEADER, *lines]) + "\n")


def test_round_trip_of_crafted_orders_keeps_values_and_types(tmp_path):
    original = crafted_orders()
    write_csv(original, tmp_path / "orders.csv")

    back = read_orders_csv(tmp_path / "orders.csv")

    assert list(back.columns) == list(ORDER_COLUMNS)
    assert back["quantity"].dtype == np.int64
    assert back["unit_price"].dtype == np.float64
    assert back["total_amount"].dtype == np.float64
    assert back["quantity"].tolist() == [1, -2, 5]
    assert back["unit_price"].tolist() == [0.1, 1234.56, 0.30000000000000004], "floats survive bit for bit"
    assert back["category"].tolist()[0] == "Home & Garden"
    assert back["category"].tolist()[2] == 'Books, "rare"', "commas and quotes are escaped"
    assert back["category"].isna().tolist() == [False, True, False], "a null stays null"
    assert back["status"].isna().tolist() == [False, False, True]
    assert back["order_timestamp"].tolist() == original["order_timestamp"].tolist(), "timestamps stay text"
    for column in ("order_id", "customer_id", "category", "order_timestamp"):
        assert pd.api.types.is_string_dtype(back[column]), column


def test_round_trip_of_a_generated_day_is_exact(tmp_path):
    original = generate_orders(DAY, GenerationSettings())
    write_csv(original, tmp_path / "orders.csv")
    pd.testing.assert_frame_equal(read_orders_csv(tmp_path / "orders.csv"), original)


def test_write_csv_has_header_no_index_and_creates_parents(tmp_path):
    target = tmp_path / "raw" / "year=2024" / "month=03" / "day=09" / "orders.csv"
    frame = crafted_orders().set_index(pd.Index([10, 20, 30]))
    write_csv(frame, target)
    lines = target.read_text().splitlines()
    assert len(lines) == 4
    assert lines[0].replace('"', "") == HEADER, "exactly the columns, no index column"
    assert lines[1].split(",")[0].strip('"') == "ORD-1"
    assert sorted(os.listdir(target.parent)) == ["orders.csv"], "no temporary file left behind"


def test_write_csv_replaces_an_existing_file(tmp_path):
    target = tmp_path / "orders.csv"
    target.write_text("old content\n")
    write_csv(crafted_orders(), target)
    assert read_orders_csv(target)["order_id"].tolist() == ["ORD-1", "ORD-2", "ORD-3"]


def test_non_numeric_quantity_is_read_as_text_so_validation_can_report_it(tmp_path):
    path = tmp_path / "orders.csv"
    write_text(
        path,
        [
            "ORD-1,CUST-1,PROD-1,Books,2,10.5,21.0,2024-03-09T10:00:00,completed,paypal",
            "ORD-2,CUST-2,PROD-2,Books,two,10.5,21.0,2024-03-09T11:00:00,completed,paypal",
        ],
    )

    frame = read_orders_csv(path)

    assert len(frame) == 2
    assert frame["quantity"].tolist() == ["2", "two"], "every value kept, as text"
    assert frame["unit_price"].tolist() == ["10.5", "10.5"]
    results = {r.rule: r for r in validate_orders(frame, DAY, min_orders=1)}
    assert not results["numeric_fields"].passed
    assert results["numeric_fields"].failing_rows == 1


def test_empty_numeric_field_is_read_as_null(tmp_path):
    path = tmp_path / "orders.csv"
    write_text(
        path,
        [
            "ORD-1,CUST-1,PROD-1,Books,,10.5,21.0,2024-03-09T10:00:00,completed,paypal",
            "ORD-2,CUST-2,PROD-2,,1,10.5,10.5,2024-03-09T11:00:00,,paypal",
        ],
    )
    frame = read_orders_csv(path)
    assert frame["quantity"].isna().tolist() == [True, False]
    assert frame["category"].isna().tolist() == [False, True]
    assert frame["status"].isna().tolist() == [False, True]
    results = {r.rule: r for r in validate_orders(frame, DAY, min_orders=1)}
    assert not results["critical_not_null"].passed
    assert results["critical_not_null"].failing_rows == 1


def test_reading_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_orders_csv(tmp_path / "nope.csv")
