"""A day's version is its bytes, not a file time: what a ``touch``, a copy, a restore, a clock step, a settings
change or an earlier version's store does to the day state and to the next run."""

from __future__ import annotations

import datetime
import json
import os
import shutil
from pathlib import Path

import luigi
import pandas as pd
import pytest
from conftest import build, day_dir
from stores import ReadOnlyStore

from etl import run_settings
from etl.range import RangeDaily
from etl.state import DayState
from etl.tasks import ComputeRollingMetrics, DailyReport, ProcessDailyData, ValidateDailyData, view_of

D = datetime.date
FIRST, STOP = D(2024, 1, 1), D(2024, 1, 15)


@pytest.fixture(autouse=True)
def night_after_the_range(monkeypatch) -> None:
    """Runs happen the night after the range: a range completes whole blocks up to the calendar's today."""
    monkeypatch.setenv("ETL_NOW", f"{STOP}T12:00+00:00")


def built(configure) -> None:
    configure({"etl": {"start_date": str(FIRST)}})
    assert build(RangeDaily(of=DailyReport, start=FIRST, stop=STOP)).status == luigi.LuigiStatusCode.SUCCESS


def files(base: Path) -> dict[str, tuple[int, int]]:
    """Every file with its inode and modification time: what a rewrite changes."""
    return {str(p.relative_to(base)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in base.rglob("*") if p.is_file()}


def rerun() -> None:
    assert build(RangeDaily(of=DailyReport, start=FIRST, stop=STOP)).status == luigi.LuigiStatusCode.SUCCESS


def rewritten(before: dict, after: dict) -> set[str]:
    """The day partitions holding a file the run wrote (a new inode or time)."""
    return {name.rsplit("/", 1)[0] for name in after if before.get(name) != after[name] and "/day=" in name}


def partition(layer: str, day: D) -> str:
    return f"{layer}/year={day:%Y}/month={day:%m}/day={day:%d}"


def test_touching_every_file_rebuilds_nothing(configure, base_dir):
    built(configure)
    later = 2_000_000_000
    for path in base_dir.rglob("*"):
        if path.is_file():
            os.utime(path, (later, later))
    before = files(base_dir)

    rerun()

    assert files(base_dir) == before, "same bytes, newer times: every day is done"


def test_a_restored_copy_is_done_everywhere_and_rebuilds_nothing(configure, base_dir, tmp_path):
    built(configure)
    restored = tmp_path / "restored"
    shutil.copytree(base_dir, restored)  # new inodes and, without copystat of dirs, other times
    configure({"etl": {"base_dir": str(restored)}})
    before = files(restored)

    rerun()

    assert files(restored) == before


def test_other_bytes_with_an_older_time_are_seen_and_rebuilt_with_what_reads_them(configure, base_dir):
    """A clock stepped back (or ``touch -d``) hides nothing: the raw file's bytes are the version."""
    built(configure)
    day = D(2024, 1, 8)
    raw = day_dir(base_dir, "raw", day) / "orders.csv"
    old = raw.stat().st_mtime_ns
    pd.read_csv(raw).head(30).to_csv(raw, index=False)
    os.utime(raw, ns=(old - 10**12, old - 10**12))
    before = files(base_dir)

    rerun()

    expected = {partition("raw", day), partition("processed", day)}
    expected |= {partition("metrics", day + datetime.timedelta(days=n)) for n in range(7)}
    assert rewritten(before, files(base_dir)) == expected
    summary = json.loads((day_dir(base_dir, "processed", day) / "daily_summary.json").read_text())
    assert summary["total_orders"] <= 30


def test_a_changed_setting_is_shown_as_stale_and_rebuilt_only_when_asked(configure, base_dir):
    built(configure)
    before = files(base_dir)
    configure({"rolling": {"window_days": "14"}})

    rerun()

    assert files(base_dir) == before, "a plain run keeps what the days were built with"
    view = view_of(run_settings.current())
    status = view.status(ComputeRollingMetrics(date=D(2024, 1, 10)))
    assert status.state is DayState.STALE and status.finished
    assert (
        status.reason
        == "built with [rolling] window_days=7, now 14; window=2024-01-04..2024-01-10, now 2024-01-01..2024-01-10"
    )
    assert view.status(DailyReport(date=D(2024, 1, 10))).state is DayState.DONE, "its report reads what was built"
    assert view.status(ProcessDailyData(date=D(2024, 1, 10))).state is DayState.DONE

    configure({"etl": {"rebuild_stale": "true"}})
    rerun()

    changed = rewritten(before, files(base_dir))
    assert changed == {partition("metrics", FIRST + datetime.timedelta(days=n)) for n in range(14)}, (
        "every rolling metric (and so every report); raw and processed read nothing that changed"
    )
    rolling = json.loads((day_dir(base_dir, "metrics", D(2024, 1, 14)) / "rolling_metrics.json").read_text())
    assert rolling["window_days"] == 14
    assert view_of(run_settings.current()).status(ComputeRollingMetrics(date=D(2024, 1, 10))).state is DayState.DONE


def test_moving_start_date_forward_makes_only_the_windows_it_cuts_stale(configure, base_dir):
    built(configure)
    configure({"etl": {"start_date": "2024-01-03"}})

    view = view_of(run_settings.current())
    stale = {
        day
        for day in (D(2024, 1, 3) + datetime.timedelta(days=n) for n in range(12))
        if view.status(ComputeRollingMetrics(date=day)).state is DayState.STALE
    }

    assert stale == {D(2024, 1, 3) + datetime.timedelta(days=n) for n in range(6)}, "window_days - 1 days"


def test_a_setting_no_step_reads_makes_nothing_stale(configure, base_dir):
    built(configure)
    configure({"retention": {"raw_days": "100"}, "generation": {"seed": "7"}})

    view = view_of(run_settings.current())

    for day in (FIRST + datetime.timedelta(days=n) for n in range(14)):
        assert view.status(DailyReport(date=day)).state is DayState.DONE


def test_a_store_of_the_previous_version_is_read_without_a_rebuild_or_a_write(configure, base_dir):
    built(configure)
    for mark in base_dir.rglob("_*.json"):
        mark.unlink()
    before = files(base_dir)

    reading = ReadOnlyStore(base_dir)
    view = type(view_of(run_settings.current()))(reading, ("raw", "processed", "metrics"))
    for day in (FIRST + datetime.timedelta(days=n) for n in range(14)):
        assert view.status(DailyReport(date=day)).state is DayState.DONE
        assert view.status(ValidateDailyData(date=day)).state is DayState.DONE

    rerun()

    assert files(base_dir) == before, "judged by the earlier version's rule: done, nothing rebuilt"


def test_each_mark_records_the_versions_of_what_its_step_read_and_wrote(configure, base_dir):
    import hashlib

    built(configure)
    day = D(2024, 1, 9)
    for layer, step in (("raw", "validate"), ("processed", "process"), ("metrics", "rolling"), ("metrics", "report")):
        mark = json.loads((day_dir(base_dir, layer, day) / f"_{step}.json").read_text())
        assert (mark["step"], mark["day"], mark["outcome"]) == (step, str(day), "done")
        for key, recorded in {**mark["inputs"], **mark["outputs"]}.items():
            path = base_dir / key
            if recorded is None:
                assert not path.exists(), key
            else:
                assert recorded["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), key
                assert recorded["size"] == path.stat().st_size
    rolling = json.loads((day_dir(base_dir, "metrics", day) / "_rolling.json").read_text())
    assert sorted(rolling["inputs"]) == [
        f"{partition('processed', D(2024, 1, n))}/daily_summary.json" for n in range(3, 10)
    ]
    assert rolling["settings"] == {"[rolling] window_days": 7, "window": "2024-01-03..2024-01-09"}
