"""Local scratch space: files one run sets aside for itself (the ingest's spill), never pipeline data.

Scratch lives on this host's disk whatever the store is (a bucket would make every spilled part a paid round
trip), in a private directory per run, removed when the run ends. Nothing here is synced: a run killed midway
starts again from its inputs, and its leftover directory is the system's temporary files to clean.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

import pyarrow as pa

PREFIX = "etl-scratch-"


@contextlib.contextmanager
def scratch_directory(parent: str | None = None) -> Iterator[str]:
    """A new private directory under ``parent`` (the system's temporary directory by default), removed with
    everything in it when the block ends."""
    directory = tempfile.mkdtemp(prefix=PREFIX, dir=parent)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def scratch_output(path: str) -> pa.NativeFile:
    """A plain file to write, its folder made: no temporary name, no sync (a scratch file is never published)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return pa.OSFile(path, "wb")


def scratch_input(path: str) -> pa.NativeFile:
    return pa.OSFile(path, "rb")
