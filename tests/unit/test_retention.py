"""Retention: which partitions go, per layer, and their safe removal from a real directory tree."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from etl.retention import (
    RetentionConfigError,
    RetentionPolicy,
    check_policy,
    parse_weekdays,
    plan_cleanup,
    remove_partitions,
    retention_cutoff,
)

D = datetime.date
EVERY_DAY = frozenset(range(7))
LAYERS = ("raw", "processed", "metrics")


def day_dir(base: Path, layer: str, date: datetime.date) -> Path:
    """The partition path, spelled out independently of etl.partitions."""
    return base / layer / f"year={date.year}" / f"month={date.month:02d}" / f"day={date.day:02d}"


def make_partitions(base: Path, layer: str, dates) -> None:
    for date in dates:
        path = day_dir(base, layer, date)
        path.mkdir(parents=True)
        (path / "file.txt").write_text(date.isoformat())


def span(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=i) for i in range((last - first).days + 1)]


def plan_with_processed(base: Path, date: datetime.date, rules: RetentionPolicy) -> dict[str, list[Path]]:
    """plan_cleanup with every existing processed partition counted as processed (as these trees are built)."""
    processed = {
        D(int(p.parent.parent.name[5:]), int(p.parent.name[6:]), int(p.name[4:]))
        for p in base.glob("processed/year=*/month=*/day=*")
    }
    return plan_cleanup(base, date, rules, processed)


def policy(raw=7, processed=30, metrics=90, weekdays=EVERY_DAY) -> RetentionPolicy:
    return RetentionPolicy(raw_days=raw, processed_days=processed, metrics_days=metrics, weekdays=weekdays)


# retention_cutoff -----------------------------------------------------------------------------------------


def test_retention_cutoff_is_the_date_minus_the_days():
    assert retention_cutoff(D(2024, 3, 9), 7) == D(2024, 3, 2)
    assert retention_cutoff(D(2024, 3, 1), 1) == D(2024, 2, 29)
    assert retention_cutoff(D(2024, 1, 5), 30) == D(2023, 12, 6)


def test_partition_at_the_cutoff_is_kept_and_the_day_before_removed(tmp_path):
    date = D(2024, 3, 9)
    cutoff = D(2024, 3, 2)  # 2024-03-09 minus 7 days
    make_partitions(tmp_path, "raw", [cutoff - datetime.timedelta(days=1), cutoff])
    make_partitions(tmp_path, "processed", [cutoff - datetime.timedelta(days=1), cutoff])
    plan = plan_with_processed(tmp_path, date, policy(raw=7, processed=7, metrics=7))
    assert plan["raw"] == [day_dir(tmp_path, "raw", D(2024, 3, 1))]
    assert plan["processed"] == [day_dir(tmp_path, "processed", D(2024, 3, 1))]


# plan_cleanup ---------------------------------------------------------------------------------------------


def test_plan_cleanup_per_layer_on_a_real_tree(tmp_path):
    date = D(2024, 3, 9)
    make_partitions(tmp_path, "raw", span(D(2024, 1, 20), D(2024, 3, 9)))
    make_partitions(tmp_path, "processed", span(D(2024, 1, 20), D(2024, 3, 9)))
    make_partitions(tmp_path, "metrics", span(D(2024, 1, 20), D(2024, 3, 9)))
    (tmp_path / "metrics" / "latest_daily_report.json").write_text("{}")
    rules = policy(raw=7, processed=30, metrics=45)

    plan = plan_with_processed(tmp_path, date, rules)

    # Independently: raw before 2024-03-02, processed before 2024-02-08, metrics before 2024-01-24.
    assert plan == {
        "raw": [day_dir(tmp_path, "raw", d) for d in span(D(2024, 1, 20), D(2024, 3, 1))],
        "processed": [day_dir(tmp_path, "processed", d) for d in span(D(2024, 1, 20), D(2024, 2, 7))],
        "metrics": [day_dir(tmp_path, "metrics", d) for d in span(D(2024, 1, 20), D(2024, 1, 23))],
    }


def test_plan_cleanup_lists_oldest_first_across_years(tmp_path):
    dates = [D(2024, 1, 2), D(2023, 12, 31), D(2023, 11, 5), D(2024, 1, 1)]
    make_partitions(tmp_path, "metrics", dates)
    plan = plan_with_processed(tmp_path, D(2024, 3, 1), policy(metrics=30))
    assert plan["metrics"] == [day_dir(tmp_path, "metrics", d) for d in sorted(dates)]


def test_raw_partition_without_processed_output_is_kept(tmp_path):
    old = [D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 3)]
    make_partitions(tmp_path, "raw", old)
    make_partitions(tmp_path, "processed", [D(2024, 1, 1), D(2024, 1, 3)])  # 1-02 failed validation, say

    plan = plan_with_processed(tmp_path, D(2024, 2, 1), policy(raw=7, processed=60))

    assert plan["raw"] == [day_dir(tmp_path, "raw", D(2024, 1, 1)), day_dir(tmp_path, "raw", D(2024, 1, 3))]
    assert plan["processed"] == []


def test_plan_cleanup_does_not_apply_the_processed_rule_to_other_layers(tmp_path):
    make_partitions(tmp_path, "metrics", [D(2024, 1, 1)])  # no processed partition at all
    plan = plan_with_processed(tmp_path, D(2024, 3, 1), policy(metrics=30))
    assert plan["metrics"] == [day_dir(tmp_path, "metrics", D(2024, 1, 1))]


def test_plan_cleanup_removes_nothing_off_the_cleanup_weekdays(tmp_path):
    for layer in LAYERS:
        make_partitions(tmp_path, layer, span(D(2024, 1, 1), D(2024, 1, 31)))
    sundays_only = policy(raw=1, processed=1, metrics=1, weekdays=frozenset({6}))

    saturday = plan_with_processed(tmp_path, D(2024, 3, 9), sundays_only)
    sunday = plan_with_processed(tmp_path, D(2024, 3, 10), sundays_only)

    assert saturday == {"raw": [], "processed": [], "metrics": []}
    for layer in LAYERS:
        assert len(sunday[layer]) == 31, layer


def test_plan_cleanup_of_an_empty_base_is_empty(tmp_path):
    assert plan_with_processed(tmp_path / "nothing", D(2024, 3, 9), policy()) == {
        "raw": [],
        "processed": [],
        "metrics": [],
    }


def test_plan_cleanup_ignores_symlinked_and_malformed_partitions(tmp_path):
    outside = tmp_path / "outside" / "keep"
    outside.mkdir(parents=True)
    base = tmp_path / "base"
    make_partitions(base, "processed", [D(2024, 1, 1)])
    month = base / "raw" / "year=2024" / "month=01"
    month.mkdir(parents=True)
    os.symlink(outside, month / "day=01")
    (month / "day=99").mkdir()
    plan = plan_with_processed(base, D(2024, 3, 1), policy(raw=1))
    assert plan["raw"] == []


# parse_weekdays and check_policy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sat,sun", {5, 6}),
        ("mon", {0}),
        (" Mon , FRIDAY ", {0, 4}),
        ("sun,sun", {6}),
        ("wednesday,thursday,", {2, 3}),
        ("mon,tue,wed,thu,fri,sat,sun", set(range(7))),
    ],
)
def test_parse_weekdays(text, expected):
    assert parse_weekdays(text) == frozenset(expected)


@pytest.mark.parametrize("text", ["", " ", ",", " , ", "funday", "mon,xyz", "mo", "1"])
def test_parse_weekdays_rejects_unknown_or_empty(text):
    with pytest.raises(RetentionConfigError, match="cleanup_weekdays"):
        parse_weekdays(text)


def test_retention_config_error_is_a_value_error():
    assert issubclass(RetentionConfigError, ValueError)


@pytest.mark.parametrize("text", ["monthly", "sundae", "sat;sun", "mon tue"])
def test_parse_weekdays_rejects_words_that_merely_start_like_a_day(text):
    with pytest.raises(RetentionConfigError):
        parse_weekdays(text)


def test_check_policy_accepts_processed_days_equal_to_the_window():
    check_policy(policy(raw=1, processed=7, metrics=1), window_days=7)
    check_policy(policy(), window_days=7)


def test_check_policy_rejects_processed_days_shorter_than_the_window():
    with pytest.raises(RetentionConfigError, match=r"processed_days=6 .*window_days=7"):
        check_policy(policy(processed=6), window_days=7)


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("days", [0, -3])
def test_check_policy_rejects_fewer_than_one_day(layer, days):
    values = {"raw": 7, "processed": 30, "metrics": 90, layer: days}
    with pytest.raises(RetentionConfigError, match=f"{layer}_days={days}"):
        check_policy(policy(**values), window_days=1 if layer == "processed" else 7)


def test_policy_days_per_layer():
    rules = policy(raw=1, processed=2, metrics=3)
    assert [rules.days(layer) for layer in LAYERS] == [1, 2, 3]
    with pytest.raises(KeyError):
        rules.days("cleanup")


def test_raw_partitions_are_not_kept_forever_when_raw_outlives_processed(tmp_path):
    rules = policy(raw=60, processed=30, metrics=90)
    try:
        check_policy(rules, window_days=7)
    except RetentionConfigError:
        return  # refusing the policy up front is an acceptable fix
    first = span(D(2024, 1, 1), D(2024, 1, 10))
    for layer in LAYERS:
        make_partitions(tmp_path, layer, first)
    for today in span(D(2024, 1, 11), D(2024, 5, 31)):  # a daily cleanup for 4.5 months
        for paths in plan_with_processed(tmp_path, today, rules).values():
            remove_partitions(tmp_path, paths)
    # On 2024-05-31 the raw cutoff is 2024-04-01: every January raw partition is long overdue.
    leftover = [d for d in first if day_dir(tmp_path, "raw", d).exists()]
    assert leftover == []


# remove_partitions ----------------------------------------------------------------------------------------


def test_remove_partitions_removes_days_and_emptied_month_and_year_dirs(tmp_path):
    make_partitions(tmp_path, "raw", [D(2023, 12, 30), D(2023, 12, 31), D(2024, 1, 1), D(2024, 1, 2)])
    doomed = [day_dir(tmp_path, "raw", d) for d in (D(2023, 12, 30), D(2023, 12, 31), D(2024, 1, 1))]

    removed = remove_partitions(tmp_path, doomed)

    assert removed == doomed
    assert not (tmp_path / "raw" / "year=2023").exists(), "year emptied by the removals is gone"
    assert (tmp_path / "raw" / "year=2024" / "month=01").is_dir(), "month still holding 2024-01-02 stays"
    assert day_dir(tmp_path, "raw", D(2024, 1, 2)).is_dir()
    assert not day_dir(tmp_path, "raw", D(2024, 1, 1)).exists()


def test_remove_partitions_keeps_a_month_with_other_content(tmp_path):
    make_partitions(tmp_path, "metrics", [D(2024, 1, 1)])
    (tmp_path / "metrics" / "year=2024" / "month=01" / "notes.txt").write_text("keep me")
    remove_partitions(tmp_path, [day_dir(tmp_path, "metrics", D(2024, 1, 1))])
    assert (tmp_path / "metrics" / "year=2024" / "month=01" / "notes.txt").read_text() == "keep me"


def test_remove_partitions_never_removes_the_layer_dir(tmp_path):
    make_partitions(tmp_path, "processed", [D(2024, 1, 1), D(2024, 2, 1)])
    remove_partitions(
        tmp_path, [day_dir(tmp_path, "processed", D(2024, 1, 1)), day_dir(tmp_path, "processed", D(2024, 2, 1))]
    )
    assert (tmp_path / "processed").is_dir()
    assert list((tmp_path / "processed").iterdir()) == []
    assert tmp_path.is_dir()


def test_remove_partitions_of_nothing_is_a_no_op(tmp_path):
    assert remove_partitions(tmp_path, []) == []


def test_remove_partitions_refuses_a_path_outside_base(tmp_path):
    base = tmp_path / "base"
    make_partitions(base, "raw", [D(2024, 1, 1)])
    elsewhere = tmp_path / "elsewhere" / "raw" / "year=2024" / "month=01" / "day=01"
    elsewhere.mkdir(parents=True)
    sneaky = base / "raw" / ".." / ".." / "elsewhere" / "raw" / "year=2024" / "month=01" / "day=01"

    for path in (elsewhere, sneaky):
        with pytest.raises(ValueError, match="refusing to delete"):
            remove_partitions(base, [path])
    assert elsewhere.is_dir()


def test_remove_partitions_refuses_the_base_itself(tmp_path):
    with pytest.raises(ValueError, match="refusing to delete"):
        remove_partitions(tmp_path, [tmp_path])
    assert tmp_path.is_dir()


def test_remove_partitions_refuses_a_symlink_and_its_target_outside_survives(tmp_path):
    base = tmp_path / "base"
    target = tmp_path / "precious"
    target.mkdir()
    (target / "data.csv").write_text("do not delete")
    month = base / "raw" / "year=2024" / "month=01"
    month.mkdir(parents=True)
    link = month / "day=01"
    os.symlink(target, link)

    with pytest.raises(ValueError, match="refusing to delete"):
        remove_partitions(base, [link])

    assert (target / "data.csv").read_text() == "do not delete"
    assert link.is_symlink()


def test_remove_partitions_refuses_a_symlink_into_base(tmp_path):
    make_partitions(tmp_path, "processed", [D(2024, 1, 1)])
    month = tmp_path / "raw" / "year=2024" / "month=01"
    month.mkdir(parents=True)
    link = month / "day=01"
    os.symlink(day_dir(tmp_path, "processed", D(2024, 1, 1)), link)
    with pytest.raises(ValueError, match="refusing to delete"):
        remove_partitions(tmp_path, [link])
    assert (day_dir(tmp_path, "processed", D(2024, 1, 1)) / "file.txt").exists()


def test_remove_partitions_refuses_a_file_or_a_missing_path(tmp_path):
    make_partitions(tmp_path, "raw", [D(2024, 1, 1)])
    a_file = day_dir(tmp_path, "raw", D(2024, 1, 1)) / "file.txt"
    missing = day_dir(tmp_path, "raw", D(2024, 1, 2))
    for path in (a_file, missing):
        with pytest.raises(ValueError, match="refusing to delete"):
            remove_partitions(tmp_path, [path])
    assert a_file.exists()


@pytest.mark.parametrize("relative", ["raw", "raw/year=2024", "raw/year=2024/month=01"])
def test_remove_partitions_refuses_a_directory_above_a_day_partition(tmp_path, relative):
    make_partitions(tmp_path, "raw", [D(2024, 1, 1)])
    with pytest.raises(ValueError, match="refusing to delete"):
        remove_partitions(tmp_path, [tmp_path / relative])
    assert (tmp_path / "raw").is_dir(), "the layer dir survives"
    assert day_dir(tmp_path, "raw", D(2024, 1, 1)).is_dir()


def test_plan_then_remove_end_to_end(tmp_path):
    for layer in LAYERS:
        make_partitions(tmp_path, layer, span(D(2024, 1, 1), D(2024, 3, 9)))
    rules = policy(raw=7, processed=30, metrics=45)
    date = D(2024, 3, 9)

    for paths in plan_with_processed(tmp_path, date, rules).values():
        remove_partitions(tmp_path, paths)

    for layer in LAYERS:
        cutoff = date - datetime.timedelta(days=rules.days(layer))
        left = sorted(d for d in span(D(2024, 1, 1), date) if day_dir(tmp_path, layer, d).is_dir())
        assert left == span(cutoff, date), layer
    assert not (tmp_path / "raw" / "year=2024" / "month=01").exists()
    assert not (tmp_path / "processed" / "year=2024" / "month=01").exists()
    assert (tmp_path / "metrics" / "year=2024" / "month=01").is_dir()
