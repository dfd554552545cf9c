"""``etl.query`` on a store the pipeline built: the frames against the files read independently, the days that are
not there named with their state, and the same tree read from S3 and by DuckDB."""

from __future__ import annotations

import csv
import datetime
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, day_dir
from days_tree import BAD, BAD_ORDERS, FIRST, LAST, build_tree, settings

from etl.query import MissingDaysError, MissingDaysWarning, load_days, load_summaries

D = datetime.date
DAYS = [FIRST + datetime.timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
BUILT = [day for day in DAYS if day != BAD]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return build_tree(tmp_path_factory.mktemp("query") / "base")


@pytest.fixture
def on_tree(configure, tree) -> Path:
    configure(settings(tree))
    return tree


def orders_on_disk(base: Path, layer: str, day: datetime.date) -> list[dict[str, str]]:
    """A day's orders as text, read with the csv module from the path spelled out here."""
    name = "orders.csv" if layer == "raw" else "orders_processed.csv"
    with open(day_dir(base, layer, day) / name, newline="") as handle:
        return list(csv.DictReader(handle))


def test_load_days_holds_every_order_of_the_built_days_typed_as_the_pipeline_writes_them(on_tree):
    with pytest.warns(MissingDaysWarning):
        frame = load_days(FIRST, LAST)

    expected = {day: orders_on_disk(on_tree, "processed", day) for day in BUILT}
    assert list(frame.columns[:3]) == ["date", "order_id", "customer_id"]
    assert frame["date"].is_monotonic_increasing, "oldest day first"
    assert sorted(set(frame["date"].dt.date)) == BUILT, "every built day, and no other"
    for day, rows in expected.items():
        of_day = frame[frame["date"].dt.date == day]
        assert list(of_day["order_id"]) == [row["order_id"] for row in rows], f"{day}: every row, in file order"
        assert of_day["total_amount"].sum() == pytest.approx(sum(float(row["total_amount"]) for row in rows))
    assert frame["quantity"].dtype == "int64" and frame["unit_price"].dtype == "float64"
    assert frame["is_weekend"].dtype == "bool" and frame["hour"].dtype == "int64"
    assert frame["order_timestamp"].map(type).eq(str).all(), "timestamps stay the text the pipeline wrote"
    assert frame["refunded_amount"].isna().all(), "a column the synthetic days lack is there, empty"


def test_only_the_columns_asked_for_come_back_after_the_date(on_tree):
    frame = load_days(FIRST, FIRST + datetime.timedelta(days=2), columns=["total_amount", "date", "hour"])

    assert list(frame.columns) == ["date", "total_amount", "hour"]
    with pytest.raises(ValueError, match=r"no column 'revenue' in orders_processed.csv; it has order_id, "):
        load_days(FIRST, FIRST, columns=["revenue"])


def test_only_the_files_of_the_range_are_read_not_a_glob_of_the_layer(configure, tree, tmp_path):
    copy = shutil.copytree(tree, tmp_path / "base")
    configure(settings(copy))
    (day_dir(copy, "processed", D(2024, 1, 2)) / "notes.csv").write_text("not,an,orders,table\n1,2\n")
    (day_dir(copy, "processed", D(2024, 1, 5)) / "orders_processed.csv").write_text("garbage\n")

    frame = load_days(D(2024, 1, 1), D(2024, 1, 3))

    assert len(frame) == sum(len(orders_on_disk(copy, "processed", day)) for day in BUILT[:3])


def test_a_day_not_there_is_named_with_its_state_and_why(configure, tree, tmp_path, monkeypatch):
    copy = shutil.copytree(tree, tmp_path / "base")
    configure(settings(copy))
    (day_dir(copy, "processed", D(2024, 1, 7)) / "orders_processed.csv").unlink()
    monkeypatch.setenv("ETL_NOW", "2024-01-13T12:00:00+00:00")

    with pytest.warns(MissingDaysWarning) as caught:
        frame = load_days(FIRST, D(2024, 1, 14))

    message = str(caught[0].message)
    assert message.startswith("6 of 14 days of processed are not there: 2024-01-04 validate failed (validation failed ")
    assert f"{day_dir(copy, 'raw', BAD) / 'orders.csv'}: min_orders: {BAD_ORDERS} orders, at least 20" in message
    gone = "processed/year=2024/month=01/day=07/orders_processed.csv"
    assert f"2024-01-07 process missing (its output {gone} is gone)" in message
    assert "; 2024-01-11..2024-01-12 raw missing; 2024-01-13..2024-01-14 raw not due (the day is not over" in message
    assert set(caught[0].message.days) == {BAD, D(2024, 1, 7), *(D(2024, 1, day) for day in range(11, 15))}
    assert D(2024, 1, 7) not in set(frame["date"].dt.date)
    with pytest.raises(MissingDaysError, match=r"6 of 14 days of processed are not there") as refused:
        load_days(FIRST, D(2024, 1, 14), strict=True)
    assert refused.value.days == caught[0].message.days


def test_the_raw_layer_holds_the_refused_day_as_it_came(on_tree):
    frame = load_days(BAD, BAD, layer="raw", columns=["order_id", "quantity"])

    assert list(frame["order_id"]) == [row["order_id"] for row in orders_on_disk(on_tree, "raw", BAD)]
    assert len(frame) == BAD_ORDERS


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"region": "eu"}, r"region='eu': the layout has no region= partition level yet \(year=/month=/day=\)"),
        ({"layer": "metrics"}, r"layer 'metrics' holds no orders.csv or orders_processed.csv"),
        ({"start": D(2023, 12, 31)}, r"start 2023-12-31, end 2024-01-02: need \[etl\] start_date 2024-01-01 <= start"),
        ({"end": D(2023, 12, 31)}, r"need \[etl\] start_date 2024-01-01 <= start <= end"),
    ],
)
def test_what_cannot_be_answered_is_refused_saying_why(on_tree, arguments, problem):
    asked = {"start": FIRST, "end": D(2024, 1, 2), **arguments}
    with pytest.raises(ValueError, match=problem):
        load_days(**asked)


def test_load_summaries_is_a_row_a_built_day_with_the_figures_of_its_orders(on_tree):
    with pytest.warns(MissingDaysWarning, match="1 of 10 days of processed are not there: 2024-01-04 validate failed"):
        summaries = load_summaries(FIRST, LAST)

    assert list(summaries["date"].dt.date) == BUILT
    for day, row in zip(BUILT, summaries.itertuples(), strict=True):
        orders = orders_on_disk(on_tree, "processed", day)
        assert row.total_orders == len(orders)
        assert row.total_revenue == pytest.approx(sum(float(order["total_amount"]) for order in orders), abs=0.005)
        on_disk = json.loads((day_dir(on_tree, "processed", day) / "daily_summary.json").read_text())
        assert row.by_category == on_disk["by_category"] and row.net_revenue == on_disk["net_revenue"]


def test_the_same_tree_on_s3_gives_the_same_frames(configure, tree, s3_bucket):
    import boto3

    bucket = s3_bucket.removeprefix("s3://")
    client = boto3.session.Session().client("s3")
    for path in tree.rglob("*"):
        if path.is_file():
            client.upload_file(str(path), bucket, f"etl/{path.relative_to(tree)}")
    configure(settings(tree))
    with pytest.warns(MissingDaysWarning):
        local, local_summaries = load_days(FIRST, LAST), load_summaries(FIRST, LAST)
    configure(settings(f"{s3_bucket}/etl"))

    with pytest.warns(MissingDaysWarning):
        pd.testing.assert_frame_equal(load_days(FIRST, LAST), local)
    with pytest.warns(MissingDaysWarning):
        pd.testing.assert_frame_equal(load_summaries(FIRST, LAST), local_summaries)


def test_the_readmes_duckdb_query_gives_what_load_days_gives(on_tree):
    duckdb = pytest.importorskip("duckdb", reason="duckdb comes with the dev extra: pip install -e '.[dev]'")
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Query") :]
    query = re.search(r'duckdb\.sql\("""(.*?)"""\)', section, re.S).group(1)
    assert "'data/processed/*/*/*/*.csv'" in query, "the README reads the default run's tree"

    answer = duckdb.sql(query.replace("'data/", f"'{on_tree}/")).df()

    with pytest.warns(MissingDaysWarning):
        frame = load_days(FIRST, LAST, columns=["total_amount"])
    expected = frame.groupby("date")["total_amount"].agg(["count", "sum"])
    assert list(pd.to_datetime(answer["date"]).dt.date) == BUILT
    assert list(answer["orders"]) == list(expected["count"])
    assert list(answer["revenue"]) == pytest.approx(list(expected["sum"]))
