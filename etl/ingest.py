"""Reading a shop's order exports: their columns mapped to the canonical ones, missing amounts derived, each
row's business day, and the rows refused with their reason. Pure functions over Arrow tables of text.

Nothing read is ever evaluated: every value stays text, byte for byte, until validation and cleaning parse
the canonical columns of a day.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.csv_io import LANDED_COLUMNS, REFUNDED_AMOUNT
from etl.validation import CANONICAL_TIME, DATE_ONLY, OFFSET, exact_strptime, order_timestamps

REQUIRED = ("order_id", "customer_id", "quantity", "order_timestamp")
AMOUNTS = ("unit_price", "total_amount")
OPTIONAL = ("product_id", "category", "status", "payment_method")
LINE_TOTAL = "line_total"  # a line item's amount: an input column only, summed into the order's total_amount
MAPPABLE_COLUMNS = (*LANDED_COLUMNS, LINE_TOTAL)
EPOCH_FORMATS = ("epoch_s", "epoch_ms")
_PLAIN_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_EPOCH = datetime.date(1970, 1, 1)
_NO_DAY = np.iinfo(np.int32).min
_OTHER_DELIMITERS = re.compile(r"[;\t|]")
NUMBER_COLUMNS = ("quantity", "unit_price", "total_amount", REFUNDED_AMOUNT, LINE_TOTAL)
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%X", "%c", "%T", "%R", "%p")


@dataclasses.dataclass(frozen=True)
class ValueFormat:
    """How an export spells numbers and times (the ``[landing]`` settings), and the business day's zone."""

    timezone: str = "UTC"  # of the business day
    source_timezone: str = "UTC"  # of the export's naive timestamps
    timestamp_format: str = ""  # ISO 8601, epoch_s, epoch_ms, or a strptime pattern
    decimal: str = "."
    thousands: str = ""

    @property
    def plain_numbers(self) -> bool:
        return (self.decimal, self.thousands) == (".", "")

    @property
    def plain_times(self) -> bool:
        """Whether timestamps are read as they always were: ISO 8601, naive ones in the business zone."""
        return self.timestamp_format == "" and self.source_timezone == self.timezone

    def number_hint(self) -> str:
        return (
            f"set [landing] decimal and thousands to the export's (now decimal {self.decimal!r}, thousands "
            f"{self.thousands!r})"
        )

    def time_hint(self) -> str:
        now = self.timestamp_format or "empty: ISO 8601"
        return f"set [landing] timestamp_format (now {now}) and source_timezone (now {self.source_timezone})"


class ExportError(ValueError):
    """A whole export file cannot be used as it is."""


@dataclasses.dataclass(frozen=True)
class ColumnPlan:
    """How one export's header becomes the canonical columns."""

    rename: dict[str, str]  # export column -> canonical column
    dropped: tuple[str, ...]  # export columns outside the canonical set
    defaults: Mapping[str, str] = dataclasses.field(default_factory=dict)  # for canonical columns absent or blank
    version: str = ""  # the export column whose largest value is an order's latest version ([landing] version_column)

    def source_of(self, canonical: str) -> str:
        """How a message names a canonical column: with the export's column, or as set by [landing] defaults."""
        for name, mapped in self.rename.items():
            if mapped == canonical:
                return canonical if name == canonical else f'{canonical} (column "{name}")'
        return f"{canonical} (from [landing] defaults)" if canonical in self.defaults else canonical


def plan_columns(
    header: list[str],
    column_map: dict[str, str],
    defaults: Mapping[str, str] | None = None,
    line_items: bool = False,
    version_column: str = "",
) -> ColumnPlan:
    """Map an export's header through ``column_map``, with ``defaults`` for canonical columns it lacks;
    ExportError names what is wrong with it."""
    if len(header) == 1 and _OTHER_DELIMITERS.search(header[0]):
        raise ExportError(
            f"the header is one column ({header[0][:60]!r}): the file is not delimited by the configured "
            "[landing] delimiter"
        )
    mapped = [column_map.get(name, name) for name in header]
    repeated = sorted({name for name in mapped if mapped.count(name) > 1 and name in MAPPABLE_COLUMNS})
    if repeated:
        raise ExportError(f"more than one column maps to {', '.join(repeated)}")
    if LINE_TOTAL in mapped and not line_items:
        raise ExportError(f"a column maps to {LINE_TOTAL}, which only a line-item export has ([landing] rows)")
    defaults = dict(defaults or {})
    present = set(mapped) | set(defaults)
    missing = [name for name in REQUIRED if name not in present]
    amounts = (*AMOUNTS, LINE_TOTAL) if line_items else AMOUNTS
    if not any(amount in present for amount in amounts):
        missing.append(" or ".join(amounts))
    if version_column and version_column not in header:
        missing.append(f"{version_column} ([landing] version_column)")
    if missing:
        raise ExportError(
            f"required columns missing after [landing] column_map: {', '.join(missing)} (the file has: "
            f"{', '.join(header)})"
        )
    return ColumnPlan(
        rename={
            name: canonical for name, canonical in zip(header, mapped, strict=True) if canonical in MAPPABLE_COLUMNS
        },
        dropped=tuple(
            name for name, canonical in zip(header, mapped, strict=True) if canonical not in MAPPABLE_COLUMNS
        ),
        defaults=defaults,
        version=version_column,
    )


def canonical_orders(batch: pa.Table, plan: ColumnPlan, value_format: ValueFormat = ValueFormat()) -> pa.Table:
    """The canonical columns, in order, as text: absent or blank values take their [landing] default (absent
    columns without one are empty), numbers spelled with other marks are written plainly, and when only one of
    unit_price and total_amount is there the other is derived (total = round(q x p, 2); price = total / q). A
    line-item export keeps its line_total."""
    columns = {canonical: batch.column(name) for name, canonical in plan.rename.items()}
    if not value_format.plain_numbers:
        for name in NUMBER_COLUMNS:
            if name in columns:
                columns[name] = plain_numbers(columns[name], value_format.decimal, value_format.thousands)
    for name, value in plan.defaults.items():
        given = columns.get(name)
        blank = pa.repeat(pa.scalar(value, pa.string()), batch.num_rows)
        columns[name] = blank if given is None else pc.fill_null(_text_of(given), pa.scalar(value, pa.string()))
    empty = pa.nulls(batch.num_rows, pa.string())
    if "total_amount" not in columns and "unit_price" not in columns:  # a line-item export's line_total alone
        columns["total_amount"] = columns["unit_price"] = empty
    if "total_amount" not in columns:
        quantity, price = _numbers(columns["quantity"]), _numbers(columns["unit_price"])
        columns["total_amount"] = _text(np.round(quantity * price, 2))
    if "unit_price" not in columns:
        quantity, total = _numbers(columns["quantity"]), _numbers(columns["total_amount"])
        with np.errstate(divide="ignore", invalid="ignore"):
            columns["unit_price"] = _text(total / quantity)
    table = pa.table({name: columns.get(name, empty) for name in LANDED_COLUMNS})
    return table.append_column(LINE_TOTAL, columns[LINE_TOTAL]) if LINE_TOTAL in columns else table


def plain_numbers(column: pa.ChunkedArray | pa.Array, decimal: str, thousands: str) -> pa.Array:
    """Numbers written with ``decimal`` and ``thousands`` marks (``1.234,50``) as plain ones (``1234.50``); a value
    that does not fit the marks stays as it is (:func:`unfit_numbers` refuses its row)."""
    text = _text_of(column)
    plain = pc.replace_substring(text, thousands, "") if thousands else text
    plain = pc.replace_substring(plain, decimal, ".") if decimal != "." else plain
    return pc.if_else(_fits(text, decimal, thousands), plain, text)


def unfit_numbers(batch: pa.Table, plan: ColumnPlan, value_format: ValueFormat) -> pa.Array | None:
    """Why each row's numbers cannot be read with the export's marks (null for a row whose can), or None when
    the marks are the plain ones; ``batch`` is the export's rows as read."""
    if value_format.plain_numbers:
        return None
    reasons = np.full(batch.num_rows, None, dtype=object)
    for name, canonical in reversed(list(plan.rename.items())):
        if canonical in NUMBER_COLUMNS:
            text = _text_of(batch.column(name))
            unfit = pc.and_(pc.is_valid(text), pc.invert(_fits(text, value_format.decimal, value_format.thousands)))
            reasons[np.asarray(pc.fill_null(unfit, False), dtype=bool)] = (
                f"{plan.source_of(canonical)} is not a number with [landing] decimal {value_format.decimal!r} and "
                f"thousands {value_format.thousands!r}"
            )
    return pa.array(reasons, type=pa.string())


def _fits(text: pa.Array, decimal: str, thousands: str) -> pa.Array:
    grouped = rf"[0-9]{{1,3}}(?:{re.escape(thousands)}[0-9]{{3}})+|" if thousands else ""
    pattern = rf"^[+-]?(?:{grouped}[0-9]+)?(?:{re.escape(decimal)}[0-9]*)?$"
    return pc.fill_null(pc.match_substring_regex(text, pattern), False)


def _text_of(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def dated(orders: pa.Table, value_format: ValueFormat) -> tuple[pa.Table, pa.Array]:
    """The orders with their timestamps as the business day's local times, and each row's business day (null
    where its timestamp cannot be read as ``value_format`` says).

    Read as always (ISO 8601, naive times in the business zone) the text stays as it is. Otherwise a readable
    timestamp is rewritten as the business zone's ``YYYY-MM-DDTHH:MM:SS`` (a date alone stays that date);
    naive times are in the source zone (an ambiguous one, when clocks go back, is the first of the two; one
    the clocks skip is moved an hour forward, the gap almost everywhere).
    """
    if value_format.plain_times:
        return orders, business_days(orders, value_format.timezone)
    text = orders.column("order_timestamp").combine_chunks()
    local = local_times(text, value_format)
    readable = pc.is_valid(local)
    orders = orders.set_column(
        orders.column_names.index("order_timestamp"), "order_timestamp", pc.if_else(readable, local, text)
    )
    days = business_days(orders, value_format.timezone)
    return orders, pc.if_else(readable, days, pa.scalar(None, pa.date32()))


def local_times(text: pa.Array, value_format: ValueFormat) -> pa.Array:
    """Each timestamp as the business zone's ``YYYY-MM-DDTHH:MM:SS`` text (``YYYY-MM-DD`` for a date alone),
    null where it cannot be read as ``value_format`` says."""
    pattern = value_format.timestamp_format
    series = pd.Series(text.to_pandas(), dtype=object)
    dates = np.zeros(len(series), dtype=bool)
    if pattern in EPOCH_FORMATS:
        numbers = pd.Series(_numbers(text))
        stamps = pd.to_datetime(numbers, unit=pattern.removeprefix("epoch_"), utc=True, errors="coerce")
    elif pattern and not any(directive in pattern for directive in _TIME_DIRECTIVES):  # a date alone is that day
        stamps = pd.to_datetime(series, format=pattern, errors="coerce").dt.tz_localize(value_format.timezone)
        dates[:] = True
    elif pattern:
        aware = "%z" in pattern
        stamps = pd.to_datetime(series, format=pattern, errors="coerce", utc=aware)
        if not aware:
            stamps = _in_zone(stamps, value_format.source_timezone)
    else:
        dates = np.asarray(pc.is_valid(exact_strptime(text, DATE_ONLY)), dtype=bool)
        offset = series.str.contains(OFFSET, regex=True, na=False).to_numpy() & ~dates
        naive = pd.to_datetime(series.where(~offset & ~dates), format="ISO8601", errors="coerce")
        aware = pd.to_datetime(series.where(offset), format="ISO8601", errors="coerce", utc=True)
        stamps = _in_zone(naive, value_format.source_timezone).where(~offset, aware)
    local = pa.array(stamps.dt.tz_convert(value_format.timezone).dt.tz_localize(None))
    seconds = pc.cast(local, pa.timestamp("s"), safe=False)
    as_dates = pc.if_else(pa.array(dates), pc.strftime(seconds, format=DATE_ONLY), pc.strftime(seconds, CANONICAL_TIME))
    return pc.if_else(pa.array(dates), text, as_dates) if not pattern else as_dates


def _in_zone(naive: pd.Series, zone: str) -> pd.Series:
    """Naive times of ``zone`` as UTC instants: an ambiguous time is the first, a skipped one an hour later."""
    first = np.ones(len(naive), dtype=bool)
    return naive.dt.tz_localize(zone, ambiguous=first, nonexistent=pd.Timedelta(hours=1)).dt.tz_convert("UTC")


def business_days(orders: pa.Table, timezone: str) -> pa.Array:
    """Each row's business day in ``timezone`` (null when its timestamp cannot be read).

    A date alone is that day; a naive time is a local time; a time with an offset is converted. The two
    plain forms are read by Arrow in one pass; only other spellings go through the general ISO 8601 parser.
    """
    text = orders.column("order_timestamp").combine_chunks()
    days = pc.cast(exact_strptime(text, CANONICAL_TIME), pa.date32())
    if days.null_count == text.null_count:
        return days
    days = pc.coalesce(days, pc.cast(exact_strptime(text, DATE_ONLY), pa.date32()))
    other = pc.and_(pc.is_null(days), pc.is_valid(text))
    if not pc.any(other).as_py():
        return days
    spelled = text.filter(other)
    stamps = order_timestamps(pd.DataFrame({"order_timestamp": spelled.to_pandas()}), timezone)
    return pc.replace_with_mask(days, other, pc.cast(pa.array(stamps), pa.date32()))


def rows_by_day(table: pa.Table, days: pa.Array) -> Iterator[tuple[datetime.date | None, pa.Table]]:
    """``table``'s rows grouped by ``days`` (None for rows without one), each group in the table's order."""
    codes = days.cast(pa.int32()).fill_null(_NO_DAY).to_numpy(zero_copy_only=False)
    if not len(codes):
        return
    if (codes == codes[0]).all():
        groups = [(0, len(codes))]
    else:
        order = np.argsort(codes, kind="stable")
        codes = codes[order]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        groups = list(zip(starts, np.r_[starts[1:], len(codes)], strict=True))
        table = table.take(pa.array(order))
    for start, stop in groups:
        code = int(codes[start])
        day = None if code == _NO_DAY else _EPOCH + datetime.timedelta(days=code)
        yield day, table.slice(start, stop - start)


def first_reasons(*reasons: pa.Array | None) -> pa.Array | None:
    """Each row's first reason among several lists of them (None where no list was made)."""
    made = [array for array in reasons if array is not None]
    return pc.coalesce(*made) if len(made) > 1 else (made[0] if made else None)


def amounts(orders: pa.Table) -> dict[str, np.ndarray]:
    """Quantity, unit price and total of each row as numbers (NaN where one is none): parsed once, for the
    refusal rules and the refund rule."""
    return {name: _numbers(orders.column(name)) for name in ("quantity", *AMOUNTS)}


def refusals(
    orders: pa.Table, days: pa.Array, plan: ColumnPlan, max_quantity: int, max_unit_price: float,
    earlier: pa.Array | None = None, numbers: dict[str, np.ndarray] | None = None,
) -> pa.Array:  # fmt: skip
    """Why each row cannot be used (null for a row that can): the first rule it breaks.

    A problem is named in a column the export has (by the export's name) before a derived one. A row holding
    the export's name of the order_id column there is the header repeated inside the file (exports
    concatenated by hand). ``earlier`` are reasons found before the columns were made canonical (numbers that
    do not fit the export's marks); they come after the repeated header.
    """
    given = (*plan.rename.values(), *plan.defaults)
    header_order_id = next((n for n, canonical in plan.rename.items() if canonical == "order_id"), "order_id")
    checks: list[tuple[str, np.ndarray]] = [("repeated header line", _equals(orders, "order_id", header_order_id))]
    if earlier is not None:
        for reason in pc.unique(earlier.drop_null()).to_pylist():
            checks.append((reason, np.asarray(pc.fill_null(pc.equal(earlier, reason), False), dtype=bool)))
    checks.append((f"unparseable {plan.source_of('order_timestamp')}", np.asarray(pc.is_null(days), dtype=bool)))
    numbers = numbers if numbers is not None else amounts(orders)
    columns = [*REQUIRED, *sorted(AMOUNTS, key=lambda name: name not in given)]
    for name in columns:
        checks.append((f"missing {plan.source_of(name)}", np.asarray(pc.is_null(orders.column(name)), dtype=bool)))
        if name in numbers:
            present = np.asarray(pc.is_valid(orders.column(name)), dtype=bool)
            checks.append((f"non-numeric or non-finite {plan.source_of(name)}", present & ~np.isfinite(numbers[name])))
    if REFUNDED_AMOUNT in given:
        refunded = _numbers(orders.column(REFUNDED_AMOUNT))
        present = np.asarray(pc.is_valid(orders.column(REFUNDED_AMOUNT)), dtype=bool)
        named = plan.source_of(REFUNDED_AMOUNT)
        checks.append((f"non-numeric or non-finite {named}", present & ~np.isfinite(refunded)))
        checks.append((f"negative {named}", present & np.isfinite(refunded) & (refunded < 0)))
    quantity = numbers["quantity"]
    finite = np.isfinite(quantity)
    checks.append(("fractional quantity", finite & (np.where(finite, quantity, 0) % 1 != 0)))
    checks.append((f"quantity above max_quantity {max_quantity}", finite & (np.abs(quantity) > max_quantity)))
    price = numbers["unit_price"]
    checks.append(
        (f"unit_price above max_unit_price {max_unit_price}", np.isfinite(price) & (np.abs(price) > max_unit_price))
    )
    reasons = np.full(orders.num_rows, None, dtype=object)
    for reason, broken in reversed(checks):  # the first rule in the list wins
        reasons[broken] = reason
    return pa.array(reasons, type=pa.string())


def refund_rows(orders: pa.Table, negative_amounts: str, numbers: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Which rows are refunds: with ``negative_amounts = refund``, those with a negative quantity, unit price or
    total (the same rule processing applies); with ``sign_error`` none is. ``numbers``: see :func:`amounts`."""
    refunds = np.zeros(orders.num_rows, dtype=bool)
    if negative_amounts == "refund":
        for values in (numbers if numbers is not None else amounts(orders)).values():
            with np.errstate(invalid="ignore"):
                refunds |= values < 0
    return refunds


def version_values(batch: pa.Table, plan: ColumnPlan) -> tuple[np.ndarray, pa.Array | None]:
    """Each row's version (0 without a version column) and why a row's cannot be read (None when all can): a
    plain number, or an ISO 8601 timestamp as its UTC epoch seconds (a naive one read as UTC)."""
    if not plan.version:
        return np.zeros(batch.num_rows), None
    text = _text_of(batch.column(plan.version))
    values = _numbers(text)
    other = ~np.isfinite(values) & np.asarray(pc.is_valid(text), dtype=bool)
    if other.any():
        stamps = pd.to_datetime(text.filter(pa.array(other)).to_pandas(), format="ISO8601", errors="coerce", utc=True)
        seconds = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
        values[other] = seconds
    unreadable = ~np.isfinite(values)
    if not unreadable.any():
        return values, None
    reasons = np.where(unreadable, f'unreadable version (column "{plan.version}", [landing] version_column)', None)
    return values, pa.array(reasons, type=pa.string())


def _numbers(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Text as float64 (NaN where it is no number); ``inf`` and ``nan`` spelled out stay non-finite.

    Plain decimal numbers are read by Arrow in one pass; only other spellings go through pandas.
    """
    text = _text_of(column)
    try:
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        pass  # some value is not a plain number: find which
    plain = pc.fill_null(pc.match_substring_regex(text, _PLAIN_NUMBER), False)
    numbers = pc.cast(pc.if_else(plain, text, pa.scalar(None, pa.string())), pa.float64())
    values = numbers.to_numpy(zero_copy_only=False).copy()
    other = np.asarray(pc.and_(pc.invert(plain), pc.is_valid(text)), dtype=bool)
    if other.any():
        spelled = text.filter(pa.array(other)).to_pandas()
        values[other] = pd.to_numeric(spelled, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def _text(values: np.ndarray) -> pa.Array:
    """Derived amounts as text, null where they could not be computed."""
    finite = np.isfinite(values)
    text = pc.cast(pa.array(np.where(finite, values, 0.0)), pa.string())
    return pc.if_else(pa.array(finite), text, pa.nulls(len(values), pa.string()))


def _equals(orders: pa.Table, column: str, value: str) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.equal(orders.column(column), value), False), dtype=bool)
