"""The business calendar: which day it is, and which day is over, in the configured timezone."""

from __future__ import annotations

import datetime
import os
import re
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from etl.clock import is_day_over, last_complete_day, now, today
from etl.config import SettingsError

D = datetime.date
UTC = datetime.UTC


def utc(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


# Expected local dates worked out by hand from each zone's UTC offset at that instant.
@pytest.mark.parametrize(
    ("timezone", "now", "expected_today"),
    [
        ("UTC", "2024-03-10T02:30:00", D(2024, 3, 10)),
        ("America/New_York", "2024-03-10T02:30:00", D(2024, 3, 9)),  # EST, UTC-5: 21:30 on the 9th
        ("America/New_York", "2024-03-10T05:00:00", D(2024, 3, 10)),  # EST: exactly local midnight
        ("America/New_York", "2024-03-10T04:59:59", D(2024, 3, 9)),  # one second before local midnight
        ("America/New_York", "2024-07-01T03:59:59", D(2024, 6, 30)),  # EDT, UTC-4
        ("America/New_York", "2024-07-01T04:00:00", D(2024, 7, 1)),
        ("Asia/Tokyo", "2024-03-09T15:00:00", D(2024, 3, 10)),  # UTC+9: midnight of the 10th
        ("Asia/Tokyo", "2024-03-09T14:59:59", D(2024, 3, 9)),
        ("Pacific/Kiritimati", "2024-12-31T10:00:00", D(2025, 1, 1)),  # UTC+14 crosses the year first
        ("Pacific/Pago_Pago", "2025-01-01T10:59:59", D(2024, 12, 31)),  # UTC-11 crosses it last
        ("Asia/Kolkata", "2024-03-09T18:29:59", D(2024, 3, 9)),  # UTC+5:30
        ("Asia/Kolkata", "2024-03-09T18:30:00", D(2024, 3, 10)),
    ],
)
def test_today_is_the_local_date_of_a_pinned_utc_instant(timezone, now, expected_today):
    assert today(timezone, utc(now)) == expected_today
    assert last_complete_day(timezone, utc(now)) == expected_today - datetime.timedelta(days=1)


def test_new_york_after_midnight_utc_is_still_the_previous_day():
    now = utc("2024-03-10T02:30:00")
    assert today("America/New_York", now) == D(2024, 3, 9)
    assert last_complete_day("America/New_York", now) == D(2024, 3, 8)
    assert not is_day_over(D(2024, 3, 9), "America/New_York", now), "the 9th is still running in New York"
    assert is_day_over(D(2024, 3, 9), "UTC", now), "but it is over in UTC"
    assert is_day_over(D(2024, 3, 8), "America/New_York", now)


@pytest.fixture
def local_time_in_tokyo():
    """Make the process's local timezone UTC+9, so 'naive means UTC' cannot pass by accident on a UTC machine."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


def test_naive_now_is_taken_as_utc(local_time_in_tokyo):
    naive = datetime.datetime(2024, 3, 10, 2, 30)
    assert today("America/New_York", naive) == D(2024, 3, 9)
    assert today("UTC", naive) == D(2024, 3, 10)
    assert today("Asia/Tokyo", datetime.datetime(2024, 3, 9, 15, 0)) == D(2024, 3, 10)


def test_aware_non_utc_now_is_converted_not_reinterpreted():
    # 00:30 in Berlin (CET, UTC+1) on the 10th is 23:30 UTC on the 9th and 18:30 in New York on the 9th.
    berlin = datetime.datetime(2024, 3, 10, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert today("Europe/Berlin", berlin) == D(2024, 3, 10)
    assert today("UTC", berlin) == D(2024, 3, 9)
    assert today("America/New_York", berlin) == D(2024, 3, 9)
    fixed = datetime.datetime(2024, 3, 10, 1, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=3)))
    assert today("UTC", fixed) == D(2024, 3, 9)


def test_dst_fall_back_day_in_new_york():
    # 2024-11-03: clocks go back at 06:00 UTC (02:00 EDT -> 01:00 EST); local midnight of the 4th is 05:00 UTC.
    assert today("America/New_York", utc("2024-11-04T04:59:59")) == D(2024, 11, 3)
    assert today("America/New_York", utc("2024-11-04T05:00:00")) == D(2024, 11, 4)
    assert not is_day_over(D(2024, 11, 3), "America/New_York", utc("2024-11-04T04:59:59"))
    assert is_day_over(D(2024, 11, 3), "America/New_York", utc("2024-11-04T05:00:00"))


@pytest.mark.parametrize(
    ("date", "expected"),
    [(D(2024, 3, 8), True), (D(2024, 3, 9), False), (D(2024, 3, 10), False), (D(2023, 1, 1), True)],
)
def test_is_day_over_only_for_days_before_local_today(date, expected):
    now = utc("2024-03-09T12:00:00")
    assert is_day_over(date, "UTC", now) is expected


def test_is_day_over_exactly_at_local_midnight():
    assert is_day_over(D(2024, 3, 9), "Asia/Tokyo", utc("2024-03-09T15:00:00"))
    assert not is_day_over(D(2024, 3, 9), "Asia/Tokyo", utc("2024-03-09T14:59:59"))


def test_without_now_the_real_clock_is_used():
    before = datetime.datetime.now(UTC).astimezone(ZoneInfo("Asia/Tokyo")).date()
    got = today("Asia/Tokyo")
    after = datetime.datetime.now(UTC).astimezone(ZoneInfo("Asia/Tokyo")).date()
    assert got in {before, after}
    assert last_complete_day("Asia/Tokyo") in {before - datetime.timedelta(days=1), after - datetime.timedelta(days=1)}
    assert not is_day_over(after + datetime.timedelta(days=1), "Asia/Tokyo")


def test_etl_now_with_an_offset_is_that_instant(monkeypatch, local_time_in_tokyo):
    monkeypatch.setenv("ETL_NOW", "2024-03-10T00:30:00+01:00")  # 23:30 UTC on the 9th, whatever the machine's zone

    assert now() == datetime.datetime(2024, 3, 9, 23, 30, tzinfo=UTC)
    assert now().utcoffset() == datetime.timedelta(0), "recorded times are in UTC"
    assert today("UTC") == D(2024, 3, 9)
    assert last_complete_day("Europe/Berlin") == D(2024, 3, 9)
    assert is_day_over(D(2024, 3, 9), "Asia/Tokyo") and not is_day_over(D(2024, 3, 9), "UTC")
    monkeypatch.setenv("ETL_NOW", "2024-03-10T02:00:00Z")
    assert now() == datetime.datetime(2024, 3, 10, 2, 0, tzinfo=UTC)


def test_etl_now_without_an_offset_is_the_machines_local_time(monkeypatch, local_time_in_tokyo):
    monkeypatch.setenv("ETL_NOW", "2024-03-10T02:00:00")  # 02:00 in Tokyo (UTC+9) is 17:00 UTC on the 9th

    assert now() == datetime.datetime(2024, 3, 9, 17, 0, tzinfo=UTC)
    assert last_complete_day("Asia/Tokyo") == D(2024, 3, 9), "the 02:00 cron run of the night after the 9th"
    assert today("UTC") == D(2024, 3, 9)


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T02:00:00", "10/03/2024 02:00", "2024-03-10T25:00"])
def test_a_bad_etl_now_is_a_settings_error_naming_it_and_the_expected_form(monkeypatch, value):
    monkeypatch.setenv("ETL_NOW", value)

    with pytest.raises(SettingsError, match=re.escape(f"ETL_NOW={value!r} is not an ISO timestamp: YYYY-MM-DDTHH:MM")):
        now()
    with pytest.raises(SettingsError):
        last_complete_day("UTC")


def test_an_empty_etl_now_is_the_real_clock(monkeypatch):
    monkeypatch.setenv("ETL_NOW", "")
    before = datetime.datetime.now(UTC)
    got = now()
    assert before <= got <= datetime.datetime.now(UTC)


def test_unknown_timezone_is_an_error():
    with pytest.raises(ZoneInfoNotFoundError):
        today("Nowhere/Atlantis", utc("2024-03-09T12:00:00"))
