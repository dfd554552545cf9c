"""The landing area's bound on what a gzip file may decompress to."""

from __future__ import annotations

import gzip
import os

import pytest

from etl import csv_io
from etl.storage.landing import MAX_GZIP_RATIO, LocalLanding

PATTERNS = ("*.csv", "*.csv.gz")


@pytest.fixture
def landing_dir(tmp_path):
    directory = tmp_path / "landing"
    directory.mkdir()
    return directory


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
