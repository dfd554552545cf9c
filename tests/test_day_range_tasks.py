"""RangeDaily in chunks: which chunk tasks it schedules, what each needs, and that they do what per-day tasks do."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import luigi
import pandas as pd
import pytest
from conftest import build, day_dir
from luigi.parameter import ParameterException
from luigi.task_register import Register

from etl import (
    DailyPipeline,
    DailyReport,
    GenerateDailyData,
    PipelineDays,
    ProcessDailyData,
    ProcessDays,
    RangeDaily,
    ReportDays,
)
from etl.day_ranges import block_containing
from etl.marks import built_from

D = datetime.date


def days(first: datetime.date, stop: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=i) for i in range((stop - first).days)]


def chunks(**params) -> list[tuple]:
    Register.clear_instance_cache()
    return [(type(t).__name__, t.start, t.stop) for t in RangeDaily(**params).requires()]


def contents(base: Path) -> dict[str, object]:
    """Every file's bytes, reports without their run time (the one field two builds of a day differ in), marks as
    what they say was built from what."""
    files: dict[str, object] = {}
    for path in sorted(p for p in base.rglob("*") if p.is_file() and not p.name.startswith(".")):
        if path.name.startswith("_"):
            files[str(path.relative_to(base))] = built_from(json.loads(path.read_text()))
        elif path.name == "daily_report.json" or path.name == "latest_daily_report.json":
            report = json.loads(path.read_text())
            report["run"].pop("generated_at")
            files[str(path.relative_to(base))] = report
        else:
            files[str(path.relative_to(base))] = path.read_bytes()
    return files


def spoil(base: Path, day: datetime.date) -> Path:
    """Write ``day``'s raw file with too few orders for validation; returns its path."""
    assert GenerateDailyData(date=day).run() is None
    raw = day_dir(base, "raw", day) / "orders.csv"
    pd.read_csv(raw).head(5).to_csv(raw, index=False)
    return raw


def test_chunks_are_blocks_of_a_fixed_grid_clipped_to_the_calendar_whatever_the_range_the_days_done_or_the_workers(
    configure,
):
    week = {"of": DailyReport, "stop": D(2024, 1, 22), "days_per_task": 7}
    expected = [
        ("ReportDays", D(2024, 1, 1), D(2024, 1, 8)),  # 2024-01-01 is a Monday: blocks are ISO weeks
        ("ReportDays", D(2024, 1, 8), D(2024, 1, 15)),
        ("ReportDays", D(2024, 1, 15), D(2024, 1, 22)),
    ]
    assert chunks(start=D(2024, 1, 3), **week) == expected, "a range completes whole blocks"
    assert chunks(start=D(2024, 1, 1), **week) == expected, "cron's range and a manual one share their blocks"
    assert chunks(start=D(2024, 1, 10), stop=D(2024, 1, 17), of=DailyReport, days_per_task=7) == expected[1:]
    configure({"core": {"workers": 2}})
    assert chunks(start=D(2024, 1, 3), **week) == expected, "the same tasks with two workers"

    assert build(DailyReport(date=D(2024, 1, 10))).status == luigi.LuigiStatusCode.SUCCESS
    assert chunks(start=D(2024, 1, 3), **week) == expected, "the same tasks once a few days are done"
    for day in days(D(2024, 1, 8), D(2024, 1, 15)):
        build(DailyReport(date=day))
    assert chunks(start=D(2024, 1, 3), **week) == [expected[0], expected[2]], "a block with nothing missing goes"
    configure({"etl": {"start_date": "2024-01-03"}})
    assert chunks(start=D(2024, 1, 3), **week)[0] == ("ReportDays", D(2024, 1, 3), D(2024, 1, 8)), "the calendar's"
    assert [t[0] for t in chunks(of=DailyPipeline, start=D(2024, 1, 3), stop=D(2024, 1, 5))] == ["PipelineDays"]
    assert [t[0] for t in chunks(of=ProcessDailyData, start=D(2024, 1, 20), stop=D(2024, 1, 22))] == ["ProcessDays"]


def test_the_last_chunk_stops_at_the_first_day_not_over(configure, monkeypatch):
    monkeypatch.setenv("ETL_NOW", "2024-01-19T12:00+00:00")
    assert chunks(of=DailyReport, start=D(2024, 1, 10), days_per_task=7) == [
        ("ReportDays", D(2024, 1, 8), D(2024, 1, 15)),
        ("ReportDays", D(2024, 1, 15), D(2024, 1, 19)),
    ]


def test_one_day_per_task_and_tasks_without_a_chunk_form_are_scheduled_day_by_day(configure):
    Register.clear_instance_cache()
    per_step = RangeDaily(of=DailyReport, start=D(2024, 1, 1), stop=D(2024, 1, 4), days_per_task=1).requires()
    generate = RangeDaily(of=GenerateDailyData, start=D(2024, 1, 1), stop=D(2024, 1, 4)).requires()

    assert per_step == [DailyReport(date=day) for day in days(D(2024, 1, 1), D(2024, 1, 4))]
    assert generate == [GenerateDailyData(date=day) for day in days(D(2024, 1, 1), D(2024, 1, 4))]


def test_days_per_task_below_one_is_refused(configure):
    with pytest.raises(ParameterException, match="--days-per-task 0: must be at least 1"):
        chunks(of=DailyReport, start=D(2024, 1, 1), stop=D(2024, 1, 3), days_per_task=0)


def test_a_chunk_needs_what_its_days_own_tasks_need_from_other_stages(configure):
    configure({"etl": {"start_date": "2024-01-03"}})
    first = ReportDays(start=D(2024, 1, 3), stop=D(2024, 1, 8), days_per_task=7)
    later = ReportDays(start=D(2024, 1, 8), stop=D(2024, 1, 15), days_per_task=7)

    assert set(later.requires()) == {
        ProcessDays(start=D(2024, 1, 8), stop=D(2024, 1, 15), days_per_task=7),
        ProcessDays(start=D(2024, 1, 3), stop=D(2024, 1, 8), days_per_task=7),
    }, "its days and its windows' earlier days: the previous block's chunk, clipped to the calendar"
    assert set(first.requires()) == {ProcessDays(start=D(2024, 1, 3), stop=D(2024, 1, 8), days_per_task=7)}, (
        "the calendar has no days before its start_date to need"
    )
    assert set(PipelineDays(start=D(2024, 1, 8), stop=D(2024, 1, 15), days_per_task=7).requires()) == {
        ReportDays(start=D(2024, 1, 8), stop=D(2024, 1, 15), days_per_task=7),
        PipelineDays(start=D(2024, 1, 3), stop=D(2024, 1, 8), days_per_task=7),
    }, "its reports, and the previous chunk's cleanups (a cleanup concerns every earlier day)"
    assert later.task_id == ReportDays(start=D(2024, 1, 8), stop=D(2024, 1, 15), days_per_task=14).task_id, (
        "a chunk's id is its days alone"
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_chunks_write_exactly_what_a_task_per_step_writes(configure, base_dir, tmp_path, workers):
    range_ = {"of": DailyReport, "start": D(2024, 1, 1), "stop": D(2024, 1, 19)}
    blocks_end = block_containing(D(2024, 1, 18), 5)[1]  # a range completes whole blocks
    assert build(RangeDaily(**range_ | {"stop": blocks_end}, days_per_task=1)).status == luigi.LuigiStatusCode.SUCCESS
    configure({"etl": {"base_dir": str(tmp_path / "chunked")}})

    result = build(RangeDaily(**range_, days_per_task=5), workers=workers)

    assert result.status == luigi.LuigiStatusCode.SUCCESS
    assert contents(tmp_path / "chunked") == contents(base_dir)
    assert (
        len(list((tmp_path / "chunked").glob("metrics/*/*/*/daily_report.json"))) == (blocks_end - D(2024, 1, 1)).days
    )


def test_a_failed_day_holds_back_exactly_the_reports_whose_windows_hold_it_and_the_range_names_it(configure, base_dir):
    raw = spoil(base_dir, D(2024, 1, 4))
    events: list[tuple[luigi.Task, Exception]] = []
    luigi.Task.event_handler(luigi.Event.FAILURE)(lambda task, error: events.append((task, error)))
    range_ = {"of": DailyReport, "start": D(2024, 1, 1), "stop": D(2024, 1, 22), "days_per_task": 7}
    try:
        result = build(RangeDaily(**range_))
    finally:
        luigi.Task._event_callbacks[luigi.Task][luigi.Event.FAILURE].pop()

    assert result.status == luigi.LuigiStatusCode.FAILED
    everything = set(days(D(2024, 1, 1), D(2024, 1, 22)))
    processed = {day for day in everything if ProcessDailyData(date=day).complete()}
    assert processed == everything - {D(2024, 1, 4)}, "every other day is processed"
    reports = {day for day in everything if DailyReport(date=day).complete()}
    assert reports == everything - set(days(D(2024, 1, 4), D(2024, 1, 11))), "only windows holding the 4th wait"
    failures = {type(task).__name__: str(error) for task, error in events}
    assert set(failures) == {"ValidateDailyData", "RangeDaily"}, "the day's own task and the range, not the chunks"
    assert f"validation failed for 2024-01-04 in {raw}: min_orders: 5 orders" in failures["ValidateDailyData"]
    assert f"2024-01-04: validation failed for 2024-01-04 in {raw}: min_orders" in failures["RangeDaily"]
    assert "2024-01-10: held back: validation failed for 2024-01-04" in failures["RangeDaily"]
    assert "7 days of DailyReport failed" in failures["RangeDaily"]

    marker = (raw.parent / "validation_failed.json").stat().st_mtime_ns
    again = build(RangeDaily(**range_))
    assert again.status == luigi.LuigiStatusCode.FAILED, "the range keeps failing while the day is bad"
    assert (raw.parent / "validation_failed.json").stat().st_mtime_ns == marker, "an unchanged input is not re-run"

    assert GenerateDailyData(date=D(2024, 1, 4)).run() is None  # the input is fixed
    assert build(RangeDaily(**range_)).status == luigi.LuigiStatusCode.SUCCESS
    assert all(DailyReport(date=day).complete() for day in everything)


def test_the_night_after_a_failed_day_builds_the_new_days_own_steps_while_its_report_waits(configure, base_dir):
    """Cron's case: the range grows by a day while an earlier day is failed. The new day's report is held back, but
    nothing holds back its raw, validated and processed data: the chunk is not settled until those are built."""
    spoil(base_dir, D(2024, 1, 4))
    night = {"of": DailyPipeline, "start": D(2024, 1, 1), "days_per_task": 14}
    assert build(RangeDaily(stop=D(2024, 1, 5), **night)).status == luigi.LuigiStatusCode.FAILED

    result = build(RangeDaily(stop=D(2024, 1, 6), **night))

    assert result.status == luigi.LuigiStatusCode.FAILED, "the 4th is still failed"
    assert ProcessDailyData(date=D(2024, 1, 5)).complete(), "the 5th is processed the night it is over"
    assert not DailyReport(date=D(2024, 1, 5)).complete(), "its window holds the 4th"


def test_a_chunk_settles_on_a_failed_day_and_names_it_and_the_days_it_holds_back(configure, base_dir):
    raw = spoil(base_dir, D(2024, 1, 3))
    chunk = PipelineDays(start=D(2024, 1, 1), stop=D(2024, 1, 5), days_per_task=4)
    build(ReportDays(start=D(2024, 1, 1), stop=D(2024, 1, 5), days_per_task=4))
    messages: list[str] = []
    chunk.set_status_message, chunk.set_progress_percentage = messages.append, lambda percent: None

    chunk.run()

    assert messages[-1].startswith("2 of 4 days done, 2 failed"), messages[-1]
    assert f"2024-01-03: validation failed for 2024-01-03 in {raw}: min_orders: 5 orders" in messages[-1]
    assert "2024-01-04: held back: validation failed for 2024-01-03" in messages[-1]
    assert chunk.complete(), "settled: every day is done or failed on an unchanged input"
    assert DailyPipeline(date=D(2024, 1, 2)).complete()


def test_any_other_error_fails_the_chunk_and_blocks_what_needs_it(configure, base_dir, monkeypatch):
    from etl import steps

    def broken_disk(*args):
        raise OSError("No space left on device")

    monkeypatch.setattr(steps, "process_day", broken_disk)

    result = build(RangeDaily(of=DailyReport, start=D(2024, 1, 1), stop=D(2024, 1, 8), days_per_task=7))

    assert result.status == luigi.LuigiStatusCode.FAILED
    failed = result.worker._scheduler.task_list("FAILED", "")
    assert list(failed) == [ProcessDays(start=D(2024, 1, 1), stop=D(2024, 1, 8), days_per_task=7).task_id]
    assert not (base_dir / "metrics").exists()
