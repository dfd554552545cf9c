"""Every log line of a day's work names what it works on, ``[DailyReport 2024-01-05]``, whoever logs it.

A context variable holds what is being worked on; a filter on Luigi's ``luigi-interface`` logger, where the pipeline
and Luigi's worker log, puts it in front of each message, so that it shows under any handler and format: Luigi's
default (``--log-level``) or the user's own (``--logging-conf-file``). Luigi's ``[worker] task_process_context``
(``etl/luigi_defaults.cfg``) sets it around each task's run, Luigi's own ``running``/``done``/``failed`` lines
included, in forked workers too; a chunk sets it around each step of each day it does in-process, and the landing
ingest around each file and day it names.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import logging
from collections.abc import Iterator

import luigi

LOGGER = "luigi-interface"
_WORKING_ON: contextvars.ContextVar[str | None] = contextvars.ContextVar("etl_working_on", default=None)


def label(task: luigi.Task) -> str:
    """``DailyReport 2024-01-05``, ``ProcessDays 2024-01-01..2024-01-05`` (a chunk's days, inclusive), or the
    family alone for a task of no day."""
    family = task.get_task_family()
    date, start, stop = (getattr(task, name, None) for name in ("date", "start", "stop"))
    if isinstance(date, datetime.date):
        return f"{family} {date}"
    if isinstance(start, datetime.date) and isinstance(stop, datetime.date):
        return f"{family} {start}..{stop - datetime.timedelta(days=1)}"
    return family


@contextlib.contextmanager
def working_on(what: luigi.Task | str) -> Iterator[None]:
    """Log lines of this block name ``what``: a task (by :func:`label`) or a text such as ``IngestLandingFiles
    2024-01-05``. Blocks nest; the innermost names the lines."""
    token = _WORKING_ON.set(what if isinstance(what, str) else label(what))
    try:
        yield
    finally:
        _WORKING_ON.reset(token)


@contextlib.contextmanager
def narrowed_to(detail: str) -> Iterator[None]:
    """Log lines of this block name ``detail`` within the work of the enclosing block: a task of many days names
    the file or the day a line is about, ``IngestLandingFiles 2024-01-05``."""
    enclosing = _WORKING_ON.get()
    with working_on(f"{enclosing} {detail}" if enclosing else detail):
        yield


class TaskRunContext:
    """Luigi's ``[worker] task_process_context``: a task's run, and Luigi's lines about it, under its label."""

    def __init__(self, task_process) -> None:
        self._block = working_on(task_process.task)

    def __enter__(self) -> None:
        self._block.__enter__()

    def __exit__(self, *exc_info) -> None:
        self._block.__exit__(*exc_info)


class WorkingOnFilter(logging.Filter):
    """Puts ``[what is being worked on]`` in front of a record's message (nothing outside any block)."""

    def filter(self, record: logging.LogRecord) -> bool:
        working_on = _WORKING_ON.get()
        if working_on is not None:
            prefix = f"[{working_on}] "
            record.msg = (prefix.replace("%", "%%") if record.args else prefix) + str(record.msg)
        return True


def install() -> None:
    """Name the work on every line of Luigi's ``luigi-interface`` logger (once per process)."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(existing, WorkingOnFilter) for existing in logger.filters):
        logger.addFilter(WorkingOnFilter())
