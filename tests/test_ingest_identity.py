"""The landing ingest's task id names the work waiting (issue 13, item 8): a run seconds after one that ingested
still ingests a new export through the same luigid, while everything of one run names one ingest."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import luigi
import pytest
from conftest import build, day_dir, landing_source, run_luigi
from test_landing import COLUMN_MAP, WEEK, csv_bytes, expected_days, export_rows

from etl import IngestLandingFiles, run_settings
from etl.tasks import LandedDailyData, landing_state

FIRST_SIX_DAYS = ("--start", "2024-01-01", "--stop", "2024-01-07")  # luigid keeps a range it just finished: see README
WHOLE_WEEK = ("--start", "2024-01-01", "--stop", "2024-01-08")


@pytest.fixture
def landing(configure, tmp_path) -> Path:
    return landing_source(configure, tmp_path / "landing", COLUMN_MAP)


def write_landing_config(tmp_path: Path) -> Path:
    """A luigi.cfg in ``tmp_path`` for the landing source; returns the landing directory."""
    directory = tmp_path / "landing"
    directory.mkdir()
    (tmp_path / "luigi.cfg").write_text(
        f"[etl]\nbase_dir = {tmp_path / 'base'}\nsource = landing\n"
        f"[landing]\ndirectory = {directory}\ncolumn_map = {json.dumps(COLUMN_MAP)}\n"
        "[validation]\nmin_orders = 1\n"
    )
    return directory


def summaries(base: Path, days: list[datetime.date]) -> dict[datetime.date, tuple[int, float]]:
    """Orders and revenue of each of ``days``, as its day summary says."""
    found = {}
    for day in days:
        summary = json.loads((day_dir(base, "processed", day) / "daily_summary.json").read_text())
        found[day] = (summary["total_orders"], summary["total_revenue"])
    return found


def ingest_id() -> str:
    """The id of the ingest of the work waiting now, computed afresh."""
    return IngestLandingFiles(landing_state=landing_state(run_settings.current())).task_id


@pytest.mark.slow
def test_the_same_range_seconds_after_one_that_ingested_ingests_a_new_export_through_the_same_luigid(tmp_path, luigid):
    """What cron and a person re-running its command do: the range is a new task once new exports landed."""
    landing_dir = write_landing_config(tmp_path)
    scheduler = ("--scheduler-host", "127.0.0.1", "--scheduler-port", str(luigid))
    first_rows = export_rows(WEEK, per_day=20, seed=1)
    (landing_dir / "orders-1.csv").write_bytes(csv_bytes(first_rows))

    first = run_luigi("RangeDaily", "--of", "DailyReport", *FIRST_SIX_DAYS, cwd=tmp_path, scheduler=scheduler)

    assert first.returncode == 0, first.stderr[-3000:]
    expected = expected_days(first_rows)
    assert summaries(tmp_path / "base", WEEK[:6]) == {day: expected[day] for day in WEEK[:6]}

    late_rows = export_rows(WEEK[2:4], per_day=7, seed=2, prefix="L")
    (landing_dir / "orders-2.csv").write_bytes(csv_bytes(late_rows))
    second = run_luigi("RangeDaily", "--of", "DailyReport", *WHOLE_WEEK, cwd=tmp_path, scheduler=scheduler)

    assert second.returncode == 0, second.stderr[-3000:]
    assert summaries(tmp_path / "base", WEEK) == expected_days(first_rows + late_rows)


def test_the_ingest_id_changes_with_the_work_waiting_and_only_then(landing):
    export = landing / "orders-1.csv"
    export.write_bytes(csv_bytes(export_rows(WEEK[:2], per_day=5, seed=1)))

    waiting = ingest_id()

    assert ingest_id() == waiting, "nothing changed"
    run_ingest = LandedDailyData(date=WEEK[0]).requires()
    assert run_ingest is LandedDailyData(date=WEEK[1]).requires() is IngestLandingFiles(), "one ingest for the run"
    assert run_ingest.task_id == waiting

    (landing / "orders-2.csv").write_bytes(csv_bytes(export_rows(WEEK[2:3], per_day=5, seed=2, prefix="L")))
    added = ingest_id()
    assert added != waiting, "a file added"

    status = export.stat()
    os.utime(export, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    touched = ingest_id()
    assert touched != added, "a file touched"

    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS
    ingested = ingest_id()
    assert ingested != touched, "the index changed"
    assert ingest_id() == ingested, "nothing changed since"
    assert IngestLandingFiles(landing_state=ingested).complete()


def test_a_missing_landing_directory_is_reported_by_the_ingests_scheduling_as_before(landing):
    landing.rmdir()

    result = build(IngestLandingFiles())

    assert result.status == luigi.LuigiStatusCode.SCHEDULING_FAILED, result.summary_text
