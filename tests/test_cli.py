"""End to end: the real ``luigi`` command, run as a user would, from a directory without luigi.cfg."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import day_dir, fast_day_args, run_luigi
from reference import reference_rolling, reference_summary

from etl.marks import built_from

pytestmark = pytest.mark.slow

LAYER_FILES = {  # each step's outputs, then its completion mark
    "raw": {"orders.csv", "validation_report.json", "_validate.json"},
    "processed": {"orders_processed.csv", "daily_summary.json", "_process.json"},
    "metrics": {"rolling_metrics.json", "_rolling.json", "daily_report.json", "_report.json"},
}
RUN_TIME_FIELDS = ("generated_at",)  # the only field that differs between two builds of the same day
FIRST = datetime.date(2024, 1, 1)
RANGE = ("RangeDaily", "--of", "DailyReport", "--start", "2024-01-01", "--stop", "2024-01-15")


def snapshot(base: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``base`` with its bytes and modification time."""
    return {str(p.relative_to(base)): (p.read_bytes(), p.stat().st_mtime_ns) for p in base.rglob("*") if p.is_file()}


def without_run_time(report: dict) -> dict:
    return {**report, "run": {k: v for k, v in report["run"].items() if k not in RUN_TIME_FIELDS}}


@pytest.fixture(scope="module")
def built_range(tmp_path_factory) -> tuple[Path, Path]:
    """Two weeks built once by the README's command, from a directory with no luigi.cfg."""
    work = tmp_path_factory.mktemp("range")
    base = work / "base"
    result = run_luigi(*RANGE, f"--etl-base-dir={base}", *fast_day_args(), cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    return work, base


def copy_of(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "base"
    shutil.copytree(built, target)
    return target


def test_range_daily_builds_every_partition_with_figures_recomputed_from_raw(built_range):
    _, base = built_range
    days = [FIRST + datetime.timedelta(days=i) for i in range(14)]
    for layer, files in LAYER_FILES.items():
        found = sorted((base / layer).glob("year=*/month=*/day=*"))
        assert found == [day_dir(base, layer, d) for d in days], f"{layer}: exactly the 14 days, --stop exclusive"
        for path in found:
            assert {p.name for p in path.iterdir()} == files, path
    totals = []
    for day in days:
        expected = reference_summary(day_dir(base, "raw", day) / "orders.csv")
        summary = json.loads((day_dir(base, "processed", day) / "daily_summary.json").read_text())
        by_category = {k: v["orders"] for k, v in summary["by_category"].items()}
        assert {**summary, "orders_by_category": by_category} | expected == {
            **summary,
            "orders_by_category": by_category,
        }, day
        assert expected["duplicates_removed"] + expected["negatives_fixed"] > 0 or day.day % 7, "dirt is injected"
        totals.append((summary["total_orders"], summary["total_revenue"]))
        rolling = json.loads((day_dir(base, "metrics", day) / "rolling_metrics.json").read_text())
        window = totals[-7:]
        for key, value in reference_rolling(window).items():
            assert rolling[key] == pytest.approx(value, abs=1e-4), (day, key)
        processed = pd.read_csv(day_dir(base, "processed", day) / "orders_processed.csv")
        assert processed["order_id"].is_unique and (processed["quantity"] > 0).all()
    latest = json.loads((base / "metrics" / "latest_daily_report.json").read_text())
    assert latest["execution_date"] == "2024-01-14"
    assert latest["run"]["config"]["generation"]["mean_orders_per_day"] == 80, "the effective config is recorded"


def test_running_the_same_range_again_changes_nothing(built_range, tmp_path):
    work, built = built_range
    base = copy_of(built, tmp_path)
    before = snapshot(base)

    result = run_luigi(*RANGE, f"--etl-base-dir={base}", *fast_day_args(), cwd=work)

    assert result.returncode == 0, result.stderr[-3000:]
    assert snapshot(base) == before
    assert "Scheduled 1 tasks" in result.stderr, "only the range itself: every day is complete"


def test_deleting_one_day_rebuilds_it_with_the_same_bytes_and_what_reads_them_stays(built_range, tmp_path):
    work, built = built_range
    base = copy_of(built, tmp_path)
    day = datetime.date(2024, 1, 8)
    before = snapshot(base)
    for layer in LAYER_FILES:
        shutil.rmtree(day_dir(base, layer, day))

    result = run_luigi(*RANGE, f"--etl-base-dir={base}", *fast_day_args(), cwd=work)

    assert result.returncode == 0, result.stderr[-3000:]
    after = snapshot(base)
    assert after.keys() == before.keys()
    rebuilt = {name for name in after if after[name] != before[name]}
    assert {name.split("/", 1)[1].rsplit("/", 1)[0] + "/" for name in rebuilt if "/day=" in name} == {
        "year=2024/month=01/day=08/"
    }, "the deleted day alone: its inputs' bytes are as the windows that read them recorded"
    for name in rebuilt:
        if "/_" in name:
            assert built_from(json.loads(after[name][0])) == built_from(json.loads(before[name][0])), name
        elif name.endswith("daily_report.json"):
            old, new = (json.loads(snap[name][0]) for snap in (before, after))
            assert without_run_time(new) == without_run_time(old)
        else:
            assert after[name][0] == before[name][0], f"{name} is byte-identical"


def test_a_failed_day_exits_non_zero_by_name_and_every_other_day_completes(tmp_path):
    base = tmp_path / "base"
    bad = datetime.date(2024, 1, 4)
    generate = run_luigi("GenerateDailyData", "--date", bad.isoformat(), f"--etl-base-dir={base}", cwd=tmp_path)
    assert generate.returncode == 0, generate.stderr[-3000:]
    raw = day_dir(base, "raw", bad) / "orders.csv"
    lines = raw.read_text().splitlines()
    raw.write_text("\n".join([lines[0], *lines[1:30]]) + "\n")
    message = f"validation failed for 2024-01-04 in {raw}: min_orders: 29 orders, at least 50 required"

    chunked = run_luigi(*RANGE, f"--etl-base-dir={base}", cwd=tmp_path)

    assert chunked.returncode == 30, "task_failed is visible to cron and CI from any directory"
    assert "7 days of DailyReport failed in the range" in chunked.stderr
    assert f"2024-01-04: {message}" in chunked.stderr
    assert "2024-01-10: held back: validation failed for 2024-01-04" in chunked.stderr
    processed = {p.parent.name for p in (base / "processed").glob("year=*/month=*/day=*/daily_summary.json")}
    assert processed == {f"day={d:02d}" for d in range(1, 15)} - {"day=04"}, "the chunk's other days were processed"
    reports = {p.parent.name for p in (base / "metrics").glob("year=*/month=*/day=*/daily_report.json")}
    assert reports == {"day=01", "day=02", "day=03", "day=11", "day=12", "day=13", "day=14"}, "chunks too: "
    "every day outside the failed day's windows gets its report"

    per_step = run_luigi(*RANGE, "--days-per-task=1", f"--etl-base-dir={base}", cwd=tmp_path)

    assert per_step.returncode == 30
    assert message in per_step.stderr
    reports = {p.parent.name for p in (base / "metrics").glob("year=*/month=*/day=*/daily_report.json")}
    assert reports == {"day=01", "day=02", "day=03", "day=11", "day=12", "day=13", "day=14"}, "a task per step: "
    "every day outside the failed day's windows gets its report"


def test_base_dir_from_environment_and_command_line_flag_wins(tmp_path):
    from_env, from_flag = tmp_path / "env", tmp_path / "flag"
    env = {"ETL_BASE_DIR": str(from_env)}

    assert run_luigi("GenerateDailyData", "--date", "2024-01-02", cwd=tmp_path, env=env).returncode == 0
    assert (day_dir(from_env, "raw", datetime.date(2024, 1, 2)) / "orders.csv").exists()
    flagged = run_luigi(
        "GenerateDailyData", "--date", "2024-01-02", f"--etl-base-dir={from_flag}", cwd=tmp_path, env=env
    )
    assert flagged.returncode == 0
    assert (day_dir(from_flag, "raw", datetime.date(2024, 1, 2)) / "orders.csv").exists()


def test_user_luigi_cfg_in_the_working_directory_overrides_package_defaults(tmp_path):
    (tmp_path / "luigi.cfg").write_text(
        "[etl]\nbase_dir = from-cfg\n[retcode]\ntask_failed = 3\n[validation]\nmin_orders = 100000\n"
    )

    result = run_luigi("DailyReport", "--date", "2024-01-02", cwd=tmp_path)

    assert result.returncode == 3
    assert (day_dir(tmp_path / "from-cfg", "raw", datetime.date(2024, 1, 2)) / "validation_failed.json").exists()


def test_the_etl_command_backfills_inclusive_days_and_names_itself_in_errors(tmp_path):
    etl = str(Path(sys.executable).with_name("etl"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}
    base = tmp_path / "base"

    built = subprocess.run(
        [etl, "backfill", "--start=2024-01-01", "--end=2024-01-03", "--local-scheduler", f"--etl-base-dir={base}",
         *fast_day_args()],
        cwd=tmp_path, env={**env, "ETL_NOW": "2024-01-04T02:00+00:00"},  # a range completes whole blocks to today
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    refused = subprocess.run(
        [etl, "backfill", "--local-scheduler", f"--etl-base-dir={tmp_path / 'other'}",
         "--retention-cleanup-weekdays=funday"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert built.returncode == 0, built.stderr[-3000:]
    assert sorted(p.name for p in (base / "metrics" / "year=2024" / "month=01").iterdir()) == [
        "day=01", "day=02", "day=03"
    ], "--end is inclusive"  # fmt: skip
    assert refused.returncode == 2
    assert "etl: error: argument --retention-cleanup-weekdays: 'funday' is not" in refused.stderr
