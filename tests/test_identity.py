"""A task's id names its pipeline and store, so that one luigid serves several pipelines and never mixes them, while
runs of one pipeline under other settings share their tasks (the completion marks tell such builds apart)."""

from __future__ import annotations

import datetime
import subprocess

from conftest import LUIGI

from etl import DailyReport, ProcessDailyData, RangeDaily
from etl.chunks import ReportDays

D = datetime.date


def ids(*tasks) -> list[str]:
    return [task.task_id for task in tasks]


def test_task_ids_differ_by_store_and_pipeline_name_and_not_by_settings(configure, tmp_path):
    day = D(2024, 1, 5)
    first = ids(ProcessDailyData(date=day), ReportDays(start=D(2024, 1, 1), stop=D(2024, 1, 15), days_per_task=14))

    configure({"rolling": {"window_days": "10"}, "validation": {"min_orders": "30"}})
    assert ids(ProcessDailyData(date=day), ReportDays(start=D(2024, 1, 1), stop=D(2024, 1, 15), days_per_task=14)) == (
        first
    ), "other settings on the same store: the same tasks, which luigid runs one at a time"

    configure({"etl": {"base_dir": str(tmp_path / "other")}})
    other_store = ids(
        ProcessDailyData(date=day), ReportDays(start=D(2024, 1, 1), stop=D(2024, 1, 15), days_per_task=14)
    )
    assert set(other_store).isdisjoint(first)
    assert ProcessDailyData(date=day).pipeline == f"etl@{tmp_path / 'other'}"

    configure({"etl": {"pipeline": "shop-b"}})
    assert ProcessDailyData(date=day).task_id not in (*first, *other_store)
    assert ProcessDailyData(date=day).pipeline == f"shop-b@{tmp_path / 'other'}"


def test_a_range_and_every_task_it_schedules_carry_the_runs_pipeline(configure, base_dir):
    identity = f"etl@{base_dir}"
    range_ = RangeDaily(of=DailyReport, start=D(2024, 1, 3), stop=D(2024, 1, 10))

    chunks = range_.requires()

    assert range_.pipeline == identity
    assert {chunk.pipeline for chunk in chunks} == {identity}
    assert {task.pipeline for chunk in chunks for task in chunk.requires()} == {identity}
    assert {task.pipeline for chunk in chunks for task in chunk.day_tasks()} == {identity}
    assert str(DailyReport(date=D(2024, 1, 3))) == f"DailyReport(date=2024-01-03, pipeline={identity})", (
        "the web view and the logs name the pipeline"
    )


def test_a_pipeline_name_that_is_no_plain_name_is_refused_on_the_command_line(tmp_path):
    result = subprocess.run(
        [str(LUIGI), "--module", "etl", "DailyReport", "--date", "2024-01-03", "--etl-pipeline", "shop a/b",
         "--local-scheduler"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip

    assert result.returncode == 2
    assert "letters, digits, '.', '_' and '-'" in result.stderr
