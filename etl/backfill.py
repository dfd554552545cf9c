"""``python -m etl backfill``: RangeDaily over ``[start, stop)`` with the pipeline's defaults.

The range itself is cut into chunks by :class:`etl.range.RangeDaily`; this adds the defaults a cron job
wants (from ``[etl] start_date`` through yesterday, read with the command's own ``--etl-*`` flags) and
exits through Luigi's own exit-code logic (``luigi.retcodes.run_with_retcodes``), as ``luigi`` does: in this
process, or on a terminal in a child process under a progress line (:mod:`etl.progress`).
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator

import luigi.retcodes
from luigi.cmdline_parser import CmdlineParser
from luigi.task_register import Register

from etl import alerts, clock, progress, run_settings, run_summary
from etl.day_ranges import days_between
from etl.run_settings import RunSettings


def run_backfill(
    of: str, start: datetime.date, stop: datetime.date, luigi_args: list[str], name: str = "backfill"
) -> int:
    """Complete ``of`` for every day of ``[start, stop)``; returns the exit code of the whole backfill, once one
    line on stdout has said it and what the days came to (:mod:`etl.run_summary`): the line a cron log ends with.

    On a terminal it runs under a progress line over the days the range can hold, named by the ``etl`` command
    (``backfill``, ``rerun``); an unknown ``of`` runs in-process, where luigi names it as it always did. With
    ``[alerts] on_success``, a run that succeeds alerts its days done, skipped and failed (a failed run alerts from
    Luigi's worker, :mod:`etl.luigi_adapter`)."""
    command = ["RangeDaily", "--of", of, f"--start={start}", f"--stop={stop}", *luigi_args]
    if of not in Register.task_names():
        return run_luigi(command)
    of_cls = Register.get_task_cls(of)
    with settings_with(luigi_args) as settings:
        days = days_between(max(start, settings.start_date), min(stop, clock.today(settings.timezone)))
    run_summary.last = None
    if progress.wanted(luigi_args):
        with settings_with(luigi_args):
            code = progress.run_with_progress(name, command, of_cls, days)
    else:
        code = run_luigi(command)  # its worker takes the run's summary (RangeDaily.watch_run)
        print(run_summary.closing_line(name, code, run_summary.last))
    if code == 0 and run_summary.last is not None:
        with settings_with(luigi_args):  # the command's own --alerts-* flags
            if alerts.configured().on_success:
                alerts.send(alerts.range_succeeded(f"etl {name}", run_summary.last))
    return code


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
