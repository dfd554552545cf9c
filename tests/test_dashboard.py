"""``etl dashboard`` on a store the pipeline built: the chart read back as pixels, the page parsed and held against
figures recomputed from the files, a refusal quoting a script shown as text, and the page in a real browser."""

from __future__ import annotations

import base64
import datetime
import html.parser
import io
import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import build, day_dir
from days_tree import BAD, FIRST, build_tree, settings

import etl
from etl import ValidateDailyData
from etl.__main__ import main
from etl.csv_io import ORDER_COLUMNS
from etl.status_view import SYMBOLS

image = pytest.importorskip("matplotlib.image", reason="the dashboard extra: pip install -e '.[dashboard]'")
from etl.dashboard import COLOURS  # noqa: E402 - only with matplotlib

END = datetime.date(2024, 1, 12)  # two days after the tree's last: missing
DAYS = [FIRST + datetime.timedelta(days=n) for n in range((END - FIRST).days + 1)]
HOSTILE = "</td><script>throw new Error('injected')</script>"


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return build_tree(tmp_path_factory.mktemp("dashboard") / "base")


@pytest.fixture
def hostile(configure, tree, tmp_path) -> Path:
    """A copy of the tree whose bad day's raw file is a line of markup: its refusal quotes it."""
    copy = shutil.copytree(tree, tmp_path / "hostile")
    configure(settings(copy))
    (day_dir(copy, "raw", BAD) / "orders.csv").write_text(",".join(ORDER_COLUMNS) + "\n" + HOSTILE + "\n")
    build(ValidateDailyData(date=BAD))
    return copy


def dashboard(output: Path) -> Path:
    """Run ``etl dashboard`` in this process on the configured store, FIRST..END; the file it wrote."""
    assert main(["dashboard", "--start", str(FIRST), "--end", str(END), "--output", str(output)]) == 0
    return output


class Page(html.parser.HTMLParser):
    """What a reader of the page gets: the calendar's cells, the summary table's rows as text, the images, and
    every element the browser would run as script."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], dict[str, str]] = {}
        self.rows: list[list[str]] = []
        self.images: list[str] = []
        self.scripts = 0
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts += 1
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "table":
            self._table = attrs.get("class")
        elif tag == "td" and "data-day" in attrs:
            self.cells[attrs["data-day"], attrs["data-step"]] = attrs
        elif tag == "tr" and self._table == "summaries":
            self.rows.append([])
        elif tag in ("td", "th") and self._table == "summaries":
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def processed_orders(base: Path, day: datetime.date) -> list[dict[str, str]]:
    """A day's processed orders, read with the csv module from the path spelled out here."""
    import csv

    with open(day_dir(base, "processed", day) / "orders_processed.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def number(text: str) -> float:
    return float(text.replace(",", ""))


def test_the_png_is_a_chart_of_its_size_with_the_failed_day_marked(configure, tree, tmp_path):
    configure(settings(tree))

    pixels = image.imread(dashboard(tmp_path / "chart.png"))

    assert pixels.shape == (640, 1200, 4)
    rgb = pixels[:, :, :3]
    assert (rgb < 0.9).any(axis=2).mean() > 0.02, "more than a blank canvas"
    band = [1 - 0.35 * (1 - channel / 255) for channel in (0xC6, 0x28, 0x28)]  # the failed red at 35 % on white
    assert (abs(rgb - band) < 0.02).all(axis=2).sum() > 5000, "the failed day is a red band across both charts"


def test_the_page_holds_the_figures_of_the_files_and_each_days_state(configure, tree, tmp_path):
    configure(settings(tree))

    page = Page(dashboard(tmp_path / "page.html").read_text())

    assert page.scripts == 0 and len(page.images) == 1
    assert page.images[0].startswith("data:image/png;base64,"), "the chart is in the page: no request leaves it"
    chart = image.imread(io.BytesIO(base64.b64decode(page.images[0].partition(",")[2])), format="png")
    assert chart.shape == (640, 1200, 4)
    header, *body, totals = page.rows
    assert header[:4] == ["date", "orders", "revenue", "7-day average revenue"]
    by_day = {datetime.date.fromisoformat(row[0]): row for row in body}
    assert list(by_day) == DAYS
    for day in DAYS:
        row = by_day[day]
        if not day_dir(tree, "processed", day).exists():
            assert len(row) == 2, row
            continue
        orders = processed_orders(tree, day)
        assert number(row[1]) == len(orders), day
        assert number(row[2]) == pytest.approx(sum(float(o["total_amount"]) for o in orders), abs=0.006), day
        rolling = day_dir(tree, "metrics", day) / "rolling_metrics.json"
        expected = json.loads(rolling.read_text())["avg_daily_revenue"] if rolling.exists() else None
        assert (number(row[3]) if row[3] else None) == expected, f"{day}: the pipeline's own rolling average, or none"
    assert by_day[BAD][1].startswith(f"failed: validation failed for {BAD} in {day_dir(tree, 'raw', BAD)}")
    assert by_day[END][1] == "missing"
    assert number(totals[1]) == sum(number(row[1]) for row in body if len(row) > 2)
    assert page.cells[str(BAD), "validate"]["data-state"] == "failed"
    assert "min_orders: 10 orders, at least 20 required" in page.cells[str(BAD), "validate"]["title"]
    assert page.cells[str(BAD), "process"]["data-state"] == "held back"
    assert page.cells["2024-01-05", "rolling"]["data-state"] == "held back"
    assert page.cells["2024-01-03", "report"]["data-state"] == "done"
    assert page.cells[str(END), "raw"]["data-state"] == "missing"
    assert len(page.cells) == len(DAYS) * 5, "a cell a day and step"


def test_a_refusal_quoting_markup_is_shown_as_text(hostile, tmp_path):
    text = dashboard(tmp_path / "page.html").read_text()

    page = Page(text)
    assert HOSTILE not in text and page.scripts == 0
    assert HOSTILE in page.cells[str(BAD), "validate"]["title"], "the reason on hover, as the file had it"
    assert HOSTILE in {row[0]: row for row in page.rows}[str(BAD)][1]


@pytest.mark.slow
def test_the_page_renders_in_a_real_browser_without_a_script_error(hostile, tmp_path):
    from browser import render

    page = dashboard(tmp_path / "dashboard.html")

    problems = render(page.as_uri(), tmp_path / "dashboard-page.png")

    assert problems == []
    screenshot = image.imread(tmp_path / "dashboard-page.png")
    assert screenshot.shape[1] == 1280 and screenshot.shape[0] > 1000, "the whole page, chart, calendar and table"


def test_without_matplotlib_the_command_says_what_to_install(configure, tree, tmp_path, monkeypatch, capsys):
    configure(settings(tree))
    for name in [name for name in sys.modules if name.partition(".")[0] == "matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if never installed
    monkeypatch.delitem(sys.modules, "etl.dashboard", raising=False)
    monkeypatch.delattr(etl, "dashboard", raising=False)

    code = main(["dashboard", "--start", str(FIRST), "--end", str(END), "--output", str(tmp_path / "chart.png")])

    assert code == 1
    error = capsys.readouterr().err
    assert "etl dashboard needs matplotlib" in error and "pip install 'etl[dashboard]'" in error
    assert not (tmp_path / "chart.png").exists()


def test_a_range_without_any_figures_is_drawn_all_missing(configure, tree, tmp_path):
    configure(settings(tree))
    arguments = ["dashboard", "--start", "2024-01-20", "--end", "2024-01-21", "--output"]

    assert main([*arguments, str(tmp_path / "chart.png")]) == 0
    assert main([*arguments, str(tmp_path / "page.html")]) == 0

    assert image.imread(tmp_path / "chart.png").shape == (640, 1200, 4)
    rows = Page((tmp_path / "page.html").read_text()).rows
    assert rows[1:3] == [["2024-01-20", "missing"], ["2024-01-21", "missing"]]


def test_an_output_neither_png_nor_html_is_refused_before_any_work(configure, tree, tmp_path, capsys):
    configure(settings(tree))

    code = main(["dashboard", "--output", str(tmp_path / "chart.svg")])

    assert code == 2
    assert "--output" in capsys.readouterr().err and not (tmp_path / "chart.svg").exists()


def test_every_state_etl_status_shows_has_a_colour():
    assert set(COLOURS) == set(SYMBOLS)
