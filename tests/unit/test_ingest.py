"""Export rows made canonical: column mapping, derived amounts, business days and refused rows."""

from __future__ import annotations

import datetime
import random
import zoneinfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from etl.ingest import (
    ColumnPlan,
    ExportError,
    ValueFormat,
    _numbers,
    business_days,
    canonical_orders,
    dated,
    local_times,
    plain_numbers,
    plan_columns,
    refusals,
    rows_by_day,
    unfit_numbers,
)

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
    plan = ColumnPlan(rename={"OrderID" if name == "order_id" else name: name for name in given}, dropped=())
    reasons = refusals(orders, days, plan, max_quantity=1000, max_unit_price=100000.0).to_pylist()

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


@pytest.mark.parametrize(
    "text", ["2024-02-30", "2024-02-30T10:00:00", "2023-02-29T00:00:00", "2024-01-05T23:59:60", "2024-04-31"]
)
def test_an_impossible_date_or_time_has_no_business_day(text):
    """Not the day Arrow alone rolls it over into (2024-02-30 is not March 1st, 23:59:60 not the next day)."""
    alone = text_table(order_timestamp=[text])
    among_valid = text_table(order_timestamp=["2024-01-05T10:00:00", text, "2024-01-05", None])

    assert business_days(alone, "America/New_York").to_pylist() == [None]
    assert business_days(among_valid, "America/New_York").to_pylist() == [D(2024, 1, 5), None, D(2024, 1, 5), None]


def test_real_dates_and_times_at_the_edges_of_a_day_get_their_local_day():
    zone = zoneinfo.ZoneInfo("America/New_York")
    naive = ["2024-02-29", "2024-02-29T23:59:59", "2024-02-29T00:00:00", "2024-12-31T23:59:59"]
    with_offset = ["2024-03-01T04:59:59Z", "2024-03-01T05:00:00Z", "2024-03-01T04:59:59+00:00",
                   "2024-02-29T23:30:00-05:00", "2024-03-01T00:30:00+01:00", "2023-03-01T04:59:59Z"]  # fmt: skip
    expected = [datetime.datetime.fromisoformat(t).date() for t in naive] + [
        datetime.datetime.fromisoformat(t).astimezone(zone).date() for t in with_offset
    ]
    assert expected[4:7] == [D(2024, 2, 29), D(2024, 3, 1), D(2024, 2, 29)], "the expectation itself"

    days = business_days(text_table(order_timestamp=naive + with_offset), "America/New_York").to_pylist()

    assert days == expected
    assert business_days(text_table(order_timestamp=naive[:2]), "America/New_York").to_pylist() == expected[:2]


def group_rows(table: pa.Table, days: list) -> dict:
    """``rows_by_day`` as a dict of day -> the row numbers of its group, each day given once."""
    groups = list(rows_by_day(table, pa.array(days, pa.date32())))
    assert len({day for day, _ in groups}) == len(groups), "each day is one group"
    return {day: part.column("n").to_pylist() for day, part in groups}


def test_rows_are_grouped_by_day_each_group_in_table_order_with_a_none_group_for_rows_without_a_day():
    table = pa.table({"n": list(range(8))})
    days = [D(2024, 1, 6), D(2024, 1, 5), None, D(2024, 1, 6), D(1969, 12, 31), D(2024, 1, 5), None, D(2024, 1, 6)]

    assert group_rows(table, days) == {
        D(2024, 1, 5): [1, 5],
        D(2024, 1, 6): [0, 3, 7],
        D(1969, 12, 31): [4],
        None: [2, 6],
    }


def test_grouping_by_day_is_stable_on_a_large_shuffled_table():
    generator = random.Random(7)
    choices = [D(2024, 1, 1) + datetime.timedelta(days=i) for i in range(40)] + [None]
    days = [generator.choice(choices) for _ in range(20_000)]
    expected: dict = {}
    for n, day in enumerate(days):
        expected.setdefault(day, []).append(n)

    assert group_rows(pa.table({"n": list(range(len(days)))}), days) == expected


def test_a_table_of_one_day_is_returned_whole_and_in_its_order():
    table = pa.table({"n": [3, 1, 2], "order_id": ["c", "a", "b"]})

    [(day, part)] = list(rows_by_day(table, pa.array([D(2024, 1, 5)] * 3, pa.date32())))
    [(undated, undated_part)] = list(rows_by_day(table, pa.array([None] * 3, pa.date32())))

    assert day == D(2024, 1, 5) and part.equals(table)
    assert undated is None and undated_part.equals(table)


def test_an_empty_table_has_no_groups():
    assert list(rows_by_day(pa.table({"n": pa.array([], pa.int64())}), pa.array([], pa.date32()))) == []


MIXED_NUMBERS = ["1", "-2.5", ".5", "1e3", "+3", " 7", "1,5", "abc", "inf", "nan", "", None, "-inf", "1.", "7 ",
                 "Infinity", "1e999", "0x10", "-.5e-2", "1E3", "."]  # fmt: skip
PLAIN_NUMBERS = ["1", "-2.5", ".5", "1e3", "+3", "0", "123456789.123456789", "-0.001", "1E-3", None, "42."]


def pandas_numbers(values: list) -> np.ndarray:
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


@pytest.mark.parametrize("values", [MIXED_NUMBERS, PLAIN_NUMBERS], ids=["other spellings", "plain numbers"])
def test_numbers_are_what_pandas_makes_of_the_text(values):
    expected = pandas_numbers(values)
    assert np.isnan(expected).any() and np.isfinite(expected).any(), "the expectation holds both"

    one_chunk = _numbers(pa.array(values, pa.string()))
    chunked = _numbers(pa.chunked_array([pa.array(values[:4], pa.string()), pa.array(values[4:], pa.string())]))

    assert one_chunk.dtype == np.float64
    np.testing.assert_array_equal(one_chunk, expected)  # NaN where pandas gives NaN, inf signs kept
    np.testing.assert_array_equal(chunked, expected)


def test_plain_numbers_never_reach_pandas_and_other_spellings_go_alone(monkeypatch):
    seen = []
    real = pd.to_numeric

    def spy(values, *args, **kwargs):
        seen.append(list(values))
        return real(values, *args, **kwargs)

    monkeypatch.setattr(pd, "to_numeric", spy)
    _numbers(pa.array(PLAIN_NUMBERS, pa.string()))
    assert seen == []

    _numbers(pa.array(MIXED_NUMBERS, pa.string()))
    [sent] = seen
    assert {" 7", "1,5", "abc", "", "7 ", "0x10", "."} <= set(sent)
    assert not set(sent) & {"1", "-2.5", ".5", "1e3", "+3", "1.", "1E3", "-.5e-2", None}, "plain numbers stay out"


def test_many_random_decimal_spellings_are_read_as_pandas_reads_them():
    generator = random.Random(11)
    values = [f"{generator.uniform(-1e6, 1e6):.{generator.randint(0, 17)}f}" for _ in range(2_000)]
    values += [repr(generator.uniform(-1, 1) * 10 ** generator.randint(-30, 30)) for _ in range(2_000)]

    np.testing.assert_array_equal(_numbers(pa.array(values, pa.string())), pandas_numbers(values))
    np.testing.assert_array_equal(_numbers(pa.array([*values, "n/a"], pa.string())), pandas_numbers([*values, "n/a"]))


# numbers and times as the export spells them ------------------------------------------------------------


@pytest.mark.parametrize(
    ("decimal", "thousands", "values", "plain"),
    [
        (",", ".", ["1.234,50", "1.234", "12,5", "-3,00", "1.234.567", "0,99"],
         ["1234.50", "1234", "12.5", "-3.00", "1234567", "0.99"]),
        (".", ",", ["1,234.50", "12.5", "1,000,000"], ["1234.50", "12.5", "1000000"]),
        (",", "", ["12,50", "7"], ["12.50", "7"]),
        (",", " ", ["1 234,50"], ["1234.50"]),
        (".", "'", ["1'234.50"], ["1234.50"]),
    ],
)  # fmt: skip
def test_numbers_with_the_exports_marks_are_written_plainly(decimal, thousands, values, plain):
    export = text_table(Total=values)
    plan = ColumnPlan(rename={"Total": "total_amount"}, dropped=())

    assert plain_numbers(export.column("Total"), decimal, thousands).to_pylist() == plain
    assert unfit_numbers(export, plan, ValueFormat(decimal=decimal, thousands=thousands)).null_count == len(values)


@pytest.mark.parametrize(
    ("decimal", "thousands", "value"),
    [(",", ".", "1,234.50"), (",", ".", "12.34"), (",", "", "1.234"), (".", ",", "1,23"), (".", ",", "12,5")],
)
def test_a_number_that_does_not_fit_the_marks_is_refused_naming_the_column(decimal, thousands, value):
    export = text_table(Betrag=[value, "1"])
    plan = ColumnPlan(rename={"Betrag": "total_amount"}, dropped=())

    reasons = unfit_numbers(export, plan, ValueFormat(decimal=decimal, thousands=thousands)).to_pylist()

    assert reasons == [
        f'total_amount (column "Betrag") is not a number with [landing] decimal {decimal!r} and '
        f"thousands {thousands!r}",
        None,
    ]
    assert plain_numbers(export.column("Betrag"), decimal, thousands).to_pylist()[0] == value, "kept, to be refused"


def utc_to_local(moment: datetime.datetime, zone: str) -> str:
    """An instant as a zone's naive local time, by zoneinfo (independently of pandas)."""
    return moment.astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None).isoformat(timespec="seconds")


def local_to_local(text: str, source: str, zone: str, fold: int = 0) -> str:
    naive = datetime.datetime.fromisoformat(text).replace(tzinfo=zoneinfo.ZoneInfo(source), fold=fold)
    return utc_to_local(naive, zone)


def test_timestamps_in_other_formats_and_zones_become_business_local_times():
    utc = datetime.UTC
    cases = [
        (ValueFormat("UTC", "America/New_York", "%m/%d/%Y %I:%M %p"), ["01/05/2024 2:03 PM", "12/31/2024 11:59 PM"],
         [local_to_local("2024-01-05T14:03:00", "America/New_York", "UTC"),
          local_to_local("2024-12-31T23:59:00", "America/New_York", "UTC")]),
        (ValueFormat("Europe/Berlin", "Europe/Berlin", "%d.%m.%Y %H:%M"), ["05.01.2024 14:03", "5.1.2024 14:03"],
         ["2024-01-05T14:03:00", "2024-01-05T14:03:00"]),
        (ValueFormat("America/New_York", "UTC", "epoch_s"), ["1704463380", "1704463380.9"],
         [utc_to_local(datetime.datetime(2024, 1, 5, 14, 3, tzinfo=utc), "America/New_York")] * 2),
        (ValueFormat("Asia/Tokyo", "UTC", "epoch_ms"), ["1704499199000"],
         [utc_to_local(datetime.datetime(2024, 1, 5, 23, 59, 59, tzinfo=utc), "Asia/Tokyo")]),
        (ValueFormat("America/New_York", "UTC"), ["2024-01-05T02:00:00", "2024-01-05T02:00:00+01:00", "2024-01-05"],
         [local_to_local("2024-01-05T02:00:00", "UTC", "America/New_York"),
          utc_to_local(datetime.datetime(2024, 1, 5, 1, tzinfo=utc), "America/New_York"), "2024-01-05"]),
        (ValueFormat("UTC", "Europe/Berlin", "%d.%m.%Y"), ["05.01.2024"], ["2024-01-05"]),  # a date alone stays
    ]  # fmt: skip
    for value_format, values, expected in cases:
        assert local_times(pa.array(values, pa.string()), value_format).to_pylist() == expected, value_format


def test_naive_times_when_the_clocks_change_take_the_first_of_two_and_skip_forward():
    value_format = ValueFormat("UTC", "America/New_York")
    local = local_times(pa.array(["2024-11-03T01:30:00", "2024-03-10T02:30:00"]), value_format).to_pylist()

    assert local[0] == local_to_local("2024-11-03T01:30:00", "America/New_York", "UTC", fold=0), "EDT, the first"
    assert local[1] == "2024-03-10T07:30:00", "02:30 does not exist: 03:30 EDT, 07:30 UTC"


@pytest.mark.parametrize(
    ("value_format", "value"),
    [
        (ValueFormat("UTC", "UTC", "%m/%d/%Y %I:%M %p"), "2024-01-05T14:03:00"),
        (ValueFormat("UTC", "UTC", "%m/%d/%Y %I:%M %p"), "13/05/2024 2:03 PM"),
        (ValueFormat("UTC", "UTC", "epoch_s"), "2024-01-05"),
        (ValueFormat("UTC", "UTC", "epoch_ms"), "1e30"),
        (ValueFormat("UTC", "Europe/Berlin"), "01/05/2024"),
    ],
)
def test_a_timestamp_not_in_the_configured_format_has_no_business_day(value_format, value):
    orders, days = dated(text_table(order_timestamp=[value]), value_format)

    assert days.to_pylist() == [None]
    assert orders.column("order_timestamp").to_pylist() == [value], "kept as it was, for the refused row"


def test_defaults_stand_in_for_columns_the_export_lacks_or_leaves_blank_and_an_empty_target_drops_a_column():
    export = text_table(id=["ch_1", "ch_2"], customer=["cus_1", None], created=["2024-01-05"] * 2,
                        amount=["20.00", "5.00"], customer_id=["0", "0"])  # fmt: skip
    column_map = {"id": "order_id", "customer": "customer_id", "created": "order_timestamp", "amount": "total_amount",
                  "customer_id": ""}  # fmt: skip
    with pytest.raises(ExportError, match="required columns missing after \\[landing\\] column_map: quantity"):
        plan_columns(list(export.column_names), column_map)

    plan = plan_columns(list(export.column_names), column_map, {"quantity": "1", "customer_id": "guest"})
    orders = canonical_orders(export, plan)

    assert plan.dropped == ("customer_id",), "the export's own customer_id is dropped, not mapped"
    assert orders.column("customer_id").to_pylist() == ["cus_1", "guest"], "a blank takes the default"
    assert orders.column("quantity").to_pylist() == ["1", "1"]
    assert orders.column("unit_price").to_pylist() == ["20", "5"]
    assert orders.column("refunded_amount").null_count == 2, "a landed column, empty when the export has none"
