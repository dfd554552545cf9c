"""Where the pipeline's partitions live: the layout, the ``Store`` seam and its implementations.

``open_store`` is the one place that decides which kind of store a base location names.
"""

from __future__ import annotations

import re

from etl.storage.local import LocalStore
from etl.storage.s3_options import S3Options
from etl.storage.store import ConflictError, FileStat, Partitions, Store, Version, dumps_json

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class UnsupportedStoreError(ValueError):
    """The base location names a kind of storage this version cannot write to."""


def open_store(base_dir: str, s3: S3Options | None = None) -> Store:
    """The store of an absolute base directory or an ``s3://bucket/prefix`` (reached as ``s3`` says).

    Another URL (``gs://``, ``file://``, ...) is refused rather than mistaken for a folder named ``gs:``.
    """
    if base_dir.startswith("s3://"):
        return _s3_module(base_dir).S3Store(base_dir, s3)
    if _URL.match(base_dir):
        raise UnsupportedStoreError(f"{base_dir!r}: this kind of storage is not supported; use s3:// or a directory")
    return LocalStore(base_dir)


def _s3_module(url: str):
    """:mod:`.s3`, imported only for an s3:// location: boto3 is the optional ``s3`` extra."""
    try:
        from etl.storage import s3
    except ImportError as error:
        raise UnsupportedStoreError(f"{url!r} needs boto3 ({error}): pip install 'etl[s3]'") from None
    return s3


__all__ = [
    "ConflictError",
    "FileStat",
    "LocalStore",
    "Partitions",
    "S3Options",
    "Store",
    "UnsupportedStoreError",
    "Version",
    "dumps_json",
    "open_store",
]
