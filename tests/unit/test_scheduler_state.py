"""What luigid knows, mapped to days and steps: answers recorded from a real luigid's ``/api/task_list``."""

from __future__ import annotations

import datetime

from conftest import free_port

from etl.backfill import settings_with
from etl.scheduler_state import disabled_lines, scheduled_states, scheduler_url, steps_by_family, with_scheduler
from etl.status_view import DayRow, StepStatus

D = datetime.date
URL = "http://127.0.0.1:8082/"
WORKER = "Worker(salt=1442841641, workers=1, host=vm, username=root, pid=15693)"
STEPS_OF = {  # written out here: test_steps_by_family_follows_the_chunks_stages pins the real one
    "ProcessDays": ["raw", "validate", "process"],
    "ReportDays": ["rolling", "report"],
    "PipelineDays": ["report"],
    "DailyReport": ["report"],
}
DISABLED = {  # {"status": "DISABLED"}, after a chunk failed with [scheduler] retry_count = 1
    "ProcessDays__2024_01_01_2024_01_11_6e715813a7": {
        "display_name": "ProcessDays(days_per_task=14, range_start=2024-01-01, rerun=, "
                        "start=2024-01-01, stop=2024-01-11)",
        "status": "DISABLED",
        "workers": ["Worker(salt=1008145362, workers=1, host=vm, username=root, pid=14166)"],
        "worker_running": "Worker(salt=1008145362, workers=1, host=vm, username=root, pid=14166)",
        "time_running": 1796200762.4569242,
        "start_time": 1796200762.4493735,
        "last_updated": 1796200762.8402297,
        "params": {"start": "2024-01-01", "stop": "2024-01-11", "range_start": "2024-01-01", "days_per_task": "14",
                   "rerun": ""},
        "name": "ProcessDays",
        "priority": 64283,
        "resources": {},
        "resources_running": {},
        "tracking_url": None,
        "status_message": "9 of 10 days done, 1 failed\n2024-01-03: [Errno 17] File exists: &lt;base&gt;/day=03",
        "progress_percentage": 100,
        "re_enable_able": True,
    }
}  # fmt: skip
RUNNING = {  # {"status": "RUNNING"}, during a long backfill: its chunk, and the range itself
    "ProcessDays__2023_01_02_2023_01_16_0e4e597b54": {
        "display_name": "ProcessDays(days_per_task=14, range_start=2023-01-01, rerun=, "
                        "start=2023-01-02, stop=2023-01-16)",
        "status": "RUNNING",
        "workers": [WORKER],
        "worker_running": WORKER,
        "time_running": 1796200868.8545601,
        "start_time": 1796200868.7531207,
        "last_updated": 1796200868.8545578,
        "params": {"start": "2023-01-02", "stop": "2023-01-16", "range_start": "2023-01-01", "days_per_task": "14",
                   "rerun": ""},
        "name": "ProcessDays",
        "priority": 64647,
        "resources": {},
        "resources_running": {},
        "tracking_url": None,
        "status_message": "2 of 14 days done, 0 failed",
        "progress_percentage": 14,
        "accepts_messages": False,
    },
    "RangeDaily_100_0_14_511fa75c61": {
        "status": "RUNNING",
        "worker_running": WORKER,
        "time_running": 1796200868.0,
        "start_time": 1796200868.0,
        "last_updated": 1796200868.0,
        "params": {"of": "DailyReport", "start": "2023-01-01", "stop": "2023-07-01"},
        "name": "RangeDaily",
        "status_message": None,
    },
}  # fmt: skip


def test_a_disabled_chunk_disables_its_stages_steps_on_each_of_its_days_with_luigids_words():
    states = scheduled_states(DISABLED, STEPS_OF, URL)

    days = [D(2024, 1, 1) + datetime.timedelta(days=n) for n in range(10)]
    assert set(states) == {(day, step) for day in days for step in ("raw", "validate", "process")}, "stop is exclusive"
    status = states[(D(2024, 1, 3), "process")]
    assert (status.state, status.brief) == ("disabled", "disabled by luigid")
    assert f"luigid {URL} disabled ProcessDays(start=2024-01-01, stop=2024-01-11)" in status.reason
    assert "re-enabled in the web view" in status.reason and "etl rerun" in status.reason
    assert "9 of 10 days done, 1 failed / 2024-01-03: [Errno 17] File exists: <base>/day=03" in status.reason, (
        "the chunk's last message, on one line and unescaped (it was escaped for the web page)"
    )


def test_a_running_chunk_names_its_worker_and_the_range_itself_covers_no_step():
    states = scheduled_states(RUNNING, STEPS_OF, URL)

    assert {day for day, _ in states} == {D(2023, 1, 2) + datetime.timedelta(days=n) for n in range(14)}
    status = states[(D(2023, 1, 15), "validate")]
    assert status.state == "running" and WORKER in status.reason and "2 of 14 days done" in status.reason


def test_where_two_tasks_cover_a_step_disabled_wins_over_running():
    running_day = {"t1": {**RUNNING["ProcessDays__2023_01_02_2023_01_16_0e4e597b54"], "name": "DailyReport",
                          "params": {"date": "2024-01-05"}}}  # fmt: skip
    report_days = {"t2": {**DISABLED["ProcessDays__2024_01_01_2024_01_11_6e715813a7"], "name": "ReportDays"}}

    states = scheduled_states({**running_day, **report_days}, STEPS_OF, URL)

    assert states[(D(2024, 1, 5), "report")].state == "disabled"
    assert states[(D(2024, 1, 4), "rolling")].state == "disabled"


def test_steps_by_family_follows_the_chunks_stages(configure):
    families = steps_by_family(D(2024, 1, 3))

    assert families["ProcessDays"] == ["raw", "validate", "process"]
    assert families["ReportDays"] == ["rolling", "report"]
    assert families["PipelineDays"] == ["report"], "a pipeline chunk stands for the reports its days require"
    assert families["DailyPipeline"] == ["report"]
    assert (families["GenerateDailyData"], families["ComputeRollingMetrics"]) == (["raw"], ["rolling"])


def test_the_store_keeps_finished_steps_and_an_unreachable_luigid_costs_one_warning_line(configure, capsys):
    done, missing = StepStatus("done", None, None), StepStatus("missing", "not built yet", None)
    rows = [DayRow(D(2024, 1, 2), {"raw": done, "process": missing}), DayRow(D(2024, 1, 3), {"process": missing})]

    assert with_scheduler(rows, None, "etl@/base") is rows
    unreachable = f"http://127.0.0.1:{free_port()}/"
    assert with_scheduler(rows, unreachable, "etl@/base") is rows
    assert disabled_lines(unreachable, "etl@/base", D(2024, 1, 1), D(2024, 1, 4)) == []
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 2 and all(f"luigid {unreachable} could not be asked" in line for line in warnings)


def test_a_luigid_is_asked_only_when_one_is_configured_as_luigi_decides(configure):
    def url(*args: str) -> str | None:
        with settings_with(list(args)):
            return scheduler_url(args)

    assert url() is None, "no scheduler configured: luigi's localhost:8082 default is not asked"
    assert url("--scheduler-url", URL) == URL
    assert url("--local-scheduler", "--scheduler-url", URL) is None
    assert url("--scheduler-host", "127.0.0.1", "--scheduler-port=9") == "http://127.0.0.1:9/"
    configure({"core": {"scheduler_port": "9"}})  # as [core] default_scheduler_port, deprecated
    assert url() == "http://localhost:9/"
