"""The landing source: new and changed export files become raw partitions, each file read once.

One ingest streams every landing file that is new or whose bytes changed since the ingest index last saw it,
a batch at a time: it maps and dates the rows and sets them aside by day (:mod:`etl.spill`), so memory holds
a batch and a day, not a file. A broken file stops the ingest before any partition changes, and names itself.
Then each touched day's raw files are written beside the current ones (staged): the day's rows from every
file, ordered by file name and then line, the rows refused, and a manifest of the files that fed it. A
journal then lists what to publish, and publishing moves the staged files into place: a run killed at any
moment leaves every partition as it was or as it will be, and the next ingest finishes a journal it finds.
A rewritten raw file is newer than what was built from it, so the day and the windows after it are rebuilt
by the next range (see :mod:`etl.state`). A day whose raw partition went, or that a rerun asks to be read again
(``etl rerun --from raw``), is rebuilt from the files that fed it, which keep their place in the order. Rows
of a day whose rebuild needs what retention already retired are reported as too late, not used.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl import clock
from etl.csv_io import LANDED_COLUMNS, ExportReadError, read_export, read_text_csv, write_table
from etl.ingest import (
    ColumnPlan,
    ExportError,
    ValueFormat,
    amounts,
    canonical_orders,
    dated,
    first_reasons,
    plan_columns,
    refund_rows,
    refusals,
    rows_by_day,
    unfit_numbers,
    version_values,
)
from etl.line_items import OrderLines
from etl.log_context import narrowed_to
from etl.marks import RAW_STEP, clear_rerun, rerun_asked, rerun_file
from etl.spill import DaySpill
from etl.storage import ConflictError, FileStat, Store, dumps_json
from etl.storage.landing import LocalLanding
from etl.storage.layout import (
    INGEST,
    INGEST_INDEX_KEY,
    INGEST_JOURNAL_KEY,
    INGEST_RECORD_KEY,
    MANIFEST,
    ORDERS,
    RAW,
    REJECTED_ROWS,
    file_key,
    staged_key,
)
from etl.versions import READ_SCHEMA, VERSIONS, Resolution, bits_for, by_group, resolve_run, staged_keys

logger = logging.getLogger("luigi-interface")

SOURCE_FILE, LINE, REASON = "source_file", "line", "reason"
REFUSED_COLUMNS = (SOURCE_FILE, LINE, REASON, *LANDED_COLUMNS)
RECORD_RUNS_KEPT = 100
UNDATED_ROWS_LISTED = 1000  # rows whose day cannot be told, listed in the record (all are counted)
INGEST_LOCK_KEY = f"{INGEST}/lock/ingest"  # held for a whole ingest (ingest/ itself guards the index and record)
INGEST_LEASE_SECONDS = 600  # how long a vanished ingest's lease outlives it on an object store (renewed while held)
READING_THREADS = 2  # files read at once (Arrow's kernels release the GIL); each holds a batch in memory
_ACCEPTED, _REFUSED = "orders", "refused"  # the two kinds of rows set aside by day, each file's apart
_RAW_FILES = (REJECTED_ROWS, MANIFEST, ORDERS)  # a raw partition's files, in the order they are published


class LandingFileError(RuntimeError):
    """An export file cannot be ingested; nothing was written."""


@dataclasses.dataclass(frozen=True)
class LandingSettings:
    """How export files are found and read (the ``[landing]`` config section), and what a row may hold."""

    directory: str
    patterns: tuple[str, ...]
    column_map: dict[str, str]
    delimiter: str
    encoding: str
    max_quantity: int
    max_unit_price: float
    max_rejected_share: float  # a file with a larger share of rows refused for one reason is refused whole
    rows: str  # orders, or line_items: rows that share an order_id are one order
    negative_amounts: str  # refund (a version of its own, beside its order's) or sign_error (a version of it)
    version_column: str  # the export column whose largest value is an order's latest version
    source_timezone: str  # the zone of naive timestamps
    timestamp_format: str  # ISO 8601 (empty), a strptime pattern, or epoch_s / epoch_ms
    decimal: str
    thousands: str
    defaults: dict[str, str]  # values of canonical columns the export lacks or leaves blank
    scratch_dir: str | None = None  # where the ingest sets rows aside ([etl] scratch_dir; None: the system's temp)

    def value_format(self, timezone: str) -> ValueFormat:
        return ValueFormat(timezone, self.source_timezone, self.timestamp_format, self.decimal, self.thousands)


@dataclasses.dataclass
class FileRows:
    """What one export file gave, by business day: the numbers of usable and refused rows (the rows themselves
    wait in the spill), and the rows whose day cannot be told."""

    name: str
    stat: FileStat  # size, time and version token when the ingest found it: what the index records
    sha256: str
    dropped_columns: tuple[str, ...]
    number: int  # its place among the files one ingest reads: its rows' names in the spill
    run: int = 0  # the ingest that read it: later runs' versions of an order win
    position: int = 0  # its place in the run by modification time, then name: later files' versions win
    target: str | None = None  # the real file, when a link in the landing directory leads to it
    rebuilding: frozenset[datetime.date] = frozenset()  # read again for these days only (their raw partition went)
    accepted: Counter[datetime.date] = dataclasses.field(default_factory=Counter)
    refused: Counter[datetime.date] = dataclasses.field(default_factory=Counter)
    undated: list[dict] = dataclasses.field(default_factory=list)  # the first UNDATED_ROWS_LISTED of them
    undated_count: int = 0
    row_count: int = 0
    unreadable: Counter[str] = dataclasses.field(default_factory=Counter)  # rows per reason a setting may explain
    examples: dict[str, str] = dataclasses.field(default_factory=dict)  # the first value of each such reason

    def gave(self, day: datetime.date) -> bool:
        return day in self.accepted or day in self.refused


@dataclasses.dataclass
class LandingScan:
    """The landing directory against the ingest index."""

    pending: list[tuple[str, FileStat, str]]  # files whose bytes the index has not seen: (name, stat, sha256)
    index: dict  # the index, with the new times of files touched but unchanged
    # seen files to read again for days whose raw partition went: their listing and those days
    rebuilding: dict[str, tuple[FileStat, set[datetime.date]]] = dataclasses.field(default_factory=dict)
    asked: dict[datetime.date, str] = dataclasses.field(default_factory=dict)  # reruns' requests met by re-reading

    @property
    def run(self) -> int:
        """The number of the ingest that reads ``pending``: one more than the last that read anything."""
        return self.index.get("run", 0) + bool(self.pending)

    def index_with(self, read: list[FileRows]) -> dict:
        """The index to store once ``read`` is ingested: their entries in, by path (a file read again for days
        whose raw partition went keeps its entry)."""
        files = dict(self.index["files"])
        for rows in read:
            if rows.rebuilding:
                continue
            files[rows.name] = {
                "size": rows.stat.size,
                "mtime_ns": rows.stat.mtime_ns,
                "version": rows.stat.version,
                "sha256": rows.sha256,
                "days": {day.isoformat(): count for day, count in sorted(rows.accepted.items())},
                "rank": [rows.run, rows.position],
                **({"target": rows.target} if rows.target else {}),
            }
        return {**self.index, "files": dict(sorted(files.items())), "run": self.run}


def up_to_date(store: Store, landing: LocalLanding, kept: Callable[[datetime.date], bool]) -> bool:
    """Whether the index has seen every landing file at its current size and time, no ingest is half published
    and no ``kept`` day the index knows rows of lost its raw partition or awaits a rerun (no file is read)."""
    if store.exists(INGEST_JOURNAL_KEY):
        return False
    index = _index(store)
    known = index["files"]
    return all(_seen(known.get(name), stat) for name, stat in landing.files()) and not gone_days(store, index, kept)


def gone_days(store: Store, index: dict, kept: Callable[[datetime.date], bool]) -> set[datetime.date]:
    """The ``kept`` days the index knows rows of whose raw partition must be read again from the files that fed
    it: its orders file is gone (deleted by hand, say), or a rerun asked for it (``etl rerun --from raw``)."""
    known = {datetime.date.fromisoformat(day) for entry in index["files"].values() for day in entry["days"]}
    if not known:
        return set()
    present = {
        day
        for day, files in store.list_partitions(RAW).items()
        if ORDERS in files and rerun_file(RAW_STEP) not in files
    }
    return {day for day in known - present if kept(day)}


def check_rereadable(store: Store, landing: LocalLanding, days: Iterable[datetime.date]) -> None:
    """Refuse, reading only, to re-read ``days`` when a landing file that fed one of them is gone: what the ingest
    would refuse after the rerun had asked (LandingFileError, naming the days and the files)."""
    wanted = {day.isoformat() for day in days}
    fed = {name: {datetime.date.fromisoformat(day) for day in entry["days"] if day in wanted}
           for name, entry in _index(store)["files"].items()}  # fmt: skip
    _refuse_absent(landing, {name: days for name, days in fed.items() if days}, dict(landing.files()))


def scan(store: Store, landing: LocalLanding, kept: Callable[[datetime.date], bool]) -> LandingScan:
    """Which landing files are new or changed (size and time first, the bytes' sha256 when those differ), and
    which seen files must be read again for ``kept`` days whose raw partition went; LandingFileError names the
    files such a day came from when they are no longer there."""
    index = _index(store)
    known = index["files"]
    pending = []
    listed = dict(landing.files())
    for name, stat in listed.items():
        entry = known.get(name)
        if _seen(entry, stat):
            continue
        digest = landing.sha256(name)
        if entry is not None and entry["sha256"] == digest:
            entry["mtime_ns"], entry["version"] = stat.mtime_ns, stat.version
            continue
        pending.append((name, stat, digest))
    gone = gone_days(store, index, kept)
    read_anyway = {name for name, _, _ in pending}
    rebuilding: dict[str, set[datetime.date]] = {}
    for name, entry in known.items():
        days = {day for day in gone if day.isoformat() in entry["days"]}
        if days and name not in read_anyway:
            rebuilding[name] = days
    _refuse_absent(landing, rebuilding, listed)
    asked = {day: request for day in gone if (request := rerun_asked(store, RAW, day, RAW_STEP)) is not None}
    return LandingScan(pending, index, {name: (listed[name], days) for name, days in rebuilding.items()}, asked)


def ingest(
    store: Store,
    landing: LocalLanding,
    settings: LandingSettings,
    timezone: str,
    start_date: datetime.date,
    kept: Callable[[datetime.date], bool],
) -> dict:
    """Ingest every new or changed landing file; returns the run's record (also kept under ``ingest/``).

    Every file is read and checked before any partition is written: LandingFileError names a broken one.
    Rows of a day not ``kept`` (before ``start_date``, or too late: retention retired what its rebuild needs)
    are counted, not used.
    Ingests exclude each other (cron and a manual backfill at once): the second scans after the first is done.
    One that paused past its lease on an object store, and was taken over, finds the index changed or its staged
    files gone before it commits (ConflictError): it publishes nothing over what the new holder wrote.
    """
    with store.lease(INGEST_LOCK_KEY, INGEST_LEASE_SECONDS):
        finish_interrupted(store)
        seen = store.stat(INGEST_INDEX_KEY)  # before the scan reads it: what the index may replace
        found = scan(store, landing, kept)
        if not found.pending and not found.rebuilding:  # at most new times of files touched but unchanged
            store.replace_if(INGEST_INDEX_KEY, dumps_json(found.index_with([])), seen)
            return run_record([], [], set(), set())
        with contextlib.ExitStack() as stack:
            spill = stack.enter_context(DaySpill(settings.scratch_dir))
            arrival = sorted(range(len(found.pending)), key=lambda n: (found.pending[n][1].mtime_ns, n))
            position = {number: place for place, number in enumerate(arrival)}  # pending is by name
            files = [
                FileRows(name, stat, digest, (), number, found.run, position[number], landing.target(name))
                for number, (name, stat, digest) in enumerate(found.pending)
            ]
            for name, (stat, days) in sorted(found.rebuilding.items()):
                entry = found.index["files"][name]
                run, place = entry.get("rank", [0, 0])  # an index of an earlier version: the oldest rank
                files.append(FileRows(name, stat, entry["sha256"], (), len(files), run, place,
                                      landing.target(name), frozenset(days)))  # fmt: skip
            pool = stack.enter_context(concurrent.futures.ThreadPoolExecutor(READING_THREADS))
            read = list(pool.map(lambda rows: read_file(landing, rows, settings, timezone, spill), files))
            touched = _touched_days(read, found.index)
            unused = {day for day in touched if not kept(day)}
            bucketing = {"timezone": timezone, "source_timezone": settings.source_timezone}
            check_bucketing(store, landing, sorted(touched - unused), read, bucketing)
            order_index = found.index.get("order_index", {"bits": 0, "orders": 0})
            read_count = sum(rows.accepted.total() for rows in read)
            staging = staged_keys(bits_for(order_index["orders"] + read_count, order_index["bits"]))
            store.write_json(INGEST_JOURNAL_KEY, {"staging": staging})
            resolution = resolve_run(store, spill, unused, order_index["bits"], order_index["orders"], read_count, pool)
            touched |= set(resolution.displaced)
            unused |= {day for day in resolution.displaced if not kept(day)}
            late = {day for day in unused if day >= start_date}
            rebuilt = sorted(touched - unused)
            store.write_json(INGEST_JOURNAL_KEY, {"staging": staging + [staged_key(k) for k in _raw_keys(rebuilt)]})
            actions = list(resolution.actions)
            for staged in pool.map(
                lambda day: stage_day(store, day, read, spill, bucketing, resolution, settings.negative_amounts),
                rebuilt,
            ):
                actions += staged
        record = run_record(read, rebuilt, late, unused - late) | {"superseded_versions": resolution.superseded}
        index = found.index_with(read) | {"order_index": {"bits": resolution.bits, "orders": resolution.orders}}
        journal = {"actions": actions, "index": index, "record": record}
        check_still_ours(store, journal, seen)
        store.write_json(INGEST_JOURNAL_KEY, journal)
        publish(store, journal, seen)
        for day, request in found.asked.items():
            clear_rerun(store, RAW, day, RAW_STEP, request)
    for rows in read:
        with narrowed_to(rows.name):
            logger.info("etl: ingested %s: %s", landing.describe(rows.name), describe_rows(rows))
    for day in rebuilt:
        with narrowed_to(str(day)):
            logger.info("etl: raw partition of %s rebuilt from %s", day, ", ".join(r.name for r in read if r.gave(day)))
    for day, count in record["too_late"].items():
        with narrowed_to(str(day)):
            logger.warning(
                "etl: %d rows of %s arrived after retention retired the day or what rebuilding it needs (its "
                "processed partition or its rolling window's); not used",
                count,
                day,
            )
    for day, count in record["before_start_date"].items():
        with narrowed_to(str(day)):
            logger.warning("etl: %d rows of %s are before [etl] start_date; not used", count, day)
    return record


def finish_interrupted(store: Store) -> None:
    """Finish publishing what a killed ingest had staged in full, or drop what it had only begun to stage."""
    seen = store.stat(INGEST_INDEX_KEY)
    if not store.exists(INGEST_JOURNAL_KEY):
        return
    journal = store.read_json(INGEST_JOURNAL_KEY)
    if "actions" in journal:
        logger.warning("etl: finishing the ingest of %s, which an earlier run left half published",
                       ", ".join(entry["file"] for entry in journal["record"]["files"]))  # fmt: skip
        publish(store, journal, seen)
        return
    for key in journal["staging"]:
        store.remove(key)
    store.remove(INGEST_JOURNAL_KEY)


def check_still_ours(store: Store, journal: dict, seen: FileStat | None) -> None:
    """Before the journal commits the run: ConflictError when another ingest came between, so that nothing of this
    run is published over its work. One that took the lease over from this paused run has published an index (it
    is no longer the one ``seen``) or, finishing what it found, removed this run's staged files."""
    if store.stat(INGEST_INDEX_KEY) != seen:
        raise ConflictError(f"{store.describe(INGEST_INDEX_KEY)} changed since it was read: another ingest took "
                            "over; nothing of this run was published")  # fmt: skip
    gone = [keys[0] for action, *keys in journal["actions"] if action == "move" and not store.exists(keys[0])]
    if gone:
        raise ConflictError(f"{store.describe(gone[0])} and {len(gone) - 1} more staged files were removed by another "
                            "ingest that took over; nothing of this run was published")  # fmt: skip


def publish(store: Store, journal: dict, seen: FileStat | None) -> None:
    """Move each staged file into place (or remove a file the day no longer has), then the index, only over the
    one ``seen`` before it was read (fenced), and the record; every step can be repeated, so a journal is finished
    however often a run dies in it."""
    for action, *keys in journal["actions"]:
        if action == "move" and store.exists(keys[0]):
            store.move(keys[0], keys[1])
        elif action == "remove":
            store.remove(keys[0])
    store.replace_if(INGEST_INDEX_KEY, dumps_json(journal["index"]), seen)
    store.update_json(INGEST_RECORD_KEY, lambda current: _with_run((current or {}).get("runs", []), journal["record"]))
    store.remove(INGEST_JOURNAL_KEY)


def run_record(
    read: list[FileRows], rebuilt: list[datetime.date], late: set[datetime.date], early: set[datetime.date]
) -> dict:
    """What one ingest did, for the ingest record: files, rows per day, dropped columns, unused and undated rows."""

    def rows_of(day: datetime.date) -> int:
        return sum(rows.accepted[day] for rows in read)

    return {
        "at": clock.now().isoformat(timespec="seconds"),
        "files": [
            {
                "file": rows.name,
                "sha256": rows.sha256,
                "rows": {day.isoformat(): count for day, count in sorted(rows.accepted.items())},
                "dropped_columns": list(rows.dropped_columns),
            }
            for rows in read
        ],
        "rebuilt_days": [day.isoformat() for day in rebuilt],
        "too_late": {day.isoformat(): rows_of(day) for day in sorted(late)},
        "before_start_date": {day.isoformat(): rows_of(day) for day in sorted(early)},
        "undated_row_count": sum(rows.undated_count for rows in read),
        "undated_rows": [row for rows in read for row in rows.undated][:UNDATED_ROWS_LISTED],
    }


def write_day_without_orders(store: Store, day: datetime.date) -> None:
    """The raw partition of a day no export held an order of: its orders file with the header alone (unless an
    ingest gave the day rows meanwhile). Re-read, such a day is the same, so a rerun's request for it is met."""
    with store.lease(INGEST_LOCK_KEY, INGEST_LEASE_SECONDS):
        request = rerun_asked(store, RAW, day, RAW_STEP)
        if not store.exists(file_key(RAW, day, ORDERS)):
            store.write_json(file_key(RAW, day, MANIFEST), {"execution_date": day.isoformat(), "files": []})
            write_table(store, file_key(RAW, day, ORDERS), _no_orders())
        clear_rerun(store, RAW, day, RAW_STEP, request)


def read_file(
    landing: LocalLanding, rows: FileRows, settings: LandingSettings, timezone: str, spill: DaySpill
) -> FileRows:
    """Stream one export file, a batch at a time, into the spill by business day, and its orders' versions by
    group of index shards; LandingFileError names a broken file (what it set aside is then dropped with the
    spill). ``rows`` says which file, and gets what it gave."""
    name = rows.name
    try:
        header, batches = read_export(
            lambda: landing.open(name), settings.delimiter, settings.encoding, landing.max_decoded_bytes(name)
        )
        if not header:
            raise ExportError("it is empty")
        plan = plan_columns(
            header, settings.column_map, settings.defaults, settings.rows == "line_items", settings.version_column
        )
    except (ExportError, ExportReadError, pa.ArrowInvalid, OSError, UnicodeDecodeError, EOFError) as error:
        raise _file_error(landing, name, error, settings.encoding) from None
    rows.dropped_columns = plan.dropped
    first_line = 2
    order_lines = OrderLines(plan) if settings.rows == "line_items" else None
    value_format = settings.value_format(timezone)
    for batch in _checked(batches, landing, name, settings.encoding):
        if batch.num_rows:
            unfit = unfit_numbers(batch, plan, value_format)
            versions, unreadable = version_values(batch, plan)
            earlier = first_reasons(unfit, unreadable)
            orders = canonical_orders(batch, plan, value_format)
            lines = np.arange(first_line, first_line + batch.num_rows)
            if order_lines is None:
                _set_aside(orders, lines, versions, earlier, plan, rows, settings, value_format, spill)
            else:
                order_lines.add(orders, lines, versions, earlier)
            first_line += batch.num_rows
    rows.row_count = first_line - 2
    if order_lines is not None:
        orders = order_lines.orders()
        rows.row_count = orders[0].num_rows
        _set_aside(*orders, plan, rows, settings, value_format, spill)
    if first_line == 2:
        raise _file_error(landing, name, ExportError("it holds no orders (a header only)"), settings.encoding)
    for reason, count in rows.unreadable.items():
        if count > settings.max_rejected_share * rows.row_count:
            _, hint = _settings_behind(plan, value_format)[reason]
            problem = (
                f"{count} of {rows.row_count} rows refused as {reason}, e.g. {rows.examples[reason]!r}; {hint} "
                f"(at most [validation] max_rejected_share {settings.max_rejected_share:.2%} of a file's rows may be "
                "refused for one reason)"
            )
            raise _file_error(landing, name, ExportError(problem), settings.encoding)
    return rows


def check_bucketing(
    store: Store, landing: LocalLanding, days: list[datetime.date], read: list[FileRows], bucketing: dict[str, str]
) -> None:
    """Refuse to add rows to a day whose other rows were given their business day in other zones: the day would
    mix two calendars. LandingFileError names the files, the day, the change and what to do."""
    names = {rows.name for rows in read}
    for day in days:
        key = file_key(RAW, day, MANIFEST)
        manifest = store.read_json(key) if store.exists(key) else {}
        earlier = manifest.get("bucketed_with", bucketing)
        if earlier != bucketing and any(entry["file"] not in names for entry in manifest["files"]):
            files = ", ".join(landing.describe(rows.name) for rows in read if rows.gave(day))
            raise LandingFileError(
                f"cannot ingest {files}: it holds rows of {day}, whose other rows were given their day with [etl] "
                f"timezone {earlier['timezone']} and [landing] source_timezone {earlier['source_timezone']}, now "
                f"{bucketing['timezone']} and {bucketing['source_timezone']}; set those back, or re-bucket the "
                "history from the landing files (README: Bring your own data, Changing zones); nothing was ingested"
            )


def stage_day(
    store: Store,
    day: datetime.date,
    read: list[FileRows],
    spill: DaySpill,
    bucketing: dict[str, str],
    resolution: Resolution,
    negative_amounts: str,
) -> list[list[str]]:
    """Write the next version of ``day``'s raw partition beside the current one; returns how to publish it.

    The rows of the files just read take the place of their earlier rows; the files not read keep the rows
    the manifest says they gave, in their order, but for orders a later version replaced; of the rows just read,
    only orders' latest versions are kept. Every file's rows are ordered by file name, then line. The orders
    file is published last: it marks the rewrite.
    """
    keys = dict(zip(_RAW_FILES, _raw_keys([day]), strict=True))
    listed = store.read_json(keys[MANIFEST])["files"] if store.exists(keys[MANIFEST]) else []
    orders = _earlier_orders(store, day, listed)
    refused = _earlier_refusals(store, day)
    entries = {entry["file"]: entry for entry in listed}
    for rows in read:
        for earlier in (orders, refused, entries):
            earlier.pop(rows.name, None)
    displaced = resolution.displaced.get(day)
    if displaced:
        for name, table in orders.items():
            orders[name] = _without(table, displaced, negative_amounts)
            entries[name] = {**entries[name], "rows": orders[name].num_rows}
    for rows in read:
        if not rows.gave(day):
            continue
        part = {kind: spill.read(f"{kind}-{rows.number}", day) for kind in (_ACCEPTED, _REFUSED)}
        accepted = part[_ACCEPTED] if part[_ACCEPTED] is not None else _no_orders()
        dropped = resolution.dropped.get((rows.number, day))  # lines of versions that lost: never of no rows
        if dropped:
            lost = pc.is_in(accepted.column(LINE), pa.array(sorted(dropped), pa.int64()))
            accepted = accepted.filter(pc.invert(lost))
        orders[rows.name] = accepted
        refused[rows.name] = part[_REFUSED]
        entries[rows.name] = {
            "file": rows.name,
            "size": rows.stat.size,
            "sha256": rows.sha256,
            "rows": accepted.num_rows,
            "rejected_rows": rows.refused[day],
            **({"superseded_rows": len(dropped)} if dropped else {}),
        }
    names = sorted(entries)
    actions = []
    refusals = [_landed(refused[n], REFUSED_COLUMNS) for n in names if refused.get(n) is not None]
    if refusals:
        write_table(store, staged_key(keys[REJECTED_ROWS]), pa.concat_tables(refusals))
        actions.append(["move", staged_key(keys[REJECTED_ROWS]), keys[REJECTED_ROWS]])
    else:
        actions.append(["remove", keys[REJECTED_ROWS]])
    manifest = {"execution_date": day.isoformat(), "files": [entries[n] for n in names], "bucketed_with": bucketing}
    store.write_json(staged_key(keys[MANIFEST]), manifest)
    tables = [_landed(orders[n]) for n in names]
    write_table(store, staged_key(keys[ORDERS]), pa.concat_tables(tables) if tables else _no_orders())
    actions += [["move", staged_key(keys[name]), keys[name]] for name in (MANIFEST, ORDERS)]
    return actions


def describe_rows(rows: FileRows) -> str:
    days = ", ".join(f"{day}: {count}" for day, count in sorted(rows.accepted.items()))
    return f"{days or 'no rows'}; {rows.refused.total() + rows.undated_count} rows refused"


def _set_aside(
    orders: pa.Table,
    line_numbers: np.ndarray,
    versions: np.ndarray,
    earlier: pa.Array | None,
    plan: ColumnPlan,
    rows: FileRows,
    settings: LandingSettings,
    value_format: ValueFormat,
    spill: DaySpill,
) -> None:
    """Date and check orders made canonical (a batch of an export, or a file's line items gathered), and add them
    to the spill by day, and their versions by group. ``earlier`` are reasons found before (see refusals)."""
    orders, days = dated(orders, value_format)
    if rows.rebuilding:  # only the days being rebuilt: the file's other rows stand where they are
        wanted = pc.fill_null(pc.is_in(days, pa.array(sorted(rows.rebuilding), pa.date32())), False)
        orders, days, line_numbers = orders.filter(wanted), days.filter(wanted), line_numbers[np.asarray(wanted)]
        versions = versions[np.asarray(wanted)]
        earlier = earlier.filter(wanted) if earlier is not None else None
    numbers = amounts(orders)
    reasons = refusals(orders, days, plan, settings.max_quantity, settings.max_unit_price, earlier, numbers)
    usable = pc.is_null(reasons)
    refunds = refund_rows(orders, settings.negative_amounts, numbers)
    if reasons.null_count < len(reasons):
        _count_unreadable(orders, reasons, plan, value_format, rows)
        refused = orders.filter(pc.invert(usable))
        lines = pa.array(line_numbers, pa.int64()).filter(pc.invert(usable))
        refused = refused.append_column(LINE, pc.cast(lines, pa.string()))
        refused = refused.append_column(REASON, reasons.filter(pc.invert(usable)))
        refused = refused.append_column(SOURCE_FILE, pa.array([rows.name] * refused.num_rows, pa.string()))
        for day, part in rows_by_day(refused.select(list(REFUSED_COLUMNS)), days.filter(pc.invert(usable))):
            if day is None:
                rows.undated_count += part.num_rows
                room = UNDATED_ROWS_LISTED - len(rows.undated)
                rows.undated += part.select([SOURCE_FILE, LINE, REASON]).slice(0, max(room, 0)).to_pylist()
                continue
            spill.add(f"{_REFUSED}-{rows.number}", day, part)
            rows.refused[day] += part.num_rows
        orders, days, refunds = orders.filter(usable), days.filter(usable), refunds[np.asarray(usable)]
    lines = pa.array(line_numbers, pa.int64()).filter(usable)
    records = pa.table(
        [orders.column("order_id"), pa.array(refunds), days, pa.array(versions[np.asarray(usable)]),
         pa.repeat(pa.scalar(rows.run, pa.int64()), orders.num_rows),
         pa.repeat(pa.scalar(rows.position, pa.int64()), orders.num_rows), lines,
         pa.repeat(pa.scalar(rows.number, pa.int64()), orders.num_rows)],
        schema=READ_SCHEMA,
    )  # fmt: skip
    for group, part in by_group(records):
        spill.add(VERSIONS, group, part)
    for day, part in rows_by_day(orders.append_column(LINE, lines), days):
        spill.add(f"{_ACCEPTED}-{rows.number}", day, part)
        rows.accepted[day] += part.num_rows


def _settings_behind(plan: ColumnPlan, value_format: ValueFormat) -> dict[str, tuple[str, str]]:
    """The refusal reasons a [landing] setting may explain: each with its column and the settings to look at."""
    behind = {f"unparseable {plan.source_of('order_timestamp')}": ("order_timestamp", value_format.time_hint())}
    for name in ("quantity", "unit_price", "total_amount"):
        if name in plan.rename.values():
            behind[f"non-numeric or non-finite {plan.source_of(name)}"] = (name, value_format.number_hint())
            behind[
                f"{plan.source_of(name)} is not a number with [landing] decimal {value_format.decimal!r} and "
                f"thousands {value_format.thousands!r}"
            ] = (name, value_format.number_hint())
    return behind


def _count_unreadable(
    orders: pa.Table, reasons: pa.Array, plan: ColumnPlan, value_format: ValueFormat, rows: FileRows
) -> None:
    """Count a batch's rows refused for a reason a setting may explain, and keep each reason's first value."""
    for reason, (column, _) in _settings_behind(plan, value_format).items():
        matching = pc.fill_null(pc.equal(reasons, reason), False)
        count = pc.sum(matching).as_py() or 0
        if count:
            rows.unreadable[reason] += count
            rows.examples.setdefault(reason, orders.column(column).filter(matching)[0].as_py())


def _checked(batches: Iterator[pa.Table], landing: LocalLanding, name: str, encoding: str) -> Iterator[pa.Table]:
    """The batches of an export, a read error raised as the LandingFileError that names the file."""
    try:
        yield from batches
    except (ExportReadError, pa.ArrowInvalid, OSError, UnicodeDecodeError, EOFError) as error:
        raise _file_error(landing, name, error, encoding) from None


def _file_error(landing: LocalLanding, name: str, error: Exception, encoding: str) -> LandingFileError:
    return LandingFileError(
        f"cannot ingest {landing.describe(name)}: {_problem(error, encoding)}. Fix the file or move it out of the "
        f"landing directory {landing.describe()}; nothing was ingested"
    )


def _touched_days(read: list[FileRows], index: dict) -> set[datetime.date]:
    """The days the files just read give rows to, or gave rows to when the index last saw them."""
    touched: set[datetime.date] = set()
    for rows in read:
        touched |= set(rows.accepted) | set(rows.refused)
        if rows.rebuilding:  # every day read again is rebuilt, also one the file no longer gives rows to
            touched |= rows.rebuilding
            continue
        touched |= {datetime.date.fromisoformat(day) for day in index["files"].get(rows.name, {}).get("days", {})}
    return touched


def _index(store: Store) -> dict:
    return store.read_json(INGEST_INDEX_KEY) if store.exists(INGEST_INDEX_KEY) else {"files": {}}


def _refuse_absent(
    landing: LocalLanding, rebuilding: dict[str, set[datetime.date]], listed: dict[str, FileStat]
) -> None:
    """LandingFileError naming the days to read again whose files (``rebuilding``) are gone from ``listed``."""
    absent = sorted(set(rebuilding) - set(listed))
    if absent:
        days = sorted({day for name in absent for day in rebuilding[name]})
        raise LandingFileError(
            f"cannot rebuild the raw partition of {', '.join(map(str, days))}: it came from "
            f"{', '.join(landing.describe(name) for name in absent)}, no longer in the landing directory; put them "
            "back, or remove their entries from the ingest index to give up their rows"
        )


def _raw_keys(days: list[datetime.date]) -> list[str]:
    return [file_key(RAW, day, name) for day in days for name in _RAW_FILES]


def _with_run(runs: list[dict], record: dict) -> dict | None:
    """The record's runs with this one last (None when a finished journal already put it there)."""
    if runs and runs[-1] == record:
        return None
    return {"runs": [*runs, record][-RECORD_RUNS_KEPT:]}


def _earlier_orders(store: Store, day: datetime.date, listed: list[dict]) -> dict[str, pa.Table]:
    """The rows each listed file gave the day's orders file, split by the manifest's counts, in its order."""
    key = file_key(RAW, day, ORDERS)
    if not listed or not store.exists(key):
        return {}
    table = read_text_csv(store, key)
    segments, offset = {}, 0
    for entry in listed:
        segments[entry["file"]] = table.slice(offset, entry["rows"])
        offset += entry["rows"]
    return segments


def _without(table: pa.Table, orders: set[tuple[str, bool]], negative_amounts: str) -> pa.Table:
    """``table``'s rows but for the given orders (order_id, refund)."""
    refunds = pa.array(refund_rows(table, negative_amounts))
    ids = table.column("order_id")
    gone = [
        pc.and_(pc.is_in(ids, pa.array([i for i, r in orders if r == refund], pa.string())), kind)
        for refund, kind in ((False, pc.invert(refunds)), (True, refunds))
    ]
    return table.filter(pc.invert(pc.fill_null(pc.or_(*gone), False)))


def _earlier_refusals(store: Store, day: datetime.date) -> dict[str, pa.Table]:
    """The day's refused rows by the file they came from."""
    key = file_key(RAW, day, REJECTED_ROWS)
    if not store.exists(key):
        return {}
    table = read_text_csv(store, key)
    sources = table.column(SOURCE_FILE)
    return {name: table.filter(pc.equal(sources, name)) for name in pc.unique(sources).to_pylist()}


def _problem(error: Exception, encoding: str) -> str:
    """What is wrong with a file, in the words of the setting that can fix it."""
    if isinstance(error, UnicodeDecodeError) or "UTF8" in str(error):
        return f"its text is not valid {encoding} ({error}); set [landing] encoding to the file's encoding"
    if isinstance(error, OSError | EOFError):
        return f"it cannot be read ({error}): broken or truncated"
    return str(error)


def _seen(entry: dict | None, stat: FileStat) -> bool:
    """Whether the index entry is of this file as it is now: same size, time and version token. The token tells a
    rewrite within one second on S3 (whose times have that grain) by its ETag; locally the inode changes only when
    a file is replaced, and a copy of the same bytes is then hashed once, found unchanged and not read. An entry of
    an older index, without a token, is judged by size and time."""
    return entry is not None and (entry["size"], entry["mtime_ns"], entry.get("version", stat.version)) == (
        stat.size,
        stat.mtime_ns,
        stat.version,
    )


def _no_orders() -> pa.Table:
    return pa.table({name: pa.array([], pa.string()) for name in LANDED_COLUMNS})


def _landed(table: pa.Table, columns: tuple[str, ...] = LANDED_COLUMNS) -> pa.Table:
    """``columns`` of a landed raw file's rows, in order (a file an earlier version wrote lacks refunded_amount)."""
    empty = pa.nulls(table.num_rows, pa.string())
    return pa.table({name: table.column(name) if name in table.column_names else empty for name in columns})
