"""``python -m etl backfill``: RangeDaily with the pipeline's defaults, run in-process, with luigi's exit codes.

One process runs several backfills here, hence ``--no-lock``: luigi's per-command lock would count it twice.
"""

from __future__ import annotations

import datetime

import pandas as pd
from conftest import day_dir, fast_day_args

from etl import DailyReport, GenerateDailyData
from etl.__main__ import main
from etl.backfill import run_backfill

D = datetime.date


def test_a_failed_day_fails_the_backfill_with_luigis_exit_code_and_later_chunks_still_run(configure, base_dir):
    bad = D(2024, 1, 3)
    assert GenerateDailyData(date=bad).run() is None
    raw = day_dir(base_dir, "raw", bad) / "orders.csv"
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
    held_back = {D(2024, 1, 3) + datetime.timedelta(days=i) for i in range(7)}
    assert done == {D(2024, 1, 1) + datetime.timedelta(days=i) for i in range(21)} - held_back, (
        "only the reports whose windows hold the bad day wait"
    )


def test_through_is_inclusive_and_start_defaults_to_the_configured_start_date(configure, base_dir, monkeypatch):
    configure({"etl": {"start_date": "2024-02-27"}})
    monkeypatch.setenv("ETL_NOW", "2024-03-02T02:00+00:00")  # a range completes whole blocks, up to today

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


def test_default_range_reads_start_date_and_timezone_from_the_commands_own_flags(
    configure, base_dir, capsys, monkeypatch
):
    flags = ["--local-scheduler", "--no-lock", "--etl-start-date=2024-03-01", "--etl-timezone=Pacific/Kiritimati"]
    monkeypatch.setenv("ETL_NOW", "2024-03-04T02:00+14:00")  # a range completes whole blocks, up to today

    code = main(["backfill", "--through", "2024-03-03", *flags])
    monkeypatch.delenv("ETL_NOW")

    assert code == 0
    assert capsys.readouterr().out == (
        "etl backfill: done (exit 0): DailyReport 2024-03-01..2024-03-03 (3 days): 3 done (2024-03-01..2024-03-03), "
        "0 skipped, 0 failed\n"
    ), "its last line, on stdout: the outcome and the days"
    reports = sorted(p.parent.name for p in base_dir.glob("metrics/*/*/*/daily_report.json"))
    assert reports == ["day=01", "day=02", "day=03"], "from --etl-start-date, not the config files' start_date"
    assert main(["yesterday", "--etl-timezone=Pacific/Kiritimati"]) == 0
    kiritimati = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=14))).date()
    assert capsys.readouterr().out.strip() == str(kiritimati - datetime.timedelta(days=1))


def test_a_bad_setting_is_one_line_naming_it_before_any_work(configure, base_dir, capsys):
    code = main(["backfill", "--local-scheduler", "--no-lock", "--etl-timezone=Mars/Olympus_Mons"])

    assert code == 2, "argparse refuses it with the flag's name"
    assert "argument --etl-timezone: 'Mars/Olympus_Mons' is not an IANA timezone" in capsys.readouterr().err
    configure({"retention": {"cleanup_weekdays": "sun,funday"}})
    assert main(["backfill", "--local-scheduler", "--no-lock"]) == 35
    error = capsys.readouterr().err.strip()
    assert error == (
        "python -m etl: error: setting [retention] cleanup_weekdays (--retention-cleanup-weekdays): "
        "'sun,funday' is not a comma-separated list of mon,tue,wed,thu,fri,sat,sun"
    )
    assert not base_dir.exists(), "nothing was written"


def test_an_unhandled_exception_exits_with_luigis_code_for_it(configure, base_dir):
    assert run_backfill("DailyReport", D(2024, 1, 1), D(2024, 1, 3), ["--local-scheduler", "--of-params={bad"]) == 40


def test_catch_up_with_two_workers_does_not_rebuild_days_retired_by_retention(configure, base_dir):
    args = ["--local-scheduler", "--no-lock", "--workers=2", "--retention-raw-days=2", "--retention-processed-days=7"]
    assert run_backfill("DailyPipeline", D(2024, 1, 1), D(2024, 1, 21), args) == 0
    assert not day_dir(base_dir, "processed", D(2024, 1, 5)).exists(), "retired by retention"
    before = {p: p.stat().st_mtime_ns for p in base_dir.rglob("*") if p.is_file()}

    assert run_backfill("DailyPipeline", D(2024, 1, 1), D(2024, 1, 21), args) == 0

    assert {p: p.stat().st_mtime_ns for p in base_dir.rglob("*") if p.is_file()} == before


def test_cleanup_dry_run_lists_what_would_go_removes_nothing_and_exits_1_until_a_cleanup_ran(
    configure, base_dir, capsys
):
    flags = ["--local-scheduler", "--no-lock", "--retention-raw-days=3"]
    assert run_backfill("DailyReport", D(2024, 1, 1), D(2024, 1, 11), flags) == 0
    capsys.readouterr()
    before = sorted(p for p in base_dir.rglob("*") if p.is_file())

    assert main(["cleanup", "--as-of", "2024-01-10", "--dry-run", *flags]) == 1

    listed = capsys.readouterr().out.split()
    assert listed == [str(day_dir(base_dir, "raw", D(2024, 1, d))) for d in range(1, 7)], "raw before the 7th"
    assert sorted(p for p in base_dir.rglob("*") if p.is_file()) == before, "a dry run removes nothing"
    assert main(["cleanup", "--as-of", "2024-01-10", *flags]) == 0
    assert not day_dir(base_dir, "raw", D(2024, 1, 6)).exists() and day_dir(base_dir, "raw", D(2024, 1, 7)).exists()
    capsys.readouterr()
    assert main(["cleanup", "--as-of", "2024-01-10", "--dry-run", *flags]) == 0
    assert capsys.readouterr().out == ""
