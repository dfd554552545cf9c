"""Stores for tests that watch what the pipeline does to its store: one that refuses writes, one that counts, one
that fails a chosen call."""

from __future__ import annotations

import collections
import contextlib

from etl.storage import LocalStore, Store


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


class InjectedFault(OSError):  # noqa: N818 - a fault, as the design names it, not an error of the code
    """The error a :class:`FaultyStore` raises: an I/O error, as a full disk or a dropped connection gives."""


class FaultyStore(Store):
    """Any store (``inner``), every call passed on and counted in ``calls``, with an InjectedFault raised just
    ``when`` ("before" or "after") the ``n``-th call of ``verb`` (never when ``n`` is 0): a store that fails at
    one chosen moment, without the slow kill of a process. ``fired`` tells whether the fault happened, and
    ``under_lease`` lists the calls (verb and number) made while one of its leases was held: the ingest's.

    For the context managers, "before" fails before the inner one is entered (nothing written, no lease taken) and
    "after" once the block ran and the inner one exited (the file committed, the lease given back).
    """

    def __init__(self, inner: Store, verb: str, n: int, when: str) -> None:
        if when not in ("before", "after"):
            raise ValueError(f"when={when!r}: before or after")
        self.inner, self.verb, self.n, self.when = inner, verb, n, when
        self.calls: collections.Counter[str] = collections.Counter()
        self.fired = False
        self.under_lease: list[tuple[str, int]] = []
        self._leases = 0

    def __repr__(self) -> str:
        return f"FaultyStore({self.inner!r}, {self.verb!r}, {self.n}, {self.when!r})"

    def describe(self, key=""):
        return self.inner.describe(key)

    def stat(self, key):
        return self._call("stat", key)

    def list_partitions(self, layer):
        return self._call("list_partitions", layer)

    def list_partition(self, layer, date):
        return self._call("list_partition", layer, date)

    def open_input(self, key):
        return self._call("open_input", key)

    def remove(self, key):
        return self._call("remove", key)

    def move(self, source, key):
        return self._call("move", source, key)

    def remove_partition(self, layer, date):
        return self._call("remove_partition", layer, date)

    def update_json(self, key, update):
        return self._call("update_json", key, update)

    def replace_if(self, key, data, seen):
        return self._call("replace_if", key, data, seen)

    def arrow_filesystem(self):
        return self.inner.arrow_filesystem()

    @contextlib.contextmanager
    def atomic_output(self, key):
        number = self._begin("atomic_output")
        with self.inner.atomic_output(key) as stream:
            yield stream
        self._fault("atomic_output", number, "after")

    @contextlib.contextmanager
    def lease(self, key, ttl):
        number = self._begin("lease")
        with self.inner.lease(key, ttl):
            self._leases += 1
            try:
                yield
            finally:
                self._leases -= 1
        self._fault("lease", number, "after")

    def _call(self, verb: str, *args):
        number = self._begin(verb)
        result = getattr(self.inner, verb)(*args)
        self._fault(verb, number, "after")
        return result

    def _begin(self, verb: str) -> int:
        """Count the call, and fail it now if it is the one to fail before; its number."""
        self.calls[verb] += 1
        if self._leases:
            self.under_lease.append((verb, self.calls[verb]))
        self._fault(verb, self.calls[verb], "before")
        return self.calls[verb]

    def _fault(self, verb: str, number: int, when: str) -> None:
        if (verb, number, when) == (self.verb, self.n, self.when):
            self.fired = True
            raise InjectedFault(f"injected: a fault {when} call {number} of {verb}")
