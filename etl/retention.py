"""The retention rule: which day partitions of which layer may go as of a day, and the ledger of retired days.

Pure functions over dates. A partition goes once it is older than its layer's cutoff *and* nothing
still pending needs it: every step that reads it is finished, and so is the report of that step's day. Which
steps read what is the tasks' ``requires()`` (:mod:`etl.tasks` derives it), never restated here. So a failed or
late day keeps exactly what it will need once fixed, and cleanup never has to wait for it.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Iterable, Mapping, Set

from etl.day_ranges import ONE_DAY, contiguous_runs, days_between
from etl.storage.layout import METRICS, PROCESSED, RAW, RETAINED_LAYERS

Partition = tuple[str, datetime.date]  # a layer and a day
Step = tuple[str, datetime.date]  # a daily step's name and its day

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_NAMES = {name: i for names in (WEEKDAYS, _FULL_NAMES) for i, name in enumerate(names)}


class RetentionConfigError(ValueError):
    """The retention settings cannot be understood."""


@dataclasses.dataclass(frozen=True)
class RetentionPolicy:
    """Days each layer keeps, and the weekdays on which cleanup removes anything."""

    raw_days: int
    processed_days: int
    metrics_days: int
    weekdays: frozenset[int]

    def days(self, layer: str) -> int:
        return {RAW: self.raw_days, PROCESSED: self.processed_days, METRICS: self.metrics_days}[layer]


def parse_weekdays(text: str) -> frozenset[int]:
    """``"sat,sun"`` (or ``"saturday, sunday"``) -> ``{5, 6}`` (Monday is 0)."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    days = [_WEEKDAY_NAMES.get(name) for name in names]
    if not names or None in days:
        raise RetentionConfigError(
            f"cleanup_weekdays={text!r}: use comma-separated day names ({', '.join(WEEKDAYS)} or in full)"
        )
    return frozenset(days)


def retention_cutoff(date: datetime.date, days: int) -> datetime.date:
    """Partitions of days strictly before this are due for removal."""
    return date - datetime.timedelta(days=days)


def cleanup_as_of(date: datetime.date, policy: RetentionPolicy) -> datetime.date:
    """The day whose cutoffs a cleanup as of ``date`` applies: the latest cleanup weekday on or before it.

    So a cleanup is idempotent and monotone: as of a later day it removes everything an earlier one would.
    """
    if not policy.weekdays:
        raise RetentionConfigError("a retention policy needs at least one cleanup weekday")
    while date.weekday() not in policy.weekdays:
        date -= ONE_DAY
    return date


@dataclasses.dataclass(frozen=True)
class Holdings:
    """What a cleanup decides on: the days present in each retained layer, the steps finished, and who reads what."""

    present: Mapping[str, Set[datetime.date]]  # layer -> days whose partition exists
    finished: Set[Step]  # steps done (or retired)
    reported: Set[datetime.date]  # days whose report, their last step, is done (or retired)
    readers: Callable[[str, datetime.date], Iterable[Step]]  # a partition -> the steps whose requirements read it


def removable(holdings: Holdings) -> dict[str, list[datetime.date]]:
    """Per layer, oldest first, the present days that no pending work needs (they go once old enough): every step
    that reads the partition is finished, and so is the report of its day (until then, a fix of that day may
    rebuild the step, which reads it again)."""

    def unneeded(layer: str, day: datetime.date) -> bool:
        return all(step in holdings.finished and step[1] in holdings.reported for step in holdings.readers(layer, day))

    return {
        layer: sorted(d for d in holdings.present.get(layer, ()) if unneeded(layer, d)) for layer in RETAINED_LAYERS
    }


def plan_cleanup(
    date: datetime.date, policy: RetentionPolicy, removable_days: Mapping[str, list[datetime.date]]
) -> dict[str, list[datetime.date]]:
    """The days to remove per layer by a cleanup as of ``date``."""
    as_of = cleanup_as_of(date, policy)
    return {
        layer: [d for d in removable_days.get(layer, ()) if d < retention_cutoff(as_of, policy.days(layer))]
        for layer in RETAINED_LAYERS
    }


def is_cleanup_due(
    date: datetime.date, policy: RetentionPolicy, removable_days: Mapping[str, list[datetime.date]]
) -> bool:
    """Whether a cleanup as of ``date`` would remove anything (``removable_days`` sorted oldest first)."""
    as_of = cleanup_as_of(date, policy)
    return any(days and days[0] < retention_cutoff(as_of, policy.days(layer)) for layer, days in removable_days.items())


def too_late(
    day: datetime.date, retired: Mapping[str, Set[datetime.date]], reads: Callable[[datetime.date], Iterable[Partition]]
) -> bool:
    """Whether new rows of ``day`` come too late to be used: retention retired a partition that rebuilding the day
    reads (``reads``: its raw one and those its steps' requirements hold), so the day could not be rebuilt whole."""
    return any(d in retired[layer] for layer, d in reads(day))


def retired_days(ledger: Mapping | None) -> dict[str, frozenset[datetime.date]]:
    """The days retention removed, per layer, from the ledger document (``[first, stop)`` ranges per layer)."""
    result = {}
    for layer in RETAINED_LAYERS:
        ranges = (ledger or {}).get(layer, [])
        result[layer] = frozenset(
            day
            for first, stop in ranges
            for day in days_between(datetime.date.fromisoformat(first), datetime.date.fromisoformat(stop))
        )
    return result


def ledger_with(ledger: Mapping | None, removed: Mapping[str, list[datetime.date]]) -> dict[str, list[list[str]]]:
    """The ledger document with ``removed`` added: each layer's retired days as sorted ``[first, stop)`` ranges."""
    retired = retired_days(ledger)
    return _ledger({layer: retired[layer] | set(removed.get(layer, ())) for layer in RETAINED_LAYERS})


def ledger_without(ledger: Mapping | None, restored: Mapping[str, list[datetime.date]]) -> dict[str, list[list[str]]]:
    """The ledger document with ``restored`` taken out: days a rerun builds again (``--include-expired``)."""
    retired = retired_days(ledger)
    return _ledger({layer: retired[layer] - set(restored.get(layer, ())) for layer in RETAINED_LAYERS})


def _ledger(retired: Mapping[str, Set[datetime.date]]) -> dict[str, list[list[str]]]:
    return {
        layer: [[first.isoformat(), stop.isoformat()] for first, stop in contiguous_runs(sorted(retired[layer]))]
        for layer in RETAINED_LAYERS
    }
