"""The ingest's spill: tables set aside by (kind, day) come back whole and in the order they were added, from
memory or from disk, in a scratch directory of its own that is gone when the spill closes."""

from __future__ import annotations

import datetime
import os
import tempfile

import psutil
import pyarrow as pa
import pytest

import etl.spill
from etl.spill import DaySpill

D = datetime.date


def rows(start: int, count: int, kind: str = "orders") -> pa.Table:
    """``count`` numbered rows: what was added where is told by the numbers read back."""
    numbers = list(range(start, start + count))
    if kind == "refused":
        return pa.table({"line": pa.array([str(n) for n in numbers]), "reason": pa.array(["bad"] * count)})
    return pa.table({"order_id": pa.array([f"ORD-{n}" for n in numbers]), "n": pa.array(numbers, pa.int64())})


def numbers(table: pa.Table | None) -> list[int]:
    return table.column("n").to_pylist()


def spill_files(tmp_path) -> list[str]:
    """Every file under the spill's scratch directories in ``tmp_path``, relative to its own."""
    return sorted(str(p.relative_to(p.parents[1])) for p in tmp_path.glob("etl-scratch-*/*/*") if p.is_file())


def test_tables_of_a_day_come_back_concatenated_in_the_order_added(tmp_path):
    with DaySpill(str(tmp_path)) as spill:
        spill.add("orders", D(2024, 1, 5), rows(0, 3))
        spill.add("orders", D(2024, 1, 6), rows(100, 2))
        spill.add("orders", D(2024, 1, 5), rows(3, 2))
        spill.add("orders", D(2024, 1, 5), rows(5, 1))

        assert spill_files(tmp_path) == [], "within the budget nothing goes to disk"
        day = spill.read("orders", D(2024, 1, 5))
        assert numbers(day) == [0, 1, 2, 3, 4, 5]
        assert day.column("order_id").to_pylist() == [f"ORD-{n}" for n in range(6)]
        assert numbers(spill.read("orders", D(2024, 1, 6))) == [100, 101]


def test_kinds_and_days_are_kept_apart_and_nothing_added_reads_as_none(tmp_path):
    with DaySpill(str(tmp_path)) as spill:
        spill.add("orders", D(2024, 1, 5), rows(0, 2))
        spill.add("refused", D(2024, 1, 5), rows(50, 1, "refused"))
        spill.add("orders", D(2023, 1, 5), rows(10, 1))

        assert numbers(spill.read("orders", D(2024, 1, 5))) == [0, 1]
        assert spill.read("refused", D(2024, 1, 5)).to_pylist() == [{"line": "50", "reason": "bad"}]
        assert numbers(spill.read("orders", D(2023, 1, 5))) == [10]
        assert spill.read("refused", D(2023, 1, 5)) is None
        assert spill.read("orders", D(2024, 1, 7)) is None


def test_with_no_memory_budget_every_table_goes_to_disk_and_reads_back_the_same(tmp_path):
    with DaySpill(str(tmp_path), memory_budget=0) as spill:
        spill.add("orders", D(2024, 1, 5), rows(0, 3))
        spill.add("refused", D(2024, 1, 5), rows(7, 2, "refused"))
        spill.add("orders", D(2024, 1, 6), rows(100, 2))
        spill.add("orders", D(2024, 1, 5), rows(3, 2))
        assert len(spill_files(tmp_path)) == 3, "one stream being written per (kind, day)"

        assert numbers(spill.read("orders", D(2024, 1, 5))) == [0, 1, 2, 3, 4]
        assert spill.read("refused", D(2024, 1, 5)).column("line").to_pylist() == ["7", "8"]
        assert numbers(spill.read("orders", D(2024, 1, 6))) == [100, 101]

        parts = spill_files(tmp_path)
        assert len(parts) == 3
        part = next(name for name in parts if name.startswith("2024-01-05/orders"))
        (path,) = tmp_path.glob(f"etl-scratch-*/{part}")
        with pa.OSFile(str(path)) as source:
            assert numbers(pa.ipc.open_stream(source).read_all()) == [0, 1, 2, 3, 4], "an Arrow IPC stream"


def test_past_the_memory_budget_the_order_holds_across_memory_and_disk(tmp_path):
    first, second = rows(0, 2), rows(100, 3)
    budget = first.nbytes + second.nbytes
    with DaySpill(str(tmp_path), memory_budget=budget) as spill:
        spill.add("orders", D(2024, 1, 5), first)
        spill.add("orders", D(2024, 1, 6), second)
        assert spill_files(tmp_path) == [], "still within the budget"
        spill.add("orders", D(2024, 1, 5), rows(2, 2))  # over the budget: everything goes to disk
        assert spill_files(tmp_path), "the spill is on disk"
        spill.add("orders", D(2024, 1, 6), rows(103, 1))
        spill.add("orders", D(2024, 1, 5), rows(4, 1))

        assert numbers(spill.read("orders", D(2024, 1, 5))) == [0, 1, 2, 3, 4]
        assert numbers(spill.read("orders", D(2024, 1, 6))) == [100, 101, 102, 103]


def test_a_table_held_in_memory_before_the_spill_goes_to_disk_is_read_once(tmp_path):
    with DaySpill(str(tmp_path), memory_budget=rows(0, 2).nbytes) as spill:
        spill.add("orders", D(2024, 1, 5), rows(0, 2))
        spill.add("orders", D(2024, 1, 6), rows(100, 2))  # over the budget: the first table goes to disk too
        assert numbers(spill.read("orders", D(2024, 1, 5))) == [0, 1]
        assert numbers(spill.read("orders", D(2024, 1, 6))) == [100, 101]


def test_more_days_than_open_streams_still_read_back_whole_and_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(etl.spill, "MAX_OPEN_STREAMS", 2)
    days = [D(2024, 1, 1) + datetime.timedelta(days=i) for i in range(5)]
    with DaySpill(str(tmp_path), memory_budget=0) as spill:
        for batch in range(4):  # each batch gives rows to every day, as a file of interleaved days does
            for i, day in enumerate(days):
                spill.add("orders", day, rows(1000 * i + 10 * batch, 3))
            open_streams = [f.path for f in psutil.Process().open_files() if f.path.startswith(str(tmp_path))]
            assert len(open_streams) <= 2, open_streams

        for i, day in enumerate(days):
            expected = [1000 * i + 10 * batch + k for batch in range(4) for k in range(3)]
            assert numbers(spill.read("orders", day)) == expected, day
        assert len([name for name in spill_files(tmp_path) if name.startswith("2024-01-01/")]) > 1, (
            "a day whose stream was closed to open another went on in a new part"
        )


def test_a_spill_has_a_directory_of_its_own_and_leaves_another_run_s_alone(tmp_path):
    leftover = tmp_path / "etl-scratch-killed" / "2024-01-05"
    leftover.mkdir(parents=True)
    (leftover / "orders-000000.arrow").write_bytes(b"what a killed run left")

    with DaySpill(str(tmp_path), memory_budget=0) as spill:
        spill.add("orders", D(2024, 1, 5), rows(0, 2))
        assert numbers(spill.read("orders", D(2024, 1, 5))) == [0, 1], "no rows of the earlier run"

    assert os.listdir(tmp_path) == ["etl-scratch-killed"], "this spill's directory is gone, the other one kept"


def test_the_spill_directory_is_gone_when_the_spill_closes_with_streams_open(tmp_path):
    with DaySpill(str(tmp_path), memory_budget=0) as spill:
        spill.add("orders", D(2024, 1, 5), rows(0, 2))
        spill.add("orders", D(2024, 1, 6), rows(2, 2))
        spill.read("orders", D(2024, 1, 5))
        assert spill_files(tmp_path)
    assert os.listdir(tmp_path) == []


def test_the_spill_directory_is_gone_when_the_block_raises(tmp_path):
    with pytest.raises(RuntimeError, match="broken file"), DaySpill(str(tmp_path), 0) as spill:
        spill.add("orders", D(2024, 1, 5), rows(0, 2))
        spill.add("refused", D(2024, 1, 6), rows(2, 1, "refused"))
        assert spill_files(tmp_path)
        raise RuntimeError("broken file")
    assert os.listdir(tmp_path) == []


def test_a_spill_that_never_went_to_disk_closes_without_a_directory(tmp_path):
    with DaySpill(str(tmp_path)) as spill:
        spill.add("orders", D(2024, 1, 5), rows(0, 2))
    assert os.listdir(tmp_path) == []


def test_a_spill_goes_to_the_system_s_temporary_directory_by_default(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with DaySpill(memory_budget=0) as spill:
        spill.add("orders", D(2024, 1, 5), rows(0, 2))
        assert spill_files(tmp_path) == ["2024-01-05/orders-000000.arrow"]
    assert os.listdir(tmp_path) == []
