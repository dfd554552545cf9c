"""A fleet on one luigid: several pipelines and several worker processes, each started as a host would start it."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import LUIGI, REPO, day_dir, fast_day_args, running_luigid
from test_day_range_tasks import contents

from etl.day_ranges import block_containing, blocks_covering, days_between

pytestmark = pytest.mark.slow

KILL_AT = REPO / "tests" / "kill_at.py"
FIRST, STOP = datetime.date(2024, 1, 1), datetime.date(2024, 2, 26)  # 56 days: twelve blocks of the 5-day grid
NIGHT = {"ETL_NOW": f"{STOP}T02:00+00:00"}


def start_worker(cwd: Path, url: str, base: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """One ``luigi RangeDaily`` process against the luigid at ``url``, as one host of a fleet starts it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}
    return subprocess.Popen(
        [str(LUIGI), "--module", "etl", "RangeDaily", "--of", "DailyReport", f"--start={FIRST}", f"--stop={STOP}",
         f"--etl-base-dir={base}", *fast_day_args(), "--scheduler-url", url, "--log-level", "INFO", *args],
        cwd=cwd, env={**clean, **NIGHT, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def finish(workers: list[subprocess.Popen]) -> list[tuple[int, str]]:
    """Each worker's exit code and output, once all have exited."""
    logs = [worker.communicate(timeout=600)[0] for worker in workers]
    return [(worker.returncode, log) for worker, log in zip(workers, logs, strict=True)]


def reports(base: Path) -> list[datetime.date]:
    return [day for day in days_between(FIRST, STOP) if (day_dir(base, "metrics", day) / "daily_report.json").exists()]


def test_two_pipelines_differing_only_in_base_dir_share_a_luigid_without_mixing(tmp_path):
    (tmp_path / "luigid").mkdir()
    with running_luigid(tmp_path / "luigid") as port:
        url = f"http://127.0.0.1:{port}"
        runs = finish([start_worker(tmp_path, url, tmp_path / f"base{n}") for n in (1, 2)])

    for code, log in runs:
        assert code == 0, log[-3000:]
    assert reports(tmp_path / "base1") == reports(tmp_path / "base2") == days_between(FIRST, STOP)


FLEET_WORKER = ("--no-lock", "--worker-keep-alive", "--worker-wait-interval=0.2", "--worker-wait-jitter=0.3")


def chunk_runs(logs: list[str]) -> Counter:
    """How many times each chunk ran, across the workers' logs."""
    lines = [line for log in logs for line in log.splitlines()]
    return Counter(line.split(" running ")[1].strip() for line in lines if " running " in line)


def worked(log: str) -> bool:
    """Whether a worker's log shows it running a chunk of days."""
    return any("Days(start=" in chunk for chunk in chunk_runs([log]))


def test_three_workers_on_one_range_build_every_day_once_and_each_exits_0(tmp_path):
    base = tmp_path / "base"
    (tmp_path / "luigid").mkdir()
    with running_luigid(tmp_path / "luigid") as port:
        url = f"http://127.0.0.1:{port}"
        runs = finish([start_worker(tmp_path, url, base, *FLEET_WORKER) for _ in range(3)])
    alone = tmp_path / "alone"
    single = finish([start_worker(tmp_path, url, alone, "--local-scheduler")])

    assert [code for code, _ in runs] == [0, 0, 0], "\n\n".join(log[-2000:] for _, log in runs)
    ran = chunk_runs([log for _, log in runs])
    assert set(ran.values()) == {1}, ran
    blocks = blocks_covering(days_between(FIRST, STOP), 5, FIRST, STOP)
    assert len([chunk for chunk in ran if chunk.startswith(("ProcessDays", "ReportDays"))]) == 2 * len(blocks), ran
    assert all(worked(log) for _, log in runs), "a range of twelve blocks keeps every one of three workers busy"
    assert single[0][0] == 0
    assert contents(base) == contents(alone), "the bytes one worker writes alone"


def test_a_worker_killed_mid_chunk_hands_its_chunk_to_another_and_the_range_completes(tmp_path):
    home, base = tmp_path / "luigid", tmp_path / "base"
    home.mkdir()
    (home / "luigi.cfg").write_text(
        "[scheduler]\nworker_disconnect_delay = 2\nretry_delay = 1\nprune_on_get_work = true\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}
    with running_luigid(home) as port:
        url = f"http://127.0.0.1:{port}"
        killed = subprocess.run(
            [sys.executable, str(KILL_AT), "30", str(tmp_path / "events"), "--module", "etl", "RangeDaily", "--of",
             "DailyReport", f"--start={FIRST}", f"--stop={STOP}", f"--etl-base-dir={base}", *fast_day_args(),
             "--scheduler-url", url, "--no-lock"],
            cwd=tmp_path, env={**clean, **NIGHT}, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        [(code, log)] = finish([start_worker(tmp_path, url, base, *FLEET_WORKER)])

    assert code == 0, log[-3000:]
    assert reports(base) == days_between(FIRST, STOP)
    assert not [path for path in base.rglob("*") if path.name.endswith(".tmp")], "nothing partial is left"
    marks = [json.loads(path.read_text()) for path in base.rglob("_*.json") if not path.name.endswith(".rerun.json")]
    assert marks and {mark["outcome"] for mark in marks} == {"done"}, "no step is left half built"


def test_a_chunk_that_fails_on_one_worker_fails_the_range_on_every_worker(tmp_path):
    base = tmp_path / "base"
    blocker = day_dir(base, "processed", datetime.date(2024, 1, 3))
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the day's partition goes: its chunk fails, not a day's validation")
    (tmp_path / "luigid").mkdir()
    with running_luigid(tmp_path / "luigid") as port:
        url = f"http://127.0.0.1:{port}"
        bounded = (*FLEET_WORKER, "--worker-max-keep-alive-idle-duration=3")
        runs = finish([start_worker(tmp_path, url, base, *bounded) for _ in range(3)])

    assert [code for code, _ in runs] == [30, 30, 30], "\n\n".join(log[-1500:] for _, log in runs)
    first, stop = block_containing(datetime.date(2024, 1, 3), 5)
    bad_chunk = f"ProcessDays(start={first}, stop={stop}, pipeline=etl@{base}, rerun=)"
    assert chunk_runs([log for _, log in runs])[bad_chunk] >= 1, (
        "it ran; a worker that adds it after it failed gets it again from luigid (Luigi's way), and fails it too"
    )


def test_two_hosts_cron_wrappers_on_one_luigid_share_the_night_and_each_exits_0(tmp_path):
    """Each host's crontab runs ``scripts/run_daily.sh --no-lock --worker-keep-alive`` at 02:00 with the luigid in
    the shared luigi.cfg (no ETL_SCHEDULER_URL): the first night of a new store catches up every day once."""
    (tmp_path / "luigid").mkdir()
    base = tmp_path / "base"
    with running_luigid(tmp_path / "luigid") as port:
        (tmp_path / "luigi.cfg").write_text(f"[core]\nscheduler_url = http://127.0.0.1:{port}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}
        env.update(LUIGI_CONFIG_PATH=str(tmp_path / "luigi.cfg"), ETL_BASE_DIR=str(base), **NIGHT)
        hosts = [
            subprocess.Popen(
                [str(REPO / "scripts" / "run_daily.sh"), *fast_day_args(), *FLEET_WORKER],
                cwd=tmp_path,
                env={**env, "ETL_LOG_DIR": str(tmp_path / host)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for host in ("host1", "host2")
        ]
        runs = finish(hosts)

    assert [code for code, _ in runs] == [0, 0], "\n\n".join(log[-2000:] for _, log in runs)
    yesterday = STOP - datetime.timedelta(days=1)
    logs = [(tmp_path / host / f"daily-{yesterday}.log").read_text() for host in ("host1", "host2")]
    ran = {chunk: count for chunk, count in chunk_runs(logs).items() if "Days(start=" in chunk}
    blocks = blocks_covering(days_between(FIRST, STOP), 5, FIRST, STOP)
    assert len([chunk for chunk in ran if chunk.startswith("ProcessDays")]) == len(blocks), ran
    assert set(ran.values()) == {1}, "no chunk ran on both hosts"
    assert all(worked(log) for log in logs), "both hosts worked"
    assert reports(base) == days_between(FIRST, STOP)
