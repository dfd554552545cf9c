"""End to end on a real S3 endpoint (moto's server on loopback, issue 15, 4): a backfill with retention, status,
a rerun and a backfill after it, and the landing source with a late file, each run once on ``s3://`` and once on
local disk, every output identical (run-time fields apart)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import ETL, REPO, download_s3, fast_day_args, run_luigi
from test_day_range_tasks import contents
from test_landing import COLUMN_MAP, WEEK, csv_bytes, export_rows

from etl.storage.s3 import split_url

pytestmark = pytest.mark.slow

boto3 = pytest.importorskip("boto3", reason="boto3 is not installed: pip install -e '.[dev,s3]'")

# The night after the range, so that its days are over; PYTHONPATH so that the commands import this checkout.
ENV = {"ETL_NOW": "2024-01-15T02:00+00:00", "PYTHONPATH": str(REPO)}
KEEP = ("--retention-raw-days=3",)  # raw partitions of all but the last days go: cleanup runs on both stores
RERUN = "2024-01-12"  # a day whose raw partition retention kept, which the rerun rebuilds from


def backfill(base: str, cwd: Path, *args: str, stop: str = "2024-01-15", env: dict[str, str] = ENV) -> None:
    """DailyPipeline from 2024-01-01 to ``stop`` (by default one block of the grid, with cleanup) by the real luigi
    command."""
    result = run_luigi(
        "RangeDaily", "--of", "DailyPipeline", "--start", "2024-01-01", "--stop", stop, f"--etl-base-dir={base}",
        *fast_day_args(), *(args or KEEP), cwd=cwd, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


def etl(*args: str, base: str) -> subprocess.CompletedProcess:
    """The installed ``etl`` command on ``base``, in a clean environment but for ENV and the AWS variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}
    return subprocess.run(
        [str(ETL), *args, f"--etl-base-dir={base}", "--etl-start-date=2024-01-01", *fast_day_args(), *KEEP],
        capture_output=True, text=True, env={**env, **ENV}, timeout=300,
    )  # fmt: skip


def s3_contents(url: str, into: Path) -> dict[str, object]:
    """What :func:`contents` says of a local tree, of the objects under ``url``: downloaded, then read the same."""
    return contents(download_s3(url, into))


def status(base: str) -> list[dict]:
    result = etl("status", "--start", "2024-01-01", "--end", "2024-01-14", "--json", base=base)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return [json.loads(line.replace(base, "<base>")) for line in result.stdout.splitlines()]


def test_backfill_retention_status_and_rerun_on_s3_give_what_they_give_on_local_disk(s3_bucket, tmp_path):
    s3, local = f"{s3_bucket}/base", str(tmp_path / "base")
    for base in (s3, local):
        backfill(base, tmp_path)

    built = contents(Path(local))
    assert s3_contents(s3, tmp_path / "built") == built
    assert not any(name.startswith("raw/year=2024/month=01/day=05") for name in built), "retention removed raw"
    assert status(s3) == status(local)

    said = []
    for base in (s3, local):
        rerun = etl("rerun", "--start", RERUN, "--end", RERUN, "--local-scheduler", base=base)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-3000:]
        said.append(rerun.stdout.replace(base, "<base>"))
        backfill(base, tmp_path)

    assert said[0] == said[1] and f"{RERUN} processed: <base>/processed/" in said[0]
    assert s3_contents(s3, tmp_path / "rerun") == contents(Path(local))


def land(url: str, directory: Path, name: str, data: bytes) -> None:
    """An export file put on the bucket with boto3, and the same file in ``directory`` modified at the object's
    LastModified (as the S3 landing reads it, to the second): the same inputs, times included, to both ingests."""
    bucket, prefix = split_url(url)
    client = boto3.session.Session().client("s3")
    client.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=data)
    modified = client.head_object(Bucket=bucket, Key=f"{prefix}/{name}")["LastModified"]
    (directory / name).write_bytes(data)
    at = int(modified.timestamp()) * 1_000_000_000
    os.utime(directory / name, ns=(at, at))


def without_versions(files: dict[str, object]) -> dict[str, object]:
    """``files`` with the ingest index's version tokens taken out: ETags on S3, inodes on disk, the one part of the
    index that tells the stores apart."""
    index = json.loads(files["ingest/index.json"])
    for entry in index["files"].values():
        entry.pop("version")
    return {**files, "ingest/index.json": index}


def test_the_landing_source_on_s3_with_a_late_file_gives_what_a_local_landing_directory_gives(s3_bucket, tmp_path):
    s3, local = f"{s3_bucket}/base", str(tmp_path / "base")
    landings = {s3: f"{s3_bucket}/landing", local: str(tmp_path / "landing")}
    (tmp_path / "landing").mkdir()
    week = {**ENV, "ETL_NOW": "2024-01-08T02:00+00:00"}
    source = ("--etl-source=landing", f"--landing-column-map={json.dumps(COLUMN_MAP)}")

    land(landings[s3], tmp_path / "landing", "week.csv", csv_bytes(export_rows(WEEK, per_day=30, seed=2)))
    for base, landing in landings.items():
        backfill(base, tmp_path, *source, f"--landing-directory={landing}", stop="2024-01-08", env=week)
    assert without_versions(s3_contents(s3, tmp_path / "first")) == without_versions(contents(Path(local)))

    late = export_rows([WEEK[2]], per_day=5, seed=3, prefix="LATE")
    land(landings[s3], tmp_path / "landing", "late.csv", csv_bytes(late))
    for base, landing in landings.items():
        backfill(base, tmp_path, *source, f"--landing-directory={landing}", stop="2024-01-08", env=week)

    built = without_versions(contents(Path(local)))
    assert without_versions(s3_contents(s3, tmp_path / "late")) == built
    assert json.loads(built["processed/year=2024/month=01/day=03/daily_summary.json"])["total_orders"] == 35
