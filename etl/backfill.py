"""``python -m etl backfill``: RangeDaily over ``[start, stop)`` with the pipeline's defaults, in this process.

The range itself is cut into chunks by :class:`etl.range.RangeDaily`; this adds the defaults a cron job
wants (from ``[etl] start_date`` through yesterday, read with the command's own ``--etl-*`` flags) and
exits through Luigi's own exit-code logic (``luigi.retcodes.run_with_retcodes``), as ``luigi`` does.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator

import luigi.retcodes
from luigi.cmdline_parser import CmdlineParser

from etl import run_settings
from etl.run_settings import RunSettings


def run_backfill(of: str, start: datetime.date, stop: datetime.date, luigi_args: list[str]) -> int:
    """Complete ``of`` for every day of ``[start, stop)``; returns the exit code of the whole backfill."""
    return run_luigi(["RangeDaily", "--of", of, f"--start={start}", f"--stop={stop}", *luigi_args])


def run_luigi(command: list[str]) -> int:
    """Run a luigi command line in this process; its exit code, from Luigi's own retcode logic."""
    try:
        luigi.retcodes.run_with_retcodes(command)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


@contextlib.contextmanager
def settings_with(luigi_args: list[str]) -> Iterator[RunSettings]:
    """The run's settings as a ``luigi`` command with ``luigi_args`` would read them (``--etl-timezone`` ...)."""
    with CmdlineParser.global_instance(["RangeDaily", *luigi_args], allow_override=True):
        yield run_settings.current()
