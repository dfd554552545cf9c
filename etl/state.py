"""The one definition of a day's state in a layer (done, stale, missing, failed, held back or expired) and why.

``complete()``, ``bulk_complete()``, range planning, retention and (later) ``etl status`` all read it
here, from listings of the store and the retention ledger, never from a file read per day.

Staleness is make's rule on the listings' modification times: a step's outputs are stale when the file
it writes last (its completion mark) is older than another of its outputs or than an input's completion
mark, or when an input is missing or itself stale. So a raw file replaced by hand, a truncated output or
a lost input is rebuilt with exactly what depends on it; a layer retired by retention is expired, not stale.
A step that requires the same step of an earlier day (a report under ``[etl] depends_on_past``) only waits on
it: held back by its failure until built, never stale for it.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Callable, Iterable
from typing import Protocol

from etl.retention import ledger_with, retired_days
from etl.storage import FileStat, Partitions, Store
from etl.storage.layout import CLEANUP, CLEANUP_REPORT, RETIRED_DAYS_KEY, file_key, partition_of_key
from etl.validation import refusal


class DayState(enum.Enum):
    DONE = "done"  # every output file is there, newer than its inputs
    STALE = "stale"  # built, but an input changed, went missing or is stale since: the next run rebuilds it
    MISSING = "missing"  # not built yet (or deleted by hand): the next run builds it
    FAILED = "failed"  # the step refused this input under these settings, and neither has changed since
    HELD_BACK = "held back"  # a step it needs failed (or is held back): built once that is fixed
    EXPIRED = "expired"  # retired by retention: counts as done, never rebuilt unless asked
    NOT_DUE = "not due"  # the day is not over yet in [etl] timezone: nothing may be built

    @property
    def finished(self) -> bool:
        """Nothing is left to do: the outputs exist and are current, or were retired on purpose."""
        return self in (DayState.DONE, DayState.EXPIRED)

    @property
    def settled(self) -> bool:
        """No run can change it until an input or a setting does: finished, or failed, or held back by a failure."""
        return self not in (DayState.STALE, DayState.MISSING, DayState.NOT_DUE)


@dataclasses.dataclass(frozen=True)
class DayStatus:
    """A day's state in one step, with why: what a person reads in a failure, in ``etl status`` or in a log."""

    state: DayState
    reason: str | None = None  # in full: the failed rule and its file, what holds it back, what changed
    brief: str | None = None  # the same in a few words, for summaries: a rule's name, "by 2024-03-10"
    failed_day: datetime.date | None = None  # the day whose refusal this is, or holds this back


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
    """A step of one day: what it writes, the steps whose outputs it reads, and (for a step that may refuse its
    input) the settings its outcome holds for."""

    outputs: Outputs
    date: datetime.date

    def requires(self) -> object: ...

    def checked_with(self) -> dict: ...


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
    """Listings of one store taken once and kept for one question (a ``complete()``, a range's planning, a chunk).

    ``listed`` layers are read whole in one pass each; any other partition is listed when first asked for.
    A writer that keeps a view says what it wrote (:meth:`forget`), and only that is listed again.
    """

    def __init__(self, store: Store, listed: Iterable[str] = ()) -> None:
        self.store = store
        self.ledger = retired(store)
        self.layers: dict[str, Partitions] = {layer: store.list_partitions(layer) for layer in listed}
        self.partitions: dict[tuple[str, datetime.date], dict[str, FileStat]] = {}
        self.statuses: dict[object, DayStatus] = {}
        self.derived: dict[str, object] = {}

    def layer(self, layer: str) -> Partitions:
        """Every partition of ``layer``, listed in one pass the first time it is asked for."""
        if layer not in self.layers:
            self.layers[layer] = self.store.list_partitions(layer)
        return self.layers[layer]

    def files(self, layer: str, date: datetime.date) -> dict[str, FileStat]:
        if layer in self.layers:
            return self.layers[layer].get(date, {})
        key = (layer, date)
        if key not in self.partitions:
            self.partitions[key] = self.store.list_partition(layer, date)
        return self.partitions[key]

    def forget(self, layer: str, date: datetime.date) -> None:
        """A partition was written or removed since: list it again, and judge anew every step of that day or later
        (a day's step reads no later day) and every step of no single day."""
        if layer in self.layers:
            found = self.store.list_partition(layer, date)
            if found:
                self.layers[layer][date] = found
            else:
                self.layers[layer].pop(date, None)
        self.partitions.pop((layer, date), None)
        self.statuses = {
            step: kept for step, kept in self.statuses.items() if hasattr(step, "outputs") and step.date < date
        }
        self.derived.clear()

    def renew(self) -> None:
        """Anything may have changed (a cleanup removed partitions and wrote the ledger): look again."""
        self.ledger = retired(self.store)
        self.layers = {layer: self.store.list_partitions(layer) for layer in self.layers}
        self.partitions.clear()
        self.statuses.clear()
        self.derived.clear()

    def memo(self, name: str, compute: Callable[[], object]) -> object:
        """A fact derived from the whole view (what retention may remove), computed once per view."""
        if name not in self.derived:
            self.derived[name] = compute()
        return self.derived[name]

    def status(self, step: object) -> DayStatus:
        """The day's state of ``step`` and why, its inputs' states and times included. A task of no single day's
        partition judges itself on the view (``status_in``), or is done when complete."""
        if step not in self.statuses:
            if hasattr(step, "outputs"):
                self.statuses[step] = self._in_order(step)
            elif hasattr(step, "status_in"):
                self.statuses[step] = step.status_in(self)
            else:
                self.statuses[step] = DayStatus(DayState.DONE if step.complete() else DayState.MISSING)
        return self.statuses[step]

    def state(self, step: DailyStep) -> DayState:
        return self.status(step).state

    def _in_order(self, step: DailyStep) -> DayStatus:
        """``_status``, held back when the step is still to be built and the same step of an earlier day it waits
        on (a report under ``depends_on_past``) failed or is held back. Such a chain of days is walked in a loop and
        judged oldest first, once per view, and a day not built yet behind a failure is held back without judging
        its own inputs: years of held-back days cost a look at a listing each, and never recurse deeply."""
        waiting: list[tuple[DailyStep, DayStatus | None]] = []
        while step not in self.statuses:
            unbuilt = self._own_state(step) is DayState.MISSING  # to be built (or held back) whatever its inputs
            found = None if unbuilt else self._status(step)
            earlier = _earlier_self(step)
            if earlier is None or not (unbuilt or found.state in (DayState.MISSING, DayState.STALE)):
                self.statuses[step] = found or self._status(step)
                break
            waiting.append((step, found))
            step = earlier
        found = self.statuses[step]
        for later, own in reversed(waiting):
            if found.state in (DayState.FAILED, DayState.HELD_BACK):
                found = held_back(later, step, found)
            else:
                found = own or self._status(later)
            step = later
            self.statuses[step] = found
        return found

    def _own_state(self, step: DailyStep) -> DayState:
        """The step's state from its own partition alone."""
        outputs = step.outputs
        return day_state(outputs, self.files(outputs.layer, step.date), step.date in self.ledger[outputs.layer])

    def _status(self, step: DailyStep) -> DayStatus:
        """The step's state from its own files and its inputs' states, apart from an earlier day it only waits on."""
        outputs = step.outputs
        files = self.files(outputs.layer, step.date)
        own = self._own_state(step)
        if own is DayState.FAILED:
            return self._refusal(step)
        if own is DayState.EXPIRED:
            return DayStatus(own, "retired by retention")
        stale = None if own is DayState.DONE else DayStatus(own)
        for needed in _flatten(step.requires()):
            if not hasattr(needed, "outputs"):
                continue  # a step of no single day (the landing ingest): it rewrites days' inputs itself
            if needed.outputs == step.outputs:
                continue  # an earlier day it waits on, but does not read (see _in_order)
            found = self.status(needed)
            if found.state in (DayState.FAILED, DayState.HELD_BACK):
                return held_back(step, needed, found)
            if stale is not None or found.state is DayState.EXPIRED:
                continue
            if found.state is not DayState.DONE:
                stale = DayStatus(DayState.STALE, f"its input {_name(needed)} is {found.state.value}")
            elif self.files(needed.outputs.layer, needed.date)[needed.outputs.mark].mtime_ns > (
                files[outputs.mark].mtime_ns
            ):
                stale = DayStatus(DayState.STALE, f"its input {_name(needed)} changed since it was built")
        return stale or DayStatus(DayState.DONE)

    def _refusal(self, step: DailyStep) -> DayStatus:
        """FAILED while the refusal's settings are today's; otherwise the day is tried again."""
        record = self.store.read_json(file_key(step.outputs.layer, step.date, step.outputs.failure_marker))
        then, now = record.get("checked_with") or {}, step.checked_with()
        if then != now:
            changed = {name for name in then.keys() | now.keys() if then.get(name) != now.get(name)}
            were = ", ".join(f"{name}={then.get(name)}" for name in sorted(changed))
            are = ", ".join(f"{name}={now.get(name)}" for name in sorted(changed))
            return DayStatus(DayState.MISSING, f"refused with {were}, now {are}: to be tried again", "settings changed")
        rules = record["rules"]
        brief = ", ".join(rule["rule"] for rule in rules if not rule["passed"])
        reason = refusal(step.date, self.store.describe(record["file"]), rules)
        return DayStatus(DayState.FAILED, reason, brief, step.date)


def _earlier_self(step: DailyStep) -> DailyStep | None:
    """The same step (the same outputs) of an earlier day that ``step`` waits on: the previous report under
    ``depends_on_past``."""
    return next(
        (needed for needed in _flatten(step.requires()) if getattr(needed, "outputs", None) == step.outputs), None
    )


def held_back(step: DailyStep, needed: DailyStep, found: DayStatus) -> DayStatus:
    """``step`` waits on ``needed``, which failed or is held back."""
    brief = found.brief if found.failed_day == step.date else f"by {found.failed_day}"
    return DayStatus(DayState.HELD_BACK, blocked_by(step, needed, found.reason or ""), brief, found.failed_day)


def blocked_by(step: DailyStep, needed: DailyStep, reason: str) -> str:
    """Why ``step`` was not built when ``needed`` failed for ``reason``: the same reason for a step of the same
    day (the day itself failed), "held back" by another day's failure otherwise."""
    if needed.date == step.date or reason.startswith(HELD_BACK):
        return reason
    return f"{HELD_BACK}{reason}"


HELD_BACK = "held back: "


def _name(step: DailyStep) -> str:
    return f"{type(step).__name__} {step.date}"


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
