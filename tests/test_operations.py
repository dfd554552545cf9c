"""Operating the pipeline: long catch-ups, retention across a range, cron, and a real luigid."""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request

import pytest
from conftest import LUIGI, REPO, day_dir, fast_day_args, run_luigi
from test_cli import snapshot, without_run_time

from etl.marks import built_from

pytestmark = pytest.mark.slow

TINY_DAYS = ("--generation-mean-orders-per-day=12", "--validation-min-orders=1")


def all_days(first: datetime.date, stop: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=i) for i in range((stop - first).days)]


def test_one_command_fills_gaps_in_the_middle_and_near_the_end_of_a_400_day_range(tmp_path):
    base = tmp_path / "base"
    stop = datetime.date(2025, 2, 4)
    command = ("RangeDaily", "--of", "DailyReport", "--start", "2024-01-01", "--stop", stop.isoformat())
    first = run_luigi(*command, f"--etl-base-dir={base}", *TINY_DAYS, "--log-level=WARNING", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    gaps = [datetime.date(2024, 7, 1), datetime.date(2024, 7, 2), datetime.date(2025, 1, 30), datetime.date(2025, 2, 3)]
    for day in gaps:
        for layer in ("raw", "processed", "metrics"):
            shutil.rmtree(day_dir(base, layer, day))
    before = snapshot(base)

    second = run_luigi(*command, f"--etl-base-dir={base}", *TINY_DAYS, cwd=tmp_path)

    assert second.returncode == 0, second.stderr[-3000:]
    reports = sorted(base.glob("metrics/year=*/month=*/day=*/daily_report.json"))
    assert len(reports) == 400
    after = snapshot(base)
    written = {name.rsplit("/", 1)[0] for name in after if after[name] != before.get(name) and "/day=" in name}
    expected = {
        f"{layer}/year={d:%Y}/month={d:%m}/day={d:%d}" for d in gaps for layer in ("raw", "processed", "metrics")
    }
    assert written == expected, "the gaps alone: rebuilt to the bytes the windows that read them recorded"


def test_daily_pipeline_catch_up_with_cleanup_ends_complete_and_identical_every_time(tmp_path):
    stop = datetime.date(2024, 4, 20)  # 110 days: every layer's retention acts
    command = ("RangeDaily", "--of", "DailyPipeline", "--start", "2024-01-01", "--stop", stop.isoformat())
    one, two = tmp_path / "one", tmp_path / "two"

    first = run_luigi(*command, f"--etl-base-dir={one}", *TINY_DAYS, "--log-level=WARNING", cwd=tmp_path)
    parallel = run_luigi(*command, f"--etl-base-dir={two}", *TINY_DAYS, "--workers=2", cwd=tmp_path)

    assert first.returncode == 0, first.stderr[-3000:]
    assert parallel.returncode == 0, parallel.stderr[-3000:]
    days = all_days(datetime.date(2024, 1, 1), stop)
    last = days[-1]
    ledger = json.loads((one / "cleanup" / "retired_days.json").read_text())
    assert ledger["metrics"] == [["2024-01-01", (last - datetime.timedelta(days=90)).isoformat()]]
    assert all((day_dir(one, "metrics", d) / "daily_report.json").exists() for d in days[-91:]), "every day reported"
    for layer, keep in (("raw", 7), ("processed", 30), ("metrics", 90)):
        kept = sorted(one.glob(f"{layer}/year=*/month=*/day=*"))
        assert kept[0] == day_dir(one, layer, last - datetime.timedelta(days=keep)), layer
        assert len(kept) == keep + 1, layer
    a, b = snapshot(one), snapshot(two)
    assert a.keys() == b.keys(), "the same partitions survive, whatever the worker count"
    for name in a:
        if "/_" in name:
            assert built_from(json.loads(a[name][0])) == built_from(json.loads(b[name][0])), name
        elif name.endswith("report.json") and "metrics" in name:
            assert without_run_time(json.loads(a[name][0])) == without_run_time(json.loads(b[name][0])), name
        elif name.endswith("cleanup_report.json"):
            runs = [
                [{k: v for k, v in run.items() if k != "at"} for run in json.loads(x[name][0])["runs"]] for x in (a, b)
            ]
            assert runs[0] == runs[1], name
        else:
            assert a[name][0] == b[name][0], name

    again = run_luigi(*command, f"--etl-base-dir={one}", *TINY_DAYS, cwd=tmp_path)
    assert again.returncode == 0
    assert snapshot(one) == a, "catch-up does not rebuild what retention removed"


def test_cron_wrapper_runs_yesterday_from_anywhere_logs_and_refuses_to_overlap(tmp_path):
    base, logs = tmp_path / "base", tmp_path / "logs"
    config = tmp_path / "site.cfg"
    config.write_text("[generation]\nmean_orders_per_day = 80\n[validation]\nmin_orders = 20\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))},
        "ETL_BASE_DIR": str(base),
        "ETL_LOG_DIR": str(logs),
        "LUIGI_CONFIG_PATH": str(config),
    }
    wrapper = [str(REPO / "scripts" / "run_daily.sh"), "--date", "2024-01-05"]
    night = {**env, "ETL_NOW": "2024-01-06T02:00+00:00"}  # cron's: a range completes whole blocks up to today

    ok = subprocess.run(wrapper, cwd=tmp_path, env=night, capture_output=True, text=True, timeout=300)

    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert all(
        (day_dir(base, "metrics", datetime.date(2024, 1, d)) / "daily_report.json").exists() for d in range(1, 6)
    )
    log = (logs / "daily-2024-01-05.log").read_text()
    assert "DailyPipeline through 2024-01-05 exited 0" in log and "Luigi Execution Summary" in log

    with open(logs / "run_daily.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        busy = subprocess.run(wrapper, cwd=tmp_path, env=night, capture_output=True, text=True, timeout=60)
    assert busy.returncode == 10, busy.stderr

    config.write_text("[validation]\nmin_orders = 100000\n")
    failed = subprocess.run(
        [str(REPO / "scripts" / "run_daily.sh"), "--date", "2024-01-07"],
        cwd=tmp_path,
        env={**env, "ETL_NOW": "2024-01-08T02:00+00:00"},
        capture_output=True,
    )
    assert failed.returncode == 30, "a failed day reaches cron as a non-zero exit"
    assert (day_dir(base, "raw", datetime.date(2024, 1, 6)) / "validation_failed.json").exists()

    default_day = subprocess.run(
        [str(LUIGI.with_name("python")), "-m", "etl", "yesterday"], env=env, capture_output=True, text=True
    )
    expected = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=1)
    assert default_day.stdout.strip() == expected.isoformat(), "without --date, cron runs yesterday (UTC here)"


def test_a_range_runs_against_a_real_luigid_which_shows_each_chunk_done_with_its_progress(tmp_path, luigid):
    base = tmp_path / "base"
    scheduler = ("--scheduler-host", "127.0.0.1", "--scheduler-port", str(luigid))

    result = run_luigi(
        "RangeDaily", "--of", "DailyReport", "--start", "2024-01-01", "--stop", "2024-01-06", "--days-per-task=7",
        f"--etl-base-dir={base}", *fast_day_args(), cwd=tmp_path, scheduler=scheduler,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    query = urllib.parse.quote(json.dumps({"status": "DONE", "search": "Days"}))
    with urllib.request.urlopen(f"http://127.0.0.1:{luigid}/api/task_list?data={query}", timeout=10) as response:
        tasks = json.load(response)["response"]
    chunks = {t["name"]: t for t in tasks.values() if t["name"] != "RangeDaily"}
    assert set(chunks) == {"ProcessDays", "ReportDays"}, "one task per stage for the 5 days of an ISO week"
    for chunk in chunks.values():
        assert (chunk["params"]["start"], chunk["params"]["stop"]) == ("2024-01-01", "2024-01-06")
        assert chunk["status_message"].startswith("5 of 5 days done, 0 failed"), "and its rows (tests/test_web_view.py)"
        assert chunk["progress_percentage"] == 100


def test_a_refusal_quoting_markup_from_a_file_reaches_luigids_page_escaped(tmp_path, luigid):
    """luigid's page refreshes a status message into the page as HTML: text from a file must arrive inert."""
    base = tmp_path / "base"
    day = base / "raw" / "year=2024" / "month=01" / "day=02"
    day.mkdir(parents=True)
    header = "order_id,customer_id,product_id,category,quantity,unit_price,total_amount,order_timestamp,status"
    row = "O1,C1,P1,x,1,2.0,2.0,2024-01-02T10:00:00,<img src=x onerror=alert(1)>,card,extra"
    (day / "orders.csv").write_text(f"{header},payment_method\n{row}\n")
    scheduler = ("--scheduler-host", "127.0.0.1", "--scheduler-port", str(luigid))

    result = run_luigi(
        "RangeDaily", "--of", "DailyReport", "--start", "2024-01-01", "--stop", "2024-01-04", "--days-per-task=7",
        f"--etl-base-dir={base}", *fast_day_args(), cwd=tmp_path, scheduler=scheduler,
    )  # fmt: skip

    assert result.returncode != 0 and "onerror=alert(1)" in result.stderr, "the refusal names the row"
    query = urllib.parse.quote(json.dumps({"status": "DONE", "search": "ProcessDays"}))
    with urllib.request.urlopen(f"http://127.0.0.1:{luigid}/api/task_list?data={query}", timeout=10) as response:
        (chunk,) = json.load(response)["response"].values()
    message = chunk["status_message"]
    assert message.startswith("2 of 3 days done, 1 failed") and "2024-01-02" in message
    assert "&lt;img src=x onerror=alert(1)&gt;" in message and "<" not in message
