"""The pipeline's clock and calendar: what time it is, and which business day is over in the configured timezone.

Everything that reads "now" reads :func:`now`, so ``ETL_NOW`` moves the whole pipeline to another moment.
"""

from __future__ import annotations

import datetime
import logging
import os
from zoneinfo import ZoneInfo

from etl.config import SettingsError

NOW_ENV = "ETL_NOW"
logger = logging.getLogger("luigi-interface")


def now() -> datetime.datetime:
    """The current moment, aware, in UTC: ``ETL_NOW`` when set (a testing and recovery aid), else the real clock.

    ``ETL_NOW`` is an ISO 8601 timestamp; without an offset it is the machine's local time (``TZ``), as cron
    reads its schedule and ``date`` prints: ``ETL_NOW=2024-03-13T02:00`` is when that morning's 02:00 cron run starts.
    """
    text = os.environ.get(NOW_ENV)
    if not text:
        return datetime.datetime.now(datetime.UTC)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        problem = (
            f"{NOW_ENV}={text!r} is not an ISO timestamp: YYYY-MM-DDTHH:MM[:SS] with an optional offset "
            "(+01:00 or Z); without one it is the machine's local time"
        )
        logger.error("etl: %s", problem)  # the one line a luigi command shows before its traceback, as for settings
        raise SettingsError(problem) from None
    return moment.astimezone(datetime.UTC)  # a naive moment is taken as local time by astimezone()


def today(timezone: str, at: datetime.datetime | None = None) -> datetime.date:
    """The business day in ``timezone`` at ``at``: default :func:`now`; aware, or naive UTC as Luigi's ranges use."""
    if at is None:
        at = now()
    elif at.tzinfo is None:
        at = at.replace(tzinfo=datetime.UTC)
    return at.astimezone(ZoneInfo(timezone)).date()


def last_complete_day(timezone: str, at: datetime.datetime | None = None) -> datetime.date:
    """Yesterday in ``timezone``: the newest day whose orders are all in."""
    return today(timezone, at) - datetime.timedelta(days=1)


def is_day_over(date: datetime.date, timezone: str, at: datetime.datetime | None = None) -> bool:
    """True once ``date`` has ended in ``timezone``."""
    return date < today(timezone, at)
