"""scripts/luigid.sh, the central scheduler as a service: the real script starts the real luigid on a free loopback
port, a real ``luigi`` run uses it, and the web view's HTTP API, /metrics, the task history and the state file are
read as a person or a monitor would."""

from __future__ import annotations

import configparser
import csv
import datetime
import json
import os
import socket
import sqlite3
import subprocess
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import REPO, day_dir, fast_day_args, free_port, run_luigi
from prometheus_client.parser import text_string_to_metric_families

from tests.browser import render

SCRIPT = REPO / "scripts" / "luigid.sh"
DAY = 24 * 3600
CHUNK = "ProcessDays(start=2024-01-01, stop=2024-01-05, pipeline=etl@{base}, rerun=)"  # its block, up to the night
# Luigi's own stylesheet (AdminLTE) imports a font from Google; the browser refuses it off the machine, and the page
# falls back to a local font. Nothing else the page loads leaves the machine.
LUIGIS_FONT = [
    "console error: Failed to load resource: net::ERR_FAILED",
    "request off the machine: https://fonts.googleapis.com/css?family=Source+Sans+Pro:300,400,600,700,300italic,"
    "400italic,600italic",
]


class Service:
    """scripts/luigid.sh with its own directory and a free loopback port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}
        self.env.update(ETL_LUIGID_DIR=str(directory), ETL_LUIGID_HOST="127.0.0.1", ETL_LUIGID_PORT=str(self.port))

    def __call__(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(SCRIPT), command], env=self.env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )

    def pid(self) -> int:
        return int((self.directory / "luigid.pid").read_text())

    def tasks(self, **query: str) -> dict[str, dict]:
        """The tasks the web view lists (its /api/task_list), by task id; ``status="DONE"`` as it filters them."""
        return self.api("task_list", **query)

    def api(self, method: str, **data: str) -> dict:
        """An answer of luigid's HTTP API, the one its web view asks."""
        return json.loads(self.get(f"/api/{method}?data=" + urllib.parse.quote(json.dumps(data))))["response"]

    def metric(self, name: str) -> dict[str, float]:
        """A counter of /metrics by task family."""
        return {
            sample.labels["family"]: sample.value
            for family in text_string_to_metric_families(self.get("/metrics"))
            for sample in family.samples
            if sample.name == name
        }

    def backfill(self, base: Path, stop: str, days_per_task: int) -> subprocess.CompletedProcess:
        """A real ``luigi`` run of RangeDaily of DailyReport from 2024-01-01 into ``base``, against this luigid."""
        return run_luigi(
            "RangeDaily", "--of", "DailyReport", "--start=2024-01-01", f"--stop={stop}",
            f"--days-per-task={days_per_task}", f"--etl-base-dir={base}", *fast_day_args(),
            cwd=base.parent, scheduler=("--scheduler-url", self.url),
        )  # fmt: skip

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return response.read().decode()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """The script's service, stopped at the end of the test whatever happened."""
    service = Service(tmp_path / "luigid")
    yield service
    service("stop")


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def days_of(task: dict) -> list[datetime.date]:
    """The days a chunk covers, from its parameters as luigid lists them."""
    start, stop = (datetime.date.fromisoformat(task["params"][name]) for name in ("start", "stop"))
    return [start + datetime.timedelta(days=n) for n in range((stop - start).days)]


def rows(base: Path, layer: str, name: str, days: list[datetime.date]) -> int:
    """The rows of a file in each of ``days``' partitions, counted from the files with the csv module."""
    files = [day_dir(base, layer, day) / name for day in days]
    return sum(len(list(csv.DictReader(file.open(newline="")))) for file in files if file.exists())


def test_status_without_a_luigid_exits_3_and_leaves_no_file(service):
    status = service("status")

    assert status.returncode == 3, "the LSB's 'program is not running'"
    assert "not running" in status.stdout
    assert not service.directory.exists(), "asking whether it runs creates nothing"


def test_start_refuses_a_port_something_else_listens_on(service):
    with socket.socket() as other:
        other.bind(("127.0.0.1", service.port))
        other.listen()
        start = service("start")

    assert start.returncode == 1
    assert f"something else already listens at {service.url}/" in start.stderr
    assert service("status").returncode == 3


def test_the_settings_keep_a_night_in_view_till_evening_and_retry_a_failed_day_the_next_night():
    config = configparser.RawConfigParser()
    config.read(REPO / "scripts" / "luigid.cfg")
    scheduler = {option: float(config.get("scheduler", option)) for option in ("remove_delay", "retry_delay")}
    limits = {option: config.getint("scheduler", option) for option in ("disable_window", "disable_persist")}

    assert 12 * 3600 <= scheduler["remove_delay"] <= DAY - 4 * 3600, (
        "a night's tasks are in view all the next working day, and gone before the next night's run starts"
    )
    assert scheduler["retry_delay"] >= scheduler["remove_delay"], "a failed task shows FAILED as long as it shows"
    assert limits["disable_window"] < DAY, "one failure a night never adds up to retry_count failures in the window"
    assert limits["disable_persist"] < DAY, "a disabled task is enabled again within a day"
    assert config.getboolean("scheduler", "record_task_history")
    assert config.get("scheduler", "metrics_collector") == "prometheus"


@pytest.mark.slow
def test_start_twice_runs_one_luigid_and_stop_saves_its_state(service):
    start = service("start")
    pid = service.pid()
    again = service("start")
    listening = [p.pid for p in psutil.process_iter(["cmdline"]) if str(service.port) in (p.info["cmdline"] or [])]
    status = service("status")
    stop = service("stop")

    assert start.returncode == 0, start.stderr
    assert f"luigid started (pid {pid}) at {service.url}/" in start.stdout
    assert again.returncode == 0, again.stderr
    assert f"luigid already runs (pid {pid})" in again.stdout, "a second start says so"
    assert listening == [pid], "and starts no second luigid"
    assert status.returncode == 0 and f"luigid runs (pid {pid}) at {service.url}/" in status.stdout
    assert stop.returncode == 0, stop.stderr
    assert not alive(pid), "stop returns once luigid has exited"
    assert (service.directory / "state.pickle").is_file(), "luigid saved its state on SIGTERM"
    assert service("status").returncode == 3
    assert "Saved state in" in service("logs").stdout, "logs shows luigid's own log"


@pytest.mark.slow
def test_a_run_configured_for_the_service_is_done_in_its_web_view_counted_in_metrics_kept_in_history_and_a_restart(
    tmp_path, service
):
    """``luigi`` finds the service through ``[core] scheduler_url`` in the luigi.cfg of its working directory."""
    assert service("start").returncode == 0
    (tmp_path / "luigi.cfg").write_text(f"[core]\nscheduler_url = {service.url}/\n")
    run = run_luigi(
        "RangeDaily", "--of", "DailyReport", "--start=2024-01-01", "--stop=2024-01-11", "--days-per-task=4",
        "--workers=2", f"--etl-base-dir={tmp_path / 'base'}", *fast_day_args(),
        cwd=tmp_path, scheduler=(),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]

    every = service.tasks()
    done = service.tasks(status="DONE")
    metrics = service.metric("luigi_task_done_total")
    shown = {task_id: service.api("get_task_status_message", task_id=task_id)["statusMessage"] for task_id in every}
    progress = {
        task_id: service.api("get_task_progress_percentage", task_id=task_id)["progressPercentage"] for task_id in every
    }
    problems = render(f"{service.url}/", tmp_path / "luigid-backfill-done.png")
    assert service("stop").returncode == 0
    with sqlite3.connect(service.directory / "task-history.db") as history:
        recorded = {
            task_id
            for (task_id,) in history.execute(
                "SELECT tasks.task_id FROM tasks JOIN task_events ON task_events.task_id = tasks.id"
                " WHERE task_events.event_name = 'DONE'"
            )
        }
    assert service("start").returncode == 0
    restored = service.tasks(status="DONE")

    families = Counter(task["name"] for task in every.values())
    assert {"RangeDaily", "ProcessDays", "ReportDays"} <= set(families), families
    assert {task_id: task["status"] for task_id, task in every.items()} == dict.fromkeys(every, "DONE"), (
        "the web view lists every task of the run, each DONE"
    )
    assert done.keys() == every.keys(), "and filtered by DONE, as the web view asks, the same tasks"
    assert metrics == families, "/metrics counts each family's done tasks, as many as the web view shows"
    chunks = {task_id: task for task_id, task in every.items() if task["name"] != "RangeDaily"}
    base = tmp_path / "base"
    for task_id, task in chunks.items():
        days = days_of(task)
        expected = f"{len(days)} of {len(days)} days done, 0 failed"
        if task["name"] == "ProcessDays":
            read, written = rows(base, "raw", "orders.csv", days), rows(base, "processed", "orders_processed.csv", days)
            expected += f"; rows: {read:,} read, {written:,} written, 0 refused"
        assert shown[task_id] == task["status_message"] == expected, "each chunk's days, and the rows of its files"
        assert progress[task_id] == task["progress_percentage"] == 100
    processed = sorted(day for task in chunks.values() if task["name"] == "ProcessDays" for day in days_of(task))
    assert processed == [datetime.date(2024, 1, day) for day in range(1, 11)], "the chunks' days are the range's"
    assert sorted(problems) == LUIGIS_FONT, "the web view renders in a browser without a script error"
    assert recorded == every.keys(), "the task history holds each task, with its DONE event"
    assert restored.keys() == every.keys(), "after a restart luigid shows the night's tasks from its state file"


@pytest.mark.slow
def test_a_chunk_with_a_bad_day_shows_failed_with_its_error_its_days_and_progress_and_is_counted(tmp_path, service):
    base = tmp_path / "base"
    blocker = day_dir(base, "processed", datetime.date(2024, 1, 3))
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the day's partition goes: the day fails, not its validation")
    assert service("start").returncode == 0
    run = service.backfill(base, stop="2024-01-05", days_per_task=4)

    failed = service.tasks(status="FAILED")
    assert run.returncode == 30, run.stderr[-3000:]
    assert [(task["name"], task["params"]["start"], task["params"]["stop"]) for task in failed.values()] == [
        ("ProcessDays", "2024-01-01", "2024-01-05")
    ], "the chunk of the bad day failed, and only it: what depends on it waits"
    (task_id,) = failed
    error = service.api("fetch_error", task_id=task_id)["error"]
    message = service.api("get_task_status_message", task_id=task_id)["statusMessage"]
    progress = service.api("get_task_progress_percentage", task_id=task_id)["progressPercentage"]
    assert f"1 of 4 days failed in {CHUNK.format(base=base)}: 2024-01-03: " in error, error
    days = [datetime.date(2024, 1, day) for day in (1, 2, 4)]
    read, written = rows(base, "raw", "orders.csv", days), rows(base, "processed", "orders_processed.csv", days)
    summary, failure = message.split("\n")
    assert summary == f"3 of 4 days done, 1 failed; rows: {read:,} read, {written:,} written, 0 refused"
    assert failure.startswith("2024-01-03: ") and str(blocker) in failure, "the day, and the file in its way"
    assert progress == 100, "the chunk went through all its days"
    assert service.metric("luigi_task_failed_total") == {"ProcessDays": 1.0}


@pytest.mark.slow
def test_a_task_per_step_shows_each_days_rows_in_its_validation_and_processing(tmp_path, service):
    base = tmp_path / "base"
    assert service("start").returncode == 0
    run = service.backfill(base, stop="2024-01-03", days_per_task=1)
    assert run.returncode == 0, run.stderr[-3000:]

    shown = {(task["name"], task["params"].get("date")): task["status_message"] for task in service.tasks().values()}

    for day in (datetime.date(2024, 1, 1), datetime.date(2024, 1, 2)):
        read, written = rows(base, "raw", "orders.csv", [day]), rows(base, "processed", "orders_processed.csv", [day])
        assert shown.pop(("ProcessDailyData", day.isoformat())) == f"rows: {read:,} read, {written:,} written"
        assert shown.pop(("ValidateDailyData", day.isoformat())) == "rows: 0 refused", "no landed rows were refused"
    assert set(shown.values()) == {None}, f"the steps that count no rows show no message: {list(shown)}"


@pytest.mark.slow
def test_a_refused_day_is_named_in_the_failed_ranges_message_and_its_chunks_and_the_page_shows_markup_inert(
    tmp_path, service
):
    """A refusal quotes the row it could not read and names its file: both hold markup here, which luigid's page would
    run if it arrived as HTML (the page puts a message in with jQuery's .html(), which runs scripts)."""
    base = tmp_path / "<img src=x onerror=alert(2)>"
    raw = day_dir(base, "raw", datetime.date(2024, 1, 2)) / "orders.csv"
    raw.parent.mkdir(parents=True)
    header = "order_id,customer_id,product_id,category,quantity,unit_price,total_amount,order_timestamp,status"
    row = "O1,C1,P1,x,1,2.0,2.0,2024-01-02T10:00:00,<script>alert(1)</script>,card,one column too many"
    raw.write_text(f"{header},payment_method\n{row}\n")
    assert service("start").returncode == 0
    run = service.backfill(base, stop="2024-01-04", days_per_task=7)
    assert run.returncode == 30, run.stderr[-3000:]

    failed, done = service.tasks(status="FAILED"), service.tasks(status="DONE")
    (range_id,) = failed
    message = service.api("get_task_status_message", task_id=range_id)["statusMessage"]
    chunk = next(task for task in done.values() if task["name"] == "ProcessDays")
    opened: list[str] = []

    def open_the_failed_ranges_message(page) -> None:
        """What a person does: the task list, the failed range's "Status message" button, and its text once loaded."""
        page.locator("#taskTable tbody tr", has_text="FAILED").locator("button.statusMessage").click()
        page.wait_for_function("document.querySelector('#statusMessageModal pre').innerText.includes('2024-01-02')")
        opened.append(page.inner_text("#statusMessageModal pre"))

    problems = render(
        f"{service.url}/static/visualiser/index.html#tab=tasks", tmp_path / "luigid-refused-day-message.png",
        act=open_the_failed_ranges_message,
    )  # fmt: skip

    refusal = (
        f"2024-01-02: validation failed for 2024-01-02 in {raw}: readable_csv: not a readable CSV file: CSV parse "
        f"error: Expected 10 columns, got 11: {row}"
    )
    escaped = refusal.replace("<", "&lt;").replace(">", "&gt;")
    assert [task["name"] for task in failed.values()] == ["RangeDaily"], "a refused day is settled, not a chunk error"
    assert "2024-01-02: validation failed for 2024-01-02" in service.api("fetch_error", task_id=range_id)["error"]
    assert message.startswith("2 days of DailyReport failed in the range;") and f"\n{escaped}\n" in message, message
    days = [datetime.date(2024, 1, 1), datetime.date(2024, 1, 3)]
    read, written = rows(base, "raw", "orders.csv", days), rows(base, "processed", "orders_processed.csv", days)
    summary, day_line = chunk["status_message"].split("\n")
    assert summary == f"2 of 3 days done, 1 failed; rows: {read:,} read, {written:,} written, 0 refused"
    assert day_line.startswith(escaped), "the chunk, done with its other days, names the refused day"
    assert "<" not in message + chunk["status_message"], "no markup reaches luigid"
    assert refusal in opened[0], "the page shows the row and the file as they are, as text"
    assert sorted(problems) == LUIGIS_FONT, "and runs none of it: no dialog, no script error"
    assert service.metric("luigi_task_failed_total") == {"RangeDaily": 1.0}
    assert service.metric("luigi_task_done_total") == Counter(task["name"] for task in done.values())
