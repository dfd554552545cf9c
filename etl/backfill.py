"""``python -m etl backfill``: RangeDaily over ``[start, stop)`` with the pipeline's defaults, in this process.

The range itself is cut into chunks by :class:`etl.range.RangeDaily`; this adds the defaults a cron job
wants (from ``[etl] start_date`` through yesterday) and returns the exit code the ``luigi`` command would.
"""

from __future__ import annotations

import datetime

import luigi.interface
from luigi.execution_summary import LuigiStatusCode
from luigi.interface import PidLockAlreadyTakenExit
from luigi.retcodes import retcode


def run_backfill(of: str, start: datetime.date, stop: datetime.date, luigi_args: list[str]) -> int:
    """Complete ``of`` for every day of ``[start, stop)``; returns the exit code for the whole backfill."""
    command = ["--module", "etl", "RangeDaily", "--of", of, f"--start={start}", f"--stop={stop}", *luigi_args]
    try:
        return exit_code(luigi.interface.run(command, detailed_summary=True).status)
    except PidLockAlreadyTakenExit:
        return retcode().already_running


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
