"""Exports shaped the way shop systems shape theirs: other number marks, time formats and zones (issue 13)."""

from __future__ import annotations

import datetime
import gzip
import json
import random
import zoneinfo
from collections import defaultdict

import luigi
import pytest
from conftest import build, day_dir
from test_landing import csv_bytes, summary

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
