"""``python -m etl backfill``: RangeDaily with the pipeline's defaults, run in-process, with luigi's exit codes.

One process runs several backfills here, hence ``--no-lock``: luigi's per-command lock would count it twice.
"""

from __future__ import annotations

import datetime

import pandas as pd
from conftest import fast_day_args

from etl import DailyReport, GenerateDailyData
from etl.__main__ import main
from etl.backfill import run_backfill
from etl.partitions import partition_path

D = datetime.date


def test_a_failed_day_fails_the_backfill_with_luigis_exit_code_and_later_chunks_still_run(configure, base_dir):
    bad = D(2024, 1, 3)
    assert GenerateDailyData(date=bad).run() is None
    raw = partition_path(base_dir, "raw", bad) / "orders.csv"
    pd.read_csv(raw).head(5).to_csv(raw, index=False)

    code = run_backfill(
        "DailyReport", D(2024, 1, 1), D(2024, 1, 22), ["--local-scheduler", "--no-lock", "--days-per-task=7"]
    )

    assert code == 30, "task_failed, as the luigi command exits"
    done = {
        day
        for day in (D(2024, 1, 1) + datetime.timedelta(days=i) for i in range(21))
        if DailyReport(date=day).complete()
    }
    assert done == {D(2024, 1, 15) + datetime.timedelta(days=i) for i in range(7)}, (
        "the third chunk does not need the first"
    )


def test_through_is_inclusive_and_start_defaults_to_the_configured_start_date(configure, base_dir):
    configure({"etl": {"start_date": "2024-02-27"}})

    code = main(
        ["backfill", "--through", "2024-03-01", "--local-scheduler", *fast_day_args(), f"--etl-base-dir={base_dir}"]
    )

    assert code == 0
    reports = sorted(
        p.parent.relative_to(base_dir / "metrics") for p in base_dir.glob("metrics/*/*/*/daily_report.json")
    )
    assert [str(p) for p in reports] == [
        f"year=2024/month={d}" for d in ("02/day=27", "02/day=28", "02/day=29", "03/day=01")
    ]


def test_catch_up_with_two_workers_does_not_rebuild_days_retired_by_retention(configure, base_dir):
    args = ["--local-scheduler", "--no-lock", "--workers=2", "--retention-raw-days=2", "--retention-processed-days=7"]
    assert run_backfill("DailyPipeline", D(2024, 1, 1), D(2024, 1, 21), args) == 0
    assert not partition_path(base_dir, "processed", D(2024, 1, 5)).exists(), "retired by retention"
    before = {p: p.stat().st_mtime_ns for p in base_dir.rglob("*") if p.is_file()}

    assert run_backfill("DailyPipeline", D(2024, 1, 1), D(2024, 1, 21), args) == 0

    assert {p: p.stat().st_mtime_ns for p in base_dir.rglob("*") if p.is_file()} == before
