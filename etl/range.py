"""Luigi's ``RangeDaily`` on this pipeline's calendar.

Registered under the same name, so ``luigi --module etl RangeDaily --of DailyReport`` uses it:
an explicit ``--start`` is honoured however old (never before ``[etl] start_date``), a day is
scheduled only once it is over in ``[etl] timezone``, a gap larger than ``task_limit`` fails loudly
instead of being cut short, and the missing days are done in chunks (:mod:`etl.chunks`). The range
fails, naming each day, file and rule, while any of its days failed.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable

import luigi
import luigi.tools.range
from luigi.parameter import ParameterException

from etl import clock, run_settings, run_summary
from etl.chunks import STAGES, DaysFailedError
from etl.config import DayParameter
from etl.day_ranges import blocks_covering
from etl.run_summary import RunSummary
from etl.status_messages import show
from etl.tasks import IngestLandingFiles, PipelineParameter, full_view

logger = logging.getLogger("luigi-interface")


class RangeDaily(luigi.tools.range.RangeDaily):
    """Fill every missing day of ``--of`` in ``[--start, --stop)``, oldest first."""

    start = DayParameter(default=None, description="first day, inclusive")
    stop = DayParameter(default=None, description="last day, EXCLUSIVE (default: today in [etl] timezone)")
    param_name = luigi.OptionalParameter(
        default=None,
        positional=False,
        description="parameter of --of that takes the date; default: its first positional parameter",
    )
    days_per_task = luigi.IntParameter(
        default=5,
        positional=False,
        description="days in a block of the chunk grid (blocks aligned to a fixed Monday; 7 gives ISO weeks): one "
        "Luigi task does a block's missing days per stage, and a stage's blocks run side by side (W blocks keep W "
        "workers busy); 1 schedules each step of each day as its own task: most detail in the web view, slowest",
    )

    pipeline = PipelineParameter()
    rerun = luigi.Parameter(
        default="",
        positional=False,
        description="a rerun's request id (etl rerun sets it): the range's chunks are new tasks for a luigid that "
        "keeps chunks done moments ago as done",
    )

    def moving_start(self, now: datetime.datetime) -> datetime.datetime:
        if self.start is not None:
            return self.parameter_to_datetime(self.start)
        return super().moving_start(self.pipeline_now(now))

    def moving_stop(self, now: datetime.datetime) -> datetime.datetime:
        now = self.pipeline_now(now)
        timezone = run_settings.current().timezone
        today = self._first_open_day = clock.today(timezone, now)
        first_open_day = datetime.datetime.combine(today, datetime.time())
        if self.stop is not None and self.stop > today:
            logger.warning(
                "RangeDaily: days from %s on are not over in %s yet; they are left for a later run", today, timezone
            )
        return min(super().moving_stop(now), first_open_day)

    def pipeline_now(self, luigi_now: datetime.datetime) -> datetime.datetime:
        """The range's "now", naive UTC as Luigi passes it: ``--now`` when given, else :func:`etl.clock.now`
        rather than Luigi's own ``time.time()``, so that ``ETL_NOW`` moves the range as it moves the rest."""
        if self.now is not None:
            return luigi_now
        return clock.now().replace(tzinfo=None)

    def missing_datetimes(self, finite_datetimes):
        start_date = run_settings.current().start_date
        if finite_datetimes and finite_datetimes[0].date() < start_date:
            raise ParameterException(
                f"--start {finite_datetimes[0].date()} is before [etl] start_date {start_date}: "
                "the pipeline has no days before it"
            )
        self._range_days = [moment.date() for moment in finite_datetimes]
        missing = super().missing_datetimes(finite_datetimes)
        if len(missing) > self.task_limit:
            raise ParameterException(
                f"{len(missing)} days of {self.of_cls.task_family} are missing in the range, more than "
                f"task_limit={self.task_limit}: raise --RangeDaily-task-limit or split the range"
            )
        return missing

    def watch_run(self) -> Callable[[], RunSummary | None] | None:
        """The summary of the run about to start (:mod:`etl.run_summary`), over the range's days; None when there
        are none, or for a task of more parameters than its ``date`` (not the pipeline's). Called once the range
        was scheduled without error."""
        if self._param_name != "date" or self.of_params:
            return None
        self.day_tasks()  # plans the range, if scheduling did not (the landing source plans after its ingest)
        days = self.__dict__.get("_range_days")
        return run_summary.watch(self.of_cls, days) if days else None

    def day_tasks(self) -> list[luigi.Task]:
        """One ``--of`` task per missing day, oldest first (what Luigi's own RangeDaily requires)."""
        if "_day_tasks" not in self.__dict__:
            self._day_tasks = super().requires()
        return self._day_tasks

    def requires(self) -> list[luigi.Task]:
        if self.plans_after_ingest():
            return [IngestLandingFiles()]
        return self.planned()

    def planned(self) -> list[luigi.Task]:
        """The chunks (or, with ``--days-per-task 1``, the day tasks) of the days missing now: the blocks holding
        them, clipped to the pipeline's calendar and not to the range, so that every range names a block alike."""
        if self.days_per_task < 1:
            raise ParameterException(f"--days-per-task {self.days_per_task}: must be at least 1")
        day_tasks = self.day_tasks()
        stage = STAGES.get(self.of_cls)
        chunked = stage is not None and stage.day_task is self.of_cls and self.days_per_task > 1 and not self.of_params
        if not chunked or not day_tasks:
            return day_tasks
        days = [getattr(task, self._param_name) for task in day_tasks]
        calendar = (run_settings.current().start_date, self._first_open_day)
        return [
            stage(start=a, stop=b, days_per_task=self.days_per_task, rerun=self.chunks_named_by())
            for a, b in blocks_covering(days, self.days_per_task, *calendar)
        ]

    def chunks_named_by(self) -> str:
        """What makes this run's chunks new tasks for a luigid that keeps a chunk done moments ago as done: the
        rerun's request, or with the landing source the work the run's ingest found (a late file changes days of
        blocks built last night, under the same ids)."""
        if self.rerun or not self.plans_after_ingest():
            return self.rerun
        return f"landing-{IngestLandingFiles().landing_state}"

    def plans_after_ingest(self) -> bool:
        """With the landing source, which days are missing or stale is known only once new files are read."""
        return run_settings.current().source == "landing"

    def complete(self) -> bool:
        if self.plans_after_ingest():
            done = IngestLandingFiles().complete() and all(task.complete() for task in self.planned())
        else:
            done = super().complete()
        return done and not self.failed_days()

    def run(self):
        if self.plans_after_ingest():
            for cached in ("_day_tasks", "_cached_requires"):  # plan anew: the ingest may have made days stale
                self.__dict__.pop(cached, None)
            yield self.planned()
        failed = self.failed_days()
        if failed:
            lines = [f"{day}: {reason}" for day, reason in failed.items()]
            message = (
                f"{len(failed)} days of {self.of_cls.task_family} failed in the range; fix the input named and run "
                "again (every other day is done):\n" + "\n".join(lines)
            )
            show(self, message)  # the web view's message of the failed range, beside its error
            raise DaysFailedError(message)

    def failed_days(self) -> dict[datetime.date, str]:
        """Each missing day whose outcome is settled as failed, with the day, file and rule that failed."""
        view = full_view(run_settings.current())
        statuses = {getattr(task, self._param_name): view.status(task) for task in self.day_tasks()}
        return {day: status.reason for day, status in statuses.items() if status.failed}
