"""RangeDaily in chunks: which chunk tasks it schedules, what each needs, and that they do what per-day tasks do."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import luigi
import pandas as pd
import pytest
from conftest import build
from luigi.parameter import ParameterException
from luigi.task_register import Register

from etl import (
    CleanupOldPartitions,
    DailyPipeline,
    DailyReport,
    GenerateDailyData,
    PipelineDays,
    ProcessDailyData,
    ProcessDays,
    RangeDaily,
    ReportDays,
)
from etl.partitions import partition_path
from etl.tasks import DaysFailedError

D = datetime.date


def days(first: datetime.date, stop: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=i) for i in range((stop - first).days)]


def chunks(**params) -> list[tuple]:
    Register.clear_instance_cache()
    return [(type(t).__name__, t.start, t.stop, t.run_start, t.days_per_task) for t in RangeDaily(**params).requires()]


def contents(base: Path) -> dict[str, object]:
    """Every file's bytes, reports without their run time (the one field two builds of a day differ in)."""
    files: dict[str, object] = {}
    for path in sorted(p for p in base.rglob("*") if p.is_file() and not p.name.startswith(".")):
        if path.name == "daily_report.json" or path.name == "latest_daily_report.json":
            report = json.loads(path.read_text())
            report["run"].pop("generated_at")
            files[str(path.relative_to(base))] = report
        else:
            files[str(path.relative_to(base))] = path.read_bytes()
    return files


def spoil(base: Path, day: datetime.date) -> Path:
    """Write ``day``'s raw file with too few orders for validation; returns its path."""
    assert GenerateDailyData(date=day).run() is None
    raw = partition_path(base, "raw", day) / "orders.csv"
    pd.read_csv(raw).head(5).to_csv(raw, index=False)
    return raw


def test_missing_days_are_scheduled_as_chunks_of_each_run_of_consecutive_days(configure):
    assert build(DailyReport(date=D(2024, 1, 5))).status == luigi.LuigiStatusCode.SUCCESS

    scheduled = chunks(of=DailyReport, start=D(2024, 1, 1), stop=D(2024, 1, 21), days_per_task=7)

    assert scheduled == [
        ("ReportDays", D(2024, 1, 1), D(2024, 1, 5), D(2024, 1, 1), 7),
        ("ReportDays", D(2024, 1, 6), D(2024, 1, 13), D(2024, 1, 6), 7),
        ("ReportDays", D(2024, 1, 13), D(2024, 1, 20), D(2024, 1, 6), 7),
        ("ReportDays", D(2024, 1, 20), D(2024, 1, 21), D(2024, 1, 6), 7),
    ]
    assert [t[0] for t in chunks(of=DailyPipeline, start=D(2024, 1, 1), stop=D(2024, 1, 3))] == ["PipelineDays"]
    assert [t[0] for t in chunks(of=ProcessDailyData, start=D(2024, 1, 6), stop=D(2024, 1, 8))] == ["ProcessDays"]


def test_one_day_per_task_and_tasks_without_a_chunk_form_are_scheduled_day_by_day(configure):
    Register.clear_instance_cache()
    per_step = RangeDaily(of=DailyReport, start=D(2024, 1, 1), stop=D(2024, 1, 4), days_per_task=1).requires()
    generate = RangeDaily(of=GenerateDailyData, start=D(2024, 1, 1), stop=D(2024, 1, 4)).requires()

    assert per_step == [DailyReport(date=day) for day in days(D(2024, 1, 1), D(2024, 1, 4))]
    assert generate == [GenerateDailyData(date=day) for day in days(D(2024, 1, 1), D(2024, 1, 4))]


def test_days_per_task_below_one_is_refused(configure):
    with pytest.raises(ParameterException, match="--days-per-task 0: must be at least 1"):
        chunks(of=DailyReport, start=D(2024, 1, 1), stop=D(2024, 1, 3), days_per_task=0)


def test_two_workers_get_a_chunk_each(configure):
    configure({"core": {"workers": 2}})

    scheduled = chunks(of=DailyReport, start=D(2024, 1, 1), stop=D(2024, 1, 31))

    assert [(t[1], t[2]) for t in scheduled] == [(D(2024, 1, 1), D(2024, 1, 16)), (D(2024, 1, 16), D(2024, 1, 31))]


def test_a_report_chunk_needs_its_days_and_the_earlier_days_of_its_windows(configure):
    later = ReportDays(start=D(2024, 1, 13), stop=D(2024, 1, 20), run_start=D(2024, 1, 6), days_per_task=7)
    first = ReportDays(start=D(2024, 1, 6), stop=D(2024, 1, 13), run_start=D(2024, 1, 6), days_per_task=7)
    chunk = {"run_start": D(2024, 1, 6), "days_per_task": 7}

    assert later.requires() == [
        ProcessDays(start=D(2024, 1, 13), stop=D(2024, 1, 20), **chunk),
        ProcessDays(start=D(2024, 1, 6), stop=D(2024, 1, 13), **chunk),
    ]
    assert first.requires() == [
        ProcessDays(start=D(2024, 1, 6), stop=D(2024, 1, 13), **chunk),
        *(ProcessDailyData(date=day) for day in days(D(2024, 1, 1), D(2024, 1, 6))),
    ], "days before the run are not in any chunk: their own tasks provide them (or are already complete)"


def test_pipeline_chunks_clean_up_after_the_previous_chunk_or_the_previous_day(configure):
    chunk = {"run_start": D(2024, 1, 6), "days_per_task": 7}
    first = PipelineDays(start=D(2024, 1, 6), stop=D(2024, 1, 13), **chunk)
    later = PipelineDays(start=D(2024, 1, 13), stop=D(2024, 1, 15), **chunk)

    assert first.requires() == [
        ReportDays(start=D(2024, 1, 6), stop=D(2024, 1, 13), **chunk),
        CleanupOldPartitions(date=D(2024, 1, 5)),
    ]
    assert later.requires() == [ReportDays(start=D(2024, 1, 13), stop=D(2024, 1, 15), **chunk), first]
    assert PipelineDays(
        start=D(2024, 1, 1), stop=D(2024, 1, 3), run_start=D(2024, 1, 1), days_per_task=7
    ).requires() == [ReportDays(start=D(2024, 1, 1), stop=D(2024, 1, 3), run_start=D(2024, 1, 1), days_per_task=7)], (
        "nothing before [etl] start_date"
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_chunks_write_exactly_what_a_task_per_step_writes(configure, base_dir, tmp_path, workers):
    range_ = {"of": DailyReport, "start": D(2024, 1, 1), "stop": D(2024, 1, 19)}
    assert build(RangeDaily(**range_, days_per_task=1)).status == luigi.LuigiStatusCode.SUCCESS
    configure({"etl": {"base_dir": str(tmp_path / "chunked")}})

    result = build(RangeDaily(**range_, days_per_task=5), workers=workers)

    assert result.status == luigi.LuigiStatusCode.SUCCESS
    assert contents(tmp_path / "chunked") == contents(base_dir)
    assert len(list((tmp_path / "chunked").glob("metrics/*/*/*/daily_report.json"))) == 18


def test_a_failed_day_fails_its_chunk_by_name_and_every_other_day_is_processed(configure, base_dir):
    raw = spoil(base_dir, D(2024, 1, 4))
    range_ = RangeDaily(of=DailyReport, start=D(2024, 1, 1), stop=D(2024, 1, 22), days_per_task=7)

    result = build(range_)

    assert result.status == luigi.LuigiStatusCode.FAILED
    chunk = ProcessDays(start=D(2024, 1, 1), stop=D(2024, 1, 8), run_start=D(2024, 1, 1), days_per_task=7)
    with pytest.raises(
        DaysFailedError,
        match=rf"1 of 7 days failed in ProcessDays\(start=2024-01-01.*\): "
        rf"validation failed for 2024-01-04 in {raw}: min_orders: 5 orders",
    ):
        chunk.run()
    processed = {day for day in days(D(2024, 1, 1), D(2024, 1, 22)) if ProcessDailyData(date=day).complete()}
    assert processed == set(days(D(2024, 1, 1), D(2024, 1, 22))) - {D(2024, 1, 4)}, "the chunk's other days ran"
    reports = {day for day in days(D(2024, 1, 1), D(2024, 1, 22)) if DailyReport(date=day).complete()}
    assert reports == set(days(D(2024, 1, 15), D(2024, 1, 22))), "only chunks whose windows miss the failed chunk"
    assert (raw.parent / "validation_failed.json").exists()


def test_a_day_needing_a_failed_day_is_reported_as_blocked_not_run_again(configure, base_dir):
    raw = spoil(base_dir, D(2024, 1, 3))
    chunk = PipelineDays(start=D(2024, 1, 1), stop=D(2024, 1, 5), run_start=D(2024, 1, 1), days_per_task=4)

    with pytest.raises(DaysFailedError) as failure:
        chunk.run()

    message = str(failure.value)
    assert message.startswith("2 of 4 days failed in PipelineDays(start=2024-01-01")
    assert f"validation failed for 2024-01-03 in {raw}: min_orders: 5 orders" in message
    assert "; 2024-01-04: needs " in message and "which failed earlier in this run" in message
    assert message.count("validation failed for 2024-01-03") == 1, "the failed day is tried once"
    cleaned = {day for day in days(D(2024, 1, 1), D(2024, 1, 5)) if CleanupOldPartitions(date=day).complete()}
    assert cleaned == {D(2024, 1, 1), D(2024, 1, 2)}
