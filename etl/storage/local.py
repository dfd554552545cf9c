"""The local-disk store: atomic writes by rename, listings by ``scandir``, locks by ``flock``."""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.fs as pafs

from etl.storage.layout import PARTITION_DEPTH, checked_key, date_of, part_number, partition_key
from etl.storage.store import ConflictError, FileStat, Partitions, Store

TEMPORARY_SUFFIX = ".tmp"
_TEMPORARY = re.compile(r"\..+\.([0-9]+)-[^.]+\.tmp")  # .<name>.<pid>-<random>.tmp, as atomic_output names them


class LocalStore(Store):
    """Files under an absolute base directory.

    A layer directory may be a symbolic link (raw data on another disk): it is followed. Links inside
    a layer are not: a linked partition is not listed and never removed, so a removal stays in the layer.
    """

    def __init__(self, base_dir: str | os.PathLike) -> None:
        base = Path(base_dir)
        if not base.is_absolute():
            raise ValueError(f"base directory {base_dir} must be absolute")
        self.base = base
        self._root = str(base)
        self._safe_dirs: set[str] = set()  # directories already found free of links below their layer

    def __repr__(self) -> str:
        return f"LocalStore({str(self.base)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalStore) and other.base == self.base

    def __hash__(self) -> int:
        return hash(self.base)

    def describe(self, key: str = "") -> str:
        return self._path(key) if key else self._root

    def stat(self, key: str) -> FileStat | None:
        try:
            status = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return FileStat(status.st_size, status.st_mtime_ns, status.st_ino)

    def list_partitions(self, layer: str) -> Partitions:
        found: Partitions = {}
        for year, year_path in _numbered_subdirs(Path(self._path(layer)), 0):
            for month, month_path in _numbered_subdirs(year_path, 1):
                for day, day_path in _numbered_subdirs(month_path, 2):
                    date = date_of(year, month, day)
                    if date is not None:
                        found[date] = _files(day_path)
        return found

    def list_partition(self, layer: str, date: datetime.date) -> dict[str, FileStat]:
        path = self._path(partition_key(layer, date))
        return {} if os.path.islink(path) else _files(path)

    def open_input(self, key: str) -> BinaryIO:
        path = self._path(key)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no such file: {path}")
        return pa.OSFile(path, "rb")

    @contextlib.contextmanager
    def atomic_output(self, key: str) -> Iterator[BinaryIO]:
        final = self._path(key)
        directory, name = os.path.split(final)
        tmp_name = self._temporary_beside(directory, name)
        try:
            with pa.OSFile(tmp_name, "wb") as stream:
                yield stream
            _sync(tmp_name)  # the bytes are on disk before the name points at them
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, final)
            _sync(directory)  # and the rename survives a power cut
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)

    def replace_if(self, key: str, data: bytes, seen: FileStat | None) -> None:
        """A look, then the write: locally the key's lease is a ``flock`` that no paused holder outlives, so no
        other writer comes between them; the look (size, time and inode) catches a writer that took no lease."""
        if self.stat(key) != seen:
            raise ConflictError(f"{self.describe(key)} changed since it was read: not written")
        with self.atomic_output(key) as stream:
            stream.write(data)

    def remove(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))

    def move(self, source: str, key: str) -> None:
        source_path, final = self._path(source), self._path(key)
        if os.path.dirname(final) not in self._safe_dirs:
            self._refuse_links_below_layer(Path(os.path.dirname(final)))
        os.utime(source_path)
        os.replace(source_path, final)
        _sync(os.path.dirname(final))

    def remove_partition(self, layer: str, date: datetime.date) -> bool:
        path = Path(self._path(partition_key(layer, date)))
        self._safe_dirs.clear()
        if not path.exists() and not path.is_symlink():
            return False
        layer_dir = (self.base / layer).resolve()
        if path.is_symlink() or not path.is_dir() or path.resolve().parents[PARTITION_DEPTH - 1] != layer_dir:
            raise ValueError(f"refusing to delete {path}: not a day partition directory of {layer_dir}")
        shutil.rmtree(path)
        for parent in (path.parent, path.parent.parent):
            with contextlib.suppress(FileNotFoundError, OSError):
                parent.rmdir()  # only when empty
        return True

    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        return pafs.LocalFileSystem(), self._root

    def lease(self, key: str, ttl: float) -> contextlib.AbstractContextManager[None]:
        """A ``flock``: the kernel releases it when its holder dies, so ``ttl`` is not needed."""
        return self._locked(key)

    def update_json(self, key: str, update: Callable[[dict | None], dict | None]) -> dict | None:
        with self._locked(key):
            current = self.read_json(key) if self.exists(key) else None
            new = update(current)
            if new is not None:
                self.write_json(key, new)
            return new

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        """``flock`` on the directory that holds ``key``: no lock file is left behind."""
        directory = os.path.dirname(self._path(key))
        os.makedirs(directory, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _temporary_beside(self, directory: str, name: str) -> str:
        """A new empty temporary file in ``directory``, the directory checked and made the first time, and again
        when it was removed behind the store's back (a partition deleted by hand)."""
        for _ in range(2):
            if directory not in self._safe_dirs:
                self._refuse_links_below_layer(Path(directory))
                os.makedirs(directory, exist_ok=True)
                _clear_abandoned_writes(directory)
                self._safe_dirs.add(directory)
            try:
                fd, tmp_name = tempfile.mkstemp(
                    prefix=f".{name}.{os.getpid()}-", suffix=TEMPORARY_SUFFIX, dir=directory
                )
            except FileNotFoundError:
                self._safe_dirs.discard(directory)
                continue
            os.close(fd)
            return tmp_name
        raise FileNotFoundError(f"{directory} vanished while a file was written there")

    def _refuse_links_below_layer(self, directory: Path) -> None:
        """A link inside a layer leads out of it: never write through one (the layer itself may be a link)."""
        layer = self.base / directory.relative_to(self.base).parts[0]
        while directory != layer:
            if directory.is_symlink():
                raise ValueError(f"refusing to write through the symbolic link {directory} inside {layer}")
            directory = directory.parent

    def _path(self, key: str) -> str:
        return f"{self._root}/{checked_key(key)}"


def _sync(path: str) -> None:
    """``fsync`` a file or a directory: what is written or renamed stays so after a power cut, not only a kill."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _clear_abandoned_writes(directory: str) -> None:
    """Remove the temporary files of writes whose process is gone (killed mid-write): a temporary file's name
    holds its writer's process id, so a write in progress in another process is left alone."""
    with os.scandir(directory) as entries:
        for entry in entries:
            match = _TEMPORARY.fullmatch(entry.name)
            if match and entry.is_file(follow_symlinks=False) and not _running(int(match.group(1))):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    return True


def _numbered_subdirs(path: Path, level: int) -> list[tuple[int, Path]]:
    """(number, path) of each real subdirectory named as partition level ``level`` (``month=07`` -> 7)."""
    try:
        with os.scandir(path) as entries:
            return [
                (number, Path(entry.path))
                for entry in entries
                if (number := part_number(level, entry.name)) is not None and entry.is_dir(follow_symlinks=False)
            ]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _files(path: Path) -> dict[str, FileStat]:
    """The regular files of a directory, temporary files of writes in progress left out."""
    try:
        with os.scandir(path) as entries:
            return {
                entry.name: FileStat(status.st_size, status.st_mtime_ns, status.st_ino)
                for entry in entries
                if not entry.name.startswith(".")
                and entry.is_file(follow_symlinks=False)
                and (status := entry.stat(follow_symlinks=False))
            }
    except (FileNotFoundError, NotADirectoryError):
        return {}
