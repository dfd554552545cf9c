"""The pipeline's Luigi tasks: parameters, dependencies and targets; each ``run`` is one call into ``steps``."""

from __future__ import annotations

import datetime
import functools
from pathlib import Path
from typing import ClassVar

import luigi
import luigi.task

from etl import clock, steps
from etl.config import FixedParams, effective_config, etl, generation, report, retention, rolling, validation
from etl.day_ranges import chunk_containing, days_between
from etl.generation import GenerationSettings
from etl.metrics import window_dates
from etl.partitions import CLEANUP, METRICS, PROCESSED, RAW, dates_with_files
from etl.retention import RetentionPolicy, parse_weekdays
from etl.sources import OrderSource, SyntheticOrderSource
from etl.targets import partition_target

LATEST_REPORT = "latest_daily_report.json"
PRIORITY_EPOCH = datetime.date(2200, 1, 1)


class DayNotOverError(RuntimeError):
    """The pipeline was asked for a day that has not ended yet in its timezone."""


class DaysFailedError(RuntimeError):
    """Some days of a multi-day task failed; the others were completed."""


class BlockedError(RuntimeError):
    """A task was not run because a task it needs failed earlier in the same process."""


def built_once(method):
    """Cache a task's ``requires()`` or ``output()`` on the instance: Luigi asks for them many times,
    and each answer costs task instantiations and target objects (resolved once, as parameters are)."""
    attribute = f"_{method.__name__}_built"

    @functools.wraps(method)
    def cached(self):
        if attribute not in self.__dict__:
            self.__dict__[attribute] = method(self)
        return self.__dict__[attribute]

    return cached


class OldestFirst:
    """Older days get higher priority, so a backfill advances in date order.

    Priorities are positive: Luigi raises a dependency's priority to its dependents', and a
    wrapper such as RangeDaily has priority 0, which would otherwise flatten every day to 0.
    """

    date: datetime.date

    @property
    def priority(self) -> int:
        return (PRIORITY_EPOCH - self.date).days


class DailyTask(FixedParams, OldestFirst, luigi.Task):
    """A task of one business day whose outputs are files in one day partition of one layer."""

    date = luigi.DateParameter(description="The business day (YYYY-MM-DD).")

    layer: ClassVar[str]
    filenames: ClassVar[tuple[str, ...]]

    @built_once
    def output(self) -> dict[str, luigi.LocalTarget]:
        base_dir = etl.current().base_dir
        return {name: partition_target(base_dir, self.layer, self.date, name) for name in self.filenames}

    @classmethod
    def bulk_complete(cls, parameter_tuples):
        """The complete days among ``parameter_tuples``, from one listing of the layer (as ``complete()`` decides)."""
        task_cls = getattr(cls, "func", cls)  # RangeDaily passes functools.partial(cls, **of_params)
        done = dates_with_files(etl.current().base_dir, task_cls.layer, task_cls.filenames)
        return [date for date in parameter_tuples if date in done]

    def path(self, filename: str) -> Path:
        return Path(self.output()[filename].path)


class GenerateDailyData(DailyTask):
    """Ingest one day of raw orders from the configured source, once the day is over."""

    layer = RAW
    filenames = ("orders.csv",)

    def run(self) -> None:
        timezone = etl.current().timezone
        if not clock.is_day_over(self.date, timezone):
            raise DayNotOverError(f"{self.date} is not over yet in timezone {timezone}; its orders are not all in")
        steps.ingest_day(order_source(), self.date, self.path("orders.csv"))


class ValidateDailyData(DailyTask):
    """Gate a raw day: a day that breaks a rule fails here and nothing downstream is written."""

    layer = RAW
    filenames = ("validation_report.json",)

    @built_once
    def requires(self) -> GenerateDailyData:
        return GenerateDailyData(date=self.date)

    def run(self) -> None:
        orders = Path(self.input()["orders.csv"].path)
        report_file = self.path("validation_report.json")
        settings = etl.current()
        min_orders = validation.current().min_orders
        steps.validate_day(self.date, orders, report_file, min_orders, settings.timezone, Path(settings.base_dir))


class ProcessDailyData(DailyTask):
    """Clean a validated day and summarise it."""

    layer = PROCESSED
    filenames = ("orders_processed.csv", "daily_summary.json")

    @built_once
    def requires(self) -> ValidateDailyData:
        return ValidateDailyData(date=self.date)

    def run(self) -> None:
        orders = GenerateDailyData(date=self.date).path("orders.csv")
        processed, summary = self.path("orders_processed.csv"), self.path("daily_summary.json")
        steps.process_day(self.date, orders, processed, summary, etl.current().timezone)


class ComputeRollingMetrics(DailyTask):
    """Window metrics from the daily summaries of the window's processed days (never before start_date)."""

    layer = METRICS
    filenames = ("rolling_metrics.json",)

    @built_once
    def requires(self) -> list[ProcessDailyData]:
        return [
            ProcessDailyData(date=day)
            for day in window_dates(self.date, rolling.current().window_days, etl.current().start_date)
        ]

    def run(self) -> None:
        summaries = [Path(target["daily_summary.json"].path) for target in self.input()]
        steps.compute_rolling(self.date, summaries, rolling.current().window_days, self.path("rolling_metrics.json"))


class DailyReport(DailyTask):
    """The report of one day; it also becomes the latest report unless a newer day's already is."""

    layer = METRICS
    filenames = ("daily_report.json",)

    @built_once
    def requires(self) -> dict[str, luigi.Task]:
        return {
            "validation": ValidateDailyData(date=self.date),
            "summary": ProcessDailyData(date=self.date),
            "rolling": ComputeRollingMetrics(date=self.date),
        }

    def run(self) -> None:
        targets = self.input()
        inputs = {
            "validation": Path(targets["validation"]["validation_report.json"].path),
            "summary": Path(targets["summary"]["daily_summary.json"].path),
            "rolling": Path(targets["rolling"]["rolling_metrics.json"].path),
        }
        latest = Path(etl.current().base_dir, METRICS, LATEST_REPORT)
        config = effective_config()
        steps.report_day(
            self.date, inputs, self.path("daily_report.json"), latest, config, report.current().trend_threshold
        )


class CleanupOldPartitions(DailyTask):
    """Apply the retention policy as of this day, after its report and after the previous day's cleanup.

    Chaining cleanups day by day means no cleanup runs while an older day of the range still
    needs its inputs; the cleanup report records what went, and marks the day's pipeline done.
    """

    layer = CLEANUP
    filenames = ("cleanup_report.json",)

    @built_once
    def requires(self) -> list[luigi.Task]:
        previous = self.date - datetime.timedelta(days=1)
        needs: list[luigi.Task] = [DailyReport(date=self.date)]
        if previous >= etl.current().start_date:
            needs.append(CleanupOldPartitions(date=previous))
        return needs

    def run(self) -> None:
        base = Path(etl.current().base_dir)
        processed = dates_with_files(base, PROCESSED, ProcessDailyData.filenames)
        policy = retention_policy()
        steps.cleanup_day(
            base, self.date, policy, rolling.current().window_days, processed, self.path("cleanup_report.json")
        )


class DailyPipeline(FixedParams, OldestFirst, luigi.WrapperTask):
    """A whole day, report and cleanup: what cron runs. Done once the day's cleanup has run."""

    date = luigi.DateParameter(description="The business day (YYYY-MM-DD).")

    @built_once
    def requires(self) -> CleanupOldPartitions:
        return CleanupOldPartitions(date=self.date)

    @classmethod
    def bulk_complete(cls, parameter_tuples):
        return CleanupOldPartitions.bulk_complete(parameter_tuples)


class DayRange(FixedParams, luigi.Task):
    """Consecutive days of one daily task done in a single Luigi task, oldest first, each day exactly as its
    own tasks would do it (same steps, same targets, complete days skipped).

    RangeDaily schedules these: a year then costs a few dozen Luigi tasks instead of thousands (Luigi's
    scheduler examines every pending task on each request for work), and with ``--workers`` a process is
    forked per chunk, not per step. A failing day does not stop the chunk's other days; the chunk then
    fails, naming each failed day's error.
    """

    start = luigi.DateParameter(description="First day of the chunk.")
    stop = luigi.DateParameter(description="Day after the chunk's last day.")
    run_start = luigi.DateParameter(description="First day of the run of consecutive chunks the chunk belongs to.")
    days_per_task = luigi.IntParameter(description="Days per chunk in that run; only the run's last may be shorter.")

    day_task: ClassVar[type[luigi.Task]]

    @property
    def priority(self) -> int:
        return (PRIORITY_EPOCH - self.start).days

    @built_once
    def day_tasks(self) -> list[luigi.Task]:
        return [self.day_task(date=day) for day in days_between(self.start, self.stop)]

    @built_once
    def output(self) -> list[dict[str, luigi.LocalTarget]]:
        return [task.output() for task in self.day_tasks()]

    def chunk(self, cls: type[DayRange], day: datetime.date) -> DayRange:
        """The ``cls`` chunk of this run that holds ``day``, an earlier day of the run."""
        first, stop = chunk_containing(day, self.run_start, self.days_per_task)
        return cls(start=first, stop=stop, run_start=self.run_start, days_per_task=self.days_per_task)

    def run(self) -> None:
        tasks = self.day_tasks()
        failed: dict[str, Exception] = {}
        errors: list[str] = []
        for number, task in enumerate(tasks, 1):
            try:
                complete_in_process(task, failed)
            except BlockedError as error:
                errors.append(f"{task.date}: {error}")
            except Exception as error:
                errors.append(str(error))
            if self.set_status_message is not None:  # None unless a Luigi worker runs the task
                self.set_status_message(f"{number - len(errors)} of {len(tasks)} days done, {len(errors)} failed")
                self.set_progress_percentage(100 * number // len(tasks))
        if errors:
            raise DaysFailedError(f"{len(errors)} of {len(tasks)} days failed in {self}: " + "; ".join(errors))


class ProcessDays(DayRange):
    """Raw, validated and processed data for a chunk of days (days do not depend on each other here)."""

    day_task = ProcessDailyData


class ReportDays(DayRange):
    """Rolling metrics and reports for a chunk, once its days and their windows' earlier days are processed."""

    day_task = DailyReport

    @built_once
    def requires(self) -> list[luigi.Task]:
        needs: list[luigi.Task] = [ProcessDays(**self.param_kwargs)]
        for day in window_dates(self.start, rolling.current().window_days, etl.current().start_date)[:-1]:
            task = self.chunk(ProcessDays, day) if day >= self.run_start else ProcessDailyData(date=day)
            if task not in needs:
                needs.append(task)
        return needs


class PipelineDays(DayRange):
    """DailyPipeline for a chunk: its reports, then each day's cleanup in date order after the previous chunk's."""

    day_task = CleanupOldPartitions

    @built_once
    def requires(self) -> list[luigi.Task]:
        needs: list[luigi.Task] = [ReportDays(**self.param_kwargs)]
        previous = self.start - datetime.timedelta(days=1)
        if previous >= self.run_start:
            needs.append(self.chunk(PipelineDays, previous))
        elif previous >= etl.current().start_date:
            needs.append(CleanupOldPartitions(date=previous))
        return needs


DAY_RANGES: dict[type[luigi.Task], type[DayRange]] = {
    ProcessDailyData: ProcessDays,
    DailyReport: ReportDays,
    DailyPipeline: PipelineDays,
}


def complete_in_process(task: luigi.Task, failed: dict[str, Exception]) -> None:
    """Run ``task`` after its incomplete requirements, in this process, as a one-worker Luigi run would.

    ``failed`` records each task that raised, so that a later day needing it is blocked at once instead of retrying it.
    """
    if task.task_id in failed:
        raise BlockedError(f"needs {task}, which failed earlier in this run")
    if task.complete():
        return
    try:
        for requirement in luigi.task.flatten(task.requires()):
            complete_in_process(requirement, failed)
        task.run()
    except Exception as error:
        failed.setdefault(task.task_id, error)
        raise


def order_source() -> OrderSource:
    """The configured source of raw orders."""
    settings = generation.current()
    return SyntheticOrderSource(
        GenerationSettings(**{name: getattr(settings, name) for name, _ in settings.get_params()})
    )


def retention_policy() -> RetentionPolicy:
    """The configured retention policy."""
    settings = retention.current()
    return RetentionPolicy(
        raw_days=settings.raw_days,
        processed_days=settings.processed_days,
        metrics_days=settings.metrics_days,
        weekdays=parse_weekdays(settings.cleanup_weekdays),
    )
