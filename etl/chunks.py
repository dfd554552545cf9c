"""Chunks: consecutive days of one stage done in a single Luigi task, each day exactly as its own tasks would.

RangeDaily schedules these: a year costs about a hundred Luigi tasks instead of thousands (Luigi's
scheduler examines every pending task on each request for work), and with ``--workers`` a process
is forked per chunk, not per step.

Identity: a chunk is a block of ``days_per_task`` days aligned to a fixed epoch, clipped to the pipeline's
calendar (``[etl] start_date`` to the first day not over), never to a request's range; its id is its first and
stop day only. So cron, a manual backfill and another host schedule the same task for the same days, whatever
their ranges, ``--workers`` or the days already done, and a central scheduler runs it once. A range therefore
completes whole blocks: a chunk does every missing day of its block.

Requirements follow from the per-day tasks' own ``requires()``: a requirement of this chunk's stage on
one of its days is followed further in-process; any other (another stage's, or its own stage's on another
day: the previous report under depends_on_past) becomes the chunk that does it.

Failure: a day whose input the pipeline refused (say, validation) is a settled outcome, not a broken
chunk. The chunk completes its other days, names the failed day in its status message, fires Luigi's
FAILURE event for that day's task, and counts as done once every day is done, failed or held back by a
failed day, so that later chunks go on with every report whose window does not hold the bad day.
RangeDaily then fails naming each such day, file and rule. Any other error fails the chunk.
"""

from __future__ import annotations

import logging
from typing import ClassVar

import luigi
import luigi.task

from etl import log_context, run_settings
from etl.config import DayParameter, FixedParams
from etl.day_ranges import ONE_DAY, block_containing, days_between
from etl.state import DayState, StoreView, blocked_by
from etl.status_messages import Rows, chunk_message, show
from etl.tasks import (
    CleanupOldPartitions,
    ComputeRollingMetrics,
    DailyPipeline,
    DailyReport,
    GenerateDailyData,
    LandedDailyData,
    PipelineParameter,
    ProcessDailyData,
    ValidateDailyData,
    full_view,
    oldest_first,
    per_settings,
)
from etl.validation import DataValidationError

logger = logging.getLogger(log_context.LOGGER)


class DaysFailedError(RuntimeError):
    """Some days could not be completed; the others were."""


class BlockedError(RuntimeError):
    """A day was not built because a day it needs failed."""


class DayRange(FixedParams, luigi.Task):
    """Consecutive days of one daily task (``day_task``), oldest first, each done in-process."""

    start = DayParameter(description="First day of the chunk.")
    stop = DayParameter(description="Day after the chunk's last day.")
    days_per_task = luigi.IntParameter(significant=False, description="Days in a block of the range's grid.")
    pipeline = PipelineParameter()
    rerun = luigi.Parameter(
        default="", description="The rerun this chunk belongs to (etl rerun): a new task for luigid, which keeps "
        "a chunk done moments ago as done."
    )  # fmt: skip

    day_task: ClassVar[type[luigi.Task]]

    @property
    def priority(self) -> int:
        return oldest_first(self.start)

    @per_settings
    def day_tasks(self) -> list[luigi.Task]:
        return [self.day_task(date=day) for day in days_between(self.start, self.stop)]

    @per_settings
    def requires(self) -> list[luigi.Task]:
        needs: list[luigi.Task] = []
        seen: set[luigi.Task] = set()
        stack = list(self.day_tasks())
        while stack:
            for requirement in luigi.task.flatten(stack.pop().requires()):
                if requirement in seen:
                    continue
                seen.add(requirement)
                if self.does(requirement):
                    stack.append(requirement)
                elif (needed := self.chunk_doing(requirement)) not in needs:
                    needs.append(needed)
        return needs

    def does(self, task: luigi.Task) -> bool:
        """Whether ``task`` is done in this chunk's process: a step of its stage on one of its days. Its stage's
        step of another day (the previous report, under depends_on_past) is another chunk's."""
        return stage_of(task) is type(self) and self.start <= task.date < self.stop

    def chunk_doing(self, task: luigi.Task) -> luigi.Task:
        """The chunk that completes ``task``: its stage's chunk of the block holding its day, the same one whichever
        range asks; ``task`` itself when it is no day's step (or a day the calendar does not hold)."""
        stage = stage_of(task)
        start_date = run_settings.current().start_date
        if stage is None or task.date < start_date:
            return task
        if self.start <= task.date < self.stop:
            first, stop = self.start, self.stop
        else:  # an earlier block, over: only the calendar's first day can clip it
            first, stop = block_containing(task.date, self.days_per_task)
            first = max(first, start_date)
        return stage(start=first, stop=stop, days_per_task=self.days_per_task, rerun=self.rerun)

    def complete(self) -> bool:
        """Every day is done, or failed on an input that has not changed, or held back by such a day."""
        view = full_view(run_settings.current())
        return all(view.status(task).settled for task in self.day_tasks())

    def run(self) -> None:
        tasks = self.day_tasks()
        view = full_view(run_settings.current())
        failed: dict[luigi.Task, str] = {}
        refused: list[str] = []
        errors: list[str] = []
        completed: set[luigi.Task] = set()
        rows = Rows()
        for number, task in enumerate(tasks, 1):
            try:
                rows += complete_in_process(task, self, view, failed, completed)
            except (DataValidationError, BlockedError) as error:
                refused.append(f"{task.date}: {error}")
            except Exception as error:
                errors.append(f"{task.date}: {error}")
            message = chunk_message(len(tasks), number - len(refused) - len(errors), refused + errors, rows)
            show(self, message, 100 * number // len(tasks))
        if errors:
            raise DaysFailedError(f"{len(errors)} of {len(tasks)} days failed in {self}: " + "; ".join(errors))


class ProcessDays(DayRange):
    """Raw, validated and processed data for a chunk of days (days do not depend on each other here)."""

    day_task = ProcessDailyData


class ReportDays(DayRange):
    """Rolling metrics and reports for a chunk, once its days and their windows' earlier days are processed."""

    day_task = DailyReport


class PipelineDays(DayRange):
    """DailyPipeline for a chunk: its reports, then cleanup as of each day.

    A cleanup as of a day concerns every earlier day, so a chunk also runs after the previous chunk (Luigi looks
    no further back than the first complete one): what is due as of its days cannot change once it ran. Chunks
    settle on a failed day, so this order never lets a bad day hold back a later cleanup.
    """

    day_task = DailyPipeline
    priority = 0

    @per_settings
    def requires(self) -> list[luigi.Task]:
        needs = super().requires()
        previous = self.start - ONE_DAY
        if previous >= run_settings.current().start_date:
            needs.append(self.chunk_doing(DailyPipeline(date=previous)))
        return needs


STAGES: dict[type[luigi.Task], type[DayRange]] = {
    GenerateDailyData: ProcessDays,
    LandedDailyData: ProcessDays,
    ValidateDailyData: ProcessDays,
    ProcessDailyData: ProcessDays,
    ComputeRollingMetrics: ReportDays,
    DailyReport: ReportDays,
    CleanupOldPartitions: PipelineDays,
    DailyPipeline: PipelineDays,
}


def stage_of(task: luigi.Task) -> type[DayRange] | None:
    """The chunk family that does ``task``'s kind of step (None for a step of no single day)."""
    return STAGES.get(type(task))


def complete_in_process(
    task: luigi.Task,
    chunk: DayRange,
    view: StoreView,
    failed: dict[luigi.Task, str],
    done: set[luigi.Task],
) -> Rows:
    """Run ``task`` after its incomplete requirements that ``chunk`` does, in this process, as a one-worker Luigi
    run would, and log it as Luigi's worker does (``running``, ``done``, ``failed``), each line naming the task and
    its day; the rows the steps run here counted.

    Other requirements were completed by the chunks this one requires: one that failed blocks the task.
    ``view`` is the chunk's one look at the store, told of each partition written here. ``failed`` records
    each task that failed here, so that a later day needing it is blocked at once; a day whose input was
    already refused, unchanged since, is not run again. ``done`` holds the tasks found complete in this run,
    which stay so: a window's days are checked once, not once a day.
    """
    with log_context.working_on(task):
        return _complete_in_process(task, chunk, view, failed, done)


def _complete_in_process(
    task: luigi.Task, chunk: DayRange, view: StoreView, failed: dict[luigi.Task, str], done: set[luigi.Task]
) -> Rows:
    if task in done:
        return Rows()
    if task in failed:
        raise BlockedError(failed[task])
    status = view.status(task)
    if status.finished:
        done.add(task)
        return Rows()
    try:
        if status.state is DayState.FAILED:
            raise DataValidationError(status.reason)
        first_error = None
        rows = Rows()
        for requirement in luigi.task.flatten(task.requires()):
            try:
                if chunk.does(requirement):
                    try:
                        rows += complete_in_process(requirement, chunk, view, failed, done)
                    except BlockedError as error:
                        raise BlockedError(blocked_by(task, requirement, str(error))) from None
                elif requirement not in done:
                    needed = view.status(requirement)
                    if not needed.finished:
                        reason = needed.reason or f"{requirement} is {needed.state.value}"
                        raise BlockedError(blocked_by(task, requirement, reason))
                    done.add(requirement)
            except Exception as error:
                first_error = first_error or error
        if first_error is not None:
            raise first_error
        if view.status(task).finished:  # its requirements were rebuilt to the bytes it was built from
            done.add(task)
            return rows
        logger.info("running")
        try:
            rows += task.run() or Rows()
        except DataValidationError as error:
            logger.error("failed: %s", error)
            task.trigger_event(luigi.Event.FAILURE, task, error)
            raise
        except Exception:
            logger.exception("failed")
            raise
        finally:
            wrote(view, task)
        logger.info("done")
        done.add(task)
        return rows
    except Exception as error:
        failed.setdefault(task, str(error))
        raise


def wrote(view: StoreView, task: luigi.Task) -> None:
    """Tell the chunk's view what ``task`` may have written: its day partition, or (a cleanup) anything."""
    if hasattr(task, "outputs"):
        view.forget(task.outputs.layer, task.date)
    else:
        view.renew()
