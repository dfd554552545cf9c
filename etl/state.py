"""The one definition of a day's state in each step (done, stale, missing, failed, held back, expired) and why.

``complete()``, ``bulk_complete()``, chunks, range planning, retention, ``etl status``, ``etl rerun`` and
``etl check-deadline`` all read it here, from listings of the store, the steps' completion marks
(:mod:`etl.marks`) and the retention ledger. Reading never writes.

A step's version is content: its mark records the sha256 of every file it read and wrote and the settings that
shaped it, and the step is stale when a file holds other bytes now, or an input is stale itself; other settings
are shown as stale but kept unless the run rebuilds for them. A partition an earlier version built (no mark) is
judged by that version's rule, make's on the listings' times, until its step is rebuilt. A layer retired by
retention is expired, not stale.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Callable, Iterable
from typing import Protocol

from etl.marks import BUILDING, mark_file, rerun_file
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
    # What only a luigid knows (etl.scheduler_state), never the store: a worker is building it now, or the
    # scheduler disabled its task after repeated failures and runs skip it until someone re-enables it.
    RUNNING = "running"
    DISABLED = "disabled"

    @property
    def finished(self) -> bool:
        """Nothing is left to do: the outputs exist and are current, or were retired on purpose."""
        return self in (DayState.DONE, DayState.EXPIRED)


@dataclasses.dataclass(frozen=True)
class DayStatus:
    """A day's state in one step, with why: what a person reads in a failure, in ``etl status`` or in a log."""

    state: DayState
    reason: str | None = None  # in full: the failed rule and its file, what holds it back, what changed
    brief: str | None = None  # the same in a few words, for summaries: a rule's name, "by 2024-03-10"
    failed_day: datetime.date | None = None  # the day whose refusal this is, or holds this back
    kept: bool = False  # stale by settings alone, kept as built: only ``etl rerun --stale`` rebuilds it
    more_to_build: bool = False  # held back, while other steps it needs are still to be built (say, its own day's)

    @property
    def finished(self) -> bool:
        """Nothing is left for this run to do: done, expired, or stale by settings that it keeps."""
        return self.state.finished or self.kept

    @property
    def settled(self) -> bool:
        """Nothing a run can do changes it now: finished, or failed (held back) until an input or a setting does."""
        return self.finished or self.failed

    @property
    def failed(self) -> bool:
        """Refused, or held back by a refusal with nothing else left to build: settled until an input or a setting
        changes."""
        return self.state in (DayState.FAILED, DayState.HELD_BACK) and not self.more_to_build


@dataclasses.dataclass(frozen=True)
class Outputs:
    """What one daily step writes into its day's partition of one layer, in the order it writes them:
    the last is its completion mark."""

    layer: str
    filenames: tuple[str, ...]
    failure_marker: str | None = None  # written instead of the outputs when the input is refused
    input_file: str | None = None  # the partition's file the failure is about; a newer one is retried
    step: str | None = None  # the step's name, which names its completion mark (raw, the source, has none)

    @property
    def last(self) -> str:
        """The output written last: what an earlier version's store is judged by, in place of a mark."""
        return self.filenames[-1]

    @property
    def mark(self) -> str | None:
        return mark_file(self.step) if self.step else None


class DailyStep(Protocol):
    """A step of one day: what it writes, the steps whose outputs it reads, and the settings that shape it."""

    outputs: Outputs
    date: datetime.date

    def requires(self) -> object: ...

    def fingerprint(self) -> dict: ...


def day_state(outputs: Outputs, files: dict[str, FileStat], retired: bool) -> DayState:
    """The state of one day from its own partition's files alone (inputs aside), by an earlier version's rule."""
    if all(name in files for name in outputs.filenames):
        last = files[outputs.last].mtime_ns
        return DayState.STALE if any(files[name].mtime_ns > last for name in outputs.filenames) else DayState.DONE
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

    def __init__(self, store: Store, listed: Iterable[str] = (), rebuild_settings: bool = False) -> None:
        self.store = store
        self.rebuild_settings = rebuild_settings  # a day built under other settings is stale for this run too
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
                self.statuses[step] = self._status(step)
            elif hasattr(step, "status_in"):
                self.statuses[step] = step.status_in(self)
            else:
                self.statuses[step] = DayStatus(DayState.DONE if step.complete() else DayState.MISSING)
        return self.statuses[step]

    def _status(self, step: DailyStep) -> DayStatus:
        """What the step's files, mark and requirements say, unless a rerun asked for it (``etl rerun``): then a
        built step is stale and a refused one is tried again."""
        found = self._judged(step)
        outputs = step.outputs
        asked = outputs.step is not None and rerun_file(outputs.step) in self.files(outputs.layer, step.date)
        if asked and found.state in (DayState.DONE, DayState.STALE):
            return DayStatus(DayState.STALE, "a rerun was asked for")
        if asked and found.state is DayState.FAILED:
            return DayStatus(DayState.MISSING, "a rerun was asked for: to be tried again")
        return found

    def _judged(self, step: DailyStep) -> DayStatus:
        outputs = step.outputs
        files = self.files(outputs.layer, step.date)
        mark = self._mark(outputs, step.date, files)
        if mark is None:
            return self._unmarked(step, files)
        if mark["outcome"] == BUILDING:
            return DayStatus(DayState.MISSING, "its first build did not finish")
        if mark["outcome"] == "failed":
            return self._failed(step, mark)
        own = None
        for key, recorded in mark["outputs"].items():
            if self.listed(key) is None:
                return DayStatus(DayState.MISSING, f"its output {key} is gone")
            if own is None and self._changed(key, recorded):
                own = DayStatus(DayState.STALE, f"its output {key} changed since it was built")
        needed = self._needed(step, built=True)
        if needed is not None:
            return needed
        changed = next((key for key, recorded in mark["inputs"].items() if self._changed(key, recorded)), None)
        if own is None and changed is not None:
            own = DayStatus(DayState.STALE, f"its input {changed} changed since it was built")
        if own is not None:
            return own
        settings = settings_change(mark["settings"], step.fingerprint())
        if settings is not None:
            return DayStatus(DayState.STALE, f"built with {settings}", "settings", kept=not self.rebuild_settings)
        return DayStatus(DayState.DONE)

    def _needed(self, step: DailyStep, built: bool) -> DayStatus | None:
        """What ``step``'s requirements make of it: held back by a failed one (with more to build while another is
        not finished, say the day's own processing after an earlier day failed), else stale while one is not
        finished, else nothing.

        The same step of an earlier day (the previous report, under ``[etl] depends_on_past``) is an order, not an
        input: it holds back a step still to be built, and a built one never looks at it."""
        stale = held = None
        pending = False
        for needed in _flatten(step.requires()):
            if not hasattr(needed, "outputs"):
                continue  # a step of no single day (the landing ingest): it rewrites days' inputs itself
            if needed.outputs == step.outputs:
                if built:
                    continue
                self._judge_back_from(needed)
            found = self.status(needed)
            if found.state in (DayState.FAILED, DayState.HELD_BACK):
                held = held or held_back(step, needed, found)
                pending = pending or found.more_to_build
            elif not found.finished:
                stale = stale or DayStatus(DayState.STALE, f"its input {_name(needed)} is {found.state.value}")
        if held is not None:
            return dataclasses.replace(held, more_to_build=pending or stale is not None)
        return stale

    def _unmarked(self, step: DailyStep, files: dict[str, FileStat]) -> DayStatus:
        """A step with no mark: raw (the source), or a partition an earlier version built, judged by its rule
        (make's, on the listing's times) until a rebuild writes a mark."""
        outputs = step.outputs
        own = day_state(outputs, files, step.date in self.ledger[outputs.layer])
        if own is DayState.FAILED:
            record = self.store.read_json(file_key(outputs.layer, step.date, outputs.failure_marker))
            checked = record.get("checked_with") or {}
            then = {name: checked.get(name.rpartition("] ")[2]) for name in step.fingerprint()}
            return self._refusal(step, record, settings_change(then, step.fingerprint()))
        if own is DayState.EXPIRED:
            return DayStatus(own, "retired by retention")
        needed = self._needed(step, built=own is not DayState.MISSING)
        if needed is not None and (needed.state is DayState.HELD_BACK or own is DayState.DONE):
            return needed
        if own is not DayState.DONE:
            return DayStatus(own)
        for needed in _flatten(step.requires()):
            if not hasattr(needed, "outputs") or needed.outputs == step.outputs:
                continue  # the ingest rewrites inputs itself; an earlier day's same step is only waited on
            if self.status(needed).state is not DayState.EXPIRED:
                needed_last = self.files(needed.outputs.layer, needed.date).get(needed.outputs.last)
                if needed_last is not None and needed_last.mtime_ns > files[outputs.last].mtime_ns:
                    return DayStatus(DayState.STALE, f"its input {_name(needed)} changed since it was built")
        return DayStatus(DayState.DONE)

    def _judge_back_from(self, step: DailyStep) -> None:
        """Judge ``step`` and the chain of the same step on earlier days it waits on, oldest first, in a loop: years
        of reports not built yet behind a failure, under depends_on_past, never recurse deeply."""
        chain = []
        while step is not None and step not in self.statuses:
            chain.append(step)
            if self._built(step):
                break  # a built step does not look at the day before
            step = next((n for n in _flatten(step.requires()) if getattr(n, "outputs", None) == step.outputs), None)
        for earlier in reversed(chain):
            self.status(earlier)

    def _built(self, step: DailyStep) -> bool:
        """Whether the step's outputs are there, as its mark or (unmarked) its files say."""
        outputs = step.outputs
        files = self.files(outputs.layer, step.date)
        mark = self._mark(outputs, step.date, files)
        if mark is not None:
            return mark["outcome"] == "done"
        return all(name in files for name in outputs.filenames)

    def _failed(self, step: DailyStep, mark: dict) -> DayStatus:
        """A step that refused its inputs: FAILED while they and the settings are as they were, else tried again."""
        changed = next((key for key, recorded in mark["inputs"].items() if self._changed(key, recorded)), None)
        if changed is not None:
            return DayStatus(DayState.MISSING, f"its input {changed} changed since it was refused: to be tried again")
        outputs = step.outputs
        if self.listed(file_key(outputs.layer, step.date, outputs.failure_marker)) is None:
            return DayStatus(DayState.MISSING, "the record of its refusal is gone: to be tried again")
        record = self.store.read_json(file_key(outputs.layer, step.date, outputs.failure_marker))
        return self._refusal(step, record, settings_change(mark["settings"], step.fingerprint()))

    def _refusal(self, step: DailyStep, record: dict, settings: str | None) -> DayStatus:
        """FAILED, naming the day, file and rules, while the refusal's settings are today's; else tried again."""
        if settings is not None:
            return DayStatus(DayState.MISSING, f"refused with {settings}: to be tried again", "settings changed")
        rules = record["rules"]
        brief = ", ".join(rule["rule"] for rule in rules if not rule["passed"])
        reason = refusal(step.date, self.store.describe(record["file"]), rules)
        return DayStatus(DayState.FAILED, reason, brief, step.date)

    def _mark(self, outputs: Outputs, date: datetime.date, files: dict[str, FileStat]) -> dict | None:
        """The step's completion mark (read once per version of the file in this process), or None."""
        stat = files.get(outputs.mark) if outputs.mark else None
        if stat is None:
            return None
        key = file_key(outputs.layer, date, outputs.mark)
        known = _MARKS.get((self.store, key))
        if known is None or known[0] != stat:
            known = _MARKS[(self.store, key)] = (stat, self.store.read_json(key))
        return known[1]

    def listed(self, key: str) -> FileStat | None:
        """A file as this view lists it (a day partition's file from its listing, any other by a look)."""
        directory, _, name = key.rpartition("/")
        partition = partition_of_key(directory)
        if partition is None:
            return self.store.stat(key)
        return self.files(*partition).get(name)

    def _retired(self, key: str) -> bool:
        """Whether ``key`` is in a day partition retention retired: gone on purpose, not changed."""
        partition = partition_of_key(key.rpartition("/")[0])
        return partition is not None and partition[1] in self.ledger.get(partition[0], ())

    def _changed(self, key: str, recorded: dict | None) -> bool:
        """Whether the file under ``key`` is not the version a mark recorded: by size, then by its bytes' hash
        unless the listing shows it exactly as it was seen when recorded (no read then)."""
        current = self.listed(key)
        if recorded is None or current is None:
            return (recorded is None) != (current is None) and not self._retired(key)
        if current.size != recorded["size"]:
            return True
        if [current.mtime_ns, current.version] == recorded["seen"]:
            return False
        return self.store.version(key, current).sha256 != recorded["sha256"]


_MARKS: dict[tuple[Store, str], tuple[FileStat, dict]] = {}


def settings_change(then: dict, now: dict) -> str | None:
    """``[rolling] window_days=7, now 14``: each setting that differs, as it was and as it is (None when none)."""
    changed = [name for name in now if then.get(name) != now[name]]
    if not changed:
        return None
    return "; ".join(f"{name}={_shown(then.get(name))}, now {_shown(now[name])}" for name in changed)


def _shown(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


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
