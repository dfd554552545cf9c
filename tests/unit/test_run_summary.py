"""A range run's days by outcome, from the day states before and after it, and the line that says so."""

from __future__ import annotations

import datetime

from etl.run_summary import DaySnapshot, closing_line, day_runs, summarize
from etl.state import DayState, DayStatus
from etl.storage import FileStat

D = datetime.date
DONE, MISSING = DayStatus(DayState.DONE), DayStatus(DayState.MISSING)
FAILED = DayStatus(DayState.FAILED, "validation failed", "min_orders", D(2024, 1, 4))
HELD = DayStatus(DayState.HELD_BACK, "held back", "by 2024-01-04", D(2024, 1, 4))
HELD_WITH_MORE = DayStatus(DayState.HELD_BACK, "held back", "by 2024-01-04", D(2024, 1, 4), more_to_build=True)
MARK, REBUILT = (FileStat(100, 1), FileStat(40, 1)), (FileStat(100, 1), FileStat(40, 2))  # a day's steps' marks


def days(first: int, last: int) -> list[datetime.date]:
    return [D(2024, 1, n) for n in range(first, last + 1)]


def test_each_day_is_done_skipped_failed_or_not_built_by_its_state_before_and_after():
    before = {
        **{day: DaySnapshot(DONE, MARK) for day in days(1, 3)},  # built earlier; day 3 rebuilt by this run
        D(2024, 1, 4): DaySnapshot(FAILED, None),
        **{day: DaySnapshot(MISSING, None) for day in days(5, 9)},
    }
    after = {
        D(2024, 1, 1): DaySnapshot(DONE, MARK),
        D(2024, 1, 2): DaySnapshot(DONE, (None, MARK[1])),  # its raw partition retired by retention: no build
        D(2024, 1, 3): DaySnapshot(DONE, REBUILT),
        D(2024, 1, 4): DaySnapshot(FAILED, None),
        D(2024, 1, 5): DaySnapshot(HELD, None),
        D(2024, 1, 6): DaySnapshot(HELD_WITH_MORE, None),  # its own steps still to build: not settled
        D(2024, 1, 7): DaySnapshot(MISSING, None),
        **{day: DaySnapshot(DONE, MARK) for day in days(8, 9)},
    }

    summary = summarize("DailyReport", before, after)

    assert summary.days == tuple(days(1, 9))
    assert summary.done == (D(2024, 1, 3), D(2024, 1, 8), D(2024, 1, 9)), "built now, or its mark rewritten"
    assert summary.skipped == (D(2024, 1, 1), D(2024, 1, 2))
    assert summary.failed == (D(2024, 1, 4), D(2024, 1, 5)), "refused, or held back with nothing left to build"
    assert summary.not_built == (D(2024, 1, 6), D(2024, 1, 7))
    assert summary.line() == (
        "DailyReport 2024-01-01..2024-01-09 (9 days): 3 done (2024-01-03, 2024-01-08..2024-01-09), "
        "2 skipped (2024-01-01..2024-01-02), 2 failed (2024-01-04..2024-01-05), "
        "2 not built (2024-01-06..2024-01-07)"
    )


def test_a_category_without_days_is_counted_and_not_built_only_shows_when_there_are_such_days():
    after = {day: DaySnapshot(DONE, MARK) for day in days(1, 3)}

    summary = summarize("DailyPipeline", {}, after)

    assert (
        summary.line()
        == "DailyPipeline 2024-01-01..2024-01-03 (3 days): 3 done (2024-01-01..2024-01-03), 0 skipped, 0 failed"
    )
    assert closing_line("backfill", 0, summary) == f"etl backfill: done (exit 0): {summary.line()}"
    assert closing_line("rerun", 30, None) == "etl rerun: task_failed (exit 30)", "Luigi's [retcode] name"


def test_long_lists_of_days_name_the_first_ten_runs_and_count_the_rest():
    every_other = [D(2024, 1, 1) + datetime.timedelta(days=2 * n) for n in range(13)]

    shown = day_runs(every_other)

    assert shown.split(", ")[:10] == [str(day) for day in every_other[:10]]
    assert shown.endswith(", ... and 3 more days")
