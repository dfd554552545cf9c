"""Luigi's ``RangeDaily`` on this pipeline's calendar.

Registered under the same name, so ``luigi --module etl RangeDaily --of DailyReport`` uses it:
an explicit ``--start`` is honoured however old, a day is scheduled only once it is over in
``[etl] timezone``, a gap larger than ``task_limit`` fails loudly instead of being cut short, and
the missing days are done in chunks of consecutive days, one Luigi task per chunk and stage.
"""

from __future__ import annotations

import datetime
import logging

import luigi
import luigi.interface
import luigi.tools.range
from luigi.parameter import ParameterException

from etl import clock
from etl.config import etl
from etl.day_ranges import chunk_ranges, contiguous_runs, days_per_chunk
from etl.tasks import DAY_RANGES, built_once

logger = logging.getLogger("luigi-interface")


class RangeDaily(luigi.tools.range.RangeDaily):
    """Fill every missing day of ``--of`` in ``[--start, --stop)``, oldest first."""

    param_name = luigi.OptionalParameter(
        default=None,
        positional=False,
        description="parameter of --of that takes the date; default: its first positional parameter",
    )
    days_per_task = luigi.IntParameter(
        default=31,
        positional=False,
        description="most days done in one Luigi task (fewer, so that each of --workers gets some); "
        "1 schedules each step of each day as its own task: most detail in the web view, slowest",
    )

    def moving_start(self, now: datetime.datetime) -> datetime.datetime:
        if self.start is not None:
            return self.parameter_to_datetime(self.start)
        return super().moving_start(now)

    def moving_stop(self, now: datetime.datetime) -> datetime.datetime:
        timezone = etl.current().timezone
        today = clock.today(timezone, now)
        first_open_day = datetime.datetime.combine(today, datetime.time())
        if self.stop is not None and self.stop > today:
            logger.warning(
                "RangeDaily: days from %s on are not over in %s yet; they are left for a later run", today, timezone
            )
        return min(super().moving_stop(now), first_open_day)

    def missing_datetimes(self, finite_datetimes):
        missing = super().missing_datetimes(finite_datetimes)
        if len(missing) > self.task_limit:
            raise ParameterException(
                f"{len(missing)} days of {self.of_cls.task_family} are missing in the range, more than "
                f"task_limit={self.task_limit}: raise --RangeDaily-task-limit or split the range"
            )
        return missing

    def day_tasks(self) -> list[luigi.Task]:
        """One ``--of`` task per missing day, oldest first (what Luigi's own RangeDaily requires)."""
        return super().requires()

    @built_once
    def requires(self) -> list[luigi.Task]:
        if self.days_per_task < 1:
            raise ParameterException(f"--days-per-task {self.days_per_task}: must be at least 1")
        day_tasks = self.day_tasks()
        day_range = DAY_RANGES.get(self.of_cls)
        if day_range is None or self.days_per_task == 1 or self.of_params or not day_tasks:
            return day_tasks
        days = [getattr(task, self._param_name) for task in day_tasks]
        size = days_per_chunk(len(days), luigi.interface.core().workers, self.days_per_task)
        return [
            day_range(start=start, stop=stop, run_start=run_start, days_per_task=size)
            for run_start, run_stop in contiguous_runs(days)
            for start, stop in chunk_ranges(run_start, run_stop, size)
        ]
