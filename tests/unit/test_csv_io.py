"""The order files' bytes: typed CSV round trips through the store, a text fallback that lets validation
speak, and the one-file parse cache."""

from __future__ import annotations

import datetime
import gzip
import io
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from etl import csv_io
from etl.csv_io import ORDER_COLUMNS, read_orders, write_orders
from etl.generation import GenerationSettings, generate_orders
from etl.storage import LocalStore
from etl.storage.layout import file_key
from etl.validation import validate_orders

DAY = datetime.date(2024, 3, 9)
HEADER = ",".join(ORDER_COLUMNS)
KEY = file_key("raw", DAY, "orders.csv")
OLD_HEADER_BYTES = 1 << 16  # the header was once decoded from this many first bytes in one piece


@pytest.fixture
def store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path)


def crafted_orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["ORD-1", "ORD-2", "ORD-3"],
            "customer_id": ["CUST-00001", "CUST-00002", "CUST-00001"],
            "product_id": ["PROD-0001", "PROD-0002", "PROD-0003"],
            "category": ["Home & Garden", None, 'Books, "rare"'],
            "quantity": np.array([1, -2, 5], dtype=np.int64),
            "unit_price": [0.1, 1234.56, 0.30000000000000004],
            "total_amount": [0.1, -2469.12, 1.5],
            "order_timestamp": ["2024-03-09T00:00:00", "2024-03-09T12:34:56", "2024-03-09T23:59:59"],
            "status": ["completed", "pending", None],
            "payment_method": ["paypal", None, "gift_card"],
        }
    )


def write_text(store: LocalStore, lines: list[str], key: str = KEY) -> None:
    write_bytes(store, ("\n".join([HEADER, *lines]) + "\n").encode(), key)


def write_bytes(store: LocalStore, content: bytes, key: str = KEY) -> None:
    path = store.base / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def test_round_trip_of_crafted_orders_keeps_values_and_types(store):
    original = crafted_orders()
    write_orders(store, KEY, original)

    back = read_orders(store, KEY)

    assert list(back.columns) == list(ORDER_COLUMNS)
    assert back["quantity"].dtype == np.int64
    assert back["unit_price"].dtype == np.float64
    assert back["total_amount"].dtype == np.float64
    assert back["quantity"].tolist() == [1, -2, 5]
    assert back["unit_price"].tolist() == [0.1, 1234.56, 0.30000000000000004], "floats survive bit for bit"
    assert back["category"].tolist()[0] == "Home & Garden"
    assert back["category"].tolist()[2] == 'Books, "rare"', "commas and quotes are escaped"
    assert back["category"].isna().tolist() == [False, True, False], "a null stays null"
    assert back["status"].isna().tolist() == [False, False, True]
    assert back["order_timestamp"].tolist() == original["order_timestamp"].tolist(), "timestamps stay text"
    for column in ("order_id", "customer_id", "category", "order_timestamp"):
        assert pd.api.types.is_string_dtype(back[column]), column


def test_round_trip_of_a_generated_day_is_exact(store):
    original = generate_orders(DAY, GenerationSettings())
    write_orders(store, KEY, original)
    pd.testing.assert_frame_equal(read_orders(store, KEY), original)


def test_write_orders_has_header_no_index_and_creates_parents(store, tmp_path):
    target = tmp_path / "raw" / "year=2024" / "month=03" / "day=09" / "orders.csv"
    frame = crafted_orders().set_index(pd.Index([10, 20, 30]))
    write_orders(store, KEY, frame)
    lines = target.read_text().splitlines()
    assert len(lines) == 4
    assert lines[0].replace('"', "") == HEADER, "exactly the columns, no index column"
    assert lines[1].split(",")[0].strip('"') == "ORD-1"
    assert sorted(os.listdir(target.parent)) == ["orders.csv"], "no temporary file left behind"


def test_write_orders_replaces_an_existing_file(store):
    write_text(store, ["old content"])
    write_orders(store, KEY, crafted_orders())
    assert read_orders(store, KEY)["order_id"].tolist() == ["ORD-1", "ORD-2", "ORD-3"]


def test_write_orders_that_fails_keeps_the_old_file(store, tmp_path):
    write_orders(store, KEY, crafted_orders())
    before = (tmp_path / KEY).read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - whatever Arrow raises for a column it cannot convert
        write_orders(store, KEY, crafted_orders().assign(quantity=[object(), object(), object()]))
    assert (tmp_path / KEY).read_bytes() == before
    assert sorted(os.listdir((tmp_path / KEY).parent)) == ["orders.csv"]


def test_non_numeric_quantity_is_read_as_text_so_validation_can_report_it(store):
    write_text(
        store,
        [
            "ORD-1,CUST-1,PROD-1,Books,2,10.5,21.0,2024-03-09T10:00:00,completed,paypal",
            "ORD-2,CUST-2,PROD-2,Books,two,10.5,21.0,2024-03-09T11:00:00,completed,paypal",
        ],
    )

    frame = read_orders(store, KEY)

    assert len(frame) == 2
    assert frame["quantity"].tolist() == ["2", "two"], "every value kept, as text"
    assert frame["unit_price"].tolist() == ["10.5", "10.5"]
    results = {r.rule: r for r in validate_orders(frame, DAY, min_orders=1)}
    assert not results["numeric_fields"].passed
    assert results["numeric_fields"].failing_rows == 1


def test_empty_numeric_field_is_read_as_null(store):
    write_text(
        store,
        [
            "ORD-1,CUST-1,PROD-1,Books,,10.5,21.0,2024-03-09T10:00:00,completed,paypal",
            "ORD-2,CUST-2,PROD-2,,1,10.5,10.5,2024-03-09T11:00:00,,paypal",
        ],
    )
    frame = read_orders(store, KEY)
    assert frame["quantity"].isna().tolist() == [True, False]
    assert frame["category"].isna().tolist() == [False, True]
    assert frame["status"].isna().tolist() == [False, True]
    results = {r.rule: r for r in validate_orders(frame, DAY, min_orders=1)}
    assert not results["critical_not_null"].passed
    assert results["critical_not_null"].failing_rows == 1


def test_infinite_and_nan_amounts_are_read_as_numbers_and_nulls(store):
    write_text(
        store,
        [
            "ORD-1,CUST-1,PROD-1,Books,1,inf,1.0,2024-03-09T10:00:00,completed,paypal",
            "ORD-2,CUST-2,PROD-2,Books,1,1.0,-inf,2024-03-09T11:00:00,completed,paypal",
            "ORD-3,CUST-3,PROD-3,Books,1,nan,1.0,2024-03-09T12:00:00,completed,paypal",
        ],
    )
    frame = read_orders(store, KEY)
    assert frame["unit_price"].dtype == np.float64
    assert frame["unit_price"].iloc[0] == np.inf
    assert frame["total_amount"].iloc[1] == -np.inf
    assert pd.isna(frame["unit_price"].iloc[2]), "Arrow reads 'nan' as a null"


def test_reading_a_missing_file_is_an_error(store):
    with pytest.raises(FileNotFoundError):
        read_orders(store, file_key("raw", DAY, "nope.csv"))


def test_reading_again_an_unchanged_file_reuses_the_parse(store):
    write_orders(store, KEY, crafted_orders())
    first = read_orders(store, KEY)
    assert read_orders(store, KEY) is first


def test_reading_a_rewritten_file_reads_the_new_content(store):
    write_orders(store, KEY, crafted_orders())
    assert read_orders(store, KEY)["order_id"].tolist() == ["ORD-1", "ORD-2", "ORD-3"]
    write_orders(store, KEY, crafted_orders().iloc[:2])
    assert read_orders(store, KEY)["order_id"].tolist() == ["ORD-1", "ORD-2"]


def test_only_the_last_file_read_stays_parsed(store):
    """A million-order day is large: the cache holds one parsed file, not every file a process reads."""
    other_day = file_key("raw", DAY + datetime.timedelta(days=1), "orders.csv")
    write_orders(store, KEY, crafted_orders())
    write_orders(store, other_day, crafted_orders().iloc[:2])
    first = read_orders(store, KEY)
    read_orders(store, other_day)
    assert len(csv_io._LAST_READ) == 1
    assert read_orders(store, KEY) is not first, "parsed again"
    pd.testing.assert_frame_equal(read_orders(store, KEY), first)


def test_the_parse_cache_tells_files_and_stores_apart(tmp_path):
    one, two = LocalStore(tmp_path / "one"), LocalStore(tmp_path / "two")
    other_day = file_key("raw", DAY + datetime.timedelta(days=1), "orders.csv")
    write_orders(one, KEY, crafted_orders())
    write_orders(two, KEY, crafted_orders().iloc[:1])
    write_orders(one, other_day, crafted_orders().iloc[:2])
    for _ in range(2):
        assert len(read_orders(one, KEY)) == 3
        assert len(read_orders(two, KEY)) == 1
        assert len(read_orders(one, other_day)) == 2


def test_a_replaced_file_of_the_same_size_and_mtime_is_read_anew(store, tmp_path):
    write_orders(store, KEY, crafted_orders())
    status = os.stat(tmp_path / KEY)
    assert read_orders(store, KEY)["customer_id"].tolist()[0] == "CUST-00001"
    write_orders(store, KEY, crafted_orders().assign(customer_id=["CUST-00009", "CUST-00002", "CUST-00001"]))
    # What a coarse timestamp clock (older kernels, network filesystems) gives two writes in one tick.
    os.utime(tmp_path / KEY, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert os.stat(tmp_path / KEY).st_size == status.st_size
    assert os.stat(tmp_path / KEY).st_ino != status.st_ino, "a new file, renamed into place"
    assert read_orders(store, KEY)["customer_id"].tolist()[0] == "CUST-00009"


# read_export: an export in blocks cut at line ends --------------------------------------------------------


def exported(content: bytes, encoding: str = "utf-8") -> tuple[list[str], list[list[str]]]:
    header, batches = csv_io.read_export(lambda: io.BytesIO(content), ",", encoding)
    rows = [row for batch in batches for row in zip(*batch.to_pydict().values(), strict=True)]
    return header, [list(row) for row in rows]


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "utf-16"])
@pytest.mark.parametrize("block", [1, 7, 64, 1 << 24])
def test_an_export_read_in_blocks_of_any_size_gives_every_row_once_in_order(monkeypatch, encoding, block):
    monkeypatch.setattr(csv_io, "_BATCH_BYTES", block)
    lines = ["Id,Name,Total", *(f"{n},Ren\u00e9e {n},{n}.50" for n in range(200)), "last,\u00e9,"]
    content = "\n".join(lines).encode(encoding)  # no line end after the last row

    header, rows = exported(("\ufeff" if encoding == "utf-8" else "").encode() + content, encoding)

    assert header == ["Id", "Name", "Total"]
    assert rows == [line.split(",") for line in lines[1:-1]] + [["last", "\u00e9", None]]


def test_an_export_in_blocks_is_not_held_whole(monkeypatch):
    """Each batch is one block's rows: a large file passes through memory a block at a time."""
    monkeypatch.setattr(csv_io, "_BATCH_BYTES", 1000)
    content = "\n".join(["Id,Total", *(f"{n},{n}.25" for n in range(5000))]).encode()

    _, batches = csv_io.read_export(lambda: io.BytesIO(content), ",", "utf-8")
    sizes = [batch.num_rows for batch in batches]

    assert sum(sizes) == 5000 and len(sizes) > 50 and max(sizes) < 150


def test_a_character_astride_64_kib_is_no_decoding_error():
    """The header was once read from the first 64 KiB alone, and a valid character astride that edge made a bad
    file of a good one."""
    first = "Id,Name\n1,"
    filler = "é" * ((OLD_HEADER_BYTES - len(first)) // 2)
    content = (first + filler[:-1] + "x" + "é\n").encode()  # a two-byte é begins at the last byte read
    assert content[OLD_HEADER_BYTES - 1 : OLD_HEADER_BYTES + 1] == "é".encode()

    header, rows = exported(content)

    assert header == ["Id", "Name"] and len(rows) == 1


def test_an_export_with_windows_line_ends_has_a_clean_header_and_values():
    header, rows = exported(b"Id,Name\r\n1,a\r\n2,b\r\n")

    assert header == ["Id", "Name"] and rows == [["1", "a"], ["2", "b"]]


def test_an_export_is_opened_once():
    content = b"Id,Name\n1,a\n"
    opened = []

    def open_stream():
        opened.append(True)
        return io.BytesIO(content)

    header, batches = csv_io.read_export(open_stream, ",", "utf-8")

    assert header == ["Id", "Name"] and sum(batch.num_rows for batch in batches) == 1 and len(opened) == 1


class CountedStream(io.BytesIO):
    """An in-memory file that counts the bytes it gave: how far a refused file was read."""

    given = 0

    def read(self, size: int = -1) -> bytes:
        piece = super().read(size)
        self.given += len(piece)
        return piece


def test_a_value_with_a_lone_cr_in_a_windows_export_keeps_it_when_the_cr_lf_is_cut_between_reads(monkeypatch):
    """The first read ends with the header's \\r: only the next tells a Windows line end from an old Mac one."""
    monkeypatch.setattr(csv_io, "_BATCH_BYTES", len(b"Id,Name\r"))

    header, rows = exported(b'Id,Name\r\n1,"a\rb"\r\n2,c\r\n')

    assert header == ["Id", "Name"] and rows == [["1", "a\rb"], ["2", "c"]]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize("block", [1, 2, 7, 8, 64, 1 << 24])
@pytest.mark.parametrize("last_line_end", ["", "\r"])
def test_an_export_with_old_mac_line_ends_reads_as_with_newlines(monkeypatch, encoding, block, last_line_end):
    monkeypatch.setattr(csv_io, "_BATCH_BYTES", block)
    lines = ["Id,Name,Total", *(f"{n},Ren\u00e9e {n},{n}.50" for n in range(50)), "last,\u00e9,"]

    with_cr = exported(("\r".join(lines) + last_line_end).encode(encoding), encoding)

    assert with_cr == exported(("\n".join(lines) + "\n").encode(encoding), encoding)
    assert with_cr[0] == ["Id", "Name", "Total"] and len(with_cr[1]) == 51 and with_cr[1][-1] == ["last", "é", None]


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 24])
def test_a_line_longer_than_the_bound_is_refused_with_its_number(monkeypatch, block):
    monkeypatch.setattr(csv_io, "_BATCH_BYTES", block)
    monkeypatch.setattr(csv_io, "MAX_LINE_BYTES", 100)
    content = b"Id,Name\n1," + b"a" * 98 + b"\n2," + b"b" * 99 + b"\n3,c\n"  # line 2: 100 bytes, line 3: 101

    with pytest.raises(csv_io.ExportReadError) as refused:
        exported(content)

    assert str(refused.value) == "line 3 is longer than 100 bytes: not a CSV export, or a value spans lines"


def test_a_line_as_long_as_the_bound_is_read(monkeypatch):
    monkeypatch.setattr(csv_io, "_BATCH_BYTES", 64)
    monkeypatch.setattr(csv_io, "MAX_LINE_BYTES", 100)

    header, rows = exported(b"Id,Name\n1," + b"a" * 98 + b"\n2," + b"b" * 98)

    assert header == ["Id", "Name"] and rows == [["1", "a" * 98], ["2", "b" * 98]]


@pytest.mark.parametrize("line_end", [b"", b"\r"])
def test_a_file_of_one_giant_line_is_refused_after_reading_about_the_bound(monkeypatch, line_end):
    """Text without line ends was once carried whole: a 1 MiB gzip bomb of one line took 2.2 GiB."""
    monkeypatch.setattr(csv_io, "_BATCH_BYTES", 1 << 16)
    monkeypatch.setattr(csv_io, "MAX_LINE_BYTES", 1 << 20)
    stream = CountedStream(b"0" * (8 << 20) + line_end)

    with pytest.raises(csv_io.ExportReadError, match="^line 1 is longer than 1 MiB: not a CSV export"):
        csv_io.read_export(lambda: stream, ",", "utf-8")

    assert stream.given <= (1 << 20) + (1 << 16), "read no further than the bound and a block"


def test_the_default_line_bound_is_16_mib():
    assert csv_io.MAX_LINE_BYTES == 16 << 20 and csv_io._size(csv_io.MAX_LINE_BYTES) == "16 MiB"


def gzip_stream(content: bytes) -> pa.CompressedInputStream:
    return pa.CompressedInputStream(pa.BufferReader(gzip.compress(content)), "gzip")


def test_a_gzip_bomb_of_one_line_is_refused_past_its_bound(monkeypatch):
    monkeypatch.setattr(csv_io, "_BATCH_BYTES", 1 << 16)

    with pytest.raises(csv_io.ExportReadError) as refused:
        csv_io.read_export(lambda: gzip_stream(b"0" * (64 << 20)), ",", "utf-8", max_bytes=1_000_000)

    assert str(refused.value) == (
        "it decompresses to more than 1,000,000 bytes, too many for its compressed size: "
        "refused as a likely decompression bomb"
    )


def test_a_gzip_bomb_of_short_lines_is_refused_past_its_bound_having_passed_a_block_at_a_time(monkeypatch):
    monkeypatch.setattr(csv_io, "_BATCH_BYTES", 1 << 16)
    header, batches = csv_io.read_export(
        lambda: gzip_stream(b"Id\n" + b"0\n" * (32 << 20)), ",", "utf-8", max_bytes=1_000_000
    )
    sizes = []

    with pytest.raises(csv_io.ExportReadError, match="^it decompresses to more than 1,000,000 bytes"):
        for batch in batches:
            sizes.append(batch.num_rows)

    assert header == ["Id"]
    assert max(sizes) <= (1 << 16) // 2, "no batch is more than a block's rows"
    assert 1_000_000 // 2 - (1 << 16) < sum(sizes) <= 1_000_000 // 2, "the rows up to the bound, no more"


def test_a_file_that_decompresses_to_exactly_its_bound_is_read_and_one_byte_less_refuses_it():
    content = b"Id\n" + b"1\n" * 500

    _, batches = csv_io.read_export(lambda: gzip_stream(content), ",", "utf-8", max_bytes=len(content))
    assert sum(batch.num_rows for batch in batches) == 500
    with pytest.raises(csv_io.ExportReadError, match=f"^it decompresses to more than {len(content) - 1:,} bytes"):
        csv_io.read_export(lambda: gzip_stream(content), ",", "utf-8", max_bytes=len(content) - 1)


# read_text_csv: the pipeline's own files, through the store --------------------------------------------------


class CountedOpens(LocalStore):
    """A local store that counts the files it opened for reading."""

    opens = 0

    def open_input(self, key: str):
        self.opens += 1
        return super().open_input(key)


def test_a_pipeline_file_whose_header_is_longer_than_64_kib_with_a_character_astride_it_is_read(tmp_path):
    store = CountedOpens(tmp_path)
    long_name = "xx" + "é" * (OLD_HEADER_BYTES // 2)  # a two-byte é begins at the last of the first 64 KiB
    content = f"Id,{long_name}\n1,a\n2,\n".encode()
    assert content[OLD_HEADER_BYTES - 1 : OLD_HEADER_BYTES + 1] == "é".encode()
    write_bytes(store, content)

    table = csv_io.read_text_csv(store, KEY)

    assert table.column_names == ["Id", long_name]
    assert table.to_pydict() == {"Id": ["1", "2"], long_name: ["a", None]}
    assert store.opens == 1


def test_a_pipeline_file_with_a_character_astride_64_kib_in_a_row_is_read(store):
    first = "Id,Name\n1,"
    filler = "é" * ((OLD_HEADER_BYTES - len(first)) // 2)
    content = (first + filler[:-1] + "x" + "é\n2,b\n").encode()  # a two-byte é begins at the 64 KiB edge
    assert content[OLD_HEADER_BYTES - 1 : OLD_HEADER_BYTES + 1] == "é".encode()
    write_bytes(store, content)

    table = csv_io.read_text_csv(store, KEY)

    assert table.to_pydict() == {"Id": ["1", "2"], "Name": [filler[:-1] + "xé", "b"]}


def test_a_pipeline_file_read_in_blocks_gives_every_row_in_order(monkeypatch, store):
    monkeypatch.setattr(csv_io, "_BATCH_BYTES", 1000)
    frame = crafted_orders()
    write_orders(store, KEY, pd.concat([frame] * 100, ignore_index=True))

    table = csv_io.read_text_csv(store, KEY)

    assert table.column_names == list(ORDER_COLUMNS)
    assert table.column("order_id").to_pylist() == frame["order_id"].tolist() * 100
    assert table.column("category").to_pylist() == ["Home & Garden", None, 'Books, "rare"'] * 100


def test_a_pipeline_file_of_a_header_only_is_an_empty_table_with_its_columns(store):
    write_bytes(store, b"Id,Name\n")

    table = csv_io.read_text_csv(store, KEY)

    assert table.column_names == ["Id", "Name"] and table.num_rows == 0
