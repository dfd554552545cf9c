"""Rows of many days set aside while a file is read, and read back one day at a time.

This is what bounds the ingest's memory by a read batch and a day's rows, whatever the size of a file or the
number of days it holds. Rows stay in memory up to a budget; past it, everything goes to Arrow IPC streams
in a scratch directory of this host's own (:mod:`etl.storage.scratch`, never the store: on object storage every
part would be a round trip), made when the spill opens and removed when it closes.
"""

from __future__ import annotations

import contextlib
import datetime
import resource
import threading
from collections import defaultdict

import pyarrow as pa

from etl.storage.scratch import scratch_directory, scratch_input, scratch_output

Part = datetime.date | int  # what rows are set aside by: their business day, or a group of index shards


def _stream_bound() -> int:
    """Streams kept open at once: a reader's days of every file being read, and the version groups, without
    reopening (each reopening starts a new part file); a quarter of the process's open-file limit at most."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(64, min(1024, soft // 4 if soft != resource.RLIM_INFINITY else 1024))


MAX_OPEN_STREAMS = _stream_bound()  # beyond this many (kind, part) streams open at once, the least recent is closed
MEMORY_BUDGET = 256 << 20  # bytes of rows held in memory before the spill goes to disk


class DaySpill:
    """Append tables by (kind, part); read back all of one (kind, part) in the order they were added.

    ``kind`` is a short name (part of a file name), ``part`` a day or a number (an index shard's group). Threads
    may add at once.
    """

    def __init__(self, scratch_parent: str | None = None, memory_budget: int = MEMORY_BUDGET) -> None:
        self._scratch_parent = scratch_parent
        self._scratch = contextlib.ExitStack()
        self._directory = ""
        self._room: int | None = memory_budget  # None once the spill is on disk
        self._held: dict[tuple[str, Part], list[pa.Table]] = defaultdict(list)
        self._open: dict[tuple[str, Part], _Stream] = {}  # least recently written first
        self._parts: dict[tuple[str, Part], list[str]] = defaultdict(list)
        self._lock = threading.Lock()

    def __enter__(self) -> DaySpill:
        self._directory = self._scratch.enter_context(scratch_directory(self._scratch_parent))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for stream in self._open.values():
            stream.close()
        self._open.clear()
        self._held.clear()
        self._scratch.close()

    def add(self, kind: str, part: Part, table: pa.Table) -> None:
        with self._lock:
            self._add(kind, part, table)

    def _add(self, kind: str, part: Part, table: pa.Table) -> None:
        if self._room is not None and table.nbytes <= self._room:
            self._held[(kind, part)].append(table)
            self._room -= table.nbytes
            return
        if self._room is not None:
            self._room = None
            for (held_kind, held_part), tables in self._held.items():
                for held in tables:
                    self._write(held_kind, held_part, held)
            self._held.clear()
        self._write(kind, part, table)

    def _write(self, kind: str, part: Part, table: pa.Table) -> None:
        key = (kind, part)
        stream = self._open.pop(key, None)
        if stream is None:
            if len(self._open) >= MAX_OPEN_STREAMS:
                self._open.pop(next(iter(self._open))).close()
            file = f"{self._directory}/{part}/{kind}-{len(self._parts[key]):06d}.arrow"
            self._parts[key].append(file)
            stream = _Stream(file, table.schema)
        stream.write(table)
        self._open[key] = stream

    def read(self, kind: str, part: Part) -> pa.Table | None:
        """Everything added for (kind, part), or None when nothing was; read once, it is given up."""
        key = (kind, part)
        with self._lock:
            if key in self._open:
                self._open.pop(key).close()
            tables, files = self._held.pop(key, []), self._parts.pop(key, [])
        for file in files:
            with scratch_input(file) as source:
                tables.append(pa.ipc.open_stream(source).read_all())
        return pa.concat_tables(tables) if tables else None


class _Stream:
    """One part of the spill being written: an IPC stream into a plain scratch file."""

    def __init__(self, path: str, schema: pa.Schema) -> None:
        self._output = scratch_output(path)
        self._writer = pa.ipc.new_stream(self._output, schema)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()
        self._output.close()
