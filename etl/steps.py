"""One function per pipeline step: read its inputs from the store, call the pure logic, write its outputs atomically.

The Luigi tasks call these with the run's settings; the benchmark's bare loop calls them directly,
so that both do exactly the same work. Every file is reached through the store by its layout key.
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter

import pyarrow as pa

from etl import clock
from etl.csv_io import read_orders, read_text_csv, write_orders
from etl.marks import (
    RAW_STEP,
    StepRecord,
    clear_rerun,
    process_settings,
    report_settings,
    rerun_asked,
    rolling_settings,
    validate_settings,
)
from etl.metrics import rolling_metrics
from etl.report import build_daily_report, is_newer_report
from etl.retention import RetentionPolicy, cleanup_as_of, ledger_with, plan_cleanup, retention_cutoff
from etl.sources import OrderSource
from etl.state import derived_ledger
from etl.status_messages import Rows
from etl.storage import Store
from etl.storage.layout import (
    CLEANUP,
    CLEANUP_REPORT,
    DAILY_REPORT,
    DAILY_SUMMARY,
    LATEST_REPORT_KEY,
    MANIFEST,
    METRICS,
    ORDERS,
    PROCESSED,
    PROCESSED_ORDERS,
    RAW,
    REJECTED_ROWS,
    RETAINED_LAYERS,
    RETIRED_DAYS_KEY,
    ROLLING_METRICS,
    VALIDATION_FAILED,
    VALIDATION_REPORT,
    file_key,
    partition_key,
)
from etl.transform import clean_orders, summarize_day
from etl.validation import (
    DataValidationError,
    checked_with,
    failed_rules,
    refusal,
    rejected_share,
    same_calendar,
    unreadable,
    validate_orders,
)
from etl.version import __version__

logger = logging.getLogger("luigi-interface")


def ingest_day(store: Store, source: OrderSource, date: datetime.date) -> None:
    """Write the source's orders of ``date`` as the raw partition's file (a rerun's request is then met)."""
    request = rerun_asked(store, RAW, date, RAW_STEP)
    write_orders(store, file_key(RAW, date, ORDERS), source.orders_for_day(date))
    clear_rerun(store, RAW, date, RAW_STEP, request)


def validate_day(store: Store, date: datetime.date, min_orders: int, timezone: str, max_rejected_share: float) -> Rows:
    """Write the validation report, or the failure details beside the raw file and raise.

    The error names the date, the file and each failing rule; the report exists only for a valid day. A
    landed day's refused rows (``rejected_rows.csv``) count against ``max_rejected_share``; a valid day returns
    how many there were.
    """
    orders_key = file_key(RAW, date, ORDERS)
    manifest_key = file_key(RAW, date, MANIFEST)
    rejected_key = file_key(RAW, date, REJECTED_ROWS)
    record = StepRecord(
        store, "validate", RAW, date, validate_settings(min_orders, timezone, max_rejected_share),
        (orders_key, manifest_key, rejected_key),
    )  # fmt: skip
    try:
        orders = read_orders(store, orders_key)
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        rows, results = 0, unreadable(error)
    else:
        rows, results = len(orders), validate_orders(orders, date, min_orders, timezone)
    if store.exists(manifest_key):
        calendar = same_calendar(store.read_json(manifest_key).get("bucketed_with"), timezone)
        results[:0] = [calendar] if calendar is not None else []
    reasons: list[str] = []
    if store.exists(rejected_key):
        reasons = read_text_csv(store, rejected_key).column("reason").to_pylist()
        results.append(rejected_share(dict(Counter(reasons)), rows, max_rejected_share))
    failures = failed_rules(results)
    payload = {
        "execution_date": date.isoformat(),
        "file": orders_key,
        "rows": rows,
        "passed": not failures,
        "rules": [r.as_dict() for r in results],
        "checked_with": checked_with(min_orders, timezone, max_rejected_share),
    }
    failed_key = file_key(RAW, date, VALIDATION_FAILED)
    if failures:
        store.remove(file_key(RAW, date, VALIDATION_REPORT))  # a report of an earlier input no longer holds
        store.write_json(failed_key, payload)
        record.seal([failed_key], outcome="failed")
        raise DataValidationError(
            f"{refusal(date, store.describe(orders_key), payload['rules'])} (details in {store.describe(failed_key)})"
        )
    report_key = file_key(RAW, date, VALIDATION_REPORT)
    store.write_json(report_key, payload)
    store.remove(failed_key)
    record.seal([report_key])
    return Rows(refused=len(reasons))


def process_day(
    store: Store, date: datetime.date, timezone: str, negative_amounts: str, excluded_statuses: tuple[str, ...]
) -> Rows:
    """Clean the raw orders and write them with the day's summary, then the mark; the raw rows read and the
    processed rows written."""
    orders_key = file_key(RAW, date, ORDERS)
    settings = process_settings(timezone, negative_amounts, excluded_statuses)
    record = StepRecord(store, "process", PROCESSED, date, settings, [orders_key])
    cleaned, stats = clean_orders(read_orders(store, orders_key), timezone, negative_amounts, excluded_statuses)
    outputs = file_key(PROCESSED, date, PROCESSED_ORDERS), file_key(PROCESSED, date, DAILY_SUMMARY)
    write_orders(store, outputs[0], cleaned)
    store.write_json(outputs[1], summarize_day(cleaned, date, stats))
    record.seal(outputs)
    return Rows(read=stats.rows_in, written=stats.rows_out)


def compute_rolling(store: Store, date: datetime.date, window: list[datetime.date], window_days: int) -> None:
    """Rolling metrics from the daily summaries of the ``window``'s days."""
    inputs = [file_key(PROCESSED, day, DAILY_SUMMARY) for day in window]
    record = StepRecord(store, "rolling", METRICS, date, rolling_settings(window_days, window), inputs)
    output = file_key(METRICS, date, ROLLING_METRICS)
    store.write_json(output, rolling_metrics(date, [store.read_json(key) for key in inputs], window_days))
    record.seal([output])


def report_day(store: Store, date: datetime.date, config: dict, trend_threshold: float) -> None:
    """Write the day's report from its validation report, summary and rolling metrics; publish it as latest
    first, so that a run killed in between leaves the day incomplete and the pointer is set again."""
    inputs = validation, summary, rolling = (
        file_key(RAW, date, VALIDATION_REPORT),
        file_key(PROCESSED, date, DAILY_SUMMARY),
        file_key(METRICS, date, ROLLING_METRICS),
    )
    record = StepRecord(store, "report", METRICS, date, report_settings(trend_threshold), inputs)
    daily = build_daily_report(
        date=date,
        generated_at=clock.now(),
        version=__version__,
        config=config,
        validation_report=store.read_json(validation),
        summary=store.read_json(summary),
        rolling=store.read_json(rolling),
        trend_threshold=trend_threshold,
    )
    publish_latest(store, daily)
    output = file_key(METRICS, date, DAILY_REPORT)
    store.write_json(output, daily)
    record.seal([output])


def publish_latest(store: Store, daily: dict) -> None:
    """Replace the latest report with ``daily`` unless it already holds a newer day (under the store's lock)."""
    store.update_json(LATEST_REPORT_KEY, lambda current: daily if is_newer_report(daily, current) else None)


def cleanup(
    store: Store, date: datetime.date, policy: RetentionPolicy, removable: dict[str, list[datetime.date]]
) -> dict[str, list[datetime.date]]:
    """Apply retention as of ``date`` to the ``removable`` days (see :func:`etl.retention.removable`).

    The days are entered in the retention ledger, and the run in an audit record under the as-of day, before
    their partitions go: a day is never missing without being known as retired, and a run killed midway
    leaves a record that its rerun completes rather than repeats.
    """
    plan = plan_cleanup(date, policy, removable)
    if not any(plan.values()):
        return plan
    store.update_json(
        RETIRED_DAYS_KEY, lambda ledger: ledger_with(ledger if ledger is not None else derived_ledger(store), plan)
    )
    as_of = cleanup_as_of(date, policy)
    run = {
        "at": clock.now().isoformat(timespec="seconds"),
        "as_of": as_of.isoformat(),
        "cutoffs": {layer: retention_cutoff(as_of, policy.days(layer)).isoformat() for layer in RETAINED_LAYERS},
        "removed": {layer: [partition_key(layer, day) for day in days] for layer, days in plan.items()},
    }
    store.update_json(file_key(CLEANUP, date, CLEANUP_REPORT), lambda record: _with_cleanup_run(record, date, run))
    removed = {layer: [day for day in days if store.remove_partition(layer, day)] for layer, days in plan.items()}
    for layer, days in removed.items():
        for day in days:
            logger.info("Retention: removed %s", store.partition_location(layer, day))
    return removed


def _with_cleanup_run(record: dict | None, date: datetime.date, run: dict) -> dict | None:
    """The audit record with ``run`` last, or None when its last run, as of the same day, already names every
    partition ``run`` removes (the rerun of a cleanup killed midway)."""
    runs = (record or {}).get("runs", [])
    last = runs[-1] if runs else {}
    if last.get("as_of") == run["as_of"] and all(
        set(keys) <= set(last["removed"].get(layer, [])) for layer, keys in run["removed"].items()
    ):
        return None
    return {"execution_date": date.isoformat(), "runs": [*runs, run]}
