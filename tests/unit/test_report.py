"""The daily report's structure, and the rule that the latest report never moves backwards."""

from __future__ import annotations

import datetime
import json
import random

import pytest

from etl.report import build_daily_report, is_newer_report

DAY = datetime.date(2024, 3, 9)


def inputs(
    revenue_growth: float | None = 0.12, orders_growth: float | None = -0.03, net_growth: float | None = -0.4
) -> dict:
    return {
        "date": DAY,
        "generated_at": datetime.datetime(2024, 3, 10, 6, 0, 5, 987654, tzinfo=datetime.UTC),
        "version": "1.2.3",
        "config": {"etl": {"base_dir": "data"}, "rolling": {"window_days": 7}},
        "validation_report": {
            "execution_date": "2024-03-09",
            "file": "raw/year=2024/month=03/day=09/orders.csv",
            "rows": 246,
            "passed": True,
            "rules": [{"rule": "min_orders", "passed": True, "detail": "246 orders", "failing_rows": 0}],
        },
        "summary": {
            "execution_date": "2024-03-09",
            "total_orders": 239,
            "total_revenue": 46547.82,
            "duplicates_removed": 7,
            "negatives_fixed": 2,
            "net_revenue": 39876.5,
            "refunds": 1520.3,
            "refund_count": 4,
            "excluded_orders": 11,
        },
        "rolling": {
            "execution_date": "2024-03-09",
            "revenue_growth_vs_avg": revenue_growth,
            "orders_growth_vs_avg": orders_growth,
            "net_revenue_growth_vs_avg": net_growth,
        },
        "trend_threshold": 0.05,
    }


def test_build_daily_report_structure_and_values():
    given = inputs()
    report = build_daily_report(**given)

    assert report == {
        "execution_date": "2024-03-09",
        "run": {
            "generated_at": "2024-03-10T06:00:05+00:00",
            "pipeline_version": "1.2.3",
            "config": given["config"],
        },
        "ingestion": {"raw_rows": 246, "raw_file": "raw/year=2024/month=03/day=09/orders.csv"},
        "validation": {"passed": True, "rules": given["validation_report"]["rules"]},
        "processing": {
            "rows_in": 246,
            "rows_out": 239,
            "duplicates_removed": 7,
            "negatives_fixed": 2,
            "refunds": 4,
            "excluded_orders": 11,
        },
        "daily_summary": given["summary"],
        "rolling_metrics": given["rolling"],
        "trend": {
            "verdict": "growing",
            "revenue_growth_vs_avg": 0.12,
            "orders_growth_vs_avg": -0.03,
            "net_revenue_growth_vs_avg": -0.4,
            "threshold": 0.05,
        },
    }
    assert json.loads(json.dumps(report)) == report, "plain JSON"


@pytest.mark.parametrize(
    ("growth", "verdict"), [(0.12, "growing"), (0.05, "stable"), (-0.2, "declining"), (None, "stable")]
)
def test_build_daily_report_trend_verdict_follows_revenue_growth(growth, verdict):
    report = build_daily_report(**inputs(revenue_growth=growth, orders_growth=0.9, net_growth=-0.9))
    assert report["trend"]["verdict"] == verdict, "neither orders nor net revenue growth drives the verdict"
    assert report["trend"]["revenue_growth_vs_avg"] == growth
    assert report["trend"]["net_revenue_growth_vs_avg"] == -0.9


def test_a_summary_and_rolling_metrics_of_an_earlier_version_give_none_for_refunds_and_net_growth():
    given = inputs()
    for key in ("net_revenue", "refunds", "refund_count", "excluded_orders"):
        del given["summary"][key]
    del given["rolling"]["net_revenue_growth_vs_avg"]
    report = build_daily_report(**given)
    assert (report["processing"]["refunds"], report["processing"]["excluded_orders"]) == (None, None)
    assert report["trend"]["net_revenue_growth_vs_avg"] is None
    assert report["trend"]["verdict"] == "growing"


def test_generated_at_is_the_only_run_time_field():
    early = inputs()
    late = dict(early, generated_at=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC))
    a, b = build_daily_report(**early), build_daily_report(**late)
    assert a["run"]["generated_at"] != b["run"]["generated_at"]
    a["run"].pop("generated_at")
    b["run"].pop("generated_at")
    assert a == b


def test_generated_at_keeps_a_non_utc_offset():
    given = dict(
        inputs(),
        generated_at=datetime.datetime(2024, 3, 10, 1, 2, 3, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))),
    )
    assert build_daily_report(**given)["run"]["generated_at"] == "2024-03-10T01:02:03-05:00"


def test_build_daily_report_requires_keyword_arguments():
    with pytest.raises(TypeError):
        build_daily_report(*inputs().values())  # type: ignore[misc]


def report_of(date: str) -> dict:
    return {"execution_date": date}


def test_is_newer_report_without_a_current_report():
    assert is_newer_report(report_of("2024-01-01"), None)


@pytest.mark.parametrize(
    ("candidate", "current", "expected"),
    [
        ("2024-03-10", "2024-03-09", True),
        ("2024-03-09", "2024-03-09", True),  # re-running the same day refreshes it
        ("2024-03-08", "2024-03-09", False),
        ("2024-02-29", "2024-10-01", False),
        ("2025-01-01", "2024-12-31", True),
        ("2024-10-01", "2024-09-30", True),
    ],
)
def test_is_newer_report_compares_execution_dates(candidate, current, expected):
    assert is_newer_report(report_of(candidate), report_of(current)) is expected


def test_latest_report_never_moves_backwards_whatever_the_completion_order():
    dates = [(datetime.date(2024, 1, 1) + datetime.timedelta(days=i)).isoformat() for i in range(60)]
    rng = random.Random(3)
    for _ in range(20):
        order = dates[:]
        rng.shuffle(order)
        latest = None
        seen = []
        for date in order:
            seen.append(date)
            if is_newer_report(report_of(date), latest):
                latest = report_of(date)
            assert latest["execution_date"] == max(seen)
