"""Ranges of days as ``[start, stop)`` pairs: runs of consecutive days, and the fixed grid of blocks chunks follow."""

from __future__ import annotations

import datetime

ONE_DAY = datetime.timedelta(days=1)
BLOCK_EPOCH = datetime.date(2000, 1, 3)  # a Monday: with 7 days per block, blocks are ISO weeks


def days_between(start: datetime.date, stop: datetime.date) -> list[datetime.date]:
    """Every day of ``[start, stop)``, oldest first."""
    return [start + datetime.timedelta(days=i) for i in range((stop - start).days)]


def contiguous_runs(days: list[datetime.date]) -> list[tuple[datetime.date, datetime.date]]:
    """Sorted ``days`` as ``[a, b)`` ranges of consecutive days."""
    runs: list[tuple[datetime.date, datetime.date]] = []
    for day in days:
        if runs and runs[-1][1] == day:
            runs[-1] = (runs[-1][0], day + ONE_DAY)
        else:
            runs.append((day, day + ONE_DAY))
    return runs


def block_containing(day: datetime.date, days: int) -> tuple[datetime.date, datetime.date]:
    """The ``[a, b)`` block of ``days`` days, on a grid aligned to a fixed Monday, that holds ``day``."""
    if days < 1:
        raise ValueError(f"block of {days} days: must be at least 1")
    first = BLOCK_EPOCH + datetime.timedelta(days=(day - BLOCK_EPOCH).days // days * days)
    return first, first + datetime.timedelta(days=days)


def blocks_covering(
    days: list[datetime.date], size: int, first_day: datetime.date, stop: datetime.date
) -> list[tuple[datetime.date, datetime.date]]:
    """The grid's blocks that hold any of ``days``, clipped to the calendar ``[first_day, stop)``, oldest first."""
    blocks = sorted({block_containing(day, size) for day in days})
    return [(max(a, first_day), min(b, stop)) for a, b in blocks]
