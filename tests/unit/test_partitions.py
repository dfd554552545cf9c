"""The Hive-style partition layout: formatting, listing and completeness of day partitions."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from etl.partitions import LAYERS, dates_with_files, list_partitions, partition_path

D = datetime.date


def make_day(base: Path, layer: str, year: str, month: str, day: str) -> Path:
    path = base / layer / year / month / day
    path.mkdir(parents=True)
    return path


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        (D(2024, 3, 9), "year=2024/month=03/day=09"),
        (D(2024, 12, 31), "year=2024/month=12/day=31"),
        (D(7, 1, 2), "year=0007/month=01/day=02"),
    ],
)
def test_partition_path_is_zero_padded_hive_layout(tmp_path, date, expected):
    path = partition_path(tmp_path, "raw", date)
    assert path == tmp_path / "raw" / Path(expected)
    assert isinstance(path, Path)


@pytest.mark.parametrize("layer", ["raw", "processed", "metrics", "cleanup"])
def test_partition_path_accepts_every_known_layer(tmp_path, layer):
    assert partition_path(str(tmp_path), layer, D(2024, 1, 5)).parts[-4:] == (
        layer,
        "year=2024",
        "month=01",
        "day=05",
    )


@pytest.mark.parametrize("layer", ["Raw", "archive", "", "raw/../metrics", "../raw"])
def test_partition_path_refuses_unknown_layer(tmp_path, layer):
    with pytest.raises(ValueError, match="unknown layer"):
        partition_path(tmp_path, layer, D(2024, 1, 5))


def test_layers_are_the_four_documented_ones():
    assert set(LAYERS) == {"raw", "processed", "metrics", "cleanup"}


def test_list_partitions_of_missing_layer_is_empty(tmp_path):
    assert list_partitions(tmp_path, "raw") == {}
    assert list_partitions(tmp_path / "does-not-exist", "raw") == {}


def test_list_partitions_finds_partitions_written_by_partition_path(tmp_path):
    dates = [D(2023, 12, 31), D(2024, 1, 1), D(2024, 2, 29), D(2024, 10, 10)]
    for date in dates:
        partition_path(tmp_path, "processed", date).mkdir(parents=True)
    partition_path(tmp_path, "raw", D(2020, 5, 5)).mkdir(parents=True)  # other layer: not listed

    found = list_partitions(tmp_path, "processed")

    assert found == {date: partition_path(tmp_path, "processed", date) for date in dates}


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

    found = list_partitions(tmp_path, "raw")

    assert found == {D(2024, 1, 15): good}, f"only the one well-formed real directory is a partition, got {found}"


def test_list_partitions_accepts_leap_day(tmp_path):
    path = make_day(tmp_path, "metrics", "year=2024", "month=02", "day=29")
    assert list_partitions(tmp_path, "metrics") == {D(2024, 2, 29): path}


def test_list_partitions_ignores_non_ascii_digits(tmp_path):
    good = make_day(tmp_path, "raw", "year=2024", "month=01", "day=05")
    make_day(tmp_path, "raw", "year=\uff12\uff10\uff12\uff14", "month=01", "day=06")  # fullwidth digits
    make_day(tmp_path, "raw", "year=2024", "month=01", "day=\u0660\u0667")  # Arabic-Indic digits

    assert list_partitions(tmp_path, "raw") == {D(2024, 1, 5): good}


def test_dates_with_files_requires_every_file(tmp_path):
    wanted = ("orders_processed.csv", "daily_summary.json")
    both = partition_path(tmp_path, "processed", D(2024, 1, 1))
    only_csv = partition_path(tmp_path, "processed", D(2024, 1, 2))
    empty = partition_path(tmp_path, "processed", D(2024, 1, 3))
    both_plus_extra = partition_path(tmp_path, "processed", D(2024, 1, 4))
    for path in (both, only_csv, empty, both_plus_extra):
        path.mkdir(parents=True)
    for name in wanted:
        (both / name).write_text("x")
        (both_plus_extra / name).write_text("x")
    (only_csv / "orders_processed.csv").write_text("x")
    (only_csv / ".daily_summary.json.abc.tmp").write_text("half-written")
    (both_plus_extra / "notes.txt").write_text("x")

    assert dates_with_files(tmp_path, "processed", wanted) == {D(2024, 1, 1), D(2024, 1, 4)}
    assert dates_with_files(tmp_path, "processed", iter(["orders_processed.csv"])) == {
        D(2024, 1, 1),
        D(2024, 1, 2),
        D(2024, 1, 4),
    }, "filenames may be any iterable, consumed once"


def test_dates_with_files_skips_symlinked_partition_even_if_complete(tmp_path):
    real = partition_path(tmp_path, "raw", D(2024, 1, 1))
    real.mkdir(parents=True)
    (real / "orders.csv").write_text("x")
    os.symlink(real, real.with_name("day=02"))

    assert dates_with_files(tmp_path, "raw", ["orders.csv"]) == {D(2024, 1, 1)}


def test_dates_with_files_of_missing_layer_is_empty(tmp_path):
    assert dates_with_files(tmp_path, "metrics", ["daily_report.json"]) == set()
