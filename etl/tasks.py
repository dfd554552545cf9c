"""The pipeline's per-day Luigi tasks: parameters, dependencies and targets; each ``run`` is one call into ``steps``.

A task's completeness is its day's state (:mod:`etl.state`): done or retired by retention counts as
complete. Settings come from the run's snapshot (:mod:`etl.run_settings`), checked before any work.
"""

from __future__ import annotations

import abc
import datetime
import functools
import hashlib
import json
import logging
from collections.abc import Callable, Set
from typing import ClassVar

import luigi

from etl import clock, landing, run_settings, steps
from etl.config import DayParameter, FixedParams, RunParameter, SettingsError
from etl.day_ranges import ONE_DAY
from etl.marks import RAW_STEP, process_settings, report_settings, rolling_settings, validate_settings
from etl.metrics import window_dates
from etl.retention import Holdings, Partition, Step, is_cleanup_due, plan_cleanup, removable, too_late
from etl.run_settings import RunSettings
from etl.sources import order_source
from etl.state import DayState, DayStatus, Outputs, StoreView, retired
from etl.status_messages import Rows, show
from etl.storage.landing import LocalLanding, open_landing
from etl.storage.layout import (
    DAILY_REPORT,
    DAILY_SUMMARY,
    INGEST_INDEX_KEY,
    INGEST_JOURNAL_KEY,
    METRICS,
    ORDERS,
    PROCESSED,
    PROCESSED_ORDERS,
    RAW,
    RETAINED_LAYERS,
    ROLLING_METRICS,
    VALIDATION_FAILED,
    VALIDATION_REPORT,
    file_key,
)
from etl.targets import StoreTarget

PRIORITY_EPOCH = datetime.date(2200, 1, 1)
logger = logging.getLogger("luigi-interface")


def per_settings(method):
    """Cache a task's ``requires()`` or ``output()`` on the instance for as long as the run's settings stay the
    same: Luigi asks for them many times, and each answer costs task instantiations and target objects."""
    attribute = f"_{method.__name__}_built"

    @functools.wraps(method)
    def cached(self):
        settings = run_settings.current()
        kept = self.__dict__.get(attribute)
        if kept is None or kept[0] is not settings:
            kept = self.__dict__[attribute] = (settings, method(self))
        return kept[1]

    return cached


def oldest_first(date: datetime.date) -> int:
    """Older days get higher priority, so a backfill advances in date order.

    Priorities are positive: Luigi raises a dependency's priority to its dependents', and a
    wrapper such as RangeDaily has priority 0, which would otherwise flatten every day to 0.
    """
    return (PRIORITY_EPOCH - date).days


def check_day(date: datetime.date, settings: RunSettings) -> None:
    """Refuse, before any work, a day the pipeline cannot have: before ``start_date`` or not over yet."""
    if (date, settings.timezone) in _DAYS_OVER and date >= settings.start_date:
        return
    problem = None
    if date < settings.start_date:
        problem = f"day {date} is before [etl] start_date {settings.start_date}: the pipeline has no days before it"
    elif not clock.is_day_over(date, settings.timezone):
        problem = f"day {date} is not over yet in [etl] timezone {settings.timezone}: its orders are not all in"
    if problem is not None:
        logger.error("etl: %s", problem)
        raise SettingsError(problem)
    _DAYS_OVER.add((date, settings.timezone))


_DAYS_OVER: set[tuple[datetime.date, str]] = set()  # a day that is over stays over


class PipelineParameter(RunParameter):
    """The pipeline a task belongs to (:attr:`RunSettings.identity`); empty, the default, stands for the run's."""

    def __init__(self) -> None:
        super().__init__(description="The pipeline and store the task belongs to (default: the run's own).")

    def normalize(self, x: str) -> str:
        if x:
            return x
        try:
            return run_settings.identity()
        except SettingsError:
            return ""  # the settings' own error comes where Luigi reports it, scheduling the task


class DailyTask(FixedParams, luigi.Task):
    """A step of one business day whose outputs are files in one day partition of one layer."""

    date = DayParameter(description="The business day (YYYY-MM-DD).")
    pipeline = PipelineParameter()

    outputs: ClassVar[Outputs]

    @property
    def priority(self) -> int:
        return oldest_first(self.date)

    @per_settings
    def output(self) -> dict[str, StoreTarget]:
        store = run_settings.current().store
        return {
            name: StoreTarget(store, file_key(self.outputs.layer, self.date, name)) for name in self.outputs.filenames
        }

    def status(self) -> DayStatus:
        settings = run_settings.current()
        check_day(self.date, settings)
        return view_of(settings).status(self)

    def complete(self) -> bool:
        return self.status().finished

    @classmethod
    def bulk_complete(cls, parameter_tuples):
        """The complete days among ``parameter_tuples``: the states ``complete()`` reads, from one listing."""
        view = full_view(run_settings.current())
        return [date for date in parameter_tuples if view.status(cls(date=date)).finished]

    def fingerprint(self) -> dict:
        """The settings that shape this step's outputs, as its completion mark records them (raw has none)."""
        return {}

    def run(self) -> Rows | None:
        """The step's work; the rows it counted, shown in the web view when a worker runs this task itself (with
        ``--days-per-task 1``) and added up by a chunk that runs it in-process (Luigi ignores what ``run``
        returns unless it is a generator)."""
        settings = run_settings.current()
        check_day(self.date, settings)
        rows = self.run_day(settings)
        if rows is not None:
            show(self, rows.describe())
        return rows

    @abc.abstractmethod
    def run_day(self, settings: RunSettings) -> Rows | None:
        """The step's work for this day, with the run's settings; the rows it counted, if it counts any."""


class GenerateDailyData(DailyTask):
    """Ingest one day of raw orders from the configured source, once the day is over."""

    outputs = Outputs(RAW, (ORDERS,), step=RAW_STEP)

    def run_day(self, settings: RunSettings) -> None:
        steps.ingest_day(
            settings.store, order_source(settings.source, settings.generation, settings.timezone), self.date
        )


def landing_state(settings: RunSettings) -> str:
    """A digest of the work waiting for the ingest: each landing file's name, size, time and version, the ingest index's
    version, whether an ingest is half published and the days whose raw partition went or a rerun asked to read
    again. It changes when there is new work, and only then. A missing landing directory is left for the ingest's
    ``complete()`` to report, as a scheduling error."""
    store = settings.store
    index = store.stat(INGEST_INDEX_KEY)
    gone = landing.gone_days(store, store.read_json(INGEST_INDEX_KEY), kept_days(settings)) if index else set()
    try:
        files = [(name, stat.size, stat.mtime_ns, stat.version) for name, stat in landing_area(settings).files()]
    except FileNotFoundError:
        files = None
    waiting = {
        "files": files,
        "index": None if index is None else (index.size, index.mtime_ns, index.version),
        "journal": store.exists(INGEST_JOURNAL_KEY),
        "gone": sorted(day.isoformat() for day in gone),
    }
    return hashlib.sha256(json.dumps(waiting).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def landing_state_of_run(settings: RunSettings) -> str:
    """The landing state once per run's settings: every day of a run, and every worker it forks, names the
    same ingest, also after that ingest ran."""
    return landing_state(settings)


class LandingStateParameter(RunParameter):
    """A landing state (:func:`landing_state`); empty, the default, stands for the run's own."""

    def normalize(self, x: str) -> str:
        return x or landing_state_of_run(run_settings.current())


class IngestLandingFiles(FixedParams, luigi.Task):
    """Read every new or changed export file of the landing directory once, into the raw partitions of the
    days it holds ([etl] source = landing). One task for all days, since a file may hold many; complete
    when the landing directory holds nothing the ingest index has not seen.

    Its id names the work waiting: luigid ignores a new worker's PENDING for a task it marked DONE moments
    ago, so an ingest of new files must be a new task, while workers with nothing new share one."""

    landing_state = LandingStateParameter(
        description="Digest of the landing files and ingest index to ingest (default: as found now)."
    )
    pipeline = PipelineParameter()
    priority = oldest_first(datetime.date.min)  # before every day's steps

    def complete(self) -> bool:
        settings = run_settings.current()
        return landing.up_to_date(settings.store, landing_area(settings), kept_days(settings))

    def run(self) -> None:
        settings = run_settings.current()
        landing.ingest(
            settings.store,
            landing_area(settings),
            settings.landing,
            settings.timezone,
            settings.start_date,
            kept_days(settings),
        )


def kept_days(settings: RunSettings) -> Callable[[datetime.date], bool]:
    """Whether a day's rows are still wanted: on or after start_date, and not too late for retention."""
    ledger = retired(settings.store)
    return lambda day: day >= settings.start_date and not too_late(day, ledger, day_reads)


class LandedDailyData(DailyTask):
    """The raw partition of one day from the landing source: what the ingest wrote there, or, when no export
    held an order of the day, a day without orders (which validation then judges by min_orders)."""

    outputs = Outputs(RAW, (ORDERS,), step=RAW_STEP)

    @per_settings
    def requires(self) -> IngestLandingFiles:
        return IngestLandingFiles()

    def run_day(self, settings: RunSettings) -> None:
        landing.write_day_without_orders(settings.store, self.date)


def raw_day(date: datetime.date) -> DailyTask:
    """The task that provides a day's raw orders from the configured source."""
    if run_settings.current().source == "landing":
        return LandedDailyData(date=date)
    return GenerateDailyData(date=date)


def landing_area(settings: RunSettings) -> LocalLanding:
    return open_landing(settings.landing.directory, settings.landing.patterns, settings.s3)


class ValidateDailyData(DailyTask):
    """Gate a raw day: a day that breaks a rule fails here and nothing downstream is written."""

    outputs = Outputs(RAW, (VALIDATION_REPORT,), failure_marker=VALIDATION_FAILED, input_file=ORDERS, step="validate")

    @per_settings
    def requires(self) -> DailyTask:
        return raw_day(self.date)

    def fingerprint(self) -> dict:
        """A refusal stands while the raw file and these settings are unchanged."""
        settings = run_settings.current()
        return validate_settings(settings.min_orders, settings.timezone, settings.max_rejected_share)

    def run_day(self, settings: RunSettings) -> Rows:
        return steps.validate_day(
            settings.store, self.date, settings.min_orders, settings.timezone, settings.max_rejected_share
        )


class ProcessDailyData(DailyTask):
    """Clean a validated day and summarise it."""

    outputs = Outputs(PROCESSED, (PROCESSED_ORDERS, DAILY_SUMMARY), step="process")

    @per_settings
    def requires(self) -> ValidateDailyData:
        return ValidateDailyData(date=self.date)

    def fingerprint(self) -> dict:
        settings = run_settings.current()
        return process_settings(settings.timezone, settings.negative_amounts, settings.excluded_statuses)

    def run_day(self, settings: RunSettings) -> Rows:
        return steps.process_day(
            settings.store, self.date, settings.timezone, settings.negative_amounts, settings.excluded_statuses
        )


class ComputeRollingMetrics(DailyTask):
    """Window metrics from the daily summaries of the window's processed days (never before start_date)."""

    outputs = Outputs(METRICS, (ROLLING_METRICS,), step="rolling")

    @per_settings
    def requires(self) -> list[ProcessDailyData]:
        settings = run_settings.current()
        return [
            ProcessDailyData(date=day) for day in window_dates(self.date, settings.window_days, settings.start_date)
        ]

    def fingerprint(self) -> dict:
        settings = run_settings.current()
        return rolling_settings(
            settings.window_days, window_dates(self.date, settings.window_days, settings.start_date)
        )

    def run_day(self, settings: RunSettings) -> None:
        window = window_dates(self.date, settings.window_days, settings.start_date)
        steps.compute_rolling(settings.store, self.date, window, settings.window_days)


class DailyReport(DailyTask):
    """The report of one day; it also becomes the latest report unless a newer day's already is."""

    outputs = Outputs(METRICS, (DAILY_REPORT,), step="report")

    @per_settings
    def requires(self) -> dict[str, luigi.Task]:
        """Its day's inputs and, with ``[etl] depends_on_past``, the previous day's report (from start_date on): an
        order, not an input, so a failed day holds back every later report (:mod:`etl.state`)."""
        needs: dict[str, luigi.Task] = {
            "validation": ValidateDailyData(date=self.date),
            "summary": ProcessDailyData(date=self.date),
            "rolling": ComputeRollingMetrics(date=self.date),
        }
        settings = run_settings.current()
        if settings.depends_on_past and self.date - ONE_DAY >= settings.start_date:
            needs["previous"] = DailyReport(date=self.date - ONE_DAY)
        return needs

    def fingerprint(self) -> dict:
        return report_settings(run_settings.current().trend_threshold)

    def run_day(self, settings: RunSettings) -> None:
        steps.report_day(settings.store, self.date, settings.report_config, settings.trend_threshold)


READING_STEPS = (ValidateDailyData, ProcessDailyData, ComputeRollingMetrics, DailyReport)  # raw, the source, reads none


def reads(step: DailyTask) -> set[Partition]:
    """The partitions a step reads: those of its requirements that are other steps. The same step of an earlier day
    (the previous report, under ``[etl] depends_on_past``) is an order, not a read, as :mod:`etl.state` judges it."""
    return {
        (needed.outputs.layer, needed.date)
        for needed in luigi.task.flatten(step.requires())
        if isinstance(needed, DailyTask) and needed.outputs != step.outputs
    }


def day_reads(date: datetime.date) -> set[Partition]:
    """What rebuilding a day reads: the partitions its steps read, its raw one among them."""
    return {partition for step in READING_STEPS for partition in reads(step(date=date))}


def readers(settings: RunSettings, days: Set[datetime.date]) -> Callable[[str, datetime.date], Set[Step]]:
    """The steps reading each partition of ``days``, by inverting ``requires()``."""
    first = max(min(days, default=settings.start_date), settings.start_date)
    index = _reader_index(settings, first, max(days, default=datetime.date.min))
    return lambda layer, date: index.get((layer, date), frozenset())


@functools.lru_cache(maxsize=8)
def _reader_index(settings: RunSettings, first: datetime.date, last: datetime.date) -> dict[Partition, frozenset]:
    """The reverse index of ``requires()`` over ``[first, last]``, once per run's settings and days: it depends on
    the graph alone, not on the store. A day's steps read no later day, so the walk starts at ``first`` and goes
    past ``last`` until a day reads none of them."""
    index: dict[Partition, set[Step]] = {}
    day = first
    while True:
        found = [(partition, (step.outputs.step, day)) for step in READING_STEPS for partition in reads(step(date=day))]
        if day > last and all(read > last for (_, read), _ in found):
            return {partition: frozenset(steps) for partition, steps in index.items()}
        for partition, step in found:
            index.setdefault(partition, set()).add(step)
        day += ONE_DAY


class CleanupOldPartitions(FixedParams, luigi.Task):
    """Apply the retention policy as of this day: remove what is old enough and no pending day needs.

    Idempotent: complete when nothing is due as of the day. It needs nothing, so no failed day blocks
    it, and it never blocks a report; what it removed goes into the retention ledger and an audit record
    under ``cleanup/``.
    """

    date = DayParameter(description="The business day the cleanup runs as of (YYYY-MM-DD).")
    pipeline = PipelineParameter()
    priority = 0  # after every day's steps that are ready to run

    def complete(self) -> bool:
        return view_of(run_settings.current()).status(self).finished

    def status_in(self, view: StoreView) -> DayStatus:
        """Done when a cleanup as of the day would remove nothing now."""
        if cleanup_due(view, self.date):
            return DayStatus(DayState.MISSING, f"a cleanup as of {self.date} is due")
        return DayStatus(DayState.DONE)

    def run(self) -> None:
        run_cleanup(self.date)


class DailyPipeline(FixedParams, luigi.Task):
    """A whole day, report then cleanup as of the day: what cron runs.

    Done once the day's report is done (or retired) and no cleanup is due as of the day.
    """

    date = DayParameter(description="The business day (YYYY-MM-DD).")
    pipeline = PipelineParameter()
    priority = 0  # its cleanup runs after every day's steps that are ready to run

    @per_settings
    def requires(self) -> DailyReport:
        return DailyReport(date=self.date)

    def complete(self) -> bool:
        return view_of(run_settings.current()).status(self).finished

    def status_in(self, view: StoreView) -> DayStatus:
        """The day's own status, once every earlier day's is settled too: an earlier day still to build writes what
        a cleanup as of this day would remove (a run after a failed one, blocks taken out of order), so that
        cleanup is not over until it has run after that day's build."""
        own = self.own_status(view)
        if not own.finished:
            return own
        first = view.memo("first day to build", lambda: first_day_to_build(view))
        if first is not None and first < self.date:
            return DayStatus(DayState.MISSING, f"a cleanup as of {self.date} follows the build of {first}")
        return own

    def own_status(self, view: StoreView) -> DayStatus:
        """The report's status, once it is finished and no cleanup is due as of the day."""
        report = view.status(DailyReport(date=self.date))
        if report.finished and cleanup_due(view, self.date):
            return DayStatus(DayState.MISSING, f"a cleanup as of {self.date} is due")
        return report

    @classmethod
    def bulk_complete(cls, parameter_tuples):
        view = full_view(run_settings.current())
        return [date for date in parameter_tuples if view.status(cls(date=date)).finished]

    def run(self) -> None:
        run_cleanup(self.date)


def first_day_to_build(view: StoreView) -> datetime.date | None:
    """The calendar's first day over whose report is still to build or whose cleanup is due (a failed day is
    settled: it holds back nothing here)."""
    settings = run_settings.current()
    today = clock.today(settings.timezone)
    day = settings.start_date
    while day < today:
        if not DailyPipeline(date=day).own_status(view).settled:
            return day
        day += ONE_DAY
    return None


def cleanup_due(view: StoreView, date: datetime.date) -> bool:
    """Whether a cleanup as of ``date`` would remove anything now (what may go, judged once per view)."""
    settings = run_settings.current()
    check_day(date, settings)
    return is_cleanup_due(date, settings.retention, removable_now(settings, view))


def removable_now(settings: RunSettings, view: StoreView) -> dict[str, list[datetime.date]]:
    return view.memo("removable", lambda: removable(holdings(settings, view)))


def cleanup_plan(settings: RunSettings, date: datetime.date) -> dict[str, list[datetime.date]]:
    """The days a cleanup as of ``date`` would remove now, per layer."""
    check_day(date, settings)
    return plan_cleanup(date, settings.retention, removable_now(settings, full_view(settings)))


def run_cleanup(date: datetime.date) -> None:
    """Retention as of ``date``, with what is removable now."""
    settings = run_settings.current()
    check_day(date, settings)
    steps.cleanup(settings.store, date, settings.retention, removable_now(settings, full_view(settings)))


def full_view(settings: RunSettings) -> StoreView:
    """One listing of each layer, for questions about many days at once."""
    return view_of(settings, RETAINED_LAYERS)


def view_of(settings: RunSettings, listed: tuple[str, ...] = ()) -> StoreView:
    """A view of the run's store, keeping or rebuilding days built under other settings as the run says."""
    return StoreView(settings.store, listed, rebuild_settings=settings.rebuild_stale)


def holdings(settings: RunSettings, view: StoreView | None = None) -> Holdings:
    """What retention decides on, from one listing of each retained layer and the steps' ``requires()``."""
    view = view or full_view(settings)
    present = {layer: set(view.layer(layer)) for layer in RETAINED_LAYERS}
    finished = {
        (step.outputs.step, day)
        for step in READING_STEPS
        for day in view.layer(step.outputs.layer).keys() | view.ledger[step.outputs.layer]
        if view.status(step(date=day)).finished
    }
    reported = {day for step, day in finished if step == DailyReport.outputs.step}
    return Holdings(present, finished, reported, readers(settings, set().union(*present.values())))
