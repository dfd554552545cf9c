"""A day's state in a layer: done, missing, failed (only while the refused input is unchanged) or expired."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os

import pytest
from stores import ReadOnlyStore

from etl import steps
from etl.retention import RetentionPolicy, ledger_with
from etl.state import DayState, Outputs, StoreView, day_state, retired
from etl.storage import FileStat, LocalStore

D = datetime.date
DAY = D(2024, 3, 9)
PROCESS = Outputs("processed", ("orders_processed.csv", "daily_summary.json"))
VALIDATE = Outputs("raw", ("validation_report.json",), failure_marker="validation_failed.json", input_file="orders.csv")
LEDGER = "cleanup/retired_days.json"
SECOND = 1_000_000_000


def listing(*entries: tuple[str, int]) -> dict[str, FileStat]:
    """A partition listing from (file name, modification time in nanoseconds) pairs."""
    return {name: FileStat(10, mtime) for name, mtime in entries}


def write(base, layer: str, date: datetime.date, name: str, mtime_s: int | None = None, text: str = "x") -> None:
    path = base / layer / f"year={date.year:04d}" / f"month={date.month:02d}" / f"day={date.day:02d}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime_s is not None:
        os.utime(path, (mtime_s, mtime_s))


# DayState -------------------------------------------------------------------------------------------------


def test_finished_means_done_or_expired():
    assert {state for state in DayState if state.finished} == {DayState.DONE, DayState.EXPIRED}
    assert [state.value for state in DayState] == [
        "done",
        "stale",
        "missing",
        "failed",
        "held back",
        "expired",
        "not due",
        "running",
        "disabled",
    ]


# day_state ------------------------------------------------------------------------------------------------


def test_done_needs_every_output_file():
    assert day_state(PROCESS, listing(("orders_processed.csv", 1), ("daily_summary.json", 2)), False) is DayState.DONE
    assert day_state(PROCESS, listing(("orders_processed.csv", 1)), False) is DayState.MISSING
    assert day_state(PROCESS, listing(("daily_summary.json", 1), ("notes.txt", 1)), False) is DayState.MISSING
    assert day_state(PROCESS, {}, False) is DayState.MISSING


def test_done_wins_over_retired_and_over_a_failure_marker():
    both = listing(("orders_processed.csv", 1), ("daily_summary.json", 2))
    assert day_state(PROCESS, both, True) is DayState.DONE
    report_and_marker = listing(("orders.csv", 1), ("validation_report.json", 2), ("validation_failed.json", 3))
    assert day_state(VALIDATE, report_and_marker, False) is DayState.DONE


def test_retired_and_not_there_is_expired():
    assert day_state(PROCESS, {}, True) is DayState.EXPIRED
    assert day_state(PROCESS, listing(("orders_processed.csv", 1)), True) is DayState.EXPIRED


@pytest.mark.parametrize(
    ("input_mtime", "marker_mtime", "expected"),
    [
        (5 * SECOND, 6 * SECOND, DayState.FAILED),  # refused after the input was written
        (5 * SECOND, 5 * SECOND, DayState.FAILED),  # same timestamp: not older, still refused
        (6 * SECOND, 5 * SECOND, DayState.MISSING),  # a newer input: to be tried again
        (5 * SECOND + 1, 5 * SECOND, DayState.MISSING),  # newer by a nanosecond is newer
    ],
)
def test_a_failure_marker_counts_only_while_not_older_than_the_input(input_mtime, marker_mtime, expected):
    found = listing(("orders.csv", input_mtime), ("validation_failed.json", marker_mtime))
    assert day_state(VALIDATE, found, False) is expected


def test_a_failure_marker_without_its_input_does_not_count():
    assert day_state(VALIDATE, listing(("validation_failed.json", 5)), False) is DayState.MISSING
    assert day_state(VALIDATE, listing(("validation_failed.json", 5)), True) is DayState.EXPIRED


def test_failed_is_not_expired_even_when_retired():
    found = listing(("orders.csv", 1), ("validation_failed.json", 2))
    assert day_state(VALIDATE, found, True) is DayState.FAILED


def test_outputs_without_a_failure_marker_never_fail():
    found = listing(("orders.csv", 1), ("validation_failed.json", 2))
    assert day_state(Outputs("raw", ("validation_report.json",)), found, False) is DayState.MISSING
    no_input = Outputs("raw", ("validation_report.json",), failure_marker="validation_failed.json")
    assert day_state(no_input, found, False) is DayState.MISSING, "a marker is about an input file"


# StoreView over a real store: a step's own files, then its inputs' ------------------------------------------


def state_of(store: LocalStore, step) -> DayState:
    """One day's state of one step, from a view of its own."""
    return StoreView(store).status(step).state


@dataclasses.dataclass(frozen=True)
class Step:
    """A daily step as the state code sees one: what it writes, for which day, and what it reads."""

    outputs: Outputs
    date: datetime.date
    needs: tuple = ()
    settings: tuple = (("[validation] min_orders", 50),)

    def requires(self) -> list:
        return list(self.needs)

    def fingerprint(self) -> dict:
        return dict(self.settings)


def refused(date: datetime.date, min_orders: int = 50) -> str:
    """A failure record as validation writes one: min_orders failed under ``min_orders``."""
    return json.dumps({
        "file": f"raw/year={date:%Y}/month={date:%m}/day={date:%d}/orders.csv",
        "rules": [{"rule": "min_orders", "passed": False, "detail": "12 orders, at least 50 required"},
                  {"rule": "critical_not_null", "passed": True, "detail": "ok"}],
        "checked_with": {"min_orders": min_orders},
    })  # fmt: skip


GENERATE = Outputs("raw", ("orders.csv",))


def chain(day: datetime.date) -> Step:
    """generate -> validate -> process for one day."""
    return Step(PROCESS, day, (Step(VALIDATE, day, (Step(GENERATE, day),)),))


def test_state_of_reads_the_day_partition(tmp_path):
    store = LocalStore(tmp_path)
    validate = Step(VALIDATE, DAY, (Step(GENERATE, DAY),))
    assert state_of(store, validate) is DayState.MISSING
    write(tmp_path, "raw", DAY, "orders.csv", mtime_s=1_700_000_000)
    write(tmp_path, "raw", DAY, "validation_failed.json", mtime_s=1_700_000_100, text=refused(DAY))
    assert state_of(store, validate) is DayState.FAILED
    write(tmp_path, "raw", DAY, "orders.csv", mtime_s=1_700_000_200)  # the input is replaced: retried
    assert state_of(store, validate) is DayState.MISSING
    write(tmp_path, "raw", DAY, "validation_report.json", mtime_s=1_700_000_300)
    assert state_of(store, validate) is DayState.DONE
    assert state_of(store, Step(VALIDATE, DAY + datetime.timedelta(days=1))) is DayState.MISSING


def test_a_step_is_stale_once_an_input_is_newer_missing_or_stale_itself(tmp_path):
    store = LocalStore(tmp_path)
    write(tmp_path, "raw", DAY, "orders.csv", mtime_s=1_700_000_000)
    write(tmp_path, "raw", DAY, "validation_report.json", mtime_s=1_700_000_100)
    write(tmp_path, "processed", DAY, "orders_processed.csv", mtime_s=1_700_000_200)
    write(tmp_path, "processed", DAY, "daily_summary.json", mtime_s=1_700_000_200)
    assert state_of(store, chain(DAY)) is DayState.DONE, "equal times: written in one tick, not stale"

    write(tmp_path, "raw", DAY, "orders.csv", mtime_s=1_700_000_300)  # the raw file replaced by hand
    assert state_of(store, chain(DAY).needs[0]) is DayState.STALE
    assert state_of(store, chain(DAY)) is DayState.STALE, "stale through its input, whose own file is older"

    write(tmp_path, "raw", DAY, "validation_report.json", mtime_s=1_700_000_400)  # validated again
    assert state_of(store, chain(DAY)) is DayState.STALE, "its input's mark is newer"
    write(tmp_path, "processed", DAY, "daily_summary.json", mtime_s=1_700_000_500)
    write(tmp_path, "processed", DAY, "orders_processed.csv", mtime_s=1_700_000_500)
    assert state_of(store, chain(DAY)) is DayState.DONE

    write(tmp_path, "processed", DAY, "orders_processed.csv", mtime_s=1_700_000_600)  # truncated after the summary
    assert state_of(store, chain(DAY)) is DayState.STALE, "an output newer than the step's completion mark"

    write(tmp_path, "processed", DAY, "daily_summary.json", mtime_s=1_700_000_700)
    os.remove(tmp_path / "raw" / "year=2024" / "month=03" / "day=09" / "validation_report.json")
    assert state_of(store, chain(DAY)) is DayState.STALE, "a lost input"


def test_an_input_retired_by_retention_does_not_make_a_step_stale(tmp_path):
    store = LocalStore(tmp_path)
    write(tmp_path, "processed", DAY, "orders_processed.csv")
    write(tmp_path, "processed", DAY, "daily_summary.json")
    store.write_json(LEDGER, ledger_with(None, {"raw": [DAY]}))

    assert state_of(store, chain(DAY)) is DayState.DONE
    assert state_of(store, Step(PROCESS, DAY, (Step(VALIDATE, DAY + datetime.timedelta(days=1)),))) is (
        DayState.STALE
    ), "a missing input that was not retired"


def test_a_temporary_file_of_a_write_in_progress_does_not_make_a_day_done(tmp_path):
    store = LocalStore(tmp_path)
    write(tmp_path, "processed", DAY, "orders_processed.csv")
    write(tmp_path, "processed", DAY, ".daily_summary.json.x1y2.tmp")
    assert state_of(store, Step(PROCESS, DAY)) is DayState.MISSING


def test_state_of_a_day_retention_retired(tmp_path):
    store = LocalStore(tmp_path)
    store.write_json(LEDGER, ledger_with(None, {"processed": [DAY]}))
    assert state_of(store, Step(PROCESS, DAY)) is DayState.EXPIRED
    assert state_of(store, Step(VALIDATE, DAY)) is DayState.MISSING, "retired in processed, not in raw"
    assert state_of(store, Step(PROCESS, DAY - datetime.timedelta(days=1))) is DayState.MISSING


def test_a_view_of_whole_layers_gives_what_one_partition_gives(tmp_path):
    store = LocalStore(tmp_path)
    done, partial, expired, both = D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 4)
    for name in PROCESS.filenames:
        write(tmp_path, "processed", done, name)
        write(tmp_path, "processed", both, name)
    write(tmp_path, "processed", partial, "orders_processed.csv")
    store.write_json(LEDGER, ledger_with(None, {"processed": [expired, both]}))

    view = StoreView(store, ["raw", "processed", "metrics"])
    states = {day: view.status(Step(PROCESS, day)).state for day in (done, partial, expired, both)}

    assert states == {done: DayState.DONE, partial: DayState.MISSING, expired: DayState.EXPIRED, both: DayState.DONE}
    for day, state in states.items():
        assert state_of(store, Step(PROCESS, day)) is state


def test_retired_is_empty_without_a_ledger(tmp_path):
    assert retired(LocalStore(tmp_path)) == {"raw": frozenset(), "processed": frozenset(), "metrics": frozenset()}


def test_retired_follows_the_ledger_as_it_changes(tmp_path):
    store = LocalStore(tmp_path)
    assert retired(store)["raw"] == frozenset()
    store.write_json(LEDGER, ledger_with(None, {"raw": [D(2024, 1, 1), D(2024, 1, 2)]}))
    assert retired(store)["raw"] == {D(2024, 1, 1), D(2024, 1, 2)}
    store.update_json(LEDGER, lambda ledger: ledger_with(ledger, {"raw": [D(2024, 1, 5)], "metrics": [D(2024, 1, 1)]}))
    assert retired(store)["raw"] == {D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 5)}
    assert retired(LocalStore(tmp_path))["metrics"] == {D(2024, 1, 1)}, "another store object of the same base"
    os.remove(tmp_path / LEDGER)
    assert retired(store)["raw"] == frozenset()


def test_retired_tells_stores_apart(tmp_path):
    one, two = LocalStore(tmp_path / "one"), LocalStore(tmp_path / "two")
    one.write_json(LEDGER, ledger_with(None, {"raw": [D(2024, 1, 1)]}))
    two.write_json(LEDGER, ledger_with(None, {"raw": [D(2024, 2, 1)]}))
    for _ in range(2):
        assert retired(one)["raw"] == {D(2024, 1, 1)}
        assert retired(two)["raw"] == {D(2024, 2, 1)}


def test_retired_sees_a_same_size_rewrite_of_the_ledger(tmp_path):
    store = LocalStore(tmp_path)
    store.write_json(LEDGER, ledger_with(None, {"raw": [D(2024, 1, 1), D(2024, 1, 2)]}))
    status = os.stat(tmp_path / LEDGER)
    assert retired(store)["raw"] == {D(2024, 1, 1), D(2024, 1, 2)}
    store.write_json(LEDGER, ledger_with(None, {"raw": [D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 3)]}))
    # What a coarse timestamp clock (older kernels, network filesystems) gives two writes in one tick.
    os.utime(tmp_path / LEDGER, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert os.stat(tmp_path / LEDGER).st_size == status.st_size, "[01-01, 01-03) and [01-01, 01-04): same size"
    assert retired(store)["raw"] == {D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 3)}


def test_a_store_cleaned_by_an_earlier_version_gets_its_ledger_from_the_audit_records(tmp_path):
    store = LocalStore(tmp_path)
    store.write_json(
        "cleanup/year=2024/month=03/day=09/cleanup_report.json",
        {
            "execution_date": "2024-03-09",
            "removed": {
                "raw": ["raw/year=2024/month=03/day=01"],
                "processed": ["processed/year=2024/month=02/day=07", "processed/year=2024/month=02/day=08"],
                "metrics": [],
            },
        },
    )
    store.write_json("cleanup/year=2024/month=03/day=10/cleanup_report.json", {"removed": {"raw": ["junk"]}})

    assert retired(store) == {
        "raw": {D(2024, 3, 1)},
        "processed": {D(2024, 2, 7), D(2024, 2, 8)},
        "metrics": frozenset(),
    }
    assert not (tmp_path / LEDGER).exists(), "a read never writes"
    assert state_of(store, Step(PROCESS, D(2024, 2, 8))) is DayState.EXPIRED


def test_reading_the_state_of_a_store_without_a_ledger_writes_nothing_and_the_next_cleanup_keeps_its_days(tmp_path):
    """An earlier version's store: audit records, no ledger. Its states are read through a store that refuses
    every write; then a real cleanup writes a ledger with the days the records imply and the ones it removes."""
    LocalStore(tmp_path).write_json(
        "cleanup/year=2024/month=03/day=09/cleanup_report.json",
        {"execution_date": "2024-03-09", "removed": {"processed": ["processed/year=2024/month=02/day=07"]}},
    )
    write(tmp_path, "processed", D(2024, 2, 20), "orders_processed.csv")
    write(tmp_path, "processed", D(2024, 2, 20), "daily_summary.json")
    reading = ReadOnlyStore(tmp_path)

    assert StoreView(reading).status(Step(PROCESS, D(2024, 2, 7))).state is DayState.EXPIRED
    assert retired(reading)["processed"] == {D(2024, 2, 7)}

    store = LocalStore(tmp_path)
    policy = RetentionPolicy(raw_days=7, processed_days=7, metrics_days=7, weekdays=frozenset(range(7)))
    steps.cleanup(store, D(2024, 3, 20), policy, {"processed": [D(2024, 2, 20)]})

    assert retired(store)["processed"] == {D(2024, 2, 7), D(2024, 2, 20)}, "the implied day and the removed one"
    assert not (tmp_path / "processed" / "year=2024" / "month=02" / "day=20").exists()


def test_a_refusal_names_day_file_and_rule_and_holds_back_later_days_by_that_day(tmp_path):
    store = LocalStore(tmp_path)
    write(tmp_path, "raw", DAY, "orders.csv", mtime_s=1_700_000_000)
    write(tmp_path, "raw", DAY, "validation_failed.json", mtime_s=1_700_000_100, text=refused(DAY))
    validate = Step(VALIDATE, DAY, (Step(GENERATE, DAY),))
    process = Step(PROCESS, DAY, (validate,))
    next_day = Step(PROCESS, DAY + datetime.timedelta(days=1), (process,))  # a window reaching back a day
    view = StoreView(store)

    failed = view.status(validate)
    assert failed.state is DayState.FAILED and failed.brief == "min_orders" and failed.failed_day == DAY
    assert failed.reason == (
        f"validation failed for {DAY} in {tmp_path / 'raw/year=2024/month=03/day=09/orders.csv'}: "
        "min_orders: 12 orders, at least 50 required"
    )
    same_day = view.status(process)
    assert (same_day.state, same_day.reason, same_day.brief) == (DayState.HELD_BACK, failed.reason, "min_orders")
    later = view.status(next_day)
    assert later.state is DayState.HELD_BACK and later.reason == f"held back: {failed.reason}"
    assert later.brief == f"by {DAY}" and later.failed_day == DAY


def test_a_refusal_under_other_settings_is_tried_again_and_says_what_changed(tmp_path):
    store = LocalStore(tmp_path)
    write(tmp_path, "raw", DAY, "orders.csv", mtime_s=1_700_000_000)
    write(tmp_path, "raw", DAY, "validation_failed.json", mtime_s=1_700_000_100, text=refused(DAY, min_orders=50))
    lowered = Step(VALIDATE, DAY, (Step(GENERATE, DAY),), settings=(("[validation] min_orders", 10),))

    status = StoreView(store).status(lowered)

    assert status.state is DayState.MISSING
    assert status.reason == "refused with [validation] min_orders=50, now 10: to be tried again"


# a step that waits on its own kind of the day before (a report under [etl] depends_on_past) ---------------

REPORT = Outputs("metrics", ("daily_report.json",))
ONE_DAY = datetime.timedelta(days=1)


def report(day: datetime.date) -> Step:
    """A day's report: it reads its day's processing chain and waits on the previous day's report (from DAY on)."""
    return Step(REPORT, day, (chain(day), *([report(day - ONE_DAY)] if day > DAY else [])))


def processed(base, day: datetime.date, at_s: int) -> None:
    """A day's raw, validated and processed files, written in pipeline order from ``at_s`` on."""
    write(base, "raw", day, "orders.csv", mtime_s=at_s)
    write(base, "raw", day, "validation_report.json", mtime_s=at_s + 1)
    write(base, "processed", day, "orders_processed.csv", mtime_s=at_s + 2)
    write(base, "processed", day, "daily_summary.json", mtime_s=at_s + 2)


def test_a_step_waiting_on_an_earlier_day_is_held_back_by_its_failure_until_it_is_built(tmp_path):
    write(tmp_path, "raw", DAY, "orders.csv", mtime_s=1_700_000_000)
    write(tmp_path, "raw", DAY, "validation_failed.json", mtime_s=1_700_000_100, text=refused(DAY))
    for n in (1, 2, 3):
        processed(tmp_path, DAY + n * ONE_DAY, 1_700_000_000)
    write(tmp_path, "metrics", DAY + 3 * ONE_DAY, "daily_report.json", mtime_s=1_700_000_010)  # built before

    view = StoreView(LocalStore(tmp_path))

    failed = view.status(report(DAY))
    assert (failed.state, failed.brief) == (DayState.HELD_BACK, "min_orders"), "its own day's validation failed"
    for later in (DAY + ONE_DAY, DAY + 2 * ONE_DAY):
        status = view.status(report(later))
        assert (status.state, status.brief, status.failed_day) == (DayState.HELD_BACK, f"by {DAY}", DAY), later
        assert status.reason == f"held back: {failed.reason}"
    assert view.status(report(DAY + 3 * ONE_DAY)).state is DayState.DONE, "a report already built is not held back"


def test_a_step_is_neither_stale_nor_held_up_by_an_earlier_day_it_only_waits_on(tmp_path):
    for n in (0, 1):
        processed(tmp_path, DAY + n * ONE_DAY, 1_700_000_000)
    write(tmp_path, "metrics", DAY + ONE_DAY, "daily_report.json", mtime_s=1_700_000_100)
    assert state_of(LocalStore(tmp_path), report(DAY + ONE_DAY)) is DayState.DONE, "the day before is missing"

    write(tmp_path, "metrics", DAY, "daily_report.json", mtime_s=1_700_000_200)  # built after it
    assert state_of(LocalStore(tmp_path), report(DAY + ONE_DAY)) is DayState.DONE, "it reads nothing of it"
