"""The landing source: real exports in, late and changed files, broken files and refused rows (issue 9)."""

from __future__ import annotations

import csv
import datetime
import gzip
import io
import json
import os
import random
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import luigi
import pytest
from conftest import build, day_dir, landing_source, summary

import etl.spill
from etl import DailyPipeline, DailyReport, IngestLandingFiles, ProcessDays, RangeDaily

D = datetime.date
COLUMN_MAP = {
    "OrderID": "order_id",
    "CustomerRef": "customer_id",
    "SKU": "product_id",
    "Qty": "quantity",
    "OrderDate": "order_timestamp",
    "Total": "total_amount",
}
HEADER = ["OrderID", "CustomerRef", "SKU", "Qty", "OrderDate", "Total", "Channel"]
WEEK = [D(2024, 1, 1) + datetime.timedelta(days=i) for i in range(7)]


def export_rows(days: list[datetime.date], per_day: int, seed: int, prefix: str = "O") -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for day in days:
        for n in range(per_day):
            quantity = rng.randint(1, 4)
            rows.append({
                "OrderID": f"{prefix}-{day:%m%d}-{n:04d}", "CustomerRef": f"C{rng.randint(1, 60)}",
                "SKU": f"P{rng.randint(1, 30)}", "Qty": str(quantity), "OrderDate": day.isoformat(),
                "Total": f"{quantity * rng.randint(100, 9999) / 100:.2f}", "Channel": rng.choice(["web", "app"]),
            })  # fmt: skip
    rng.shuffle(rows)
    return rows


def csv_bytes(rows: list[dict], header: list[str] = HEADER, delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def expected_days(rows: list[dict]) -> dict[datetime.date, tuple[int, float]]:
    """Orders and revenue per day, counted independently of the package (first of each order_id kept)."""
    seen, totals = set(), defaultdict(lambda: [0, 0.0])
    for row in rows:
        if row["OrderID"] in seen:
            continue
        seen.add(row["OrderID"])
        day = D.fromisoformat(row["OrderDate"][:10])
        totals[day][0] += 1
        totals[day][1] += float(row["Total"])
    return {day: (count, round(revenue, 2)) for day, (count, revenue) in totals.items()}


@pytest.fixture
def landing(configure, base_dir, tmp_path) -> Path:
    directory = landing_source(configure, tmp_path / "landing", COLUMN_MAP)
    (directory / "2024").mkdir()
    return directory


def mtimes(base: Path) -> dict[str, int]:
    return {str(p.relative_to(base)): p.stat().st_mtime_ns for p in base.rglob("*") if p.is_file()}


def rewritten(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {name.rsplit("/", 1)[0] for name in after if before.get(name) != after[name] and "/day=" in name}


def week_range() -> RangeDaily:
    return RangeDaily(of=DailyReport, start=WEEK[0], stop=WEEK[-1] + datetime.timedelta(days=1))


def test_a_realistic_export_split_over_a_plain_and_a_gzip_file_gives_each_days_figures(landing, base_dir):
    rows = export_rows(WEEK, per_day=40, seed=1)
    (landing / "2024" / "orders-a.csv").write_bytes(b"\xef\xbb\xbf" + csv_bytes(rows[::2]))  # with a BOM
    (landing / "orders-b.csv.gz").write_bytes(gzip.compress(csv_bytes(rows[1::2])))

    result = build(week_range())

    assert result.status == luigi.LuigiStatusCode.SUCCESS, result.summary_text
    for day, (orders, revenue) in expected_days(rows).items():
        figures = summary(base_dir, day)
        assert (figures["total_orders"], figures["total_revenue"]) == (orders, revenue), day
        assert figures["by_category"] == {"unknown": {"orders": orders, "revenue": revenue}}, "an absent column"
    manifest = json.loads((day_dir(base_dir, "raw", WEEK[2]) / "manifest.json").read_text())
    assert [entry["file"] for entry in manifest["files"]] == ["2024/orders-a.csv", "orders-b.csv.gz"]
    assert sum(entry["rows"] for entry in manifest["files"]) == 40
    record = json.loads((base_dir / "ingest" / "record.json").read_text())["runs"][-1]
    assert [f["dropped_columns"] for f in record["files"]] == [["Channel"], ["Channel"]]
    raw = (day_dir(base_dir, "raw", WEEK[2]) / "orders.csv").read_text().splitlines()
    assert raw[0].replace('"', "").split(",")[:5] == ["order_id", "customer_id", "product_id", "category", "quantity"]


def test_a_late_file_rebuilds_exactly_its_days_and_the_windows_after_them(landing, base_dir):
    rows = export_rows(WEEK, per_day=30, seed=2)
    (landing / "week.csv").write_bytes(csv_bytes(rows))
    assert build(week_range()).status == luigi.LuigiStatusCode.SUCCESS
    before = mtimes(base_dir)
    time.sleep(0.01)
    late = export_rows([WEEK[2]], per_day=5, seed=3, prefix="LATE")
    (landing / "late.csv").write_bytes(csv_bytes(late))

    assert build(week_range()).status == luigi.LuigiStatusCode.SUCCESS

    changed = rewritten(before, mtimes(base_dir))
    window = {f"metrics/year=2024/month=01/day={d:02d}" for d in range(3, 8)}
    assert changed == {"raw/year=2024/month=01/day=03", "processed/year=2024/month=01/day=03"} | window
    assert summary(base_dir, WEEK[2])["total_orders"] == expected_days(rows + late)[WEEK[2]][0] == 35
    latest = json.loads((base_dir / "metrics" / "latest_daily_report.json").read_text())
    assert latest["execution_date"] == "2024-01-07" and latest["rolling_metrics"]["total_orders_7d"] == 7 * 30 + 5

    time.sleep(0.01)
    (landing / "late.csv").touch()  # touched, not changed: not read again
    before = mtimes(base_dir)
    assert build(week_range()).status == luigi.LuigiStatusCode.SUCCESS
    assert rewritten(before, mtimes(base_dir)) == set()
    (landing / "late.csv").unlink()  # a file removed after ingest changes nothing: raw is the record
    assert build(week_range()).status == luigi.LuigiStatusCode.SUCCESS
    assert rewritten(before, mtimes(base_dir)) == set()


def test_a_changed_file_replaces_its_rows_in_every_day_it_held(landing, base_dir):
    rows = export_rows(WEEK[:3], per_day=20, seed=4)
    (landing / "a.csv").write_bytes(csv_bytes(rows))
    (landing / "b.csv").write_bytes(csv_bytes(export_rows(WEEK[:3], per_day=10, seed=5, prefix="B")))
    assert build(RangeDaily(of=DailyReport, start=WEEK[0], stop=WEEK[3])).status == luigi.LuigiStatusCode.SUCCESS
    fixed = [row for row in rows if row["OrderDate"] != WEEK[1].isoformat()]  # the shop re-exports without day 2
    time.sleep(0.01)
    (landing / "a.csv").write_bytes(csv_bytes(fixed))

    assert build(RangeDaily(of=DailyReport, start=WEEK[0], stop=WEEK[3])).status == luigi.LuigiStatusCode.SUCCESS

    assert [summary(base_dir, day)["total_orders"] for day in WEEK[:3]] == [30, 10, 30]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("broken.csv.gz", gzip.compress(csv_bytes(export_rows(WEEK, 5, 6)))[:60], "Truncated compressed stream"),
        ("junk.csv", bytes(range(256)) * 40, "cannot ingest"),
        ("semicolons.csv", csv_bytes(export_rows(WEEK, 5, 7), delimiter=";"), "the header is one column"),
        (
            "columns.csv",
            csv_bytes([], header=["OrderID", "Qty"]),
            "required columns missing after [landing] column_map",
        ),
        ("empty.csv", b"", "it is empty"),
        ("header.csv", csv_bytes([]), "it holds no orders (a header only)"),
        ("latin1.csv", csv_bytes(export_rows(WEEK, 5, 8)).replace(b"C1", "C\xe9".encode("latin-1")), "not valid utf-8"),
    ],
)
def test_a_broken_file_stops_the_ingest_before_any_partition_changes_and_says_what_to_do(
    landing, base_dir, name, content, problem
):
    (landing / "good.csv").write_bytes(csv_bytes(export_rows(WEEK, per_day=10, seed=9)))
    (landing / name).write_bytes(content)
    errors: list[Exception] = []
    luigi.Task.event_handler(luigi.Event.FAILURE)(lambda task, error: errors.append(error))
    try:
        result = build(week_range())
    finally:
        luigi.Task._event_callbacks[luigi.Task][luigi.Event.FAILURE].pop()

    assert result.status == luigi.LuigiStatusCode.FAILED
    message = str(errors[0])
    assert f"cannot ingest {landing / name}" in message and problem in message, message
    assert "move it out of the landing directory" in message
    assert not (base_dir / "raw").exists(), "no raw partition is written, not even the good file's"

    (landing / name).unlink()
    assert build(week_range()).status == luigi.LuigiStatusCode.SUCCESS, "once fixed, its days are built"


def test_refused_rows_are_kept_with_their_reason_and_fail_the_day_beyond_the_allowed_share(
    landing, base_dir, monkeypatch
):
    monkeypatch.setenv("ETL_NOW", f"{WEEK[2]}T02:00+00:00")  # the range's last block ends at the calendar's today
    rows = export_rows(WEEK[:2], per_day=50, seed=10)
    bad = [
        {**rows[0], "OrderID": "X1", "Total": "inf"},
        {**rows[1], "OrderID": "X2", "Qty": "250000"},
        {**rows[2], "OrderID": '=HYPERLINK("http://evil")', "CustomerRef": "@SUM(A1:A9)"},
        dict(zip(HEADER, HEADER, strict=True)),  # a header line repeated inside the file
        {**rows[3], "OrderID": "X3", "OrderDate": "sometime"},
    ]
    day_one = [r for r in rows if r["OrderDate"] == WEEK[0].isoformat()]
    (landing / "week.csv").write_bytes(csv_bytes(rows + bad))

    result = build(RangeDaily(of=DailyReport, start=WEEK[0], stop=WEEK[2]))

    assert result.status == luigi.LuigiStatusCode.FAILED, "three refused rows in about fifty are beyond 1%"
    refused = [
        row
        for day in WEEK[:2]
        if (day_dir(base_dir, "raw", day) / "rejected_rows.csv").exists()
        for row in csv.DictReader(io.StringIO((day_dir(base_dir, "raw", day) / "rejected_rows.csv").read_text()))
    ]
    reasons = sorted(row["reason"] for row in refused)
    assert reasons == ['non-numeric or non-finite total_amount (column "Total")', "quantity above max_quantity 1000"]
    record = json.loads((base_dir / "ingest" / "record.json").read_text())["runs"][-1]
    assert sorted(row["reason"] for row in record["undated_rows"]) == [
        "repeated header line", 'unparseable order_timestamp (column "OrderDate")'
    ], "rows whose day cannot be told are in the ingest record"  # fmt: skip
    raw = (day_dir(base_dir, "raw", D.fromisoformat(rows[2]["OrderDate"])) / "orders.csv").read_text()
    assert '=HYPERLINK(""http://evil"")' in raw and "@SUM(A1:A9)" in raw, "formulas stay data, as text"
    assert len(day_one) > 0

    build(RangeDaily(of=DailyReport, start=WEEK[0], stop=WEEK[2]))  # unchanged: still refused
    failed = json.loads(next(base_dir.glob("raw/*/*/*/validation_failed.json")).read_text())
    rule = next(r for r in failed["rules"] if r["rule"] == "rejected_share")
    assert not rule["passed"] and "at most 1.00%" in rule["detail"]


def test_a_chunk_shows_the_raw_rows_it_read_the_rows_it_wrote_and_those_the_ingest_refused(
    landing, base_dir, configure
):
    configure({"validation": {"max_rejected_share": "0.5"}})
    rows = export_rows(WEEK[:2], per_day=30, seed=13)
    refund = {**rows[0], "OrderID": "R1", "Total": "-5.00"}  # read, and set apart from the orders written
    bad = [{**rows[1], "OrderID": "X1", "Total": "inf"}, {**rows[2], "OrderID": "X2", "Qty": "250000"}]
    (landing / "two-days.csv").write_bytes(csv_bytes(rows + [refund] + bad))
    build(IngestLandingFiles())
    chunk = ProcessDays(start=WEEK[0], stop=WEEK[2], days_per_task=2)
    messages: list[str] = []
    chunk.set_status_message, chunk.set_progress_percentage = messages.append, lambda percent: None

    chunk.run()

    def lines(layer: str, name: str) -> int:
        files = [day_dir(base_dir, layer, day) / name for day in WEEK[:2]]
        return sum(len(list(csv.DictReader(io.StringIO(file.read_text())))) for file in files if file.exists())

    assert (lines("raw", "orders.csv"), lines("processed", "orders_processed.csv")) == (61, 60)
    assert lines("raw", "rejected_rows.csv") == 2
    assert messages[-1] == "2 of 2 days done, 0 failed; rows: 61 read, 60 written, 2 refused"


def test_rows_for_a_day_retention_retired_are_reported_not_used(landing, base_dir, configure):
    configure({"retention": {"raw_days": 2, "processed_days": 7, "metrics_days": 7}})
    (landing / "month.csv").write_bytes(csv_bytes(export_rows(WEEK, per_day=20, seed=11)))
    assert build(RangeDaily(of=DailyPipeline, start=WEEK[0], stop=WEEK[-1] + datetime.timedelta(days=1)))
    assert not day_dir(base_dir, "raw", WEEK[0]).exists(), "retired"
    (landing / "late.csv").write_bytes(csv_bytes(export_rows([WEEK[0]], per_day=3, seed=12, prefix="L")))

    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS

    assert not day_dir(base_dir, "raw", WEEK[0]).exists(), "never re-created"
    record = json.loads((base_dir / "ingest" / "record.json").read_text())["runs"][-1]
    assert record["too_late"] == {"2024-01-01": 3}


def test_rows_for_a_day_whose_window_retention_retired_are_reported_not_used(landing, base_dir, configure):
    """Rebuilding the day would need a processed day its rolling window reads, which retention removed."""
    configure({
        "retention": {"raw_days": 4, "processed_days": 3, "metrics_days": 7}, "rolling": {"window_days": 2},
    })  # fmt: skip
    (landing / "week.csv").write_bytes(csv_bytes(export_rows(WEEK, per_day=20, seed=15)))
    assert build(RangeDaily(of=DailyPipeline, start=WEEK[0], stop=WEEK[-1] + datetime.timedelta(days=1)))
    retired = json.loads((base_dir / "cleanup" / "retired_days.json").read_text())
    assert retired["processed"] == [["2024-01-01", "2024-01-04"]] and retired["raw"] == [["2024-01-01", "2024-01-03"]]
    kept = day_dir(base_dir, "raw", WEEK[3]) / "orders.csv"  # raw of 01-04 is held, 01-03's processed is not
    before = kept.read_bytes()
    (landing / "late.csv").write_bytes(csv_bytes(export_rows([WEEK[3], WEEK[4]], per_day=2, seed=16, prefix="L")))

    result = build(RangeDaily(of=DailyPipeline, start=WEEK[0], stop=WEEK[-1] + datetime.timedelta(days=1)))

    assert result.status == luigi.LuigiStatusCode.SUCCESS
    record = json.loads((base_dir / "ingest" / "record.json").read_text())["runs"][-1]
    assert record["too_late"] == {"2024-01-04": 2} and record["rebuilt_days"] == ["2024-01-05"]
    assert kept.read_bytes() == before, "not rewritten: its window could not be rebuilt"
    assert summary(base_dir, WEEK[4])["total_orders"] == 22, "the next day, whose window is held, takes its rows"


def test_an_export_sent_twice_under_two_names_gives_each_order_once_from_the_later_file(landing, base_dir):
    rows = export_rows(WEEK[:2], per_day=10, seed=17)
    (landing / "week.csv").write_bytes(csv_bytes(rows))
    (landing / "2024" / "resent.csv").write_bytes(csv_bytes(rows))
    later = time.time_ns() + 10**9
    os.utime(landing / "week.csv", ns=(later, later))  # modified later: its versions win, whatever the names

    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS

    for day in WEEK[:2]:
        manifest = json.loads((day_dir(base_dir, "raw", day) / "manifest.json").read_text())
        fed = [(entry["file"], entry["rows"]) for entry in manifest["files"]]
        assert fed == [("2024/resent.csv", 0), ("week.csv", 10)]
        assert manifest["files"][0]["superseded_rows"] == 10
        lines = (day_dir(base_dir, "raw", day) / "orders.csv").read_text().splitlines()
        assert len(lines) == 11, "each order once"
    record = json.loads((base_dir / "ingest" / "record.json").read_text())["runs"][-1]
    assert record["superseded_versions"] == 20


def test_rows_whose_day_cannot_be_told_are_all_counted_and_the_first_thousand_listed(landing, base_dir, configure):
    configure({"validation": {"max_rejected_share": "1"}})  # a file of undated rows only is not refused whole
    rows = [{**row, "OrderDate": "soon"} for row in export_rows([WEEK[0]], per_day=1005, seed=18)]
    (landing / "undated.csv").write_bytes(csv_bytes(rows))

    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS

    record = json.loads((base_dir / "ingest" / "record.json").read_text())["runs"][-1]
    assert record["undated_row_count"] == 1005 and len(record["undated_rows"]) == 1000
    first = {"source_file": "undated.csv", "line": "2", "reason": 'unparseable order_timestamp (column "OrderDate")'}
    assert record["undated_rows"][0] == first
    assert record["rebuilt_days"] == [] and not (base_dir / "raw").exists()


def test_an_unchanged_landing_directory_is_not_read_again(landing, base_dir, monkeypatch):
    (landing / "week.csv").write_bytes(csv_bytes(export_rows(WEEK, per_day=10, seed=13)))
    assert build(week_range()).status == luigi.LuigiStatusCode.SUCCESS
    from etl import landing as landing_module

    def no_reading(*args, **kwargs):
        raise AssertionError("a file already ingested was read again")

    monkeypatch.setattr(landing_module, "read_file", no_reading)
    shutil.copy(landing / "week.csv", landing / "2024" / "copy-elsewhere.csv.tmp")  # not a pattern match

    assert build(week_range()).status == luigi.LuigiStatusCode.SUCCESS


def test_a_landing_file_replaced_by_a_copy_of_its_bytes_is_hashed_not_read_again(landing, base_dir, monkeypatch):
    (landing / "week.csv").write_bytes(csv_bytes(export_rows(WEEK, per_day=10, seed=13)))
    assert build(week_range()).status == luigi.LuigiStatusCode.SUCCESS
    shutil.copy2(landing / "week.csv", landing / "copy.tmp")
    os.replace(landing / "copy.tmp", landing / "week.csv")  # another inode, the same bytes and time (rsync's way)
    from etl import landing as landing_module

    def no_reading(*args, **kwargs):
        raise AssertionError("a file whose bytes the index has seen was read again")

    monkeypatch.setattr(landing_module, "read_file", no_reading)
    assert build(week_range()).status == luigi.LuigiStatusCode.SUCCESS
    index = json.loads((base_dir / "ingest" / "index.json").read_text())
    assert index["files"]["week.csv"]["version"] == (landing / "week.csv").stat().st_ino, "the new inode recorded"


@pytest.mark.slow
def test_two_overlapping_runs_over_one_landing_directory_leave_every_partition_correct(tmp_path):
    import subprocess

    from conftest import LUIGI

    landing = tmp_path / "landing"
    landing.mkdir()
    rows = export_rows(WEEK, per_day=400, seed=14)
    for part in range(4):
        (landing / f"part-{part}.csv").write_bytes(csv_bytes(rows[part::4]))
    base = tmp_path / "base"
    command = [
        str(LUIGI), "--module", "etl", "RangeDaily", "--of", "DailyReport", "--start=2024-01-01", "--stop=2024-01-08",
        "--local-scheduler", "--etl-source=landing", f"--landing-directory={landing}", f"--etl-base-dir={base}",
        f"--landing-column-map={json.dumps(COLUMN_MAP)}", "--validation-min-orders=1",
    ]  # fmt: skip

    manual = [arg.replace("--start=2024-01-01", "--start=2024-01-03") for arg in command]  # cron's and a person's
    runs = [subprocess.Popen(c, cwd=tmp_path, stderr=subprocess.PIPE, text=True) for c in (command, manual)]
    codes = [run.wait(timeout=300) for run in runs]

    assert codes == [0, 0], [run.stderr.read()[-2000:] for run in runs]
    for day, (orders, revenue) in expected_days(rows).items():
        figures = summary(base, day)
        assert (figures["total_orders"], figures["total_revenue"]) == (orders, revenue), day
    manifest = json.loads((day_dir(base, "raw", WEEK[0]) / "manifest.json").read_text())
    assert [entry["file"] for entry in manifest["files"]] == [f"part-{n}.csv" for n in range(4)], "each file once"


def test_rows_around_daylight_saving_changes_and_a_leap_day_land_in_their_local_day(landing, base_dir, configure):
    from zoneinfo import ZoneInfo

    new_york = ZoneInfo("America/New_York")
    configure({"etl": {"timezone": "America/New_York", "start_date": "2024-02-27"}, "validation": {"min_orders": 0}})
    stamps = [
        "2024-02-28T23:59:59", "2024-02-29T00:00:00", "2024-02-29T23:30:00-05:00", "2024-03-01T04:59:59Z",
        "2024-03-01T05:00:00Z", "2024-03-10T01:59:59", "2024-03-10T03:00:00", "2024-03-10T06:59:59Z",
        "2024-03-10T07:00:00Z", "2024-03-11T03:59:59Z", "2024-03-11T04:00:00Z", "2024-03-10",
        "2024-11-03T01:30:00", "2024-11-03T05:30:00Z", "2024-11-03T06:30:00Z", "2024-11-04T04:59:59Z",
        "2024-11-04T05:00:00Z", "2024-11-02T23:00:00-04:00",
    ]  # fmt: skip
    rows = [
        {"OrderID": f"T{i}", "CustomerRef": "C1", "SKU": "P1", "Qty": "1", "OrderDate": stamp, "Total": "10.00",
         "Channel": "web"}
        for i, stamp in enumerate(stamps)
    ]  # fmt: skip
    (landing / "edges.csv").write_bytes(csv_bytes(rows))

    def local_day(stamp: str) -> datetime.date:
        if len(stamp) == 10:
            return D.fromisoformat(stamp)
        moment = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        return moment.date() if moment.tzinfo is None else moment.astimezone(new_york).date()

    expected: dict[datetime.date, int] = defaultdict(int)
    for stamp in stamps:
        expected[local_day(stamp)] += 1
    ranges = [(D(2024, 2, 27), D(2024, 3, 13)), (D(2024, 11, 1), D(2024, 11, 6))]

    for start, stop in ranges:
        assert build(RangeDaily(of=DailyReport, start=start, stop=stop)).status == luigi.LuigiStatusCode.SUCCESS

    for start, stop in ranges:
        for day in (start + datetime.timedelta(days=i) for i in range((stop - start).days)):
            assert summary(base_dir, day)["total_orders"] == expected.get(day, 0), day
    assert expected[D(2024, 2, 29)] == 3 and expected[D(2024, 3, 10)] == 6 and expected[D(2024, 11, 3)] == 4


def test_the_ingest_record_is_stamped_with_etl_now(landing, base_dir, monkeypatch):
    monkeypatch.setenv("ETL_NOW", "2024-01-08T03:00:00+01:00")
    (landing / "orders.csv").write_bytes(csv_bytes(export_rows(WEEK, per_day=5, seed=3)))

    result = build(IngestLandingFiles())

    assert result.status == luigi.LuigiStatusCode.SUCCESS, result.summary_text
    record = json.loads((base_dir / "ingest" / "record.json").read_text())["runs"][-1]
    assert record["at"] == "2024-01-08T02:00:00+00:00", "the simulated moment, recorded in UTC"


def test_the_spill_goes_to_the_configured_scratch_directory_never_under_the_base(
    landing, base_dir, configure, tmp_path, monkeypatch
):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    configure({"etl": {"scratch_dir": str(scratch)}})
    monkeypatch.setattr(etl.spill.DaySpill.__init__, "__defaults__", (None, 0))  # every row goes to disk
    made = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        made.append(real_mkdtemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    (landing / "2024" / "week.csv").write_bytes(csv_bytes(export_rows(WEEK[:2], 30, seed=1)))

    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS

    assert [Path(path).parent for path in made] == [scratch], "one scratch directory, in [etl] scratch_dir"
    assert os.listdir(scratch) == [], "removed after the ingest"
    under_base = [str(p.relative_to(base_dir)) for p in base_dir.rglob("*")]
    assert not [name for name in under_base if "spill" in name], under_base
