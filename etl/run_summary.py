"""What a range run did, day by day: how many days were done, skipped and failed, and which.

Done: built by this run (finished now, and not finished before it, or a step of the day rebuilt: a new mark).
Skipped: already complete, left as it was. Failed: refused, or held back by a refused day. Not built: anything else
at the end (a run interrupted, a chunk luigid disabled or another worker still runs). Every count comes from the day
state (:mod:`etl.state`), the source ``etl status`` reads, taken once before the run and once after it; nothing is
read from a log. ``luigi ... RangeDaily`` adds the line to Luigi's execution summary (:mod:`etl.luigi_adapter`),
``etl backfill`` ends with it, and so does the cron wrapper's log.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Sequence

import luigi
import luigi.retcodes
import luigi.task

from etl import run_settings
from etl.day_ranges import ONE_DAY, contiguous_runs
from etl.state import DayStatus, StoreView
from etl.storage import FileStat
from etl.tasks import full_view

LISTED_RUNS = 10  # runs of days a category names before "... and N more days"
# The summary taken last in this process: ``etl backfill`` prints the one its in-process luigi run took (the worker
# of ``etl.luigi_adapter``), rather than read every day's state twice more (0.3 s over a year of days).
last: RunSummary | None = None


@dataclasses.dataclass(frozen=True)
class DaySnapshot:
    """A day's state for a task family at one moment, and the completion marks a build of its steps rewrites."""

    status: DayStatus
    marks: tuple[FileStat | None, ...]


@dataclasses.dataclass(frozen=True)
class RunSummary:
    family: str
    days: tuple[datetime.date, ...]  # the range's days, oldest first
    done: tuple[datetime.date, ...]
    skipped: tuple[datetime.date, ...]
    failed: tuple[datetime.date, ...]
    not_built: tuple[datetime.date, ...]

    def line(self) -> str:
        """``DailyReport 2024-01-01..2024-01-10 (10 days): 6 done (2024-01-05..2024-01-10), 3 skipped
        (2024-01-01..2024-01-03), 1 failed (2024-01-04)``; not built only when there are such days."""
        count = f"{len(self.days)} day" + ("" if len(self.days) == 1 else "s")
        span = f"{self.span()} ({count})" if self.days else self.span()
        counts = {"done": self.done, "skipped": self.skipped, "failed": self.failed}
        counts |= {"not built": self.not_built} if self.not_built else {}
        parts = [
            f"{len(days)} {name}" + (f" ({day_runs(list(days))})" if days else "") for name, days in counts.items()
        ]
        return f"{self.family} {span}: " + ", ".join(parts)

    def span(self) -> str:
        """The range's days as runs (``2024-01-01..2024-01-10``)."""
        return day_runs(list(self.days)) if self.days else "(no days)"


def summarize(
    family: str, before: dict[datetime.date, DaySnapshot], after: dict[datetime.date, DaySnapshot]
) -> RunSummary:
    """Each day of ``after`` in its category, by its snapshots before and after the run."""
    categories: dict[str, list[datetime.date]] = {"done": [], "skipped": [], "failed": [], "not_built": []}
    for day in sorted(after):
        now, then = after[day], before.get(day)
        if now.status.finished:
            unchanged = then is not None and then.status.finished and not rebuilt(then.marks, now.marks)
            categories["skipped" if unchanged else "done"].append(day)
        else:
            categories["failed" if now.status.failed else "not_built"].append(day)
    return RunSummary(family, tuple(sorted(after)), **{name: tuple(days) for name, days in categories.items()})


def rebuilt(before: tuple[FileStat | None, ...], after: tuple[FileStat | None, ...]) -> bool:
    """Whether a step of the day was built between the two snapshots: a mark there now that was not, or is another
    version. A mark gone since (retention retired the partition) is no build."""
    return any(now is not None and now != then for then, now in zip(before, after, strict=True))


def snapshot(of_cls: type[luigi.Task], days: Sequence[datetime.date]) -> dict[datetime.date, DaySnapshot]:
    """Each day's state for ``of_cls`` under the settings in force, from one view of the store. Reads only."""
    view = full_view(run_settings.current())
    tasks = {day: of_cls(date=day) for day in days}
    return {day: DaySnapshot(view.status(task), day_marks(view, task)) for day, task in tasks.items()}


def watch(of_cls: type[luigi.Task], days: Sequence[datetime.date]) -> Callable[[], RunSummary | None]:
    """Take the days' snapshot now; the returned function, called once the run is over (under the same settings),
    summarises it, or gives None when a file went between listing and reading (another worker of a fleet is
    replacing it): a summary must never fail the run it sums up. Either is kept as :data:`last`."""
    before = snapshot(of_cls, days)

    def summary() -> RunSummary | None:
        global last
        try:
            last = summarize(of_cls.get_task_family(), before, snapshot(of_cls, days))
        except OSError:
            last = None
        return last

    return summary


def day_marks(view: StoreView, task: luigi.Task) -> tuple[FileStat | None, ...]:
    """What a build of any step of ``task``'s day rewrites, as listed: the completion mark of each step of that day
    it requires, itself included (a step's last output where it has none: raw). Empty for a task of no day."""
    marks: list[FileStat | None] = []
    seen: set[luigi.Task] = set()
    pending = [task]
    while pending:
        step = pending.pop()
        if step in seen or getattr(step, "date", None) != task.date:
            continue  # another day's step (a window's, the previous report): that day's own build
        seen.add(step)
        outputs = getattr(step, "outputs", None)
        if outputs is not None:
            files = view.files(outputs.layer, step.date)
            marks.append(files.get(outputs.mark) or files.get(outputs.last))
        pending += luigi.task.flatten(step.requires())
    return tuple(marks)


def day_runs(days: list[datetime.date]) -> str:
    """Sorted ``days`` as runs, ``2024-01-01..2024-01-05, 2024-01-09``: the first LISTED_RUNS, then how many days
    the rest hold."""
    runs = contiguous_runs(days)
    shown = [f"{first}..{stop - ONE_DAY}" if stop - first > ONE_DAY else str(first) for first, stop in runs]
    rest = sum((stop - first).days for first, stop in runs[LISTED_RUNS:])
    return ", ".join(shown[:LISTED_RUNS]) + (f", ... and {rest} more days" if rest else "")


def closing_line(command: str, code: int, summary: RunSummary | None) -> str:
    """The last line of ``etl <command>``: ``etl backfill: task_failed (exit 30): DailyReport ...: 6 done ...``."""
    return f"etl {command}: {outcome(code)}" + (f": {summary.line()}" if summary else "")


def outcome(code: int) -> str:
    """The exit code in words, by Luigi's own ``[retcode]`` names (``task_failed`` ...)."""
    codes = luigi.retcodes.retcode()
    names = {getattr(codes, param): param for param, _ in codes.get_params()}
    return "done (exit 0)" if code == 0 else f"{names.get(code, 'failed')} (exit {code})"
