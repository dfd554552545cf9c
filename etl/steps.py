"""One function per pipeline step: read its inputs, call the pure logic, write its outputs atomically.

The Luigi tasks call these with their targets' paths; the benchmark's bare loop calls them directly,
so that both do exactly the same work.
"""

from __future__ import annotations

import datetime
import fcntl
import itertools
import logging
from pathlib import Path

from etl.csv_io import read_orders_csv, write_csv
from etl.metrics import rolling_metrics
from etl.partitions import RETAINED_LAYERS
from etl.report import build_daily_report, is_newer_report
from etl.retention import RetentionPolicy, check_policy, plan_cleanup, remove_partitions, retention_cutoff
from etl.sources import OrderSource
from etl.targets import read_json, write_json
from etl.transform import clean_orders, summarize_day
from etl.validation import DataValidationError, failed_rules, validate_file
from etl.version import __version__

logger = logging.getLogger("luigi-interface")

VALIDATION_FAILED = "validation_failed.json"


def ingest_day(source: OrderSource, date: datetime.date, orders_file: Path) -> None:
    """Write the source's orders of ``date`` as the raw partition's file."""
    write_csv(source.orders_for_day(date), orders_file)


def validate_day(
    date: datetime.date, orders_file: Path, report_file: Path, min_orders: int, timezone: str, base_dir: Path
) -> None:
    """Write the validation report, or the failure details beside the raw file and raise.

    The error names the date, the file and each failing rule; the report exists only for a valid day.
    """
    rows, results = validate_file(orders_file, date, min_orders, timezone)
    failures = failed_rules(results)
    payload = {
        "execution_date": date.isoformat(),
        "file": str(orders_file.relative_to(base_dir)),
        "rows": rows,
        "passed": not failures,
        "rules": [r.as_dict() for r in results],
    }
    failed_file = orders_file.with_name(VALIDATION_FAILED)
    if failures:
        write_json(failed_file, payload)
        rules = "; ".join(f"{r.rule}: {r.detail}" for r in failures)
        raise DataValidationError(f"validation failed for {date} in {orders_file}: {rules} (details in {failed_file})")
    write_json(report_file, payload)
    failed_file.unlink(missing_ok=True)


def process_day(
    date: datetime.date, orders_file: Path, processed_file: Path, summary_file: Path, timezone: str
) -> None:
    """Clean the raw orders and write them with the day's summary (the summary last: it marks completion)."""
    cleaned, stats = clean_orders(read_orders_csv(orders_file), timezone)
    write_csv(cleaned, processed_file)
    write_json(summary_file, summarize_day(cleaned, date, stats))


def compute_rolling(date: datetime.date, summary_files: list[Path], window_days: int, metrics_file: Path) -> None:
    """Rolling metrics from the window's daily summaries."""
    write_json(metrics_file, rolling_metrics(date, [read_json(f) for f in summary_files], window_days))


def report_day(
    date: datetime.date,
    inputs: dict[str, Path],
    report_file: Path,
    latest_file: Path,
    config: dict,
    trend_threshold: float,
) -> None:
    """Write the day's report from its ``validation``, ``summary`` and ``rolling`` files; publish it as latest."""
    daily = build_daily_report(
        date=date,
        generated_at=datetime.datetime.now(datetime.UTC),
        version=__version__,
        config=config,
        validation_report=read_json(inputs["validation"]),
        summary=read_json(inputs["summary"]),
        rolling=read_json(inputs["rolling"]),
        trend_threshold=trend_threshold,
    )
    write_json(report_file, daily)
    publish_latest(latest_file, daily)


def cleanup_day(
    base_dir: Path,
    date: datetime.date,
    policy: RetentionPolicy,
    window_days: int,
    processed: set[datetime.date],
    record: Path,
) -> None:
    """Apply retention as of ``date`` (``processed``: days whose processed output is complete); record what went."""
    check_policy(policy, window_days)
    plan = plan_cleanup(base_dir, date, policy, processed)
    removed = {layer: remove_partitions(base_dir, paths) for layer, paths in plan.items()}
    for path in itertools.chain.from_iterable(removed.values()):
        logger.info("Retention: removed %s", path)
    write_json(
        record,
        {
            "execution_date": date.isoformat(),
            "cleanup_day": date.weekday() in policy.weekdays,
            "cutoffs": {layer: retention_cutoff(date, policy.days(layer)).isoformat() for layer in RETAINED_LAYERS},
            "removed": {layer: [str(p.relative_to(base_dir)) for p in paths] for layer, paths in removed.items()},
        },
    )


def publish_latest(latest_file: Path, daily: dict) -> None:
    """Replace the latest report with ``daily`` unless it already holds a newer day (under a lock)."""
    latest_file.parent.mkdir(parents=True, exist_ok=True)
    with open(latest_file.with_name(f".{latest_file.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = read_json(latest_file) if latest_file.exists() else None
        if is_newer_report(daily, current):
            write_json(latest_file, daily)
