"""Recipes: the settings for real shop systems' exports, as the README shows them, tested end to end (issue 13, item 9).

Each recipe is one dict in :data:`RECIPES`; the README's "Recipes" ini blocks must say exactly the same
(:func:`test_the_readme_recipes_are_the_tested_settings`). Each recipe's test writes an export in that system's
documented column layout, runs ``RangeDaily`` over its days and compares every day's summary with figures counted
here in plain Python from what the generator meant (the instant, the amount in cents, the status), never from the
pipeline's output.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import json
import random
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import luigi
import pytest
from conftest import build, day_dir

from etl import DailyReport, RangeDaily

D = datetime.date
UTC = datetime.UTC
JSON_SETTINGS = {("landing", "column_map"), ("landing", "defaults"), ("revenue", "excluded_statuses")}
FIELDS = (
    "total_orders", "total_revenue", "net_revenue", "refunds", "refund_count", "excluded_orders", "total_items",
    "unique_customers",
)  # fmt: skip

# fmt: off
RECIPES: dict[str, dict[str, dict[str, object]]] = {
    "shopify": {
        "etl": {"source": "landing", "timezone": "America/New_York"},
        "landing": {
            "rows": "line_items",
            "column_map": {
                "Name": "order_id", "Email": "customer_id", "Financial Status": "status", "Total": "total_amount",
                "Created at": "order_timestamp", "Lineitem quantity": "quantity", "Lineitem sku": "product_id",
                "Payment Method": "payment_method",
            },
            "timestamp_format": "%%Y-%%m-%%d %%H:%%M:%%S %%z",
        },
    },
    "woocommerce": {
        "etl": {"source": "landing", "timezone": "UTC"},
        "landing": {
            "rows": "line_items",
            "column_map": {
                "order_date": "order_timestamp", "order_total": "total_amount", "item_quantity": "quantity",
                "item_sku": "product_id",
            },
            "source_timezone": "Australia/Sydney",
        },
        "revenue": {
            "excluded_statuses": [
                "pending", "cancelled", "failed", "refunded", "wc-pending", "wc-cancelled", "wc-failed", "wc-refunded",
            ],
        },
    },
    "stripe": {
        "etl": {"source": "landing", "timezone": "America/New_York"},
        "landing": {
            "column_map": {
                "id": "order_id", "Created date (UTC)": "order_timestamp", "Amount": "total_amount",
                "Customer ID": "customer_id", "Status": "status", "Card Brand": "payment_method",
            },
            "source_timezone": "UTC",
            "thousands": ",",
            "defaults": {"quantity": 1},
        },
    },
    "european": {
        "etl": {"source": "landing", "timezone": "Europe/Berlin"},
        "landing": {
            "column_map": {
                "Bestellnummer": "order_id", "Bestelldatum": "order_timestamp", "Kundennummer": "customer_id",
                "Artikelnummer": "product_id", "Menge": "quantity", "Einzelpreis": "unit_price",
                "Gesamtbetrag": "total_amount", "Zahlungsart": "payment_method", "Status": "status",
            },
            "delimiter": ";",
            "encoding": "cp1252",
            "decimal": ",",
            "thousands": ".",
            "timestamp_format": "%%d.%%m.%%Y %%H:%%M",
        },
        "revenue": {"excluded_statuses": ["storniert", "zurückerstattet", "fehlgeschlagen"]},
    },
}
# fmt: on


def config_text(section: str, option: str, value: object) -> str:
    """A recipe's value as the config holds it: JSON settings as JSON, the rest as written."""
    return json.dumps(value, ensure_ascii=False) if (section, option) in JSON_SETTINGS else str(value)


@dataclasses.dataclass(frozen=True)
class Sale:
    """What the generator meant one order (or refund) to be, in the business zone's day."""

    day: datetime.date
    customer: str
    items: int
    cents: int
    counted: bool = True  # in net revenue: its status is not one this test calls excluded
    refund: bool = False


def expected_figures(sales: Iterable[Sale]) -> dict[datetime.date, dict]:
    """Each day's summary figures from the generator's sales, counted here in integer cents."""
    days: dict[datetime.date, list[Sale]] = defaultdict(list)
    for sale in sales:
        days[sale.day].append(sale)
    figures = {}
    for day, day_sales in days.items():
        orders = [sale for sale in day_sales if not sale.refund]
        refunds = [sale.cents for sale in day_sales if sale.refund]
        counted = sum(sale.cents for sale in orders if sale.counted)
        figures[day] = {
            "total_orders": len(orders),
            "total_revenue": sum(sale.cents for sale in orders) / 100,
            "net_revenue": (counted - sum(refunds)) / 100,
            "refunds": sum(refunds) / 100,
            "refund_count": len(refunds),
            "excluded_orders": sum(not sale.counted for sale in orders),
            "total_items": sum(sale.items for sale in orders),
            "unique_customers": len({sale.customer for sale in orders}),
        }
    return figures


def csv_text(header: list[str], rows: list[dict], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, delimiter=delimiter, lineterminator="\r\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def instants(rng: random.Random, days: list[datetime.date], zone: str, per_day: int) -> list[datetime.datetime]:
    """``per_day`` UTC instants in each business day of ``zone``, a fifth of them within 90 minutes of a midnight."""
    tz = zoneinfo.ZoneInfo(zone)
    chosen = []
    for day in days:
        start = datetime.datetime.combine(day, datetime.time(), tz).astimezone(UTC)
        stop = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(), tz).astimezone(UTC)
        seconds = int((stop - start).total_seconds())
        for n in range(per_day):
            if n % 10 == 0:
                offset = rng.randrange(90 * 60)  # just after midnight
            elif n % 10 == 1:
                offset = seconds - 1 - rng.randrange(90 * 60)  # just before the next
            else:
                offset = rng.randrange(seconds)
            chosen.append(start + datetime.timedelta(seconds=offset))
    return sorted(chosen)


def money(cents: int, thousands: str = "", decimal: str = ".") -> str:
    """12345 as 123.45 (or 1,234.50, 1.234,50 with marks), written here independently of the package."""
    whole, rest = divmod(abs(cents), 100)
    digits = f"{whole}"
    if thousands:
        groups = []
        while len(digits) > 3:
            digits, groups = digits[:-3], [digits[-3:], *groups]
        digits = thousands.join([digits, *groups])
    return f"{'-' if cents < 0 else ''}{digits}{decimal}{rest:02d}"


@pytest.fixture
def recipe(configure, base_dir, tmp_path):
    """Configure one recipe's settings (those of the README), with a landing directory in tmp_path."""
    directory = tmp_path / "exports"
    directory.mkdir()

    def apply(name: str, first_day: datetime.date) -> Path:
        sections: dict[str, dict[str, object]] = {
            section: {option: config_text(section, option, value) for option, value in options.items()}
            for section, options in RECIPES[name].items()
        }
        sections["etl"] = {**sections["etl"], "start_date": first_day.isoformat()}
        sections["landing"] = {**sections["landing"], "directory": str(directory)}
        sections["validation"] = {"min_orders": "1"}
        configure(sections)
        return directory

    return apply


def run_and_compare(base_dir: Path, sales: list[Sale], days: list[datetime.date]) -> dict[datetime.date, dict]:
    """Run the range over ``days`` and check every day's summary against the sales; the summaries."""
    result = build(RangeDaily(of=DailyReport, start=days[0], stop=days[-1] + datetime.timedelta(days=1)))
    assert result.status == luigi.LuigiStatusCode.SUCCESS, result.summary_text
    figures = expected_figures(sales)
    assert sorted(figures) == days, "every day has sales"
    summaries = {day: json.loads((day_dir(base_dir, "processed", day) / "daily_summary.json").read_text())
                 for day in days}  # fmt: skip
    for day in days:
        assert {field: summaries[day][field] for field in FIELDS} == figures[day], day
    return summaries


def test_a_shopify_orders_export_gives_each_days_figures(recipe, base_dir):
    """Shopify Admin > Orders > Export (CSV for Excel or plain CSV): one row per line item.

    Layout from Shopify's help page "Exporting orders" and the order CSV it writes: Name (#1001), Email,
    Financial Status, Paid at, Fulfillment Status, Accepts Marketing, Currency, Subtotal, Shipping, Taxes, Total,
    Discount Code, Discount Amount, Shipping Method, Created at ("2024-03-08 21:14:05 -0800", the shop's zone with
    its offset), Lineitem quantity/name/price/sku, Billing Name, ..., Payment Method, Refunded Amount, Vendor, Id.
    The order-level fields (Financial Status, the money columns, Payment Method, Id) stand on an order's first
    row only; Name, Email and Created at on every row. The shop is in Los Angeles and the business day is New
    York's, over the spring-forward weekend: evening orders land on the next business day. Financial Status
    refunded and voided leave net revenue (the default excluded_statuses); pending and partially_refunded stay
    (Shopify's Refunded Amount has no canonical column: a partial refund is not subtracted).
    """
    days = [D(2024, 3, 8) + datetime.timedelta(days=n) for n in range(4)]
    directory = recipe("shopify", days[0])
    rng = random.Random(9)
    shop, business = zoneinfo.ZoneInfo("America/Los_Angeles"), zoneinfo.ZoneInfo("America/New_York")
    header = [
        "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Accepts Marketing", "Currency",
        "Subtotal", "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount", "Shipping Method", "Created at",
        "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem sku", "Billing Name", "Billing City",
        "Payment Method", "Refunded Amount", "Vendor", "Id",
    ]  # fmt: skip
    statuses = ["paid"] * 12 + ["pending", "refunded", "voided", "partially_refunded"] * 2
    products = [("Linen Shirt", "LS-01", 4900), ("Canvas Tote", "CT-02", 1850), ("Wool Beanie", "WB-03", 2400),
                ("Trail Boots", "TB-04", 15900), ("Gift Card", "GC-05", 5000)]  # fmt: skip
    rows, sales, moved = [], [], 0
    for n, instant in enumerate(instants(rng, days, "America/New_York", per_day=24)):
        name, email, status = f"#{1001 + n}", f"buyer{rng.randint(1, 60)}@example.com", rng.choice(statuses)
        lines = [(rng.choice(products), rng.randint(1, 3)) for _ in range(rng.choice([1, 1, 1, 2, 2, 3]))]
        subtotal = sum(price * quantity for (_, _, price), quantity in lines)
        shipping = 0 if subtotal >= 10000 else 695
        discount = subtotal // 10 if n % 7 == 0 else 0
        taxes = round((subtotal - discount) * 0.0725)
        total = subtotal - discount + shipping + taxes
        created = instant.astimezone(shop).strftime("%Y-%m-%d %H:%M:%S %z")
        for line, ((title, sku, price), quantity) in enumerate(lines):
            row = {"Name": name, "Email": email, "Created at": created, "Lineitem quantity": str(quantity),
                   "Lineitem name": title, "Lineitem price": money(price), "Lineitem sku": sku,
                   "Vendor": "Acme"}  # fmt: skip
            if line == 0:
                row |= {
                    "Financial Status": status, "Paid at": created if status != "pending" else "",
                    "Fulfillment Status": "fulfilled", "Accepts Marketing": "no", "Currency": "USD",
                    "Subtotal": money(subtotal), "Shipping": money(shipping), "Taxes": money(taxes),
                    "Total": money(total), "Discount Code": "WELCOME10" if discount else "",
                    "Discount Amount": money(discount), "Shipping Method": "Standard", "Billing Name": "Jo Doe",
                    "Billing City": "Los Angeles", "Payment Method": "Shopify Payments",
                    "Refunded Amount": money(total // 2 if status == "partially_refunded" else 0),
                    "Id": str(5600000000 + n),
                }  # fmt: skip
            rows.append(row)
        sales.append(Sale(instant.astimezone(business).date(), email, sum(q for _, q in lines), total,
                          counted=status not in ("refunded", "voided")))  # fmt: skip
        moved += instant.astimezone(business).date() != instant.astimezone(shop).date()
    rows.reverse()  # Shopify lists the newest order first
    (directory / "orders_export_1.csv").write_text(csv_text(header, rows), encoding="utf-8")

    run_and_compare(base_dir, sales, days)

    assert moved >= 5, "evening orders in Los Angeles are the next day in New York"
    assert len(rows) > len(sales), "some orders have more than one line item"
