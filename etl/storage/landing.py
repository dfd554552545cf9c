"""Where a shop drops its order exports: listed, fingerprinted and read, never written to or deleted.

Like a ``Store``, a landing area is reached only through these verbs, so that an object-store prefix
can later be one too. Files are named by their path relative to the landing directory, ``/``-separated.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from typing import BinaryIO

import pyarrow as pa

from etl.storage.store import FileStat

GZIP_SUFFIX = ".gz"
MAX_GZIP_RATIO = 200  # CSV exports compress some tenfold; a file that decompresses far more is refused
_HASH_BLOCK = 1 << 20


class LocalLanding:
    """Export files under one local directory, subdirectories included (links to directories are not followed)."""

    def __init__(self, directory: str, patterns: tuple[str, ...]) -> None:
        if not os.path.isabs(directory):
            raise ValueError(f"landing directory {directory} must be absolute")
        self.directory = os.path.normpath(directory)
        self.patterns = patterns

    def describe(self, name: str = "") -> str:
        return os.path.join(self.directory, *name.split("/")) if name else self.directory

    def files(self) -> list[tuple[str, FileStat]]:
        """Every export file matching a pattern, by name, sorted; a missing directory is an error."""
        if not os.path.isdir(self.directory):
            raise FileNotFoundError(f"the landing directory {self.directory} does not exist")
        found = []
        for root, dirs, names in os.walk(self.directory):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(root, d)))
            for name in names:
                path = os.path.join(root, name)
                if name.startswith(".") or not any(fnmatch.fnmatch(name, p) for p in self.patterns):
                    continue
                if not os.path.isfile(path) or os.path.islink(path):
                    continue
                status = os.stat(path)
                relative = os.path.relpath(path, self.directory).replace(os.sep, "/")
                found.append((relative, FileStat(status.st_size, status.st_mtime_ns, status.st_ino)))
        return sorted(found)

    def max_decoded_bytes(self, name: str) -> int | None:
        """How many bytes the file may decompress to before it is refused as a likely decompression bomb
        (MAX_GZIP_RATIO times its size); None for a file read as it is stored."""
        return MAX_GZIP_RATIO * os.stat(self.describe(name)).st_size if name.endswith(GZIP_SUFFIX) else None

    def sha256(self, name: str) -> str:
        """The file's bytes as stored (compressed ones too): what says it is the same file."""
        digest = hashlib.sha256()
        with open(self.describe(name), "rb") as handle:
            while block := handle.read(_HASH_BLOCK):
                digest.update(block)
        return digest.hexdigest()

    def open(self, name: str) -> BinaryIO:
        """The file's content, decompressed when its name ends in ``.gz``."""
        stream = pa.OSFile(self.describe(name), "rb")
        return pa.CompressedInputStream(stream, "gzip") if name.endswith(GZIP_SUFFIX) else stream
