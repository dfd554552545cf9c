"""The bytes format of the order files: CSV read and written with pyarrow, the fastest engine here."""

from __future__ import annotations

import codecs
import csv
import itertools
from collections.abc import Callable, Iterator
from typing import BinaryIO

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
_HEADER_BYTES = 1 << 16  # a header line is read from the first 64 KiB
_BATCH_BYTES = 1 << 24  # an export is read 16 MiB at a time


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


def read_export(
    open_stream: Callable[[], BinaryIO], delimiter: str, encoding: str
) -> tuple[list[str], Iterator[pa.Table]]:
    """An export file's header and its rows in batches, every value as text (only an empty field is null).

    The header is taken from the first line, so that every column can be read as text: nothing is converted
    or evaluated. A UTF-8 byte-order mark is always accepted. The file is opened once and cut into blocks at
    line ends here, and each block parsed on its own: Arrow's streaming reader reads ahead of a slow consumer
    without bound, so memory held a growing share of a large file. A value may not span lines (as for Arrow's
    reader by default).
    """
    utf8 = encoding.replace("_", "-").lower() in ("utf-8", "utf8")
    blocks = _line_blocks(open_stream, None if utf8 else encoding)
    first = next(blocks, b"")
    first_line = first.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8-sig")
    header = next(csv.reader([first_line], delimiter=delimiter), [])
    parse_options = pacsv.ParseOptions(delimiter=delimiter)
    convert_options = pacsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True, null_values=[""]
    )

    def batches() -> Iterator[pa.Table]:
        for number, block in enumerate(itertools.chain([first] if first else [], blocks)):
            read_options = pacsv.ReadOptions(column_names=header, skip_rows=0 if number else 1)
            yield pacsv.read_csv(
                pa.py_buffer(block), read_options=read_options, parse_options=parse_options,
                convert_options=convert_options,
            )  # fmt: skip

    return header, batches()


def _line_blocks(open_stream: Callable[[], BinaryIO], encoding: str | None) -> Iterator[bytes]:
    """The file's bytes as UTF-8 (transcoded from ``encoding`` unless None) in blocks of about _BATCH_BYTES,
    each ending at a line end."""
    decoder = codecs.getincrementaldecoder(encoding)() if encoding else None
    carry = b""
    with open_stream() as stream:
        while block := stream.read(_BATCH_BYTES):
            data = carry + (decoder.decode(block).encode() if decoder else block)
            cut = data.rfind(b"\n") + 1
            if cut:
                yield data[:cut]
            carry = data[cut:]
    if decoder:
        carry += decoder.decode(b"", final=True).encode()
    if carry.strip():
        yield carry


def read_text_csv(store: Store, key: str) -> pa.Table:
    """A CSV file the pipeline wrote, every value as text (only an empty field is null)."""
    with store.open_input(key) as stream:
        header = next(csv.reader([stream.read(_HEADER_BYTES).decode().splitlines()[0]]))
    options = pacsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True, null_values=[""]
    )
    with store.open_input(key) as stream:
        return pacsv.read_csv(stream, convert_options=options)


def write_table(store: Store, key: str, table: pa.Table) -> None:
    """Write an Arrow table as CSV, atomically."""
    with store.atomic_output(key) as stream:
        pacsv.write_csv(table, stream)
