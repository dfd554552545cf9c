"""What a central scheduler (``luigid``) knows and the store cannot: the steps it is running, and those it disabled
after ``[scheduler] retry_count`` failures, which later runs skip as not run (exit 25) until it is re-enabled.

``etl status`` and ``etl check-deadline`` show such steps over the store's states, asking luigid's HTTP API (the one
its web view reads). A luigid that cannot be asked costs one warning line, never the answer.
"""

from __future__ import annotations

import datetime
import html
import json
import sys
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence

import luigi.configuration
import luigi.interface
import luigi.task

from etl.chunks import STAGES, stage_of
from etl.day_ranges import days_between
from etl.state import DayState
from etl.status import STEPS
from etl.status_view import FINISHED, PRECEDENCE, DayRow, StepStatus

ASKED = (DayState.RUNNING, DayState.DISABLED)
TIMEOUT_SECONDS = 5
# Where Luigi reads a scheduler's host and port besides the command line (dashes or underscores alike).
_HOST_OPTIONS = ("scheduler_host", "scheduler_port", "default_scheduler_host", "default_scheduler_port")


def scheduler_url(luigi_args: Sequence[str]) -> str | None:
    """The luigid a ``luigi`` command with ``luigi_args`` would use, decided as ``luigi.interface`` does; None with
    ``--local-scheduler`` or when none is configured (Luigi would then try localhost:8082, which nothing here asked
    for). Call it while the run's command line is parsed (:func:`etl.backfill.settings_with`)."""
    core = luigi.interface.core()
    if core.local_scheduler:
        return None
    if core.scheduler_url:
        return core.scheduler_url
    config = luigi.configuration.get_config()
    named = any(arg.split("=")[0].endswith(("-scheduler-host", "-scheduler-port")) for arg in luigi_args) or any(
        config.has_option("core", option) for option in _HOST_OPTIONS
    )
    return f"http://{core.scheduler_host}:{core.scheduler_port:d}/" if named else None


def with_scheduler(rows: list[DayRow], url: str | None, pipeline: str) -> list[DayRow]:
    """``rows`` with each step not finished in the store that luigid at ``url`` is running or has disabled for
    ``pipeline`` (:attr:`RunSettings.identity`) shown so; ``rows`` as they are without a luigid, or with one warning
    line on stderr when it cannot be asked."""
    tasks = _asked(url, pipeline) if rows else None
    if tasks is None:
        return rows
    states = scheduled_states(tasks, steps_by_family(rows[0].day), url)
    return [
        DayRow(row.day, {name: _over(status, states.get((row.day, name))) for name, status in row.steps.items()})
        for row in rows
    ]


def disabled_lines(url: str | None, pipeline: str, start: datetime.date, stop: datetime.date) -> list[str]:
    """Why a run of ``[start, stop)`` was not run: each task of ``pipeline`` on those days that luigid has disabled
    (Luigi's own summary says only "not granted run permission by the scheduler", exit 25)."""
    tasks = _asked(url, pipeline) or {}
    families = {kind.task_family for kind in (*STAGES, *STAGES.values())}
    return [
        f"etl: {_status(task, url).reason}"
        for task in tasks.values()
        if task["status"] == DayState.DISABLED.name
        and task["name"] in families
        and any(start <= day < stop for day in task_days(task["params"]))
    ]


def scheduled_tasks(url: str) -> dict[str, dict]:
    """The tasks luigid is running or has disabled, by id, as ``/api/task_list`` returns them (no count limit)."""
    tasks: dict[str, dict] = {}
    for state in ASKED:
        query = urllib.parse.quote(json.dumps({"status": state.name, "limit": False}))
        with urllib.request.urlopen(f"{url.rstrip('/')}/api/task_list?data={query}", timeout=TIMEOUT_SECONDS) as answer:
            tasks.update(json.load(answer)["response"])
    return tasks


def scheduled_states(
    tasks: Mapping[str, dict], steps_of: Mapping[str, Sequence[str]], url: str
) -> dict[tuple[datetime.date, str], StepStatus]:
    """(day, step) -> running or disabled, from luigid's task list: a chunk covers its ``start``..``stop`` days, a
    day's task its ``date``; ``steps_of`` names the steps each family does. Tasks of no day (the range) are left
    out; where two tasks cover a step, the more urgent state is kept."""
    states: dict[tuple[datetime.date, str], StepStatus] = {}
    for task in tasks.values():
        status = _status(task, url)
        for day in task_days(task["params"]):
            for step in steps_of.get(task["name"], ()):
                known = states.get((day, step))
                if known is None or PRECEDENCE.index(status.state) < PRECEDENCE.index(known.state):
                    states[(day, step)] = status
    return states


def task_days(params: Mapping[str, str]) -> list[datetime.date]:
    """The days a task of the pipeline covers, from its parameters as luigid keeps them (strings)."""
    if "start" in params and "stop" in params:
        return days_between(datetime.date.fromisoformat(params["start"]), datetime.date.fromisoformat(params["stop"]))
    return [datetime.date.fromisoformat(params["date"])] if "date" in params else []


def steps_by_family(day: datetime.date) -> dict[str, list[str]]:
    """The status steps each task family does, from the chunks' stages: a chunk its stage's steps, a day's task its
    own; a family doing no step itself (PipelineDays, DailyPipeline) stands for the steps its day's task requires."""
    steps = {name: make(date=day) for name, make in STEPS.items()}

    def doing(family: type[luigi.Task], day_task: luigi.Task) -> list[str]:
        own = [name for name, step in steps.items() if family in (type(step), stage_of(step))]
        return own or [name for name, step in steps.items() if step in luigi.task.flatten(day_task.requires())]

    chunks = set(STAGES.values())
    day_tasks = {*(type(step) for step in steps.values()), *(chunk.day_task for chunk in chunks)}
    return {
        **{kind.task_family: doing(kind, kind(date=day)) for kind in day_tasks},
        **{chunk.task_family: doing(chunk, chunk.day_task(date=day)) for chunk in chunks},
    }


def _status(task: dict, url: str) -> StepStatus:
    """A task's state with luigid's own words for it: the worker and time, and its last status message."""
    days = ", ".join(f"{key}={value}" for key, value in task["params"].items() if key in ("start", "stop", "date"))
    name = f"{task['name']}({days})"
    lines = html.unescape(task.get("status_message") or "").splitlines()  # escaped by the chunk for the web page
    message = "; its last message: " + " / ".join(line.strip() for line in lines if line.strip()) if lines else ""
    if task["status"] == DayState.RUNNING.name:
        since = _utc(task.get("time_running") or task["start_time"])
        reason = f"{name} is running on {task.get('worker_running')} (luigid {url}) since {since}{message}"
        return StepStatus(DayState.RUNNING.value, reason, "running")
    reason = (
        f"luigid {url} disabled {name} after [scheduler] retry_count failures (at {_utc(task['last_updated'])}): runs "
        "skip it (exit 25) until it is re-enabled in the web view or [scheduler] disable_persist passes; fix the "
        f"cause first, or etl rerun its days, which are new tasks{message}"
    )
    return StepStatus(DayState.DISABLED.value, reason, "disabled by luigid")


def _asked(url: str | None, pipeline: str) -> dict[str, dict] | None:
    """luigid's running and disabled tasks of ``pipeline`` (one luigid may serve several); None without a luigid, or
    with one warning line when it cannot answer."""
    if url is None:
        return None
    try:
        return {key: task for key, task in scheduled_tasks(url).items() if task["params"].get("pipeline") == pipeline}
    except (OSError, ValueError, KeyError) as error:
        print(f"etl: warning: luigid {url} could not be asked ({error}); showing the store's states", file=sys.stderr)
        return None


def _over(status: StepStatus, scheduled: StepStatus | None) -> StepStatus:
    """The scheduler's state for a step unless the store has it finished (a running chunk passes done days by)."""
    return status if scheduled is None or status.state in FINISHED else scheduled


def _utc(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
