"""A small store of real days for the query and dashboard tests, built by the pipeline in this process: ten days
of which one (``BAD``) has too few orders, so it fails validation and is never processed."""

from __future__ import annotations

import datetime
from pathlib import Path

from conftest import FAST_DAYS, build, day_dir, luigi_config

from etl import DailyReport, GenerateDailyData

FIRST, BAD, LAST = datetime.date(2024, 1, 1), datetime.date(2024, 1, 4), datetime.date(2024, 1, 10)
BAD_ORDERS = 10  # fewer than FAST_DAYS' min_orders


def settings(base: Path | str) -> dict[str, dict[str, object]]:
    """The config the tree was built with, on ``base`` (a directory or an s3:// URL holding a copy of it)."""
    return {**FAST_DAYS, "etl": {"base_dir": str(base), "start_date": FIRST.isoformat()}}


def build_tree(base: Path) -> Path:
    """Build FIRST..LAST's reports in ``base``; BAD fails validation, the reports whose windows hold it wait."""
    with luigi_config() as apply:
        apply(settings(base))
        build(GenerateDailyData(date=BAD))
        raw = day_dir(base, "raw", BAD) / "orders.csv"
        raw.write_text("\n".join(raw.read_text().splitlines()[: BAD_ORDERS + 1]) + "\n")
        build(*(DailyReport(date=FIRST + datetime.timedelta(days=n)) for n in range((LAST - FIRST).days + 1)))
    return base
