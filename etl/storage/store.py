"""The storage seam: every read, write, listing and removal of pipeline data goes through a ``Store``.

A store holds files under keys (``raw/year=2024/month=01/day=05/orders.csv``, see :mod:`.layout`).
The verbs here are the ones an object store can also offer: an atomic whole-file write, a listing of
a layer's partitions in one pass, removal of a partition, and a guarded read-modify-write of a small
JSON document (the latest-report pointer, the retention ledger). Local disk is the first
implementation (:mod:`.local`); steps and tasks never learn which one they use.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import datetime
import hashlib
import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from etl.storage.layout import partition_key

if TYPE_CHECKING:
    import pyarrow.fs


@dataclasses.dataclass(frozen=True)
class FileStat:
    """What a listing tells of a file: enough to notice that it changed."""

    size: int
    mtime_ns: int
    version: int | str = 0  # what changes with every whole-file write: the inode locally, the ETag in object stores


Partitions = dict[datetime.date, dict[str, FileStat]]


class ConflictError(RuntimeError):
    """A conditional write found the document changed by another writer (each time it was tried)."""


@dataclasses.dataclass(frozen=True)
class Version:
    """A file's content version: its sha256 and size, never a time; ``seen`` is how the listing showed that
    content (time and token), so that a reader may skip hashing a file whose listing has not changed."""

    sha256: str
    size: int
    seen: FileStat

    def as_record(self) -> dict[str, object]:
        return {"sha256": self.sha256, "size": self.size, "seen": [self.seen.mtime_ns, self.seen.version]}


_DIGESTS: dict[tuple[Store, str], Version] = {}  # per process: each file version is hashed once
_HASH_CHUNK = 1 << 20


class Store(abc.ABC):
    """Files under keys, below one base location."""

    @abc.abstractmethod
    def describe(self, key: str = "") -> str:
        """Where ``key`` lives, for messages and logs (an absolute path or a URL)."""

    @abc.abstractmethod
    def stat(self, key: str) -> FileStat | None:
        """The file's size and modification time, or None when there is no such file."""

    @abc.abstractmethod
    def list_partitions(self, layer: str) -> Partitions:
        """Every well-formed day partition of ``layer`` with the files it holds, from one pass over the layer.

        Entries that are not ``year=/month=/day=`` directories naming a real date are ignored,
        and so are temporary files of writes in progress.
        """

    @abc.abstractmethod
    def list_partition(self, layer: str, date: datetime.date) -> dict[str, FileStat]:
        """The files of one day partition (empty when it does not exist)."""

    @abc.abstractmethod
    def open_input(self, key: str) -> BinaryIO:
        """A binary stream over the file's bytes; FileNotFoundError names the location when it is missing."""

    @abc.abstractmethod
    def atomic_output(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        """A binary stream whose bytes replace the file in one step when the block ends without error.

        A reader sees the old file or the new one, never part of one; on error nothing changes.
        """

    @abc.abstractmethod
    def remove(self, key: str) -> None:
        """Remove one file if it exists."""

    @abc.abstractmethod
    def move(self, source: str, key: str) -> None:
        """Put the file at ``source`` in place of ``key`` in one step (a staged file published).

        The file's time becomes the moment of the move, so what was built from the file it replaces is older.
        """

    @abc.abstractmethod
    def remove_partition(self, layer: str, date: datetime.date) -> bool:
        """Remove one day partition with its files (and the month and year levels it leaves empty).

        Only ever a day partition of ``layer`` under the base; False when it was already gone.
        """

    @abc.abstractmethod
    def lease(self, key: str, ttl: float) -> contextlib.AbstractContextManager[None]:
        """Hold ``key``'s lease, across processes and hosts, for the duration of the block.

        A holder that vanishes keeps it at most ``ttl`` seconds where the store cannot tell it is gone (an object
        store); a local lock goes with its process.
        """

    @abc.abstractmethod
    def update_json(self, key: str, update: Callable[[dict | None], dict | None]) -> dict | None:
        """Read-modify-write of a small JSON document that loses no concurrent update: ``update`` gets the current
        document (None if there is none) and returns the new one, or None to leave it unchanged. It may be called
        again with a newer document when another writer came first."""

    @abc.abstractmethod
    def replace_if(self, key: str, data: bytes, seen: FileStat | None) -> None:
        """Write ``data`` at ``key`` whole, only if the file is still as ``seen`` showed it (None: still absent);
        ConflictError otherwise, and nothing changes. What fences a lease holder that paused past its lease: what
        it read may have been replaced by the holder that took over, and it must not write over that."""

    @abc.abstractmethod
    def arrow_filesystem(self) -> tuple[pyarrow.fs.FileSystem, str]:
        """pyarrow's file system for this store and the base's path on it, so that a reader of many partitions
        (:mod:`etl.query`) hands pyarrow the files by key: ``f"{root}/{key}"``. For reading only."""

    def version(self, key: str, stat: FileStat | None = None) -> Version | None:
        """The file's content version (None when there is no such file); ``stat``, when the caller has listed it,
        spares a look. Hashed once per listed version in this process, from the bytes; nothing is written."""
        stat = stat or self.stat(key)
        if stat is None:
            return None
        known = _DIGESTS.get((self, key))
        if known is None or known.seen != stat:
            digest = hashlib.sha256()
            with self.open_input(key) as stream:
                while chunk := stream.read(_HASH_CHUNK):
                    digest.update(chunk)
            known = _DIGESTS[(self, key)] = Version(digest.hexdigest(), stat.size, stat)
        return known

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def partition_location(self, layer: str, date: datetime.date) -> str:
        return self.describe(partition_key(layer, date))

    def read_bytes(self, key: str) -> bytes:
        with self.open_input(key) as stream:
            return stream.read()

    def read_json(self, key: str) -> dict:
        """A JSON document written by :meth:`write_json`."""
        return json.loads(self.read_bytes(key))

    def write_json(self, key: str, payload: object) -> None:
        """Write ``payload`` as stable, indented, strict JSON (NaN or infinity is an error), atomically."""
        data = dumps_json(payload)
        with self.atomic_output(key) as stream:
            stream.write(data)


def dumps_json(payload: object) -> bytes:
    """The bytes of a JSON document as the pipeline writes it; a non-finite number raises ValueError naming it."""
    try:
        text = json.dumps(payload, indent=2, sort_keys=True, allow_nan=False)
    except ValueError:
        raise ValueError(f"refusing to write {_non_finite_field(payload)}: JSON has no such number") from None
    return (text + "\n").encode()


def _non_finite_field(payload: object, where: str = "") -> str | None:
    """``json.dumps(allow_nan=False)`` says only "Out of range float values"; this finds the field."""
    if isinstance(payload, float) and not math.isfinite(payload):
        return f"{payload} at {where or 'the top level'}"
    if isinstance(payload, dict):
        children = [(f"{where}.{name}" if where else str(name), value) for name, value in payload.items()]
    elif isinstance(payload, list | tuple):
        children = [(f"{where}[{index}]", value) for index, value in enumerate(payload)]
    else:
        children = []
    for place, value in children:
        found = _non_finite_field(value, place)
        if found is not None:
            return found
    return None
