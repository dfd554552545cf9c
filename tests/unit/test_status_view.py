"""What ``etl status`` prints from hand-built day states: details, calendar, summary, JSON and the exit code."""

from __future__ import annotations

import datetime
import itertools
import json

import pytest

from etl.status_view import (
    DayRow,
    StepStatus,
    calendar_lines,
    day_outcome,
    detail_lines,
    exit_code,
    json_lines,
    render,
    summary_lines,
)

D = datetime.date
NAMES = ("raw", "validate", "process", "rolling", "report")
STATE_OF = {  # written out here, not taken from the module: the calendar's legend is what this pins
    "#": "done",
    "s": "stale",
    ".": "missing",
    "F": "failed",
    "h": "held back",
    "x": "expired",
    "-": "not due",
    "R": "running",
    "D": "disabled",
}
URGENCY = ["failed", "disabled", "held back", "running", "stale", "missing", "not due", "expired", "done"]
REFUSED = "validation failed for 2024-03-10 in raw/.../orders.csv: min_orders: 12 orders, at least 50 required"


def row(day: datetime.date, marks: str, names=NAMES, **why: tuple[str, str]) -> DayRow:
    """A day from one calendar mark per step; ``why`` gives a step's (reason, brief)."""
    return DayRow(
        day,
        {
            name: StepStatus(STATE_OF[mark], *why.get(name, (None, None)))
            for name, mark in zip(names, marks, strict=True)
        },
    )


def days(first: datetime.date, last: datetime.date, marks: str = "#####", names=NAMES) -> list[DayRow]:
    return [row(first + datetime.timedelta(n), marks, names) for n in range((last - first).days + 1)]


def three_days() -> list[DayRow]:
    held = (f"held back by 2024-03-10: {REFUSED}", "by 03-10")
    return [
        row(D(2024, 3, 9), "#####"),
        row(D(2024, 3, 10), "#F.hh", validate=(REFUSED, "min_orders"), rolling=held, report=held),
        row(D(2024, 3, 11), "###hh", rolling=held, report=held),
    ]


def test_a_short_range_shows_each_day_its_steps_and_each_reason_once_then_the_summary():
    assert render(three_days(), NAMES, as_json=False) == "\n".join(
        [
            "2024-03-09 done: raw done, validate done, process done, rolling done, report done",
            "2024-03-10 failed: raw done, validate failed, process missing, rolling held back, report held back",
            f"    validate: {REFUSED}",
            f"    rolling: held back by 2024-03-10: {REFUSED}",
            "2024-03-11 held back: raw done, validate done, process done, rolling held back, report held back",
            f"    rolling: held back by 2024-03-10: {REFUSED}",
            "",
            "March 2024: 3 days, 1 done, 1 failed (03-10: min_orders), 1 held back (03-11: by 03-10)",
        ]
    )


def test_a_reason_with_line_breaks_stays_on_its_line():
    rows = [
        row(D(2024, 3, 10), "#F###", validate=("rules failed:\n  min_orders: 12\r\n\n  max_amount: 3\n", "2 rules"))
    ]

    assert detail_lines(rows)[1] == "    validate: rules failed: / min_orders: 12 / max_amount: 3"
    assert summary_lines([row(D(2024, 3, 10), "#F###", validate=("x", "min_orders\nmax"))]) == [
        "March 2024: 1 day, 1 failed (03-10: min_orders / max)"
    ]


def test_the_most_urgent_step_decides_the_day_and_the_earliest_step_among_equals():
    for urgent, other in itertools.combinations(URGENCY, 2):
        steps = {"a": StepStatus(other, None, "other"), "b": StepStatus(urgent, "why", "urgent")}
        assert day_outcome(DayRow(D(2024, 3, 1), steps)) == steps["b"], f"{urgent} comes before {other}"
    tie = DayRow(D(2024, 3, 1), {"a": StepStatus("stale", None, "first"), "b": StepStatus("stale", None, "second")})
    assert day_outcome(tie).brief == "first", "a cause comes before what it causes"


def test_a_state_that_is_not_a_day_states_value_is_refused():
    with pytest.raises(ValueError, match="'pending': must be one of failed, disabled"):
        StepStatus("pending", None, None)


def test_the_calendar_puts_day_one_in_the_first_column_from_a_mid_month_start_through_a_leap_february():
    names = ("raw", "validate", "report")
    rows = [
        row(D(2024, 1, 30), "x##", names),
        row(D(2024, 1, 31), "###", names),
        *days(D(2024, 2, 1), D(2024, 2, 9), "###", names),
        row(D(2024, 2, 10), "#Fh", names),
        *days(D(2024, 2, 11), D(2024, 2, 16), "##h", names),
        *days(D(2024, 2, 17), D(2024, 2, 28), "###", names),
        row(D(2024, 2, 29), "...", names),
        row(D(2024, 3, 1), "##R", names),
        row(D(2024, 3, 2), "---", names),
    ]

    assert calendar_lines(rows, names) == [
        "Legend: # done, s stale, . missing, F failed, h held back, x expired, - not due, R running, D disabled, "
        "blank: not in the range",
        " " * 17 + "1   5    10   15   20   25   30",
        "2024-01 raw      " + " " * 29 + "x#",
        "2024-01 validate " + " " * 29 + "##",
        "2024-01 report   " + " " * 29 + "##",
        "2024-02 raw      " + "#" * 28 + ".",
        "2024-02 validate " + "#" * 9 + "F" + "#" * 18 + ".",
        "2024-02 report   " + "#" * 9 + "h" * 7 + "#" * 12 + ".",
        "2024-03 raw      #-",
        "2024-03 validate #-",
        "2024-03 report   R-",
    ]


def test_a_full_month_has_a_character_for_each_of_its_31_days():
    rows = days(D(2024, 3, 1), D(2024, 3, 31))
    rows[9] = row(D(2024, 3, 10), "#F.hh")
    rows[11] = row(D(2024, 3, 12), "###ss")

    lines = calendar_lines(rows, NAMES)

    assert lines[2:] == [
        "2024-03 raw      " + "#" * 31,
        "2024-03 validate " + "#" * 9 + "F" + "#" * 21,
        "2024-03 process  " + "#" * 9 + "." + "#" * 21,
        "2024-03 rolling  " + "#" * 9 + "h#s" + "#" * 19,
        "2024-03 report   " + "#" * 9 + "h#s" + "#" * 19,
    ]
    assert all(line.isascii() for line in lines), "cron mails it"


def test_the_summary_collapses_runs_of_three_days_or_more_and_cuts_long_lists():
    missing = {1, 2, 4, 5, 6, 7, 8, 10, 12, 13, 14, 20, 25, 26, 27, 28, 29, 30, 31}
    failed = {15, 16, 17, 18, 19}
    rows = [
        row(D(2024, 3, n), "#F..." if n in failed else "....." if n in missing else "#####", validate=("x", f"rule{n}"))
        for n in range(1, 32)
    ]

    assert summary_lines(rows) == [
        "March 2024: 31 days, 7 done, 5 failed (03-15: rule15, 03-16: rule16, 03-17: rule17, 03-18: rule18, "
        "... and 1 more), 19 missing (03-01, 03-02, 03-04..03-08, 03-10, ... and 11 more)"
    ]


def test_the_summary_has_a_line_a_month_and_a_total_when_the_range_spans_several():
    rows = [
        *days(D(2024, 1, 29), D(2024, 1, 31), "xx###"),
        *days(D(2024, 2, 1), D(2024, 2, 27)),
        row(D(2024, 2, 28), "##sss"),
        row(D(2024, 2, 29), "##sss"),
        row(D(2024, 3, 1), "DDDDD", raw=("luigid disabled it after 3 failures", "disabled")),
        row(D(2024, 3, 2), "####R", report=("running", "running")),
        row(D(2024, 3, 3), "-----"),
    ]

    assert summary_lines(rows) == [
        "January 2024: 3 days, 3 expired",
        "February 2024: 29 days, 27 done, 2 stale (02-28, 02-29)",
        "March 2024: 3 days, 1 disabled (03-01: disabled), 1 running (03-02: running), 1 not due",
        "Total 2024-01-29..2024-03-03: 35 days, 27 done, 3 expired, 1 disabled, 1 running, 2 stale, 1 not due",
    ]


def test_json_is_one_object_a_day_with_its_steps_in_order():
    rows = three_days()
    rows[1] = row(D(2024, 3, 10), "#F.hh", validate=("refusé:\n12 orders", "min_orders"))

    lines = render(rows, NAMES, as_json=True).split("\n")

    assert len(lines) == 3, "one line a day and nothing else"
    decoded = [json.loads(line) for line in lines]
    assert [d["day"] for d in decoded] == ["2024-03-09", "2024-03-10", "2024-03-11"]
    assert [d["state"] for d in decoded] == ["done", "failed", "held back"]
    assert [list(d["steps"]) for d in decoded] == [list(NAMES)] * 3
    assert decoded[1]["steps"]["validate"] == {"state": "failed", "reason": "refusé:\n12 orders"}
    assert decoded[1]["steps"]["process"] == {"state": "missing", "reason": None}
    assert json_lines(rows[:1]) == [
        '{"day": "2024-03-09", "state": "done", "steps": {"raw": {"state": "done", "reason": null}, '
        '"validate": {"state": "done", "reason": null}, "process": {"state": "done", "reason": null}, '
        '"rolling": {"state": "done", "reason": null}, "report": {"state": "done", "reason": null}}}'
    ]


def test_render_shows_details_below_calendar_from_days_and_the_calendar_from_there():
    month = days(D(2024, 3, 1), D(2024, 3, 31))

    assert render(month, NAMES, as_json=False).startswith("2024-03-01 done: raw done,")
    assert render(month, NAMES, as_json=False, calendar_from=31).startswith("Legend: ")
    assert render(month, NAMES, as_json=False).endswith("\n\nMarch 2024: 31 days, 31 done")


def test_exit_code_is_zero_only_when_every_day_is_done_or_expired():
    assert exit_code([row(D(2024, 3, 1), "xx###"), row(D(2024, 3, 2), "#####")]) == 0
    assert exit_code([]) == 0, "an empty range leaves nothing to do"
    for mark in ".sFhDR-":
        assert exit_code([row(D(2024, 3, 1), "#####"), row(D(2024, 3, 2), "####" + mark)]) == 1, STATE_OF[mark]
