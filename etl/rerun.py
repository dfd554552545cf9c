"""``etl rerun``: rebuild chosen days from a layer down, keeping what is there readable until it is replaced.

A rerun asks; it never deletes. It writes a request beside each step it rebuilds (:func:`etl.marks.ask_rerun`),
which the day state reads as stale, then runs the range. Each step takes its request away once it is built, so a
rerun that fails or is killed leaves every day as it was or as it will be, and the next plain run finishes it.
What reads a rebuilt step (the rolling metrics and reports of the next window − 1 days) is rebuilt through the
state's own staleness when the rebuilt bytes differ, and only then.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid

from etl.day_ranges import ONE_DAY
from etl.landing import check_rereadable
from etl.marks import ask_rerun
from etl.retention import ledger_without
from etl.run_settings import RunSettings
from etl.state import DayState, retired
from etl.status import STEPS, day_rows
from etl.storage.layout import RAW, RETAINED_LAYERS, RETIRED_DAYS_KEY
from etl.tasks import day_reads, full_view, landing_area, readers, reads


@dataclasses.dataclass(frozen=True)
class RerunPlan:
    """What a rerun rebuilds: per day, the steps asked for (from the layer down); the days retired by retention
    it leaves alone (or restores, with ``--include-expired``); the later days that may follow."""

    steps: dict[datetime.date, list[str]]
    expired: dict[datetime.date, str]  # why each day is left: what of it, or of what it reads, retention retired
    following: list[datetime.date]


def plan_rerun(
    settings: RunSettings,
    start: datetime.date,
    end: datetime.date,
    first_layer: str,
    failed: bool,
    stale: bool,
    include_expired: bool,
) -> RerunPlan:
    """The days of ``[start, end]`` to rebuild (those failed or stale, when asked), their steps from
    ``first_layer`` down, and the days whose rolling metrics read them. A day retention retired, or whose steps
    read a partition it retired (a raw partition under ``--from processed``), is left unless ``include_expired``:
    its rebuild would fail for want of it. From raw with the landing source,
    LandingFileError names the days whose files are gone, before anything is asked."""
    layers = RETAINED_LAYERS[RETAINED_LAYERS.index(first_layer) :]
    chosen: dict[datetime.date, list[str]] = {}
    expired = {}
    ledger = retired(settings.store)
    for row in day_rows(settings, start, end + ONE_DAY):
        states = {status.state for status in row.steps.values()}
        if (failed or stale) and not (
            (failed and states & {DayState.FAILED.value, DayState.HELD_BACK.value})
            or (stale and DayState.STALE.value in states)
        ):
            continue
        names = [name for name, make in STEPS.items() if make(date=row.day).outputs.layer in layers]
        if any(row.steps[name].state == DayState.EXPIRED.value for name in names) and not include_expired:
            expired[row.day] = "retired by retention"
            continue
        gone = sorted(
            {read for name in names for read in reads(STEPS[name](date=row.day)) if read[1] in ledger[read[0]]}
        )
        if gone and not include_expired:  # kept itself, but rebuilding it reads what retention retired
            partitions = ", ".join(f"{layer} {day}" for layer, day in gone)
            expired[row.day] = f"rebuilding it reads what retention retired ({partitions})"
            continue
        chosen[row.day] = names
    if settings.source == "landing" and RAW in layers:  # re-reading the source needs the files that fed each day
        check_rereadable(settings.store, landing_area(settings), chosen)
    return RerunPlan(chosen, expired, following_days(settings, chosen))


def following_days(settings: RunSettings, chosen: dict) -> list[datetime.date]:
    """The later days whose steps read a chosen day's partitions (their rolling metrics, and so their reports),
    from the tasks' reverse index of ``requires()``."""
    if not chosen:
        return []
    readers_of = readers(settings, set(chosen))
    return sorted(
        {day for chosen_day in chosen for layer in RETAINED_LAYERS for _, day in readers_of(layer, chosen_day)}
        - set(chosen)
    )


def ask(settings: RunSettings, plan: RerunPlan, restore_expired: bool) -> str:
    """Write the plan's requests (taking its days, and the days their windows read, out of the retention ledger
    first when asked); the request id."""
    store = settings.store
    request = uuid.uuid4().hex[:12]
    if restore_expired:
        days = sorted(window_of(plan.steps))
        restored = {layer: days for layer in RETAINED_LAYERS}
        store.update_json(RETIRED_DAYS_KEY, lambda ledger: ledger_without(ledger, restored) if ledger else None)
    view = full_view(settings)
    for day, names in plan.steps.items():
        for name in names:
            step = STEPS[name](date=day)
            if view.status(step).state is not DayState.MISSING:  # a missing step is built anyway
                ask_rerun(store, step.outputs.layer, day, step.outputs.step, request)
    return request


def window_of(days) -> set[datetime.date]:
    """The days and the earlier days their steps read (from the tasks' ``requires()``): what a day retention
    retired needs back to be built again."""
    return {date for day in days for _, date in day_reads(day)} | set(days)


def describe(settings: RunSettings, plan: RerunPlan) -> list[str]:
    """The partitions a rerun rebuilds, day by day, and what may follow: what ``--dry-run`` prints."""
    store = settings.store
    lines = []
    for day, names in plan.steps.items():
        by_layer: dict[str, list[str]] = {}
        for name in names:
            by_layer.setdefault(STEPS[name](date=day).outputs.layer, []).append(name)
        for layer, steps in by_layer.items():
            lines.append(f"{day} {layer}: {store.partition_location(layer, day)} ({', '.join(steps)})")
    for day, why in plan.expired.items():
        lines.append(f"{day}: {why}, left as it is (--include-expired rebuilds it)")
    if plan.following:
        days = ", ".join(str(day) for day in plan.following)
        lines.append(f"then, where the rebuilt bytes differ, the rolling metrics and reports of {days}")
    return lines
