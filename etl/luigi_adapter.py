"""The one place the pipeline reaches into Luigi's worker, so that a fleet of workers on one luigid exits as it should.

Luigi files a task another worker completed under "not run" (exit 25), or "run by another worker" (exit 10), since
a worker's summary knows only what it did itself: a fleet that built every day once would alert every night. Here a
worker, once its loop ends, asks each task it scheduled that is still pending in its eyes whether it is complete
now; such a task is told to luigid as done and summarised as "already done", as a worker starting a moment later
would have found it. One that luigid holds as failed (another worker ran it) is summarised as failed, so that every
worker of a fleet exits 30 when the range fails, not only the one that ran it. Any other task keeps Luigi's category
and code: disabled or not run 25, still running elsewhere 10.

With ``[worker] keep_alive`` a worker also waits while other workers run tasks it needs, without that wait counting
as idle (``max_keep_alive_idle_duration`` bounds only the rest, such as a failed task waiting out luigid's
``retry_delay``).

A run alerts once (:mod:`etl.alerts`): Luigi's worker mails each failure as it happens, in its main process also with
``--workers 2`` (task failures reach it through its result queue), and with chunks a failure is usually one task, the
range naming every failed day; but an error under every chunk (a full disk) would mail once a chunk. So the worker
keeps each failure Luigi would have mailed (task failures, errors in ``complete()`` or ``requires()``, framework
errors) and sends them in one alert, by mail and to the webhook, when the run ends, before Luigi's summary. Luigi's
FAILURE event is no place for that: it fires in the forked child that ran the task, once for every refused day.

A worker whose root task keeps a summary of its days (``RangeDaily.watch_run``, :mod:`etl.run_summary`) takes it
around its loop, and Luigi's execution summary, which speaks of tasks (a range's chunks), ends with its line: how
many days were done, skipped and failed, and which.

It uses names Luigi does not document (a worker's histories, ``_keep_alive``, the factory the ``luigi`` command
builds its worker with, the execution summary's formatter), checked at import against the pinned Luigi version.
"""

from __future__ import annotations

import datetime

import luigi
import luigi.execution_summary
import luigi.interface
import luigi.worker
from luigi.scheduler import DONE, FAILED, PENDING, UNKNOWN

from etl import alerts

_PRIVATE = (
    (luigi.worker.Worker, "_keep_alive"),
    (luigi.worker.Worker, "_add_task"),
    (luigi.worker.Worker, "_email_error"),
    (luigi.interface, "_WorkerSchedulerFactory"),
    (luigi.execution_summary, "_summary_format"),
)
for _owner, _name in _PRIVATE:
    if not hasattr(_owner, _name):
        raise ImportError(f"etl.luigi_adapter: Luigi {luigi.__version__} has no {_name}; the pipeline needs Luigi 3.8")


class FleetWorker(luigi.worker.Worker):
    """Luigi's worker, which also counts as done what other workers of a fleet completed, and alerts once a run."""

    days_summary = None  # what the root task's days came to (etl.run_summary), once the run is over

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._failures: list[alerts.Failure] = []

    def __exit__(self, *exc_info) -> bool:
        try:
            return super().__exit__(*exc_info)
        finally:
            if self._failures:
                alerts.send(alerts.run_failed(self._failures, self.host))

    def _email_error(self, task, formatted_traceback, subject, headline) -> None:
        """Keep the failure Luigi mails here at once, for the run's one alert."""
        formatted = subject.format(task=task, host=self.host), headline.format(task=task, host=self.host)
        self._failures.append(alerts.task_failure(task, formatted_traceback, *formatted))

    def run(self) -> bool:
        summarize = self._watch_root()
        succeeded = super().run()
        settled = self._settle_run_elsewhere()
        self.days_summary = summarize() if summarize else None
        return settled and succeeded

    def _watch_root(self):
        """The root task's summary to come, when it keeps one (a range: ``RangeDaily.watch_run``) and was scheduled
        without error."""
        if not self._add_task_history:
            return None
        root, status, _ = self._add_task_history[0]
        watch_run = getattr(root, "watch_run", None)
        return watch_run() if watch_run and status != UNKNOWN else None

    def _settle_run_elsewhere(self) -> bool:
        """Summarise the tasks other workers completed or failed as such; False when one failed."""
        last = {task: status for task, status, _ in self._add_task_history}
        pending = [task for task, status in last.items() if status == PENDING]
        completed = {task for task in pending if task.complete()}
        failed_there = set(self._scheduler.task_list(FAILED, "")) if len(completed) < len(pending) else set()
        failed = [task for task in pending if task not in completed and task.task_id in failed_there]
        self._add_task_history = [entry for entry in self._add_task_history if entry[0] not in completed]
        for task in completed:
            self._add_task(worker=self._id, task_id=task.task_id, status=DONE, runnable=False)
        self._add_task_history.extend((task, FAILED, True) for task in failed)
        settled = {task.task_id for task in (*completed, *failed)}
        for response in self._get_work_response_history:
            response["running_tasks"] = [run for run in response["running_tasks"] if run["task_id"] not in settled]
        return not failed

    def _keep_alive(self, get_work_response) -> bool:
        if self._config.keep_alive and not self._assistant and get_work_response.running_tasks:
            self._idle_since = datetime.datetime.now()  # another worker runs a task this one needs: not idle
            return True
        return super()._keep_alive(get_work_response)


class FleetWorkerFactory(luigi.interface._WorkerSchedulerFactory):
    """What the ``luigi`` command, ``luigi.build`` and ``etl`` build their worker with."""

    def create_worker(self, scheduler, worker_processes, assistant=False) -> FleetWorker:
        return FleetWorker(scheduler=scheduler, worker_processes=worker_processes, assistant=assistant)


def install() -> None:
    """Make every run of this process use :class:`FleetWorker`, and Luigi's execution summary end with its days."""
    luigi.interface._WorkerSchedulerFactory = FleetWorkerFactory
    luigi.execution_summary._summary_format = _summary_format_with_days


_luigi_summary_format = luigi.execution_summary._summary_format


def _summary_format_with_days(set_tasks, worker) -> str:
    """Luigi's execution summary, which speaks of tasks (a range's chunks), then what the days came to."""
    text = _luigi_summary_format(set_tasks, worker)
    days = getattr(worker, "days_summary", None)
    return text if days is None else f"{text}\n{days.line()}"
