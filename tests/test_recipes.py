"""Recipes: the settings for real shop systems' exports, as the README shows them, tested end to end (issue 13, item 9).

Each recipe is one dict in :data:`RECIPES`; the README's "Recipes" ini blocks must say exactly the same
(:func:`test_the_readme_recipes_are_the_tested_settings`). Each recipe's test writes an export in that system's
documented column layout, runs ``RangeDaily`` over its days and compares every day's summary with figures counted
here in plain Python from what the generator meant (the instant, the amount in cents, the status), never from the
pipeline's output.
"""

from __future__ import annotations

import configparser
import csv
import dataclasses
import datetime
import io
import json
import random
import re
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import luigi
import pytest
from conftest import REPO, build, day_dir, run_luigi

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
                "Payment Method": "payment_method", "Refunded Amount": "refunded_amount",
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
                "item_sku": "product_id", "customer_id": "", "billing_email": "customer_id",
                "refunded_total": "refunded_amount",
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
                "Amount Refunded": "refunded_amount",
            },
            "source_timezone": "UTC",
            "thousands": ",",
            "defaults": {"quantity": 1, "customer_id": "guest"},
        },
        "revenue": {"excluded_statuses": ["failed"]},
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
    refunded: int = 0  # cents of it refunded, as the export states on the order


def expected_figures(sales: Iterable[Sale]) -> dict[datetime.date, dict]:
    """Each day's summary figures from the generator's sales, counted here in integer cents."""
    days: dict[datetime.date, list[Sale]] = defaultdict(list)
    for sale in sales:
        days[sale.day].append(sale)
    figures = {}
    for day, day_sales in days.items():
        orders = [sale for sale in day_sales if not sale.refund]
        refunds = [sale.cents for sale in day_sales if sale.refund]
        refunds += [
            sale.refunded for sale in orders if sale.counted and sale.refunded
        ]  # an excluded order leaves whole
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


@pytest.fixture(params=["build", pytest.param("luigi command", marks=pytest.mark.slow)])
def recipe(request, configure, base_dir, tmp_path):
    """Configure one recipe's settings (those of the README), with a landing directory in tmp_path: in this
    process for ``luigi.build``, or as the README's own ini block in a ``luigi.cfg`` for the real command."""
    directory = tmp_path / "exports"
    directory.mkdir()

    def apply(name: str, first_day: datetime.date) -> Path:
        apply.command = [
            f"--etl-base-dir={base_dir}", f"--etl-start-date={first_day}", f"--landing-directory={directory}",
            "--validation-min-orders=1",
        ]  # fmt: skip
        (tmp_path / "luigi.cfg").write_text(readme_block(name), encoding="utf-8")
        sections: dict[str, dict[str, object]] = {
            section: {option: config_text(section, option, value) for option, value in options.items()}
            for section, options in RECIPES[name].items()
        }
        sections["etl"] = {**sections["etl"], "start_date": first_day.isoformat()}
        sections["landing"] = {**sections["landing"], "directory": str(directory)}
        sections["validation"] = {"min_orders": "1"}
        configure(sections)
        return directory

    apply.via, apply.cwd = request.param, tmp_path
    return apply


def run_and_compare(recipe, base_dir: Path, sales: list[Sale], days: list[datetime.date]) -> dict[datetime.date, dict]:
    """Run the range over ``days`` (by ``luigi.build`` or the real command, as ``recipe`` says) and check every
    day's summary against the sales; the summaries."""
    stop = days[-1] + datetime.timedelta(days=1)
    if recipe.via == "build":
        result = build(RangeDaily(of=DailyReport, start=days[0], stop=stop))
        assert result.status == luigi.LuigiStatusCode.SUCCESS, result.summary_text
    else:
        run = run_luigi("RangeDaily", "--of", "DailyReport", f"--start={days[0]}", f"--stop={stop}",
                        *recipe.command, cwd=recipe.cwd)  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
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
    refunded and voided leave net revenue (the default excluded_statuses); pending and partially_refunded stay,
    the latter less its Refunded Amount (refunded_amount).
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
                    "Refunded Amount": money(total // 2 if status == "partially_refunded" else total
                                             if status == "refunded" else 0),
                    "Id": str(5600000000 + n),
                }  # fmt: skip
            rows.append(row)
        refunded = total // 2 if status == "partially_refunded" else 0
        sales.append(Sale(instant.astimezone(business).date(), email, sum(q for _, q in lines), total,
                          counted=status not in ("refunded", "voided"), refunded=refunded))  # fmt: skip
        moved += instant.astimezone(business).date() != instant.astimezone(shop).date()
    rows.reverse()  # Shopify lists the newest order first
    (directory / "orders_export_1.csv").write_text(csv_text(header, rows), encoding="utf-8")

    run_and_compare(recipe, base_dir, sales, days)

    assert moved >= 5, "evening orders in Los Angeles are the next day in New York"
    assert len(rows) > len(sales), "some orders have more than one line item"


@pytest.mark.parametrize("prefix", ["", "wc-"], ids=["status", "wc-status"])
def test_a_woocommerce_orders_export_gives_each_days_figures(recipe, base_dir, prefix):
    """WooCommerce Customer/Order/Coupon Export (the extension sold on woocommerce.com), its built-in format
    "Default CSV format - One row per line item": every row repeats the order's columns (order_id, order_number,
    order_date "2024-04-05 14:03:22" in the shop's WordPress timezone, status, the totals with order_total,
    refunded_total, payment_method, customer_id, billing_*) beside the item's (item_name, item_sku, item_quantity,
    item_total, ...). Its status is written without the ``wc-`` prefix WordPress stores (``wc-completed``);
    exporters that write the stored value have it, so the recipe lists both spellings, and the test runs both.

    customer_id is the WordPress user id, 0 for every guest: the recipe drops it (``"customer_id": ""``) and takes
    billing_email as the customer. The shop is in Sydney over the end of daylight saving time (7 April 2024); the
    business day is UTC's, so a Sydney morning is the previous business day. Pending payment, cancelled, failed
    and refunded orders leave net revenue; a partial refund (refunded_total of a completed order) is subtracted.
    """
    days = [D(2024, 4, 5) + datetime.timedelta(days=n) for n in range(4)]
    directory = recipe("woocommerce", days[0])
    rng = random.Random(21 if prefix else 12)
    shop = zoneinfo.ZoneInfo("Australia/Sydney")
    header = [
        "order_id", "order_number", "order_date", "status", "shipping_total", "shipping_tax_total", "fee_total",
        "tax_total", "discount_total", "order_total", "refunded_total", "order_currency", "payment_method",
        "shipping_method", "customer_id", "billing_first_name", "billing_last_name", "billing_email",
        "billing_country", "item_id", "item_product_id", "item_name", "item_sku", "item_quantity", "item_subtotal",
        "item_total", "item_refunded",
    ]  # fmt: skip
    statuses = ["completed"] * 8 + ["processing"] * 4 + ["on-hold", "pending", "cancelled", "failed", "refunded"]
    products = [(31, "Flat White Beans 1kg", "FW-1K", 3900), (32, "Pour-over Kettle", "POK-1", 8950),
                (33, "Ceramic Cup", "CC-2", 1450), (34, "Espresso Grinder", "EG-900", 109900)]  # fmt: skip
    rows, sales, moved, item_id = [], [], 0, 900
    for n, instant in enumerate(instants(rng, days, "UTC", per_day=20)):
        order_id, status = 4100 + n, rng.choice(statuses)
        user = rng.choice([0, 0, rng.randint(2, 40)])  # guests are user 0
        lines = [(rng.choice(products), rng.randint(1, 4)) for _ in range(rng.choice([1, 1, 2, 3]))]
        subtotal = sum(price * quantity for (_, _, _, price), quantity in lines)
        shipping, tax = (0 if subtotal > 15000 else 1000), round(subtotal / 11)  # GST included in prices
        total = subtotal + shipping
        local = instant.astimezone(shop)
        refunded = total if status == "refunded" else (total // 5 if status == "completed" and n % 4 == 0 else 0)
        for (product_id, name, sku, price), quantity in lines:
            item_id += 1
            rows.append({
                "order_id": str(order_id), "order_number": str(order_id), "order_date": f"{local:%Y-%m-%d %H:%M:%S}",
                "status": prefix + status, "shipping_total": money(shipping), "shipping_tax_total": "0.00",
                "fee_total": "0.00", "tax_total": money(tax), "discount_total": "0.00", "order_total": money(total),
                "refunded_total": money(refunded), "order_currency": "AUD",
                "payment_method": rng.choice(["stripe", "ppcp-gateway", "bacs"]), "shipping_method": "Flat rate",
                "customer_id": str(user), "billing_first_name": "Sam", "billing_last_name": "Nguyễn",
                "billing_email": f"sam{n}@example.com.au", "billing_country": "AU", "item_id": str(item_id),
                "item_product_id": str(product_id), "item_name": name, "item_sku": sku,
                "item_quantity": str(quantity), "item_subtotal": money(price * quantity),
                "item_total": money(price * quantity), "item_refunded": "0.00",
            })  # fmt: skip
        counted = status not in ("pending", "cancelled", "failed", "refunded")
        sales.append(Sale(instant.date(), f"sam{n}@example.com.au", sum(q for _, q in lines), total, counted=counted,
                          refunded=refunded))  # fmt: skip
        moved += local.date() != instant.date()
    rows.reverse()  # the newest order first, as the export lists them
    (directory / "wc-order-export-2024-04-09.csv").write_text(csv_text(header, rows), encoding="utf-8")

    run_and_compare(recipe, base_dir, sales, days)

    assert moved >= 10, "Sydney mornings are the previous day in UTC"
    assert len(rows) > len(sales), "some orders have more than one line item"


def test_a_stripe_payments_export_gives_each_days_figures(recipe, base_dir):
    """Stripe Dashboard > Payments > Export (unified_payments.csv), one row per payment: id (ch_... or py_...),
    Description, Created date (UTC) "2024-01-08 03:12:45" (the export's times are UTC), Amount, Amount Refunded,
    Currency, Captured, Fee, Status (Paid, Refunded, Failed), Customer ID (cus_...), Customer Email, Card Brand,
    PaymentIntent ID, ... (the column list of the Dashboard's export dialog; older exports name the time column
    "Created (UTC)"). Amounts of a thousand and more may carry a thousands comma; ``thousands = ,`` reads both.

    A payment has no quantity (``defaults``: 1 each), and a guest's has no Customer ID (``defaults``: "guest").
    The business day is New York's, so a payment before 05:00 UTC belongs to the previous day. Amount Refunded is
    refunded_amount: a refunded payment (whole) and a partial refund are subtracted from net revenue, so only
    Failed is an excluded status; every payment stays in total_orders and total_revenue.
    """
    days = [D(2024, 1, 8) + datetime.timedelta(days=n) for n in range(4)]
    directory = recipe("stripe", days[0])
    rng = random.Random(5)
    business = zoneinfo.ZoneInfo("America/New_York")
    header = [
        "id", "Description", "Seller Message", "Created date (UTC)", "Amount", "Amount Refunded", "Currency",
        "Captured", "Converted Amount", "Converted Amount Refunded", "Fee", "Converted Currency", "Mode", "Status",
        "Statement Descriptor", "Customer ID", "Customer Description", "Customer Email", "Card ID", "Card Last4",
        "Card Brand", "Card Funding", "Invoice ID", "PaymentIntent ID",
    ]  # fmt: skip
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    rows, sales, moved, partial = [], [], 0, 0
    for n, instant in enumerate(instants(rng, days, "America/New_York", per_day=25)):
        token = "".join(rng.choice(alphabet) for _ in range(24))
        status = rng.choice(["Paid"] * 9 + ["Refunded", "Failed"])
        prices = [rng.randint(500, 30000), rng.randint(100000, 450000)] if n % 6 == 0 else [2900, 4900, 9900]
        cents = rng.choice(prices)
        refunded = cents if status == "Refunded" else (cents // 4 if status == "Paid" and n % 9 == 0 else 0)
        partial += refunded if status == "Paid" else 0
        customer = f"cus_{''.join(rng.choice(alphabet) for _ in range(14))}" if n % 4 else "cus_RegularBuyer01"
        customer = "" if n % 7 == 3 else customer  # a guest checkout
        fee = round(cents * 0.029) + 30 if status != "Failed" else 0
        rows.append({
            "id": f"{'ch' if n % 5 else 'py'}_{token}", "Description": f"Order {7000 + n}",
            "Seller Message": "Payment complete." if status != "Failed" else "The bank declined the payment.",
            "Created date (UTC)": f"{instant:%Y-%m-%d %H:%M:%S}", "Amount": money(cents, ","),
            "Amount Refunded": money(refunded, ","), "Currency": "usd", "Captured": str(status != "Failed").lower(),
            "Converted Amount": money(cents, ","), "Converted Amount Refunded": money(refunded, ","),
            "Fee": money(fee, ","), "Converted Currency": "usd", "Mode": "Live", "Status": status,
            "Statement Descriptor": "ACME STORE", "Customer ID": customer, "Customer Description": "",
            "Customer Email": f"{customer[4:].lower() or 'guest'}@example.com", "Card ID": f"card_{token[:20]}",
            "Card Last4": f"{rng.randint(0, 9999):04d}", "Card Funding": "credit",
            "Card Brand": rng.choice(["Visa", "MasterCard", "American Express"]), "Invoice ID": "",
            "PaymentIntent ID": f"pi_{token}",
        })  # fmt: skip
        sales.append(Sale(instant.astimezone(business).date(), customer or "guest", 1, cents,
                          counted=status != "Failed", refunded=refunded))  # fmt: skip
        moved += instant.astimezone(business).date() != instant.date()
    rows.reverse()  # the newest payment first
    (directory / "unified_payments.csv").write_text(csv_text(header, rows), encoding="utf-8")

    run_and_compare(recipe, base_dir, sales, days)

    assert moved >= 10, "payments before 05:00 UTC are the previous day in New York"
    assert any("," in row["Amount"] for row in rows), "thousands are tried"
    assert partial > 0, "partial refunds are in the export"
    assert any(not row["Customer ID"] for row in rows), "guests are in the export"


def test_a_european_semicolon_decimal_comma_export_gives_each_days_figures(recipe, base_dir):
    """A German shop system's order list as such systems (and Excel in a German locale) write it: cp1252 text,
    ``;`` between fields, decimal comma and thousands dot (1.899,00), dates "29.03.2024 14:03" in Berlin time,
    one row per order: Bestellnummer; Bestelldatum; Kundennummer; Kundenname; Artikelnummer; Artikel; Menge;
    Einzelpreis; Gesamtbetrag; Zahlungsart; Status. This is a generic layout, not one vendor's exact export.

    A credit note (Gutschrift) is a row of its own with a negative amount: a refund (negative_amounts = refund,
    the landing default). Statuses Storniert, Zurückerstattet and Fehlgeschlagen (any case, umlaut included) leave
    net revenue. The days span the start of summer time (31 March 2024); near-midnight times stay on their day.
    """
    days = [D(2024, 3, 29) + datetime.timedelta(days=n) for n in range(4)]
    directory = recipe("european", days[0])
    rng = random.Random(8)
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    header = ["Bestellnummer", "Bestelldatum", "Kundennummer", "Kundenname", "Artikelnummer", "Artikel", "Menge",
              "Einzelpreis", "Gesamtbetrag", "Zahlungsart", "Status"]  # fmt: skip
    names = ["Jürgen Müller", "Björn Weiß", "Zoë Schäfer", "Renée Köhler", "Ömer Öztürk", "Anja Groß"]
    articles = [("A-100", "Kaffeemühle »Classic«", 4990), ("A-200", "Espressomaschine Größe L", 189900),
                ("A-300", "Teeglas (6 Stück)", 1795), ("A-400", "Milchaufschäumer", 3450)]  # fmt: skip
    statuses = ["Abgeschlossen"] * 6 + ["Versendet"] * 3 + ["In Bearbeitung", "Storniert", "Zurückerstattet",
                                                            "Fehlgeschlagen"]  # fmt: skip
    rows, sales = [], []
    for n, instant in enumerate(instants(rng, days, "Europe/Berlin", per_day=22)):
        local = instant.astimezone(berlin)
        customer = f"K-{10000 + rng.randint(1, 45)}"
        article, title, price = rng.choice(articles)
        row = {"Bestelldatum": f"{local:%d.%m.%Y %H:%M}", "Kundennummer": customer, "Kundenname": rng.choice(names),
               "Artikelnummer": article, "Artikel": title,
               "Zahlungsart": rng.choice(["Überweisung", "PayPal", "Rechnung", "Lastschrift"])}  # fmt: skip
        if n % 9 == 4:  # a credit note for an earlier order
            refund = rng.randint(500, 5000)
            rows.append(row | {"Bestellnummer": f"GS-{300 + n}", "Menge": "1", "Einzelpreis": money(-refund, ".", ","),
                               "Gesamtbetrag": money(-refund, ".", ","), "Status": "Gutschrift"})  # fmt: skip
            sales.append(Sale(local.date(), customer, 1, refund, refund=True))
            continue
        quantity, status = rng.randint(1, 3), rng.choice(statuses)
        rows.append(row | {"Bestellnummer": f"{2024000 + n}", "Menge": str(quantity),
                           "Einzelpreis": money(price, ".", ","), "Gesamtbetrag": money(price * quantity, ".", ","),
                           "Status": status})  # fmt: skip
        counted = status.lower() not in ("storniert", "zurückerstattet", "fehlgeschlagen")
        sales.append(Sale(local.date(), customer, quantity, price * quantity, counted=counted))
    (directory / "bestellungen.csv").write_bytes(csv_text(header, rows, delimiter=";").encode("cp1252"))

    run_and_compare(recipe, base_dir, sales, days)

    assert any(row["Gesamtbetrag"].count(".") for row in rows), "thousands are tried"
    assert any(row["Bestelldatum"].endswith(("23:", "00:"), 0, 14) for row in rows), "times near midnight are tried"


TITLES = {"shopify": "Shopify", "woocommerce": "WooCommerce", "stripe": "Stripe",
          "european": "European `;` / decimal-comma export"}  # fmt: skip


def readme_blocks() -> list[tuple[str, str]]:
    """The README's Recipes subsection: each ini block's text, with the bold title of the paragraph before it."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n### Recipes\n", 1)[1].split("\n## ", 1)[0]
    pattern = r"\*\*(.+?)\*\*(?:(?!```).)*?```ini\n(.*?)```"
    return [(match.group(1), match.group(2)) for match in re.finditer(pattern, section, flags=re.DOTALL)]


def readme_block(name: str) -> str:
    return dict(readme_blocks())[TITLES[name]]


def readme_recipes() -> list[tuple[str, dict[str, dict[str, str]]]]:
    """Each README recipe, raw as a config file holds it, with its title."""
    blocks = []
    for title, text in readme_blocks():
        parser = configparser.RawConfigParser()
        parser.read_string(text)
        blocks.append((title, {name: dict(parser[name]) for name in parser.sections()}))
    return blocks


def test_the_readme_recipes_are_the_tested_settings():
    """Every ini block of the README's Recipes is, option for option, the settings its recipe's test runs with
    (JSON options compared as JSON; ``directory`` is the reader's own, and the tests use a temporary one)."""
    blocks = readme_recipes()
    assert [title for title, _ in blocks] == [TITLES[name] for name in RECIPES]
    for (title, block), settings in zip(blocks, RECIPES.values(), strict=True):
        assert block["landing"].pop("directory").startswith("/srv/exports/"), title
        readme = {
            section: {
                option: json.loads(value) if (section, option) in JSON_SETTINGS else value
                for option, value in options.items()
            }
            for section, options in block.items()
        }
        assert readme == settings, title
