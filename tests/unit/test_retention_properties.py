"""Retention cannot lose data: property-based tests over random partition trees, policies and days.

Each example builds a real partition tree (done days, failed days, half-built days, foreign entries, a link
out of the base), runs the real cleanup as of a random day, and checks what went against an independent
statement of the rule. Then the rules derived from the tasks' ``requires()`` against the hand-written ones they
replaced, kept here as the oracle.
"""

from __future__ import annotations

import contextlib
import datetime
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import luigi.configuration
from conftest import luigi_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from luigi.task_register import Register

from etl import run_settings, steps, tasks
from etl.day_ranges import days_between
from etl.metrics import window_dates
from etl.retention import Holdings, RetentionPolicy, cleanup_as_of, removable, retention_cutoff, too_late
from etl.tasks import ComputeRollingMetrics, ProcessDailyData, day_reads, holdings, readers

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


# The rules derived from requires() give what the hand-written ones gave -----------------------------------

STEPS = ("validate", "process", "rolling", "report")  # a day's level: how many of them are finished


def old_removable(present, processed_done, reports_done, start_date, window_days) -> dict[str, list[datetime.date]]:
    """The hand-written rule retention had: raw once processed and reported, processed once every report whose
    window holds it is done, metrics once reported."""

    def window_reported(day):
        window = days_between(max(day, start_date), day + datetime.timedelta(days=window_days))
        return all(report in reports_done for report in window)

    no_longer_needed = {
        "raw": lambda day: day in processed_done and day in reports_done,
        "processed": window_reported,
        "metrics": lambda day: day in reports_done,
    }
    return {layer: sorted(d for d in present.get(layer, ()) if no_longer_needed[layer](d)) for layer in BUILT}


def old_too_late(day, retired, window_days, start_date) -> bool:
    """The hand-written rule: the day's raw partition or a processed day of its window is retired."""
    return day in retired["raw"] or any(d in retired["processed"] for d in window_dates(day, window_days, start_date))


@contextlib.contextmanager
def pipeline_settings(window: int, start: datetime.date, depends_on_past: bool = False) -> Iterator[None]:
    with luigi_config() as apply:
        apply({
            "etl": {"start_date": start.isoformat(), "depends_on_past": str(depends_on_past).lower()},
            "rolling": {"window_days": window},
            "retention": {"processed_days": max(window, 30)},
        })  # fmt: skip
        yield


@st.composite
def graph_holdings(draw):
    """Random holdings the day state can give: a day's steps finish in order, and its rolling metrics (so its
    report) only once every processed day of its window is; present days from start_date on (there are no others)."""
    window, depends_on_past = draw(st.sampled_from([1, 2, 3, 7, 10])), draw(st.booleans())
    start = draw(st.sampled_from(DAYS[:20]))
    days = [d for d in DAYS[:60] if d >= start]
    level = dict(zip(days, draw(st.lists(st.integers(0, 4), min_size=len(days), max_size=len(days))), strict=True))
    for day in days:
        if level[day] >= 3 and any(level.get(d, 0) < 2 for d in window_dates(day, window, start)):
            level[day] = 2
    finished = {(step, d) for d in days for i, step in enumerate(STEPS) if level[d] > i}
    present = {layer: {d for d in days if draw(st.booleans())} for layer in BUILT}
    retired = {layer: frozenset(d for d in days if draw(st.integers(0, 9)) == 0) for layer in BUILT}
    return window, start, depends_on_past, present, finished, retired


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph_holdings())
def test_the_rules_derived_from_requires_give_what_the_hand_written_ones_gave(example):
    window, start, depends_on_past, present, finished, retired = example
    processed_done = {d for step, d in finished if step == "process"}
    reports_done = {d for step, d in finished if step == "report"}
    with pipeline_settings(window, start, depends_on_past):
        derived = Holdings(
            present, finished, reports_done, readers(run_settings.current(), set().union(*present.values()))
        )

        assert removable(derived) == old_removable(present, processed_done, reports_done, start, window)
        for day in DAYS[:60]:
            if day >= start and day not in retired["metrics"]:
                assert too_late(day, retired, day_reads) == old_too_late(day, retired, window, start), day
            elif day >= start:
                assert too_late(day, retired, day_reads), "a retired report cannot be rebuilt: the old rule missed it"


def test_the_previous_report_under_depends_on_past_is_an_order_not_a_read():
    """Else every metrics partition would wait for the next day's report, and the last one's for ever."""
    day = START + datetime.timedelta(days=5)
    with pipeline_settings(3, START, depends_on_past=True):
        assert "previous" in tasks.DailyReport(date=day + datetime.timedelta(days=1)).requires()
        assert readers(run_settings.current(), {day})("metrics", day) == {("report", day)}
        reported = {day}
        kept = Holdings(
            {"metrics": {day}}, {("rolling", day), ("report", day)}, reported, readers(run_settings.current(), {day})
        )
        assert removable(kept)["metrics"] == [day], "the next day's report is not done, and need not be"


class ReadsOneMoreDay(ComputeRollingMetrics):
    """Rolling metrics that also read the processed day just before their window."""

    def requires(self):
        settings = run_settings.current()
        before = self.date - datetime.timedelta(days=settings.window_days)
        return [*super().requires(), *([ProcessDailyData(date=before)] if before >= settings.start_date else [])]


def test_a_requirement_more_is_read_and_kept_for(monkeypatch):
    monkeypatch.setattr(tasks, "READING_STEPS", (*tasks.READING_STEPS[:2], ReadsOneMoreDay, tasks.READING_STEPS[3]))
    day, window = START + datetime.timedelta(days=10), 3
    later = day + datetime.timedelta(days=window)  # its rolling metrics now read ``day`` too
    with pipeline_settings(window, START):
        index = readers(run_settings.current(), {day})
        assert ("rolling", later) in index("processed", day)
        finished = {(step, d) for d in days_between(START, later) for step in STEPS}  # all but ``later``
        waiting = Holdings({"processed": {day}}, finished, {d for _, d in finished}, index)
        assert removable(waiting)["processed"] == [], f"the rolling metrics of {later} still read it"
        assert ("processed", day) in day_reads(later)
        retired = {"raw": frozenset(), "processed": frozenset({day}), "metrics": frozenset()}
        assert too_late(later, retired, day_reads), f"rebuilding {later} reads {day}"
