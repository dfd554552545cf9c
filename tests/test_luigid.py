"""Against a real luigid: a task it disabled shows in ``etl status`` and in every exit code, and a rerun reruns
although luigid keeps the chunks of a moment ago as done."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from conftest import day_dir, fast_day_args, run_etl, run_luigi, running_luigid

from etl.day_ranges import block_containing

pytestmark = pytest.mark.slow

FIRST, LAST = datetime.date(2024, 1, 1), datetime.date(2024, 1, 10)
BROKEN = datetime.date(2024, 1, 3)
CHUNK = "ProcessDays(start={}, stop={})".format(*block_containing(BROKEN, 5))  # the broken day's block


@pytest.fixture
def disabling_luigid(tmp_path: Path):
    """luigid, with its own luigi.cfg, disabling a task for a day at its first failure."""
    home = tmp_path / "luigid"
    home.mkdir()
    (home / "luigi.cfg").write_text("[scheduler]\nretry_count = 1\ndisable_window = 3600\ndisable_persist = 86400\n")
    with running_luigid(home) as port:
        yield f"http://127.0.0.1:{port}"


def test_a_task_luigid_disabled_is_named_by_the_run_shown_by_status_and_worked_around_by_a_rerun(
    tmp_path, disabling_luigid
):
    base = tmp_path / "base"
    blocker = day_dir(base, "processed", BROKEN)
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the day's partition goes: the chunk fails, not a day's validation")
    scheduler = ("--scheduler-url", disabling_luigid)
    days = ("--start", str(FIRST), "--end", str(LAST))

    assert run_etl("backfill", *days, *scheduler, base=base).returncode == 30, "the chunk failed: luigid disables it"
    blocker.unlink()
    skipped = run_etl("backfill", *days, *scheduler, base=base)
    luigi = run_luigi(
        "RangeDaily", "--of", "DailyReport", f"--start={FIRST}", "--stop=2024-01-11", f"--etl-base-dir={base}",
        *fast_day_args(), cwd=tmp_path, scheduler=scheduler,
    )  # fmt: skip
    status = run_etl("status", *days, *scheduler, base=base)
    local = run_etl("status", *days, "--local-scheduler", *scheduler, base=base)

    assert skipped.returncode == 25, "luigid skips the disabled chunk: not run, [retcode] not_run"
    assert f"luigid {disabling_luigid} disabled {CHUNK} after [scheduler] retry_count failures" in skipped.stderr
    assert luigi.returncode == 25, "the luigi command exits not run too (Luigi's own default, 0, would hide it)"
    assert status.returncode == 1, status.stdout
    lines = {line[:10]: line for line in status.stdout.splitlines() if line.startswith("2024")}
    assert lines[str(BROKEN)].startswith(f"{BROKEN} disabled: raw done, validate done, process disabled"), lines
    assert f"process: luigid {disabling_luigid} disabled {CHUNK}" in status.stdout
    assert "1 disabled (01-03: disabled by luigid)" in status.stdout
    assert "process missing" in next(line for line in local.stdout.splitlines() if line.startswith(str(BROKEN))), (
        "with --local-scheduler luigid is not asked"
    )

    rerun = run_etl("rerun", "--start", str(BROKEN), *scheduler, base=base)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = run_etl("backfill", *days, *scheduler, base=base)
    assert after.returncode == 0, "the disabled chunk is complete now: luigid takes it as done and re-enables it"
    assert run_etl("status", *days, *scheduler, base=base).returncode == 0


def test_a_rerun_against_luigid_rebuilds_the_day_right_after_a_backfill(tmp_path, luigid):
    base = tmp_path / "base"
    scheduler = ("--scheduler-url", f"http://127.0.0.1:{luigid}")
    days = ("--start", str(FIRST), "--end", str(LAST))
    day = datetime.date(2024, 1, 5)
    assert run_etl("backfill", *days, *scheduler, base=base).returncode == 0
    again = run_etl("backfill", *days, *scheduler, base=base)
    processed = day_dir(base, "processed", day)
    before = {path.name: path.stat() for path in processed.iterdir()}

    rerun = run_etl("rerun", "--start", str(day), "--end", str(day), *scheduler, base=base)

    assert again.returncode == 0, "a plain backfill right after one, on the same luigid, has nothing to do"
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = {path.name: path.stat() for path in processed.iterdir()}
    for name in ("orders_processed.csv", "daily_summary.json", "_process.json"):
        assert (after[name].st_ino, after[name].st_mtime_ns) != (before[name].st_ino, before[name].st_mtime_ns), (
            f"{name} was written again, although luigid keeps the backfill's chunks as done"
        )
    assert not list(base.rglob("*.rerun.json")), "each rebuilt step took its request away"
