"""``[etl] depends_on_past``: a day's report also waits on the previous day's, so a failed day holds back every
later report; chunks, status and retention follow from ``DailyReport.requires()``."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import luigi
import pandas as pd
import pytest
from conftest import build, day_dir, fast_day_args
from luigi.task_register import Register

from etl import (
    CleanupOldPartitions,
    DailyPipeline,
    DailyReport,
    GenerateDailyData,
    ProcessDailyData,
    ProcessDays,
    RangeDaily,
    ReportDays,
    ValidateDailyData,
    run_settings,
)
from etl.day_ranges import block_containing, days_between
from etl.state import DayState, StoreView
from etl.status import day_rows
from etl.validation import DataValidationError

D = datetime.date
ONE_DAY = datetime.timedelta(days=1)
DEPENDS_ON_PAST = {"etl": {"depends_on_past": "true"}}
ETL = Path(sys.executable).with_name("etl")


def spoil(base: Path, day: datetime.date) -> None:
    """Write ``day``'s raw file with too few orders for validation."""
    GenerateDailyData(date=day).run()
    raw = day_dir(base, "raw", day) / "orders.csv"
    pd.read_csv(raw).head(5).to_csv(raw, index=False)


def range_failures(range_: RangeDaily) -> str:
    """Build ``range_`` and return the message the range failed with."""
    failures: list[str] = []
    luigi.Task.event_handler(luigi.Event.FAILURE)(
        lambda task, error: failures.append(str(error)) if isinstance(task, RangeDaily) else None
    )
    try:
        result = build(range_)
    finally:
        luigi.Task._event_callbacks[luigi.Task][luigi.Event.FAILURE].pop()
    assert result.status == luigi.LuigiStatusCode.FAILED
    (message,) = failures
    return message


def test_a_report_requires_the_previous_days_report_only_with_depends_on_past_and_from_start_date_on(configure):
    assert set(DailyReport(date=D(2024, 1, 5)).requires()) == {"validation", "summary", "rolling"}, "off by default"

    configure(DEPENDS_ON_PAST)

    assert DailyReport(date=D(2024, 1, 5)).requires()["previous"] == DailyReport(date=D(2024, 1, 4))
    assert "previous" not in DailyReport(date=D(2024, 1, 1)).requires(), "start_date has no day before it"


def test_a_report_chunk_needs_the_chunk_of_its_first_days_previous_report_and_keeps_its_days_as_its_id(configure):
    grid = {"days_per_task": 7}
    week = {"of": DailyReport, "start": D(2024, 1, 3), "stop": D(2024, 1, 22), "days_per_task": 7}
    Register.clear_instance_cache()
    planned = RangeDaily(**week).requires()
    configure(DEPENDS_ON_PAST)

    assert RangeDaily(**week).requires() == planned, "the same chunks, with the same ids"
    assert set(ReportDays(start=D(2024, 1, 8), stop=D(2024, 1, 15), **grid).requires()) == {
        ProcessDays(start=D(2024, 1, 8), stop=D(2024, 1, 15), **grid),
        ProcessDays(start=D(2024, 1, 1), stop=D(2024, 1, 8), **grid),
        ReportDays(start=D(2024, 1, 1), stop=D(2024, 1, 8), **grid),
    }, "what it needs without the option, and the chunk of the report of the day before its first"
    first, stop = block_containing(D(2026, 12, 1), 7)
    before = first - datetime.timedelta(days=7)
    far = {"days_per_task": 7}
    assert set(ReportDays(start=first, stop=stop, **far).requires()) == {
        ProcessDays(start=first, stop=stop, **far),
        ProcessDays(start=before, stop=first, **far),
        ReportDays(start=before, stop=first, **far),
    }, "three years into a range, a chunk still needs only its neighbours: no walk back through the history"


def test_a_failed_day_holds_back_every_later_report_across_chunks_and_the_range_names_each(configure, base_dir):
    configure(DEPENDS_ON_PAST)
    bad = D(2024, 1, 10)
    spoil(base_dir, bad)
    every_day = days_between(D(2024, 1, 1), D(2024, 3, 1))  # 60 days, in five chunks of the 14-day grid

    message = range_failures(RangeDaily(of=DailyReport, start=every_day[0], stop=D(2024, 3, 1)))

    reported = [day for day in every_day if day_dir(base_dir, "metrics", day).joinpath("daily_report.json").exists()]
    assert reported == days_between(D(2024, 1, 1), bad)
    assert f"{len(every_day) - 9} days of DailyReport failed" in message
    assert f"{bad}: validation failed for {bad}" in message
    for day in every_day[10:]:
        assert f"\n{day}: held back: validation failed for {bad}" in message, day
    assert all(ProcessDailyData(date=day).complete() for day in every_day if day != bad), "other layers go on"


def test_status_of_three_years_held_back_by_one_day_judges_each_step_once_without_deep_recursion(
    configure, base_dir, monkeypatch
):
    configure(DEPENDS_ON_PAST)
    monkeypatch.setenv("ETL_NOW", "2027-01-01T00:00:00+00:00")
    every_day = days_between(D(2024, 1, 1), D(2024, 1, 1) + 1095 * ONE_DAY)
    bad = D(2024, 1, 10)
    layers = {
        "raw": ("orders.csv", "validation_report.json"),
        "processed": ("orders_processed.csv", "daily_summary.json"),
        "metrics": ("rolling_metrics.json", "daily_report.json"),
    }
    for layer, names in layers.items():  # written in pipeline order, so that no day is stale
        for day in every_day:
            if day == bad or (layer == "metrics" and day > bad):
                continue
            day_dir(base_dir, layer, day).mkdir(parents=True)
            for name in names:
                day_dir(base_dir, layer, day).joinpath(name).touch()
    spoil(base_dir, bad)
    with pytest.raises(DataValidationError):
        ValidateDailyData(date=bad).run()
    judged = []
    judge = StoreView._status
    monkeypatch.setattr(StoreView, "_status", lambda view, step: judged.append(step) or judge(view, step))

    rows = day_rows(run_settings.current(), every_day[0], every_day[-1] + ONE_DAY)

    reports = [row.steps["report"] for row in rows]
    assert {report.state for report in reports[:9]} == {"done"}
    assert (reports[9].state, reports[9].brief) == ("held back", "min_orders")
    assert {(report.state, report.brief) for report in reports[10:]} == {("held back", f"by {bad}")}
    assert len(judged) == len(set(judged)) <= 5 * len(every_day), "each day's five steps judged once"


def test_a_cleanup_keeps_what_held_back_days_need_and_retires_finished_reports_later_days_still_wait_on(
    configure, base_dir, monkeypatch
):
    configure({**DEPENDS_ON_PAST, "retention": {"raw_days": 1, "processed_days": 7, "metrics_days": 1}})
    bad, last = D(2024, 1, 5), D(2024, 1, 20)
    monkeypatch.setenv("ETL_NOW", f"{last + ONE_DAY}T12:00+00:00")  # the night after: the range's blocks end there
    spoil(base_dir, bad)
    every_day = days_between(D(2024, 1, 1), last + ONE_DAY)
    range_failures(RangeDaily(of=DailyReport, start=every_day[0], stop=last + ONE_DAY))

    assert build(CleanupOldPartitions(date=last)).status == luigi.LuigiStatusCode.SUCCESS

    def present(layer: str) -> list[datetime.date]:
        return [day for day in every_day if day_dir(base_dir, layer, day).exists()]

    assert present("raw") == every_day[4:], "days 1-4 are reported and go; the bad day and the held back stay"
    assert present("processed") == [day for day in every_day if day != bad], "every window still has a report due"
    assert present("metrics") == every_day[11:], "the finished reports go; rolling metrics of reports due stay"
    view = StoreView(run_settings.current().store)
    assert view.status(DailyReport(date=bad - ONE_DAY)).state is DayState.EXPIRED, "the report the bad day waits on"

    GenerateDailyData(date=bad).run()  # the input is fixed
    pipeline = RangeDaily(of=DailyPipeline, start=every_day[0], stop=last + ONE_DAY)
    assert build(pipeline).status == luigi.LuigiStatusCode.SUCCESS
    assert all(DailyReport(date=day).complete() for day in every_day), "built, then retired as they age"
    assert present("metrics") == [last - ONE_DAY, last]


@pytest.mark.slow
def test_the_etl_command_holds_back_every_report_after_a_failed_day_and_builds_them_once_it_is_fixed(tmp_path):
    base, bad = tmp_path / "base", D(2024, 1, 5)
    config = tmp_path / "luigi.cfg"
    config.write_text("[etl]\ndepends_on_past = true\n")
    every_day = days_between(D(2024, 1, 1), D(2024, 1, 21))

    def etl(*args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}
        return subprocess.run(
            [str(ETL), *args, f"--etl-base-dir={base}", "--etl-start-date=2024-01-01", *fast_day_args()],
            capture_output=True,
            text=True,
            env={**env, "LUIGI_CONFIG_PATH": str(config)},
            timeout=300,
        )

    def reported() -> list[datetime.date]:
        return [day for day in every_day if (day_dir(base, "metrics", day) / "daily_report.json").exists()]

    backfill = ("backfill", "--start", "2024-01-01", "--end", "2024-01-20", "--local-scheduler")
    generated = etl("backfill", "--of", "GenerateDailyData", "--start", str(bad), "--end", str(bad), backfill[-1])
    assert generated.returncode == 0, generated.stderr[-3000:]
    raw = day_dir(base, "raw", bad) / "orders.csv"
    orders = raw.read_text()
    raw.write_text("".join(orders.splitlines(keepends=True)[:11]))  # 10 orders, fewer than min_orders 20

    failed = etl(*backfill)

    assert failed.returncode == 30, failed.stderr[-3000:]
    assert reported() == every_day[:4]
    assert f"{bad}: validation failed for {bad} in {raw}: min_orders: 10 orders" in failed.stderr
    for day in every_day[5:]:
        assert f"{day}: held back: validation failed for {bad}" in failed.stderr, day
    status = etl("status", "--start", "2024-01-01", "--end", "2024-01-20")
    assert status.returncode == 1
    lines = {line[:10]: line for line in status.stdout.splitlines() if line.startswith("2024-")}
    for day in every_day[5:]:
        assert lines[str(day)].startswith(f"{day} held back: "), lines[str(day)]
        assert lines[str(day)].endswith("rolling done, report held back") or day <= bad + 6 * ONE_DAY, day
    assert f"15 held back (01-06: by {bad}, 01-07: by {bad}" in status.stdout

    raw.write_text(orders)  # the input is fixed
    fixed = etl(*backfill)

    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert reported() == every_day
    assert etl("status", "--start", "2024-01-01", "--end", "2024-01-20").returncode == 0
