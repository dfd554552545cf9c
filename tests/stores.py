"""Stores for tests that watch what the pipeline does to its store: one that refuses writes, one that counts."""

from __future__ import annotations

import collections

from etl.storage import LocalStore


class ReadOnlyStore(LocalStore):
    """A local store whose every write verb fails the test: what reading the state may use."""

    def _wrote(self, *args, **kwargs):
        raise AssertionError(f"a read wrote: {args}")

    atomic_output = remove = move = remove_partition = lease = update_json = _wrote


class CountingStore(LocalStore):
    """A local store that counts its calls: each verb, and the whole-layer listings per layer."""

    def __init__(self, base_dir) -> None:
        super().__init__(base_dir)
        self.calls: collections.Counter[str] = collections.Counter()

    def list_partitions(self, layer):
        self.calls["list_partitions"] += 1
        self.calls[f"list_partitions {layer}"] += 1
        return super().list_partitions(layer)

    def list_partition(self, layer, date):
        self.calls["list_partition"] += 1
        return super().list_partition(layer, date)

    def stat(self, key):
        self.calls["stat"] += 1
        return super().stat(key)

    def open_input(self, key):
        self.calls["open_input"] += 1
        return super().open_input(key)

    def atomic_output(self, key):
        self.calls["atomic_output"] += 1
        return super().atomic_output(key)

    def move(self, source, key):
        self.calls["move"] += 1
        return super().move(source, key)
