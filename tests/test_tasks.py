"""The Luigi tasks run in-process with the local scheduler, on a fresh base directory each."""

from __future__ import annotations

import datetime
import functools
import json
from pathlib import Path

import luigi
import pandas as pd
import pytest
from conftest import build, day_dir

from etl import (
    CleanupOldPartitions,
    ComputeRollingMetrics,
    DailyPipeline,
    DailyReport,
    GenerateDailyData,
    ProcessDailyData,
    ValidateDailyData,
)
from etl.marks import built_from

D = datetime.date


def days(first: datetime.date, count: int) -> list[datetime.date]:
    return [first + datetime.timedelta(days=i) for i in range(count)]


def read(base: Path, layer: str, date: datetime.date, name: str) -> dict:
    return json.loads((day_dir(base, layer, date) / name).read_text())


def test_daily_report_builds_every_layer_of_its_day_and_window(configure, base_dir):
    result = build(DailyReport(date=D(2024, 1, 10)))

    assert result.status == luigi.LuigiStatusCode.SUCCESS, result.summary_text
    for day in days(D(2024, 1, 4), 7):
        assert (day_dir(base_dir, "processed", day) / "daily_summary.json").exists(), day
    assert not day_dir(base_dir, "processed", D(2024, 1, 3)).exists(), "outside the 7-day window"
    report = read(base_dir, "metrics", D(2024, 1, 10), "daily_report.json")
    assert report["execution_date"] == "2024-01-10"
    assert report["rolling_metrics"]["days_in_window"] == 7
    assert report["validation"]["passed"] is True
    summary = read(base_dir, "processed", D(2024, 1, 10), "daily_summary.json")
    assert report["daily_summary"] == summary
    processed = pd.read_csv(day_dir(base_dir, "processed", D(2024, 1, 10)) / "orders_processed.csv")
    assert summary["total_orders"] == len(processed)
    assert summary["total_revenue"] == round(processed["total_amount"].sum(), 2)
    latest = json.loads((base_dir / "metrics" / "latest_daily_report.json").read_text())
    assert latest == report


def test_window_never_reaches_before_start_date(configure, base_dir):
    build(ComputeRollingMetrics(date=D(2024, 1, 3)))

    metrics = read(base_dir, "metrics", D(2024, 1, 3), "rolling_metrics.json")
    assert metrics["window_start"] == "2024-01-01"
    assert metrics["days_in_window"] == 3
    assert not (base_dir / "raw" / "year=2023").exists(), "days before start_date are never required"


def test_validation_failure_fails_the_day_keeps_details_and_writes_nothing_downstream(configure, base_dir):
    bad_day = D(2024, 1, 5)
    orders = day_dir(base_dir, "raw", bad_day) / "orders.csv"
    build(GenerateDailyData(date=bad_day))
    frame = pd.read_csv(orders)
    frame.loc[3, "customer_id"] = None
    frame.loc[4, "order_timestamp"] = "2024-01-06T10:00:00"
    frame.to_csv(orders, index=False)

    result = build(*(DailyReport(date=day) for day in days(D(2024, 1, 1), 14)))

    assert result.status == luigi.LuigiStatusCode.FAILED
    reports = {day for day in days(D(2024, 1, 1), 14) if DailyReport(date=day).complete()}
    assert reports == set(days(D(2024, 1, 1), 4)) | set(days(D(2024, 1, 12), 3)), (
        "the bad day and the windows that contain it (5th to 11th) fail; every other day completes"
    )
    assert not day_dir(base_dir, "processed", bad_day).exists(), "nothing downstream of a failed day"
    assert not (day_dir(base_dir, "raw", bad_day) / "validation_report.json").exists()
    details = json.loads((day_dir(base_dir, "raw", bad_day) / "validation_failed.json").read_text())
    failing = {r["rule"]: r for r in details["rules"] if not r["passed"]}
    assert set(failing) == {"critical_not_null", "timestamps_in_day"}
    assert failing["critical_not_null"]["failing_rows"] == 1
    assert failing["timestamps_in_day"]["failing_rows"] == 1


def test_validation_error_names_date_file_and_rule(configure, base_dir):
    configure({"validation": {"min_orders": 100000}})
    build(GenerateDailyData(date=D(2024, 2, 1)))
    task = ValidateDailyData(date=D(2024, 2, 1))

    with pytest.raises(Exception, match=r"2024-02-01.*orders\.csv.*min_orders") as error:
        task.run()

    assert "at least 100000 required" in str(error.value)


def test_a_failed_day_is_retried_and_completes_once_its_data_is_fixed(configure, base_dir):
    day = D(2024, 1, 2)
    configure({"validation": {"min_orders": 100000}})
    assert build(DailyReport(date=day)).status == luigi.LuigiStatusCode.FAILED
    assert (day_dir(base_dir, "raw", day) / "validation_failed.json").exists()

    configure({"validation": {"min_orders": 20}})
    assert build(DailyReport(date=day)).status == luigi.LuigiStatusCode.SUCCESS

    assert DailyReport(date=day).complete()
    assert not (day_dir(base_dir, "raw", day) / "validation_failed.json").exists(), "stale failure removed"


def test_a_range_retries_a_failed_day_once_the_setting_that_refused_it_changes(configure, base_dir):
    from etl import RangeDaily

    range_ = {"of": DailyReport, "start": D(2024, 1, 1), "stop": D(2024, 1, 4)}
    configure({"validation": {"min_orders": 100000}})
    assert build(RangeDaily(**range_)).status == luigi.LuigiStatusCode.FAILED
    assert build(RangeDaily(**range_)).status == luigi.LuigiStatusCode.FAILED, "unchanged: still refused"

    configure({"validation": {"min_orders": 20}})
    assert build(RangeDaily(**range_)).status == luigi.LuigiStatusCode.SUCCESS
    assert all(DailyReport(date=day).complete() for day in days(D(2024, 1, 1), 3))


def test_a_day_that_is_not_over_is_refused_before_any_work_even_with_its_raw_file_present(configure, base_dir):
    configure({"etl": {"timezone": "Pacific/Kiritimati"}})
    today_there = datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=1)
    with pytest.raises(ValueError, match="not over yet in \\[etl\\] timezone Pacific/Kiritimati"):
        GenerateDailyData(date=today_there + datetime.timedelta(days=1)).run()
    assert not day_dir(base_dir, "raw", today_there + datetime.timedelta(days=1)).exists()

    configure({"etl": {"timezone": "UTC", "start_date": "2024-01-01"}})
    yesterday = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=1)
    assert build(GenerateDailyData(date=yesterday)).status == luigi.LuigiStatusCode.SUCCESS
    today = yesterday + datetime.timedelta(days=1)
    raw = day_dir(base_dir, "raw", today)
    raw.mkdir(parents=True)
    (raw / "orders.csv").write_bytes((day_dir(base_dir, "raw", yesterday) / "orders.csv").read_bytes())

    result = build(DailyReport(date=today))

    assert result.status == luigi.LuigiStatusCode.SCHEDULING_FAILED, result.summary_text
    assert not day_dir(base_dir, "processed", today).exists(), "a day that is not over is never processed"
    assert not (base_dir / "metrics").exists(), "nor published as the latest report"


@pytest.mark.parametrize("task_cls", [GenerateDailyData, ValidateDailyData, ProcessDailyData, DailyReport])
def test_bulk_complete_agrees_with_complete_and_accepts_an_iterator_and_a_partial(configure, base_dir, task_cls):
    build(*(DailyReport(date=day) for day in days(D(2024, 1, 1), 10)))
    (day_dir(base_dir, "processed", D(2024, 1, 5)) / "daily_summary.json").unlink()
    candidates = days(D(2024, 1, 1), 12)

    expected = [day for day in candidates if task_cls(date=day).complete()]
    from_iterator = task_cls.bulk_complete.__func__(functools.partial(task_cls), iter(candidates))

    assert list(from_iterator) == expected
    assert expected, "some days are complete"
    assert len(expected) < len(candidates), "some are not"


def test_latest_report_never_moves_backwards(configure, base_dir):
    build(DailyReport(date=D(2024, 1, 20)))
    build(DailyReport(date=D(2024, 1, 12)))

    latest = json.loads((base_dir / "metrics" / "latest_daily_report.json").read_text())
    assert latest["execution_date"] == "2024-01-20"


def test_same_day_generated_twice_is_byte_identical(configure, base_dir, tmp_path):
    build(GenerateDailyData(date=D(2024, 3, 3)))
    first = (day_dir(base_dir, "raw", D(2024, 3, 3)) / "orders.csv").read_bytes()
    configure({"etl": {"base_dir": str(tmp_path / "other")}})
    build(GenerateDailyData(date=D(2024, 3, 3)))

    assert (day_dir(tmp_path / "other", "raw", D(2024, 3, 3)) / "orders.csv").read_bytes() == first


def test_daily_pipeline_applies_retention_per_layer_and_records_it(configure, base_dir, monkeypatch):
    from etl import RangeDaily

    last = D(2024, 2, 20)
    monkeypatch.setenv("ETL_NOW", "2024-02-21T02:00+00:00")  # the night after: the range's last block ends there
    configure({"retention": {"raw_days": 3, "processed_days": 10, "metrics_days": 20}})

    result = build(RangeDaily(of=DailyPipeline, start=D(2024, 1, 1), stop=last + datetime.timedelta(days=1)))

    assert result.status == luigi.LuigiStatusCode.SUCCESS, result.summary_text
    for layer, keep in (("raw", 3), ("processed", 10), ("metrics", 20)):
        kept = sorted(p.name for p in (base_dir / layer).glob("year=*/month=*/day=*"))
        oldest = last - datetime.timedelta(days=keep)
        assert day_dir(base_dir, layer, oldest).exists(), f"{layer}: day == date - retention stays"
        assert not day_dir(base_dir, layer, oldest - datetime.timedelta(days=1)).exists(), layer
        assert len(kept) == keep + 1, f"{layer} keeps {keep + 1} days, has {kept}"
    assert not (base_dir / "raw" / "year=2024" / "month=01").exists(), "emptied month directories go too"
    record = read(base_dir, "cleanup", last, "cleanup_report.json")
    assert [run["removed"]["raw"] for run in record["runs"]] == [["raw/year=2024/month=02/day=16"]]
    ledger = json.loads((base_dir / "cleanup" / "retired_days.json").read_text())
    assert ledger["metrics"] == [["2024-01-01", "2024-01-31"]], "the ledger holds every retired day as ranges"
    every_day = days(D(2024, 1, 1), 51)
    assert all(DailyPipeline(date=day).complete() for day in every_day), "no cleanup is due as of any day"
    for task in (DailyReport, ProcessDailyData, ValidateDailyData, GenerateDailyData):
        assert task(date=D(2024, 1, 5)).complete(), f"{task.__name__}: a retired day stays done for every task"


def test_cleanup_only_on_configured_weekdays(configure, base_dir, monkeypatch):
    from etl import RangeDaily

    monkeypatch.setenv("ETL_NOW", "2024-01-14T02:00+00:00")  # Saturday's night: the range's last block ends there
    configure({"retention": {"raw_days": 1, "processed_days": 7, "cleanup_weekdays": "sun"}})
    saturday = D(2024, 1, 13)

    build(RangeDaily(of=DailyPipeline, start=D(2024, 1, 1), stop=saturday + datetime.timedelta(days=1)))
    monkeypatch.delenv("ETL_NOW")

    raw_days = sorted(p.name for p in (base_dir / "raw").glob("year=*/month=*/day=*"))
    assert raw_days[0] == "day=06", "only as of Sunday the 7th is anything removed (raw before the 6th)"
    assert len(raw_days) == 8
    build(DailyPipeline(date=saturday + datetime.timedelta(days=1)))
    assert len(list((base_dir / "raw").glob("year=*/month=*/day=*"))) == 2, "Sunday keeps date - 1 and date"


def test_processed_retention_shorter_than_window_is_refused_before_any_work(configure, base_dir, caplog):
    configure({"retention": {"processed_days": 3}})

    result = build(DailyPipeline(date=D(2024, 1, 9)))

    assert result.status == luigi.LuigiStatusCode.SCHEDULING_FAILED
    assert not base_dir.exists(), "nothing is written"
    assert "[retention] processed_days=3 is shorter than [rolling] window_days=7" in caplog.text


def test_parallel_workers_produce_the_same_bytes_as_one(configure, base_dir, tmp_path):
    build(*(DailyReport(date=day) for day in days(D(2024, 1, 1), 10)))
    configure({"etl": {"base_dir": str(tmp_path / "parallel")}})
    result = build(*(DailyReport(date=day) for day in days(D(2024, 1, 1), 10)), workers=2)

    assert result.status == luigi.LuigiStatusCode.SUCCESS
    for path in sorted((base_dir / "processed").rglob("*.*")):
        twin = tmp_path / "parallel" / path.relative_to(base_dir)
        if path.name.startswith("_"):  # a completion mark: also when its files were seen
            assert built_from(json.loads(twin.read_text())) == built_from(json.loads(path.read_text())), path
        else:
            assert twin.read_bytes() == path.read_bytes(), path


def test_an_unreadable_raw_file_fails_validation_with_its_name_and_rule(configure, base_dir):
    day = D(2024, 1, 3)
    raw = day_dir(base_dir, "raw", day) / "orders.csv"
    raw.parent.mkdir(parents=True)
    raw.write_bytes(b'order_id,quantity\n"unterminated,1\n\xff\xfe,2,3,4\n')

    with pytest.raises(Exception, match=r"validation failed for 2024-01-03 in .*orders\.csv: readable_csv"):
        ValidateDailyData(date=day).run()

    assert not (day_dir(base_dir, "raw", day) / "validation_report.json").exists()
    assert (day_dir(base_dir, "raw", day) / "validation_failed.json").exists()


def test_a_range_runs_oldest_day_first(configure, base_dir):
    from etl import RangeDaily

    result = build(RangeDaily(of=DailyReport, start=D(2024, 1, 1), stop=D(2024, 1, 9)))

    assert result.status == luigi.LuigiStatusCode.SUCCESS
    written = [(day_dir(base_dir, "raw", day) / "orders.csv").stat().st_mtime_ns for day in days(D(2024, 1, 1), 8)]
    assert written == sorted(written), "each day's raw file is written after the previous day's"


@pytest.mark.parametrize("task_cls", [GenerateDailyData, DailyReport, DailyPipeline, CleanupOldPartitions])
def test_a_class_parameter_list_is_luigis_own_listing_computed_once(task_cls):
    from etl.config import etl, generation

    for cls in (task_cls, etl, generation):
        assert cls.get_params() == luigi.Task.get_params.__func__(cls)
        assert cls.get_params() is cls.get_params()


def test_run_settings_are_read_once_and_follow_config_and_command_line_changes(configure, base_dir, tmp_path):
    from luigi.cmdline_parser import CmdlineParser

    from etl import run_settings

    first = run_settings.current()
    assert first.store.describe() == str(base_dir)
    assert run_settings.current() is first, "kept while nothing changes"
    assert first.generation.mean_orders_per_day == 80

    luigi.configuration.get_config().set("etl", "base_dir", str(tmp_path / "elsewhere"))
    assert run_settings.current().store.describe() == str(tmp_path / "elsewhere")
    task = GenerateDailyData(date=D(2024, 1, 1))
    assert task.output()["orders.csv"].path.startswith(str(tmp_path / "elsewhere"))
    luigi.configuration.get_config().set("etl", "base_dir", str(tmp_path / "third"))
    assert task.output()["orders.csv"].path.startswith(str(tmp_path / "third")), "a task's outputs follow the change"

    with CmdlineParser.global_instance(["GenerateDailyData", "--date=2024-01-01", "--etl-base-dir=/from/cli"]):
        assert run_settings.current().store.describe() == "/from/cli"
    assert run_settings.current().store.describe() == str(tmp_path / "third")


@pytest.mark.parametrize(("value", "rule"), [("inf", "numeric_fields"), ("", "critical_not_null"), ("nan", None)])
def test_a_non_finite_or_missing_amount_fails_the_day_instead_of_vanishing_from_the_revenue(
    configure, base_dir, value, rule
):
    day = D(2024, 1, 4)
    build(GenerateDailyData(date=day))
    raw = day_dir(base_dir, "raw", day) / "orders.csv"
    frame = pd.read_csv(raw, dtype=str, keep_default_na=False)
    frame.loc[7, "total_amount"] = value
    frame.to_csv(raw, index=False)

    result = build(DailyReport(date=day))

    assert result.status == luigi.LuigiStatusCode.FAILED
    details = json.loads((day_dir(base_dir, "raw", day) / "validation_failed.json").read_text())
    failing = {r["rule"] for r in details["rules"] if not r["passed"]}
    assert failing & {"numeric_fields", "critical_not_null"}, failing
    if rule is not None:
        assert rule in failing
    assert not day_dir(base_dir, "processed", day).exists(), "no summary with NaN or Infinity in it"
