"""The pipeline's Luigi tasks: parameters, dependencies and targets; the logic lives in the pure modules."""

from __future__ import annotations

import datetime
import fcntl
import functools
import itertools
import logging
from pathlib import Path
from typing import ClassVar

import luigi

from etl import clock
from etl.config import effective_config, etl, generation, report, retention, rolling, validation
from etl.csv_io import read_orders_csv, write_csv
from etl.generation import GenerationSettings
from etl.metrics import rolling_metrics, window_dates
from etl.partitions import CLEANUP, METRICS, PROCESSED, RAW, RETAINED_LAYERS, dates_with_files
from etl.report import build_daily_report, is_newer_report
from etl.retention import (
    RetentionPolicy,
    check_policy,
    parse_weekdays,
    plan_cleanup,
    remove_partitions,
    retention_cutoff,
)
from etl.sources import OrderSource, SyntheticOrderSource
from etl.targets import partition_target, read_json, write_json
from etl.transform import clean_orders, summarize_day
from etl.validation import DataValidationError, failed_rules, validate_file
from etl.version import __version__

logger = logging.getLogger("luigi-interface")

LATEST_REPORT = "latest_daily_report.json"
VALIDATION_FAILED = "validation_failed.json"


class DayNotOverError(RuntimeError):
    """The pipeline was asked for a day that has not ended yet in its timezone."""


class DailyTask(luigi.Task):
    """A task of one business day whose outputs are files in one day partition of one layer."""

    date = luigi.DateParameter(description="The business day (YYYY-MM-DD).")

    layer: ClassVar[str]
    filenames: ClassVar[tuple[str, ...]]

    @property
    def priority(self) -> int:
        """Older days first, so a backfill advances in date order."""
        return -self.date.toordinal()

    def output(self) -> dict[str, luigi.LocalTarget]:
        return self._targets

    @functools.cached_property
    def _targets(self) -> dict[str, luigi.LocalTarget]:
        """Built once per task instance, as Luigi resolves parameters once: it asks for outputs many times."""
        return {name: partition_target(etl().base_dir, self.layer, self.date, name) for name in self.filenames}

    @classmethod
    def bulk_complete(cls, parameter_tuples):
        """The complete days among ``parameter_tuples``, from one listing of the layer (as ``complete()`` decides)."""
        task_cls = getattr(cls, "func", cls)  # RangeDaily passes functools.partial(cls, **of_params)
        done = dates_with_files(etl().base_dir, task_cls.layer, task_cls.filenames)
        return [date for date in parameter_tuples if date in done]

    def path(self, filename: str) -> Path:
        return Path(self.output()[filename].path)


class GenerateDailyData(DailyTask):
    """Ingest one day of raw orders from the configured source."""

    layer = RAW
    filenames = ("orders.csv",)

    def run(self) -> None:
        timezone = etl().timezone
        if not clock.is_day_over(self.date, timezone):
            raise DayNotOverError(f"{self.date} is not over yet in timezone {timezone}; its orders are not all in")
        write_csv(order_source().orders_for_day(self.date), self.path("orders.csv"))


class ValidateDailyData(DailyTask):
    """Gate a raw day: a day that breaks a rule fails here and nothing downstream is written."""

    layer = RAW
    filenames = ("validation_report.json",)

    def requires(self) -> GenerateDailyData:
        return GenerateDailyData(date=self.date)

    def run(self) -> None:
        raw_file = Path(self.input()["orders.csv"].path)
        rows, results = validate_file(raw_file, self.date, validation().min_orders)
        failures = failed_rules(results)
        payload = {
            "execution_date": self.date.isoformat(),
            "file": str(raw_file.relative_to(etl().base_dir)),
            "rows": rows,
            "passed": not failures,
            "rules": [r.as_dict() for r in results],
        }
        failed_file = raw_file.with_name(VALIDATION_FAILED)
        if failures:
            write_json(failed_file, payload)
            rules = "; ".join(f"{r.rule}: {r.detail}" for r in failures)
            raise DataValidationError(
                f"validation failed for {self.date} in {raw_file}: {rules} (details in {failed_file})"
            )
        write_json(self.path("validation_report.json"), payload)
        failed_file.unlink(missing_ok=True)


class ProcessDailyData(DailyTask):
    """Clean a validated day and summarise it."""

    layer = PROCESSED
    filenames = ("orders_processed.csv", "daily_summary.json")

    def requires(self) -> ValidateDailyData:
        return ValidateDailyData(date=self.date)

    def run(self) -> None:
        raw_file = partition_target(etl().base_dir, RAW, self.date, "orders.csv").path
        cleaned, stats = clean_orders(read_orders_csv(raw_file))
        write_csv(cleaned, self.path("orders_processed.csv"))
        write_json(self.path("daily_summary.json"), summarize_day(cleaned, self.date, stats))


class ComputeRollingMetrics(DailyTask):
    """Window metrics from the daily summaries of the window's processed days."""

    layer = METRICS
    filenames = ("rolling_metrics.json",)

    def requires(self) -> list[ProcessDailyData]:
        days = window_dates(self.date, rolling().window_days, etl().start_date)
        return [ProcessDailyData(date=day) for day in days]

    def run(self) -> None:
        summaries = [read_json(task.output()["daily_summary.json"].path) for task in self.requires()]
        write_json(self.path("rolling_metrics.json"), rolling_metrics(self.date, summaries, rolling().window_days))


class DailyReport(DailyTask):
    """The report of one day; it also becomes the latest report unless a newer day's already is."""

    layer = METRICS
    filenames = ("daily_report.json",)

    def requires(self) -> dict[str, luigi.Task]:
        return {
            "validation": ValidateDailyData(date=self.date),
            "processed": ProcessDailyData(date=self.date),
            "rolling": ComputeRollingMetrics(date=self.date),
        }

    def run(self) -> None:
        inputs = self.input()
        daily = build_daily_report(
            date=self.date,
            generated_at=datetime.datetime.now(datetime.UTC),
            version=__version__,
            config=effective_config(),
            validation_report=read_json(inputs["validation"]["validation_report.json"].path),
            summary=read_json(inputs["processed"]["daily_summary.json"].path),
            rolling=read_json(inputs["rolling"]["rolling_metrics.json"].path),
            trend_threshold=report().trend_threshold,
        )
        write_json(self.path("daily_report.json"), daily)
        publish_latest(Path(etl().base_dir, METRICS), daily)


class CleanupOldPartitions(DailyTask):
    """Apply the retention policy as of this day, after its report and after the previous day's cleanup.

    Chaining cleanups day by day means no cleanup runs while an older day of the range still
    needs its inputs; the cleanup report records what went, and marks the day's pipeline done.
    """

    layer = CLEANUP
    filenames = ("cleanup_report.json",)

    def requires(self) -> list[luigi.Task]:
        previous = self.date - datetime.timedelta(days=1)
        needs: list[luigi.Task] = [DailyReport(date=self.date)]
        if previous >= etl().start_date:
            needs.append(CleanupOldPartitions(date=previous))
        return needs

    def run(self) -> None:
        settings = retention()
        policy = RetentionPolicy(
            raw_days=settings.raw_days,
            processed_days=settings.processed_days,
            metrics_days=settings.metrics_days,
            weekdays=parse_weekdays(settings.cleanup_weekdays),
        )
        check_policy(policy, rolling().window_days)
        base = Path(etl().base_dir)
        plan = plan_cleanup(base, self.date, policy)
        removed = {layer: remove_partitions(base, paths) for layer, paths in plan.items()}
        for path in itertools.chain.from_iterable(removed.values()):
            logger.info("Retention: removed %s", path)
        write_json(
            self.path("cleanup_report.json"),
            {
                "execution_date": self.date.isoformat(),
                "cleanup_day": self.date.weekday() in policy.weekdays,
                "cutoffs": {
                    layer: retention_cutoff(self.date, policy.days(layer)).isoformat() for layer in RETAINED_LAYERS
                },
                "removed": {layer: [str(p.relative_to(base)) for p in paths] for layer, paths in removed.items()},
            },
        )


class DailyPipeline(luigi.WrapperTask):
    """A whole day, report and cleanup: what cron runs. Done once the day's cleanup has run."""

    date = luigi.DateParameter(description="The business day (YYYY-MM-DD).")

    @property
    def priority(self) -> int:
        return -self.date.toordinal()

    def requires(self) -> CleanupOldPartitions:
        return CleanupOldPartitions(date=self.date)

    @classmethod
    def bulk_complete(cls, parameter_tuples):
        return CleanupOldPartitions.bulk_complete(parameter_tuples)


def order_source() -> OrderSource:
    """The configured source of raw orders."""
    settings = generation()
    return SyntheticOrderSource(
        GenerationSettings(**{name: getattr(settings, name) for name, _ in settings.get_params()})
    )


def publish_latest(metrics_dir: Path, daily: dict) -> None:
    """Replace ``latest_daily_report.json`` with ``daily`` unless it already holds a newer day."""
    metrics_dir.mkdir(parents=True, exist_ok=True)
    latest = metrics_dir / LATEST_REPORT
    with open(metrics_dir / f".{LATEST_REPORT}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = read_json(latest) if latest.exists() else None
        if is_newer_report(daily, current):
            write_json(latest, daily)
