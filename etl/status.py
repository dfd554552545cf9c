"""``etl status``: every day's state in every step, with its reason, from one view of the store.

What a day is in each step comes from :mod:`etl.state` alone (the tasks' own ``requires()`` and outputs);
this only picks the days, marks those not over yet as not due, and hands the rows to :mod:`etl.status_view`.
"""

from __future__ import annotations

import datetime

from etl import clock
from etl.day_ranges import days_between
from etl.marks import RAW_STEP
from etl.run_settings import RunSettings
from etl.state import DayState, DayStatus, StoreView
from etl.status_view import FINISHED, DayRow, StepStatus
from etl.tasks import READING_STEPS, full_view, raw_day

STEPS = {RAW_STEP: raw_day, **{step.outputs.step: step for step in READING_STEPS}}  # in the pipeline's order
NOT_DUE = DayStatus(DayState.NOT_DUE, "the day is not over yet in [etl] timezone")


def day_rows(settings: RunSettings, start: datetime.date, stop: datetime.date, view: StoreView | None = None):
    """A row per day of ``[start, stop)``: each step's state and reason, oldest day first."""
    view = view or full_view(settings)
    today = clock.today(settings.timezone)
    return [
        DayRow(day, {name: step_status(view, make(date=day), day, today) for name, make in STEPS.items()})
        for day in days_between(start, stop)
    ]


def step_status(view: StoreView, step, day: datetime.date, today: datetime.date) -> StepStatus:
    status = day_status(view, step, day, today)
    return StepStatus(status.state.value, status.reason, status.brief)


def day_status(view: StoreView, step, day: datetime.date, today: datetime.date) -> DayStatus:
    """The step's state on ``day``: not due while the day is not over, else what the store says."""
    return NOT_DUE if day >= today else view.status(step)


def first_not_done(row: DayRow) -> tuple[str, StepStatus] | None:
    """The day's first step, in the pipeline's order, that is not finished (None when the whole day is)."""
    return next(((name, s) for name, s in row.steps.items() if s.state not in FINISHED), None)
