"""End to end: ``etl status`` and ``etl check-deadline``, the installed command on a store built by ``etl backfill``,
checked against what is on disk."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from conftest import day_dir, run_etl

pytestmark = pytest.mark.slow

BAD = datetime.date(2024, 1, 4)
FIRST, LAST_BUILT = datetime.date(2024, 1, 1), datetime.date(2024, 1, 14)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """Two weeks whose 4 January has too few orders: it fails, and the reports whose windows hold it wait."""
    base = tmp_path_factory.mktemp("status") / "base"
    first = run_etl(
        "backfill", "--start", str(BAD), "--end", str(BAD), "--of", "GenerateDailyData", "--local-scheduler", base=base
    )
    assert first.returncode == 0, first.stderr[-3000:]
    raw = day_dir(base, "raw", BAD) / "orders.csv"
    lines = raw.read_text().splitlines()
    raw.write_text("\n".join(lines[:11]) + "\n")  # 10 orders, fewer than min_orders 20
    built = run_etl("backfill", "--start", str(FIRST), "--end", str(LAST_BUILT), "--local-scheduler", base=base)
    assert built.returncode == 30, built.stderr[-3000:]
    return base


def reported(base: Path, day: datetime.date) -> bool:
    return (day_dir(base, "metrics", day) / "daily_report.json").exists()


def test_status_gives_each_day_its_state_from_the_files_and_exits_1_while_any_is_not_done(store):
    result = run_etl("status", "--start", "2024-01-01", "--end", "2024-01-16", base=store)

    assert result.returncode == 1, result.stderr
    lines = {line[:10]: line for line in result.stdout.splitlines() if line[:4] == "2024"}
    days = [FIRST + datetime.timedelta(days=n) for n in range(16)]
    done = [day for day in days if reported(store, day)]
    held = [day for day in days if day <= LAST_BUILT and not reported(store, day) and day != BAD]
    assert len(done) == 7 and len(held) == 6, "the bad day's windows (7 days) wait, the rest are built"
    for day in done:
        assert lines[str(day)].startswith(f"{day} done: raw done, validate done")
    assert lines[str(BAD)].startswith(f"{BAD} failed: raw done, validate failed, process held back")
    for day in held:
        assert lines[str(day)].startswith(f"{day} held back: "), lines[str(day)]
    assert f"validate: validation failed for {BAD} in {day_dir(store, 'raw', BAD) / 'orders.csv'}: min_orders" in (
        result.stdout
    )
    assert f"rolling: held back: validation failed for {BAD}" in result.stdout
    assert (
        "January 2024: 16 days, 7 done, 1 failed (01-04: min_orders), 6 held back (01-05: by 2024-01-04, "
        "01-06: by 2024-01-04, 01-07: by 2024-01-04, 01-08: by 2024-01-04, ... and 2 more), 2 missing (01-15, 01-16)"
    ) in result.stdout

    done_only = run_etl("status", "--start", "2024-01-01", "--end", "2024-01-03", base=store)
    assert done_only.returncode == 0, done_only.stdout
    assert "January 2024: 3 days, 3 done" in done_only.stdout


def test_status_json_is_one_object_a_day_matching_the_disk(store):
    result = run_etl("status", "--start", "2024-01-01", "--end", "2024-01-16", "--json", base=store)

    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["day"] for o in objects] == [str(FIRST + datetime.timedelta(days=n)) for n in range(16)]
    for o in objects:
        day = datetime.date.fromisoformat(o["day"])
        assert list(o["steps"]) == ["raw", "validate", "process", "rolling", "report"]
        assert (o["state"] == "done") == reported(store, day)
    assert objects[3]["steps"]["validate"]["state"] == "failed"
    assert result.returncode == 1


def test_a_long_range_is_a_calendar_of_a_line_a_month_and_step(store):
    result = run_etl("status", "--start", "2024-01-01", "--end", "2024-02-29", base=store)

    january = [line for line in result.stdout.splitlines() if line.startswith("2024-01 ")]
    february = [line for line in result.stdout.splitlines() if line.startswith("2024-02 ")]
    assert [line.split()[1] for line in january] == ["raw", "validate", "process", "rolling", "report"]
    marks = {line.split()[1]: line.split(maxsplit=2)[2] for line in january}
    assert marks["validate"] == "###F##########" + "." * 17
    built = ["#" if reported(store, FIRST + datetime.timedelta(days=n)) else "h" for n in range(14)]
    assert marks["report"] == "".join(built) + "." * 17, "the failed day's own report waits on it too"
    assert all(line.endswith("." * 29) for line in february)
    assert "February 2024: 29 days, 29 missing (02-01..02-29)" in result.stdout


def test_status_refuses_a_range_before_start_date_with_exit_2(store):
    result = run_etl("status", "--start", "2023-12-31", "--end", "2024-01-02", base=store)

    assert result.returncode == 2
    assert "start_date 2024-01-01" in result.stderr


def test_check_deadline_passes_a_reported_day_and_names_the_first_step_not_done_otherwise_by_mail(store, smtp_inbox):
    port, received = smtp_inbox
    mail = ("--email-receiver=ops@example.com", "--smtp-host=127.0.0.1", f"--smtp-port={port}")
    done = run_etl("check-deadline", "--day", "2024-01-03", *mail, base=store)
    failed = run_etl("check-deadline", "--day", str(BAD), *mail, base=store)
    held = run_etl("check-deadline", "--day", "2024-01-10", *mail, base=store)
    missing = run_etl("check-deadline", "--day", "2024-01-20", *mail, base=store)

    assert (done.returncode, done.stdout) == (0, ""), "silent when done, or cron would mail every morning"
    assert failed.returncode == held.returncode == missing.returncode == 1
    raw = day_dir(store, "raw", BAD) / "orders.csv"
    assert failed.stdout.startswith(
        f"etl check-deadline: the report of {BAD} is not done: validate is failed: validation failed for {BAD} in "
        f"{raw}: min_orders: 10 orders, at least 20 required"
    )
    assert held.stdout.startswith(
        f"etl check-deadline: the report of 2024-01-10 is not done: rolling is held back: validation failed for {BAD} "
    ), "held back is said once"
    assert missing.stdout == "etl check-deadline: the report of 2024-01-20 is not done: raw is missing\n"
    assert len(received) == 3, "one mail per day not done, none for the done day"
    assert [m["Subject"] for m in received][1] == "Luigi: etl: the report of 2024-01-10 is not done"
    body = "".join(part.get_payload(decode=True).decode() for part in received[1].walk() if not part.is_multipart())
    assert held.stdout.strip() in body
