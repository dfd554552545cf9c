"""End to end: the alerts real runs and checks send to a real webhook (an HTTP server on a loopback port) and a real
SMTP server, with two workers and from a terminal, and what a dead or hung webhook or mail server costs a run."""

from __future__ import annotations

import datetime
import os
import pty
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import build, day_dir, fast_day_args, free_port, run_etl, run_luigi

from etl import GenerateDailyData, ValidateDailyData

D = datetime.date
BAD = D(2024, 1, 3)


def mail_to(port: int) -> tuple[str, ...]:
    """Luigi's mail settings as flags, to the SMTP server on ``port``."""
    return ("--email-receiver=oncall@example.test", "--email-sender=etl@example.test", "--smtp-host=127.0.0.1",
            f"--smtp-port={port}", "--smtp-no-tls")  # fmt: skip


def body(message) -> str:
    return "".join(part.get_payload(decode=True).decode() for part in message.walk() if not part.is_multipart())


def refused_day(base: Path, day: datetime.date = BAD) -> Path:
    """``day``'s raw file generated with small days (``configure``), then cut to 5 orders, under validation's 20: its
    path."""
    assert GenerateDailyData(date=day).run() is None
    raw = day_dir(base, "raw", day) / "orders.csv"
    pd.read_csv(raw).head(5).to_csv(raw, index=False)
    return raw


def validate(base: Path, *args: str, **options) -> subprocess.CompletedProcess:
    """``luigi ValidateDailyData`` of the refused day (``run_luigi``'s ``options``): a run that fails in one task, in a
    second or two."""
    return run_luigi(
        "ValidateDailyData", f"--date={BAD}", f"--etl-base-dir={base}", *fast_day_args(), *args, cwd=base.parent,
        **options,
    )  # fmt: skip


def test_a_run_failing_in_several_tasks_alerts_once_naming_each(configure, base_dir, webhook_inbox):
    url, posted = webhook_inbox
    configure({"alerts": {"webhook_url": url}})
    raws = [refused_day(base_dir, day) for day in (D(2024, 1, 3), D(2024, 1, 5))]

    build(ValidateDailyData(date=D(2024, 1, 3)), ValidateDailyData(date=D(2024, 1, 5)))

    assert len(posted) == 1, "one alert for the run, not one a task"
    subject, *lines = posted[0]["text"].splitlines()
    assert subject.startswith("Luigi: 2 tasks FAILED. Host: ")
    assert [line.split(": ", 1)[0] for line in lines] == [
        f"ValidateDailyData(date={day}, pipeline=etl@{base_dir})" for day in ("2024-01-03", "2024-01-05")
    ]
    for line, raw, day in zip(lines, raws, ("2024-01-03", "2024-01-05"), strict=True):
        assert f"DataValidationError: validation failed for {day} in {raw}: min_orders: 5 orders" in line


def test_check_deadline_alerts_the_webhook_and_the_mail_with_its_one_line(tmp_path, webhook_inbox, smtp_inbox):
    url, posted = webhook_inbox
    port, mailed = smtp_inbox

    late = run_etl("check-deadline", "--day", "2024-01-20", f"--alerts-webhook-url={url}", *mail_to(port),
                   base=tmp_path / "base")  # fmt: skip

    line = "etl check-deadline: the report of 2024-01-20 is not done: raw is missing"
    assert (late.returncode, late.stdout, late.stderr) == (1, f"{line}\n", "")
    assert posted == [{"text": f"Luigi: etl: the report of 2024-01-20 is not done\n{line}"}]
    assert [(m["Subject"], body(m)) for m in mailed] == [("Luigi: etl: the report of 2024-01-20 is not done", line)]


def test_check_deadline_with_a_dead_webhook_exits_as_it_would_with_one_warning_line(tmp_path):
    port = free_port()

    late = run_etl("check-deadline", "--day", "2024-01-20", f"--alerts-webhook-url=http://127.0.0.1:{port}/hook",
                   base=tmp_path / "base")  # fmt: skip

    assert (late.returncode, late.stdout) == (
        1,
        "etl check-deadline: the report of 2024-01-20 is not done: raw is missing\n",
    )
    assert late.stderr == f"etl: alert not sent to webhook http://127.0.0.1:{port}: [Errno 111] Connection refused\n"


@pytest.mark.slow
def test_a_failing_day_alerts_once_by_mail_and_webhook_naming_day_file_and_rule_with_two_workers(
    tmp_path, smtp_inbox, webhook_inbox
):
    port, mailed = smtp_inbox
    url, posted = webhook_inbox
    base = tmp_path / "base"
    assert run_luigi("GenerateDailyData", f"--date={BAD}", f"--etl-base-dir={base}", cwd=tmp_path).returncode == 0
    raw = day_dir(base, "raw", BAD) / "orders.csv"
    raw.write_text("\n".join(raw.read_text().splitlines()[:11]) + "\n")  # 10 orders, under min_orders 50

    result = run_luigi(
        "RangeDaily", "--of", "DailyReport", "--start=2024-01-01", "--stop=2024-01-12", "--workers=2", *mail_to(port),
        f"--alerts-webhook-url={url}", f"--etl-base-dir={base}", cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 30, result.stderr[-2000:]
    assert len(posted) == 1, "one alert for the run, sent by the main process (the tasks ran in forked workers)"
    subject, *lines = posted[0]["text"].splitlines()
    assert subject.startswith("Luigi: RangeDaily(") and " FAILED. Host: " in subject
    assert (
        f"2024-01-03: validation failed for 2024-01-03 in {raw}: min_orders: 10 orders, at least 50 required" in lines
    )
    assert any(line.startswith("2024-01-09: held back: validation failed for 2024-01-03") for line in lines)
    assert len(mailed) == 1 and mailed[0]["Subject"] == subject, "the same alert, by mail"
    assert body(mailed[0]).startswith("\n".join(lines)), "the mail starts with what the chat shows, then Luigi's report"
    assert "Traceback (most recent call last)" in body(mailed[0])


@pytest.mark.slow
@pytest.mark.parametrize("force_send", ["the package's default", "false"])
def test_from_a_terminal_a_failure_is_mailed_unless_force_send_is_turned_off(
    configure, base_dir, tmp_path, smtp_inbox, force_send
):
    port, mailed = smtp_inbox
    refused_day(base_dir)
    env = {}
    if force_send == "false":
        (tmp_path / "luigi.cfg").write_text("[email]\nforce_send = false\n")
        env["LUIGI_CONFIG_PATH"] = str(tmp_path / "luigi.cfg")
    terminal, terminal_end = pty.openpty()
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.append(read_all(terminal)))
    reader.start()

    try:
        result = validate(base_dir, *mail_to(port), env=env, stdout=terminal_end)
    finally:
        os.close(terminal_end)
        reader.join()
        os.close(terminal)

    assert result.returncode == 30, result.stderr[-2000:]
    if force_send == "false":
        assert mailed == [], "Luigi's own rule: no mail from a terminal"
        assert "Not sending email to ['oncall@example.test'] because running from a tty" in result.stderr
    else:
        assert len(mailed) == 1 and mailed[0]["Subject"].startswith(f"Luigi: ValidateDailyData(date={BAD}")


def read_all(terminal: int) -> bytes:
    """What the command wrote to its terminal, read until it is closed (the reader keeps the terminal from filling)."""
    chunks = []
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # EIO: the command's end of the terminal is closed
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


@pytest.mark.slow
@pytest.mark.parametrize("webhook", ["refused", "hung"])
def test_a_dead_webhook_and_mail_server_leave_the_runs_exit_and_outputs_with_one_line_each(
    configure, base_dir, tmp_path, silent_port, webhook
):
    raw = refused_day(base_dir)
    quiet_base = shutil.copytree(base_dir, tmp_path / "quiet")
    port = free_port() if webhook == "refused" else silent_port
    flags = (f"--alerts-webhook-url=http://127.0.0.1:{port}/hook", "--alerts-timeout-seconds=1", *mail_to(free_port()))

    started = time.monotonic()
    result = validate(base_dir, *flags)
    alerted_seconds, started = time.monotonic() - started, time.monotonic()
    quiet = validate(quiet_base)
    quiet_seconds = time.monotonic() - started

    assert (result.returncode, result.stdout) == (quiet.returncode, quiet.stdout) == (30, "")
    assert files(base_dir) == files(quiet_base), "the same outputs as a run without alerts"
    assert f"validation failed for {BAD} in {raw}" in result.stderr
    webhook_lines = [line for line in result.stderr.splitlines() if "alert not sent" in line]
    reason = "[Errno 111] Connection refused" if webhook == "refused" else "no answer in 1 s"
    assert webhook_lines == [f"WARNING: etl: alert not sent to webhook http://127.0.0.1:{port}: {reason}"]
    mail_lines = [line for line in result.stderr.splitlines() if "smtp" in line.lower()]
    assert mail_lines == ["ERROR: Not able to connect to smtp server: [Errno 111] Connection refused"], "Luigi's line"
    assert alerted_seconds < quiet_seconds + 1 + 10, "a liveness bound (the timeout, and a wide margin), not a target"


def files(base: Path) -> dict[str, bytes]:
    """Every file under ``base`` and its bytes, but the completion marks (they record when the step ran)."""
    return {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file() and p.name[0] != "_"}


@pytest.mark.slow
def test_with_on_success_a_backfill_that_succeeds_alerts_its_days_done_and_skipped(tmp_path, webhook_inbox, smtp_inbox):
    url, posted = webhook_inbox
    port, mailed = smtp_inbox
    flags = ("--alerts-on-success=true", f"--alerts-webhook-url={url}", *mail_to(port), "--local-scheduler")
    base = tmp_path / "base"

    first = run_etl("backfill", "--start", "2024-01-01", "--end", "2024-01-05", *flags, base=base)
    second = run_etl("backfill", "--start", "2024-01-01", "--end", "2024-01-07", *flags, base=base)
    quiet = run_etl("backfill", "--start", "2024-01-01", "--end", "2024-01-07", *flags[1:], base=base)

    assert first.returncode == second.returncode == quiet.returncode == 0, second.stderr[-2000:]
    texts = [payload["text"].splitlines() for payload in posted]
    assert [lines[1] for lines in texts] == [
        "etl backfill DailyReport 2024-01-01..2024-01-05 (5 days): 5 done (2024-01-01..2024-01-05), 0 skipped, "
        "0 failed",
        "etl backfill DailyReport 2024-01-01..2024-01-07 (7 days): 2 done (2024-01-06..2024-01-07), 5 skipped "
        "(2024-01-01..2024-01-05), 0 failed",
    ], "nothing without on_success"
    assert texts[0][0].startswith("Luigi: etl backfill DailyReport 2024-01-01..2024-01-05 succeeded. Host: ")
    assert [body(m) for m in mailed] == [lines[1] for lines in texts]
    assert second.stdout.strip().endswith(texts[1][1].removeprefix("etl backfill ")), "the line the run ends with"
