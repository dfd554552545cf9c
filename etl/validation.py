"""The quality gate of a raw day: each rule reports pass/fail with counts, and any failure fails the day."""

from __future__ import annotations

import dataclasses
import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.csv_io import ORDER_COLUMNS, REFUNDED_AMOUNT

CRITICAL_COLUMNS = ("order_id", "customer_id", "order_timestamp", "quantity", "unit_price", "total_amount")
NUMERIC_COLUMNS = ("quantity", "unit_price", "total_amount")
OFFSET = r"(?:Z|[+-][0-9]{2}:?[0-9]{2})$"
CANONICAL_TIME = "%Y-%m-%dT%H:%M:%S"
DATE_ONLY = "%Y-%m-%d"


class DataValidationError(Exception):
    """A day's raw orders broke one or more validation rules."""


@dataclasses.dataclass(frozen=True)
class RuleResult:
    """The outcome of one rule: what it checks, whether it passed, and the counts behind that."""

    rule: str
    passed: bool
    detail: str
    failing_rows: int = 0

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def unreadable(error: Exception) -> list[RuleResult]:
    """The rule results of a file that is not readable CSV."""
    return [RuleResult("readable_csv", False, f"not a readable CSV file: {error}", 0)]


def validate_orders(
    orders: pd.DataFrame, date: datetime.date, min_orders: int, timezone: str = "UTC"
) -> list[RuleResult]:
    """Check one day of raw orders against every rule; the order of results is the order of the rules.

    ``timezone`` is the business day's: timestamps with a UTC offset are converted to it.
    """
    missing = [c for c in ORDER_COLUMNS if c not in orders.columns]
    results = [
        RuleResult(
            "min_orders",
            len(orders) >= min_orders,
            f"{len(orders)} orders, at least {min_orders} required",
            0 if len(orders) >= min_orders else min_orders - len(orders),
        ),
        RuleResult(
            "required_columns",
            not missing,
            f"missing columns: {', '.join(missing)}" if missing else f"all {len(ORDER_COLUMNS)} columns present",
            0,
        ),
    ]
    if missing:
        return results
    results.append(_critical_not_null(orders))
    results.append(_numeric_fields(orders))
    results.append(_timestamps_in_day(orders, date, timezone))
    return results


def rejected_share(rejected: dict[str, int], accepted: int, max_share: float) -> RuleResult:
    """The rows of a landed day that ingest refused (kept in ``rejected_rows.csv``): at most ``max_share`` of
    all the day's rows, or the day fails with the count for each reason."""
    refused = sum(rejected.values())
    total = refused + accepted
    share = refused / total if total else 0.0
    counts = "".join(f"; {reason}: {count}" for reason, count in sorted(rejected.items()))
    return RuleResult(
        "rejected_share",
        share <= max_share,
        f"{refused} of {total} landed rows refused ({share:.2%}, at most {max_share:.2%}){counts}",
        refused,
    )


def same_calendar(bucketed_with: dict | None, timezone: str) -> RuleResult | None:
    """A landed day was given its rows in the zone its manifest names: checked in another, every timestamp would
    seem outside the day, so the day fails naming the change instead (None for a day without that record)."""
    if bucketed_with is None:
        return None
    then = bucketed_with["timezone"]
    return RuleResult(
        "same_calendar",
        then == timezone,
        f"bucketed with [etl] timezone {then}"
        + ("" if then == timezone else f", now {timezone}: re-bucket the history (README: Changing zones)"),
        0,
    )


def failed_rules(results: list[RuleResult]) -> list[RuleResult]:
    """The rules that did not pass."""
    return [r for r in results if not r.passed]


def refusal(date: datetime.date, location: str, rules: list[dict]) -> str:
    """Why a day was refused, as the error and the day's state both say it: the day, the file, each failed rule."""
    failed = "; ".join(f"{rule['rule']}: {rule['detail']}" for rule in rules if not rule["passed"])
    return f"validation failed for {date} in {location}: {failed}"


def checked_with(min_orders: int, timezone: str, max_rejected_share: float) -> dict[str, object]:
    """The settings a validation outcome holds for: a refusal under other ones is tried again."""
    return {"min_orders": min_orders, "timezone": timezone, "max_rejected_share": max_rejected_share}


def order_timestamps(orders: pd.DataFrame, timezone: str = "UTC") -> pd.Series:
    """Parse ``order_timestamp`` (ISO 8601) as naive business-day times; unparseable values become NaT.

    A naive timestamp is already in the business timezone; one with an offset (``Z``, ``+01:00``)
    is converted to ``timezone``. The canonical ``YYYY-MM-DDTHH:MM:SS`` form is parsed by Arrow
    in one pass; only other spellings go through the general ISO 8601 parser.
    """
    text = orders["order_timestamp"]
    canonical = exact_strptime(pa.array(text, type=pa.string()), CANONICAL_TIME)
    stamps = pd.Series(canonical.to_numpy(zero_copy_only=False), index=orders.index).astype("datetime64[us]")
    other = (stamps.isna() & text.notna()).to_numpy()
    if other.any():
        stamps[other] = _parse_iso8601(text[other], timezone)
    return stamps


def exact_strptime(text: pa.Array, form: str) -> pa.Array:
    """``text`` as timestamps where it is exactly ``form`` (CANONICAL_TIME or DATE_ONLY, zero-padded) of a real
    moment, else null: Arrow's strptime alone rolls 2024-02-30 over into March and 23:59:60 into the next day."""
    stamps = pc.strptime(text, format=form, unit="s", error_is_null=True)
    if form == DATE_ONLY:
        spelled = pc.cast(pc.cast(stamps, pa.date32()), pa.string())
    else:
        spelled = pc.replace_substring(pc.cast(stamps, pa.string()), " ", "T")
    return pc.if_else(pc.fill_null(pc.equal(spelled, text), False), stamps, pa.scalar(None, stamps.type))


def _parse_iso8601(text: pd.Series, timezone: str) -> pd.Series:
    with_offset = text.str.contains(OFFSET, regex=True, na=False)
    naive = pd.to_datetime(text.where(~with_offset), format="ISO8601", errors="coerce")
    if not with_offset.any():
        return naive
    aware = pd.to_datetime(text.where(with_offset), format="ISO8601", errors="coerce", utc=True)
    return naive.where(~with_offset, aware.dt.tz_convert(timezone).dt.tz_localize(None))


def _critical_not_null(orders: pd.DataFrame) -> RuleResult:
    nulls = {c: orders[c].isna().to_numpy() for c in CRITICAL_COLUMNS}
    offending = {c: int(mask.sum()) for c, mask in nulls.items() if mask.any()}
    rows = int(np.logical_or.reduce(list(nulls.values())).sum())
    detail = ", ".join(f"{c}: {n} null" for c, n in offending.items()) or "no nulls in critical fields"
    return RuleResult("critical_not_null", not offending, detail, rows)


def _numeric_fields(orders: pd.DataFrame) -> RuleResult:
    """Every present amount is a finite number (``nan``, ``inf`` and text fail), every quantity whole, and a landed
    day's refunded_amount, where given, not negative."""
    bad = np.zeros(len(orders), dtype=bool)
    if REFUNDED_AMOUNT in orders.columns:
        refunded = pd.to_numeric(orders[REFUNDED_AMOUNT], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad |= orders[REFUNDED_AMOUNT].notna().to_numpy() & ~(np.isfinite(refunded) & (refunded >= 0))
    for column in NUMERIC_COLUMNS:
        values = orders[column]
        if pd.api.types.is_integer_dtype(values):
            continue
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad |= values.notna().to_numpy() & ~np.isfinite(numbers)
        if column == "quantity":
            finite = np.isfinite(numbers)
            bad |= finite & (np.where(finite, numbers, 0) % 1 != 0)
    rows = int(bad.sum())
    return RuleResult(
        "numeric_fields",
        rows == 0,
        f"{rows} rows with a non-numeric or non-finite amount or a fractional quantity",
        rows,
    )


def _timestamps_in_day(orders: pd.DataFrame, date: datetime.date, timezone: str) -> RuleResult:
    stamps = order_timestamps(orders, timezone)
    start = pd.Timestamp(date)
    outside = orders["order_timestamp"].notna() & ~((stamps >= start) & (stamps < start + pd.Timedelta(days=1)))
    rows = int(outside.sum())
    return RuleResult(
        "timestamps_in_day", rows == 0, f"{rows} timestamps unparseable or outside {date.isoformat()}", rows
    )
