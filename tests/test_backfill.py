"""Chunked backfill: consecutive RangeDaily runs in one process, failures isolated, worst exit code."""

from __future__ import annotations

import datetime

import pandas as pd
import pytest
from conftest import fast_day_args

from etl import DailyReport, GenerateDailyData
from etl.backfill import chunk_ranges, contiguous_runs, run_backfill
from etl.partitions import partition_path

D = datetime.date


def test_chunks_cover_the_range_exactly_oldest_first():
    chunks = chunk_ranges(D(2024, 1, 1), D(2024, 3, 1), 31)

    assert chunks == [(D(2024, 1, 1), D(2024, 2, 1)), (D(2024, 2, 1), D(2024, 3, 1))]
    assert chunk_ranges(D(2024, 1, 1), D(2024, 1, 1), 31) == []
    with pytest.raises(ValueError, match="at least 1"):
        chunk_ranges(D(2024, 1, 1), D(2024, 1, 9), 0)


def test_a_failed_day_fails_the_backfill_but_later_chunks_still_run(configure, base_dir):
    bad = D(2024, 1, 3)
    assert GenerateDailyData(date=bad).run() is None
    raw = partition_path(base_dir, "raw", bad) / "orders.csv"
    pd.read_csv(raw).head(5).to_csv(raw, index=False)

    code = run_backfill("DailyReport", D(2024, 1, 1), D(2024, 1, 21), 5, ["--local-scheduler", *fast_day_args()])

    assert code == 30, "task_failed, as the luigi command exits"
    done = {
        day
        for day in (D(2024, 1, 1) + datetime.timedelta(days=i) for i in range(20))
        if DailyReport(date=day).complete()
    }
    failed = {D(2024, 1, 3) + datetime.timedelta(days=i) for i in range(7)}
    assert done == {D(2024, 1, 1) + datetime.timedelta(days=i) for i in range(20)} - failed


def test_parallel_lanes_give_the_same_partitions_and_the_same_failures(configure, base_dir, tmp_path):
    bad = D(2024, 1, 4)
    for base in (base_dir, tmp_path / "parallel"):
        configure({"etl": {"base_dir": str(base)}})
        assert GenerateDailyData(date=bad).run() is None
        raw = partition_path(base, "raw", bad) / "orders.csv"
        pd.read_csv(raw).head(5).to_csv(raw, index=False)
        args = ["--local-scheduler", *fast_day_args(), f"--etl-base-dir={base}"]
        parallel = 2 if base != base_dir else 1

        code = run_backfill("DailyReport", D(2024, 1, 1), D(2024, 1, 16), 7, args, parallel=parallel)

        assert code == 30, f"parallel={parallel}: the failed day still fails the backfill"
    serial = {p.relative_to(base_dir): p.read_bytes() for p in base_dir.rglob("*.csv")}
    lanes = {p.relative_to(tmp_path / "parallel"): p.read_bytes() for p in (tmp_path / "parallel").rglob("*.csv")}
    assert serial == lanes, "same processed and raw files, byte for byte"
    reports = {p.parent.name for p in (tmp_path / "parallel").glob("metrics/*/*/*/daily_report.json")}
    assert reports == {f"day={d:02d}" for d in (1, 2, 3, 11, 12, 13, 14, 15)}


def test_contiguous_runs_group_consecutive_days():
    days = [D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 5), D(2024, 1, 7), D(2024, 1, 8)]

    assert contiguous_runs(days) == [
        (D(2024, 1, 1), D(2024, 1, 3)),
        (D(2024, 1, 5), D(2024, 1, 6)),
        (D(2024, 1, 7), D(2024, 1, 9)),
    ]


def test_parallel_catch_up_does_not_rebuild_days_retired_by_retention(configure, base_dir):
    args = ["--local-scheduler", *fast_day_args(), "--retention-raw-days=2", "--retention-processed-days=7"]
    assert run_backfill("DailyPipeline", D(2024, 1, 1), D(2024, 1, 21), 31, args, parallel=2) == 0
    assert not partition_path(base_dir, "processed", D(2024, 1, 5)).exists(), "retired by retention"
    before = {p: p.stat().st_mtime_ns for p in base_dir.rglob("*") if p.is_file()}

    assert run_backfill("DailyPipeline", D(2024, 1, 1), D(2024, 1, 21), 31, args, parallel=2) == 0

    assert {p: p.stat().st_mtime_ns for p in base_dir.rglob("*") if p.is_file()} == before
