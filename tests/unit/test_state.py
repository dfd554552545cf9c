"""A day's state in a layer: done, missing, failed (only while the refused input is unchanged) or expired."""

from __future__ import annotations

import datetime
import os

import pytest

from etl.retention import ledger_with
from etl.state import DayState, Outputs, day_state, retired, state_of, states_from
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


def write(base, layer: str, date: datetime.date, name: str, mtime_s: int | None = None) -> None:
    path = base / layer / f"year={date.year:04d}" / f"month={date.month:02d}" / f"day={date.day:02d}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    if mtime_s is not None:
        os.utime(path, (mtime_s, mtime_s))


# DayState -------------------------------------------------------------------------------------------------


def test_finished_means_done_or_expired():
    assert {state for state in DayState if state.finished} == {DayState.DONE, DayState.EXPIRED}
    assert [state.value for state in DayState] == ["done", "missing", "failed", "expired"]


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


# state_of, states_from and retired over a real store -----------------------------------------------------


def test_state_of_reads_the_day_partition(tmp_path):
    store = LocalStore(tmp_path)
    assert state_of(store, VALIDATE, DAY) is DayState.MISSING
    write(tmp_path, "raw", DAY, "orders.csv", mtime_s=1_700_000_000)
    write(tmp_path, "raw", DAY, "validation_failed.json", mtime_s=1_700_000_100)
    assert state_of(store, VALIDATE, DAY) is DayState.FAILED
    write(tmp_path, "raw", DAY, "orders.csv", mtime_s=1_700_000_200)  # the input is replaced: retried
    assert state_of(store, VALIDATE, DAY) is DayState.MISSING
    write(tmp_path, "raw", DAY, "validation_report.json")
    assert state_of(store, VALIDATE, DAY) is DayState.DONE
    assert state_of(store, VALIDATE, DAY + datetime.timedelta(days=1)) is DayState.MISSING


def test_a_temporary_file_of_a_write_in_progress_does_not_make_a_day_done(tmp_path):
    store = LocalStore(tmp_path)
    write(tmp_path, "processed", DAY, "orders_processed.csv")
    write(tmp_path, "processed", DAY, ".daily_summary.json.x1y2.tmp")
    assert state_of(store, PROCESS, DAY) is DayState.MISSING


def test_state_of_a_day_retention_retired(tmp_path):
    store = LocalStore(tmp_path)
    store.write_json(LEDGER, ledger_with(None, {"processed": [DAY]}))
    assert state_of(store, PROCESS, DAY) is DayState.EXPIRED
    assert state_of(store, VALIDATE, DAY) is DayState.MISSING, "retired in processed, not in raw"
    assert state_of(store, PROCESS, DAY - datetime.timedelta(days=1)) is DayState.MISSING


def test_states_from_covers_every_listed_and_every_retired_day(tmp_path):
    store = LocalStore(tmp_path)
    done, partial, expired, both = D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 4)
    for name in PROCESS.filenames:
        write(tmp_path, "processed", done, name)
        write(tmp_path, "processed", both, name)
    write(tmp_path, "processed", partial, "orders_processed.csv")

    states = states_from(PROCESS, store.list_partitions("processed"), frozenset({expired, both}))

    assert states == {
        done: DayState.DONE,
        partial: DayState.MISSING,
        expired: DayState.EXPIRED,
        both: DayState.DONE,
    }
    for day, state in states.items():
        assert state_of(store, PROCESS, day) is (DayState.MISSING if day == expired else state), (
            "one listing gives what one partition gives (the ledger is not written here)"
        )


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
