"""Backfill a long range as consecutive chunks of ``RangeDaily``, in one process or in parallel lanes.

Luigi's scheduler examines every pending task on every request for work, so one range of N days
costs O(N²) in scheduling; chunks of a month keep a year's backfill at a month's cost per day.
Each chunk runs to the end (a failed day fails only its own windows), later chunks still run,
and the exit code is the worst chunk's, with Luigi's ``[retcode]`` values.

With ``parallel`` lanes, the per-day work (generate, validate, process: no day depends on another)
of the days still missing is first spread over that many processes, each running whole chunks with
one in-process worker; then the range itself runs chunk by chunk and finds only the cheap window
metrics and reports left. Unlike ``--workers``, this forks one process per lane, not one per task.
"""

from __future__ import annotations

import datetime
import math
import multiprocessing

import luigi.interface
from luigi.cmdline_parser import CmdlineParser
from luigi.execution_summary import LuigiStatusCode
from luigi.retcodes import retcode
from luigi.task_register import Register

PER_DAY_TASK = "ProcessDailyData"


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


def run_backfill(
    of: str, start: datetime.date, stop: datetime.date, chunk_days: int, luigi_args: list[str], parallel: int = 1
) -> int:
    """Complete ``of`` for every day of ``[start, stop)``; returns the exit code for the whole backfill."""
    if parallel < 1:
        raise ValueError(f"parallel={parallel}: must be at least 1")
    worst = 0
    missing = missing_days(of, start, stop, luigi_args) if parallel > 1 else []
    if missing:
        lane_days = min(chunk_days, math.ceil(len(missing) / parallel))
        pieces = [
            (PER_DAY_TASK, first, end, luigi_args)
            for run_start, run_stop in contiguous_runs(missing)
            for first, end in chunk_ranges(run_start, run_stop, lane_days)
        ]
        with multiprocessing.get_context("fork").Pool(parallel) as lanes:
            worst = max(lanes.starmap(run_range, pieces, chunksize=1))
    for first, end in chunk_ranges(start, stop, chunk_days):
        worst = max(worst, run_range(of, first, end, luigi_args))
    return worst


def missing_days(of: str, start: datetime.date, stop: datetime.date, luigi_args: list[str]) -> list[datetime.date]:
    """The days ``RangeDaily --of OF`` would schedule, with the same command-line overrides.

    Only these get per-day work in lanes: a day that is done (or retired by retention) is not rebuilt.
    """
    with CmdlineParser.global_instance(_fresh_range_command(of, start, stop, luigi_args)) as parser:
        return [task.date for task in parser.get_task_obj().requires()]


def contiguous_runs(days: list[datetime.date]) -> list[tuple[datetime.date, datetime.date]]:
    """Sorted ``days`` as ``[a, b)`` ranges of consecutive days."""
    runs: list[tuple[datetime.date, datetime.date]] = []
    for day in days:
        if runs and runs[-1][1] == day:
            runs[-1] = (runs[-1][0], day + datetime.timedelta(days=1))
        else:
            runs.append((day, day + datetime.timedelta(days=1)))
    return runs


def run_range(of: str, first: datetime.date, end: datetime.date, luigi_args: list[str]) -> int:
    """One ``RangeDaily --of OF`` run over ``[first, end)`` in this process; its exit code."""
    command = _fresh_range_command(of, first, end, ["--no-lock", *luigi_args])
    return exit_code(luigi.interface.run(command, detailed_summary=True).status)


def _fresh_range_command(of: str, start: datetime.date, stop: datetime.date, luigi_args: list[str]) -> list[str]:
    """The luigi arguments of ``RangeDaily --of OF`` over ``[start, stop)``, with Luigi's instance cache
    cleared: a cached RangeDaily keeps the days it found missing last time, a new process would not."""
    Register.clear_instance_cache()
    return ["--module", "etl", "RangeDaily", "--of", of, f"--start={start}", f"--stop={stop}", *luigi_args]


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
