"""The Hive-style partition layout: the one place that formats and parses ``year=/month=/day=``."""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Iterable
from pathlib import Path

RAW = "raw"
PROCESSED = "processed"
METRICS = "metrics"
CLEANUP = "cleanup"
LAYERS = (RAW, PROCESSED, METRICS, CLEANUP)
RETAINED_LAYERS = (RAW, PROCESSED, METRICS)

_YEAR = re.compile(r"year=([0-9]{4})")
_MONTH = re.compile(r"month=([0-9]{2})")
_DAY = re.compile(r"day=([0-9]{2})")


def partition_path(base_dir: str | os.PathLike, layer: str, date: datetime.date) -> Path:
    """``<base>/<layer>/year=YYYY/month=MM/day=DD``."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}")
    return Path(base_dir, layer, f"year={date.year:04d}", f"month={date.month:02d}", f"day={date.day:02d}")


def list_partitions(base_dir: str | os.PathLike, layer: str) -> dict[datetime.date, Path]:
    """Every well-formed day partition of a layer, by date, from one walk of its directory tree.

    Anything that is not a ``year=/month=/day=`` directory naming a real date is ignored.
    """
    found: dict[datetime.date, Path] = {}
    for year, year_path in _subdirs(Path(base_dir, layer), _YEAR):
        for month, month_path in _subdirs(year_path, _MONTH):
            for day, day_path in _subdirs(month_path, _DAY):
                date = _date_or_none(year, month, day)
                if date is not None:
                    found[date] = day_path
    return found


def partition_of(base_dir: str | os.PathLike, path: str | os.PathLike) -> tuple[str, datetime.date] | None:
    """(layer, date) if ``path`` is exactly a day partition directory under ``base_dir``, else None."""
    try:
        parts = Path(path).relative_to(base_dir).parts
    except ValueError:
        return None
    if len(parts) != 4 or parts[0] not in LAYERS:
        return None
    numbers = [_number(pattern, name) for pattern, name in zip((_YEAR, _MONTH, _DAY), parts[1:], strict=True)]
    date = None if None in numbers else _date_or_none(*numbers)
    return None if date is None else (parts[0], date)


def dates_with_files(base_dir: str | os.PathLike, layer: str, filenames: Iterable[str]) -> set[datetime.date]:
    """Dates whose partition in ``layer`` holds every one of ``filenames``."""
    wanted = set(filenames)
    complete = set()
    for date, path in list_partitions(base_dir, layer).items():
        with os.scandir(path) as entries:
            if wanted <= {entry.name for entry in entries}:
                complete.add(date)
    return complete


def _subdirs(path: Path, pattern: re.Pattern[str]) -> list[tuple[int, Path]]:
    """(number, path) of each real subdirectory whose name is ``pattern``, e.g. ``month=07`` -> 7."""
    try:
        with os.scandir(path) as entries:
            return [
                (number, Path(entry.path))
                for entry in entries
                if (number := _number(pattern, entry.name)) is not None and entry.is_dir(follow_symlinks=False)
            ]
    except FileNotFoundError:
        return []


def _number(pattern: re.Pattern[str], name: str) -> int | None:
    match = pattern.fullmatch(name)
    return int(match.group(1)) if match else None


def _date_or_none(year: int, month: int, day: int) -> datetime.date | None:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None
