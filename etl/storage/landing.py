"""Where a shop drops its order exports: listed, fingerprinted and read, never written to or deleted.

Like a ``Store``, a landing area is reached only through these verbs, so that an object-store prefix
can later be one too. Files are named by their path relative to the landing directory, ``/``-separated (through
links: a linked file or folder is read like any other).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from typing import BinaryIO

import pyarrow as pa

from etl.storage.s3_options import S3Options
from etl.storage.store import FileStat

GZIP_SUFFIX = ".gz"
MAX_GZIP_RATIO = 200  # CSV exports compress some tenfold; a file that decompresses far more is refused
HASH_BLOCK = 1 << 20


def open_landing(directory: str, patterns: tuple[str, ...], s3: S3Options | None = None) -> LocalLanding:
    """The landing area a ``[landing] directory`` names (a local directory or an ``s3://`` prefix): the one
    place that decides what kind it is."""
    if directory.startswith("s3://"):
        from etl.storage import _s3_module

        return _s3_module(directory).S3Landing(directory, patterns, s3)
    return LocalLanding(directory, patterns)


class LocalLanding:
    """Export files under one local directory, subdirectories included.

    A link to a file or to a folder is followed: its files are named through the link. Each real folder is
    listed once, so a link loop ends, and a link to a file or folder listed by its own name adds nothing: the
    files reached without a link come first, then those through links, in name order.
    """

    def __init__(self, directory: str, patterns: tuple[str, ...]) -> None:
        if not os.path.isabs(directory):
            raise ValueError(f"landing directory {directory} must be absolute")
        self.directory = os.path.normpath(directory)
        self.patterns = patterns

    def describe(self, name: str = "") -> str:
        return os.path.join(self.directory, *name.split("/")) if name else self.directory

    def files(self) -> list[tuple[str, FileStat]]:
        """Every export file matching a pattern, by name, sorted; a missing directory is an error, a dangling
        link is skipped."""
        if not os.path.isdir(self.directory):
            raise FileNotFoundError(f"the landing directory {self.directory} does not exist")
        found: list[tuple[bool, str, os.stat_result]] = []  # (reached through a link, name, status)
        listed_folders: set[tuple[int, int]] = set()
        folders = [(self.directory, False)]  # the folders to list, each with whether a link led to it
        for folder, linked in folders:  # grows with the links to folders found, listed after the real tree
            for root, dirs, names in os.walk(folder):
                status = os.stat(root)
                if (status.st_dev, status.st_ino) in listed_folders:
                    dirs[:] = []
                    continue
                listed_folders.add((status.st_dev, status.st_ino))
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                folders += [(os.path.join(root, d), True) for d in dirs if os.path.islink(os.path.join(root, d))]
                for name in names:
                    path = os.path.join(root, name)
                    if name.startswith(".") or not any(fnmatch.fnmatch(name, p) for p in self.patterns):
                        continue
                    if os.path.isfile(path):
                        relative = os.path.relpath(path, self.directory).replace(os.sep, "/")
                        found.append((linked or os.path.islink(path), relative, os.stat(path)))
        return sorted((name, FileStat(s.st_size, s.st_mtime_ns, s.st_ino)) for name, s in _once_through_links(found))

    def target(self, name: str) -> str | None:
        """The file's real path when it or a folder on its path below the landing directory is a link, else
        None: what a name read through a link stands for."""
        real = os.path.realpath(self.describe(name))
        unlinked = os.path.join(os.path.realpath(self.directory), *name.split("/"))
        return real if real != unlinked else None

    def max_decoded_bytes(self, name: str) -> int | None:
        """How many bytes the file may decompress to before it is refused as a likely decompression bomb
        (MAX_GZIP_RATIO times its size); None for a file read as it is stored."""
        return MAX_GZIP_RATIO * os.stat(self.describe(name)).st_size if name.endswith(GZIP_SUFFIX) else None

    def sha256(self, name: str) -> str:
        """The file's bytes as stored (compressed ones too): what says it is the same file."""
        digest = hashlib.sha256()
        with open(self.describe(name), "rb") as handle:
            while block := handle.read(HASH_BLOCK):
                digest.update(block)
        return digest.hexdigest()

    def open(self, name: str) -> BinaryIO:
        """The file's content, decompressed when its name ends in ``.gz``."""
        stream = pa.OSFile(self.describe(name), "rb")
        return pa.CompressedInputStream(stream, "gzip") if name.endswith(GZIP_SUFFIX) else stream


def _once_through_links(found: list[tuple[bool, str, os.stat_result]]) -> list[tuple[str, os.stat_result]]:
    """The files found, less those reached through a link whose real file was found already: every file found
    without a link stays (hard links too), then each linked one in name order if its real file is new."""
    seen: set[tuple[int, int]] = set()
    kept = []
    for linked, name, status in sorted(found, key=lambda entry: (entry[0], entry[1])):
        if linked and (status.st_dev, status.st_ino) in seen:
            continue
        seen.add((status.st_dev, status.st_ino))
        kept.append((name, status))
    return kept
