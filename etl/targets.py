"""Luigi's view of the store: a target is one key in one store, and exists when the store has that file."""

from __future__ import annotations

import luigi

from etl.storage import Store


class StoreTarget(luigi.Target):
    """One file of the pipeline, wherever its store keeps it."""

    def __init__(self, store: Store, key: str) -> None:
        self.store = store
        self.key = key

    def exists(self) -> bool:
        return self.store.exists(self.key)

    @property
    def path(self) -> str:
        """Where the file is, for people and logs (an absolute path on local disk)."""
        return self.store.describe(self.key)

    def __repr__(self) -> str:
        return f"StoreTarget({self.path!r})"
