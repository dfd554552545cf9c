"""End to end: ``etl rerun``, the installed command on stores built by ``etl backfill``, checked on disk."""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import pytest
from conftest import day_dir, run_etl

pytestmark = pytest.mark.slow

D = datetime.date


def files(base: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file with its inode, time and bytes: what a rewrite changes."""
    return {
        str(p.relative_to(base)): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
        for p in base.rglob("*")
        if p.is_file()
    }


def rewritten(before: dict, after: dict) -> set[str]:
    return {name.rsplit("/", 1)[0] for name in after if before.get(name) != after[name] and "/day=" in name}


def partition(layer: str, day: D) -> str:
    return f"{layer}/year={day:%Y}/month={day:%m}/day={day:%d}"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("rerun") / "base"
    result = run_etl("backfill", "--start", "2024-01-01", "--end", "2024-01-14", "--local-scheduler", base=base)
    assert result.returncode == 0, result.stderr[-3000:]
    return base


def copy(built: Path, tmp_path: Path) -> Path:
    shutil.copytree(built, tmp_path / "base")
    return tmp_path / "base"


def test_a_dry_run_prints_each_partition_day_by_day_and_what_may_follow_and_changes_nothing(built, tmp_path):
    base = copy(built, tmp_path)
    before = files(base)

    result = run_etl("rerun", "--start", "2024-01-05", "--end", "2024-01-06", "--dry-run", base=base)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"2024-01-05 processed: {base / partition('processed', D(2024, 1, 5))} (process)",
        f"2024-01-05 metrics: {base / partition('metrics', D(2024, 1, 5))} (rolling, report)",
        f"2024-01-06 processed: {base / partition('processed', D(2024, 1, 6))} (process)",
        f"2024-01-06 metrics: {base / partition('metrics', D(2024, 1, 6))} (rolling, report)",
        "then, where the rebuilt bytes differ, the rolling metrics and reports of "
        + ", ".join(str(D(2024, 1, n)) for n in range(7, 13)),
    ]
    assert files(base) == before


def test_a_rerun_rebuilds_the_days_from_the_layer_down_and_what_reads_them_only_where_bytes_changed(built, tmp_path):
    base = copy(built, tmp_path)
    before = files(base)

    result = run_etl("rerun", "--start", "2024-01-05", "--from", "raw", "--local-scheduler", base=base)

    assert result.returncode == 0, result.stderr[-3000:]
    after = files(base)
    assert rewritten(before, after) == {partition(layer, D(2024, 1, 5)) for layer in ("raw", "processed", "metrics")}
    assert not list(base.rglob("*.rerun.json")), "every request met"
    for name in after:  # the same bytes: the synthetic source and every step are deterministic
        if name.endswith(".csv") or name.endswith("daily_summary.json") or name.endswith("rolling_metrics.json"):
            assert after[name][2] == before[name][2], name


def test_a_rerun_of_stale_days_rebuilds_them_with_todays_settings(built, tmp_path):
    base = copy(built, tmp_path)
    wider = ("--rolling-window-days=10", "--retention-processed-days=30")
    shown = run_etl("status", "--start", "2024-01-01", "--end", "2024-01-14", *wider, base=base)
    assert shown.returncode == 1
    assert "built with [rolling] window_days=7, now 10" in shown.stdout

    result = run_etl("rerun", "--start", "2024-01-01", "--end", "2024-01-14", "--stale", "--local-scheduler", *wider,
                 base=base)  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    rolling = json.loads((day_dir(base, "metrics", D(2024, 1, 14)) / "rolling_metrics.json").read_text())
    assert rolling["window_days"] == 10
    summaries = [json.loads((day_dir(base, "processed", D(2024, 1, n)) / "daily_summary.json").read_text())
                 for n in range(5, 15)]  # fmt: skip
    assert rolling["total_orders_7d"] == sum(s["total_orders"] for s in summaries)
    assert run_etl("status", "--start", "2024-01-01", "--end", "2024-01-14", *wider, base=base).returncode == 0


def test_a_rerun_that_fails_leaves_the_old_outputs_readable_and_the_next_plain_run_finishes_it(built, tmp_path):
    base = copy(built, tmp_path)
    before = files(base)

    broken = run_etl("rerun", "--start", "2024-01-03", "--local-scheduler", "--RangeDaily-task-limit=0", base=base)

    assert broken.returncode != 0
    assert {name for name in files(base) if name not in before} == {
        f"{partition('processed', D(2024, 1, 3))}/_process.rerun.json",
        f"{partition('metrics', D(2024, 1, 3))}/_rolling.rerun.json",
        f"{partition('metrics', D(2024, 1, 3))}/_report.rerun.json",
    }, "asked, nothing deleted or half-written"
    assert all(files(base)[name] == value for name, value in before.items())
    shown = run_etl("status", "--start", "2024-01-03", "--end", "2024-01-03", base=base)
    assert "process: a rerun was asked for" in shown.stdout

    plain = run_etl("backfill", "--start", "2024-01-01", "--end", "2024-01-14", "--local-scheduler", base=base)

    assert plain.returncode == 0, plain.stderr[-3000:]
    assert rewritten(before, files(base)) == {partition(layer, D(2024, 1, 3)) for layer in ("processed", "metrics")}
    assert not list(base.rglob("*.rerun.json"))


def test_rerun_failed_picks_the_failed_and_held_back_days_only(tmp_path):
    base = tmp_path / "base"
    one = ("--start", "2024-01-04", "--end", "2024-01-04", "--of", "GenerateDailyData", "--local-scheduler")
    assert run_etl("backfill", *one, base=base).returncode == 0
    raw = day_dir(base, "raw", D(2024, 1, 4)) / "orders.csv"
    raw.write_text("\n".join(raw.read_text().splitlines()[:11]) + "\n")
    refused = run_etl("backfill", "--start", "2024-01-01", "--end", "2024-01-14", "--local-scheduler", base=base)
    assert refused.returncode == 30

    result = run_etl("rerun", "--start", "2024-01-01", "--end", "2024-01-14", "--failed", "--dry-run", base=base)

    days = sorted({line[:10] for line in result.stdout.splitlines() if line[:4] == "2024"})
    assert days == [str(D(2024, 1, n)) for n in range(4, 11)], "the refused day and the reports it holds back"


def test_a_day_retired_by_retention_is_left_unless_included(tmp_path):
    base = tmp_path / "base"
    keep = ("--retention-raw-days=7", "--retention-processed-days=7", "--retention-metrics-days=7")
    built = run_etl("backfill", "--of", "DailyPipeline", "--start", "2024-01-01", "--end", "2024-01-20",
                "--local-scheduler", *keep, base=base)  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    assert not day_dir(base, "processed", D(2024, 1, 3)).exists()
    before = files(base)

    left = run_etl("rerun", "--start", "2024-01-03", "--local-scheduler", *keep, base=base)

    assert left.returncode == 0
    assert "2024-01-03: retired by retention, left as it is (--include-expired rebuilds it)" in left.stdout
    assert files(base) == before

    included = run_etl("rerun", "--start", "2024-01-03", "--include-expired", "--local-scheduler", *keep, base=base)

    assert included.returncode == 0, included.stderr[-3000:]
    assert (day_dir(base, "metrics", D(2024, 1, 3)) / "daily_report.json").exists()
    ledger = json.loads((base / "cleanup" / "retired_days.json").read_text())
    assert ledger == {layer: [["2024-01-04", "2024-01-13"]] for layer in ("raw", "processed", "metrics")}, (
        "the day and the earlier days its window reads (from start_date) are taken out of the ledger"
    )
    assert [(day_dir(base, "metrics", D(2024, 1, n)) / "daily_report.json").exists() for n in (1, 2, 3, 4)] == [
        True, True, True, False
    ]  # fmt: skip


def test_a_kept_day_whose_raw_partition_retention_retired_is_left_unless_included(tmp_path):
    base, keep = tmp_path / "base", ("--retention-raw-days=3",)
    built = run_etl("backfill", "--of", "DailyPipeline", "--start", "2024-01-01", "--end", "2024-01-14",
                    "--local-scheduler", *keep, base=base)  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    day = D(2024, 1, 5)
    assert day_dir(base, "processed", day).exists() and not day_dir(base, "raw", day).exists()
    before = files(base)

    left = run_etl("rerun", "--start", str(day), "--local-scheduler", *keep, base=base)

    assert left.returncode == 0, left.stdout + left.stderr[-3000:]
    assert (
        f"{day}: rebuilding it reads what retention retired (raw {day}), left as it is (--include-expired rebuilds it)"
        in left.stdout
    )
    assert files(base) == before, "nothing asked, nothing rebuilt"

    included = run_etl("rerun", "--start", str(day), "--include-expired", "--local-scheduler", *keep, base=base)

    assert included.returncode == 0, included.stdout + included.stderr[-3000:]
    summary = f"{partition('processed', day)}/daily_summary.json"
    assert files(base)[summary][2] == before[summary][2], "rebuilt from raw generated again: the same figures"
    assert f"{day} processed: {day_dir(base, 'processed', day)}" in included.stdout
