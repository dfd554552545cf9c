"""How a result exists on storage: the partition targets and their atomic writes.

This is the seam for other storage: tasks ask here for targets and write through here.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import luigi

from etl.partitions import partition_path


def partition_target(base_dir: str, layer: str, date: datetime.date, filename: str) -> luigi.LocalTarget:
    """The target of one file in one day partition."""
    return luigi.LocalTarget(str(partition_path(base_dir, layer, date) / filename))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    On failure the temporary file is removed, so a reader sees the old file or the new one, never half.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | os.PathLike, payload: object) -> None:
    """Write ``payload`` as stable, indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> dict:
    """Read a JSON document written by :func:`write_json`."""
    return json.loads(Path(path).read_text())
