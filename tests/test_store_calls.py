"""How often a cron-like run lists the store: bounded by the work, not by the store's size.

Measured before the state took one view per question (issue 14): a run adding one day to a 120-day store
made 1,323 partition listings and 195 layer listings to write 9 files.
"""

from __future__ import annotations

import datetime

from conftest import build
from stores import CountingStore

from etl import run_settings, steps
from etl.metrics import window_dates
from etl.range import RangeDaily
from etl.sources import order_source
from etl.tasks import DailyPipeline

START = datetime.date(2023, 1, 1)


def built_store(days: int) -> None:
    """``days`` days from START built by the step functions themselves (fast: no scheduler)."""
    run = run_settings.current()
    source = order_source(run.source, run.generation, run.timezone)
    for offset in range(days):
        day = START + datetime.timedelta(days=offset)
        steps.ingest_day(run.store, source, day)
        steps.validate_day(run.store, day, run.min_orders, run.timezone, run.max_rejected_share)
        steps.process_day(run.store, day, run.timezone, run.negative_amounts, run.excluded_statuses)
        steps.compute_rolling(run.store, day, window_dates(day, run.window_days, run.start_date), run.window_days)
        steps.report_day(run.store, day, run.report_config, run.trend_threshold)


def calls_of_a_cron_run(configure, base_dir, monkeypatch, days: int) -> dict[str, int]:
    """Build ``days`` days, then count the store calls of the nightly range that adds the next one."""
    monkeypatch.undo()  # the store of the settings in force
    configure({"etl": {"start_date": str(START)}, "retention": {"raw_days": "1000", "processed_days": "1000",
                                                                 "metrics_days": "1000"}})  # fmt: skip
    built_store(days)
    counting = CountingStore(base_dir)
    monkeypatch.setattr(run_settings, "open_store", lambda *_: counting)
    monkeypatch.setattr(run_settings, "_kept", None)  # read the settings anew, opening the counting store
    stop = START + datetime.timedelta(days=days + 1)
    monkeypatch.setenv("ETL_NOW", f"{stop}T02:00+00:00")  # cron's night after the new day
    result = build(RangeDaily(of=DailyPipeline, start=START, stop=stop))
    assert result.status.name == "SUCCESS", result.summary_text
    assert counting.calls["atomic_output"] > 0, "the new day was written"
    return counting.calls


def test_a_nightly_run_lists_each_layer_a_bounded_number_of_times_whatever_the_store_size(
    configure, base_dir, tmp_path, monkeypatch
):
    small = calls_of_a_cron_run(configure, base_dir, monkeypatch, 120)
    configure({"etl": {"base_dir": str(tmp_path / "larger")}})
    large = calls_of_a_cron_run(configure, tmp_path / "larger", monkeypatch, 360)
    for layer in ("raw", "processed", "metrics"):
        assert large[f"list_partitions {layer}"] == small[f"list_partitions {layer}"] <= 20, (layer, small, large)
    assert large["list_partition"] == small["list_partition"] <= 10, (small, large)
