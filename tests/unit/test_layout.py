"""The Hive-style partition layout: keys formatted and parsed, and day partitions found in a real directory tree."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from etl.storage import LocalStore
from etl.storage.layout import (
    CLEANUP,
    LAYERS,
    METRICS,
    PROCESSED,
    RAW,
    RETAINED_LAYERS,
    date_of,
    file_key,
    part_number,
    partition_key,
    partition_of_key,
)

D = datetime.date


def make_day(base: Path, layer: str, year: str, month: str, day: str) -> Path:
    path = base / layer / year / month / day
    path.mkdir(parents=True)
    return path


def day_dir(base: Path, layer: str, date: datetime.date) -> Path:
    """The partition directory, spelled out independently of etl.storage.layout."""
    return base / layer / f"year={date.year:04d}" / f"month={date.month:02d}" / f"day={date.day:02d}"


# partition_key and file_key -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        (D(2024, 1, 5), "raw/year=2024/month=01/day=05"),
        (D(2024, 3, 9), "raw/year=2024/month=03/day=09"),
        (D(2024, 12, 31), "raw/year=2024/month=12/day=31"),
        (D(7, 1, 2), "raw/year=0007/month=01/day=02"),
    ],
)
def test_partition_key_is_zero_padded_hive_layout(date, expected):
    assert partition_key("raw", date) == expected


@pytest.mark.parametrize("layer", ["raw", "processed", "metrics", "cleanup"])
def test_partition_key_accepts_every_known_layer(layer):
    assert partition_key(layer, D(2024, 1, 5)).split("/") == [layer, "year=2024", "month=01", "day=05"]


@pytest.mark.parametrize("layer", ["Raw", "archive", "", "raw/../metrics", "../raw", "raw/"])
def test_partition_key_refuses_unknown_layer(layer):
    with pytest.raises(ValueError, match="unknown layer"):
        partition_key(layer, D(2024, 1, 5))


def test_layers_are_the_four_documented_ones_and_the_ingest_records():
    assert (RAW, PROCESSED, METRICS, CLEANUP) == ("raw", "processed", "metrics", "cleanup")
    assert set(LAYERS) == {"raw", "processed", "metrics", "cleanup", "ingest"}
    assert RETAINED_LAYERS == ("raw", "processed", "metrics"), "cleanup's audit records are not retained data"


def test_file_key_is_the_partition_key_and_the_name():
    assert file_key("processed", D(2024, 3, 9), "daily_summary.json") == (
        "processed/year=2024/month=03/day=09/daily_summary.json"
    )


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../orders.csv", "/orders.csv"])
def test_file_key_refuses_what_is_not_a_file_name(name):
    with pytest.raises(ValueError, match="is not a file name"):
        file_key("raw", D(2024, 3, 9), name)


def test_file_key_refuses_unknown_layer():
    with pytest.raises(ValueError, match="unknown layer"):
        file_key("staging", D(2024, 3, 9), "x.json")


# parsing: part_number, date_of, partition_of_key ----------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "name", "expected"),
    [
        (0, "year=2024", 2024),
        (0, "year=0007", 7),
        (1, "month=01", 1),
        (1, "month=12", 12),
        (1, "month=13", 13),  # a number; whether it makes a date is date_of's question
        (2, "day=31", 31),
        (2, "day=00", 0),
        (0, "year=24", None),
        (0, "year=20240", None),
        (0, "year=abc", None),
        (1, "month=1", None),
        (2, "day=7", None),
        (2, "day=08x", None),
        (2, "day=09.tmp", None),
        (2, "Day=10", None),
        (2, " day=10", None),
        (1, "day=10", None),  # a day name at the month level
        (0, "year=\uff12\uff10\uff12\uff14", None),  # fullwidth digits
        (2, "day=\u0660\u0667", None),  # Arabic-Indic digits
    ],
)
def test_part_number(level, name, expected):
    assert part_number(level, name) == expected


def test_date_of_is_none_for_days_that_do_not_exist():
    assert date_of(2024, 2, 29) == D(2024, 2, 29)
    assert date_of(2023, 2, 29) is None
    assert date_of(2024, 4, 31) is None
    assert date_of(2024, 13, 1) is None
    assert date_of(2024, 1, 0) is None
    assert date_of(0, 1, 1) is None


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("date", [D(2024, 1, 5), D(2024, 2, 29), D(1999, 12, 31), D(7, 1, 2)])
def test_partition_of_key_inverts_partition_key(layer, date):
    assert partition_of_key(partition_key(layer, date)) == (layer, date)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "raw",
        "raw/year=2024/month=01",
        "raw/year=2024/month=01/day=05/orders.csv",  # a file, not the partition
        "archive/year=2024/month=01/day=05",
        "raw/year=2024/month=02/day=30",
        "raw/year=2024/month=1/day=05",
        "raw/year=2024/day=05/month=01",
        "/raw/year=2024/month=01/day=05",
        "raw/year=2024/month=01/day=05/",
    ],
)
def test_partition_of_key_is_none_for_anything_else(key):
    assert partition_of_key(key) is None


# list_partitions: the layout read back from a real tree ----------------------------------------------------


def test_list_partitions_of_missing_layer_is_empty(tmp_path):
    assert LocalStore(tmp_path).list_partitions("raw") == {}
    assert LocalStore(tmp_path / "does-not-exist").list_partitions("raw") == {}


def test_list_partitions_finds_partitions_named_by_partition_key(tmp_path):
    store = LocalStore(tmp_path)
    dates = [D(2023, 12, 31), D(2024, 1, 1), D(2024, 2, 29), D(2024, 10, 10)]
    for date in dates:
        path = tmp_path / partition_key("processed", date)
        assert path == day_dir(tmp_path, "processed", date)
        path.mkdir(parents=True)
        (path / "daily_summary.json").write_text(date.isoformat())
    day_dir(tmp_path, "raw", D(2020, 5, 5)).mkdir(parents=True)  # other layer: not listed

    found = store.list_partitions("processed")

    assert sorted(found) == dates
    for date in dates:
        assert list(found[date]) == ["daily_summary.json"]
        assert found[date]["daily_summary.json"].size == len(date.isoformat())


def test_list_partitions_ignores_junk_names_files_and_symlinks(tmp_path):
    good = make_day(tmp_path, "raw", "year=2024", "month=01", "day=15")
    # Malformed names at every level.
    make_day(tmp_path, "raw", "year=abc", "month=01", "day=01")
    make_day(tmp_path, "raw", "year=24", "month=01", "day=02")
    make_day(tmp_path, "raw", "year=20240", "month=01", "day=03")
    make_day(tmp_path, "raw", "year=2024", "month=13", "day=04")
    make_day(tmp_path, "raw", "year=2024", "month=00", "day=05")
    make_day(tmp_path, "raw", "year=2024", "month=1", "day=06")
    make_day(tmp_path, "raw", "year=2024", "month=01", "day=32")
    make_day(tmp_path, "raw", "year=2024", "month=01", "day=00")
    make_day(tmp_path, "raw", "year=2024", "month=01", "day=7")
    make_day(tmp_path, "raw", "year=2024", "month=01", "day=08x")
    make_day(tmp_path, "raw", "year=2024", "month=01", "day=09.tmp")
    make_day(tmp_path, "raw", "year=2024", "month=01", "Day=10")
    # Dates that do not exist.
    make_day(tmp_path, "raw", "year=2024", "month=02", "day=30")
    make_day(tmp_path, "raw", "year=2023", "month=02", "day=29")
    make_day(tmp_path, "raw", "year=0000", "month=01", "day=01")
    # Files named like partitions, at each level.
    (tmp_path / "raw" / "year=2024" / "month=01" / "day=20").write_text("not a dir")
    (tmp_path / "raw" / "year=2024" / "month=05").write_text("not a dir")
    (tmp_path / "raw" / "year=2025").write_text("not a dir")
    # A symlinked day dir, month dir and year dir pointing at real partition-shaped trees.
    outside = tmp_path / "outside"
    make_day(outside, "x", "year=2022", "month=03", "day=03")
    os.symlink(good, tmp_path / "raw" / "year=2024" / "month=01" / "day=21")
    os.symlink(outside / "x" / "year=2022" / "month=03", tmp_path / "raw" / "year=2024" / "month=03")
    os.symlink(outside / "x" / "year=2022", tmp_path / "raw" / "year=2022")

    found = LocalStore(tmp_path).list_partitions("raw")

    assert found == {D(2024, 1, 15): {}}, f"only the one well-formed real directory is a partition, got {found}"


def test_list_partitions_accepts_leap_day(tmp_path):
    make_day(tmp_path, "metrics", "year=2024", "month=02", "day=29")
    assert LocalStore(tmp_path).list_partitions("metrics") == {D(2024, 2, 29): {}}


def test_list_partitions_ignores_non_ascii_digits(tmp_path):
    make_day(tmp_path, "raw", "year=2024", "month=01", "day=05")
    make_day(tmp_path, "raw", "year=\uff12\uff10\uff12\uff14", "month=01", "day=06")  # fullwidth digits
    make_day(tmp_path, "raw", "year=2024", "month=01", "day=\u0660\u0667")  # Arabic-Indic digits

    assert list(LocalStore(tmp_path).list_partitions("raw")) == [D(2024, 1, 5)]


def test_list_partitions_lists_regular_files_without_temporary_ones(tmp_path):
    both = day_dir(tmp_path, "processed", D(2024, 1, 1))
    writing = day_dir(tmp_path, "processed", D(2024, 1, 2))
    empty = day_dir(tmp_path, "processed", D(2024, 1, 3))
    for path in (both, writing, empty):
        path.mkdir(parents=True)
    (both / "orders_processed.csv").write_text("abc")
    (both / "daily_summary.json").write_text("{}")
    (both / "notes.txt").write_text("x")
    (both / "subdir").mkdir()  # not a file
    os.symlink(both / "notes.txt", both / "link.txt")  # not a regular file of this partition
    (writing / "orders_processed.csv").write_text("abcd")
    (writing / ".daily_summary.json.abc.tmp").write_text("half-written")

    found = LocalStore(tmp_path).list_partitions("processed")

    assert {day: sorted(files) for day, files in found.items()} == {
        D(2024, 1, 1): ["daily_summary.json", "notes.txt", "orders_processed.csv"],
        D(2024, 1, 2): ["orders_processed.csv"],
        D(2024, 1, 3): [],
    }
    assert found[D(2024, 1, 1)]["orders_processed.csv"].size == 3
    assert found[D(2024, 1, 2)]["orders_processed.csv"].size == 4
    status = os.stat(writing / "orders_processed.csv")
    assert found[D(2024, 1, 2)]["orders_processed.csv"].mtime_ns == status.st_mtime_ns


def test_list_partitions_skips_a_symlinked_partition_even_if_complete(tmp_path):
    real = day_dir(tmp_path, "raw", D(2024, 1, 1))
    real.mkdir(parents=True)
    (real / "orders.csv").write_text("x")
    os.symlink(real, real.with_name("day=02"))

    store = LocalStore(tmp_path)
    assert list(store.list_partitions("raw")) == [D(2024, 1, 1)]
    assert store.list_partition("raw", D(2024, 1, 2)) == {}, "nor is it listed on its own"
    assert list(store.list_partition("raw", D(2024, 1, 1))) == ["orders.csv"]


def test_list_partitions_follows_a_symlinked_layer_directory(tmp_path):
    """Raw data may live on another disk: the layer directory itself may be a link."""
    elsewhere = tmp_path / "big-disk" / "raw"
    make_day(elsewhere, ".", "year=2024", "month=01", "day=05")
    (elsewhere / "year=2024" / "month=01" / "day=05" / "orders.csv").write_text("x")
    base = tmp_path / "base"
    base.mkdir()
    os.symlink(elsewhere, base / "raw")

    store = LocalStore(base)

    assert {day: list(files) for day, files in store.list_partitions("raw").items()} == {D(2024, 1, 5): ["orders.csv"]}
    assert list(store.list_partition("raw", D(2024, 1, 5))) == ["orders.csv"]


def test_list_partition_of_a_missing_day_is_empty(tmp_path):
    assert LocalStore(tmp_path).list_partition("metrics", D(2024, 1, 1)) == {}
