"""``etl backfill`` on a terminal: one progress line, the full log in a file; plain log lines without a terminal.

The end-to-end tests run the installed ``etl`` command on a real pseudo-terminal (the session's controlling
terminal, so that Ctrl-C is the terminal's own SIGINT) and read everything it showed.
"""

from __future__ import annotations

import datetime
import fcntl
import getpass
import json
import os
import re
import select
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from conftest import build, day_dir, fast_day_args, run_luigi

from etl import CleanupOldPartitions, DailyPipeline, DailyReport, GenerateDailyData
from etl.progress import range_progress

D = datetime.date
ETL = Path(sys.executable).with_name("etl")
TEN_DAYS = ["--start=2024-01-01", "--end=2024-01-10"]
LOG_PATH = re.compile(r"full log in (\S+)")


def snapshot(base: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(base)): (p.read_bytes(), p.stat().st_mtime_ns) for p in base.rglob("*") if p.is_file()}


def test_range_progress_counts_done_and_failed_days_and_writes_nothing(configure, base_dir):
    bad = D(2024, 1, 2)
    assert GenerateDailyData(date=bad).run() is None
    raw = day_dir(base_dir, "raw", bad) / "orders.csv"
    pd.read_csv(raw).head(5).to_csv(raw, index=False)
    build(DailyReport(date=D(2024, 1, 1)), DailyReport(date=D(2024, 1, 3)))
    days = [D(2024, 1, 1) + datetime.timedelta(days=i) for i in range(9)]
    before = snapshot(base_dir)

    settled = "01 done; 02 refused, 03 held back; 04..08 will be held back once their own steps are built; 09 left"
    assert range_progress(DailyReport, days) == (1, 2), settled
    assert range_progress(DailyPipeline, days) == (1, 2), "no cleanup is due as of 01"
    assert range_progress(CleanupOldPartitions, days) == (8, 0), (
        "a task without bulk_complete: as of 09, 01's raw day is due (raw_days 7)"
    )
    assert snapshot(base_dir) == before, "counting reads only"


def clean_env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}, **extra}


def on_terminal(args: list[str], cwd: Path, env: dict[str, str], interrupt_after: float | None = None) -> tuple:
    """Run the installed ``etl`` with a 100x30 pseudo-terminal as its controlling terminal and stdin, stdout and
    stderr; Ctrl-C typed ``interrupt_after`` seconds after its first progress line, when given. Returns the exit
    code, everything shown, and the processes it had started by then."""
    master, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        [str(ETL), *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=cwd,
        env=env,
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(terminal)
    shown, started, children = b"", None, []
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            if started is None and b"days done" in shown:
                started = time.monotonic()
            if interrupt_after is not None and started and time.monotonic() > started + interrupt_after:
                children = process_tree(process.pid)
                os.write(master, b"\x03")
                interrupt_after = None
            if select.select([master], [], [], 0.1)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every process holding the terminal is gone
                    break
                if not chunk:
                    break
                shown += chunk
        else:
            pytest.fail(f"etl still running after 300 s; it showed: {shown.decode()[-2000:]}")
        return process.wait(timeout=60), shown.decode(), children
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()


def process_tree(pid: int) -> list[int]:
    return [child.pid for child in psutil.Process(pid).children(recursive=True)]


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_on_a_terminal_backfill_shows_one_progress_line_and_logs_to_a_file(tmp_path):
    base, logs = tmp_path / "base", tmp_path / "logs"
    args = ["backfill", *TEN_DAYS, "--local-scheduler", f"--etl-base-dir={base}", *fast_day_args()]

    code, shown, _ = on_terminal(args, tmp_path, clean_env(ETL_LOG_DIR=str(logs)))

    assert code == 0, shown
    log = Path(LOG_PATH.search(shown).group(1))
    assert log.parent == logs, "in $ETL_LOG_DIR"
    assert "This progress looks :) because there were no failed tasks" in log.read_text(), "Luigi's summary"
    frames = [frame for frame in re.split(r"\r\n?|\n", shown) if "/10 days done" in frame]
    assert "10/10 days done, 0 failed" in frames[-1] and "100%" in frames[-1], "the final state stays on screen"
    assert shown.rstrip().splitlines()[-1] == (
        "etl backfill: done (exit 0): DailyReport 2024-01-01..2024-01-10 (10 days): 10 done (2024-01-01..2024-01-10), "
        f"0 skipped, 0 failed; log: {log}"
    ), "the outcome and what the days came to"
    assert not re.search(r"\b(INFO|DEBUG|WARNING|ERROR):|Execution Summary", shown), "no Luigi log lines: " + shown
    assert "\r" in shown, "one line, redrawn in place"
    for day in (D(2024, 1, 1) + datetime.timedelta(days=i) for i in range(10)):
        assert (day_dir(base, "metrics", day) / "daily_report.json").is_file(), day


@pytest.mark.slow
def test_without_a_terminal_backfill_prints_the_log_lines_and_writes_no_log_file(tmp_path):
    base, logs = tmp_path / "base", tmp_path / "logs"

    result = subprocess.run(
        [str(ETL), "backfill", *TEN_DAYS, "--local-scheduler", f"--etl-base-dir={base}", *fast_day_args()],
        cwd=tmp_path, env=clean_env(ETL_LOG_DIR=str(logs)), capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    assert "INFO: " in result.stderr and "===== Luigi Execution Summary =====" in result.stderr, "today's log lines"
    assert "days done" not in result.stderr + result.stdout, "no progress line"
    assert result.stdout == (
        "etl backfill: done (exit 0): DailyReport 2024-01-01..2024-01-10 (10 days): 10 done (2024-01-01..2024-01-10), "
        "0 skipped, 0 failed\n"
    ), "stdout: its one line, the outcome and the days"
    assert not logs.exists(), "no log file of its own: cron's wrapper keeps the log"


@pytest.mark.slow
def test_on_a_terminal_a_failed_day_is_counted_and_the_exit_code_is_luigis(tmp_path):
    base = tmp_path / "base"
    bad = D(2024, 1, 4)
    generated = run_luigi(
        "GenerateDailyData", f"--date={bad}", f"--etl-base-dir={base}", *fast_day_args(), cwd=tmp_path
    )
    assert generated.returncode == 0, generated.stderr[-3000:]
    raw = day_dir(base, "raw", bad) / "orders.csv"
    raw.write_text("\n".join(raw.read_text().splitlines()[:11]) + "\n")  # 10 orders, at least 20 required
    args = ["backfill", *TEN_DAYS, "--local-scheduler", f"--etl-base-dir={base}", *fast_day_args()]

    code, shown, _ = on_terminal(args, tmp_path, clean_env())

    log = Path(LOG_PATH.search(shown).group(1))
    try:
        assert code == 30, "task_failed, from the luigi run itself"
        assert log.parent == Path(tempfile.gettempdir()) / f"etl-{getpass.getuser()}", "without $ETL_LOG_DIR"
        assert "3/10 days done, 7 failed" in shown, "04 refused, 05..10 held back by it (7-day windows)"
        assert (
            "etl backfill: task_failed (exit 30): DailyReport 2024-01-01..2024-01-10 (10 days): "
            "3 done (2024-01-01..2024-01-03), 0 skipped, 7 failed (2024-01-04..2024-01-10); log: "
        ) in shown
        assert "2024-01-04: validation failed for 2024-01-04" in log.read_text()
    finally:
        log.unlink()


@pytest.mark.slow
def test_ctrl_c_stops_the_run_and_exits_130_and_the_next_run_finishes_it(tmp_path):
    base = tmp_path / "base"
    args = ["--start=2024-01-01", "--end=2024-03-31", "--local-scheduler", f"--etl-base-dir={base}", *fast_day_args()]

    code, shown, started = on_terminal(
        ["backfill", *args, "--workers=2"], tmp_path, clean_env(ETL_LOG_DIR=str(tmp_path)), interrupt_after=1.0
    )

    assert code == 130, shown
    assert "etl backfill: interrupted, the run was stopped (exit 130)" in shown
    assert started and not [pid for pid in started if alive(pid)], "the luigi run and its workers are stopped"
    again = subprocess.run(
        [str(ETL), "backfill", *args], cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr[-3000:]
    for day in (D(2024, 1, 1) + datetime.timedelta(days=i) for i in range(91)):
        assert json.loads((day_dir(base, "metrics", day) / "daily_report.json").read_text())["execution_date"] == str(
            day
        )


@pytest.mark.slow
def test_on_a_terminal_a_rerun_shows_its_progress_line_over_the_days_it_may_rebuild(tmp_path):
    base, logs = tmp_path / "base", tmp_path / "logs"
    settings = [f"--etl-base-dir={base}", *fast_day_args()]
    built = subprocess.run([str(ETL), "backfill", *TEN_DAYS, "--local-scheduler", *settings],
                           env=clean_env(), capture_output=True, timeout=300)  # fmt: skip
    assert built.returncode == 0
    args = ["rerun", "--start", "2024-01-03", "--end", "2024-01-04", "--local-scheduler", *settings]

    code, shown, _ = on_terminal(args, tmp_path, clean_env(ETL_LOG_DIR=str(logs)))

    assert code == 0, shown
    log = Path(LOG_PATH.search(shown).group(1))
    assert shown.rstrip().splitlines()[-1] == (
        "etl rerun: done (exit 0): DailyReport 2024-01-03..2024-01-10 (8 days): 8 done (2024-01-03..2024-01-10), "
        f"0 skipped, 0 failed; log: {log}"
    ), "the two days and the six whose windows read them"
    assert not list(base.rglob("*.rerun.json"))
