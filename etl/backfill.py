"""Backfill a long range as consecutive chunks of ``RangeDaily``, in one process.

Luigi's scheduler examines every pending task on every request for work, so one range of N days
costs O(N²) in scheduling; chunks of a month keep a year's backfill at a month's cost per day.
Each chunk runs to the end (a failed day fails only its own windows), later chunks still run,
and the exit code is the worst chunk's, with Luigi's ``[retcode]`` values.
"""

from __future__ import annotations

import datetime

import luigi.interface
from luigi.execution_summary import LuigiStatusCode
from luigi.retcodes import retcode


def chunk_ranges(start: datetime.date, stop: datetime.date, days: int) -> list[tuple[datetime.date, datetime.date]]:
    """``[start, stop)`` cut into consecutive ``[a, b)`` ranges of at most ``days`` days, oldest first."""
    if days < 1:
        raise ValueError(f"chunk of {days} days: must be at least 1")
    step = datetime.timedelta(days=days)
    chunks = []
    while start < stop:
        chunks.append((start, min(start + step, stop)))
        start += step
    return chunks


def run_backfill(of: str, start: datetime.date, stop: datetime.date, chunk_days: int, luigi_args: list[str]) -> int:
    """Run ``RangeDaily --of OF`` chunk by chunk; returns the exit code for the whole backfill."""
    worst = 0
    for first, end in chunk_ranges(start, stop, chunk_days):
        command = [
            "--module",
            "etl",
            "RangeDaily",
            "--of",
            of,
            f"--start={first}",
            f"--stop={end}",
            "--no-lock",
            *luigi_args,
        ]
        result = luigi.interface.run(command, detailed_summary=True)
        worst = max(worst, exit_code(result.status))
    return worst


def exit_code(status: LuigiStatusCode) -> int:
    """The ``[retcode]`` value for a run's status, as the ``luigi`` command would exit."""
    codes = retcode()
    return {
        LuigiStatusCode.SUCCESS: 0,
        LuigiStatusCode.SUCCESS_WITH_RETRY: 0,
        LuigiStatusCode.FAILED: codes.task_failed,
        LuigiStatusCode.FAILED_AND_SCHEDULING_FAILED: max(codes.task_failed, codes.scheduling_error),
        LuigiStatusCode.SCHEDULING_FAILED: codes.scheduling_error,
        LuigiStatusCode.NOT_RUN: codes.not_run,
        LuigiStatusCode.MISSING_EXT: codes.missing_data,
    }[status]
