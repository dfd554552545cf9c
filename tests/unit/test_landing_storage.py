"""The landing area's listing through real links (files, folders, loops, dangling ones), the real path a linked
name stands for, and the bound on what a gzip file may decompress to."""

from __future__ import annotations

import gzip
import hashlib
import os

import pytest

from etl import csv_io
from etl.storage import FileStat
from etl.storage.landing import MAX_GZIP_RATIO, LocalLanding

PATTERNS = ("*.csv", "*.csv.gz")


@pytest.fixture
def landing_dir(tmp_path):
    directory = tmp_path / "landing"
    directory.mkdir()
    return directory


@pytest.fixture
def outside(tmp_path):
    """A folder beside the landing directory: another disk, where a link may lead."""
    directory = tmp_path / "outside"
    directory.mkdir()
    return directory


def names(landing_dir) -> list[str]:
    return [name for name, _ in LocalLanding(str(landing_dir), PATTERNS).files()]


def test_files_lists_matching_files_in_subfolders_by_name_and_skips_hidden_ones(landing_dir):
    (landing_dir / "shop").mkdir()
    (landing_dir / ".partial").mkdir()
    for path in ("b.csv", "a.csv.gz", "notes.txt", ".hidden.csv", "shop/c.csv", ".partial/d.csv"):
        (landing_dir / path).write_text("Id\n1\n")

    files = LocalLanding(str(landing_dir), PATTERNS).files()

    assert [name for name, _ in files] == ["a.csv.gz", "b.csv", "shop/c.csv"]
    status = os.stat(landing_dir / "shop" / "c.csv")
    assert files[2][1] == FileStat(status.st_size, status.st_mtime_ns, status.st_ino)


def test_a_missing_landing_directory_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="the landing directory .*nope does not exist"):
        LocalLanding(str(tmp_path / "nope"), PATTERNS).files()


def test_a_linked_file_is_listed_by_its_name_with_its_target_s_status_and_read_through_the_link(landing_dir, outside):
    (outside / "export.csv").write_text("Id,Name\n1,a\n")
    (landing_dir / "shop.csv").symlink_to(outside / "export.csv")
    (landing_dir / "plain.csv").write_text("Id\n")
    landing = LocalLanding(str(landing_dir), PATTERNS)

    files = dict(landing.files())

    real, plain = os.stat(outside / "export.csv"), os.stat(landing_dir / "plain.csv")
    assert files == {
        "plain.csv": FileStat(plain.st_size, plain.st_mtime_ns, plain.st_ino),
        "shop.csv": FileStat(real.st_size, real.st_mtime_ns, real.st_ino),
    }
    with landing.open("shop.csv") as stream:
        assert stream.read() == b"Id,Name\n1,a\n"
    assert landing.sha256("shop.csv") == hashlib.sha256(b"Id,Name\n1,a\n").hexdigest()
    assert landing.target("shop.csv") == str(outside / "export.csv")
    assert landing.target("plain.csv") is None


def test_a_linked_folder_is_listed_through_the_link_and_its_files_have_their_real_path(landing_dir, outside):
    (outside / "2024" / "march").mkdir(parents=True)
    (outside / "2024" / "march" / "orders.csv").write_text("Id\n1\n")
    (outside / "2024" / "top.csv.gz").write_bytes(gzip.compress(b"Id\n2\n"))
    (landing_dir / "shops" / "north").mkdir(parents=True)
    (landing_dir / "shops" / "north" / "archive").symlink_to(outside / "2024")
    landing = LocalLanding(str(landing_dir), PATTERNS)

    assert names(landing_dir) == ["shops/north/archive/march/orders.csv", "shops/north/archive/top.csv.gz"]
    assert landing.target("shops/north/archive/march/orders.csv") == str(outside / "2024" / "march" / "orders.csv")
    with landing.open("shops/north/archive/top.csv.gz") as stream:
        assert stream.read() == b"Id\n2\n"


def test_a_link_loop_ends_and_each_real_folder_is_listed_once(landing_dir, outside):
    (landing_dir / "a").mkdir()
    (landing_dir / "a" / "one.csv").write_text("Id\n1\n")
    (landing_dir / "a" / "up").symlink_to(landing_dir)  # back to the landing directory itself
    (landing_dir / "a" / "self").symlink_to(landing_dir / "a")
    (outside / "two.csv").write_text("Id\n2\n")
    (outside / "again").symlink_to(outside)  # a loop outside, reached through a link
    (landing_dir / "elsewhere").symlink_to(outside)

    assert names(landing_dir) == ["a/one.csv", "elsewhere/two.csv"]


def test_a_link_to_a_file_or_folder_listed_by_its_own_name_adds_nothing(landing_dir):
    """latest.csv linked to the newest export must not give its orders twice."""
    (landing_dir / "2024").mkdir()
    (landing_dir / "2024" / "day.csv").write_text("Id\n1\n")
    (landing_dir / "0-latest.csv").symlink_to(landing_dir / "2024" / "day.csv")  # named before its target
    (landing_dir / "0-current").symlink_to(landing_dir / "2024")
    (landing_dir / "hard.csv").hardlink_to(landing_dir / "2024" / "day.csv")

    assert names(landing_dir) == ["2024/day.csv", "hard.csv"], "a hard link is a file of its own, as before"


def test_two_links_to_one_file_outside_list_it_once_by_the_first_name(landing_dir, outside):
    (outside / "export.csv").write_text("Id\n1\n")
    (landing_dir / "b.csv").symlink_to(outside / "export.csv")
    (landing_dir / "a.csv").symlink_to(outside / "export.csv")

    assert names(landing_dir) == ["a.csv"]


def test_dangling_links_are_skipped_without_error(landing_dir, outside):
    (landing_dir / "real.csv").write_text("Id\n1\n")
    (landing_dir / "gone.csv").symlink_to(outside / "missing.csv")
    (landing_dir / "gone").symlink_to(outside / "missing")
    (landing_dir / "gone-folder.csv").symlink_to(outside / "missing-folder")

    assert names(landing_dir) == ["real.csv"]


def test_target_is_none_for_a_file_without_links_below_a_linked_landing_directory(tmp_path, outside):
    """The landing directory itself may be a link (another disk): its files are not read through a link."""
    (outside / "export.csv").write_text("Id\n1\n")
    (tmp_path / "landing").symlink_to(outside)
    landing = LocalLanding(str(tmp_path / "landing"), PATTERNS)

    assert names(tmp_path / "landing") == ["export.csv"]
    assert landing.target("export.csv") is None


def test_the_decompressed_bound_is_for_gzip_files_only_and_proportional_to_their_size(landing_dir):
    (landing_dir / "plain.csv").write_bytes(b"Id\n1\n" * 1000)
    (landing_dir / "packed.csv.gz").write_bytes(gzip.compress(b"Id\n1\n" * 1000))
    landing = LocalLanding(str(landing_dir), PATTERNS)

    assert MAX_GZIP_RATIO == 200
    assert landing.max_decoded_bytes("plain.csv") is None
    assert landing.max_decoded_bytes("packed.csv.gz") == 200 * os.stat(landing_dir / "packed.csv.gz").st_size


def test_a_gzip_bomb_in_the_landing_directory_is_refused_and_a_compressed_export_read(monkeypatch, landing_dir):
    monkeypatch.setattr(csv_io, "_BATCH_BYTES", 1 << 16)
    (landing_dir / "bomb.csv.gz").write_bytes(gzip.compress(b"Id\n" + b"0\n" * (16 << 20)))
    export = b"Id,Name\n" + b"".join(b"%d,name %d\n" % (n, n) for n in range(20000))
    (landing_dir / "export.csv.gz").write_bytes(gzip.compress(export))
    landing = LocalLanding(str(landing_dir), PATTERNS)
    bound = landing.max_decoded_bytes("bomb.csv.gz")
    assert 4 < bound < len(b"Id\n" + b"0\n" * (16 << 20)) / 4, "the bomb is far past its bound"

    header, batches = csv_io.read_export(lambda: landing.open("bomb.csv.gz"), ",", "utf-8", bound)
    with pytest.raises(csv_io.ExportReadError, match=f"^it decompresses to more than {bound:,} bytes"):
        for _ in batches:
            pass
    header, batches = csv_io.read_export(
        lambda: landing.open("export.csv.gz"), ",", "utf-8", landing.max_decoded_bytes("export.csv.gz")
    )
    assert header == ["Id", "Name"] and sum(batch.num_rows for batch in batches) == 20000
