"""The landing source: new and changed export files become raw partitions, each file read once.

One ingest reads every landing file that is new or whose bytes changed since the ingest index last saw it,
maps and dates its rows, checks every such file before anything is written (a broken file stops the ingest
and names itself), then rewrites the raw partition of each day the files touch: the day's rows from every
file, ordered by file name and then line, with the rows refused and a manifest of the files that fed it.
A rewritten raw file is newer than what was built from it, so the day and the windows after it are rebuilt
by the next range (see :mod:`etl.state`). Rows of a day retention already retired are reported, not used.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging

import pyarrow as pa
import pyarrow.compute as pc

from etl.csv_io import ORDER_COLUMNS, read_export, read_text_csv, write_table
from etl.ingest import ExportError, business_days, canonical_orders, plan_columns, refusals
from etl.storage import FileStat, Store
from etl.storage.landing import LocalLanding
from etl.storage.layout import (
    INGEST,
    INGEST_INDEX_KEY,
    INGEST_RECORD_KEY,
    MANIFEST,
    ORDERS,
    RAW,
    REJECTED_ROWS,
    file_key,
)

logger = logging.getLogger("luigi-interface")

SOURCE_FILE, LINE, REASON = "source_file", "line", "reason"
REFUSED_COLUMNS = (SOURCE_FILE, LINE, REASON, *ORDER_COLUMNS)
RECORD_RUNS_KEPT = 100
INGEST_LOCK_KEY = f"{INGEST}/lock/ingest"  # held for a whole ingest (ingest/ itself guards the index and record)


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


@dataclasses.dataclass
class FileRows:
    """What one export file holds, by business day: usable rows and refused rows (with their line)."""

    name: str
    stat: FileStat  # size and time when the ingest found it: what the index records
    sha256: str
    accepted: dict[datetime.date, pa.Table]
    refused: dict[datetime.date | None, pa.Table]
    dropped_columns: tuple[str, ...]


@dataclasses.dataclass
class LandingScan:
    """The landing directory against the ingest index."""

    pending: list[tuple[str, FileStat, str]]  # files whose bytes the index has not seen: (name, stat, sha256)
    index: dict  # the index, with the new times of files touched but unchanged


def up_to_date(store: Store, landing: LocalLanding) -> bool:
    """Whether the index has seen every landing file at its current size and time (no file is read)."""
    known = (store.read_json(INGEST_INDEX_KEY) if store.exists(INGEST_INDEX_KEY) else {"files": {}})["files"]
    return all(_seen(known.get(name), stat) for name, stat in landing.files())


def scan(store: Store, landing: LocalLanding) -> LandingScan:
    """Which landing files are new or changed: size and time first, the bytes' sha256 when those differ."""
    index = store.read_json(INGEST_INDEX_KEY) if store.exists(INGEST_INDEX_KEY) else {"files": {}}
    known = index["files"]
    pending = []
    for name, stat in landing.files():
        entry = known.get(name)
        if _seen(entry, stat):
            continue
        digest = landing.sha256(name)
        if entry is not None and entry["sha256"] == digest:
            entry["mtime_ns"] = stat.mtime_ns
            continue
        pending.append((name, stat, digest))
    return LandingScan(pending, index)


def ingest(
    store: Store,
    landing: LocalLanding,
    settings: LandingSettings,
    timezone: str,
    start_date: datetime.date,
    retired_raw: frozenset[datetime.date],
) -> dict:
    """Ingest every new or changed landing file; returns the run's record (also kept under ``ingest/``).

    Every file is read and checked before any partition is written: LandingFileError names a broken one.
    Rows of a day before ``start_date`` or already retired by retention (``retired_raw``) are counted, not used.
    Ingests exclude each other (cron and a manual backfill at once): the second scans after the first is done.
    """
    with store.exclusive(INGEST_LOCK_KEY):
        found = scan(store, landing)
        read = [read_file(landing, name, stat, digest, settings, timezone) for name, stat, digest in found.pending]
        return _write(store, landing, found.index, read, start_date, retired_raw)


def _write(
    store: Store,
    landing: LocalLanding,
    index: dict,
    read: list[FileRows],
    start_date: datetime.date,
    retired_raw: frozenset[datetime.date],
) -> dict:
    """Rewrite the days the files just read touch, then the index and the record."""
    touched: set[datetime.date] = set()
    for rows in read:
        touched |= set(rows.accepted) | {day for day in rows.refused if day is not None}
        touched |= {datetime.date.fromisoformat(day) for day in index["files"].get(rows.name, {}).get("days", {})}
    unused = {day for day in touched if day in retired_raw or day < start_date}
    for day in sorted(touched - unused):
        rewrite_day(store, day, read)
    for rows in read:
        index["files"][rows.name] = {
            "size": rows.stat.size,
            "mtime_ns": rows.stat.mtime_ns,
            "sha256": rows.sha256,
            "days": {day.isoformat(): table.num_rows for day, table in sorted(rows.accepted.items())},
        }
    store.update_json(INGEST_INDEX_KEY, lambda current: merged_index(current, index))
    record = run_record(read, sorted(touched - unused), unused, retired_raw)
    for rows in read:
        logger.info("etl: ingested %s: %s", landing.describe(rows.name), describe_rows(rows))
    for day in sorted(touched - unused):
        logger.info("etl: raw partition of %s rebuilt from %s", day, ", ".join(sources_of(day, read)))
    for day, count in record["too_late"].items():
        logger.warning("etl: %d rows of %s arrived after retention retired the day; not used", count, day)
    for day, count in record["before_start_date"].items():
        logger.warning("etl: %d rows of %s are before [etl] start_date; not used", count, day)
    store.update_json(
        INGEST_RECORD_KEY, lambda current: {"runs": [*(current or {}).get("runs", []), record][-RECORD_RUNS_KEPT:]}
    )
    return record


def run_record(
    read: list[FileRows], rebuilt: list[datetime.date], unused: set[datetime.date], retired_raw: frozenset
) -> dict:
    """What one ingest did, for the ingest record: files, rows per day, dropped columns, unused and undated rows."""

    def rows_of(day: datetime.date) -> int:
        return sum(rows.accepted[day].num_rows for rows in read if day in rows.accepted)

    return {
        "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "files": [
            {
                "file": rows.name,
                "sha256": rows.sha256,
                "rows": {day.isoformat(): table.num_rows for day, table in sorted(rows.accepted.items())},
                "dropped_columns": list(rows.dropped_columns),
            }
            for rows in read
        ],
        "rebuilt_days": [day.isoformat() for day in rebuilt],
        "too_late": {day.isoformat(): rows_of(day) for day in sorted(unused) if day in retired_raw},
        "before_start_date": {day.isoformat(): rows_of(day) for day in sorted(unused) if day not in retired_raw},
        "undated_rows": [
            row
            for rows in read
            if None in rows.refused
            for row in rows.refused[None].select([SOURCE_FILE, LINE, REASON]).to_pylist()
        ],
    }


def write_day_without_orders(store: Store, day: datetime.date) -> None:
    """The raw partition of a day no export held an order of: its orders file with the header alone."""
    store.write_json(file_key(RAW, day, MANIFEST), {"execution_date": day.isoformat(), "files": []})
    write_table(store, file_key(RAW, day, ORDERS), _no_orders())


def read_file(
    landing: LocalLanding, name: str, stat: FileStat, digest: str, settings: LandingSettings, timezone: str
) -> FileRows:
    """Read one export file whole and sort its rows by business day; LandingFileError names a broken file."""
    try:
        header, batches = read_export(lambda: landing.open(name), settings.delimiter, settings.encoding)
        if not header:
            raise ExportError("it is empty")
        plan = plan_columns(header, settings.column_map)
        tables = [batch for batch in batches if batch.num_rows]
        if not tables:
            raise ExportError("it holds no orders (a header only)")
    except (ExportError, pa.ArrowInvalid, OSError, UnicodeDecodeError, EOFError) as error:
        raise LandingFileError(
            f"cannot ingest {landing.describe(name)}: {_problem(error, settings.encoding)}. Fix the file or move it "
            f"out of the landing directory {landing.describe()}; nothing was ingested"
        ) from None
    export = pa.concat_tables(tables)
    orders = canonical_orders(export, plan)
    lines = pc.cast(pa.array(range(2, orders.num_rows + 2), type=pa.int64()), pa.string())
    days = business_days(orders, timezone)
    order_id_name = next(n for n, canonical in plan.rename.items() if canonical == "order_id")
    given = tuple(plan.rename.values())
    reasons = refusals(orders, days, given, order_id_name, settings.max_quantity, settings.max_unit_price)
    usable = pc.is_null(reasons)
    with_line = orders.append_column(LINE, lines)
    accepted_rows = with_line.filter(usable)
    accepted_days = days.filter(usable)
    refused_rows = (
        with_line.filter(pc.invert(usable))
        .append_column(REASON, reasons.filter(pc.invert(usable)))
        .append_column(SOURCE_FILE, pa.array([name] * (orders.num_rows - pc.sum(usable).as_py()), pa.string()))
    )
    refused_days = days.filter(pc.invert(usable))
    return FileRows(
        name=name,
        stat=stat,
        sha256=digest,
        accepted=_by_day(accepted_rows, accepted_days),
        refused=_by_day(refused_rows, refused_days, keep_undated=True),
        dropped_columns=plan.dropped,
    )


def rewrite_day(store: Store, day: datetime.date, read: list[FileRows]) -> None:
    """The raw partition of ``day`` with the rows of the files just read in place of their earlier rows.

    The files not read keep the rows the manifest says they gave, in their order; every file's rows are
    ordered by file name, then line. The orders file is written last: it marks the rewrite.
    """
    manifest_key = file_key(RAW, day, MANIFEST)
    listed = store.read_json(manifest_key)["files"] if store.exists(manifest_key) else []
    fresh = {rows.name for rows in read}
    orders = _earlier_orders(store, day, listed)
    refused = _earlier_refusals(store, day)
    entries = {entry["file"]: entry for entry in listed}
    for name in fresh:
        for earlier in (orders, refused, entries):
            earlier.pop(name, None)
    for rows in read:
        if day in rows.accepted or day in rows.refused:
            orders[rows.name] = rows.accepted[day] if day in rows.accepted else _no_orders()
            refused[rows.name] = rows.refused.get(day)
            entries[rows.name] = {
                "file": rows.name,
                "size": rows.stat.size,
                "sha256": rows.sha256,
                "rows": rows.accepted[day].num_rows if day in rows.accepted else 0,
                "rejected_rows": rows.refused[day].num_rows if day in rows.refused else 0,
            }
    names = sorted(entries)
    refusals = [refused[n].select(list(REFUSED_COLUMNS)) for n in names if refused.get(n) is not None]
    if refusals:
        write_table(store, file_key(RAW, day, REJECTED_ROWS), pa.concat_tables(refusals))
    else:
        store.remove(file_key(RAW, day, REJECTED_ROWS))
    store.write_json(manifest_key, {"execution_date": day.isoformat(), "files": [entries[n] for n in names]})
    tables = [orders[n].select(list(ORDER_COLUMNS)) for n in names]
    write_table(store, file_key(RAW, day, ORDERS), pa.concat_tables(tables) if tables else _no_orders())


def merged_index(current: dict | None, updated: dict) -> dict:
    """The index as stored, with this run's files (and the new times of unchanged files) in it."""
    files = {**(current or {}).get("files", {}), **updated["files"]}
    return {"files": dict(sorted(files.items()))}


def describe_rows(rows: FileRows) -> str:
    days = ", ".join(f"{day}: {table.num_rows}" for day, table in sorted(rows.accepted.items()))
    refused = sum(table.num_rows for table in rows.refused.values())
    return f"{days or 'no rows'}; {refused} rows refused"


def sources_of(day: datetime.date, read: list[FileRows]) -> list[str]:
    return [rows.name for rows in read if day in rows.accepted or day in rows.refused]


def _by_day(table: pa.Table, days: pa.Array, keep_undated: bool = False) -> dict:
    """``table``'s rows grouped by ``days`` (rows without a day under None when kept), in file order."""
    groups: dict = {}
    for day in pc.unique(days).to_pylist():
        if day is None and not keep_undated:
            continue
        mask = pc.is_null(days) if day is None else pc.fill_null(pc.equal(days, pa.scalar(day, pa.date32())), False)
        groups[day] = table.filter(mask)
    return groups


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
    """Whether the index entry is of this file as it is now (same size and time)."""
    return entry is not None and (entry["size"], entry["mtime_ns"]) == (stat.size, stat.mtime_ns)


def _no_orders() -> pa.Table:
    return pa.table({name: pa.array([], pa.string()) for name in ORDER_COLUMNS})
