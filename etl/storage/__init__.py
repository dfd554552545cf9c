"""Where the pipeline's partitions live: the layout, the ``Store`` seam and its implementations.

``open_store`` is the one place that decides which kind of store a base location names.
"""

from __future__ import annotations

import re

from etl.storage.local import LocalStore
from etl.storage.store import FileStat, Partitions, Store, Version, dumps_json

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class UnsupportedStoreError(ValueError):
    """The base location names a kind of storage this version cannot write to."""


def open_store(base_dir: str) -> Store:
    """The store of an absolute base directory.

    A URL (``s3://``, ``gs://``, ...) is refused rather than mistaken for a folder named ``s3:``.
    """
    if _URL.match(base_dir):
        raise UnsupportedStoreError(f"{base_dir!r}: object storage is not supported yet; use a local directory")
    return LocalStore(base_dir)


__all__ = [
    "FileStat",
    "LocalStore",
    "Partitions",
    "Store",
    "UnsupportedStoreError",
    "Version",
    "dumps_json",
    "open_store",
]
