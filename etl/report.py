"""The daily report: what ran, on what, and what came out."""

from __future__ import annotations

import datetime

from etl.metrics import trend_verdict


def build_daily_report(
    *,
    date: datetime.date,
    generated_at: datetime.datetime,
    version: str,
    config: dict,
    validation_report: dict,
    summary: dict,
    rolling: dict,
    trend_threshold: float,
) -> dict[str, object]:
    """Assemble the report of one day; ``generated_at`` is its only run-time field besides run metadata.

    A summary or rolling metrics written by an earlier version lack the refund and net figures: None then.
    """
    return {
        "execution_date": date.isoformat(),
        "run": {
            "generated_at": generated_at.isoformat(timespec="seconds"),
            "pipeline_version": version,
            "config": config,
        },
        "ingestion": {"raw_rows": validation_report["rows"], "raw_file": validation_report["file"]},
        "validation": {"passed": validation_report["passed"], "rules": validation_report["rules"]},
        "processing": {
            "rows_in": validation_report["rows"],
            "rows_out": summary["total_orders"],
            "duplicates_removed": summary["duplicates_removed"],
            "negatives_fixed": summary["negatives_fixed"],
            "refunds": summary.get("refund_count"),
            "excluded_orders": summary.get("excluded_orders"),
        },
        "daily_summary": summary,
        "rolling_metrics": rolling,
        "trend": {
            "verdict": trend_verdict(rolling["revenue_growth_vs_avg"], trend_threshold),
            "revenue_growth_vs_avg": rolling["revenue_growth_vs_avg"],
            "orders_growth_vs_avg": rolling["orders_growth_vs_avg"],
            "net_revenue_growth_vs_avg": rolling.get("net_revenue_growth_vs_avg"),
            "threshold": trend_threshold,
        },
    }


def is_newer_report(candidate: dict, current: dict | None) -> bool:
    """Whether ``candidate`` may replace ``current`` as the latest report: never move it backwards."""
    return current is None or candidate["execution_date"] >= current["execution_date"]
