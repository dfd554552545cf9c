"""Ranges of days as ``[start, stop)`` pairs: grouping missing days into runs and cutting runs into chunks."""

from __future__ import annotations

import datetime
import math

ONE_DAY = datetime.timedelta(days=1)


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


def chunk_ranges(start: datetime.date, stop: datetime.date, days: int) -> list[tuple[datetime.date, datetime.date]]:
    """``[start, stop)`` cut into consecutive ``[a, b)`` ranges of ``days`` days (the last may be shorter)."""
    if days < 1:
        raise ValueError(f"chunk of {days} days: must be at least 1")
    step = datetime.timedelta(days=days)
    chunks = []
    while start < stop:
        chunks.append((start, min(start + step, stop)))
        start += step
    return chunks


def chunk_containing(day: datetime.date, run_start: datetime.date, days: int) -> tuple[datetime.date, datetime.date]:
    """The full-size chunk of a run cut by :func:`chunk_ranges` from ``run_start`` that holds ``day``."""
    first = run_start + datetime.timedelta(days=(day - run_start).days // days * days)
    return first, first + datetime.timedelta(days=days)


def days_per_chunk(missing: int, workers: int, limit: int) -> int:
    """Chunk size for ``missing`` days: at most ``limit``, small enough that every worker gets a chunk."""
    return max(1, min(limit, math.ceil(missing / max(1, workers))))
