"""Export rows made canonical: column mapping, derived amounts, business days and refused rows."""

from __future__ import annotations

import datetime

import pyarrow as pa
import pytest

from etl.ingest import ColumnPlan, ExportError, business_days, canonical_orders, plan_columns, refusals

D = datetime.date
EXPORT_MAP = {"OrderID": "order_id", "Customer": "customer_id", "Qty": "quantity", "When": "order_timestamp"}


def text_table(**columns: list) -> pa.Table:
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def test_columns_are_mapped_and_the_others_dropped_and_listed():
    plan = plan_columns(
        ["OrderID", "Customer", "Qty", "When", "Total", "Channel"], {**EXPORT_MAP, "Total": "total_amount"}
    )

    assert plan == ColumnPlan(
        rename={"OrderID": "order_id", "Customer": "customer_id", "Qty": "quantity", "When": "order_timestamp",
                "Total": "total_amount"},
        dropped=("Channel",),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (["OrderID;Customer;Qty;When;Total"], "the header is one column"),
        (
            ["OrderID", "Customer", "Qty", "Total"],
            "required columns missing after [landing] column_map: order_timestamp",
        ),
        (["OrderID", "Customer", "Qty", "When"], "unit_price or total_amount"),
        (["OrderID", "order_id", "Customer", "Qty", "When", "Total"], "more than one column maps to order_id"),
    ],
)
def test_a_header_that_cannot_be_mapped_is_a_file_level_error(header, message):
    with pytest.raises(ExportError, match=message.replace("[", r"\[").replace("]", r"\]")):
        plan_columns(header, {**EXPORT_MAP, "Total": "total_amount"})


def test_the_missing_amount_is_derived_and_absent_optional_columns_are_empty():
    export = text_table(OrderID=["A", "B"], Customer=["c", "c"], Qty=["3", "2"], When=["2024-01-05", "2024-01-05"],
                        Total=["10.00", "7.5"])  # fmt: skip
    plan = plan_columns(list(export.column_names), {**EXPORT_MAP, "Total": "total_amount"})

    orders = canonical_orders(export, plan)

    assert orders.column_names[:7] == ["order_id", "customer_id", "product_id", "category", "quantity", "unit_price",
                                       "total_amount"]  # fmt: skip
    assert [float(v) for v in orders.column("unit_price").to_pylist()] == [10 / 3, 3.75]
    assert orders.column("total_amount").to_pylist() == ["10.00", "7.5"], "given values stay text, byte for byte"
    assert orders.column("category").null_count == 2

    with_price = text_table(OrderID=["A"], Customer=["c"], Qty=["3"], When=["2024-01-05"], Price=["3.335"])
    priced = canonical_orders(
        with_price, plan_columns(list(with_price.column_names), {**EXPORT_MAP, "Price": "unit_price"})
    )
    assert priced.column("total_amount").to_pylist() == ["10"], "round(3 x 3.335, 2) written as text"


def test_each_row_goes_to_its_business_day_in_the_configured_timezone():
    orders = text_table(order_timestamp=[
        "2024-03-10",  # a date alone is that day
        "2024-03-10T01:59:00",  # a naive time is local
        "2024-03-10T06:30:00Z",  # 01:30 in New York (EST)
        "2024-03-11T03:30:00+00:00",  # 23:30 on the 10th in New York (EDT since 03:00 local)
        "2024-11-03T05:30:00Z",  # 01:30 EDT, before the clocks go back
        "2024-11-03T06:30:00Z",  # 01:30 EST, after
        "2024-02-29T23:59:59",
        "yesterday at noon",
        None,
    ])  # fmt: skip

    days = business_days(orders, "America/New_York").to_pylist()

    assert days == [D(2024, 3, 10), D(2024, 3, 10), D(2024, 3, 10), D(2024, 3, 10), D(2024, 11, 3), D(2024, 11, 3),
                    D(2024, 2, 29), None, None]  # fmt: skip


def test_a_refused_row_names_the_first_rule_it_breaks_and_text_is_never_evaluated():
    orders = text_table(
        order_id=["A", "OrderID", "C", "D", "E", "F", "G", '=HYPERLINK("x")'],
        customer_id=["c", "Customer", None, "c", "c", "c", "c", "c"],
        quantity=["1", "Qty", "1", "1.5", "inf", "100000", "2", "1"],
        order_timestamp=["2024-01-05"] * 8,
        unit_price=["2", "Price", "2", "2", "2", "2", "2000000", "@SUM(1)"],
        total_amount=["2", "Total", "2", "3", "2", "2", "2", "nan"],
    )
    days = pa.array([D(2024, 1, 5)] * 8, pa.date32())

    given = ("order_id", "customer_id", "quantity", "order_timestamp", "unit_price", "total_amount")
    reasons = refusals(orders, days, given, "OrderID", max_quantity=1000, max_unit_price=100000.0).to_pylist()

    assert reasons == [
        None,
        "repeated header line",
        "missing customer_id",
        "fractional quantity",
        "non-numeric or non-finite quantity",
        "quantity above max_quantity 1000",
        "unit_price above max_unit_price 100000.0",
        "non-numeric or non-finite unit_price",
    ]
    assert orders.column("order_id")[7].as_py() == '=HYPERLINK("x")', "a formula stays data"
