"""Synthetic orders: reproducible per (seed, date), realistic in shape, with dirt at the configured rates."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import math
import re
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from etl.csv_io import ORDER_COLUMNS, write_orders
from etl.generation import (
    CATEGORY_PRICE_RANGES,
    NULLABLE_COLUMNS,
    PAYMENT_METHODS,
    STATUSES,
    WEEKDAY_FACTORS,
    GenerationSettings,
    generate_orders,
    skipped_local_time,
)
from etl.storage import LocalStore

D = datetime.date
SETTINGS = GenerationSettings()
START = D(2024, 1, 1)
DAYS = 120


@pytest.fixture(scope="module")
def season() -> dict[datetime.date, pd.DataFrame]:
    """120 consecutive generated days with the default settings (about 25,000 orders)."""
    return {
        START + datetime.timedelta(days=i): generate_orders(START + datetime.timedelta(days=i), SETTINGS)
        for i in range(DAYS)
    }


def originals(frame: pd.DataFrame) -> pd.DataFrame:
    """The first occurrence of each order_id: the generated orders before duplication."""
    return frame[~frame["order_id"].duplicated(keep="first")]


def four_sigma(p: float, n: int) -> float:
    """Four standard errors of a proportion p estimated from n independent draws."""
    return 4 * math.sqrt(p * (1 - p) / n)


def csv_bytes(tmp_path, name: str, frame: pd.DataFrame) -> bytes:
    """The bytes the pipeline writes for ``frame``, through a real store."""
    write_orders(LocalStore(tmp_path), f"raw/{name}", frame)
    return (tmp_path / "raw" / name).read_bytes()


def row_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of the frame's values row by row (floats by repr, nulls empty): independent of any CSV writer."""
    digest = hashlib.sha256()
    for row in frame.itertuples(index=False):
        cells = ("" if pd.isna(v) else repr(v) if isinstance(v, float) else str(v) for v in row)
        digest.update(("|".join(cells) + "\n").encode())
    return digest.hexdigest()


def test_same_date_and_settings_give_byte_identical_csv(tmp_path):
    day = D(2024, 3, 9)
    first = csv_bytes(tmp_path, "a.csv", generate_orders(day, GenerationSettings()))
    second = csv_bytes(tmp_path, "b.csv", generate_orders(day, GenerationSettings()))
    assert len(first) > 1000
    assert first == second


def test_different_dates_differ(tmp_path):
    first = csv_bytes(tmp_path, "a.csv", generate_orders(D(2024, 3, 9), SETTINGS))
    second = csv_bytes(tmp_path, "b.csv", generate_orders(D(2024, 3, 10), SETTINGS))
    assert first != second
    a, b = generate_orders(D(2024, 3, 9), SETTINGS), generate_orders(D(2024, 3, 10), SETTINGS)
    assert a["customer_id"].tolist()[:50] != b["customer_id"].tolist()[:50], "not just a relabelled copy"


def test_different_seeds_differ():
    a = generate_orders(D(2024, 3, 9), GenerationSettings(seed=1))
    b = generate_orders(D(2024, 3, 9), GenerationSettings(seed=2))
    assert not a.equals(b)


def test_columns_and_types_are_canonical():
    frame = generate_orders(D(2024, 3, 9), SETTINGS)
    assert list(frame.columns) == list(ORDER_COLUMNS)
    assert frame["quantity"].dtype == np.int64
    assert frame["unit_price"].dtype == np.float64
    assert frame["total_amount"].dtype == np.float64
    assert list(frame.index) == list(range(len(frame))), "a clean RangeIndex"


def test_order_ids_name_the_day_and_count_up_from_one(season):
    for date, frame in season.items():
        ids = originals(frame)["order_id"].tolist()
        assert ids == [f"ORD-{date:%Y%m%d}-{n:07d}" for n in range(1, len(ids) + 1)], date


def test_mean_daily_volume_matches_configured_mean(season):
    counts = np.array([len(originals(frame)) for frame in season.values()])
    # Independent expectation: mean * weekday factor * (1 + growth) ** (years since 2024-01-01).
    expected = np.array(
        [
            SETTINGS.mean_orders_per_day
            * WEEKDAY_FACTORS[date.weekday()]
            * (1 + SETTINGS.yearly_growth) ** ((date - D(2024, 1, 1)).days / 365.25)
            for date in season
        ]
    )
    # Daily counts are Poisson, so the mean of 120 days has a standard error of sqrt(mean / 120) ~ 1.3 orders;
    # four standard errors is a tolerance a correct generator essentially never exceeds.
    tolerance = 4 * math.sqrt(expected.mean() / DAYS)
    assert abs(counts.mean() - expected.mean()) < tolerance, (counts.mean(), expected.mean(), tolerance)
    # Against the configured mean itself: the weekday mix (+1.7%) and four months of 10%/year trend (+1.6%)
    # lift the expectation ~3.3%, plus at most ~2.5% noise (4 s.e.), so 7% is a fair bound.
    assert abs(counts.mean() / SETTINGS.mean_orders_per_day - 1) < 0.07, counts.mean()


def test_volume_follows_the_configured_mean():
    small = [
        len(originals(generate_orders(START + datetime.timedelta(days=i), GenerationSettings(mean_orders_per_day=20))))
        for i in range(60)
    ]
    # Mean ~20.5 with a standard error of ~0.6 over 60 days.
    assert 17 < np.mean(small) < 24, np.mean(small)


def test_weekends_are_busier_than_midweek(season):
    by_weekday: dict[int, list[int]] = {}
    for date, frame in season.items():
        by_weekday.setdefault(date.weekday(), []).append(len(originals(frame)))
    weekend = np.mean(by_weekday[5] + by_weekday[6])
    midweek = np.mean(by_weekday[0] + by_weekday[1] + by_weekday[2] + by_weekday[3])
    expected_ratio = np.mean(WEEKDAY_FACTORS[5:7]) / np.mean(WEEKDAY_FACTORS[0:4])  # ~1.23
    # About 34 weekend and 68 midweek days of ~200 Poisson orders: the ratio's standard error is ~0.02.
    assert abs(weekend / midweek - expected_ratio) < 0.08, (weekend, midweek, expected_ratio)
    assert np.mean(by_weekday[5]) > np.mean(by_weekday[1]), "Saturday (factor 1.2) beats Tuesday (factor 0.9)"


def test_timestamps_are_all_inside_the_day_and_sorted(season):
    for date, frame in season.items():
        stamps = pd.to_datetime(frame["order_timestamp"], format="%Y-%m-%dT%H:%M:%S")
        start = pd.Timestamp(date)
        assert (stamps >= start).all() and (stamps < start + pd.Timedelta(days=1)).all(), date
        assert stamps.is_monotonic_increasing, date


def test_orders_cluster_in_the_daytime(season):
    hours = pd.concat(
        [pd.to_datetime(f["order_timestamp"], format="%Y-%m-%dT%H:%M:%S").dt.hour for f in season.values()]
    )
    night = hours.between(2, 5).mean()
    evening = hours.between(17, 20).mean()
    assert evening > 5 * night, (evening, night)


def test_duplicates_are_copies_of_the_row_just_before_with_the_same_order_id(season):
    total_dups = 0
    for date, frame in season.items():
        dup = frame["order_id"].duplicated(keep="first").to_numpy()
        total_dups += int(dup.sum())
        positions = np.flatnonzero(dup)
        assert 0 not in positions
        copies = frame.iloc[positions].reset_index(drop=True)
        # Every duplicate sits after its original, immediately after it, so the day stays sorted by timestamp.
        previous = frame.iloc[positions - 1]
        first_of = {order_id: i for i, order_id in reversed(list(enumerate(frame["order_id"])))}
        assert all(first_of[o] < p for o, p in zip(copies["order_id"], positions, strict=True)), date
        assert (previous["order_id"].to_numpy() == copies["order_id"].to_numpy()).all(), date
        originals_of_copies = frame.iloc[[first_of[o] for o in copies["order_id"]]].reset_index(drop=True)
        pd.testing.assert_frame_equal(copies, originals_of_copies, obj=f"duplicates of {date}")
    assert total_dups > 0


def test_dirt_rates_are_roughly_as_configured(season):
    frames = list(season.values())
    firsts = pd.concat([originals(f) for f in frames], ignore_index=True)
    n = len(firsts)
    duplicates = sum(int(f["order_id"].duplicated().sum()) for f in frames)
    negatives = int((firsts["quantity"] < 0).sum())
    # Each rate is a proportion over ~25,000 draws; four standard errors bounds the estimate.
    assert abs(duplicates / n - SETTINGS.duplicate_rate) < four_sigma(SETTINGS.duplicate_rate, n), duplicates / n
    assert abs(negatives / n - SETTINGS.negative_rate) < four_sigma(SETTINGS.negative_rate, n), negatives / n
    for column in NULLABLE_COLUMNS:
        nulls = int(firsts[column].isna().sum())
        assert abs(nulls / n - SETTINGS.null_rate) < four_sigma(SETTINGS.null_rate, n), (column, nulls / n)


def test_high_dirt_rates_are_honoured():
    settings = GenerationSettings(duplicate_rate=0.25, negative_rate=0.2, null_rate=0.1)
    frames = [generate_orders(START + datetime.timedelta(days=i), settings) for i in range(10)]
    firsts = pd.concat([originals(f) for f in frames], ignore_index=True)
    n = len(firsts)
    assert abs(sum(int(f["order_id"].duplicated().sum()) for f in frames) / n - 0.25) < four_sigma(0.25, n)
    assert abs((firsts["quantity"] < 0).mean() - 0.2) < four_sigma(0.2, n)
    for column in NULLABLE_COLUMNS:
        assert abs(firsts[column].isna().mean() - 0.1) < four_sigma(0.1, n), column


def test_zero_dirt_rates_give_clean_data():
    settings = GenerationSettings(duplicate_rate=0.0, negative_rate=0.0, null_rate=0.0)
    for i in range(5):
        frame = generate_orders(START + datetime.timedelta(days=i), settings)
        assert frame["order_id"].is_unique
        assert (frame["quantity"] > 0).all()
        assert not frame.isna().any().any()


def test_sign_errors_flip_quantity_and_total_but_not_price(season):
    frame = pd.concat(season.values(), ignore_index=True)
    negative = frame[frame["quantity"] < 0]
    assert len(negative) > 0, "negative quantities exist"
    assert (negative["total_amount"] < 0).all()
    assert (frame["unit_price"] > 0).all()
    assert (frame.loc[frame["quantity"] > 0, "total_amount"] > 0).all()


def test_totals_are_quantity_times_price_rounded_to_cents(season):
    frame = pd.concat(season.values(), ignore_index=True)
    exact = frame["quantity"] * frame["unit_price"]
    assert ((frame["total_amount"] - exact).abs() <= 0.005 + 1e-9).all()
    cents = frame["total_amount"] * 100
    assert ((cents - cents.round()).abs() < 1e-6).all(), "totals are whole cents"


def test_quantities_are_one_to_five_items(season):
    quantities = pd.concat(season.values())["quantity"].abs()
    assert set(quantities.unique()) == {1, 2, 3, 4, 5}
    assert quantities.value_counts().idxmax() == 1, "single items dominate"


def test_nulls_only_in_category_status_and_payment_method(season):
    frame = pd.concat(season.values(), ignore_index=True)
    null_counts = frame.isna().sum()
    assert set(null_counts[null_counts > 0].index) == set(NULLABLE_COLUMNS)


def test_values_come_from_the_known_vocabularies(season):
    frame = pd.concat(season.values(), ignore_index=True)
    assert set(frame["category"].dropna()) == set(CATEGORY_PRICE_RANGES)
    assert set(frame["status"].dropna()) == set(STATUSES)
    assert set(frame["payment_method"].dropna()) == set(PAYMENT_METHODS)
    assert frame["customer_id"].map(lambda c: bool(re.fullmatch(r"CUST-\d{5}", c))).all()
    numbers = frame["customer_id"].str.slice(5).astype(int)
    assert numbers.between(1, SETTINGS.customers).all()
    assert frame["product_id"].map(lambda c: bool(re.fullmatch(r"PROD-\d{4}", c))).all()


def test_unit_prices_lie_inside_their_category_range(season):
    frame = pd.concat(season.values(), ignore_index=True).dropna(subset=["category"])
    for category, price in zip(frame["category"], frame["unit_price"], strict=True):
        low, high = CATEGORY_PRICE_RANGES[category]
        assert low <= price <= high, (category, price)
    assert (frame["unit_price"] == frame["unit_price"].round(2)).all(), "prices are in cents"


def test_a_product_has_one_category_and_one_price(season):
    frame = pd.concat(season.values(), ignore_index=True)
    per_product = (
        frame.dropna(subset=["category"])
        .groupby("product_id")
        .agg(categories=("category", "nunique"), prices=("unit_price", "nunique"))
    )
    assert (per_product["categories"] == 1).all()
    assert (per_product["prices"] == 1).all()


def test_repeat_customers_exist(season):
    day = originals(season[D(2024, 3, 9)])
    assert day["customer_id"].nunique() < len(day), "some customer orders twice in one day"
    all_days = pd.concat([originals(f) for f in season.values()])
    per_customer = all_days["customer_id"].value_counts()
    assert (per_customer > 1).sum() > 100, "many customers come back across days"
    assert per_customer.iloc[0] > 20, "the long tail has heavy buyers"


def test_large_customer_pool_keeps_distinct_customer_ids():
    settings = GenerationSettings(customers=200_000)
    frame = pd.concat([generate_orders(D(2024, 3, 9) + datetime.timedelta(days=i), settings) for i in range(3)])
    numbers = frame["customer_id"].str.slice(5).astype(int)
    assert numbers.between(1, settings.customers).all(), "ids number customers from 1"
    # Customer weights are 1/(10 + i): customers 100000.. carry about ln(2)/ln(200010/10) ~ 7% of orders,
    # so ~45 of these ~660 orders; seeing none would have probability ~1e-21.
    assert (numbers > 99_999).sum() > 10, f"largest customer number seen: {numbers.max()}"


def test_settings_are_a_frozen_dataclass():
    settings = GenerationSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.seed = 7  # type: ignore[misc]


# Timezones ------------------------------------------------------------------------------------------------

# Digests of the generator's output before it took a timezone (computed with that version), so UTC days stay
# exactly the days already generated and stored.
PRE_TIMEZONE_DIGESTS = {
    (D(2024, 3, 9), GenerationSettings()): (246, "0b09daed413650f8ce8abcfe2c65561498b2bf39c12db0284b273626f2960822"),
    (D(2024, 3, 10), GenerationSettings()): (243, "214d00455518f18ea8fe024f33036644b238abff577b9c60957a80fdd8f51144"),
    (
        D(2024, 3, 10),
        GenerationSettings(seed=7, duplicate_rate=0.3, negative_rate=0.2, null_rate=0.1, customers=200_000),
    ): (301, "7122f41c051e918b8cd07be366a08ef0d519e662696a82c4f81fa4e06048fe09"),
}


@pytest.mark.parametrize(("day", "settings"), list(PRE_TIMEZONE_DIGESTS))
def test_utc_output_is_unchanged_by_the_timezone_parameter(day, settings):
    rows, digest = PRE_TIMEZONE_DIGESTS[(day, settings)]
    default = generate_orders(day, settings)
    assert (len(default), row_digest(default)) == (rows, digest)
    pd.testing.assert_frame_equal(generate_orders(day, settings, "UTC"), default)
    pd.testing.assert_frame_equal(generate_orders(day, settings, timezone="UTC"), default)


@pytest.mark.parametrize(
    ("timezone", "day"),
    [
        ("America/New_York", D(2024, 3, 9)),  # the day before clocks spring forward
        ("America/New_York", D(2024, 11, 3)),  # clocks fall back: every local time exists
        ("Europe/Berlin", D(2024, 3, 10)),
        ("Asia/Kolkata", D(2024, 3, 31)),  # no daylight saving at all
    ],
)
def test_a_day_without_a_skipped_hour_is_the_same_in_every_timezone(timezone, day):
    assert skipped_local_time(day, timezone) is None
    pd.testing.assert_frame_equal(generate_orders(day, SETTINGS, timezone), generate_orders(day, SETTINGS))


def nonexistent_local_seconds(day: datetime.date, timezone: str) -> set[int]:
    """Seconds after local midnight of ``day`` that no clock in ``timezone`` showed, found minute by minute
    by a round trip through UTC (independently of etl.generation)."""
    zone = ZoneInfo(timezone)
    midnight = datetime.datetime.combine(day, datetime.time())
    missing = set()
    for minute in range(24 * 60):
        local = midnight + datetime.timedelta(minutes=minute)
        back = local.replace(tzinfo=zone).astimezone(datetime.UTC).astimezone(zone).replace(tzinfo=None)
        if back != local:
            missing.update(range(minute * 60, minute * 60 + 60))
    return missing


@pytest.mark.parametrize(
    ("timezone", "day", "expected"),
    [
        ("America/New_York", D(2024, 3, 10), (2 * 3600, 3600)),
        ("Europe/Berlin", D(2024, 3, 31), (2 * 3600, 3600)),
        ("Australia/Lord_Howe", D(2024, 10, 6), (2 * 3600, 1800)),  # a half-hour shift
        ("America/Santiago", D(2024, 9, 8), (0, 3600)),  # midnight itself does not exist
    ],
)
def test_skipped_local_time_of_spring_forward_days(timezone, day, expected):
    assert skipped_local_time(day, timezone) == expected
    first, length = expected
    assert nonexistent_local_seconds(day, timezone) == set(range(first, first + length))


@pytest.mark.parametrize(
    ("timezone", "day"),
    [("UTC", D(2024, 3, 10)), ("America/New_York", D(2024, 11, 3)), ("America/New_York", D(2024, 7, 4))],
)
def test_skipped_local_time_is_none_on_other_days(timezone, day):
    assert skipped_local_time(day, timezone) is None
    assert nonexistent_local_seconds(day, timezone) == set()


def local_seconds(frame: pd.DataFrame) -> np.ndarray:
    stamps = pd.to_datetime(frame["order_timestamp"], format="%Y-%m-%dT%H:%M:%S")
    return (stamps.dt.hour * 3600 + stamps.dt.minute * 60 + stamps.dt.second).to_numpy()


def test_no_order_falls_in_the_skipped_hour_of_new_york_spring_forward():
    day = D(2024, 3, 10)
    settings = GenerationSettings(mean_orders_per_day=5000)
    frame = generate_orders(day, settings, "America/New_York")

    hours = frame["order_timestamp"].str.slice(11, 13)
    assert not (hours == "02").any(), "02:00-02:59 does not exist in New York on 2024-03-10"
    assert (frame["order_timestamp"].str.slice(0, 11) == "2024-03-10T").all()
    assert frame["order_timestamp"].is_monotonic_increasing
    seconds = local_seconds(frame)
    assert not set(seconds.tolist()) & nonexistent_local_seconds(day, "America/New_York")
    # Every timestamp is a real instant: it survives a round trip through UTC unchanged.
    zone = ZoneInfo("America/New_York")
    for text in frame["order_timestamp"].unique()[::17]:
        local = datetime.datetime.fromisoformat(text)
        assert local.replace(tzinfo=zone).astimezone(datetime.UTC).astimezone(zone).replace(tzinfo=None) == local


def test_the_skipped_hour_only_moves_timestamps():
    """The same orders as in UTC: only the times drawn for 02:00-02:59, an hour New York skips, move to 03:00-03:59."""
    day = D(2024, 3, 10)
    utc = generate_orders(day, SETTINGS)
    new_york = generate_orders(day, SETTINGS, "America/New_York")

    others = [c for c in ORDER_COLUMNS if c != "order_timestamp"]
    pd.testing.assert_frame_equal(new_york[others], utc[others])
    before = local_seconds(utc)
    skipped = (before >= 2 * 3600) & (before < 3 * 3600)
    assert skipped.any(), "some orders were drawn for the skipped hour"
    expected = np.sort(np.where(skipped, before + 3600, before))
    assert (local_seconds(new_york) == expected).all(), "every other time is the UTC day's, in order"


@pytest.mark.parametrize(
    ("timezone", "day"), [("Europe/Berlin", D(2024, 3, 31)), ("Australia/Lord_Howe", D(2024, 10, 6))]
)
def test_no_order_falls_in_a_skipped_interval_elsewhere(timezone, day):
    frame = generate_orders(day, GenerationSettings(mean_orders_per_day=3000), timezone)
    assert not set(local_seconds(frame).tolist()) & nonexistent_local_seconds(day, timezone)
    assert frame["order_timestamp"].is_monotonic_increasing
