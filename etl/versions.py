"""An order's versions: which one is the latest, across every file and day, and on which day each order is now.

An order_id stands for one order however often exports send it: the version with the largest version value
wins ([landing] version_column; without one every version's is 0), then the one ingested last (a later run; in
a run, the file modified later, then by name; in a file, the later line). A refund is told apart from a sale of
the same order_id. The index of every order's winning version lives under ``ingest/orders/``, split by a stable
hash of the order_id into as many shards as keep each near SHARD_ORDERS entries (doubling as the index grows):
an ingest reads and rewrites only the shards its orders fall in, and holds the versions of one shard's worth
of orders at a time, never the whole history.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import math
from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl.spill import DaySpill
from etl.storage import Store
from etl.storage.layout import INGEST, staged_key

SHARD_ORDERS = 16384  # entries a shard of the index holds at most on average: what a late row costs to look up
GROUPS = 16  # an ingest sets the versions it reads aside by hash % GROUPS, and resolves a group at a time
MAX_BITS = 24
INDEX_DIR = f"{INGEST}/orders"
VERSIONS = "versions"  # the spill's kind of the versions read in a run
HASH = "hash"  # a version set aside carries its order_id's hash
INDEX_SCHEMA = pa.schema([
    ("order_id", pa.string()), ("refund", pa.bool_()), ("day", pa.date32()), ("version", pa.float64()),
    ("run", pa.int64()), ("position", pa.int64()), ("line", pa.int64()),
])  # fmt: skip
READ_SCHEMA = INDEX_SCHEMA.append(pa.field("file", pa.int64()))  # a version read now: its file's number in the run
_ORDER = [(name, "ascending") for name in ("order_id", "refund", "version", "run", "position", "line")]
_MIX = np.uint64(0x9E3779B97F4A7C15)
_COMPRESSED = pa.ipc.IpcWriteOptions(compression="lz4")  # a third of the size: ids share prefixes, ranks repeat


@dataclasses.dataclass
class Resolution:
    """What the versions read in one ingest change: the rows that lost, and the index's shards to publish."""

    dropped: dict[tuple[int, datetime.date], set[int]] = dataclasses.field(default_factory=lambda: defaultdict(set))
    displaced: dict[datetime.date, set[tuple[str, bool]]] = dataclasses.field(
        default_factory=lambda: defaultdict(set)
    )  # orders each day loses to a later version (on it or another day)
    actions: list[list[str]] = dataclasses.field(default_factory=list)  # the journal's moves and removals
    bits: int = 0  # the index has 2**bits shards
    orders: int = 0  # entries in the index

    @property
    def superseded(self) -> int:
        return sum(map(len, self.dropped.values())) + sum(map(len, self.displaced.values()))


def shard_key(bits: int, shard: int) -> str:
    return f"{INDEX_DIR}/{bits:02d}-{shard:07d}.arrow"


def staged_keys(bits: int) -> list[str]:
    """Where each shard of an index of ``2**bits`` shards waits to be published: what a killed ingest may leave."""
    return [staged_key(shard_key(bits, shard)) for shard in range(2**bits)]


def bits_for(orders: int, bits: int) -> int:
    """The shard bits for an index of ``orders`` entries: never fewer than ``bits`` (shards only split)."""
    return min(MAX_BITS, max(bits, math.ceil(math.log2(max(orders / SHARD_ORDERS, 1)))))


def order_hashes(order_ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A stable 64-bit hash of each order_id, from its length and its last eight bytes (ids differ most at their
    end), computed on the bytes: the same in every process and version."""
    ids = order_ids.combine_chunks() if isinstance(order_ids, pa.ChunkedArray) else order_ids
    ids = ids.cast(pa.large_binary())
    if not len(ids):
        return np.zeros(0, dtype=np.uint64)
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int64)[ids.offset : ids.offset + len(ids) + 1]
    data = np.frombuffer(ids.buffers()[2], dtype=np.uint8) if ids.buffers()[2] is not None else np.zeros(1, np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    mixed = (ends - starts).astype(np.uint64)
    with np.errstate(over="ignore"):
        for back in range(1, 9):
            at = ends - back
            inside = at >= starts
            byte = np.where(inside, data[np.where(inside, at, 0)], 0).astype(np.uint64)
            mixed = (mixed ^ byte) * _MIX
        mixed ^= mixed >> np.uint64(29)
    return mixed


def by_group(records: pa.Table) -> Iterator[tuple[int, pa.Table]]:
    """``records`` (READ_SCHEMA) split by group, each group's rows in their order, with their order_id's hash
    (``HASH``, kept for resolving them)."""
    hashes = order_hashes(records.column("order_id"))
    return _split(records.append_column(HASH, pa.array(hashes)), hashes % np.uint64(GROUPS))


def resolve(earlier: pa.Table | None, read: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The winning version of each order among the index's (``earlier``, INDEX_SCHEMA) and the versions just read
    (``read``, READ_SCHEMA), and the versions that lost (READ_SCHEMA; file -1 for the index's). Only the rows of
    an order_id seen more than once are sorted: most orders have one version."""
    if earlier is not None:
        earlier = earlier.append_column("file", pa.repeat(pa.scalar(-1, pa.int64()), earlier.num_rows))
    both = pa.concat_tables([earlier, read] if earlier is not None else [read]).combine_chunks()
    ids = both.column("order_id")
    counts = pc.value_counts(ids)
    repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    if not len(repeated):
        return both.drop_columns(["file"]), READ_SCHEMA.empty_table()
    several = pc.is_in(ids, value_set=repeated)
    alone, contested = both.filter(pc.invert(several)), both.filter(several).sort_by(_ORDER)
    ids, refunds = contested.column("order_id").combine_chunks(), contested.column("refund").combine_chunks()
    last = np.ones(contested.num_rows, dtype=bool)
    same_id = pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1))
    same_kind = pc.equal(refunds.slice(1), refunds.slice(0, len(refunds) - 1))
    last[:-1] = ~np.asarray(pc.and_(same_id, same_kind), dtype=bool)
    winners = pa.concat_tables([alone, contested.filter(pa.array(last))]).drop_columns(["file"])
    return winners, contested.filter(pa.array(~last))


def resolve_run(
    store: Store,
    spill: DaySpill,
    unused: set[datetime.date],
    bits: int,
    orders: int,
    read_count: int,
    pool: concurrent.futures.Executor,
) -> Resolution:
    """Resolve every version a run set aside (``unused`` days' left out) against the index of ``2**bits`` shards
    and ``orders`` entries, a group of shards per task of ``pool``; each changed shard is written beside the
    current one, to be published with the raw partitions. When the index outgrows its shards, every shard is
    split (its entries rewritten once)."""
    resolution = Resolution(bits=bits_for(orders + read_count, bits), orders=orders)
    span = 2**resolution.bits

    def resolve_unit(groups: list[int]) -> Resolution:
        unit = Resolution(bits=resolution.bits)
        parts = [part for group in groups if (part := spill.read(VERSIONS, group)) is not None]
        read = pa.concat_tables(parts) if parts else READ_SCHEMA.append(pa.field(HASH, pa.uint64())).empty_table()
        if unused and read.num_rows:
            read = read.filter(pc.invert(pc.is_in(read.column("day"), pa.array(sorted(unused), pa.date32()))))
        hashes = read.column(HASH).to_numpy()
        by_shard = {shard: part.drop_columns([HASH]) for shard, part in _split(read, hashes % np.uint64(span))}
        for shard in sorted(set(_shards_of(groups, span)) if span != 2**bits else set(by_shard)):
            earlier = _earlier_entries(store, bits, shard % 2**bits, span, shard)
            winners, lost = resolve(earlier, by_shard.get(shard, READ_SCHEMA.empty_table()))
            _note_losers(lost, unit)
            unit.orders += winners.num_rows - (earlier.num_rows if earlier is not None else 0)
            key = shard_key(resolution.bits, shard)
            _write(store, staged_key(key), winners)
            unit.actions.append(["move", staged_key(key), key])
        return unit

    for unit in pool.map(resolve_unit, _units(span)):
        resolution.orders += unit.orders
        resolution.actions += unit.actions
        for lines, lost in unit.dropped.items():
            resolution.dropped[lines] |= lost
        for day, lost in unit.displaced.items():
            resolution.displaced[day] |= lost
    if span != 2**bits:
        resolution.actions += [["remove", shard_key(bits, shard)] for shard in range(2**bits)]
    return resolution


def _split(table: pa.Table, shards: np.ndarray) -> Iterator[tuple[int, pa.Table]]:
    """``table``'s rows by shard, each shard's in their order: one stable sort, then slices."""
    if not table.num_rows:
        return
    order = np.argsort(shards, kind="stable")
    ordered, table = shards[order], table.take(pa.array(order))
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    for start, stop in zip(starts, np.r_[starts[1:], len(ordered)], strict=True):
        yield int(ordered[start]), table.slice(start, stop - start)


def _units(span: int) -> list[list[int]]:
    """The groups resolved together: one group when shards are finer than groups, else every group of a shard."""
    if span >= GROUPS:
        return [[group] for group in range(GROUPS)]
    return [[group for group in range(GROUPS) if group % span == shard] for shard in range(span)]


def _shards_of(groups: list[int], span: int) -> list[int]:
    """Every shard whose orders fall in ``groups``."""
    if span >= GROUPS:
        return list(range(groups[0], span, GROUPS))
    return [groups[0] % span]


def _earlier_entries(store: Store, bits: int, earlier_shard: int, span: int, shard: int) -> pa.Table | None:
    """The index's entries that belong to ``shard`` of ``span``, from the shard of the index as it is."""
    key = shard_key(bits, earlier_shard)
    if not store.exists(key):
        return None
    with store.open_input(key) as source:
        entries = pa.ipc.open_stream(source).read_all()
    if span == 2**bits:
        return entries
    return entries.filter(pa.array(order_hashes(entries.column("order_id")) % np.uint64(span) == shard))


def _note_losers(lost: pa.Table, resolution: Resolution) -> None:
    columns = (lost.column(name).to_pylist() for name in ("file", "line", "day", "order_id", "refund"))
    for file, line, day, order_id, refund in zip(*columns, strict=True):
        if file >= 0:
            resolution.dropped[(file, day)].add(line)
        else:
            resolution.displaced[day].add((order_id, refund))


def _write(store: Store, key: str, table: pa.Table) -> None:
    """A shard's entries in arrival order (run, file, line: one version each), so that the same entries give the
    same bytes however the reading threads interleaved."""
    table = table.sort_by(
        [("run", "ascending"), ("position", "ascending"), ("line", "ascending"), ("refund", "ascending")]
    )
    with store.atomic_output(key) as sink, pa.ipc.new_stream(sink, INDEX_SCHEMA, options=_COMPRESSED) as writer:
        writer.write_table(table if table.schema.equals(INDEX_SCHEMA) else table.cast(INDEX_SCHEMA))
