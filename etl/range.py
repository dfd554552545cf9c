"""Luigi's ``RangeDaily`` on this pipeline's calendar.

Registered under the same name, so ``luigi --module etl RangeDaily --of DailyReport`` uses it:
an explicit ``--start`` is honoured however old, a day is scheduled only once it is over in
``[etl] timezone``, and a gap larger than ``task_limit`` fails loudly instead of being cut short.
"""

from __future__ import annotations

import datetime
import logging

import luigi
import luigi.tools.range
from luigi.parameter import ParameterException

from etl import clock
from etl.config import etl

logger = logging.getLogger("luigi-interface")


class RangeDaily(luigi.tools.range.RangeDaily):
    """Fill every missing day of ``--of`` in ``[--start, --stop)``, oldest first."""

    param_name = luigi.OptionalParameter(
        default=None,
        positional=False,
        description="parameter of --of that takes the date; default: its first positional parameter",
    )

    def moving_start(self, now: datetime.datetime) -> datetime.datetime:
        if self.start is not None:
            return self.parameter_to_datetime(self.start)
        return super().moving_start(now)

    def moving_stop(self, now: datetime.datetime) -> datetime.datetime:
        timezone = etl().timezone
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
