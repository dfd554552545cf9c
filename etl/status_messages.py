"""What a task shows in luigid's web view: its status message, with the rows its steps counted.

luigid's page refreshes an open message into the page as HTML (jQuery's ``.html()``), and a refusal may quote a
file's text or name a path holding markup, so :func:`show` escapes every message, once, on its way out.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class Rows:
    """The rows steps counted: raw rows read, processed rows written, and a landed day's rows the ingest refused
    (``rejected_rows.csv``); None where no step counted that kind."""

    read: int | None = None
    written: int | None = None
    refused: int | None = None

    def __add__(self, other: Rows) -> Rows:
        mine, theirs = dataclasses.asdict(self), dataclasses.asdict(other)
        return Rows(**{kind: _plus(mine[kind], theirs[kind]) for kind in mine})

    def describe(self) -> str:
        """``rows: 1,000 read, 995 written, 0 refused``, the kinds counted only; empty when none was."""
        counted = [f"{count:,} {kind}" for kind, count in dataclasses.asdict(self).items() if count is not None]
        return "rows: " + ", ".join(counted) if counted else ""


def chunk_message(days: int, done: int, failures: Sequence[str], rows: Rows) -> str:
    """A chunk's message: its days done of its total, what its steps counted, then one line per failed day (the
    day, the file and each rule, as the refusal or error says it)."""
    summary = f"{done} of {days} days done, {len(failures)} failed"
    counted = rows.describe()
    return "\n".join([f"{summary}; {counted}" if counted else summary, *failures])


def show(task, message: str, percent: int | None = None) -> None:
    """Send ``message``, escaped, and ``percent`` to the scheduler of the worker running ``task``; nothing when no
    Luigi worker runs it (the task's callbacks are None then, as in a chunk's own steps)."""
    if task.set_status_message is None:
        return
    task.set_status_message(html.escape(message, quote=False))
    if percent is not None:
        task.set_progress_percentage(percent)


def _plus(mine: int | None, theirs: int | None) -> int | None:
    return None if mine is None and theirs is None else (mine or 0) + (theirs or 0)
