"""The store: atomic writes (a reader sees the old file or the new one, never half), strict JSON, safe removal
of day partitions, locks, and the Luigi target over a store key."""

from __future__ import annotations

import datetime
import fcntl
import json
import math
import multiprocessing
import os
import shutil
import stat
import time
from pathlib import Path

import luigi
import pytest

from etl.storage import FileStat, LocalStore, Store, UnsupportedStoreError, dumps_json, open_store
from etl.storage.layout import file_key, partition_key
from etl.targets import StoreTarget

D = datetime.date
DAY = D(2024, 3, 9)
KEY = "metrics/year=2024/month=03/day=09/out.txt"


def day_dir(base: Path, layer: str, date: datetime.date) -> Path:
    """The partition directory, spelled out independently of etl.storage.layout."""
    return base / layer / f"year={date.year:04d}" / f"month={date.month:02d}" / f"day={date.day:02d}"


def make_partitions(base: Path, layer: str, dates) -> None:
    for date in dates:
        path = day_dir(base, layer, date)
        path.mkdir(parents=True)
        (path / "file.txt").write_text(date.isoformat())


@pytest.fixture
def store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path)


# open_store and LocalStore basics -------------------------------------------------------------------------


def test_open_store_of_an_absolute_directory_is_a_local_store(tmp_path):
    store = open_store(str(tmp_path))
    assert isinstance(store, LocalStore) and isinstance(store, Store)
    assert store == LocalStore(tmp_path), "stores of one base are equal (and hash alike: used as cache keys)"
    assert hash(store) == hash(LocalStore(str(tmp_path)))
    assert store != LocalStore(tmp_path / "other")
    assert store.describe() == str(tmp_path)


@pytest.mark.parametrize("url", ["gs://bucket/data", "file:///tmp/x", "azure://container"])
def test_open_store_refuses_urls(url):
    with pytest.raises(UnsupportedStoreError, match="not supported") as raised:
        open_store(url)
    assert url in str(raised.value)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("base", ["data", "./data", "", "s3:bucket"])
def test_local_store_refuses_a_relative_base(base):
    with pytest.raises(ValueError, match="must be absolute"):
        LocalStore(base)


def test_describe_and_partition_location_are_absolute_paths(store, tmp_path):
    assert store.describe(KEY) == str(tmp_path / "metrics" / "year=2024" / "month=03" / "day=09" / "out.txt")
    assert store.partition_location("raw", DAY) == str(day_dir(tmp_path, "raw", DAY))


def test_stat_and_exists(store, tmp_path):
    assert store.stat(KEY) is None and not store.exists(KEY)
    path = tmp_path / KEY
    path.parent.mkdir(parents=True)
    path.write_bytes(b"12345")
    status = os.stat(path)
    assert store.stat(KEY) == FileStat(5, status.st_mtime_ns, status.st_ino)
    assert store.exists(KEY)
    assert store.list_partition("metrics", DAY) == {"out.txt": store.stat(KEY)}, "a listing tells the same"
    assert store.stat(KEY + "/below-a-file") is None, "a path through a file is simply missing"


def test_open_input_reads_the_bytes_and_names_a_missing_file(store, tmp_path):
    path = tmp_path / KEY
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00abc\xff")
    assert store.read_bytes(KEY) == b"\x00abc\xff"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        store.open_input("metrics/nope.txt")
    with pytest.raises(FileNotFoundError):
        store.open_input("metrics/year=2024")  # a directory is not a file


# StoreTarget ----------------------------------------------------------------------------------------------


def test_store_target_points_into_the_day_partition(store, tmp_path):
    target = StoreTarget(store, file_key("processed", DAY, "daily_summary.json"))
    expected = tmp_path / "processed" / "year=2024" / "month=03" / "day=09" / "daily_summary.json"
    assert isinstance(target, luigi.Target)
    assert target.path == str(expected)
    assert repr(target) == f"StoreTarget({str(expected)!r})"
    assert not target.exists()
    store.write_json(target.key, {})
    assert target.exists()
    expected.unlink()
    assert not target.exists()


# atomic_output --------------------------------------------------------------------------------------------


def test_atomic_output_replaces_the_file_on_success(store, tmp_path):
    final = tmp_path / KEY
    with store.atomic_output(KEY) as stream:
        temporary = os.listdir(final.parent)
        assert len(temporary) == 1, "the temporary file is beside the final one (same filesystem)"
        assert temporary[0].startswith(".out.txt.") and temporary[0].endswith(".tmp")
        assert not final.exists(), "nothing is visible before the block ends"
        stream.write(b"new")
    assert final.read_bytes() == b"new"
    assert sorted(os.listdir(final.parent)) == ["out.txt"]
    assert stat.S_IMODE(final.stat().st_mode) == 0o644


def test_atomic_output_keeps_old_content_and_no_temp_file_on_exception(store, tmp_path):
    final = tmp_path / KEY
    final.parent.mkdir(parents=True)
    final.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), store.atomic_output(KEY) as stream:
        stream.write(b"half")
        raise RuntimeError("boom")
    assert final.read_bytes() == b"old"
    assert sorted(os.listdir(final.parent)) == ["out.txt"]


def test_atomic_output_on_exception_leaves_no_file_where_there_was_none(store, tmp_path):
    with pytest.raises(KeyError), store.atomic_output(KEY) as stream:
        stream.write(b"partial")
        raise KeyError("x")
    assert os.listdir((tmp_path / KEY).parent) == []
    assert store.list_partition("metrics", DAY) == {}


def test_atomic_output_when_the_body_writes_nothing_leaves_an_empty_file(store, tmp_path):
    final = tmp_path / KEY
    final.parent.mkdir(parents=True)
    final.write_bytes(b"old")
    with store.atomic_output(KEY):
        pass
    assert final.read_bytes() == b""


def test_every_whole_file_write_changes_the_stat_even_with_the_same_size_and_time(store, tmp_path):
    """What a coarse timestamp clock gives two writes in one tick: the stat still tells them apart."""
    store.write_json(KEY, {"v": 1})
    before = store.stat(KEY)
    store.write_json(KEY, {"v": 2})
    os.utime(tmp_path / KEY, ns=(before.mtime_ns, before.mtime_ns))
    after = store.stat(KEY)
    assert (after.size, after.mtime_ns) == (before.size, before.mtime_ns)
    assert after != before


def test_atomic_output_renames_once_the_new_content_is_complete(store, tmp_path, monkeypatch):
    store.write_json(KEY, {"v": 1})
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((os.fspath(src), os.fspath(dst)))
        assert json.loads(Path(src).read_text()) == {"v": 2}, "the new content is complete before the rename"
        assert json.loads(Path(dst).read_text()) == {"v": 1}, "readers still see the old file"
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    store.write_json(KEY, {"v": 2})
    assert len(replaced) == 1 and replaced[0][1] == str(tmp_path / KEY)
    assert store.read_json(KEY) == {"v": 2}


# JSON -----------------------------------------------------------------------------------------------------


def test_write_json_is_sorted_indented_and_newline_terminated(store, tmp_path):
    store.write_json(KEY, {"b": 1, "a": {"d": [1, 2], "c": None}, "é": "ü"})
    assert (tmp_path / KEY).read_text() == (
        "{\n"
        '  "a": {\n'
        '    "c": null,\n'
        '    "d": [\n'
        "      1,\n"
        "      2\n"
        "    ]\n"
        "  },\n"
        '  "b": 1,\n'
        '  "\\u00e9": "\\u00fc"\n'
        "}\n"
    )


def test_write_json_is_stable_whatever_the_key_order(store, tmp_path):
    store.write_json("metrics/one.json", {"x": 1, "y": {"b": 2, "a": 3}})
    store.write_json("metrics/two.json", {"y": {"a": 3, "b": 2}, "x": 1})
    assert (tmp_path / "metrics" / "one.json").read_bytes() == (tmp_path / "metrics" / "two.json").read_bytes()
    assert (tmp_path / "metrics" / "one.json").read_bytes() == dumps_json({"y": {"a": 3, "b": 2}, "x": 1})


def test_write_json_round_trips_through_read_json(store, tmp_path):
    payload = {"execution_date": "2024-03-09", "total_revenue": 46547.82, "rules": [{"passed": True}], "n": None}
    key = file_key("metrics", DAY, "report.json")
    store.write_json(key, payload)
    assert store.read_json(key) == payload
    assert stat.S_IMODE((tmp_path / key).stat().st_mode) == 0o644


def test_write_json_failure_keeps_the_old_file_and_no_temp_file(store, tmp_path):
    store.write_json(KEY, {"version": 1})
    before = (tmp_path / KEY).read_bytes()
    with pytest.raises(TypeError):
        store.write_json(KEY, {"version": 2, "bad": object()})
    assert (tmp_path / KEY).read_bytes() == before
    assert json.loads(before) == {"version": 1}
    assert os.listdir((tmp_path / KEY).parent) == ["out.txt"]


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        (math.nan, "the top level"),
        ({"total_revenue": math.inf}, "total_revenue"),
        ({"rolling": {"growth": -math.inf}}, "rolling.growth"),
        ({"by_category": {"Books": {"revenue": math.nan}}}, "by_category.Books.revenue"),
        ({"values": [1.0, 2.0, math.nan]}, r"values\[2\]"),
        ([{"a": 1}, {"b": [math.inf]}], r"\[1\]\.b\[0\]"),
        ({"t": (0.0, math.inf)}, r"t\[1\]"),
    ],
)
def test_dumps_json_refuses_non_finite_numbers_naming_the_field(payload, where):
    with pytest.raises(ValueError, match=f"refusing to write .* at {where}: JSON has no such number"):
        dumps_json(payload)


def test_write_json_of_a_non_finite_number_keeps_the_old_file(store, tmp_path):
    store.write_json(KEY, {"total_revenue": 1.5})
    before = (tmp_path / KEY).read_bytes()
    with pytest.raises(ValueError, match="total_revenue"):
        store.write_json(KEY, {"total_revenue": math.nan})
    assert (tmp_path / KEY).read_bytes() == before
    assert os.listdir((tmp_path / KEY).parent) == ["out.txt"]


def test_dumps_json_accepts_large_finite_numbers():
    assert json.loads(dumps_json({"x": 1e308, "y": -0.0, "n": 10**30})) == {"x": 1e308, "y": -0.0, "n": 10**30}


def test_read_json_of_a_missing_file_is_an_error(store):
    with pytest.raises(FileNotFoundError):
        store.read_json("metrics/nope.json")


# move -----------------------------------------------------------------------------------------------------


def staged_file(base: Path, key: str, content: bytes) -> Path:
    """A file written beside its final place, as an ingest stages a raw file, dated a day ago."""
    path = base / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    day_ago = time.time_ns() - 86_400 * 10**9
    os.utime(path, ns=(day_ago, day_ago))
    return path


def test_move_replaces_the_file_in_one_step(store, tmp_path):
    final_key = file_key("raw", DAY, "orders.csv")
    store.write_json(final_key, {"version": 1})
    staged = staged_file(tmp_path, file_key("raw", DAY, ".orders.csv.staged"), b"order_id\nA\n")
    inode = staged.stat().st_ino

    store.move(file_key("raw", DAY, ".orders.csv.staged"), final_key)

    assert store.read_bytes(final_key) == b"order_id\nA\n"
    assert (tmp_path / final_key).stat().st_ino == inode, "renamed into place, not copied"
    assert not staged.exists()
    assert sorted(os.listdir(day_dir(tmp_path, "raw", DAY))) == ["orders.csv"]


def test_move_makes_the_file_as_new_as_the_move(store, tmp_path):
    """What was built from the replaced file must be older than the moved one, however early it was staged."""
    staged = staged_file(tmp_path, file_key("raw", DAY, ".orders.csv.staged"), b"x")
    staged_at = staged.stat().st_mtime_ns
    store.write_json(file_key("processed", DAY, "daily_summary.json"), {})  # built after the staged write
    built_at = (tmp_path / file_key("processed", DAY, "daily_summary.json")).stat().st_mtime_ns

    store.move(file_key("raw", DAY, ".orders.csv.staged"), file_key("raw", DAY, "orders.csv"))

    moved_at = store.stat(file_key("raw", DAY, "orders.csv")).mtime_ns
    assert moved_at > staged_at
    assert moved_at >= built_at
    assert abs(moved_at - time.time_ns()) < 60 * 10**9, "the time of the move"


@pytest.mark.parametrize("linked", ["day", "month", "year"])
def test_move_refuses_to_write_through_a_symlink_inside_a_layer(tmp_path, linked):
    base = tmp_path / "base"
    outside = tmp_path / "outside"
    outside.mkdir()
    (base / "raw").mkdir(parents=True)
    day = day_dir(base, "raw", DAY)
    link = {"day": day, "month": day.parent, "year": day.parent.parent}[linked]
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, link)
    day.mkdir(parents=True, exist_ok=True)  # the day's directory, reached through the link
    staged = staged_file(base, "ingest/orders.csv.staged", b"x")

    with pytest.raises(ValueError, match="refusing to write through the symbolic link"):
        LocalStore(base).move("ingest/orders.csv.staged", file_key("raw", DAY, "orders.csv"))

    assert staged.read_bytes() == b"x", "the staged file stays where it was"
    assert [p.name for p in outside.rglob("*") if p.is_file()] == [], "nothing was written outside the layer"
    assert link.is_symlink()


def test_move_works_through_a_symlinked_layer_directory(tmp_path):
    """A layer on another disk, linked in, is followed (as atomic_output follows it)."""
    elsewhere = tmp_path / "big-disk" / "raw"
    elsewhere.mkdir(parents=True)
    base = tmp_path / "base"
    base.mkdir()
    os.symlink(elsewhere, base / "raw")
    staged_file(base, file_key("raw", DAY, ".orders.csv.staged"), b"x")

    LocalStore(base).move(file_key("raw", DAY, ".orders.csv.staged"), file_key("raw", DAY, "orders.csv"))

    assert sorted(os.listdir(day_dir(elsewhere.parent, "raw", DAY))) == ["orders.csv"]
    assert (base / "raw").is_symlink()


# remove_partition -----------------------------------------------------------------------------------------


def test_remove_partition_removes_days_and_emptied_month_and_year_dirs(store, tmp_path):
    make_partitions(tmp_path, "raw", [D(2023, 12, 30), D(2023, 12, 31), D(2024, 1, 1), D(2024, 1, 2)])

    removed = [store.remove_partition("raw", d) for d in (D(2023, 12, 30), D(2023, 12, 31), D(2024, 1, 1))]

    assert removed == [True, True, True]
    assert not (tmp_path / "raw" / "year=2023").exists(), "year emptied by the removals is gone"
    assert (tmp_path / "raw" / "year=2024" / "month=01").is_dir(), "month still holding 2024-01-02 stays"
    assert day_dir(tmp_path, "raw", D(2024, 1, 2)).is_dir()
    assert not day_dir(tmp_path, "raw", D(2024, 1, 1)).exists()
    assert list(store.list_partitions("raw")) == [D(2024, 1, 2)]


def test_remove_partition_of_a_day_already_gone_is_false(store, tmp_path):
    make_partitions(tmp_path, "raw", [D(2024, 1, 1)])
    assert store.remove_partition("raw", D(2024, 1, 1)) is True
    assert store.remove_partition("raw", D(2024, 1, 1)) is False
    assert store.remove_partition("metrics", D(2024, 1, 1)) is False, "the layer does not even exist"


def test_remove_partition_keeps_a_month_with_other_content(store, tmp_path):
    make_partitions(tmp_path, "metrics", [D(2024, 1, 1)])
    (tmp_path / "metrics" / "year=2024" / "month=01" / "notes.txt").write_text("keep me")
    assert store.remove_partition("metrics", D(2024, 1, 1))
    assert (tmp_path / "metrics" / "year=2024" / "month=01" / "notes.txt").read_text() == "keep me"


def test_remove_partition_never_removes_the_layer_dir_or_the_base(store, tmp_path):
    make_partitions(tmp_path, "processed", [D(2024, 1, 1), D(2024, 2, 1)])
    store.remove_partition("processed", D(2024, 1, 1))
    store.remove_partition("processed", D(2024, 2, 1))
    assert (tmp_path / "processed").is_dir()
    assert list((tmp_path / "processed").iterdir()) == []
    assert tmp_path.is_dir()


def test_remove_partition_only_touches_its_own_layer(store, tmp_path):
    for layer in ("raw", "processed", "metrics"):
        make_partitions(tmp_path, layer, [D(2024, 1, 1)])
    store.remove_partition("processed", D(2024, 1, 1))
    assert day_dir(tmp_path, "raw", D(2024, 1, 1)).is_dir()
    assert day_dir(tmp_path, "metrics", D(2024, 1, 1)).is_dir()
    assert not (tmp_path / "processed" / "year=2024").exists()


def test_remove_partition_refuses_an_unknown_layer(store, tmp_path):
    make_partitions(tmp_path, "raw", [D(2024, 1, 1)])
    for layer in ("staging", "raw/..", ".."):
        with pytest.raises(ValueError, match="unknown layer"):
            store.remove_partition(layer, D(2024, 1, 1))
    assert day_dir(tmp_path, "raw", D(2024, 1, 1)).is_dir()


def test_remove_partition_refuses_a_symlink_and_its_target_outside_survives(tmp_path):
    base = tmp_path / "base"
    target = tmp_path / "precious"
    target.mkdir()
    (target / "data.csv").write_text("do not delete")
    month = base / "raw" / "year=2024" / "month=01"
    month.mkdir(parents=True)
    link = month / "day=01"
    os.symlink(target, link)

    with pytest.raises(ValueError, match="refusing to delete"):
        LocalStore(base).remove_partition("raw", D(2024, 1, 1))

    assert (target / "data.csv").read_text() == "do not delete"
    assert link.is_symlink()


def test_remove_partition_refuses_a_dangling_symlink(store, tmp_path):
    month = tmp_path / "raw" / "year=2024" / "month=01"
    month.mkdir(parents=True)
    os.symlink(tmp_path / "nowhere", month / "day=01")
    with pytest.raises(ValueError, match="refusing to delete"):
        store.remove_partition("raw", D(2024, 1, 1))
    assert (month / "day=01").is_symlink()


def test_remove_partition_refuses_a_symlink_into_base(store, tmp_path):
    make_partitions(tmp_path, "processed", [D(2024, 1, 1)])
    month = tmp_path / "raw" / "year=2024" / "month=01"
    month.mkdir(parents=True)
    os.symlink(day_dir(tmp_path, "processed", D(2024, 1, 1)), month / "day=01")
    with pytest.raises(ValueError, match="refusing to delete"):
        store.remove_partition("raw", D(2024, 1, 1))
    assert (day_dir(tmp_path, "processed", D(2024, 1, 1)) / "file.txt").exists()


def test_remove_partition_refuses_a_symlink_to_another_day_of_the_same_layer(store, tmp_path):
    make_partitions(tmp_path, "raw", [D(2024, 1, 1)])
    link = day_dir(tmp_path, "raw", D(2024, 1, 2))
    os.symlink(day_dir(tmp_path, "raw", D(2024, 1, 1)), link)
    with pytest.raises(ValueError, match="refusing to delete"):
        store.remove_partition("raw", D(2024, 1, 2))
    assert link.is_symlink()
    assert (day_dir(tmp_path, "raw", D(2024, 1, 1)) / "file.txt").exists()


@pytest.mark.parametrize("linked", ["month", "year"])
def test_remove_partition_refuses_a_day_reached_through_a_symlinked_month_or_year(tmp_path, linked):
    base = tmp_path / "base"
    outside = tmp_path / "outside"
    make_partitions(outside, "raw", [D(2024, 1, 1)])
    (base / "raw" / "year=2024").mkdir(parents=True)
    if linked == "month":
        os.symlink(outside / "raw" / "year=2024" / "month=01", base / "raw" / "year=2024" / "month=01")
    else:
        os.rmdir(base / "raw" / "year=2024")
        os.symlink(outside / "raw" / "year=2024", base / "raw" / "year=2024")

    with pytest.raises(ValueError, match="refusing to delete"):
        LocalStore(base).remove_partition("raw", D(2024, 1, 1))

    assert (day_dir(outside, "raw", D(2024, 1, 1)) / "file.txt").exists()


def test_remove_partition_refuses_a_file_in_place_of_the_partition(store, tmp_path):
    month = tmp_path / "raw" / "year=2024" / "month=01"
    month.mkdir(parents=True)
    (month / "day=01").write_text("not a directory")
    with pytest.raises(ValueError, match="refusing to delete"):
        store.remove_partition("raw", D(2024, 1, 1))
    assert (month / "day=01").read_text() == "not a directory"


def test_remove_partition_works_through_a_symlinked_layer_directory(tmp_path):
    """A layer on another disk, linked in: its partitions are removed there, and the link stays."""
    elsewhere = tmp_path / "big-disk" / "raw"
    make_partitions(elsewhere.parent, "raw", [D(2024, 1, 1), D(2024, 1, 2)])
    base = tmp_path / "base"
    base.mkdir()
    os.symlink(elsewhere, base / "raw")
    store = LocalStore(base)

    assert store.remove_partition("raw", D(2024, 1, 1))

    assert not day_dir(elsewhere.parent, "raw", D(2024, 1, 1)).exists()
    assert day_dir(elsewhere.parent, "raw", D(2024, 1, 2)).is_dir()
    assert (base / "raw").is_symlink()
    assert list(store.list_partitions("raw")) == [D(2024, 1, 2)]


# lease and update_json -----------------------------------------------------------------------------------


def test_lease_is_a_flock_other_openers_cannot_take_and_leaves_no_file(store, tmp_path):
    key = "cleanup/retired_days.json"
    directory = tmp_path / "cleanup"
    with store.lease(key, ttl=1):
        assert directory.is_dir(), "the key's directory is created to lock it"
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    assert os.listdir(directory) == [], "no lock file is left behind"
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released: free to take
    finally:
        os.close(fd)


def _increment_many(base: str, key: str, times: int) -> None:
    store = LocalStore(base)
    for _ in range(times):
        store.update_json(key, lambda current: {"n": (current or {"n": 0})["n"] + 1})


def test_update_json_from_concurrent_processes_loses_no_update(tmp_path):
    key = "cleanup/counter.json"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_increment_many, args=(str(tmp_path), key, 25)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert LocalStore(tmp_path).read_json(key) == {"n": 100}


def test_partition_key_and_store_agree_on_the_directory(store, tmp_path):
    store.write_json(file_key("raw", DAY, "validation_report.json"), {})
    assert (tmp_path / partition_key("raw", DAY) / "validation_report.json").is_file()
    assert list(store.list_partition("raw", DAY)) == ["validation_report.json"]


def test_a_write_killed_midway_leaves_no_partial_file_and_the_next_write_there_clears_its_leftover(tmp_path):
    import signal
    import subprocess
    import sys
    import textwrap

    key = "raw/year=2024/month=01/day=05/orders.csv"
    writer = textwrap.dedent(f"""
        import sys, time
        from etl.storage import LocalStore
        with LocalStore({str(tmp_path)!r}).atomic_output({key!r}) as stream:
            stream.write(b"order_id\\n" + b"A,1\\n" * 1000)
            print("writing", flush=True)
            time.sleep(60)
    """)
    process = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    partition = tmp_path / "raw" / "year=2024" / "month=01" / "day=05"
    leftovers = [p.name for p in partition.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".orders.csv.") and not (partition / "orders.csv").exists()
    live = partition / f".validation_report.json.{os.getpid()}-abcdefgh.tmp"  # a write in progress elsewhere
    live.write_text("{")

    LocalStore(tmp_path).write_json("raw/year=2024/month=01/day=05/validation_report.json", {"ok": True})

    assert sorted(p.name for p in partition.iterdir()) == [live.name, "validation_report.json"], (
        "the killed write's file is gone; a live writer's is kept"
    )


def test_a_partition_removed_behind_the_store_s_back_is_made_again_on_the_next_write(store, tmp_path):
    store.write_json(KEY, {"v": 1})
    shutil.rmtree(tmp_path / "metrics")
    store.write_json(KEY, {"v": 2})
    assert store.read_json(KEY) == {"v": 2}
