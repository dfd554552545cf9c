"""The one definition of a day's state in a layer: done, missing, failed or expired.

``complete()``, ``bulk_complete()``, range planning, retention and (later) ``etl status`` all read it
here, from a listing of the store and the retention ledger, never from a file read per day.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum

from etl.retention import retired_days
from etl.storage import FileStat, Partitions, Store
from etl.storage.layout import RETIRED_DAYS_KEY


class DayState(enum.Enum):
    DONE = "done"  # every output file is there
    MISSING = "missing"  # not built yet (or deleted by hand): the next run builds it
    FAILED = "failed"  # the step refused this input, and the input has not changed since
    EXPIRED = "expired"  # retired by retention: counts as done, never rebuilt unless asked

    @property
    def finished(self) -> bool:
        """Nothing is left to do: the outputs exist or were retired on purpose."""
        return self in (DayState.DONE, DayState.EXPIRED)


@dataclasses.dataclass(frozen=True)
class Outputs:
    """What one daily step writes into its day's partition of one layer."""

    layer: str
    filenames: tuple[str, ...]
    failure_marker: str | None = None  # written instead of the outputs when the input is refused
    input_file: str | None = None  # the partition's file the failure is about; a newer one is retried


def day_state(outputs: Outputs, files: dict[str, FileStat], retired: bool) -> DayState:
    """The state of one day from its partition's files and whether retention retired it."""
    if all(name in files for name in outputs.filenames):
        return DayState.DONE
    marker = files.get(outputs.failure_marker) if outputs.failure_marker else None
    refused = files.get(outputs.input_file) if outputs.input_file else None
    if marker is not None and refused is not None and marker.mtime_ns >= refused.mtime_ns:
        return DayState.FAILED
    return DayState.EXPIRED if retired else DayState.MISSING


def state_of(store: Store, outputs: Outputs, date: datetime.date) -> DayState:
    """One day's state: one partition listed."""
    files = store.list_partition(outputs.layer, date)
    return day_state(outputs, files, date in retired(store)[outputs.layer])


def states_from(
    outputs: Outputs, partitions: Partitions, retired_days: frozenset[datetime.date]
) -> dict[datetime.date, DayState]:
    """The state of every day a layer's listing or the ledger knows of; any other day is missing."""
    days = partitions.keys() | retired_days
    return {day: day_state(outputs, partitions.get(day, {}), day in retired_days) for day in days}


_LEDGER: dict[Store, tuple[FileStat | None, dict[str, frozenset[datetime.date]]]] = {}


def retired(store: Store) -> dict[str, frozenset[datetime.date]]:
    """The days retention retired, per layer (read again only when the ledger changed)."""
    stat = store.stat(RETIRED_DAYS_KEY)
    kept = _LEDGER.get(store)
    if kept is None or kept[0] != stat:
        ledger = store.read_json(RETIRED_DAYS_KEY) if stat is not None else None
        kept = _LEDGER[store] = (stat, retired_days(ledger))
    return kept[1]
