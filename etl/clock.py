"""The pipeline's calendar: which business day is over, in the configured timezone."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo


def today(timezone: str, now: datetime.datetime | None = None) -> datetime.date:
    """The current business day in ``timezone``; ``now`` (aware, or naive UTC) pins the clock in tests."""
    if now is None:
        now = datetime.datetime.now(datetime.UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=datetime.UTC)
    return now.astimezone(ZoneInfo(timezone)).date()


def last_complete_day(timezone: str, now: datetime.datetime | None = None) -> datetime.date:
    """Yesterday in ``timezone``: the newest day whose orders are all in."""
    return today(timezone, now) - datetime.timedelta(days=1)


def is_day_over(date: datetime.date, timezone: str, now: datetime.datetime | None = None) -> bool:
    """True once ``date`` has ended in ``timezone``."""
    return date < today(timezone, now)
