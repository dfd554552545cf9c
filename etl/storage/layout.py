"""The Hive-style partition layout: the one place that formats and parses ``year=/month=/day=``.

Locations are store keys: ``/``-separated paths relative to the base, the same for a local
directory and, later, an object-store prefix.
"""

from __future__ import annotations

import datetime
import re

RAW = "raw"
PROCESSED = "processed"
METRICS = "metrics"
CLEANUP = "cleanup"
INGEST = "ingest"  # not partitioned: the landing source's index and records
LAYERS = (RAW, PROCESSED, METRICS, CLEANUP, INGEST)
RETAINED_LAYERS = (RAW, PROCESSED, METRICS)
PARTITION_LEVELS = ("year", "month", "day")  # the Hive partition keys below a layer, outermost first
PARTITION_DEPTH = len(PARTITION_LEVELS)

# The files of a day partition, by layer, and the two files outside partitions.
ORDERS = "orders.csv"
MANIFEST = "manifest.json"  # the landing files that fed a raw partition
REJECTED_ROWS = "rejected_rows.csv"
VALIDATION_REPORT = "validation_report.json"
VALIDATION_FAILED = "validation_failed.json"
PROCESSED_ORDERS = "orders_processed.csv"
DAILY_SUMMARY = "daily_summary.json"
ROLLING_METRICS = "rolling_metrics.json"
DAILY_REPORT = "daily_report.json"
CLEANUP_REPORT = "cleanup_report.json"
LATEST_REPORT_KEY = f"{METRICS}/latest_daily_report.json"
RETIRED_DAYS_KEY = f"{CLEANUP}/retired_days.json"
INGEST_INDEX_KEY = f"{INGEST}/index.json"
INGEST_RECORD_KEY = f"{INGEST}/record.json"
INGEST_JOURNAL_KEY = f"{INGEST}/journal.json"  # an ingest between writing its days and publishing them
PROBE_KEY_PREFIX = f"{INGEST}/.probe-"  # an object store's conditional writes are tried here, once per process

_PARTS = (re.compile(r"year=([0-9]{4})"), re.compile(r"month=([0-9]{2})"), re.compile(r"day=([0-9]{2})"))


def partition_key(layer: str, date: datetime.date) -> str:
    """``<layer>/year=YYYY/month=MM/day=DD``."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}")
    return f"{layer}/year={date.year:04d}/month={date.month:02d}/day={date.day:02d}"


def file_key(layer: str, date: datetime.date, filename: str) -> str:
    """The key of one file in one day partition."""
    if "/" in filename or filename in ("", ".", ".."):
        raise ValueError(f"{filename!r} is not a file name")
    return f"{partition_key(layer, date)}/{filename}"


def staged_key(key: str) -> str:
    """Where a file's next version waits, hidden beside it, until an ingest publishes it."""
    directory, _, name = key.rpartition("/")
    return f"{directory}/.{name}.staged"


def checked_key(key: str) -> str:
    """``key`` itself when it names a place in one of the layers, else ValueError: no store reads or writes
    outside its layout (an absolute path, ``..``, an empty segment)."""
    layer = key.partition("/")[0]
    if layer not in LAYERS or f"/{key}/".count("/./") or "/../" in f"/{key}/" or "//" in f"/{key}/":
        raise ValueError(f"{key!r} is not a key of the pipeline's layout")
    return key


def part_number(level: int, name: str) -> int | None:
    """The number in a directory name of partition level ``level`` (0 year, 1 month, 2 day), or None."""
    match = _PARTS[level].fullmatch(name)
    return int(match.group(1)) if match else None


def date_of(year: int, month: int, day: int) -> datetime.date | None:
    """The date named by three partition numbers, or None when there is no such day (``day=31`` in April)."""
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def partition_of_key(key: str) -> tuple[str, datetime.date] | None:
    """(layer, date) if ``key`` is exactly a day partition's key, else None."""
    parts = key.split("/")
    if len(parts) != 1 + PARTITION_DEPTH or parts[0] not in LAYERS:
        return None
    numbers = [part_number(level, name) for level, name in enumerate(parts[1:])]
    if None in numbers:
        return None
    date = date_of(*numbers)
    return None if date is None else (parts[0], date)
