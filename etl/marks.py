"""Completion marks: what a daily step read and wrote, by content version, and the settings that shaped it.

Each step writes ``_<step>.json`` into its day partition after its outputs (like Hadoop's ``_SUCCESS``, which
readers such as pyarrow's datasets skip). The day state (:mod:`etl.state`) compares a mark with the store as it
is now: a ``touch``, a copy or a restore with the same bytes changes nothing, other bytes make the step stale,
and other settings are shown as such. Input versions are taken before the step reads its inputs, so an input
replaced during the step reads as changed, never as what the outputs were built from.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from etl import clock
from etl.storage import Store
from etl.storage.layout import DAILY_REPORT, file_key

MARK_FORMAT = 1
RAW_STEP = "raw"  # the source's step: no mark (raw is what the others record), but a rerun may ask it to read again
BUILDING = "building"  # the outcome of a mark written before a step's first build of a day: not built yet


def mark_file(step: str) -> str:
    """The mark's file name in the step's day partition."""
    return f"_{step}.json"


def rerun_file(step: str) -> str:
    """A rerun's request to rebuild the step of the day: the state reads the step as stale while it is there."""
    return f"_{step}.rerun.json"


def ask_rerun(store: Store, layer: str, date: datetime.date, step: str, request: str) -> None:
    store.write_json(file_key(layer, date, rerun_file(step)), {"request": request, "at": clock.now().isoformat()})


def rerun_asked(store: Store, layer: str, date: datetime.date, step: str) -> str | None:
    """The request a step found when it started (None without one), to clear once it is built."""
    key = file_key(layer, date, rerun_file(step))
    return store.read_json(key)["request"] if store.exists(key) else None


def clear_rerun(store: Store, layer: str, date: datetime.date, step: str, seen: str | None) -> None:
    """Take away the request the step was built for; one asked again during the build stays."""
    if seen is not None and rerun_asked(store, layer, date, step) == seen:
        store.remove(file_key(layer, date, rerun_file(step)))


class StepRecord:
    """The versions of a step's inputs, taken when it starts; :meth:`seal` adds its outputs and writes the mark."""

    def __init__(self, store: Store, step: str, layer: str, date: datetime.date, settings: dict, inputs: Iterable[str]):
        self.store, self.step, self.layer, self.date, self.settings = store, step, layer, date, settings
        self.key = file_key(layer, date, mark_file(step))
        if not store.exists(self.key):  # a first build: outputs left by a kill before the mark are not taken as done
            store.write_json(self.key, {"mark": MARK_FORMAT, "step": step, "day": str(date), "outcome": BUILDING})
        self.rerun = rerun_asked(store, layer, date, step)
        self.inputs = {key: _recorded(store, key) for key in inputs}

    def seal(self, outputs: Iterable[str], outcome: str = "done") -> None:
        """Write the mark: the step's outcome for these inputs under these settings (``failed``: it refused them)."""
        self.store.write_json(
            self.key,
            {
                "mark": MARK_FORMAT,
                "step": self.step,
                "day": self.date.isoformat(),
                "outcome": outcome,
                "settings": self.settings,
                "inputs": self.inputs,
                "outputs": {key: _recorded(self.store, key) for key in outputs},
            },
        )
        clear_rerun(self.store, self.layer, self.date, self.step, self.rerun)


def built_from(mark: dict) -> dict:
    """What a mark says was built from what, without when its files were seen: equal for two builds of the same
    bytes (a report's own bytes aside: it holds the time it was generated)."""
    return {
        **mark,
        "inputs": {key: _content(recorded) for key, recorded in mark.get("inputs", {}).items()},
        "outputs": {
            key: None if key.endswith(DAILY_REPORT) else _content(v) for key, v in mark.get("outputs", {}).items()
        },
    }


def _content(recorded: dict | None) -> dict | None:
    return None if recorded is None else {"sha256": recorded["sha256"], "size": recorded["size"]}


def _recorded(store: Store, key: str) -> dict | None:
    version = store.version(key)
    return None if version is None else version.as_record()


# The settings that shape each step's outputs, under the names a user sets them by: built from the step
# function's own arguments when it writes its mark, and from the run's settings when the state compares.


def validate_settings(min_orders: int, timezone: str, max_rejected_share: float) -> dict[str, object]:
    return {
        "[validation] min_orders": min_orders,
        "[validation] max_rejected_share": max_rejected_share,
        "[etl] timezone": timezone,
    }


def process_settings(timezone: str, negative_amounts: str, excluded_statuses: Iterable[str]) -> dict[str, object]:
    return {
        "[etl] timezone": timezone,
        "[landing] negative_amounts": negative_amounts,
        "[revenue] excluded_statuses": list(excluded_statuses),
    }


def rolling_settings(window_days: int, window: list[datetime.date]) -> dict[str, object]:
    """The window's first and last day stand for ``[etl] start_date``, which cuts only the early days' windows."""
    return {"[rolling] window_days": window_days, "window": f"{window[0]}..{window[-1]}"}


def report_settings(trend_threshold: float) -> dict[str, object]:
    return {"[report] trend_threshold": trend_threshold}
