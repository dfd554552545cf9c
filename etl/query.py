"""The pipeline's days read back as one frame: for a notebook, a script or the dashboard.

``load_days`` hands pyarrow exactly the partitions of a range that the day state (:mod:`etl.state`) says are built,
as a Hive-partitioned CSV dataset on the store's own file system, reading only the columns asked for;
``load_summaries`` reads the same days' summaries. Each day of the range that is not there is named with its state
and why (a :class:`MissingDaysWarning`, or :class:`MissingDaysError` with ``strict=True``), never left out silently.
Reading never writes.
"""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from etl import clock, run_settings
from etl.csv_io import TABLE_TYPES
from etl.day_ranges import ONE_DAY, days_between
from etl.run_settings import RunSettings
from etl.state import DayState, DayStatus
from etl.status import STEPS, day_status
from etl.storage.layout import DAILY_SUMMARY, PARTITION_LEVELS, PROCESSED, file_key
from etl.tasks import full_view

DATE = "date"  # the column every frame here starts with: the day of the partition a row comes from
REGION = "region"  # a partition level the layout may gain: load_days takes it, and refuses any until then
_HIVE = ds.partitioning(pa.schema([(level, pa.int32()) for level in PARTITION_LEVELS]), flavor="hive")

Day = datetime.date | str  # a date, or its ISO form


class _NamesMissingDays:
    """Days of the range that are not in the frame; ``days`` maps each to its first step not done and its state."""

    def __init__(self, message: str, days: dict[datetime.date, tuple[str, DayStatus]]) -> None:
        super().__init__(message)
        self.days = days


class MissingDaysWarning(_NamesMissingDays, UserWarning):
    """Days of the range that are not in the frame, warned of; the frame holds the others."""


class MissingDaysError(_NamesMissingDays, LookupError):
    """The same as :class:`MissingDaysWarning`, raised instead of returning a frame without those days."""


def load_days(
    start: Day,
    end: Day,
    layer: str = PROCESSED,
    columns: Sequence[str] | None = None,
    region: str | None = None,
    strict: bool = False,
) -> pd.DataFrame:
    """Every order of ``layer`` (``processed`` or ``raw``) from ``start`` to ``end``, both inclusive: ``date``, then
    ``columns`` (default: all that layer's table may hold, null where a day's file lacks one), typed as the pipeline
    writes them, oldest day first and each day's rows in file order.

    ``region`` is for the partition level the layout will gain: the layout has no ``region=`` yet, so any region is
    refused rather than answered with every region's rows. Days not built are reported (see the module)."""
    if region is not None:
        raise ValueError(
            f"region={region!r}: the layout has no {REGION}= partition level yet ({'=/'.join(PARTITION_LEVELS)}=), "
            "so there is nothing to filter on; leave region=None"
        )
    settings = run_settings.current()
    days, filename = _built_days(settings, _day(start), _day(end), layer, TABLE_TYPES, strict)
    types = TABLE_TYPES[filename]
    wanted = _columns(filename, types, columns)
    filesystem, root = settings.store.arrow_filesystem()
    dataset = ds.dataset(
        [f"{root}/{file_key(layer, day, filename)}" for day in days],
        schema=pa.schema([*types.items(), *_HIVE.schema]),
        format=ds.CsvFileFormat(convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)),
        filesystem=filesystem,
        partitioning=_HIVE,
        partition_base_dir=f"{root}/{layer}",
    )
    table = dataset.to_table(columns=[*wanted, *PARTITION_LEVELS])
    frame = table.select(wanted).to_pandas()
    frame.insert(0, DATE, _dates(*(table.column(level).to_numpy() for level in PARTITION_LEVELS)))
    return frame


def load_summaries(start: Day, end: Day, strict: bool = False) -> pd.DataFrame:
    """The daily summaries (``daily_summary.json``) from ``start`` to ``end``, both inclusive: a row a day with
    ``date`` first and every field of the summary (the breakdowns as dicts), oldest first. Days not built are
    reported as :func:`load_days` does."""
    settings = run_settings.current()
    days, filename = _built_days(settings, _day(start), _day(end), PROCESSED, (DAILY_SUMMARY,), strict)
    summaries = [settings.store.read_json(file_key(PROCESSED, day, filename)) for day in days]
    frame = pd.DataFrame([{k: v for k, v in summary.items() if k != "execution_date"} for summary in summaries])
    frame.insert(0, DATE, pd.to_datetime(days).astype("datetime64[s]"))
    return frame


def _built_days(
    settings: RunSettings, start: datetime.date, end: datetime.date, layer: str, tables: Iterable[str], strict: bool
) -> tuple[list[datetime.date], str]:
    """The days of ``[start, end]`` whose step writing one of ``tables`` in ``layer`` is finished (done, or kept as
    built under other settings), and that table's name; the other days are reported, each with the first step of
    its chain that is not finished (the cause before its effects) and that step's state."""
    if not settings.start_date <= start <= end:
        raise ValueError(f"start {start}, end {end}: need [etl] start_date {settings.start_date} <= start <= end")
    tables = tuple(tables)
    (filename,) = set(tables) & set(_chain(start, layer, tables)[-1][1].outputs.filenames)
    view = full_view(settings)
    today = clock.today(settings.timezone)
    built, missing = [], {}
    for day in days_between(start, end + ONE_DAY):
        chain = [(name, day_status(view, step, day, today)) for name, step in _chain(day, layer, tables)]
        own = chain[-1][1]
        if own.finished and own.state is not DayState.EXPIRED:
            built.append(day)
        else:
            missing[day] = next(((name, status) for name, status in chain if not status.finished), chain[-1])
    if missing:
        message = f"{len(missing)} of {(end - start).days + 1} days of {layer} are not there: {_listed(missing)}"
        if strict:
            raise MissingDaysError(message, missing)
        warnings.warn(MissingDaysWarning(message, missing), stacklevel=3)
    return built, filename


def _chain(day: datetime.date, layer: str, tables: tuple[str, ...]) -> list:
    """(name, step) of ``day``'s steps in the pipeline's order, up to the one that writes one of ``tables`` in
    ``layer``; ValueError when none does."""
    chain = []
    for name, make in STEPS.items():
        step = make(date=day)
        chain.append((name, step))
        if step.outputs.layer == layer and set(tables) & set(step.outputs.filenames):
            return chain
    raise ValueError(f"layer {layer!r} holds no {' or '.join(tables)}: no step of the pipeline writes it there")


def _listed(missing: dict[datetime.date, tuple[str, DayStatus]]) -> str:
    """Runs of consecutive days in the same state for the same reason: ``2024-01-05..2024-01-10 process held back
    (held back: validation failed for 2024-01-04 in ...)``."""
    runs: list[list] = []
    for day, (name, status) in missing.items():
        detail = status.reason or status.brief
        said = f"{name} {status.state.value}" + (f" ({detail})" if detail else "")
        if runs and runs[-1][1] == day - ONE_DAY and runs[-1][2] == said:
            runs[-1][1] = day
        else:
            runs.append([day, day, said])
    return "; ".join(f"{first}{'' if first == last else f'..{last}'} {said}" for first, last, said in runs)


def _columns(filename: str, types: dict[str, pa.DataType], columns: Sequence[str] | None) -> list[str]:
    """The table's columns asked for, each once, in the order asked (``date`` is always there, first)."""
    if columns is None:
        return list(types)
    unknown = [name for name in columns if name not in types and name != DATE]
    if unknown:
        raise ValueError(f"no column {', '.join(map(repr, unknown))} in {filename}; it has {', '.join(types)}")
    return [name for name in dict.fromkeys(columns) if name != DATE]


def _dates(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The dates of the partition keys, a row each, in whole-array arithmetic (a year of rows in milliseconds)."""
    months = (year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1).astype("timedelta64[M]")
    return (months.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")).astype("datetime64[s]")


def _day(value: Day) -> datetime.date:
    return datetime.date.fromisoformat(value) if isinstance(value, str) else value
