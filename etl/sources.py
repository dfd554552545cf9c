"""Where a day of orders comes from, behind one small interface."""

from __future__ import annotations

import datetime
from typing import Protocol

import pandas as pd

from etl.generation import GenerationSettings, generate_orders


class OrderSource(Protocol):
    """A provider of one day of raw orders in the canonical columns."""

    def orders_for_day(self, date: datetime.date) -> pd.DataFrame: ...


class SyntheticOrderSource:
    """Reproducible synthetic orders (see :mod:`etl.generation`), in local times of the business timezone."""

    def __init__(self, settings: GenerationSettings, timezone: str = "UTC") -> None:
        self.settings = settings
        self.timezone = timezone

    def orders_for_day(self, date: datetime.date) -> pd.DataFrame:
        return generate_orders(date, self.settings, self.timezone)


def order_source(source: str, generation: GenerationSettings, timezone: str) -> OrderSource:
    """The configured source of raw orders (``[etl] source``)."""
    if source != "synthetic":
        raise ValueError(f"unknown order source {source!r}")
    return SyntheticOrderSource(generation, timezone)
