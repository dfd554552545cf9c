"""Order versions: a stable shard per order_id, and the latest version of each order."""

from __future__ import annotations

import datetime

import numpy as np
import pyarrow as pa

from etl import versions
from etl.versions import INDEX_SCHEMA, READ_SCHEMA, bits_for, order_hashes, resolve

D = datetime.date


def test_an_order_ids_hash_depends_on_the_id_alone_and_ids_spread_over_shards():
    ids = pa.array([f"O-{n:07d}" for n in range(20000)] + ["", "é", "#1"])

    hashes = order_hashes(ids)

    assert np.array_equal(order_hashes(ids.slice(5, 100)), hashes[5:105]), "the same id, wherever it stands"
    assert np.array_equal(order_hashes(pa.chunked_array([ids.slice(0, 7), ids.slice(7)])), hashes)
    assert len(np.unique(hashes[:20000] % np.uint64(1024))) > 1000, "sequential ids fill nearly every shard"
    assert order_hashes(pa.array(["O-0000001"]))[0] == order_hashes(pa.array(["x", "O-0000001"]))[1]


def test_the_shards_split_as_the_index_grows_and_never_merge():
    size = versions.SHARD_ORDERS
    assert [bits_for(orders, 0) for orders in (0, size, size + 1, 16 * size, 16 * size + 1)] == [0, 0, 1, 4, 5]
    assert bits_for(10, 5) == 5


def table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist([dict(zip(schema.names, row, strict=True)) for row in rows], schema=schema)


def test_the_largest_version_then_the_latest_arrival_wins_and_a_refund_is_apart():
    earlier = table([("A", False, D(2024, 1, 1), 5.0, 1, 0, 10), ("B", False, D(2024, 1, 1), 0.0, 1, 0, 11)],
                    INDEX_SCHEMA)  # fmt: skip
    read = table([
        ("A", False, D(2024, 1, 3), 4.0, 2, 0, 2, 0),  # an older version arriving later: loses
        ("B", False, D(2024, 1, 2), 0.0, 2, 1, 2, 1),  # same version, later run: wins, moves B
        ("B", False, D(2024, 1, 2), 0.0, 2, 1, 3, 1),  # ... and its later line wins over it
        ("B", True, D(2024, 1, 2), 0.0, 2, 0, 9, 0),  # B's refund: a version of its own
    ], READ_SCHEMA)  # fmt: skip

    winners, lost = resolve(earlier, read)

    assert sorted(winners.to_pylist(), key=lambda r: (r["order_id"], r["refund"])) == [
        {"order_id": "A", "refund": False, "day": D(2024, 1, 1), "version": 5.0, "run": 1, "position": 0, "line": 10},
        {"order_id": "B", "refund": False, "day": D(2024, 1, 2), "version": 0.0, "run": 2, "position": 1, "line": 3},
        {"order_id": "B", "refund": True, "day": D(2024, 1, 2), "version": 0.0, "run": 2, "position": 0, "line": 9},
    ]
    assert sorted((r["order_id"], r["file"], r["line"]) for r in lost.to_pylist()) == [
        ("A", 0, 2), ("B", -1, 11), ("B", 1, 2)
    ], "the index's own losers are marked file -1"  # fmt: skip
