"""Reading a shop's order exports: their columns mapped to the canonical ones, missing amounts derived, each
row's business day, and the rows refused with their reason. Pure functions over Arrow tables of text.

Nothing read is ever evaluated: every value stays text, byte for byte, until validation and cleaning parse
the canonical columns of a day.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.csv_io import ORDER_COLUMNS
from etl.validation import CANONICAL_TIME, DATE_ONLY, exact_strptime, order_timestamps

REQUIRED = ("order_id", "customer_id", "quantity", "order_timestamp")
AMOUNTS = ("unit_price", "total_amount")
OPTIONAL = ("product_id", "category", "status", "payment_method")
LINE_TOTAL = "line_total"  # a line item's amount: an input column only, summed into the order's total_amount
MAPPABLE_COLUMNS = (*ORDER_COLUMNS, LINE_TOTAL)
EPOCH_FORMATS = ("epoch_s", "epoch_ms")
_PLAIN_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_EPOCH = datetime.date(1970, 1, 1)
_NO_DAY = np.iinfo(np.int32).min
_OTHER_DELIMITERS = re.compile(r"[;\t|]")


class ExportError(ValueError):
    """A whole export file cannot be used as it is."""


@dataclasses.dataclass(frozen=True)
class ColumnPlan:
    """How one export's header becomes the canonical columns."""

    rename: dict[str, str]  # export column -> canonical column
    dropped: tuple[str, ...]  # export columns outside the canonical set


def plan_columns(header: list[str], column_map: dict[str, str]) -> ColumnPlan:
    """Map an export's header through ``column_map``; ExportError names what is wrong with it."""
    if len(header) == 1 and _OTHER_DELIMITERS.search(header[0]):
        raise ExportError(
            f"the header is one column ({header[0][:60]!r}): the file is not delimited by the configured "
            "[landing] delimiter"
        )
    mapped = [column_map.get(name, name) for name in header]
    repeated = sorted({name for name in mapped if mapped.count(name) > 1 and name in ORDER_COLUMNS})
    if repeated:
        raise ExportError(f"more than one column maps to {', '.join(repeated)}")
    missing = [name for name in REQUIRED if name not in mapped]
    if not any(amount in mapped for amount in AMOUNTS):
        missing.append(" or ".join(AMOUNTS))
    if missing:
        raise ExportError(
            f"required columns missing after [landing] column_map: {', '.join(missing)} (the file has: "
            f"{', '.join(header)})"
        )
    return ColumnPlan(
        rename={name: canonical for name, canonical in zip(header, mapped, strict=True) if canonical in ORDER_COLUMNS},
        dropped=tuple(name for name, canonical in zip(header, mapped, strict=True) if canonical not in ORDER_COLUMNS),
    )


def canonical_orders(batch: pa.Table, plan: ColumnPlan) -> pa.Table:
    """The canonical columns, in order, as text: absent optional columns are empty, and when only one of
    unit_price and total_amount is there the other is derived (total = round(q x p, 2); price = total / q)."""
    columns = {canonical: batch.column(name) for name, canonical in plan.rename.items()}
    empty = pa.nulls(batch.num_rows, pa.string())
    if "total_amount" not in columns:
        quantity, price = _numbers(columns["quantity"]), _numbers(columns["unit_price"])
        columns["total_amount"] = _text(np.round(quantity * price, 2))
    if "unit_price" not in columns:
        quantity, total = _numbers(columns["quantity"]), _numbers(columns["total_amount"])
        with np.errstate(divide="ignore", invalid="ignore"):
            columns["unit_price"] = _text(total / quantity)
    return pa.table({name: columns.get(name, empty) for name in ORDER_COLUMNS})


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


def refusals(
    orders: pa.Table, days: pa.Array, given: tuple[str, ...], header_order_id: str, max_quantity: int,
    max_unit_price: float,
) -> pa.Array:  # fmt: skip
    """Why each row cannot be used (null for a row that can): the first rule it breaks.

    ``given`` are the canonical columns the export has: a problem is named in a given column before a derived
    one. ``header_order_id`` is the export's name of the order_id column: a row holding it there is the
    header repeated inside the file (exports concatenated by hand).
    """
    checks: list[tuple[str, np.ndarray]] = [
        ("repeated header line", _equals(orders, "order_id", header_order_id)),
        ("unparseable order_timestamp", np.asarray(pc.is_null(days), dtype=bool)),
    ]
    numbers = {name: _numbers(orders.column(name)) for name in ("quantity", *AMOUNTS)}
    columns = [*REQUIRED, *sorted(AMOUNTS, key=lambda name: name not in given)]
    for name in columns:
        checks.append((f"missing {name}", np.asarray(pc.is_null(orders.column(name)), dtype=bool)))
        if name in numbers:
            present = np.asarray(pc.is_valid(orders.column(name)), dtype=bool)
            checks.append((f"non-numeric or non-finite {name}", present & ~np.isfinite(numbers[name])))
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


def _numbers(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Text as float64 (NaN where it is no number); ``inf`` and ``nan`` spelled out stay non-finite.

    Plain decimal numbers are read by Arrow in one pass; only other spellings go through pandas.
    """
    text = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
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
