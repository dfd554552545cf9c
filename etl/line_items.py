"""Line-item exports ([landing] rows = line_items): the rows that share an order_id are one order.

Its quantity is the sum of its lines; its total the export's order total when it maps one (taken once, whether
it stands on the first line only or on every line; lines that disagree on it make the order a refused row),
else the sum of its lines (a mapped line_total, or quantity x unit_price); its other fields come from its
first line where they are not blank, and its unit_price is total / quantity. A file is gathered a batch at a
time into one row per order and batch, so memory holds a file's orders, never its lines.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl.csv_io import LANDED_COLUMNS, REFUNDED_AMOUNT
from etl.ingest import LINE_TOTAL, ColumnPlan, _numbers, _text

ORDER_FIELDS = ("customer_id", "product_id", "category", "order_timestamp", "status", "payment_method", REFUNDED_AMOUNT)
_SUMS = ("quantity", "amount")


class OrderLines:
    """The lines of one export file, gathered into orders."""

    def __init__(self, plan: ColumnPlan) -> None:
        self.plan = plan
        self.total_given = "total_amount" in plan.rename.values()
        self._parts: list[pa.Table] = []

    def add(self, lines: pa.Table, line_numbers: np.ndarray, versions: np.ndarray, reasons: pa.Array | None) -> None:
        """Add a batch of lines (canonical text columns, see :func:`etl.ingest.canonical_orders`)."""
        amount_column = LINE_TOTAL if LINE_TOTAL in lines.column_names else "unit_price"
        numbers = {name: _numbers(lines.column(name)) for name in ("quantity", amount_column, "total_amount")}
        problems = np.full(lines.num_rows, None, dtype=object)
        for name in reversed(numbers):
            broken = np.asarray(pc.is_valid(lines.column(name)), dtype=bool) & ~np.isfinite(numbers[name])
            problems[broken] = f"non-numeric or non-finite {self.plan.source_of(name)}"
        problems = pa.array(problems, pa.string())
        quantity = numbers["quantity"]
        amount = numbers[amount_column] if amount_column == LINE_TOTAL else quantity * numbers[amount_column]
        total = numbers["total_amount"]
        table = pa.table({
            "order_id": lines.column("order_id"),
            **{name: lines.column(name) for name in ORDER_FIELDS},
            "quantity": pa.array(quantity),
            "amount": pa.array(amount),
            "total": pa.array(np.where(np.isfinite(total), total, np.nan) if self.total_given else np.full(
                lines.num_rows, np.nan
            ), from_pandas=True),
            "line": pa.array(line_numbers, pa.int64()),
            "version": pa.array(versions),
            "reason": problems if reasons is None else pc.coalesce(reasons, problems),
        })  # fmt: skip
        self._parts.append(_gathered(table, first=True))

    def orders(self) -> tuple[pa.Table, np.ndarray, np.ndarray, pa.Array]:
        """One row per order (canonical text columns, in the order of each order's first line), with its first
        line's number, its largest version and why it cannot be used (null where it can)."""
        if not self._parts:
            no_orders = pa.table({name: pa.array([], pa.string()) for name in LANDED_COLUMNS})
            return no_orders, np.zeros(0, np.int64), np.zeros(0), pa.array([], pa.string())
        gathered = _gathered(pa.concat_tables(self._parts), first=False).sort_by("line")
        quantity = gathered.column("quantity").to_numpy(zero_copy_only=False)
        lines_total = gathered.column("amount").to_numpy(zero_copy_only=False)
        low = gathered.column("total_min").to_numpy(zero_copy_only=False)
        high = gathered.column("total_max").to_numpy(zero_copy_only=False)
        total = np.where(np.isnan(low), lines_total, low)
        disagree = ~np.isnan(low) & (low != high)
        reasons = pc.coalesce(
            gathered.column("reason"),
            pa.array(np.where(disagree, f"the lines of the order disagree on {self.plan.source_of('total_amount')}",
                              None), pa.string()),
        )  # fmt: skip
        with np.errstate(divide="ignore", invalid="ignore"):
            unit_price = total / quantity
        orders = pa.table({
            "order_id": gathered.column("order_id"),
            "customer_id": gathered.column("customer_id"),
            "product_id": gathered.column("product_id"),
            "category": gathered.column("category"),
            "quantity": _text(quantity),
            "unit_price": _text(unit_price),
            "total_amount": _text(np.round(total, 2)),
            "order_timestamp": gathered.column("order_timestamp"),
            "status": gathered.column("status"),
            "payment_method": gathered.column("payment_method"),
            REFUNDED_AMOUNT: gathered.column(REFUNDED_AMOUNT),
        })  # fmt: skip
        return (
            orders,
            gathered.column("line").to_numpy(zero_copy_only=False),
            gathered.column("version").to_numpy(zero_copy_only=False),
            reasons.combine_chunks() if isinstance(reasons, pa.ChunkedArray) else reasons,
        )


def _gathered(table: pa.Table, first: bool) -> pa.Table:
    """``table``'s rows gathered by order_id: sums, the first non-blank field, the total's least and largest value,
    the first line and reason, the largest version. ``first`` reads lines; otherwise rows already gathered."""
    total = [("total", "min"), ("total", "max")] if first else [("total_min", "min"), ("total_max", "max")]
    result = table.group_by("order_id", use_threads=False).aggregate([
        *[(name, "first") for name in ORDER_FIELDS], *[(name, "sum") for name in _SUMS], *total,
        ("line", "min"), ("version", "max"), ("reason", "first"),
    ])  # fmt: skip
    names = {f"{name}_first": name for name in (*ORDER_FIELDS, "reason")} | {f"{name}_sum": name for name in _SUMS}
    names |= {"line_min": "line", "version_max": "version", "total_min_min": "total_min", "total_max_max": "total_max"}
    return result.rename_columns([names.get(name, name) for name in result.column_names])
