"""Exports shaped the way shop systems shape theirs: other number marks, time formats and zones (issue 13)."""

from __future__ import annotations

import csv
import datetime
import gzip
import io
import json
import random
import zoneinfo
from collections import defaultdict

import luigi
import pytest
from conftest import build, day_dir, summary
from test_landing import csv_bytes

from etl import IngestLandingFiles, RangeDaily
from etl.tasks import DailyReport

D = datetime.date


def european(amount: float) -> str:
    """1234.5 as 1.234,50, written here independently of the package."""
    whole, cents = f"{amount:.2f}".split(".")
    groups = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    return ".".join([whole, *groups]) + "," + cents


def expected(rows: list[dict], day_of, amount_of) -> dict[datetime.date, tuple[int, float]]:
    totals = defaultdict(lambda: [0, 0.0])
    for row in rows:
        day = day_of(row)
        totals[day][0] += 1
        totals[day][1] += amount_of(row)
    return {day: (count, round(revenue, 2)) for day, (count, revenue) in totals.items()}


@pytest.fixture
def exports(configure, base_dir, tmp_path):
    directory = tmp_path / "exports"
    directory.mkdir()

    def settings(landing: dict[str, str], etl: dict[str, str] | None = None) -> None:
        configure({
            "etl": {"source": "landing", **(etl or {})},
            "landing": {"directory": str(directory), **landing},
            "validation": {"min_orders": "1"},
        })  # fmt: skip

    settings.directory = directory
    return settings


def test_a_european_export_with_decimal_commas_and_local_times_gives_each_days_figures(exports, base_dir):
    exports(
        {"delimiter": ";", "decimal": ",", "thousands": ".", "timestamp_format": "%%d.%%m.%%Y %%H:%%M",
         "column_map": json.dumps({"Bestellnummer": "order_id", "Kunde": "customer_id", "Menge": "quantity",
                                   "Bestelldatum": "order_timestamp", "Betrag": "total_amount"})},
        {"timezone": "Europe/Berlin", "start_date": "2024-03-01"},
    )  # fmt: skip
    rng = random.Random(3)
    rows = [
        {"Bestellnummer": f"B{n}", "Kunde": f"K{rng.randint(1, 9)}", "Menge": str(rng.randint(1, 3)),
         "Bestelldatum": f"{day:%d.%m.%Y} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
         "Betrag": european(rng.randint(100, 250000) / 100)}
        for n, day in enumerate([D(2024, 3, 1) + datetime.timedelta(days=n % 3) for n in range(90)])
    ]  # fmt: skip
    (exports.directory / "bestellungen.csv").write_bytes(csv_bytes(rows, list(rows[0]), delimiter=";"))

    result = build(RangeDaily(of=DailyReport, start=D(2024, 3, 1), stop=D(2024, 3, 4)))

    assert result.status == luigi.LuigiStatusCode.SUCCESS, result.summary_text
    figures = expected(
        rows,
        lambda row: datetime.datetime.strptime(row["Bestelldatum"], "%d.%m.%Y %H:%M").date(),
        lambda row: float(row["Betrag"].replace(".", "").replace(",", ".")),
    )
    assert any(float(r["Betrag"].replace(".", "").replace(",", ".")) >= 1000 for r in rows), "thousands are tried"
    for day, (orders, revenue) in figures.items():
        assert (summary(base_dir, day)["total_orders"], summary(base_dir, day)["total_revenue"]) == (orders, revenue)


def test_us_times_of_the_shops_zone_land_on_the_business_day_of_another(exports, base_dir):
    exports(
        {"source_timezone": "America/Los_Angeles", "timestamp_format": "%%m/%%d/%%Y %%I:%%M %%p",
         "column_map": json.dumps({"Order": "order_id", "Customer": "customer_id", "Qty": "quantity",
                                   "Created at": "order_timestamp", "Total": "total_amount"})},
        {"timezone": "UTC", "start_date": "2024-03-09"},
    )  # fmt: skip
    rng = random.Random(4)
    rows = []
    for n in range(120):
        local = datetime.datetime(2024, 3, 9) + datetime.timedelta(minutes=rng.randint(0, 3 * 24 * 60 - 1))
        rows.append({
            "Order": f"#{1000 + n}", "Customer": f"c{n % 7}", "Qty": "1",
            "Created at": f"{local.month:02d}/{local.day:02d}/{local.year} {local.strftime('%I:%M %p').lstrip('0')}",
            "Total": f"{rng.randint(100, 9999) / 100:.2f}",
        })  # fmt: skip
    (exports.directory / "orders_export.csv").write_bytes(csv_bytes(rows, list(rows[0])))

    def business_day(row: dict) -> datetime.date:
        naive = datetime.datetime.strptime(row["Created at"], "%m/%d/%Y %I:%M %p")
        return naive.replace(tzinfo=zoneinfo.ZoneInfo("America/Los_Angeles")).astimezone(datetime.UTC).date()

    figures = expected(rows, business_day, lambda row: float(row["Total"]))
    days = sorted(figures)
    result = build(RangeDaily(of=DailyReport, start=days[0], stop=days[-1] + datetime.timedelta(days=1)))

    assert result.status == luigi.LuigiStatusCode.SUCCESS, result.summary_text
    assert len(days) == 4, "evening orders in Los Angeles are the next day in UTC"
    for day, (orders, revenue) in figures.items():
        assert (summary(base_dir, day)["total_orders"], summary(base_dir, day)["total_revenue"]) == (orders, revenue)
    manifest = json.loads((day_dir(base_dir, "raw", days[1]) / "manifest.json").read_text())
    assert manifest["bucketed_with"] == {"timezone": "UTC", "source_timezone": "America/Los_Angeles"}


def test_a_file_whose_times_cannot_be_read_is_refused_whole_naming_column_example_and_setting(exports, base_dir):
    exports({"column_map": json.dumps({"Order": "order_id", "Customer": "customer_id", "Qty": "quantity",
                                       "Created at": "order_timestamp", "Total": "total_amount"})})  # fmt: skip
    rows = [
        {"Order": f"#{n}", "Customer": "c", "Qty": "1", "Total": "5.00",
         "Created at": "01/05/2024 2:03 PM" if n < 23 else "2024-01-05T10:00:00"}
        for n in range(59)
    ]  # fmt: skip
    (exports.directory / "orders_export.csv").write_bytes(csv_bytes(rows, list(rows[0])))

    errors = failures_of(IngestLandingFiles())

    assert not (base_dir / "raw").exists(), "nothing is written"
    assert str(errors[0]) == (
        f"cannot ingest {exports.directory / 'orders_export.csv'}: 23 of 59 rows refused as unparseable "
        "order_timestamp (column \"Created at\"), e.g. '01/05/2024 2:03 PM'; set [landing] timestamp_format (now "
        "empty: ISO 8601) and source_timezone (now UTC) (at most [validation] max_rejected_share 1.00% of a file's "
        f"rows may be refused for one reason). Fix the file or move it out of the landing directory "
        f"{exports.directory}; nothing was ingested"
    )


def test_decimal_commas_under_the_default_marks_are_refused_naming_the_setting(exports, base_dir):
    exports({"column_map": json.dumps({"Nr": "order_id", "Kunde": "customer_id", "Menge": "quantity",
                                       "Datum": "order_timestamp", "Betrag": "total_amount"})})  # fmt: skip
    rows = [{"Nr": str(n), "Kunde": "k", "Menge": "1", "Datum": "2024-01-05", "Betrag": "12,50"} for n in range(9)]
    (exports.directory / "export.csv").write_bytes(csv_bytes(rows, list(rows[0])))

    message = str(failures_of(IngestLandingFiles())[0])

    assert "rows refused as non-numeric or non-finite total_amount (column \"Betrag\"), e.g. '12,50'" in message
    assert "set [landing] decimal and thousands to the export's (now decimal '.', thousands '')" in message


def failures_of(task: luigi.Task) -> list[Exception]:
    """The errors of the tasks that failed in a build of ``task``, which must fail."""
    errors: list[Exception] = []
    luigi.Task.event_handler(luigi.Event.FAILURE)(lambda task, error: errors.append(error))
    try:
        result = build(task)
    finally:
        luigi.Task._event_callbacks[luigi.Task][luigi.Event.FAILURE].pop()
    assert result.status == luigi.LuigiStatusCode.FAILED
    return errors


def test_a_late_file_for_a_day_bucketed_in_other_zones_is_refused_naming_the_change(exports, base_dir):
    column_map = json.dumps({"Order": "order_id", "Customer": "customer_id", "Qty": "quantity",
                             "Created at": "order_timestamp", "Total": "total_amount"})  # fmt: skip
    exports({"column_map": column_map})
    rows = [{"Order": f"#{n}", "Customer": "c", "Qty": "1", "Created at": "2024-01-05T12:00:00", "Total": "5.00"}
            for n in range(5)]  # fmt: skip
    (exports.directory / "first.csv").write_bytes(csv_bytes(rows, list(rows[0])))
    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS
    before = (day_dir(base_dir, "raw", D(2024, 1, 5)) / "orders.csv").read_bytes()

    exports({"column_map": column_map}, {"timezone": "Europe/Berlin"})
    late = [{**rows[0], "Order": "#late"}]
    (exports.directory / "late.csv").write_bytes(csv_bytes(late, list(late[0])))
    message = str(failures_of(IngestLandingFiles())[0])

    assert message.startswith(
        f"cannot ingest {exports.directory / 'late.csv'}: it holds rows of 2024-01-05, whose other"
    )
    assert "[etl] timezone UTC and [landing] source_timezone UTC, now Europe/Berlin and Europe/Berlin" in message
    assert (day_dir(base_dir, "raw", D(2024, 1, 5)) / "orders.csv").read_bytes() == before

    rebucketed = base_dir.parent / "rebucketed"  # README, Changing zones: a new base, every export read again
    exports({"column_map": column_map}, {"timezone": "Asia/Tokyo", "base_dir": str(rebucketed)})
    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS
    manifest = json.loads((day_dir(rebucketed, "raw", D(2024, 1, 5)) / "manifest.json").read_text())
    assert manifest["bucketed_with"] == {"timezone": "Asia/Tokyo", "source_timezone": "Asia/Tokyo"}
    assert sum(entry["rows"] for entry in manifest["files"]) == 6


def test_a_symlinked_export_is_read_and_its_target_named_and_a_gzip_bomb_refused_by_name(exports, base_dir, tmp_path):
    column_map = json.dumps({"Order": "order_id", "Customer": "customer_id", "Qty": "quantity",
                             "Created at": "order_timestamp", "Total": "total_amount"})  # fmt: skip
    exports({"column_map": column_map})
    elsewhere = tmp_path / "shared-drive"
    elsewhere.mkdir()
    rows = [{"Order": f"#{n}", "Customer": "c", "Qty": "1", "Created at": "2024-01-05T12:00:00", "Total": "5.00"}
            for n in range(5)]  # fmt: skip
    (elsewhere / "orders.csv").write_bytes(csv_bytes(rows, list(rows[0])))
    (exports.directory / "linked.csv").symlink_to(elsewhere / "orders.csv")

    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS
    index = json.loads((base_dir / "ingest" / "index.json").read_text())
    assert index["files"]["linked.csv"]["target"] == str(elsewhere / "orders.csv")
    assert index["files"]["linked.csv"]["days"] == {"2024-01-05": 5}

    bomb = gzip.compress(b"Order,Customer,Qty,Created at,Total\n" + b"#1,c,1,2024-01-05,5\n" * 2_000_000)
    (exports.directory / "bomb.csv.gz").write_bytes(bomb)
    message = str(failures_of(IngestLandingFiles())[0])
    assert message.startswith(f"cannot ingest {exports.directory / 'bomb.csv.gz'}: it decompresses to more than")


def line_item_export(seed: int, repeat_order_fields: bool) -> tuple[list[dict], dict[datetime.date, tuple]]:
    """Orders of one to four lines, Shopify's way (order fields on the first line only) or repeated on every
    line; with each day's orders, revenue and items counted by hand."""
    rng = random.Random(seed)
    rows, days = [], defaultdict(lambda: [0, 0.0, 0])
    for n in range(60):
        day = D(2024, 1, 1) + datetime.timedelta(days=n % 3)
        lines = [(rng.randint(1, 3), rng.randint(100, 5000) / 100) for _ in range(rng.randint(1, 4))]
        shipping = rng.choice([0, 4.95])
        total = round(sum(q * p for q, p in lines) + shipping, 2)
        for number, (quantity, price) in enumerate(lines):
            order_fields = number == 0 or repeat_order_fields
            rows.append({
                "Name": f"#{1000 + n}", "Email": f"c{n % 9}@example.com" if order_fields else "",
                "Created at": f"{day}T10:{n % 60:02d}:00" if order_fields else "",
                "Financial Status": "paid" if order_fields else "", "Total": f"{total:.2f}" if order_fields else "",
                "Lineitem quantity": str(quantity), "Lineitem price": f"{price:.2f}", "Lineitem sku": f"SKU-{number}",
            })  # fmt: skip
        days[day][0] += 1
        days[day][1] += total
        days[day][2] += sum(q for q, _ in lines)
    return rows, {day: (orders, round(revenue, 2), items) for day, (orders, revenue, items) in days.items()}


SHOPIFY_MAP = {"Name": "order_id", "Email": "customer_id", "Created at": "order_timestamp", "Total": "total_amount",
               "Financial Status": "status", "Lineitem quantity": "quantity", "Lineitem price": "unit_price",
               "Lineitem sku": "product_id"}  # fmt: skip


@pytest.mark.parametrize("repeat_order_fields", [False, True])
def test_a_line_item_export_gives_one_order_per_order_id_with_its_total_taken_once(
    exports, base_dir, repeat_order_fields
):
    exports({"rows": "line_items", "column_map": json.dumps(SHOPIFY_MAP)}, {"start_date": "2024-01-01"})
    rows, figures = line_item_export(seed=5, repeat_order_fields=repeat_order_fields)
    (exports.directory / "orders_export_1.csv").write_bytes(csv_bytes(rows, list(rows[0])))

    result = build(RangeDaily(of=DailyReport, start=D(2024, 1, 1), stop=D(2024, 1, 4)))

    assert result.status == luigi.LuigiStatusCode.SUCCESS, result.summary_text
    assert len(rows) > 100, "most orders have several lines"
    for day, (orders, revenue, items) in figures.items():
        got = summary(base_dir, day)
        assert (got["total_orders"], got["total_revenue"], got["total_items"]) == (orders, revenue, items), day


def test_lines_that_disagree_on_the_order_total_refuse_the_order_and_line_totals_are_summed(exports, base_dir):
    exports(
        {"rows": "line_items", "column_map": json.dumps({**SHOPIFY_MAP, "Lineitem price": "line_total"})},
        {"start_date": "2024-01-01"},
    )
    rows = [
        {"Name": "#1", "Email": "a", "Created at": "2024-01-01T09:00:00", "Financial Status": "paid", "Total": "",
         "Lineitem quantity": "2", "Lineitem price": "10.00", "Lineitem sku": "A"},
        {"Name": "#1", "Email": "", "Created at": "", "Financial Status": "", "Total": "",
         "Lineitem quantity": "1", "Lineitem price": "5.50", "Lineitem sku": "B"},
        {"Name": "#2", "Email": "b", "Created at": "2024-01-01T10:00:00", "Financial Status": "paid", "Total": "30.00",
         "Lineitem quantity": "1", "Lineitem price": "30.00", "Lineitem sku": "A"},
        {"Name": "#2", "Email": "b", "Created at": "2024-01-01T10:00:00", "Financial Status": "paid", "Total": "31.00",
         "Lineitem quantity": "1", "Lineitem price": "1.00", "Lineitem sku": "C"},
    ]  # fmt: skip
    (exports.directory / "orders.csv").write_bytes(csv_bytes(rows, list(rows[0])))

    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS

    raw = list(csv.DictReader(io.StringIO((day_dir(base_dir, "raw", D(2024, 1, 1)) / "orders.csv").read_text())))
    assert [(r["order_id"], r["quantity"], r["total_amount"], r["customer_id"]) for r in raw] == [
        ("#1", "3", "15.5", "a")
    ], "no total mapped on its lines: the sum of its line totals"
    refused = list(
        csv.DictReader(io.StringIO((day_dir(base_dir, "raw", D(2024, 1, 1)) / "rejected_rows.csv").read_text()))
    )
    assert [(r["order_id"], r["line"], r["reason"]) for r in refused] == [
        ("#2", "4", 'the lines of the order disagree on total_amount (column "Total")')
    ]


def test_a_landed_day_checked_in_another_zone_than_it_was_bucketed_in_fails_naming_the_change(exports, base_dir):
    column_map = json.dumps({"Order": "order_id", "Customer": "customer_id", "Qty": "quantity",
                             "Created at": "order_timestamp", "Total": "total_amount"})  # fmt: skip
    exports({"column_map": column_map}, {"start_date": "2024-01-05"})
    rows = [{"Order": f"#{n}", "Customer": "c", "Qty": "1", "Created at": "2024-01-05T12:00:00", "Total": "5.00"}
            for n in range(5)]  # fmt: skip
    (exports.directory / "orders.csv").write_bytes(csv_bytes(rows, list(rows[0])))
    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS

    exports({"column_map": column_map}, {"start_date": "2024-01-05", "timezone": "Europe/Berlin"})
    message = str(failures_of(RangeDaily(of=DailyReport, start=D(2024, 1, 5), stop=D(2024, 1, 6)))[0])

    assert "same_calendar: bucketed with [etl] timezone UTC, now Europe/Berlin: re-bucket the history" in message
    failed = json.loads((day_dir(base_dir, "raw", D(2024, 1, 5)) / "validation_failed.json").read_text())
    assert [rule["rule"] for rule in failed["rules"] if not rule["passed"]] == ["same_calendar"]
