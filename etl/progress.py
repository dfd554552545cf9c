"""A live progress line for a range run on a terminal, the full Luigi log in a file.

On a terminal, Luigi's log lines scroll past faster than anyone reads them; the question is how far the range
is. So the run goes to a child process (the ``luigi`` command, with its own exit codes) whose output is appended
to a log file, while this process reads the range's day states once a second, read-only, and shows one line.
Under cron (no terminal), with ``--log-level`` or ``ETL_PROGRESS=0``, the caller runs Luigi in-process as before:
plain log lines.
"""

from __future__ import annotations

import contextlib
import datetime
import getpass
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import luigi
from tqdm import tqdm

from etl import run_settings, run_summary
from etl.tasks import full_view

POLL_SECONDS = 1.0
INTERRUPTED = 130  # a shell's code for a command stopped by Ctrl-C
BAR_FORMAT = "{desc} |{bar}| {percentage:3.0f}% [{elapsed}<{remaining}]"


def wanted(luigi_args: list[str]) -> bool:
    """Progress mode: stderr is a terminal, and neither ``--log-level`` nor ``ETL_PROGRESS=0`` asks for Luigi's log
    lines there (the test suite sets it: its in-process runs use config that a child process would not see)."""
    asked_for_log = any(arg == "--log-level" or arg.startswith("--log-level=") for arg in luigi_args)
    return sys.stderr.isatty() and not asked_for_log and os.environ.get("ETL_PROGRESS") != "0"


def range_progress(of_cls: type[luigi.Task], days: list[datetime.date]) -> tuple[int, int]:
    """How many of ``days`` are done and how many failed (refused, or held back by a failed day) for ``of_cls``,
    under the settings in force, from one view of the store. Reads only: the run in the child is the writer."""
    view = full_view(run_settings.current())  # statuses only: the marks a run summary compares are not needed here
    statuses = [view.status(of_cls(date=day)) for day in days]
    return sum(status.finished for status in statuses), sum(status.failed for status in statuses)


def run_with_progress(name: str, command: list[str], of_cls: type[luigi.Task], days: list[datetime.date]) -> int:
    """Run the luigi ``command`` in a child process under a progress line over ``days`` of ``of_cls``; the child's
    exit code, or 130 once interrupted and the child stopped. Runs under the command's settings (``settings_with``)."""
    log = log_file(name)
    print(f"etl {name}: full log in {log}", file=sys.stderr)
    for stop in (signal.SIGTERM, signal.SIGHUP):  # a kill or a closed terminal stops the run too, as Ctrl-C does
        signal.signal(stop, signal.default_int_handler)
    summarize = run_summary.watch(of_cls, days)
    try:
        with luigi_child(command, log) as child:
            code = watch(child, f"etl {name} {of_cls.get_task_family()}", of_cls, days)
    except KeyboardInterrupt:
        print(f"etl {name}: interrupted, the run was stopped (exit {INTERRUPTED}); log: {log}", file=sys.stderr)
        return INTERRUPTED
    print(f"{run_summary.closing_line(name, code, summarize())}; log: {log}")
    return code


@contextlib.contextmanager
def luigi_child(command: list[str], log: Path) -> Iterator[subprocess.Popen]:
    """``luigi --module etl command`` running in a child process, its output appended to ``log``; stopped on leaving
    early. Its own process group lets Ctrl-C reach this process alone, and stopping it (SIGTERM: every write of the
    pipeline is atomic) stops Luigi's forked workers too."""
    with open(log, "ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "luigi", "--module", "etl", *command],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    try:
        yield child
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            child.wait()


def watch(child: subprocess.Popen, title: str, of_cls: type[luigi.Task], days: list[datetime.date]) -> int:
    """Show the range's progress until ``child`` exits; its exit code."""
    done, failed, pause = counted(of_cls, days, (0, 0))
    finished = False

    def line() -> str:
        return f"{title}: {done}/{len(days)} days done, {failed} failed"

    bar = tqdm(
        total=len(days), initial=done + failed, desc=line(), bar_format=BAR_FORMAT, smoothing=0, dynamic_ncols=True
    )
    with bar:
        while True:
            bar.n = done + failed
            bar.set_description_str(line())
            if finished:
                return exit_code(child.returncode)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=pause)
            finished = child.poll() is not None  # looked at before counting, so the last count is the final state
            done, failed, pause = counted(of_cls, days, (done, failed))


def counted(of_cls: type[luigi.Task], days: list[datetime.date], last: tuple[int, int]) -> tuple[int, int, float]:
    """``range_progress`` (``last`` when a file went between listing and reading: the run is replacing it, and a
    count must never stop the run), and the pause before the next count: a second, or three times as long as this
    count took, so that watching a large store takes at most a quarter of a core from the run."""
    started = time.monotonic()
    try:
        done, failed = range_progress(of_cls, days)
    except OSError:
        done, failed = last
    return done, failed, max(POLL_SECONDS, 3 * (time.monotonic() - started))


def log_file(name: str) -> Path:
    """A new log file for one run: in ``$ETL_LOG_DIR`` (as the cron wrapper's), else a per-user temp directory."""
    directory = Path(os.environ.get("ETL_LOG_DIR") or Path(tempfile.gettempdir()) / f"etl-{getpass.getuser()}")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory / f"{name}-{datetime.datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}.log"


def exit_code(returncode: int) -> int:
    """A child's exit code as a shell reports it: 128 + the signal's number when a signal ended it."""
    return returncode if returncode >= 0 else 128 - returncode
