"""The one definition of a day's state in a layer: done, stale, missing, failed or expired.

``complete()``, ``bulk_complete()``, range planning, retention and (later) ``etl status`` all read it
here, from listings of the store and the retention ledger, never from a file read per day.

Staleness is make's rule on the listings' modification times: a step's outputs are stale when the file
it writes last (its completion mark) is older than another of its outputs or than an input's completion
mark, or when an input is missing or itself stale. So a raw file replaced by hand, a truncated output or
a lost input is rebuilt with exactly what depends on it; a layer retired by retention is expired, not stale.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Iterable
from typing import Protocol

from etl.retention import ledger_with, retired_days
from etl.storage import FileStat, Partitions, Store
from etl.storage.layout import CLEANUP, CLEANUP_REPORT, RETIRED_DAYS_KEY, file_key, partition_of_key


class DayState(enum.Enum):
    DONE = "done"  # every output file is there, newer than its inputs
    STALE = "stale"  # built, but an input changed, went missing or is stale since: the next run rebuilds it
    MISSING = "missing"  # not built yet (or deleted by hand): the next run builds it
    FAILED = "failed"  # the step refused this input, and the input has not changed since
    EXPIRED = "expired"  # retired by retention: counts as done, never rebuilt unless asked

    @property
    def finished(self) -> bool:
        """Nothing is left to do: the outputs exist and are current, or were retired on purpose."""
        return self in (DayState.DONE, DayState.EXPIRED)


@dataclasses.dataclass(frozen=True)
class Outputs:
    """What one daily step writes into its day's partition of one layer, in the order it writes them:
    the last is its completion mark."""

    layer: str
    filenames: tuple[str, ...]
    failure_marker: str | None = None  # written instead of the outputs when the input is refused
    input_file: str | None = None  # the partition's file the failure is about; a newer one is retried

    @property
    def mark(self) -> str:
        return self.filenames[-1]


class DailyStep(Protocol):
    """A step of one day: what it writes, and the steps whose outputs it reads."""

    outputs: Outputs
    date: datetime.date

    def requires(self) -> object: ...


def day_state(outputs: Outputs, files: dict[str, FileStat], retired: bool) -> DayState:
    """The state of one day from its own partition's files alone (inputs aside)."""
    if all(name in files for name in outputs.filenames):
        mark = files[outputs.mark].mtime_ns
        return DayState.STALE if any(files[name].mtime_ns > mark for name in outputs.filenames) else DayState.DONE
    marker = files.get(outputs.failure_marker) if outputs.failure_marker else None
    refused = files.get(outputs.input_file) if outputs.input_file else None
    if marker is not None and refused is not None and marker.mtime_ns >= refused.mtime_ns:
        return DayState.FAILED
    return DayState.EXPIRED if retired else DayState.MISSING


class StoreView:
    """Listings of one store taken once and kept for one question (a ``complete()``, a range's planning).

    ``listed`` layers are read whole in one pass each; any other partition is listed when first asked for.
    """

    def __init__(self, store: Store, listed: Iterable[str] = ()) -> None:
        self.store = store
        self.ledger = retired(store)
        self.layers: dict[str, Partitions] = {layer: store.list_partitions(layer) for layer in listed}
        self.partitions: dict[tuple[str, datetime.date], dict[str, FileStat]] = {}
        self.states: dict[object, DayState] = {}

    def files(self, layer: str, date: datetime.date) -> dict[str, FileStat]:
        if layer in self.layers:
            return self.layers[layer].get(date, {})
        key = (layer, date)
        if key not in self.partitions:
            self.partitions[key] = self.store.list_partition(layer, date)
        return self.partitions[key]

    def state(self, step: DailyStep) -> DayState:
        """The day's state of ``step``, its inputs' states and times included."""
        if step not in self.states:
            self.states[step] = self._state(step)
        return self.states[step]

    def _state(self, step: DailyStep) -> DayState:
        outputs = step.outputs
        files = self.files(outputs.layer, step.date)
        own = day_state(outputs, files, step.date in self.ledger[outputs.layer])
        if own is not DayState.DONE:
            return own
        mark = files[outputs.mark].mtime_ns
        for needed in _flatten(step.requires()):
            if not hasattr(needed, "outputs"):
                continue  # a step of no single day (the landing ingest): it rewrites days' inputs itself
            needed_state = self.state(needed)
            if needed_state is DayState.EXPIRED:
                continue
            if needed_state is not DayState.DONE:
                return DayState.STALE
            if self.files(needed.outputs.layer, needed.date)[needed.outputs.mark].mtime_ns > mark:
                return DayState.STALE
        return DayState.DONE


def state_of(store: Store, step: DailyStep) -> DayState:
    """One day's state of one step: its partition and its inputs' partitions listed."""
    return StoreView(store).state(step)


_DERIVED: dict[Store, dict | None] = {}  # per store and process: the ledger a store without one implies
_LEDGER: dict[Store, tuple[FileStat | None, dict[str, frozenset[datetime.date]]]] = {}


def retired(store: Store) -> dict[str, frozenset[datetime.date]]:
    """The days retention retired, per layer (read again only when the ledger changed). Reading never writes: a
    store without a ledger is read with the one its cleanup records imply, which the next cleanup writes."""
    stat = store.stat(RETIRED_DAYS_KEY)
    kept = _LEDGER.get(store)
    if kept is None or kept[0] != stat:
        if stat is not None:
            ledger = store.read_json(RETIRED_DAYS_KEY)
        else:
            if store not in _DERIVED:  # once per store and process: not on every state query
                _DERIVED[store] = derived_ledger(store)
            ledger = _DERIVED[store]
        kept = _LEDGER[store] = (stat, retired_days(ledger))
    return kept[1]


def derived_ledger(store: Store) -> dict | None:
    """The ledger a store's cleanup audit records imply (None without records): a store cleaned by an earlier
    version has records but no ledger, and a lost ledger is rebuilt the same way, so that the days they removed
    stay retired instead of being rebuilt as missing."""
    records = store.list_partitions(CLEANUP)
    if not records:
        return None
    removed: dict[str, list[datetime.date]] = {}
    for day, files in records.items():
        if CLEANUP_REPORT in files:
            record = store.read_json(file_key(CLEANUP, day, CLEANUP_REPORT))
            runs = [record, *record.get("runs", [])]  # an earlier version's record, or this one's runs
            for key in [k for run in runs for keys in run.get("removed", {}).values() for k in keys]:
                found = partition_of_key(key)
                if found is not None:
                    removed.setdefault(found[0], []).append(found[1])
    return ledger_with(None, removed)


def _flatten(structure: object) -> list:
    """Luigi's ``flatten`` for a ``requires()`` answer: a task, a list or a dict of them."""
    if structure is None:
        return []
    if isinstance(structure, dict):
        return list(structure.values())
    if isinstance(structure, list | tuple):
        return list(structure)
    return [structure]
