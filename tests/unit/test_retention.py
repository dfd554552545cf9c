"""Retention: which days of which layer may go as of a day (pure, over dates), and the ledger of retired days.

The last tests run the real cleanup step on a real directory tree, day after day, with the holdings read
from the tree as the tasks read them, and check what is left against cutoffs computed here.
"""

from __future__ import annotations

import datetime
import json
import random

import pytest

from etl import steps
from etl.generation import GenerationSettings
from etl.metrics import window_dates
from etl.retention import (
    WEEKDAYS,
    Holdings,
    RetentionConfigError,
    RetentionPolicy,
    cleanup_as_of,
    is_cleanup_due,
    ledger_with,
    parse_weekdays,
    plan_cleanup,
    removable,
    retention_cutoff,
    retired_days,
    too_late,
)
from etl.run_settings import RunSettings
from etl.storage import LocalStore
from etl.tasks import holdings

D = datetime.date
ONE = datetime.timedelta(days=1)
EVERY_DAY = frozenset(range(7))
LAYERS = ("raw", "processed", "metrics")
START = D(2024, 1, 1)


def span(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """Every day from ``first`` to ``last``, both included."""
    return [first + datetime.timedelta(days=i) for i in range((last - first).days + 1)]


def window_holdings(present, processed_done, reports_done, start_date, window_days) -> Holdings:
    """Holdings over the pipeline's graph, stated here: validate, process and the report read a day's raw partition,
    the rolling metrics of each day of a window from start_date on its processed days, the report its metrics."""

    def readers(layer: str, day: datetime.date) -> set[tuple[str, datetime.date]]:
        if day < start_date:
            return set()
        if layer == "processed":
            return {("report", day)} | {("rolling", day + i * ONE) for i in range(window_days)}
        return {("validate", day), ("process", day), ("report", day)} if layer == "raw" else {("report", day)}

    finished = {(step, d) for d in processed_done for step in ("validate", "process")}
    finished |= {(step, d) for d in reports_done for step in ("rolling", "report")}
    return Holdings(present, finished, set(reports_done), readers)


def window_reads(window: int, start_date: datetime.date):
    """What rebuilding a day reads in the pipeline's graph: its raw partition, its window's processed ones, its
    metrics."""
    return lambda day: (
        {("raw", day), ("metrics", day)} | {("processed", d) for d in window_dates(day, window, start_date)}
    )


def policy(raw=7, processed=30, metrics=90, weekdays=EVERY_DAY) -> RetentionPolicy:
    return RetentionPolicy(raw_days=raw, processed_days=processed, metrics_days=metrics, weekdays=weekdays)


def all_done(days, start=START, window=7) -> Holdings:
    """``days`` present in every layer; every day from the start date to well after them processed and reported."""
    days = set(days)
    done = set(span(start, max(days, default=start) + datetime.timedelta(days=60)))
    return window_holdings(
        present={layer: days for layer in LAYERS},
        processed_done=done,
        reports_done=done,
        start_date=start,
        window_days=window,
    )


# retention_cutoff, RetentionPolicy ------------------------------------------------------------------------


def test_retention_cutoff_is_the_date_minus_the_days():
    assert retention_cutoff(D(2024, 3, 9), 7) == D(2024, 3, 2)
    assert retention_cutoff(D(2024, 3, 1), 1) == D(2024, 2, 29)
    assert retention_cutoff(D(2024, 1, 5), 30) == D(2023, 12, 6)


def test_policy_days_per_layer():
    rules = policy(raw=1, processed=2, metrics=3)
    assert [rules.days(layer) for layer in LAYERS] == [1, 2, 3]
    with pytest.raises(KeyError):
        rules.days("cleanup")


# parse_weekdays -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sat,sun", {5, 6}),
        ("mon", {0}),
        (" Mon , FRIDAY ", {0, 4}),
        ("sun,sun", {6}),
        ("wednesday,thursday,", {2, 3}),
        ("mon,tue,wed,thu,fri,sat,sun", set(range(7))),
    ],
)
def test_parse_weekdays(text, expected):
    assert parse_weekdays(text) == frozenset(expected)


def test_weekday_numbers_are_pythons():
    for offset, name in enumerate(WEEKDAYS):
        day = D(2024, 1, 1) + datetime.timedelta(days=offset)  # 2024-01-01 is a Monday
        assert parse_weekdays(name) == {day.weekday()}
        assert parse_weekdays(day.strftime("%A")) == {day.weekday()}, "full English names too"


@pytest.mark.parametrize("text", ["", " ", ",", " , ", "funday", "mon,xyz", "mo", "1"])
def test_parse_weekdays_rejects_unknown_or_empty(text):
    with pytest.raises(RetentionConfigError, match="cleanup_weekdays"):
        parse_weekdays(text)


def test_retention_config_error_is_a_value_error():
    assert issubclass(RetentionConfigError, ValueError)


@pytest.mark.parametrize("text", ["monthly", "sundae", "sat;sun", "mon tue"])
def test_parse_weekdays_rejects_words_that_merely_start_like_a_day(text):
    with pytest.raises(RetentionConfigError):
        parse_weekdays(text)


# cleanup_as_of: weekdays ----------------------------------------------------------------------------------


def test_cleanup_as_of_a_cleanup_weekday_is_the_day_itself():
    sundays = policy(weekdays=frozenset({6}))
    assert cleanup_as_of(D(2024, 3, 10), sundays) == D(2024, 3, 10)  # a Sunday
    for day in span(D(2024, 3, 1), D(2024, 3, 31)):
        assert cleanup_as_of(day, policy()) == day


def test_cleanup_as_of_another_day_is_the_latest_cleanup_weekday_before_it():
    sundays = policy(weekdays=frozenset({6}))
    assert [cleanup_as_of(day, sundays) for day in span(D(2024, 3, 10), D(2024, 3, 17))] == [D(2024, 3, 10)] * 7 + [
        D(2024, 3, 17)
    ]
    weekend = policy(weekdays=parse_weekdays("sat,sun"))
    assert cleanup_as_of(D(2024, 3, 8), weekend) == D(2024, 3, 3), "Friday: last Sunday"
    assert cleanup_as_of(D(2024, 3, 9), weekend) == D(2024, 3, 9)
    assert cleanup_as_of(D(2024, 3, 11), weekend) == D(2024, 3, 10), "Monday: yesterday"
    assert cleanup_as_of(D(2024, 1, 1), sundays) == D(2023, 12, 31), "across a year"


@pytest.mark.parametrize("weekdays", ["sun", "sat,sun", "mon,wed,fri", "tue", "mon,tue,wed,thu,fri,sat,sun"])
def test_cleanup_as_of_is_never_later_than_the_day_and_less_than_a_week_before(weekdays):
    rules = policy(weekdays=parse_weekdays(weekdays))
    for day in span(D(2024, 2, 20), D(2024, 3, 20)):
        as_of = cleanup_as_of(day, rules)
        assert as_of.weekday() in rules.weekdays
        assert 0 <= (day - as_of).days < 7
        assert all(d.weekday() not in rules.weekdays for d in span(as_of + ONE, day)), "the latest such day"


# removable: the keep rules --------------------------------------------------------------------------------


def test_a_raw_day_is_removable_only_once_its_processed_output_and_report_are_done():
    days = span(D(2024, 2, 1), D(2024, 2, 5))
    holdings = window_holdings(
        present={"raw": set(days)},
        processed_done={D(2024, 2, 1), D(2024, 2, 3), D(2024, 2, 5), D(2024, 2, 9)},  # 02-09 has no raw
        reports_done=set(days),
        start_date=START,
        window_days=7,
    )
    assert removable(holdings)["raw"] == [D(2024, 2, 1), D(2024, 2, 3), D(2024, 2, 5)]
    reported_late = window_holdings(
        present={"raw": set(days)},
        processed_done=set(days),
        reports_done={D(2024, 2, 2), D(2024, 2, 4)},
        start_date=START,
        window_days=7,
    )
    assert removable(reported_late)["raw"] == [D(2024, 2, 2), D(2024, 2, 4)]


def test_a_raw_day_is_kept_while_its_report_is_pending():
    """The report reads the raw layer's validation report: a processed day whose report is blocked keeps it."""
    day = D(2024, 2, 10)
    holdings = window_holdings(
        present={"raw": {day}},
        processed_done={day},
        reports_done=set(),  # e.g. blocked by a failed day in its rolling window
        start_date=START,
        window_days=7,
    )
    assert removable(holdings)["raw"] == []


def test_a_processed_day_is_removable_only_once_every_report_of_its_window_is_done():
    day = D(2024, 2, 10)
    window = span(day, day + 6 * ONE)  # the reports of 02-10 .. 02-16 read 02-10's summary (window of 7)
    for missing in window:
        holdings = window_holdings(
            present={"processed": {day}},
            processed_done=set(span(D(2024, 1, 1), D(2024, 3, 1))),
            reports_done=set(span(D(2024, 1, 1), D(2024, 3, 1))) - {missing},
            start_date=START,
            window_days=7,
        )
        assert removable(holdings)["processed"] == [], f"the report of {missing} still reads {day}"
    holdings = window_holdings(
        present={"processed": {day}},
        processed_done=set(),
        reports_done=set(window),  # neither the report of 02-09 nor that of 02-17 reads 02-10
        start_date=START,
        window_days=7,
    )
    assert removable(holdings)["processed"] == [day]


def test_processed_days_near_the_start_date_need_only_reports_from_the_start_date_on():
    """No report exists before start_date, so none is waited for (the windows there are clamped)."""
    start = D(2024, 1, 10)
    holdings = window_holdings(
        present={"processed": {D(2024, 1, 5), D(2024, 1, 8), D(2024, 1, 12)}},
        processed_done=set(),
        reports_done=set(span(start, D(2024, 1, 14))),  # 01-10 .. 01-14
        start_date=start,
        window_days=7,
    )
    # 01-05: its window 01-05..01-11 holds reports 01-10, 01-11 (done); 01-08: 01-10..01-14 (done);
    # 01-12: 01-12..01-18, and 01-15 is not done.
    assert removable(holdings)["processed"] == [D(2024, 1, 5), D(2024, 1, 8)]
    before_everything = window_holdings(
        present={"processed": {D(2023, 12, 1)}},
        processed_done=set(),
        reports_done=set(),
        start_date=start,
        window_days=7,
    )
    assert removable(before_everything)["processed"] == [D(2023, 12, 1)], "no report ever reads it"


@pytest.mark.parametrize("window", [1, 3, 7, 30])
def test_the_processed_rule_follows_the_window_length(window):
    day = D(2024, 3, 1)
    last_reader = day + (window - 1) * ONE
    done = set(span(START, last_reader))
    ready = window_holdings({"processed": {day}}, set(), done, START, window)
    short = window_holdings({"processed": {day}}, set(), done - {last_reader}, START, window)
    assert removable(ready)["processed"] == [day]
    assert removable(short)["processed"] == []


def test_a_metrics_day_is_removable_only_once_its_report_is_done():
    days = span(D(2024, 2, 1), D(2024, 2, 4))
    holdings = window_holdings(
        present={"metrics": set(days)},
        processed_done=set(),  # the processed rule is not applied to metrics
        reports_done={D(2024, 2, 2), D(2024, 2, 4)},
        start_date=START,
        window_days=7,
    )
    assert removable(holdings)["metrics"] == [D(2024, 2, 2), D(2024, 2, 4)]


def test_removable_lists_only_present_days_oldest_first_across_years():
    dates = {D(2024, 1, 2), D(2023, 12, 31), D(2023, 11, 5), D(2024, 1, 1)}
    holdings = window_holdings(
        present={"metrics": dates},
        processed_done=set(),
        reports_done=dates | {D(2024, 2, 1)},
        start_date=D(2023, 1, 1),
        window_days=7,
    )
    assert removable(holdings) == {"raw": [], "processed": [], "metrics": sorted(dates)}


# plan_cleanup and is_cleanup_due --------------------------------------------------------------------------


def test_partition_at_the_cutoff_is_kept_and_the_day_before_removed():
    date = D(2024, 3, 9)
    cutoff = D(2024, 3, 2)  # 2024-03-09 minus 7 days
    plan = plan_cleanup(date, policy(raw=7, processed=7, metrics=7), removable(all_done([cutoff - ONE, cutoff])))
    assert plan == {"raw": [D(2024, 3, 1)], "processed": [D(2024, 3, 1)], "metrics": [D(2024, 3, 1)]}


def test_plan_cleanup_per_layer():
    date = D(2024, 3, 9)
    rules = policy(raw=7, processed=30, metrics=45)

    plan = plan_cleanup(date, rules, removable(all_done(span(D(2024, 1, 20), date))))

    # Independently: raw before 2024-03-02, processed before 2024-02-08, metrics before 2024-01-24.
    assert plan == {
        "raw": span(D(2024, 1, 20), D(2024, 3, 1)),
        "processed": span(D(2024, 1, 20), D(2024, 2, 7)),
        "metrics": span(D(2024, 1, 20), D(2024, 1, 23)),
    }


def test_plan_cleanup_of_nothing_is_empty():
    assert plan_cleanup(D(2024, 3, 9), policy(), {}) == {"raw": [], "processed": [], "metrics": []}
    assert plan_cleanup(D(2024, 3, 9), policy(), removable(all_done([]))) == {"raw": [], "processed": [], "metrics": []}


def test_plan_cleanup_off_the_cleanup_weekdays_applies_the_last_cleanup_weekday():
    holdings = all_done(span(D(2024, 1, 1), D(2024, 3, 10)))
    sundays_only = policy(raw=1, processed=7, metrics=1, weekdays=frozenset({6}))

    saturday = plan_cleanup(D(2024, 3, 9), sundays_only, removable(holdings))
    sunday_before = plan_cleanup(D(2024, 3, 3), sundays_only, removable(holdings))
    sunday = plan_cleanup(D(2024, 3, 10), sundays_only, removable(holdings))

    assert saturday == sunday_before, "a Saturday cleanup removes what last Sunday's would have, no more"
    assert saturday["raw"] == span(D(2024, 1, 1), D(2024, 3, 1)), "cutoff 2024-03-02: the Sunday's, not 03-08"
    assert sunday["raw"] == span(D(2024, 1, 1), D(2024, 3, 8))
    assert sunday["processed"] == span(D(2024, 1, 1), D(2024, 3, 2))


def test_a_cleanup_off_the_weekdays_after_the_weekday_cleanup_is_not_due():
    sundays_only = policy(raw=3, processed=7, metrics=10, weekdays=frozenset({6}))
    present = span(D(2024, 2, 1), D(2024, 3, 16))
    done_on_sunday = plan_cleanup(D(2024, 3, 10), sundays_only, removable(all_done(present)))
    assert done_on_sunday["raw"] == span(D(2024, 2, 1), D(2024, 3, 6)), "Sunday's cutoff: 2024-03-07"
    holdings = window_holdings(
        present={layer: {d for d in present if d not in done_on_sunday[layer]} for layer in LAYERS},
        processed_done=set(present),
        reports_done=set(present),
        start_date=START,
        window_days=7,
    )
    for day in span(D(2024, 3, 10), D(2024, 3, 16)):
        assert not is_cleanup_due(day, sundays_only, removable(holdings)), day
        assert plan_cleanup(day, sundays_only, removable(holdings)) == {"raw": [], "processed": [], "metrics": []}
    assert is_cleanup_due(D(2024, 3, 17), sundays_only, removable(holdings)), "the next Sunday moves the cutoffs"


def random_holdings(rng: random.Random, start: datetime.date, stop: datetime.date, window: int) -> Holdings:
    days = span(start, stop)
    present = {layer: {d for d in days if rng.random() < 0.8} for layer in LAYERS}
    processed_done = {d for d in days if rng.random() < 0.9}
    reports_done = {d for d in processed_done if rng.random() < 0.9}
    return window_holdings(present, processed_done, reports_done, start, window)


@pytest.mark.parametrize("weekdays", ["sun", "sat,sun", "mon,thu", "mon,tue,wed,thu,fri,sat,sun"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_cleanup_as_of_a_later_day_removes_a_superset(weekdays, seed):
    rng = random.Random(seed)
    rules = policy(raw=rng.randint(1, 10), processed=rng.randint(7, 40), metrics=rng.randint(1, 60))
    rules = RetentionPolicy(rules.raw_days, rules.processed_days, rules.metrics_days, parse_weekdays(weekdays))
    holdings = random_holdings(rng, D(2024, 1, 1), D(2024, 4, 30), window=7)
    days = removable(holdings)
    dates = span(D(2024, 1, 1), D(2024, 5, 31))
    plans = [plan_cleanup(day, rules, days) for day in dates]
    for earlier, later, day in zip(plans[:-1], plans[1:], dates[1:], strict=True):
        for layer in LAYERS:
            assert set(earlier[layer]) <= set(later[layer]), (layer, day)
    for day, plan in zip(dates, plans, strict=True):
        assert is_cleanup_due(day, rules, days) == any(plan.values()), day
        left = {layer: [d for d in days[layer] if d not in plan[layer]] for layer in LAYERS}
        assert not is_cleanup_due(day, rules, left), f"a cleanup as of {day} leaves nothing due as of {day}"
        for layer in LAYERS:
            cutoff = retention_cutoff(cleanup_as_of(day, rules), rules.days(layer))
            assert plan[layer] == [d for d in days[layer] if d < cutoff], (layer, day)
            assert set(plan[layer]) <= holdings.present[layer]


def test_is_cleanup_due_looks_at_the_oldest_removable_day_of_each_layer():
    rules = policy(raw=7, processed=30, metrics=90)
    date = D(2024, 3, 9)
    assert not is_cleanup_due(date, rules, {"raw": [D(2024, 3, 2)], "processed": [], "metrics": []})
    assert is_cleanup_due(date, rules, {"raw": [D(2024, 3, 1), D(2024, 3, 5)], "processed": [], "metrics": []})
    assert is_cleanup_due(date, rules, {"raw": [], "processed": [], "metrics": [D(2023, 12, 9)]})
    assert not is_cleanup_due(date, rules, {"raw": [], "processed": [], "metrics": [D(2023, 12, 10)]})


# too_late: what late rows can no longer rebuild --------------------------------------------------------


def test_rows_come_too_late_once_retention_retired_what_rebuilding_their_day_needs():
    day, window = D(2024, 3, 10), 3  # its rolling window reads 03-08, 03-09 and 03-10

    def retired(raw=(), processed=()) -> dict:
        return {"raw": frozenset(raw), "processed": frozenset(processed), "metrics": frozenset()}

    assert not too_late(day, retired(), window_reads(window, START))
    assert too_late(day, retired(raw=[day]), window_reads(window, START)), "its raw partition"
    assert too_late(day, retired(processed=[day]), window_reads(window, START)), "its processed partition"
    assert too_late(day, retired(processed=[D(2024, 3, 8)]), window_reads(window, START)), (
        "the oldest day of its window"
    )
    assert not too_late(day, retired(processed=[D(2024, 3, 7)]), window_reads(window, START)), "before its window"
    assert not too_late(day, retired(raw=[D(2024, 3, 9)], processed=[D(2024, 3, 11)]), window_reads(window, START))
    assert not too_late(day, retired(processed=[D(2024, 3, 8)]), window_reads(window, D(2024, 3, 9))), (
        "clipped at start_date"
    )


# the ledger -----------------------------------------------------------------------------------------------


def test_ledger_of_nothing_is_empty():
    assert retired_days(None) == {"raw": frozenset(), "processed": frozenset(), "metrics": frozenset()}
    assert retired_days({}) == retired_days(None)
    assert ledger_with(None, {}) == {"raw": [], "processed": [], "metrics": []}


def test_ledger_with_stores_sorted_half_open_ranges_of_consecutive_days():
    removed = {
        "raw": [D(2024, 1, 3), D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 7)],
        "processed": [D(2023, 12, 31), D(2024, 1, 1)],
        "metrics": [],
    }
    assert ledger_with(None, removed) == {
        "raw": [["2024-01-01", "2024-01-04"], ["2024-01-07", "2024-01-08"]],
        "processed": [["2023-12-31", "2024-01-02"]],
        "metrics": [],
    }


def test_ledger_round_trips_through_json_in_a_store(tmp_path):
    rng = random.Random(5)
    removed = {layer: sorted(rng.sample(span(D(2023, 11, 1), D(2024, 3, 1)), 40)) for layer in LAYERS}
    store = LocalStore(tmp_path)

    store.write_json("cleanup/retired_days.json", ledger_with(None, removed))
    back = retired_days(json.loads((tmp_path / "cleanup" / "retired_days.json").read_text()))

    assert back == {layer: frozenset(days) for layer, days in removed.items()}


def test_ledger_with_merges_new_days_into_the_existing_ranges():
    ledger = ledger_with(None, {"raw": span(D(2024, 1, 1), D(2024, 1, 5))})
    ledger = ledger_with(ledger, {"raw": [D(2024, 1, 6), D(2024, 1, 9)], "metrics": [D(2024, 1, 1)]})
    ledger = ledger_with(ledger, {"raw": [D(2024, 1, 3), D(2024, 1, 7), D(2024, 1, 8)]})  # 01-03 already there

    assert ledger == {
        "raw": [["2024-01-01", "2024-01-10"]],
        "processed": [],
        "metrics": [["2024-01-01", "2024-01-02"]],
    }
    assert retired_days(ledger)["raw"] == frozenset(span(D(2024, 1, 1), D(2024, 1, 9)))


def test_ledger_with_is_idempotent_and_order_free():
    first = {"raw": [D(2024, 1, 1), D(2024, 1, 4)], "processed": [D(2024, 2, 2)]}
    second = {"raw": [D(2024, 1, 2)], "metrics": [D(2024, 1, 1)]}
    one = ledger_with(ledger_with(None, first), second)
    assert one == ledger_with(ledger_with(None, second), first)
    assert ledger_with(one, first) == one
    assert ledger_with(one, {}) == one


# the cleanup step on a real tree --------------------------------------------------------------------------


LEDGER = "cleanup/retired_days.json"
DAILY_FILES = {
    "raw": ("orders.csv", "validation_report.json"),
    "processed": ("orders_processed.csv", "daily_summary.json"),
    "metrics": ("rolling_metrics.json", "daily_report.json"),
}


def settings_for(store: LocalStore, rules: RetentionPolicy, window: int = 7) -> RunSettings:
    return RunSettings(
        pipeline="etl",
        store=store,
        start_date=START,
        timezone="UTC",
        source="synthetic",
        depends_on_past=False,
        generation=GenerationSettings(),
        min_orders=1,
        max_rejected_share=0.01,
        landing=None,
        negative_amounts="sign_error",
        excluded_statuses=(),
        window_days=window,
        rebuild_stale=False,
        trend_threshold=0.05,
        retention=rules,
        report_config={},
    )


def write_day(base, date: datetime.date, layers=LAYERS, files=DAILY_FILES) -> None:
    """A day's partitions as the steps leave them (contents do not matter to retention)."""
    for layer in layers:
        path = base / layer / f"year={date.year:04d}" / f"month={date.month:02d}" / f"day={date.day:02d}"
        path.mkdir(parents=True, exist_ok=True)
        for name in files[layer]:
            (path / name).write_text("{}")


def present(base, layer: str) -> list[datetime.date]:
    return sorted(
        D(int(p.parent.parent.name[5:]), int(p.parent.name[6:]), int(p.name[4:]))
        for p in base.glob(f"{layer}/year=*/month=*/day=*")
    )


def run_cleanup(store: LocalStore, date: datetime.date, rules: RetentionPolicy) -> dict[str, list[datetime.date]]:
    return steps.cleanup(store, date, rules, removable(holdings(settings_for(store, rules))))


@pytest.mark.parametrize("weekdays", ["mon,tue,wed,thu,fri,sat,sun", "sun"])
def test_daily_cleanups_keep_each_layer_back_to_its_cutoff_and_record_the_rest(tmp_path, weekdays):
    store = LocalStore(tmp_path)
    rules = policy(raw=3, processed=10, metrics=20, weekdays=parse_weekdays(weekdays))
    days = span(START, D(2024, 3, 9))
    for today in days:
        write_day(tmp_path, today)
        run_cleanup(store, today, rules)

        as_of = cleanup_as_of(today, rules)
        ledger = store.read_json(LEDGER) if store.exists(LEDGER) else None
        for layer in LAYERS:
            cutoff = as_of - datetime.timedelta(days=rules.days(layer))
            assert present(tmp_path, layer) == span(max(cutoff, START), today), (layer, today)
            assert retired_days(ledger)[layer] == frozenset(span(START, cutoff - ONE)), "every removed day recorded"
    assert not (tmp_path / "raw" / "year=2024" / "month=01").exists(), "emptied months go too"


def test_raw_partitions_are_not_kept_forever_when_raw_outlives_processed(tmp_path):
    """Processed days retired by retention count as done: the raw days behind them still go in time."""
    store = LocalStore(tmp_path)
    rules = policy(raw=60, processed=30, metrics=90)
    for today in span(START, D(2024, 5, 31)):  # a daily pipeline with its cleanup for five months
        write_day(tmp_path, today)
        run_cleanup(store, today, rules)
        if today == D(2024, 2, 15):
            assert present(tmp_path, "processed")[0] == D(2024, 1, 16), "processed went first"
            assert present(tmp_path, "raw")[0] == START, "raw still keeps what processed no longer has"
    # On 2024-05-31 the raw cutoff is 2024-04-01, processed 2024-05-01, metrics 2024-03-02.
    assert present(tmp_path, "raw") == span(D(2024, 4, 1), D(2024, 5, 31))
    assert present(tmp_path, "processed") == span(D(2024, 5, 1), D(2024, 5, 31))
    assert present(tmp_path, "metrics") == span(D(2024, 3, 2), D(2024, 5, 31))


def test_processed_days_that_future_reports_will_read_are_kept_when_the_pipeline_stops(tmp_path):
    store = LocalStore(tmp_path)
    rules = policy(raw=3, processed=7, metrics=90)
    for day in span(START, D(2024, 1, 10)):
        write_day(tmp_path, day)
    run_cleanup(store, D(2024, 3, 1), rules)
    assert present(tmp_path, "raw") == []
    # The reports of 2024-01-11 .. 01-16 are not built yet, and read the summaries of 01-05 .. 01-10.
    assert present(tmp_path, "processed") == span(D(2024, 1, 5), D(2024, 1, 10))


def test_a_failed_day_keeps_what_it_will_need_and_everything_goes_once_it_is_fixed(tmp_path):
    store = LocalStore(tmp_path)
    rules = policy(raw=3, processed=10, metrics=20)
    failed = D(2024, 1, 20)
    blocked = span(failed + ONE, failed + 6 * ONE)  # processed, but their rolling window holds the failed day
    for today in span(START, D(2024, 3, 31)):
        if today == failed:
            write_day(tmp_path, today, layers=("raw",), files={"raw": ("orders.csv", "validation_failed.json")})
        elif today in blocked:
            write_day(tmp_path, today, layers=("raw", "processed"))
        else:
            write_day(tmp_path, today)
        run_cleanup(store, today, rules)

    # As of 2024-03-31 the cutoffs are raw 03-28, processed 03-21, metrics 03-11.
    assert present(tmp_path, "raw") == [failed, *blocked, *span(D(2024, 3, 28), D(2024, 3, 31))], (
        "the failed day's raw file stays until it is processed, and the blocked days' until they are reported"
    )
    readers = span(failed - 6 * ONE, failed + 6 * ONE)  # processed days read by a pending report (01-20..01-26)
    assert present(tmp_path, "processed") == [d for d in readers if d != failed] + span(D(2024, 3, 21), D(2024, 3, 31))
    assert present(tmp_path, "metrics") == span(D(2024, 3, 11), D(2024, 3, 31))

    # The day is fixed: validated and processed, then its report and the blocked ones are built.
    write_day(tmp_path, failed)
    for day in blocked:
        write_day(tmp_path, day, layers=("metrics",))
    run_cleanup(store, D(2024, 4, 1), rules)

    # As of 2024-04-01: raw 03-29, processed 03-22, metrics 03-12.
    assert present(tmp_path, "raw") == span(D(2024, 3, 29), D(2024, 3, 31))
    assert present(tmp_path, "processed") == span(D(2024, 3, 22), D(2024, 3, 31))
    assert present(tmp_path, "metrics") == span(D(2024, 3, 12), D(2024, 3, 31))
    retired = retired_days(store.read_json("cleanup/retired_days.json"))
    assert retired == {
        "raw": frozenset(span(START, D(2024, 3, 28))),
        "processed": frozenset(span(START, D(2024, 3, 21))),
        "metrics": frozenset(span(START, D(2024, 3, 11))),
    }


def test_a_cleanup_stopped_midway_is_completed_by_the_next_one_in_its_one_audit_run(tmp_path, monkeypatch):
    """What it removes is recorded first; the rerun removes the rest and does not record a second run."""
    rules = policy(raw=3, processed=3, metrics=3)
    today = D(2024, 1, 10)
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    for base in (stopped, whole):
        for day in span(START, today):
            write_day(base, day)
    run_cleanup(LocalStore(whole), today, rules)
    real_remove = LocalStore.remove_partition
    removed: list[tuple[str, datetime.date]] = []

    def killed_after_two(self, layer, day):
        if len(removed) == 2:
            raise KeyboardInterrupt("killed")
        removed.append((layer, day))
        return real_remove(self, layer, day)

    monkeypatch.setattr(LocalStore, "remove_partition", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        run_cleanup(LocalStore(stopped), today, rules)
    monkeypatch.setattr(LocalStore, "remove_partition", real_remove)
    assert len(removed) == 2 and present(stopped, "raw")[0] == D(2024, 1, 3), "stopped midway"

    run_cleanup(LocalStore(stopped), today, rules)

    def runs(base) -> list[dict]:
        report = base / "cleanup" / "year=2024" / "month=01" / "day=10" / "cleanup_report.json"
        return [{k: v for k, v in run.items() if k != "at"} for run in json.loads(report.read_text())["runs"]]

    assert runs(stopped) == runs(whole) and len(runs(whole)) == 1, "one run names everything removed"
    for layer in LAYERS:
        assert present(stopped, layer) == present(whole, layer), layer
