"""ETL_NOW end to end: the real command and the real cron wrapper run at a simulated moment."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

from conftest import REPO, day_dir, fast_day_args

NIGHT = "2024-01-05T02:00:00+00:00"  # the 02:00 run after 2024-01-04


def clean_env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}, **extra}


def test_yesterday_is_the_day_before_etl_now(tmp_path):
    env = clean_env(ETL_NOW="2024-01-10T02:00:00+00:00")

    result = subprocess.run(
        [sys.executable, "-m", "etl", "yesterday", "--etl-timezone", "UTC"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "2024-01-09\n"


def test_a_bad_etl_now_stops_the_command_naming_it(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "etl", "yesterday"],
        cwd=tmp_path,
        env=clean_env(ETL_NOW="last night"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 35, "a bad setting is a scheduling error"
    assert result.stdout == ""
    assert "ETL_NOW='last night' is not an ISO timestamp" in result.stderr


def test_the_cron_wrapper_at_a_simulated_night_builds_through_its_yesterday_and_records_that_time(tmp_path):
    base, logs = tmp_path / "base", tmp_path / "logs"
    config = tmp_path / "site.cfg"
    config.write_text("[etl]\ntimezone = UTC\nstart_date = 2024-01-01\n[retention]\nraw_days = 2\n")
    env = clean_env(ETL_NOW=NIGHT, ETL_BASE_DIR=str(base), ETL_LOG_DIR=str(logs), LUIGI_CONFIG_PATH=str(config))

    result = subprocess.run(
        [str(REPO / "scripts" / "run_daily.sh"), *fast_day_args()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    days = [datetime.date(2024, 1, d) for d in range(1, 5)]
    for layer, kept in (("processed", days), ("metrics", days), ("raw", days[1:])):
        built = sorted((base / layer).glob("year=*/month=*/day=*"))
        assert built == [day_dir(base, layer, day) for day in kept], f"{layer}: the days through 2024-01-04 only"
    assert "DailyPipeline through 2024-01-04 exited 0" in (logs / "daily-2024-01-04.log").read_text()
    for day in days:
        report = json.loads((day_dir(base, "metrics", day) / "daily_report.json").read_text())
        assert report["run"]["generated_at"] == NIGHT, "a report records the simulated time it was made"
    cleanups = [json.loads(p.read_text()) for p in (base / "cleanup").rglob("cleanup_report.json")]
    runs = [run for record in cleanups for run in record["runs"]]
    assert runs and {run["at"] for run in runs} == {NIGHT}, "raw_days=2 removed raw days, at the simulated time"
