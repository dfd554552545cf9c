"""Day ranges: runs of consecutive days and the fixed grid of blocks, checked against day-by-day enumeration."""

from __future__ import annotations

import datetime

import pytest

from etl.day_ranges import BLOCK_EPOCH, block_containing, blocks_covering, contiguous_runs, days_between

D = datetime.date


def test_days_between_is_half_open_and_oldest_first():
    assert days_between(D(2024, 2, 27), D(2024, 3, 2)) == [
        D(2024, 2, 27),
        D(2024, 2, 28),
        D(2024, 2, 29),
        D(2024, 3, 1),
    ]
    assert days_between(D(2024, 1, 1), D(2024, 1, 1)) == []
    assert days_between(D(2024, 1, 2), D(2024, 1, 1)) == []
    assert len(days_between(D(2023, 1, 1), D(2024, 1, 1))) == 365


def test_contiguous_runs_group_consecutive_days():
    days = [D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 5), D(2024, 1, 7), D(2024, 1, 8)]

    assert contiguous_runs(days) == [
        (D(2024, 1, 1), D(2024, 1, 3)),
        (D(2024, 1, 5), D(2024, 1, 6)),
        (D(2024, 1, 7), D(2024, 1, 9)),
    ]
    assert contiguous_runs([]) == []
    assert contiguous_runs([D(2024, 2, 28), D(2024, 2, 29), D(2024, 3, 1)]) == [(D(2024, 2, 28), D(2024, 3, 2))]
    assert contiguous_runs([D(2023, 12, 31), D(2024, 1, 1)]) == [(D(2023, 12, 31), D(2024, 1, 2))]


def test_contiguous_runs_expand_back_to_the_days():
    days = sorted({D(2024, 1, 1) + datetime.timedelta(days=n * n % 37) for n in range(40)})
    runs = contiguous_runs(days)
    assert [day for first, stop in runs for day in days_between(first, stop)] == days
    assert all(runs[i][1] < runs[i + 1][0] for i in range(len(runs) - 1)), "runs are separated by a gap"


def test_the_grid_is_anchored_on_a_monday():
    assert BLOCK_EPOCH.weekday() == 0
    assert block_containing(BLOCK_EPOCH, 31) == (BLOCK_EPOCH, BLOCK_EPOCH + datetime.timedelta(days=31))
    assert block_containing(BLOCK_EPOCH - datetime.timedelta(days=1), 31) == (
        BLOCK_EPOCH - datetime.timedelta(days=31),
        BLOCK_EPOCH,
    ), "days before the anchor fall in the block before it, not in a shorter one"


def test_seven_day_blocks_are_iso_weeks():
    for day in days_between(D(1999, 12, 20), D(2025, 1, 10)):
        first, stop = block_containing(day, 7)
        assert first == day - datetime.timedelta(days=day.weekday()), day
        assert stop - first == datetime.timedelta(days=7)
        assert first.isocalendar()[:2] == day.isocalendar()[:2], day


@pytest.mark.parametrize("size", [1, 2, 5, 7, 31, 400])
def test_blocks_tile_the_calendar_and_hold_their_days(size):
    start, stop = D(1999, 11, 20), D(2024, 3, 2)
    blocks = []
    for day in days_between(start, stop):
        first, end = block_containing(day, size)
        assert first <= day < end, day
        assert (end - first).days == size
        assert (first - BLOCK_EPOCH).days % size == 0, "every block starts on the grid"
        if not blocks or blocks[-1] != (first, end):
            blocks.append((first, end))
    for (_, end), (first, _) in zip(blocks, blocks[1:], strict=False):
        assert end == first, "consecutive blocks touch: no gap, no overlap"


def test_block_containing_does_not_depend_on_anything_but_day_and_size():
    """A chunk's identity: the same block whoever asks, whatever range they plan."""
    day = D(2024, 3, 9)
    assert block_containing(day, 31) == block_containing(day, 31)
    # 2024-03-09 is 8832 days after 2000-01-03; 8832 // 31 = 284 blocks of 31 days: the block starts 8804 days in.
    assert block_containing(day, 31) == (D(2024, 2, 10), D(2024, 3, 12))


@pytest.mark.parametrize("size", [0, -1, -7])
def test_block_size_must_be_at_least_one(size):
    with pytest.raises(ValueError, match="at least 1"):
        block_containing(D(2024, 1, 1), size)


def test_blocks_covering_is_the_blocks_of_the_days_clipped_to_the_calendar_oldest_first():
    range_start, range_stop = D(2024, 1, 3), D(2024, 2, 28)  # a Wednesday to a Wednesday
    days = [D(2024, 2, 27), D(2024, 1, 3), D(2024, 1, 4), D(2024, 1, 20), D(2024, 1, 21), D(2024, 1, 22)]

    blocks = blocks_covering(days, 7, range_start, range_stop)

    assert blocks == [
        (D(2024, 1, 3), D(2024, 1, 8)),  # ISO week of Mon 2024-01-01, clipped at the range start
        (D(2024, 1, 15), D(2024, 1, 22)),  # 1-20 and 1-21: one block
        (D(2024, 1, 22), D(2024, 1, 29)),
        (D(2024, 2, 26), D(2024, 2, 28)),  # clipped at the range stop
    ]


@pytest.mark.parametrize("size", [1, 3, 7, 31])
def test_blocks_covering_holds_every_day_once_and_nothing_outside_the_calendar(size):
    range_start, range_stop = D(2023, 12, 20), D(2024, 3, 2)
    days = [d for i, d in enumerate(days_between(range_start, range_stop)) if i % 5 in (0, 1) or i > 60]

    blocks = blocks_covering(days, size, range_start, range_stop)

    covered = [day for first, stop in blocks for day in days_between(first, stop)]
    assert len(covered) == len(set(covered)), "no day in two blocks"
    assert set(days) <= set(covered)
    assert all(range_start <= day < range_stop for day in covered)
    assert blocks == sorted(blocks)
    for first, stop in blocks:
        assert first < stop
        grid = block_containing(first, size)
        assert grid[0] <= first and stop <= grid[1], "inside one block of the grid"
        assert any(first <= day < stop for day in days), "only blocks that hold a day"


def test_blocks_covering_nothing_is_empty():
    assert blocks_covering([], 7, D(2024, 1, 1), D(2024, 2, 1)) == []
