"""The benchmark script runs end to end at a small size (so it cannot rot) and compares outputs honestly."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

spec = importlib.util.spec_from_file_location("benchmark", REPO / "scripts" / "benchmark.py")
benchmark = sys.modules["benchmark"] = importlib.util.module_from_spec(spec)  # dataclasses look the module up
spec.loader.exec_module(benchmark)


def benchmark_figures(cwd, *args: str) -> dict:
    """Run the benchmark script as a user would; the JSON it printed (the run must exit 0)."""
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "benchmark.py"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.slow
def test_benchmark_reports_every_figure_and_identical_outputs(tmp_path):
    figures = benchmark_figures(tmp_path, "--days=3", "--orders-per-day=100", "--scan", "--json")

    assert figures["same_bytes"] is True
    assert (figures["days"], figures["orders_per_day"]) == (3, 100)
    for key in ("bare_s", "luigi_w1_s", "luigi_w2_s", "io_floor_s", "scan_s"):
        assert figures[key] > 0, key
    assert figures["overhead_ratio"] == pytest.approx(figures["luigi_w1_s"] / figures["bare_s"], rel=0.01)
    assert figures["parallel_speedup"] == pytest.approx(figures["luigi_w1_s"] / figures["luigi_w2_s"], rel=0.01)
    assert figures["floor_ratio"] == pytest.approx(figures["luigi_w1_s"] / figures["io_floor_s"], rel=0.05)
    assert set(figures["stage_s"]) == {"generate", "validate", "process", "rolling", "report"}
    assert (
        set(figures["peak_rss_mb"])
        == set(figures["cores_busy"])
        == {"bare", "luigi_w1", "luigi_w2", "per_day_w1", "bare_x2"}
    )
    assert all(0 < cores <= os.cpu_count() for cores in figures["cores_busy"].values()), figures["cores_busy"]
    assert figures["bare_parallel_speedup"] == pytest.approx(figures["bare_s"] / figures["bare_x2_s"], rel=0.01)
    assert figures["per_day_overhead_ratio"] == pytest.approx(figures["per_day_w1_s"] / figures["bare_s"], rel=0.01)
    assert figures["scan_days"] == 1095
    assert figures["status_s"] > figures["status_in_process_s"] > 0
    small, large = (figures["cron_calls"][str(days)] for days in (120, 360))
    assert small == large, "a night's run lists the store the same number of times whatever its size"
    assert small["list_partitions raw"] > 0 and small["atomic_output"] > 0


@pytest.mark.slow
def test_the_fleet_on_object_storage_writes_the_bare_loops_bytes_into_the_bucket(tmp_path):
    pytest.importorskip("moto.server", reason="moto[server] is not installed: pip install -e '.[dev,s3]'")
    figures = benchmark_figures(tmp_path, "--days=3", "--orders-per-day=100", "--fleet=2", "--store=s3", "--json")

    assert figures["store"] == "s3" and figures["same_bytes"] is True
    assert set(figures["peak_rss_mb"]) == {"bare", "luigi_w1", "luigi_w2", "bare_x2", "fleet_2"}
    assert figures["fleet_2_vs_bare_x2"] == pytest.approx(figures["bare_x2_s"] / figures["fleet_2_s"], rel=0.01)


def write_tree(base, report_time: str, orders: bytes) -> None:
    day = base / "metrics" / "year=2024" / "month=01" / "day=01"
    day.mkdir(parents=True)
    (day / "daily_report.json").write_text(json.dumps({"run": {"generated_at": report_time, "pipeline_version": "1"}}))
    raw = base / "raw" / "year=2024" / "month=01" / "day=01"
    raw.mkdir(parents=True)
    (raw / "orders.csv").write_bytes(orders)


def test_same_bytes_ignores_only_the_report_run_time(tmp_path):
    write_tree(tmp_path / "a", "2026-01-01T00:00:00", b"order_id\n1\n")
    write_tree(tmp_path / "b", "2026-02-02T00:00:00", b"order_id\n1\n")
    write_tree(tmp_path / "c", "2026-02-02T00:00:00", b"order_id\n2\n")

    assert benchmark.same_bytes(tmp_path / "a", tmp_path / "b")
    assert not benchmark.same_bytes(tmp_path / "a", tmp_path / "c")


def test_the_two_process_reference_does_the_bare_loops_work_split_in_halves(tmp_path):
    args = benchmark.parse_args(["--days=3", "--orders-per-day=50", "--start=2024-03-01"])
    outputs = benchmark.run_measured(benchmark.bare_command(args, tmp_path / "whole")).outputs
    halves = benchmark.run_measured(benchmark.bare_halves_commands(args, tmp_path / "halves")).outputs

    def raw_files(base):
        return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.glob("raw/*/*/*/orders.csv")}

    whole = raw_files(tmp_path / "whole")
    assert sorted(whole) == [f"raw/year=2024/month=03/day=0{d}/orders.csv" for d in (1, 2, 3)]
    first, second = raw_files(tmp_path / "halves" / "first"), raw_files(tmp_path / "halves" / "second")
    assert (len(first), len(second)) == (1, 2)
    assert {**first, **second} == whole
    assert len(halves) == 2 and all(json.loads(out)["stages"]["generate"] > 0 for out in [*outputs, *halves])


@pytest.mark.slow
def test_landing_benchmark_reports_the_ingest_against_its_floor_and_the_late_file_run(tmp_path):
    figures = benchmark_figures(tmp_path, "--landing=3", "--days=3", "--orders-per-day=100")

    assert (figures["days"], figures["landing_files"]) == (3, 3)
    for key in ("ingest_s", "ingest_floor_s", "first_run_s", "late_file_run_s"):
        assert figures[key] > 0, key
    rounding = 0.0005 / figures["ingest_floor_s"]  # the figures are printed to the millisecond
    assert figures["ingest_floor_ratio"] == pytest.approx(
        figures["ingest_s"] / figures["ingest_floor_s"], rel=0.02 + rounding
    )
    assert figures["late_share_of_first"] == pytest.approx(
        figures["late_file_run_s"] / figures["first_run_s"], rel=0.02
    )
    assert figures["corrections_share_of_first"] == pytest.approx(
        figures["corrections_run_s"] / figures["first_run_s"], rel=0.02
    )
    assert figures["corrections_moved_from_days"] >= 1
    assert set(figures["peak_rss_mb"]) == {"ingest", "pipeline", "late", "corrections"}


@pytest.mark.slow
def test_the_big_landing_benchmark_reports_the_ingest_of_a_directory_whose_largest_file_holds_a_third(tmp_path):
    figures = benchmark_figures(tmp_path, "--landing-gb=0.01", "--days=3")

    assert figures["landing_mb"] == pytest.approx(10, rel=0.2)
    assert figures["largest_file_mb"] == pytest.approx(figures["landing_mb"] / 3, rel=0.25)
    assert figures["ingest_s"] > 0 and figures["ingest_floor_s"] > 0 and figures["ingest_peak_rss_mb"] > 0


@pytest.mark.slow
def test_the_query_benchmark_reads_the_same_rows_as_pyarrow_and_reports_the_ratio(tmp_path):
    figures = benchmark_figures(tmp_path, "--query", "--days=3", "--orders-per-day=100")

    assert figures["days"] == 3 and figures["orders"] > 0
    for name in ("load_days", "pyarrow_table", "pyarrow_frame"):
        assert figures[f"{name}_s"] > 0 and figures["first_call_s"][name] >= figures[f"{name}_s"] * 0.5, name
    rounding = 0.0005 / figures["pyarrow_table_s"]  # the figures are printed to the millisecond
    assert figures["load_days_vs_pyarrow_table"] == pytest.approx(
        figures["load_days_s"] / figures["pyarrow_table_s"], rel=0.02 + rounding
    )
