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
from etl.storage.layout import ORDERS, PROCESSED_ORDERS

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
REFUNDED_AMOUNT = "refunded_amount"  # an order's partial refunds: a landed column, absent from synthetic days
LANDED_COLUMNS = (*ORDER_COLUMNS, REFUNDED_AMOUNT)
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
    REFUNDED_AMOUNT: pa.float64(),
}
# What processing adds to each order (etl.transform.clean_orders), as it writes them.
_DERIVED_TYPES = {"order_date": pa.string(), "hour": pa.int64(), "day_of_week": pa.string(), "is_weekend": pa.bool_()}
# The orders tables a day partition holds, by file name: every column they may have, in order, with its type.
TABLE_TYPES = {ORDERS: _ORDER_TYPES, PROCESSED_ORDERS: {**_ORDER_TYPES, **_DERIVED_TYPES}}


_LAST_READ: dict[tuple, pd.DataFrame] = {}
_BATCH_BYTES = 1 << 24  # an export is read 16 MiB at a time
MAX_LINE_BYTES = 1 << 24  # a longer line is refused: text without line ends would otherwise be held whole


class ExportReadError(ValueError):
    """A file that cannot be read as a CSV export within bounded memory."""


def read_orders(store: Store, key: str) -> pd.DataFrame:
    """Read an orders file with the canonical column types; callers must not modify the frame.

    A file whose values do not parse as those types is read as text instead, so that
    validation can name the rule and the rows that break it. The last file read stays parsed,
    keyed by its location and its whole stat (the version token too, which every write changes, where a time
    may not): validating and then processing a day in one process reads its raw file once.
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
    open_stream: Callable[[], BinaryIO], delimiter: str, encoding: str, max_bytes: int | None = None
) -> tuple[list[str], Iterator[pa.Table]]:
    """An export file's header and its rows in batches, every value as text (only an empty field is null).

    The header is taken from the first line, so that every column can be read as text: nothing is converted
    or evaluated. A UTF-8 byte-order mark is always accepted. The file is opened once and cut into blocks at
    line ends here, and each block parsed on its own: Arrow's streaming reader reads ahead of a slow consumer
    without bound, so memory held a growing share of a large file. A value may not span lines (as for Arrow's
    reader by default). Memory stays about a block whatever the file holds: ExportReadError refuses a line
    longer than MAX_LINE_BYTES, and a stream giving more than ``max_bytes`` (a decompressed file's bound).
    """
    utf8 = encoding.replace("_", "-").lower() in ("utf-8", "utf8")
    return _parsed(_line_blocks(open_stream, None if utf8 else encoding, max_bytes), delimiter)


def _parsed(blocks: Iterator[bytes], delimiter: str) -> tuple[list[str], Iterator[pa.Table]]:
    """The header from the first block's first line, and every block's rows as text, each block parsed alone."""
    first = next(blocks, b"")
    header = _header(first, delimiter)
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


def _header(first_block: bytes, delimiter: str) -> list[str]:
    """The column names on the block's first line (a UTF-8 byte-order mark and a Windows line end dropped)."""
    first_line = first_block.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8-sig")
    return next(csv.reader([first_line], delimiter=delimiter), [])


def _line_blocks(
    open_stream: Callable[[], BinaryIO], encoding: str | None, max_bytes: int | None = None
) -> Iterator[bytes]:
    """The file's text as UTF-8 (transcoded from ``encoding`` unless None) in blocks of about _BATCH_BYTES,
    each ending at a line end (a ``\\n``, or a ``\\r`` in a file with no other)."""
    with open_stream() as stream:
        yield from _cut_at_line_ends(_with_newlines(_utf8_pieces(stream, encoding, max_bytes)))


def _utf8_pieces(stream: BinaryIO, encoding: str | None, max_bytes: int | None) -> Iterator[bytes]:
    """The stream's text as UTF-8, read _BATCH_BYTES at a time; ExportReadError once more than ``max_bytes``
    were read, so that a decompression bomb is refused before it fills memory or disk."""
    decoder = codecs.getincrementaldecoder(encoding)() if encoding else None
    read = 0
    while piece := stream.read(_BATCH_BYTES):
        read += len(piece)
        if max_bytes is not None and read > max_bytes:
            raise ExportReadError(
                f"it decompresses to more than {max_bytes:,} bytes, too many for its compressed size: "
                "refused as a likely decompression bomb"
            )
        yield decoder.decode(piece).encode() if decoder else piece
    if decoder:
        yield decoder.decode(b"", final=True).encode()


def _with_newlines(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """The text with every ``\\r`` made a ``\\n`` when its line ends are ``\\r`` alone (old Mac Excel), as the
    text read until a line end is certain tells: it holds a ``\\r`` but no ``\\n``."""
    head = b""
    for piece in pieces:
        head += piece
        # A \r ending what was read may be the first half of a \r\n: the next piece tells.
        if b"\n" in piece or b"\r" in head[-len(piece) - 1 : -1] or len(head) > MAX_LINE_BYTES:
            break
    cr_only = b"\r" in head and b"\n" not in head
    for piece in itertools.chain([head], pieces):
        yield piece.replace(b"\r", b"\n") if cr_only else piece


def _cut_at_line_ends(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """The text in blocks ending at a line end, each about a piece long (a partial last line is carried to the
    next); ExportReadError on a line longer than MAX_LINE_BYTES, so that the carried text stays bounded."""
    carry = b""
    lines_before = 0
    for piece in pieces:
        data = carry + piece
        _check_line_lengths(data, lines_before)
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
            lines_before += data.count(b"\n", 0, cut)
        carry = data[cut:]
    if carry.strip():
        yield carry


def _check_line_lengths(data: bytes, lines_before: int) -> None:
    """ExportReadError naming the first line of ``data`` longer than MAX_LINE_BYTES (its last line counted as
    read so far); ``lines_before`` is the number of lines ahead of ``data`` in the file.

    Each step jumps to the last line end within MAX_LINE_BYTES, so a block is scanned in a few steps."""
    start = 0
    while len(data) - start > MAX_LINE_BYTES:
        end = data.rfind(b"\n", start, start + MAX_LINE_BYTES + 1)
        if end < 0:
            line = lines_before + data.count(b"\n", 0, start) + 1
            raise ExportReadError(
                f"line {line} is longer than {_size(MAX_LINE_BYTES)}: not a CSV export, or a value spans lines"
            )
        start = end + 1


def _size(count: int) -> str:
    """A byte count as people read it: whole MiB when it is some, else bytes."""
    return f"{count >> 20} MiB" if count and count % (1 << 20) == 0 else f"{count:,} bytes"


def read_text_csv(store: Store, key: str) -> pa.Table:
    """A CSV file the pipeline wrote, every value as text (only an empty field is null); opened once, and read
    in blocks as exports are, its header from the first line."""
    header, batches = _parsed(_line_blocks(lambda: store.open_input(key), None), ",")
    tables = list(batches)
    return pa.concat_tables(tables) if tables else pa.table({name: pa.array([], pa.string()) for name in header})


def write_table(store: Store, key: str, table: pa.Table) -> None:
    """Write an Arrow table as CSV, atomically."""
    with store.atomic_output(key) as stream:
        pacsv.write_csv(table, stream)
