"""The retention rule: which day partitions of which layer go, and their safe removal."""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
from pathlib import Path

from etl.partitions import RAW, RETAINED_LAYERS, list_partitions, partition_of

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_NAMES = {name: i for names in (WEEKDAYS, _FULL_NAMES) for i, name in enumerate(names)}


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
    """``"sat,sun"`` (or ``"saturday, sunday"``) -> ``{5, 6}`` (Monday is 0)."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    days = [_WEEKDAY_NAMES.get(name) for name in names]
    if not names or None in days:
        raise RetentionConfigError(
            f"cleanup_weekdays={text!r}: use comma-separated day names ({', '.join(WEEKDAYS)} or in full)"
        )
    return frozenset(days)


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


def plan_cleanup(
    base_dir: str | os.PathLike, date: datetime.date, policy: RetentionPolicy, processed: set[datetime.date]
) -> dict[str, list[Path]]:
    """The partitions to remove on ``date``, per layer, oldest first.

    ``processed`` holds the days whose processed output is complete. A raw partition of a day
    not processed yet is kept while its processed output could still be made and kept; older
    than the processed layer's own cutoff, it goes.
    """
    if date.weekday() not in policy.weekdays:
        return {layer: [] for layer in RETAINED_LAYERS}
    processed_cutoff = retention_cutoff(date, policy.processed_days)
    plan = {}
    for layer in RETAINED_LAYERS:
        cutoff = retention_cutoff(date, policy.days(layer))
        plan[layer] = [
            path
            for day, path in sorted(list_partitions(base_dir, layer).items())
            if day < cutoff and (layer != RAW or day in processed or day < processed_cutoff)
        ]
    return plan


def remove_partitions(base_dir: str | os.PathLike, paths: list[Path]) -> list[Path]:
    """Delete day partitions and the month and year directories they leave empty.

    Every path must be a day partition directory (``<layer>/year=/month=/day=``) of a retained
    layer under ``base_dir``, not a symlink; one that is not refuses the whole call before anything goes.
    """
    base = Path(base_dir).resolve()
    for path in paths:
        found = partition_of(base, Path(path).resolve())
        if Path(path).is_symlink() or found is None or found[0] not in RETAINED_LAYERS or not Path(path).is_dir():
            raise ValueError(f"refusing to delete {path}: not a day partition directory under {base}")
    removed = []
    for path in paths:
        resolved = Path(path).resolve()
        shutil.rmtree(resolved)
        removed.append(Path(path))
        for parent in (resolved.parent, resolved.parent.parent):
            if not any(parent.iterdir()):
                parent.rmdir()
    return removed
