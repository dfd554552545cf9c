"""The retention rule: which day partitions of which layer go, and their safe removal."""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
from pathlib import Path

from etl.partitions import PROCESSED, RAW, RETAINED_LAYERS, list_partitions

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RetentionConfigError(ValueError):
    """The retention settings contradict each other or the pipeline."""


@dataclasses.dataclass(frozen=True)
class RetentionPolicy:
    """Days each layer keeps, and the weekdays on which cleanup removes anything."""

    raw_days: int
    processed_days: int
    metrics_days: int
    weekdays: frozenset[int]

    def days(self, layer: str) -> int:
        return {"raw": self.raw_days, "processed": self.processed_days, "metrics": self.metrics_days}[layer]


def parse_weekdays(text: str) -> frozenset[int]:
    """``"sat,sun"`` -> ``{5, 6}`` (Monday is 0)."""
    names = [part.strip().lower()[:3] for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in WEEKDAYS]
    if unknown or not names:
        raise RetentionConfigError(f"cleanup_weekdays={text!r}: use comma-separated names from {', '.join(WEEKDAYS)}")
    return frozenset(WEEKDAYS.index(n) for n in names)


def check_policy(policy: RetentionPolicy, window_days: int) -> None:
    """Refuse a policy that would delete what the pipeline still reads."""
    for layer in RETAINED_LAYERS:
        if policy.days(layer) < 1:
            raise RetentionConfigError(f"retention {layer}_days={policy.days(layer)} must be at least 1")
    if policy.processed_days < window_days:
        raise RetentionConfigError(
            f"retention processed_days={policy.processed_days} is shorter than the rolling window "
            f"window_days={window_days}: cleanup would delete days that rolling metrics still read"
        )


def retention_cutoff(date: datetime.date, days: int) -> datetime.date:
    """Partitions of days strictly before this are due for removal."""
    return date - datetime.timedelta(days=days)


def plan_cleanup(base_dir: str | os.PathLike, date: datetime.date, policy: RetentionPolicy) -> dict[str, list[Path]]:
    """The partitions to remove on ``date``, per layer, oldest first.

    A raw partition whose processed partition does not exist yet is kept: it has not been consumed.
    """
    if date.weekday() not in policy.weekdays:
        return {layer: [] for layer in RETAINED_LAYERS}
    processed = list_partitions(base_dir, PROCESSED)
    plan = {}
    for layer in RETAINED_LAYERS:
        cutoff = retention_cutoff(date, policy.days(layer))
        plan[layer] = [
            path
            for day, path in sorted(list_partitions(base_dir, layer).items())
            if day < cutoff and (layer != RAW or day in processed)
        ]
    return plan


def remove_partitions(base_dir: str | os.PathLike, paths: list[Path]) -> list[Path]:
    """Delete day partitions and the month and year directories they leave empty.

    Every path must be a real directory strictly inside ``base_dir``; anything else is refused.
    """
    base = Path(base_dir).resolve()
    removed = []
    for path in paths:
        resolved = Path(path).resolve()
        if path.is_symlink() or base not in resolved.parents or not resolved.is_dir():
            raise ValueError(f"refusing to delete {path}: not a partition directory inside {base}")
        shutil.rmtree(resolved)
        removed.append(path)
        for parent in (resolved.parent, resolved.parent.parent):
            if parent != base and base in parent.parents and not any(parent.iterdir()):
                parent.rmdir()
    return removed
