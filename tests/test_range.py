"""RangeDaily on this layout: which days it schedules, with the clock pinned."""

from __future__ import annotations

import datetime

import luigi
import pytest
from luigi.parameter import ParameterException
from luigi.task_register import Register

import etl
from etl import DailyReport, GenerateDailyData, RangeDaily

D = datetime.date


def epoch(text: str) -> int:
    return int(datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC).timestamp())


def scheduled(**params) -> list[datetime.date]:
    Register.clear_instance_cache()  # a RangeDaily instance caches its requires(), and the tasks their targets
    return [task.date for task in RangeDaily(**params).day_tasks()]


def test_luigi_resolves_range_daily_to_the_pipeline_calendar_version():
    assert Register.get_task_cls("RangeDaily") is etl.RangeDaily


def test_an_explicit_old_start_is_honoured(configure):
    days = scheduled(of=GenerateDailyData, start=D(2024, 1, 1), stop=D(2024, 1, 5), now=epoch("2026-11-25T12:00"))

    assert days == [D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 4)]


@pytest.mark.parametrize(
    ("timezone", "last_day"),
    [("UTC", D(2024, 3, 9)), ("America/New_York", D(2024, 3, 8)), ("Asia/Tokyo", D(2024, 3, 9))],
)
def test_only_days_that_are_over_in_the_configured_timezone_are_scheduled(configure, timezone, last_day):
    configure({"etl": {"timezone": timezone}})

    days = scheduled(of=GenerateDailyData, start=D(2024, 3, 5), stop=D(2024, 3, 20), now=epoch("2024-03-10T02:30"))

    assert days[0] == D(2024, 3, 5)
    assert days[-1] == last_day, "2024-03-10 02:30 UTC is still the 9th in New York, already the 10th in Tokyo"


def test_a_gap_larger_than_task_limit_fails_loudly_instead_of_truncating(configure):
    with pytest.raises(ParameterException, match="400 days of GenerateDailyData are missing.*task_limit=50"):
        scheduled(of=GenerateDailyData, start=D(2024, 1, 1), stop=D(2025, 2, 4), task_limit=50)


def test_only_missing_days_are_scheduled_from_one_listing(configure):
    built = [D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 6)]
    assert luigi.build([GenerateDailyData(date=day) for day in built], local_scheduler=True, log_level="WARNING")

    days = scheduled(of=GenerateDailyData, start=D(2024, 1, 1), stop=D(2024, 1, 8))

    assert days == [D(2024, 1, 1), D(2024, 1, 4), D(2024, 1, 5), D(2024, 1, 7)]


def test_a_report_range_schedules_reports_whose_files_are_missing(configure, base_dir):
    assert luigi.build([DailyReport(date=D(2024, 1, 3))], local_scheduler=True, log_level="WARNING")

    days = scheduled(of=DailyReport, start=D(2024, 1, 1), stop=D(2024, 1, 5))

    assert days == [D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 4)], "only the 3rd's report exists"


def test_etl_now_moves_the_range_and_an_explicit_now_still_wins(configure, monkeypatch):
    monkeypatch.setenv("ETL_NOW", "2024-01-10T02:00:00+00:00")

    days = scheduled(of=GenerateDailyData, start=D(2024, 1, 1), stop=D(2024, 2, 1))
    assert days == [D(2024, 1, 1) + datetime.timedelta(days=i) for i in range(9)], "through the simulated yesterday"

    pinned = scheduled(of=GenerateDailyData, start=D(2024, 1, 1), stop=D(2024, 2, 1), now=epoch("2024-01-06T12:00"))
    assert pinned[-1] == D(2024, 1, 5), "--now pins the range's clock over ETL_NOW"
