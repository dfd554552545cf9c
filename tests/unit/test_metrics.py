"""Rolling metrics over daily summaries, and the trend verdict."""

from __future__ import annotations

import datetime
import random

import pytest

from etl.metrics import rolling_metrics, trend_verdict, window_dates

D = datetime.date
START = D(2024, 1, 1)


def days(first: datetime.date, count: int) -> list[datetime.date]:
    return [first + datetime.timedelta(days=i) for i in range(count)]


NET_FIELDS = {"total_net_revenue_7d", "avg_daily_net_revenue", "net_revenue_growth_vs_avg", "total_refunds_7d"}
GROWTH_FIELDS = ("orders_growth_vs_avg", "revenue_growth_vs_avg", "net_revenue_growth_vs_avg")


def figures(row: tuple) -> tuple[datetime.date, int, float, float, float]:
    """(date, orders, revenue[, net revenue, refunds]): without the last two, net is the gross and no refunds."""
    date, orders, revenue, *net = row
    net_revenue, refunds = net or (revenue, 0.0)
    return date, orders, revenue, net_revenue, refunds


def summary(*row) -> dict:
    date, orders, revenue, net_revenue, refunds = figures(row)
    return {
        "execution_date": date.isoformat(),
        "total_orders": orders,
        "total_revenue": revenue,
        "net_revenue": net_revenue,
        "refunds": refunds,
        "other": "ignored",
    }


def earlier_versions_summary(date: datetime.date, orders: int, revenue: float) -> dict:
    """A summary written before net revenue and refunds existed."""
    return {"execution_date": date.isoformat(), "total_orders": orders, "total_revenue": revenue}


def test_window_dates_is_the_week_ending_at_the_date():
    assert window_dates(D(2024, 3, 9), 7, START) == days(D(2024, 3, 3), 7)


def test_window_dates_crosses_month_and_year_boundaries():
    assert window_dates(D(2025, 1, 2), 5, START) == [
        D(2024, 12, 29),
        D(2024, 12, 30),
        D(2024, 12, 31),
        D(2025, 1, 1),
        D(2025, 1, 2),
    ]
    assert window_dates(D(2024, 3, 1), 3, START) == [D(2024, 2, 28), D(2024, 2, 29), D(2024, 3, 1)]


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        (D(2024, 1, 1), [D(2024, 1, 1)]),
        (D(2024, 1, 3), days(D(2024, 1, 1), 3)),
        (D(2024, 1, 7), days(D(2024, 1, 1), 7)),
        (D(2024, 1, 8), days(D(2024, 1, 2), 7)),
    ],
)
def test_window_dates_is_clamped_at_the_start_date(date, expected):
    assert window_dates(date, 7, START) == expected


def test_window_of_one_day_is_the_day():
    assert window_dates(D(2024, 5, 5), 1, START) == [D(2024, 5, 5)]


def test_window_before_the_start_date_is_empty():
    assert window_dates(D(2023, 12, 31), 7, START) == []


def reference(date: datetime.date, rows: list[tuple], window_days: int) -> dict:
    rows = [figures(row) for row in rows]
    orders = [o for _, o, _, _, _ in rows]
    revenues = [r for _, _, r, _, _ in rows]
    total_revenue = round(sum(revenues), 2)
    total_net = round(sum(n for _, _, _, n, _ in rows), 2)
    avg_orders = sum(orders) / len(rows)
    avg_revenue = total_revenue / len(rows)
    avg_net = total_net / len(rows)
    day_orders, day_revenue, day_net = next((o, r, n) for d, o, r, n, _ in rows if d == date)
    return {
        "execution_date": date.isoformat(),
        "window_start": min(d for d, *_ in rows).isoformat(),
        "window_end": date.isoformat(),
        "window_days": window_days,
        "days_in_window": len(rows),
        "total_orders_7d": sum(orders),
        "total_revenue_7d": total_revenue,
        "avg_daily_orders": round(avg_orders, 2),
        "avg_daily_revenue": round(avg_revenue, 2),
        "orders_growth_vs_avg": (day_orders - avg_orders) / avg_orders,
        "revenue_growth_vs_avg": (day_revenue - avg_revenue) / avg_revenue,
        "total_net_revenue_7d": total_net,
        "avg_daily_net_revenue": round(avg_net, 2),
        "net_revenue_growth_vs_avg": (day_net - avg_net) / abs(avg_net),
        "total_refunds_7d": round(sum(f for *_, f in rows), 2),
    }


def assert_metrics(got: dict, expected: dict) -> None:
    assert set(got) == set(expected)
    for key in set(GROWTH_FIELDS) & set(expected):
        assert got[key] == pytest.approx(expected[key], abs=5e-5), key  # reported to 4 decimals
        assert got[key] == round(got[key], 4)
    for key in set(expected) - set(GROWTH_FIELDS):
        if isinstance(expected[key], float):
            assert got[key] == pytest.approx(expected[key], abs=1e-9), key
        else:
            assert got[key] == expected[key], key


def test_rolling_metrics_of_a_full_window_are_recomputed_from_summaries():
    date = D(2024, 3, 9)
    orders = [180, 200, 210, 190, 220, 240, 260]
    revenue = [35000.10, 40000.25, 41000.00, 38000.75, 45000.50, 47000.05, 52000.99]
    rows = list(zip(window_dates(date, 7, START), orders, revenue, strict=True))
    got = rolling_metrics(date, [summary(*row) for row in rows], 7)
    assert_metrics(got, reference(date, rows, 7))
    # Hand figures: 1500 orders over 7 days, the day at 260.
    assert got["total_orders_7d"] == 1500
    assert got["avg_daily_orders"] == 214.29
    assert got["orders_growth_vs_avg"] == pytest.approx((260 - 1500 / 7) / (1500 / 7), abs=5e-5)
    assert got["days_in_window"] == 7 and got["window_start"] == "2024-03-03"


def test_rolling_metrics_of_a_clamped_window_count_only_the_days_present():
    date = D(2024, 1, 3)
    rows = [(D(2024, 1, 1), 100, 1000.0), (D(2024, 1, 2), 50, 500.0), (D(2024, 1, 3), 150, 3000.0)]
    got = rolling_metrics(date, [summary(*row) for row in rows], 7)
    assert_metrics(got, reference(date, rows, 7))
    assert got["days_in_window"] == 3 < got["window_days"] == 7
    assert got["window_start"] == "2024-01-01"
    assert got["avg_daily_orders"] == 100.0
    assert got["avg_daily_revenue"] == 1500.0
    assert got["orders_growth_vs_avg"] == 0.5
    assert got["revenue_growth_vs_avg"] == 1.0


def test_rolling_metrics_do_not_depend_on_summary_order():
    rng = random.Random(7)
    date = D(2024, 4, 30)
    rows = [(d, rng.randint(100, 300), round(rng.uniform(1e4, 6e4), 2)) for d in window_dates(date, 7, START)]
    summaries = [summary(*row) for row in rows]
    shuffled = summaries[:]
    rng.shuffle(shuffled)
    assert rolling_metrics(date, shuffled, 7) == rolling_metrics(date, summaries, 7)
    assert_metrics(rolling_metrics(date, shuffled, 7), reference(date, rows, 7))


def test_rolling_metrics_of_a_single_day_has_zero_growth():
    got = rolling_metrics(START, [summary(START, 200, 40000.0)], 7)
    assert got["days_in_window"] == 1
    assert got["orders_growth_vs_avg"] == 0.0
    assert got["revenue_growth_vs_avg"] == 0.0
    assert got["total_revenue_7d"] == 40000.0


def test_total_revenue_is_rounded_to_cents():
    date = D(2024, 1, 3)
    rows = [(D(2024, 1, 1), 1, 0.1), (D(2024, 1, 2), 1, 0.2), (D(2024, 1, 3), 1, 0.004)]
    got = rolling_metrics(date, [summary(*row) for row in rows], 3)
    assert got["total_revenue_7d"] == 0.3


def test_growth_is_none_when_the_average_is_zero():
    date = D(2024, 1, 2)
    got = rolling_metrics(date, [summary(D(2024, 1, 1), 0, 0.0), summary(date, 0, 0.0)], 7)
    assert got["orders_growth_vs_avg"] is None
    assert got["revenue_growth_vs_avg"] is None


def test_declining_day_has_negative_growth():
    date = D(2024, 1, 2)
    got = rolling_metrics(date, [summary(D(2024, 1, 1), 300, 3000.0), summary(date, 100, 1000.0)], 7)
    assert got["orders_growth_vs_avg"] == -0.5
    assert got["revenue_growth_vs_avg"] == -0.5


def test_net_revenue_and_refunds_of_a_full_window_are_recomputed_from_summaries():
    date = D(2024, 3, 9)
    orders = [180, 200, 210, 190, 220, 240, 260]
    revenue = [35000.10, 40000.25, 41000.00, 38000.75, 45000.50, 47000.05, 52000.99]
    net = [33000.10, 38500.00, 39999.99, 30000.75, 44000.50, 45000.00, 41000.01]
    refunds = [500.00, 0.0, 120.45, 6000.00, 0.0, 1000.05, 9000.50]
    rows = list(zip(window_dates(date, 7, START), orders, revenue, net, refunds, strict=True))
    got = rolling_metrics(date, [summary(*row) for row in rows], 7)
    assert_metrics(got, reference(date, rows, 7))
    # Hand figures: net 271501.35 over 7 days, the day at 41000.01; refunds 16621.00.
    assert got["total_net_revenue_7d"] == 271501.35
    assert got["avg_daily_net_revenue"] == 38785.91
    assert got["net_revenue_growth_vs_avg"] == round((41000.01 - 271501.35 / 7) / (271501.35 / 7), 4)
    assert got["total_refunds_7d"] == 16621.0
    assert 0 < got["net_revenue_growth_vs_avg"] < got["revenue_growth_vs_avg"], "the day's refunds pull net below gross"


@pytest.mark.parametrize("old_day", [D(2024, 1, 1), D(2024, 1, 3)])
def test_a_window_holding_an_earlier_versions_summary_gives_no_net_figures(old_day):
    date = D(2024, 1, 3)
    rows = [(D(2024, 1, 1), 100, 1000.0), (D(2024, 1, 2), 50, 500.0), (D(2024, 1, 3), 150, 3000.0)]
    summaries = [earlier_versions_summary(*row) if row[0] == old_day else summary(*row) for row in rows]
    got = rolling_metrics(date, summaries, 7)
    assert {key: got[key] for key in NET_FIELDS} == dict.fromkeys(NET_FIELDS, None)
    expected = reference(date, rows, 7)
    assert_metrics(
        {k: v for k, v in got.items() if k not in NET_FIELDS},
        {k: v for k, v in expected.items() if k not in NET_FIELDS},
    )
    assert (got["total_revenue_7d"], got["revenue_growth_vs_avg"]) == (4500.0, 1.0), "gross figures unaffected"


def test_net_growth_against_a_negative_average_has_the_days_direction():
    """Refunds beyond sales make net revenue negative: a day less negative than the average is above it."""
    date = D(2024, 1, 2)
    rows = [(D(2024, 1, 1), 10, 100.0, -100.0, 200.0), (date, 10, 100.0, -50.0, 150.0)]
    got = rolling_metrics(date, [summary(*row) for row in rows], 7)
    assert_metrics(got, reference(date, rows, 7))
    assert got["avg_daily_net_revenue"] == -75.0
    assert got["net_revenue_growth_vs_avg"] == round(25 / 75, 4) > 0
    assert got["total_refunds_7d"] == 350.0


def test_net_growth_is_none_when_the_net_average_is_zero():
    date = D(2024, 1, 2)
    rows = [(D(2024, 1, 1), 10, 100.0, -40.0, 140.0), (date, 10, 100.0, 40.0, 60.0)]
    got = rolling_metrics(date, [summary(*row) for row in rows], 7)
    assert got["total_net_revenue_7d"] == 0.0 and got["avg_daily_net_revenue"] == 0.0
    assert got["net_revenue_growth_vs_avg"] is None
    assert got["revenue_growth_vs_avg"] == 0.0


def test_rolling_metrics_need_the_days_own_summary():
    with pytest.raises(KeyError):
        rolling_metrics(D(2024, 1, 3), [summary(D(2024, 1, 2), 1, 1.0)], 7)


@pytest.mark.parametrize(
    ("growth", "expected"),
    [
        (0.2, "growing"),
        (0.0501, "growing"),
        (0.05, "stable"),  # exactly at the threshold is not beyond it
        (0.0, "stable"),
        (-0.05, "stable"),
        (-0.0501, "declining"),
        (-1.0, "declining"),
        (None, "stable"),
    ],
)
def test_trend_verdict_thresholds(growth, expected):
    assert trend_verdict(growth, 0.05) == expected


def test_trend_verdict_with_zero_threshold():
    assert trend_verdict(0.0001, 0.0) == "growing"
    assert trend_verdict(-0.0001, 0.0) == "declining"
    assert trend_verdict(0.0, 0.0) == "stable"
