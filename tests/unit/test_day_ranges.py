"""Day ranges: runs of consecutive days and chunks, checked against day-by-day enumeration."""

from __future__ import annotations

import datetime

import pytest

from etl.day_ranges import chunk_containing, chunk_ranges, contiguous_runs, days_between, days_per_chunk

D = datetime.date


def test_chunks_cover_the_range_exactly_oldest_first():
    assert chunk_ranges(D(2024, 1, 1), D(2024, 3, 1), 31) == [
        (D(2024, 1, 1), D(2024, 2, 1)),
        (D(2024, 2, 1), D(2024, 3, 1)),
    ]
    assert chunk_ranges(D(2024, 1, 1), D(2024, 1, 1), 31) == []
    with pytest.raises(ValueError, match="at least 1"):
        chunk_ranges(D(2024, 1, 1), D(2024, 1, 9), 0)


@pytest.mark.parametrize("size", [1, 2, 5, 7, 31, 400])
def test_chunks_partition_every_day_once_and_only_the_last_is_short(size):
    start, stop = D(2023, 12, 20), D(2024, 3, 2)
    chunks = chunk_ranges(start, stop, size)

    covered = [day for first, end in chunks for day in days_between(first, end)]
    assert covered == days_between(start, stop)
    assert all((end - first).days == size for first, end in chunks[:-1])
    for first, end in chunks[:-1]:
        for day in days_between(first, end):
            assert chunk_containing(day, start, size) == (first, end)


def test_contiguous_runs_group_consecutive_days():
    days = [D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 5), D(2024, 1, 7), D(2024, 1, 8)]

    assert contiguous_runs(days) == [
        (D(2024, 1, 1), D(2024, 1, 3)),
        (D(2024, 1, 5), D(2024, 1, 6)),
        (D(2024, 1, 7), D(2024, 1, 9)),
    ]
    assert contiguous_runs([]) == []
    assert contiguous_runs([D(2024, 2, 28), D(2024, 2, 29), D(2024, 3, 1)]) == [(D(2024, 2, 28), D(2024, 3, 2))]


@pytest.mark.parametrize(
    ("missing", "workers", "limit", "expected"),
    [
        (30, 1, 31, 30),
        (30, 2, 31, 15),
        (31, 2, 31, 16),
        (365, 1, 31, 31),
        (365, 2, 31, 31),
        (1, 2, 31, 1),
        (5, 8, 31, 1),
    ],
)
def test_chunk_size_gives_every_worker_a_chunk_up_to_the_limit(missing, workers, limit, expected):
    size = days_per_chunk(missing, workers, limit)

    assert size == expected
    assert len(chunk_ranges(D(2024, 1, 1), D(2024, 1, 1) + datetime.timedelta(days=missing), size)) >= min(
        workers, missing
    )
