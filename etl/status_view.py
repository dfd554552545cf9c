"""What ``etl status`` prints, from states already computed: pure text, no store, no Luigi, no clock.

Rows come one per day, oldest first, each with its steps in the pipeline's order. States are the value strings
of ``etl.state.DayState`` so that this view depends on nothing but them. Output is plain ASCII text apart from
what reasons and briefs themselves contain (cron mails it), one line per line whatever a reason holds.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import itertools
import json
from collections.abc import Sequence

from etl.day_ranges import ONE_DAY, contiguous_runs, days_between

# Most urgent first: what an operator must act on before anything else. A failure needs a fix of its input or
# settings; a task luigid disabled is skipped until someone re-enables it; a held-back day waits on another
# day's failure (fix that one); running needs patience; stale needs `etl rerun --stale`; missing is built by
# the next plain run; not due needs nothing yet; expired was retired on purpose and counts as done.
PRECEDENCE = ("failed", "disabled", "held back", "running", "stale", "missing", "not due", "expired", "done")
FINISHED = ("done", "expired")
SYMBOLS = {
    "done": "#",
    "stale": "s",
    "missing": ".",
    "failed": "F",
    "held back": "h",
    "expired": "x",
    "not due": "-",
    "running": "R",
    "disabled": "D",
}
LISTED = 4  # entries a summary names per state before "... and N more"

_COUNT_ORDER = FINISHED + PRECEDENCE[:-2]  # counts: what is finished, then the rest most urgent first
_WITH_BRIEF = ("failed", "disabled", "held back", "running")  # summaries say why for these, the days only for:
_DAYS_ONLY = ("stale", "missing")
_RULER = "1   5    10   15   20   25   30"  # each number above its day's column


@dataclasses.dataclass(frozen=True)
class StepStatus:
    state: str  # one of PRECEDENCE
    reason: str | None  # a full sentence, for details and JSON
    brief: str | None  # a few words, for summaries

    def __post_init__(self) -> None:
        if self.state not in SYMBOLS:
            raise ValueError(f"step state {self.state!r}: must be one of {', '.join(PRECEDENCE)} (a DayState's value)")


@dataclasses.dataclass(frozen=True)
class DayRow:
    day: datetime.date
    steps: dict[str, StepStatus]  # step name -> status, in the pipeline's order


def day_outcome(row: DayRow) -> StepStatus:
    """The day's most urgent step status (the earliest step among equals: the cause comes before its effects)."""
    return min(row.steps.values(), key=lambda status: PRECEDENCE.index(status.state))


def exit_code(rows: Sequence[DayRow]) -> int:
    """0 when every day is done or expired (nothing is left to do), else 1."""
    return 0 if all(day_outcome(row).state in FINISHED for row in rows) else 1


def render(rows: Sequence[DayRow], names: Sequence[str], as_json: bool, calendar_from: int = 32) -> str:
    """JSON lines alone (for scripts), or details (short ranges) or the calendar, then the summary."""
    if as_json:
        return "\n".join(json_lines(rows))
    body = detail_lines(rows) if len(rows) < calendar_from else calendar_lines(rows, names)
    return "\n".join([*body, "", *summary_lines(rows)])


def summary_lines(rows: Sequence[DayRow]) -> list[str]:
    """A line per calendar month, and a total when the range spans several months."""
    months = [list(month) for _, month in itertools.groupby(rows, key=lambda row: (row.day.year, row.day.month))]
    lines = [
        f"{calendar.month_name[month[0].day.month]} {month[0].day.year}: {_counts(month, True)}" for month in months
    ]
    if len(months) > 1:
        lines.append(f"Total {rows[0].day}..{rows[-1].day}: {_counts(rows, False)}")
    return lines


def calendar_lines(rows: Sequence[DayRow], names: Sequence[str]) -> list[str]:
    """A legend, then per month a line per step, a character per day with day 1 in the first column."""
    width = max(map(len, names), default=0)
    by_day = {row.day: row for row in rows}
    legend = ", ".join(f"{symbol} {state}" for state, symbol in SYMBOLS.items())
    lines = [f"Legend: {legend}, blank: not in the range", f"{'':7} {'':{width}} {_RULER}"]
    for year, month in dict.fromkeys((row.day.year, row.day.month) for row in rows):
        days = [datetime.date(year, month, n) for n in range(1, calendar.monthrange(year, month)[1] + 1)]
        for name in names:
            marks = "".join(_symbol(by_day.get(day), name) for day in days)
            lines.append(f"{year:04d}-{month:02d} {name:<{width}} {marks}".rstrip())
    return lines


def detail_lines(rows: Sequence[DayRow]) -> list[str]:
    """A line per day with each step's state, and under it the reason of each step not finished (once, where
    later steps wait for the same reason)."""
    lines = []
    for row in rows:
        steps = ", ".join(f"{name} {status.state}" for name, status in row.steps.items())
        lines.append(f"{row.day} {day_outcome(row).state}: {steps}")
        said = None
        for name, status in row.steps.items():
            if status.state not in FINISHED and status.reason and status.reason != said:
                lines.append(f"    {name}: {_one_line(status.reason)}")
                said = status.reason  # the steps after it that wait for the same reason say nothing more
    return lines


def json_lines(rows: Sequence[DayRow]) -> list[str]:
    """One JSON object a day, its steps in the pipeline's order."""
    return [
        json.dumps(
            {
                "day": row.day.isoformat(),
                "state": day_outcome(row).state,
                "steps": {name: {"state": s.state, "reason": s.reason} for name, s in row.steps.items()},
            }
        )
        for row in rows
    ]


def _counts(rows: Sequence[DayRow], listed: bool) -> str:
    """``31 days, 29 done, 1 failed (03-10: min_orders)``: the days of each outcome, named when ``listed``."""
    by_state: dict[str, list[tuple[datetime.date, StepStatus]]] = {state: [] for state in _COUNT_ORDER}
    for row in rows:
        outcome = day_outcome(row)
        by_state[outcome.state].append((row.day, outcome))
    parts = [f"{len(rows)} day" + ("" if len(rows) == 1 else "s")]
    for state, days in by_state.items():
        if not days:
            continue
        entries = _entries(state, days) if listed else []
        parts.append(f"{len(days)} {state}" + (f" ({_cut(entries)})" if entries else ""))
    return ", ".join(parts)


def _entries(state: str, days: list[tuple[datetime.date, StepStatus]]) -> list[tuple[str, int]]:
    """How a summary names days of ``state``, as (text, days it stands for): runs of three or more collapsed."""
    if state in _WITH_BRIEF:
        return [(f"{day:%m-%d}: {_one_line(s.brief)}" if s.brief else f"{day:%m-%d}", 1) for day, s in days]
    if state not in _DAYS_ONLY:
        return []
    entries = []
    for first, stop in contiguous_runs([day for day, _ in days]):
        if (stop - first).days >= 3:
            entries.append((f"{first:%m-%d}..{stop - ONE_DAY:%m-%d}", (stop - first).days))
        else:
            entries += [(f"{day:%m-%d}", 1) for day in days_between(first, stop)]
    return entries


def _cut(entries: list[tuple[str, int]]) -> str:
    """The first LISTED entries, then how many days the rest stand for."""
    rest = sum(count for _, count in entries[LISTED:])
    return ", ".join(text for text, _ in entries[:LISTED]) + (f", ... and {rest} more" if rest else "")


def _symbol(row: DayRow | None, name: str) -> str:
    status = row.steps.get(name) if row else None
    return SYMBOLS[status.state] if status else " "


def _one_line(text: str) -> str:
    """A reason or brief on one line: its non-blank lines joined with `` / ``."""
    return " / ".join(line.strip() for line in text.splitlines() if line.strip())
