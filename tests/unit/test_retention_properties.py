"""Retention cannot lose data: property-based tests over random partition trees, policies and days.

Each example builds a real partition tree (done days, failed days, half-built days, foreign entries, a link
out of the base), runs the real cleanup as of a random day, and checks what went against an independent
statement of the rule.
"""

from __future__ import annotations

import datetime
import shutil
import tempfile
from pathlib import Path

import luigi.configuration
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from luigi.task_register import Register

from etl import run_settings, steps
from etl.retention import RetentionPolicy, cleanup_as_of, removable, retention_cutoff
from etl.tasks import holdings

START = datetime.date(2024, 1, 1)
DAYS = [START + datetime.timedelta(days=i) for i in range(90)]
FILES = {
    "raw": ("orders.csv", "validation_report.json"),
    "processed": ("orders_processed.csv", "daily_summary.json"),
    "metrics": ("rolling_metrics.json", "daily_report.json"),
}
BUILT = ("raw", "processed", "metrics")  # how far a day got: 0 nothing, 1 raw, 2 processed, 3 reported


def partition(base: Path, layer: str, day: datetime.date) -> Path:
    return base / layer / f"year={day:%Y}" / f"month={day:%m}" / f"day={day:%d}"


@st.composite
def trees(draw):
    progress = draw(st.lists(st.integers(0, 3), min_size=len(DAYS), max_size=len(DAYS)))
    failed = draw(st.sets(st.sampled_from(DAYS), max_size=5))
    window = draw(st.integers(1, 10))
    policy = RetentionPolicy(
        raw_days=draw(st.integers(1, 40)),
        processed_days=draw(st.integers(window, 50)),
        metrics_days=draw(st.integers(1, 60)),
        weekdays=frozenset(draw(st.sets(st.integers(0, 6), min_size=1))),
    )
    as_of = draw(st.sampled_from(DAYS[30:]))
    return consistent(progress, failed, window), failed, window, policy, as_of


def consistent(progress: list[int], failed: set[datetime.date], window: int) -> list[int]:
    """What the pipeline can leave: a failed day is not processed, and a day is reported only once every
    day of its window was processed (a window day that is missing or failed holds the report back)."""
    reached = [0 if day in failed else p for day, p in zip(DAYS, progress, strict=True)]
    for i in range(len(DAYS)):
        if reached[i] == 3 and any(reached[j] < 2 for j in range(max(0, i - window + 1), i + 1)):
            reached[i] = 2
    return reached


def build_tree(base: Path, progress: list[int], failed: set[datetime.date]) -> None:
    """Partitions in pipeline order, so that no day is stale; a failed day has its raw file and the marker."""
    for layer_index, layer in enumerate(BUILT):
        for day, reached in zip(DAYS, progress, strict=True):
            if day in failed:
                if layer == "raw":
                    partition(base, "raw", day).mkdir(parents=True)
                    (partition(base, "raw", day) / "orders.csv").write_text("x")
                    (partition(base, "raw", day) / "validation_failed.json").write_text("{}")
                continue
            if reached > layer_index:
                partition(base, layer, day).mkdir(parents=True, exist_ok=True)
                for name in FILES[layer]:
                    (partition(base, layer, day) / name).write_text("x")
    (base / "raw" / "year=abc").mkdir(parents=True, exist_ok=True)
    (base / "processed" / "stray.txt").parent.mkdir(parents=True, exist_ok=True)
    (base / "processed" / "stray.txt").write_text("keep me")
    (base / "metrics" / "year=2024" / "month=13").mkdir(parents=True, exist_ok=True)


def expected_removals(progress, failed, window, policy, as_of) -> dict[str, set[datetime.date]]:
    """The rule, stated independently: old enough, and nothing pending needs it."""
    reached = {day: (0 if day in failed else p) for day, p in zip(DAYS, progress, strict=True)}
    reported = {day for day, p in reached.items() if p == 3}
    cleanup_day = as_of
    while cleanup_day.weekday() not in policy.weekdays:
        cleanup_day -= datetime.timedelta(days=1)
    expected = {}
    for layer, days_kept, present, needed in (
        ("raw", policy.raw_days, {d for d in DAYS if reached[d] >= 1 or d in failed},
         lambda d: reached[d] == 3),
        ("processed", policy.processed_days, {d for d in DAYS if reached[d] >= 2},
         lambda d: all(r in reported for r in (d + datetime.timedelta(days=i) for i in range(window)))),
        ("metrics", policy.metrics_days, {d for d in DAYS if reached[d] >= 3}, lambda d: d in reported),
    ):  # fmt: skip
        cutoff = cleanup_day - datetime.timedelta(days=days_kept)
        expected[layer] = {d for d in present if d < cutoff and needed(d)}
    return expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees())
def test_cleanup_removes_exactly_the_expired_partitions_and_nothing_else(example):
    progress, failed, window, policy, as_of = example
    work = Path(tempfile.mkdtemp(prefix="retention-"))
    base, outside = work / "base", work / "outside"
    config = luigi.configuration.get_config()
    saved = {option: config.get(section, option, None) for section, option in (("etl", "base_dir"),
                                                                               ("rolling", "window_days"))}  # fmt: skip
    try:
        build_tree(base, progress, failed)
        outside.mkdir()
        (outside / "precious.txt").write_text("outside the base")
        old_month = base / "raw" / "year=2023" / "month=12"
        old_month.mkdir(parents=True)
        (old_month / "day=01").symlink_to(outside)  # a link inside a layer, to a day older than any cutoff
        config.set("etl", "base_dir", str(base))
        config.set("rolling", "window_days", str(window))
        Register.clear_instance_cache()
        store = run_settings.current().store
        before = {layer: {d for d in DAYS if partition(base, layer, d).exists()} for layer in BUILT}

        removed = steps.cleanup(store, as_of, policy, removable(holdings(run_settings.current())))

        after = {layer: {d for d in DAYS if partition(base, layer, d).exists()} for layer in BUILT}
        expected = expected_removals(progress, failed, window, policy, as_of)
        for layer in BUILT:
            assert before[layer] - after[layer] == expected[layer], layer
            assert set(removed[layer]) == expected[layer], layer
            cutoff = retention_cutoff(cleanup_as_of(as_of, policy), policy.days(layer))
            assert all(day < cutoff for day in removed[layer]), "never a day inside the window"
        assert not any(day in failed for day in removed["raw"]), "never a raw day not processed"
        assert (outside / "precious.txt").read_text() == "outside the base", "links are not followed out"
        assert (base / "raw" / "year=abc").is_dir() and (base / "processed" / "stray.txt").exists()
        assert (base / "metrics" / "year=2024" / "month=13").is_dir(), "foreign entries are left alone"
        again = steps.cleanup(store, as_of, policy, removable(holdings(run_settings.current())))
        assert not any(again.values()), "a cleanup is idempotent"
    finally:
        for (section, option), value in zip(
            (("etl", "base_dir"), ("rolling", "window_days")), saved.values(), strict=True
        ):
            if value is None:
                config.remove_option(section, option)
            else:
                config.set(section, option, value)
        Register.clear_instance_cache()
        shutil.rmtree(work)
