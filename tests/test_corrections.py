"""Corrections: an order_id is one order across every file and day, and its latest version wins (issue 13)."""

from __future__ import annotations

import datetime
import json
import os
import random
import shutil
from pathlib import Path

import luigi
import pyarrow as pa
import pytest
from conftest import build, day_dir, landing_source, summary
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_exports import failures_of
from test_landing import csv_bytes as export_csv

from etl import DailyReport, IngestLandingFiles, RangeDaily, versions

D = datetime.date
COLUMN_MAP = {"Order": "order_id", "Customer": "customer_id", "Qty": "quantity", "Placed": "order_timestamp",
              "Total": "total_amount", "Status": "status"}  # fmt: skip
HEADER = [*COLUMN_MAP, "Updated"]
DAYS = [D(2024, 1, 1) + datetime.timedelta(days=i) for i in range(3)]


def version(order: str, day: datetime.date, total: str, updated: int = 0, status: str = "completed") -> dict:
    return {"Order": order, "Customer": "c1", "Qty": "1", "Placed": f"{day}T12:00:00", "Total": total,
            "Status": status, "Updated": str(updated)}  # fmt: skip


def csv_bytes(rows: list[dict]) -> bytes:
    return export_csv(rows, HEADER)


def land(directory: Path, name: str, rows: list[dict], at_ns: int) -> None:
    """An export file, modified at ``at_ns`` (what orders the files of one ingest)."""
    (directory / name).write_bytes(csv_bytes(rows))
    os.utime(directory / name, ns=(at_ns, at_ns))


def figures_of(latest: dict[str, dict]) -> dict[datetime.date, tuple[int, float]]:
    """Orders and revenue per day from each order's latest version, counted in plain Python."""
    days = {day: [0, 0.0] for day in DAYS}
    for row in latest.values():
        day = D.fromisoformat(row["Placed"][:10])
        days[day][0] += 1
        days[day][1] += float(row["Total"])
    return {day: (count, round(revenue, 2)) for day, (count, revenue) in days.items()}


def built_figures(base: Path) -> dict[datetime.date, tuple[int, float]]:
    return {day: (summary(base, day)["total_orders"], summary(base, day)["total_revenue"]) for day in DAYS}


def whole_range() -> RangeDaily:
    return RangeDaily(of=DailyReport, start=DAYS[0], stop=DAYS[-1] + datetime.timedelta(days=1))


@pytest.fixture
def landing(configure, base_dir, tmp_path):
    def configure_with(**landing_settings: str) -> Path:
        return landing_source(
            configure, tmp_path / "landing", COLUMN_MAP, etl={"start_date": DAYS[0].isoformat()},
            landing={"version_column": "", **landing_settings}, validation={"min_orders": "0"},
        )  # fmt: skip

    return configure_with


def test_a_corrected_amount_in_a_later_file_wins_whatever_its_name(landing, base_dir):
    directory = landing()
    first = [version(f"#{n}", DAYS[n % 3], f"{10 + n}.00") for n in range(9)]
    land(directory, "z-orders.csv", first, 1_000_000_000_000_000_000)
    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS
    correction = [version("#4", DAYS[1], "99.50", status="completed")]
    land(directory, "a-correction.csv", correction, 1_000_000_100_000_000_000)  # its name sorts first

    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS

    latest = {row["Order"]: row for row in first + correction}
    assert built_figures(base_dir) == figures_of(latest)
    assert summary(base_dir, DAYS[1])["total_revenue"] == round(11 + 17 + 99.50, 2)


def test_a_correction_that_moves_an_order_to_another_day_takes_it_off_the_first_and_rebuilds_both(landing, base_dir):
    directory = landing()
    first = [version(f"#{n}", DAYS[n % 3], f"{10 + n}.00") for n in range(9)]
    land(directory, "orders.csv", first, 1_000_000_000_000_000_000)
    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS
    report_before = (day_dir(base_dir, "metrics", DAYS[2]) / "daily_report.json").read_bytes()
    moved = [version("#0", DAYS[2], "10.00")]  # placed on the 1st, corrected to the 3rd
    land(directory, "corrections.csv", moved, 1_000_000_100_000_000_000)

    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS

    latest = {row["Order"]: row for row in first + moved}
    assert built_figures(base_dir) == figures_of(latest)
    assert summary(base_dir, DAYS[0])["total_orders"] == 2, "the order left the 1st"
    assert (day_dir(base_dir, "metrics", DAYS[2]) / "daily_report.json").read_bytes() != report_before
    manifest = json.loads((day_dir(base_dir, "raw", DAYS[0]) / "manifest.json").read_text())
    assert [(entry["file"], entry["rows"]) for entry in manifest["files"]] == [("orders.csv", 2)]


def test_with_a_version_column_an_older_version_arriving_later_never_wins(landing, base_dir):
    directory = landing(version_column="Updated")
    newest = [version("#1", DAYS[0], "50.00", updated=300), version("#2", DAYS[1], "20.00", updated=5)]
    land(directory, "orders.csv", newest, 1_000_000_000_000_000_000)
    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS
    stale = [version("#1", DAYS[2], "1.00", updated=200), version("#2", DAYS[1], "25.00", updated=6)]
    land(directory, "late-resend.csv", stale, 1_000_000_100_000_000_000)

    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS

    assert built_figures(base_dir) == figures_of({"#1": newest[0], "#2": stale[1]})


def test_a_refund_sharing_its_orders_id_is_a_version_of_its_own(landing, base_dir):
    directory = landing()
    rows = [version("#1", DAYS[0], "40.00"), version("#1", DAYS[1], "-15.00"), version("#1", DAYS[1], "-12.00")]
    land(directory, "payments.csv", rows, 1_000_000_000_000_000_000)

    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS

    assert (summary(base_dir, DAYS[0])["total_revenue"], summary(base_dir, DAYS[0])["net_revenue"]) == (40.0, 40.0)
    refund_day = summary(base_dir, DAYS[1])
    assert (refund_day["total_orders"], refund_day["refunds"], refund_day["net_revenue"]) == (0, 12.0, -12.0), (
        "the later line is the refund's latest version"
    )


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_arrival_order_and_file_names_give_the_figures_of_the_latest_versions(landing, base_dir, monkeypatch, data):
    """Versions cut into files of random names that arrive in random runs, at random times: the figures are
    those of each order's latest version, by its update stamp with a version column, else by arrival (run, then
    file time, then line), whether the index holds them in one shard or splits as it grows."""
    by_stamp = data.draw(st.booleans(), label="version column")
    monkeypatch.setattr(versions, "SHARD_ORDERS", data.draw(st.sampled_from([2, 8192]), label="shard size"))
    directory = landing(version_column="Updated" if by_stamp else "")
    shutil.rmtree(directory)
    directory.mkdir()
    shutil.rmtree(base_dir, ignore_errors=True)
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    orders = data.draw(st.integers(1, 6))
    stamps = rng.sample(range(1, 1000), orders * 3)
    sent = [
        version(f"#{n % orders}", rng.choice(DAYS), f"{rng.randint(100, 9999) / 100:.2f}", updated=stamp)
        for n, stamp in enumerate(stamps)
    ]
    rng.shuffle(sent)
    files = min(data.draw(st.integers(1, 4)), len(sent))
    names = rng.sample(["a.csv", "b.csv", "m/c.csv", "x.csv", "z.csv"], files)
    (directory / "m").mkdir(exist_ok=True)
    runs = [rng.randint(0, 2) for _ in names]
    times = rng.sample(range(1, 10**6), files)
    arrival = []  # the versions in the order they arrive: run, then file time, then line
    for run in sorted(set(runs)):
        for _, name in sorted((times[n], name) for n, name in enumerate(names) if runs[n] == run):
            rows = sent[names.index(name) :: files]
            land(directory, name, rows, 10**18 + times[names.index(name)] * 10**9)
            arrival += rows
        assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS

    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS

    latest = {}
    for row in sorted(arrival, key=lambda row: int(row["Updated"])) if by_stamp else arrival:
        latest[row["Order"]] = row
    assert built_figures(base_dir) == figures_of(latest)


def test_corrections_stay_exact_when_the_index_splits_its_shards(landing, base_dir, monkeypatch):
    monkeypatch.setattr(versions, "SHARD_ORDERS", 4)
    directory = landing()
    first = [version(f"#{n}", DAYS[n % 3], f"{10 + n}.00") for n in range(6)]
    land(directory, "first.csv", first, 1_000_000_000_000_000_000)
    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS
    assert sorted(p.name for p in (base_dir / "ingest" / "orders").iterdir()) == [
        "01-0000000.arrow",
        "01-0000001.arrow",
    ]
    second = [version(f"#{n}", DAYS[(n + 1) % 3], f"{20 + n}.00") for n in range(40)]  # six of them corrections
    land(directory, "second.csv", second, 1_000_000_100_000_000_000)

    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS

    assert built_figures(base_dir) == figures_of({row["Order"]: row for row in first + second})
    shards = sorted((base_dir / "ingest" / "orders").iterdir())
    assert [p.name for p in shards] == [f"04-{n:07d}.arrow" for n in range(16)], "split, the old shards gone"
    entries = pa.concat_tables(pa.ipc.open_stream(p.read_bytes()).read_all() for p in shards)
    assert sorted(entries.column("order_id").to_pylist()) == sorted(f"#{n}" for n in range(40)), "each order once"
    index = json.loads((base_dir / "ingest" / "index.json").read_text())
    assert index["order_index"] == {"bits": 4, "orders": 40}


def test_an_ingest_with_nothing_new_keeps_the_order_index(landing, base_dir):
    directory = landing()
    land(directory, "orders.csv", [version("#1", DAYS[0], "5.00")], 1_000_000_000_000_000_000)
    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS
    os.utime(directory / "orders.csv", ns=(1_000_000_100_000_000_000,) * 2)  # touched: read no more
    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS
    land(directory, "correction.csv", [version("#1", DAYS[1], "6.00")], 1_000_000_200_000_000_000)

    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS

    assert built_figures(base_dir) == figures_of({"#1": version("#1", DAYS[1], "6.00")})
    index = json.loads((base_dir / "ingest" / "index.json").read_text())
    assert index["order_index"] == {"bits": 0, "orders": 1} and index["run"] == 2


def test_a_deleted_raw_partition_is_rebuilt_from_the_files_that_fed_it_and_refused_when_they_are_gone(
    landing, base_dir
):
    directory = landing()
    first = [version(f"#{n}", DAYS[n % 3], f"{10 + n}.00") for n in range(9)]
    land(directory, "a.csv", first[:5], 1_000_000_000_000_000_000)
    land(directory, "b.csv", first[5:], 1_000_000_000_000_000_001)
    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS
    correction = [version("#1", DAYS[2], "77.00")]  # #1 leaves the 2nd for the 3rd
    land(directory, "c.csv", correction, 1_000_000_100_000_000_000)
    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS
    raw = day_dir(base_dir, "raw", DAYS[1])
    before = (raw / "orders.csv").read_bytes()
    shutil.rmtree(raw)

    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS

    assert (raw / "orders.csv").read_bytes() == before, "the same rows, without the order that left the day"
    assert built_figures(base_dir) == figures_of({row["Order"]: row for row in first + correction})
    record = json.loads((base_dir / "ingest" / "record.json").read_text())["runs"][-1]
    assert record["rebuilt_days"] == [DAYS[1].isoformat()], "no other day is touched"

    shutil.rmtree(raw)
    (directory / "b.csv").unlink()
    message = str(failures_of(whole_range())[0])
    assert message == (
        f"cannot rebuild the raw partition of {DAYS[1]}: it came from {directory / 'b.csv'}, no longer in the landing "
        "directory; put them back, or remove their entries from the ingest index to give up their rows"
    )
    assert not raw.exists(), "never an empty day in its place"


def test_with_the_sign_error_rule_a_negative_row_is_a_version_of_its_order_not_a_refund(landing, base_dir):
    directory = landing(negative_amounts="sign_error")
    rows = [version("#1", DAYS[0], "40.00"), version("#1", DAYS[0], "-40.00")]  # re-sent with a sign error
    land(directory, "orders.csv", rows, 1_000_000_000_000_000_000)

    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS

    day = summary(base_dir, DAYS[0])
    assert (day["total_orders"], day["total_revenue"], day["refunds"], day["negatives_fixed"]) == (1, 40.0, 0.0, 1), (
        "one order: its later version, sign-fixed"
    )


def test_a_refund_corrected_in_a_later_file_replaces_the_earlier_one_and_leaves_its_sale(landing, base_dir):
    directory = landing()
    land(directory, "a.csv", [version("#1", DAYS[0], "40.00"), version("#1", DAYS[0], "-15.00")], 10**18)
    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS
    land(directory, "b.csv", [version("#1", DAYS[1], "-12.00")], 10**18 + 10**11)  # the refund, corrected

    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS

    first, second = summary(base_dir, DAYS[0]), summary(base_dir, DAYS[1])
    assert (first["total_revenue"], first["refunds"], first["net_revenue"]) == (40.0, 0.0, 40.0), "the sale stays"
    assert (second["refunds"], second["net_revenue"]) == (12.0, -12.0), "only the corrected refund counts"
