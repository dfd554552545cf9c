"""Refunds and excluded statuses through the landing source, end to end (issue 13, item 3)."""

from __future__ import annotations

import csv
import datetime
import json
import random
from pathlib import Path

import luigi
import pytest
from conftest import build, day_dir, landing_source, summary
from test_landing import csv_bytes as export_csv

from etl import DailyReport, RangeDaily

D = datetime.date
COLUMN_MAP = {
    "OrderID": "order_id",
    "CustomerRef": "customer_id",
    "Qty": "quantity",
    "OrderDate": "order_timestamp",
    "Total": "total_amount",
    "Status": "status",
}
HEADER = list(COLUMN_MAP)
DAYS = [D(2024, 1, 1) + datetime.timedelta(days=i) for i in range(4)]
STATUSES = ["completed", "completed", "completed", "failed", "refunded", "Cancelled"]
EXCLUDED = {"cancelled", "canceled", "failed", "refunded", "returned", "voided"}  # [revenue] excluded_statuses
FIELDS = ("total_orders", "total_revenue", "net_revenue", "refunds", "refund_count", "excluded_orders")


def export_rows(seed: int) -> list[dict]:
    """Sales of every status, and refunds with their own ids and a negative Total, shuffled over the days."""
    rng = random.Random(seed)
    rows = []
    for day in DAYS:
        for n in range(30):
            quantity = rng.randint(1, 4)
            rows.append({
                "OrderID": f"O-{day:%m%d}-{n:03d}", "CustomerRef": f"C{rng.randint(1, 40)}", "Qty": str(quantity),
                "OrderDate": day.isoformat(), "Total": f"{quantity * rng.randint(100, 9999) / 100:.2f}",
                "Status": rng.choice(STATUSES),
            })  # fmt: skip
        for n in range(6):
            rows.append({
                "OrderID": f"R-{day:%m%d}-{n:03d}", "CustomerRef": f"C{rng.randint(1, 40)}", "Qty": "1",
                "OrderDate": day.isoformat(), "Total": f"-{rng.randint(100, 20000) / 100:.2f}",
                "Status": rng.choice(["refunded", "completed"]),
            })  # fmt: skip
    rng.shuffle(rows)
    return rows


def csv_bytes(rows: list[dict]) -> bytes:
    return export_csv(rows, HEADER)


def expected_figures(rows: list[dict], excluded: set[str], refunds_are_sales: bool = False) -> dict[D, dict]:
    """Each day's figures from the export rows, in plain Python: a negative Total is a refund (or, with
    ``refunds_are_sales``, a sale of its absolute value); excluded statuses are left out of net revenue."""
    days: dict[D, dict] = {day: {"sales": [], "counted": [], "refunds": [], "sale_ids": set()} for day in DAYS}
    for row in rows:
        figures, total = days[D.fromisoformat(row["OrderDate"])], float(row["Total"])
        if total < 0 and not refunds_are_sales:
            figures["refunds"].append(-total)
            continue
        figures["sales"].append(abs(total))
        figures["sale_ids"].add(row["OrderID"])
        if row["Status"].strip().lower() not in excluded:
            figures["counted"].append(abs(total))
    return {
        day: {
            "total_orders": len(f["sales"]),
            "total_revenue": round(sum(f["sales"]), 2),
            "net_revenue": round(sum(f["counted"]) - sum(f["refunds"]), 2),
            "refunds": round(sum(f["refunds"]), 2),
            "refund_count": len(f["refunds"]),
            "excluded_orders": len(f["sales"]) - len(f["counted"]),
            "sale_ids": f["sale_ids"],
        }
        for day, f in days.items()
    }


@pytest.fixture
def landing(configure, base_dir, tmp_path) -> Path:
    return landing_source(configure, tmp_path / "landing", COLUMN_MAP)


def processed_ids(base: Path, day: datetime.date) -> set[str]:
    with open(day_dir(base, "processed", day) / "orders_processed.csv", newline="") as handle:
        return {row["order_id"] for row in csv.DictReader(handle)}


def days_range() -> RangeDaily:
    return RangeDaily(of=DailyReport, start=DAYS[0], stop=DAYS[-1] + datetime.timedelta(days=1))


def test_refunds_are_not_sales_and_excluded_statuses_leave_net_revenue(landing, base_dir):
    rows = export_rows(seed=13)
    (landing / "orders.csv").write_bytes(csv_bytes(rows))

    result = build(days_range())  # negative_amounts = refund: the landing source's default

    assert result.status == luigi.LuigiStatusCode.SUCCESS, result.summary_text
    expected = expected_figures(rows, EXCLUDED)
    for day, figures in expected.items():
        got = summary(base_dir, day)
        assert {key: got[key] for key in FIELDS} == {key: figures[key] for key in FIELDS}, day
        assert processed_ids(base_dir, day) == figures["sale_ids"], "no refund among the processed orders"
        assert got["excluded_orders"] > 0 and got["refund_count"] > 0, "both paths exercised"
        assert sum(s["orders"] for s in got["by_status"].values()) == figures["total_orders"]
        assert set(got["by_status"]) <= {"completed", "failed", "refunded", "Cancelled"}
    report = json.loads((day_dir(base_dir, "metrics", DAYS[-1]) / "daily_report.json").read_text())
    assert report["processing"]["refunds"] == expected[DAYS[-1]]["refund_count"]
    assert report["processing"]["excluded_orders"] == expected[DAYS[-1]]["excluded_orders"]
    rolling = report["rolling_metrics"]
    assert rolling["total_refunds_7d"] == round(sum(f["refunds"] for f in expected.values()), 2)
    assert rolling["total_net_revenue_7d"] == round(sum(f["net_revenue"] for f in expected.values()), 2)
    assert rolling["total_revenue_7d"] == round(sum(f["total_revenue"] for f in expected.values()), 2)
    assert report["trend"]["net_revenue_growth_vs_avg"] == rolling["net_revenue_growth_vs_avg"] is not None


def test_the_sign_error_rule_and_a_custom_status_list_reach_processing(landing, base_dir, configure):
    configure({"landing": {"negative_amounts": "sign_error"}, "revenue": {"excluded_statuses": '["FAILED"]'}})
    rows = export_rows(seed=14)
    (landing / "orders.csv").write_bytes(csv_bytes(rows))

    result = build(days_range())

    assert result.status == luigi.LuigiStatusCode.SUCCESS, result.summary_text
    for day, figures in expected_figures(rows, {"failed"}, refunds_are_sales=True).items():
        got = summary(base_dir, day)
        assert {key: got[key] for key in FIELDS} == {key: figures[key] for key in FIELDS}, day
        assert got["negatives_fixed"] == 6, "each negative row made a positive sale"
