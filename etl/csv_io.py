"""The bytes format of the order files: CSV read and written with pyarrow, the fastest engine here."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from etl.storage import Store

ORDER_COLUMNS = (
    "order_id",
    "customer_id",
    "product_id",
    "category",
    "quantity",
    "unit_price",
    "total_amount",
    "order_timestamp",
    "status",
    "payment_method",
)
_ORDER_TYPES = {
    "order_id": pa.string(),
    "customer_id": pa.string(),
    "product_id": pa.string(),
    "category": pa.string(),
    "quantity": pa.int64(),
    "unit_price": pa.float64(),
    "total_amount": pa.float64(),
    "order_timestamp": pa.string(),
    "status": pa.string(),
    "payment_method": pa.string(),
}


_LAST_READ: dict[tuple, pd.DataFrame] = {}


def read_orders(store: Store, key: str) -> pd.DataFrame:
    """Read an orders file with the canonical column types; callers must not modify the frame.

    A file whose values do not parse as those types is read as text instead, so that
    validation can name the rule and the rows that break it. The last file read stays parsed,
    keyed by its location, size and modification time: validating and then processing a day
    in one process reads its raw file once.
    """
    key_now = (store.describe(key), store.stat(key))
    if key_now not in _LAST_READ:
        try:
            frame = _read(store, key, _ORDER_TYPES)
        except pa.ArrowInvalid:
            frame = _read(store, key, dict.fromkeys(_ORDER_TYPES, pa.string()))
        _LAST_READ.clear()
        _LAST_READ[key_now] = frame
    return _LAST_READ[key_now]


def write_orders(store: Store, key: str, frame: pd.DataFrame) -> None:
    """Write ``frame`` (without its index) as CSV, atomically."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with store.atomic_output(key) as stream:
        pacsv.write_csv(table, stream)


def _read(store: Store, key: str, types: dict[str, pa.DataType]) -> pd.DataFrame:
    options = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
    with store.open_input(key) as stream:
        return pacsv.read_csv(stream, convert_options=options).to_pandas()
