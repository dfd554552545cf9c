"""Logs (issue 16, item 6), with the real ``luigi`` command, the real cron wrapper and a real luigid: every line of
a day's work names its task and day, also in forked workers and under a user's own logging config; a range ends
with how many days were done, skipped and failed, and which, as the day state has them; the wrapper finds a luigid
by configuration alone."""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import REPO, day_dir, fast_day_args, run_etl, run_luigi, running_luigid

import etl

pytestmark = pytest.mark.slow

D = datetime.date
BAD = D(2024, 1, 8)  # days 1 to 7 are reported, so that cleanups as of them remove raw days (raw_days 3)
# A user's own logging config (Luigi's --logging-conf-file): each line to a file, with the process that wrote it.
LOGGING_CONF = """\
[loggers]
keys=root,luigi

[handlers]
keys=file

[formatters]
keys=with_pid

[logger_root]
level=WARNING
handlers=

[logger_luigi]
level=INFO
handlers=file
qualname=luigi-interface
propagate=0

[handler_file]
class=FileHandler
level=INFO
formatter=with_pid
args=({path!r}, "a")

[formatter_with_pid]
format=%(process)d %(levelname)s: %(message)s
"""
RECORD = re.compile(r"^(\d+) [A-Z]+: (.*)$")  # a record's first line; tracebacks continue it
LABELLED = re.compile(r"^\[(\w+ \d{4}-\d{2}-\d{2})\] (?:\[pid \d+\] Worker .*?)?(running|done|failed)\b")


def records(log: str) -> list[tuple[int, str]]:
    """(process, message) of each record of a log written with LOGGING_CONF."""
    found: list[tuple[int, str]] = []
    for line in log.splitlines():
        record = RECORD.match(line)
        if record:
            found.append((int(record.group(1)), record.group(2)))
        elif found:
            found[-1] = (found[-1][0], f"{found[-1][1]}\n{line}")
    return found


def days_worked(log: str) -> dict[str, list[str]]:
    """Each task-and-day's records from its ``running`` line to its ``done`` or ``failed`` line, in its process;
    fails the test when a record between them does not name that task and day."""
    by_process: dict[int, list[str]] = defaultdict(list)
    for process, message in records(log):
        by_process[process].append(message)
    worked: dict[str, list[str]] = {}
    for messages in by_process.values():
        current = None
        for message in messages:
            match = LABELLED.match(message)
            if current is None:
                if match and match.group(2) == "running":
                    current = match.group(1)
                    worked[current] = [message]
                continue
            assert message.startswith(f"[{current}] "), f"a line while {current} runs names it:\n{message}"
            worked[current].append(message)
            if match and match.group(2) in ("done", "failed"):
                current = None
    return worked


def break_day(base: Path, tmp_path: Path, day: datetime.date) -> None:
    """Generate ``day``'s raw orders, then keep 10 of them: at least 20 are required (fast_day_args)."""
    generated = run_luigi(
        "GenerateDailyData", f"--date={day}", f"--etl-base-dir={base}", *fast_day_args(), cwd=tmp_path
    )
    assert generated.returncode == 0, generated.stderr[-3000:]
    raw = day_dir(base, "raw", day) / "orders.csv"
    raw.write_text("\n".join(raw.read_text().splitlines()[:11]) + "\n")


def day_states(base: Path, first: datetime.date, last: datetime.date) -> dict[str, set[str]]:
    """``etl status --json``'s days by state: what a summary must agree with."""
    status = run_etl("status", "--start", str(first), "--end", str(last), "--json", base=base)
    by_state: dict[str, set[str]] = defaultdict(set)
    for line in status.stdout.splitlines():
        day = json.loads(line)
        by_state[day["state"]].add(day["day"])
    return by_state


@pytest.mark.parametrize("days_per_task", [5, 1], ids=["chunks", "a-task-per-step"])
def test_every_line_of_a_days_work_names_it_in_forked_workers_and_the_range_ends_with_its_days(tmp_path, days_per_task):
    base, log, conf = tmp_path / "base", tmp_path / "luigi.log", tmp_path / "logging.conf"
    conf.write_text(LOGGING_CONF.format(path=str(log)))
    break_day(base, tmp_path, BAD)
    settings = [
        f"--etl-base-dir={base}",
        *fast_day_args(),
        "--retention-raw-days=3",
        f"--days-per-task={days_per_task}",
    ]
    earlier = run_luigi(
        "RangeDaily", "--of", "DailyPipeline", "--start=2024-01-01", "--stop=2024-01-03", *settings, cwd=tmp_path
    )
    assert earlier.returncode == 0, earlier.stderr[-3000:]
    log.unlink(missing_ok=True)

    result = run_luigi(
        "RangeDaily", "--of", "DailyPipeline", "--start=2024-01-01", "--stop=2024-01-11", *settings,
        "--workers=2", f"--logging-conf-file={conf}", cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 30, result.stderr[-3000:]
    text = log.read_text()
    worked = days_worked(text)
    assert {"DailyPipeline 2024-01-07", "ValidateDailyData 2024-01-10", "DailyReport 2024-01-03"} <= set(worked)
    assert "DailyReport 2024-01-01" not in worked, "built by the earlier run: not run again"
    refused = worked[f"ValidateDailyData {BAD}"][-1]
    assert LABELLED.match(refused).group(2) == "failed" and f"validation failed for {BAD}" in refused, refused
    removed = [m for lines in worked.values() for m in lines if "Retention: removed" in m]
    assert len(removed) >= 3 and all(m.startswith("[DailyPipeline 2024-01-0") for m in removed), (
        "a cleanup's lines, inside its day's run, name it"
    )
    if days_per_task > 1:
        assert "[ProcessDays 2024-01-07..2024-01-10] [pid" in text, "Luigi's own lines about a chunk name its days"

    line = (
        "DailyPipeline 2024-01-01..2024-01-10 (10 days): 5 done (2024-01-03..2024-01-07), "
        f"2 skipped (2024-01-01..2024-01-02), 3 failed ({BAD}..2024-01-10)"
    )
    assert f"This progress looks :( because there were failed tasks\n{line}\n" in text, "in Luigi's summary"
    states = day_states(base, D(2024, 1, 1), D(2024, 1, 10))
    assert states["done"] | states["expired"] == {f"2024-01-0{n}" for n in range(1, 8)}, "done and skipped"
    assert states["failed"] | states["held back"] == {str(BAD), "2024-01-09", "2024-01-10"}


def test_the_cron_wrapper_uses_the_luigid_its_config_names_and_its_log_ends_with_the_days(tmp_path):
    home = tmp_path / "luigid"
    home.mkdir()
    with running_luigid(home) as port:
        for night, (core, last) in enumerate(
            [(f"scheduler_url = http://127.0.0.1:{port}/", "2024-01-03"),
             (f"default_scheduler_host = 127.0.0.1\ndefault_scheduler_port = {port}", "2024-01-05")]
        ):  # fmt: skip
            (tmp_path / "luigi.cfg").write_text(f"[core]\n{core}\n\n[etl]\nstart_date = 2024-01-01\n")
            result = wrapper(tmp_path, now=f"{D.fromisoformat(last) + datetime.timedelta(days=1)}T02:00:00+00:00")

            assert result.returncode == 0, result.stdout + result.stderr
            lines = (tmp_path / "logs" / f"daily-{last}.log").read_text().splitlines()
            assert f"DailyPipeline through {last} exited 0" in lines[-2]
            skipped = "0 skipped" if night == 0 else "3 skipped (2024-01-01..2024-01-03)"
            first = "2024-01-01" if night == 0 else "2024-01-04"
            assert lines[-1] == (
                f"etl backfill: done (exit 0): DailyPipeline 2024-01-01..{last} ({3 + 2 * night} days): "
                f"{3 - night} done ({first}..{last}), {skipped}, 0 failed"
            ), "the log ends with the days"
            assert result.stdout.splitlines()[-2:] == lines[-2:], "what cron mails"
            assert any(start <= last < stop for start, stop in finished_chunks(port)), "luigid ran the night's chunks"


def wrapper(root: Path, now: str) -> subprocess.CompletedProcess:
    """``scripts/run_daily.sh`` at ``now``, with ``root``'s luigi.cfg, base and log directories, small days, and no
    ETL_SCHEDULER_URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}
    env.update(
        LUIGI_CONFIG_PATH=str(root / "luigi.cfg"),
        ETL_BASE_DIR=str(root / "base"),
        ETL_LOG_DIR=str(root / "logs"),
        ETL_NOW=now,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONPATH=os.pathsep.join(filter(None, [str(Path(etl.__file__).parents[1]), os.environ.get("PYTHONPATH")])),
    )
    command = [str(REPO / "scripts" / "run_daily.sh"), *fast_day_args()]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def finished_chunks(port: int) -> list[tuple[str, str]]:
    """The days (``[start, stop)``) of each PipelineDays chunk luigid has as done, from its API (what its web view
    reads)."""
    query = urllib.parse.urlencode({"data": json.dumps({"status": "DONE", "upstream_status": "", "search": ""})})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/task_list?{query}", timeout=10) as answer:
        tasks = json.load(answer)["response"].values()
    return [(task["params"]["start"], task["params"]["stop"]) for task in tasks if task["name"] == "PipelineDays"]
