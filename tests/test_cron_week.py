"""Cron, proven on a simulated week (issue 14, item 5): the real wrapper, eight nights of a shop's landing exports.

Each night the shop drops that business day's export into the landing directory, and at 02:00 (``ETL_NOW``) cron
runs ``scripts/run_daily.sh``; at 09:00 ``etl check-deadline`` checks yesterday's report, and the operator looks at
``etl status``. The week: night 3 is missed (the server was down at 02:00) and night 4 catches up both days, oldest
first; day 4's export is cut short (too few orders), fails validation and is named every night until night 6 brings
the shop's re-sent export; night 7 brings a late file with more orders of day 5, already reported. After each night
the exit codes, the log, the tree, the figures (recomputed here from the rows this test wrote) and the status lines
are checked.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, day_dir

import etl

pytestmark = pytest.mark.slow

D = datetime.date
ONE_DAY = datetime.timedelta(days=1)
DAYS = [D(2024, 3, 4) + n * ONE_DAY for n in range(8)]  # the eight business days, a night each
FIRST = DAYS[0]
MISSED, BAD, LATE = DAYS[2], DAYS[3], DAYS[4]  # night 3 is missed; day 4's export fails; day 5 gets a late file
BAD_SENT = 4  # orders in day 4's first export, below MIN_ORDERS
MIN_ORDERS, WINDOW = 10, 3
HEADER = ["OrderID", "CustomerRef", "Qty", "OrderDate", "Total", "Channel"]  # Channel is not mapped: dropped
CONFIG = f"""\
[etl]
source = landing
start_date = {FIRST}
timezone = UTC

[landing]
# relative to this file, as in a site's luigi.cfg
directory = landing
column_map = {{"OrderID": "order_id", "CustomerRef": "customer_id", "Qty": "quantity",
              "OrderDate": "order_timestamp", "Total": "total_amount"}}

[validation]
min_orders = {MIN_ORDERS}

[rolling]
window_days = {WINDOW}
"""
STEPS = ("raw", "validate", "process", "rolling", "report")
DONE = dict.fromkeys(STEPS, "done")
MISSING = dict.fromkeys(STEPS, "missing")
FAILED = {"raw": "done", "validate": "failed", "process": "held back", "rolling": "held back", "report": "held back"}
HELD = {**DONE, "rolling": "held back", "report": "held back"}  # its own data built, its window holds day 4


class Week:
    """The site: a config file, a landing directory, a base and a log directory, and the commands cron runs."""

    def __init__(self, root: Path) -> None:
        self.root, self.landing, self.base, self.logs = root, root / "landing", root / "base", root / "logs"
        self.landing.mkdir()
        (root / "luigi.cfg").write_text(CONFIG)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}
        self.env.update(
            LUIGI_CONFIG_PATH=str(root / "luigi.cfg"),
            ETL_BASE_DIR=str(self.base),
            ETL_LOG_DIR=str(self.logs),
            # The wrapper takes <repo>/.venv/bin/python, else python3 on PATH: this interpreter, with the etl under
            # test (not another checkout's installed one).
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONPATH=os.pathsep.join(
                filter(None, [str(Path(etl.__file__).parents[1]), os.environ.get("PYTHONPATH")])
            ),
        )

    def export(self, name: str, rows: list[dict]) -> None:
        """Drop an export into the landing directory (replacing a file of the same name, as a re-send does)."""
        with open(self.landing / name, "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)

    def run(self, *command: str, now: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            command, cwd=self.root, env={**self.env, "ETL_NOW": now}, capture_output=True, text=True, timeout=300
        )

    def night(self, day: datetime.date) -> subprocess.CompletedProcess:
        """The 02:00 cron run after ``day``."""
        return self.run(str(REPO / "scripts" / "run_daily.sh"), now=f"{day + ONE_DAY}T02:00:00+00:00")

    def morning(self, day: datetime.date) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
        """At 09:00 after ``day``: ``etl status`` of the week so far, and the deadline check of ``day``'s report."""
        now = f"{day + ONE_DAY}T09:00:00+00:00"
        etl_command = str(Path(sys.executable).with_name("etl"))
        status = self.run(etl_command, "status", "--start", str(FIRST), "--end", str(day), now=now)
        return status, self.run(etl_command, "check-deadline", now=now)

    def log(self, day: datetime.date) -> str:
        return (self.logs / f"daily-{day}.log").read_text()

    def tree(self) -> dict[str, tuple[int, bytes]]:
        """Every file of a day partition, by path, with its modification time and bytes."""
        return {
            str(p.relative_to(self.base)): (p.stat().st_mtime_ns, p.read_bytes())
            for layer in ("raw", "processed", "metrics")
            for p in self.base.glob(f"{layer}/year=*/month=*/day=*/*")
            if p.is_file()
        }

    def json(self, layer: str, day: datetime.date, name: str) -> dict:
        return json.loads((day_dir(self.base, layer, day) / name).read_text())

    def raw_file(self, day: datetime.date) -> Path:
        return day_dir(self.base, "raw", day) / "orders.csv"


def orders(day: datetime.date, prefix: str = "S") -> list[dict]:
    """The shop's orders of ``day``: 12 to 16 of them, at times through the day, amounts in whole cents."""
    rng = random.Random(f"{prefix}{day}")
    rows = []
    for n in range(rng.randint(12, 16)):
        quantity = rng.randint(1, 3)
        moment = datetime.datetime.combine(day, datetime.time()) + datetime.timedelta(minutes=rng.randrange(24 * 60))
        rows.append({
            "OrderID": f"{prefix}-{day:%m%d}-{n:03d}", "CustomerRef": f"C{rng.randint(1, 20)}", "Qty": quantity,
            "OrderDate": moment.isoformat(), "Total": f"{quantity * rng.randint(300, 9000) / 100:.2f}",
            "Channel": rng.choice(["web", "app"]),
        })  # fmt: skip
    return rows


def expected_figures(landing: Path) -> pd.DataFrame:
    """Orders and revenue per business day, from the export files as they are in the landing directory now (read
    here with pandas, independently of the package): every order id is written once, so nothing to deduplicate."""
    rows = pd.concat([pd.read_csv(path) for path in sorted(landing.glob("*.csv"))], ignore_index=True)
    assert rows["OrderID"].is_unique, "the test's own exports never repeat an order"
    rows["day"] = pd.to_datetime(rows["OrderDate"]).dt.date
    rows["cents"] = (rows["Total"] * 100).round().astype(int)
    return rows.groupby("day").agg(orders=("OrderID", "size"), cents=("cents", "sum"))


def changed_partitions(before: dict, after: dict) -> set[str]:
    """The day partitions with a file written, rewritten or removed: ``raw 03-07``."""

    def partition(name: str) -> str:
        layer, year, month, day = name.split("/")[:4]
        return f"{layer} {month[6:]}-{day[4:]}"

    return {partition(name) for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def parts(layers: str, *days: datetime.date) -> set[str]:
    return {f"{layer} {day:%m-%d}" for layer in layers.split() for day in days}


def status_line(day: datetime.date, steps: dict[str, str]) -> str:
    outcome = min(steps.values(), key=["failed", "held back", "missing", "done"].index)
    return f"{day} {outcome}: " + ", ".join(f"{name} {steps[name]}" for name in STEPS)


def last_line(status: subprocess.CompletedProcess) -> str:
    """``etl status``'s summary: the month's days by outcome."""
    return status.stdout.splitlines()[-1]


def refusal(week: Week) -> str:
    """How day 4's refusal is worded everywhere: the day, its raw file and the rule, with the counts."""
    return (
        f"validation failed for {BAD} in {week.raw_file(BAD)}: min_orders: {BAD_SENT} orders, "
        f"at least {MIN_ORDERS} required"
    )


def days_line(day: datetime.date, code: int, states: dict[datetime.date, dict], built: set[datetime.date]) -> str:
    """The last line of the night's log: the range from FIRST, the days built that night, those not built again
    and those that failed (refused, or held back), each as runs of consecutive days."""
    failed = {d for d, steps in states.items() if steps["report"] in ("failed", "held back")}
    skipped = set(states) - failed - built
    counts = [f"{len(days)} {name}" + (f" ({runs(days)})" if days else "")
              for name, days in (("done", built), ("skipped", skipped), ("failed", failed))]  # fmt: skip
    outcome = "done (exit 0)" if code == 0 else f"task_failed (exit {code})"
    span = f"{runs(set(states))} ({len(states)} day{'s' if len(states) > 1 else ''})"
    return f"etl backfill: {outcome}: DailyPipeline {span}: " + ", ".join(counts)


def runs(days: set[datetime.date]) -> str:
    """``2024-03-04..2024-03-06, 2024-03-08``."""
    groups: list[list[datetime.date]] = []
    for d in sorted(days):
        if groups and groups[-1][-1] + ONE_DAY == d:
            groups[-1].append(d)
        else:
            groups.append([d])
    return ", ".join(f"{g[0]}..{g[-1]}" if len(g) > 1 else str(g[0]) for g in groups)


def check_night(
    week: Week,
    day: datetime.date,
    result: subprocess.CompletedProcess,
    code: int,
    states: dict[datetime.date, dict],
    built: set[datetime.date],
) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """After the night of ``day``, whose run ``built`` those days: the wrapper's exit and log, each day's reports
    and figures, and what the operator reads at 09:00 (status lines and exit, the deadline check's exit and line),
    which it returns."""
    assert result.returncode == code, result.stdout + result.stderr
    log = week.log(day)
    outcome = [f"DailyPipeline through {day} exited {code}", days_line(day, code, states, built)]
    assert log.splitlines()[-2].endswith(outcome[0]), log[-2000:]
    assert log.splitlines()[-1] == outcome[1], "the log ends with the outcome, then the days"
    assert result.stdout.splitlines()[-1] == outcome[1] and outcome[0] in result.stdout, "what cron mails"
    assert "[IngestLandingFiles " in log and all(
        line.startswith("INFO: [IngestLandingFiles ") for line in log.splitlines() if "etl: ingested " in line
    ), "the ingest's lines name what it works on"
    assert f"base directory {week.base} (from ETL_BASE_DIR)" in log, "the log names the store it wrote"

    figures = expected_figures(week.landing)
    reported = {d for d, steps in states.items() if steps["report"] == "done"}
    assert {d for d in DAYS if (day_dir(week.base, "metrics", d) / "daily_report.json").exists()} == reported
    for d in reported:
        report = week.json("metrics", d, "daily_report.json")
        summary, rolling = report["daily_summary"], report["rolling_metrics"]
        assert summary["total_orders"] == figures.loc[d, "orders"], f"{d}: orders of the day as exported"
        assert summary["total_revenue"] == pytest.approx(figures.loc[d, "cents"] / 100, abs=1e-9), d
        window = figures.loc[max(FIRST, d - (WINDOW - 1) * ONE_DAY) : d]
        assert rolling["days_in_window"] == len(window), d
        assert rolling["total_orders_7d"] == window["orders"].sum(), f"{d}: orders of its {WINDOW}-day window"
        assert rolling["total_revenue_7d"] == pytest.approx(window["cents"].sum() / 100, abs=1e-9), d
        assert report["run"]["generated_at"].endswith("T02:00:00+00:00"), "stamped with the simulated night"
    latest = json.loads((week.base / "metrics" / "latest_daily_report.json").read_text())
    assert latest["execution_date"] == str(max(reported)), "the pointer names the newest report"

    status, deadline = week.morning(day)
    lines = status.stdout.splitlines()
    assert [line for line in lines if line[:4] == "2024"] == [status_line(d, s) for d, s in states.items()], lines
    if FAILED in states.values():
        assert f"    validate: {refusal(week)}" in lines, "a failed day's reason: its file and rule"
    assert status.returncode == (0 if all(steps == DONE for steps in states.values()) else 1), status.stdout
    if states[day]["report"] == "done":
        assert (deadline.returncode, deadline.stdout) == (0, ""), "silent when yesterday is reported"
    else:
        assert deadline.returncode == 1, deadline.stdout + deadline.stderr
        assert deadline.stdout.count("\n") == 1, "one line, which cron mails"
        assert deadline.stdout.startswith(f"etl check-deadline: the report of {day} is not done: "), deadline.stdout
    return status, deadline


def test_a_week_under_cron_with_a_missed_night_a_failed_day_fixed_and_a_late_export(tmp_path):
    week = Week(tmp_path)
    sent = {day: orders(day) for day in DAYS}
    states: dict[datetime.date, dict] = {}

    # Nights 1 and 2: an export each, a report each.
    for day in DAYS[:2]:
        week.export(f"orders-{day}.csv", sent[day])
        before = week.tree()
        result = week.night(day)
        states[day] = DONE
        status, _ = check_night(week, day, result, 0, states, {day})
        assert changed_partitions(before, week.tree()) == parts("raw processed metrics", day)
        assert last_line(status) == ["March 2024: 1 day, 1 done", "March 2024: 2 days, 2 done"][len(states) - 1]
        assert f"ingested {week.landing / f'orders-{day}.csv'}: {day}: {len(sent[day])}; 0 rows refused" in week.log(
            day
        )

    # Night 3: the export lands, but the 02:00 run never happens. The 09:00 check does, and says so.
    week.export(f"orders-{MISSED}.csv", sent[MISSED])
    before = week.tree()
    status, deadline = week.morning(MISSED)
    assert not (week.logs / f"daily-{MISSED}.log").exists()
    assert status.returncode == 1
    assert status_line(MISSED, MISSING) in status.stdout.splitlines()
    assert last_line(status) == "March 2024: 3 days, 2 done, 1 missing (03-06)"
    assert (deadline.returncode, deadline.stdout) == (
        1,
        f"etl check-deadline: the report of {MISSED} is not done: raw is missing\n",
    )
    assert week.tree() == before, "status and check-deadline only read"

    # Night 4: day 4's export is cut short. The run catches up day 3 first, then refuses day 4 and exits 30.
    week.export(f"orders-{BAD}.csv", sent[BAD][:BAD_SENT])
    result = week.night(BAD)
    states[MISSED], states[BAD] = DONE, FAILED
    status, deadline = check_night(week, BAD, result, 30, states, {MISSED})
    log = week.log(BAD)
    assert f"Requiring 2 missing DailyPipeline instances in range [{MISSED}, {BAD}]" in log, "both days, in order"
    assert f"{BAD}: {refusal(week)}" in log, "the log names the failed day, its file and rule"
    assert changed_partitions(before, week.tree()) == parts("raw processed metrics", MISSED) | parts("raw", BAD)
    failure = week.json("raw", BAD, "validation_failed.json")
    assert [rule["rule"] for rule in failure["rules"] if not rule["passed"]] == ["min_orders"]
    checked_day3 = (day_dir(week.base, "raw", MISSED) / "validation_report.json").stat().st_mtime_ns
    refused_day4 = (day_dir(week.base, "raw", BAD) / "validation_failed.json").stat().st_mtime_ns
    assert checked_day3 <= refused_day4, "oldest first: day 3 was validated before day 4 was refused"
    assert last_line(status) == "March 2024: 4 days, 3 done, 1 failed (03-07: min_orders)"
    assert (
        deadline.stdout == f"etl check-deadline: the report of {BAD} is not done: validate is failed: {refusal(week)}\n"
    )

    # Night 5: day 5 is processed, but its report waits on day 4, which is named again (and not validated again).
    week.export(f"orders-{LATE}.csv", sent[LATE])
    before = week.tree()
    result = week.night(LATE)
    states[LATE] = HELD
    status, deadline = check_night(week, LATE, result, 30, states, set())
    log = week.log(LATE)
    assert f"{BAD}: {refusal(week)}" in log and f"{LATE}: held back: {refusal(week)}" in log
    assert changed_partitions(before, week.tree()) == parts("raw processed", LATE), "day 4 untouched"
    assert f"    rolling: held back: {refusal(week)}" in status.stdout.splitlines()
    assert last_line(status) == (
        "March 2024: 5 days, 3 done, 1 failed (03-07: min_orders), 1 held back (03-08: by 2024-03-07)"
    )
    assert (
        deadline.stdout
        == f"etl check-deadline: the report of {LATE} is not done: rolling is held back: {refusal(week)}\n"
    )

    # Night 6: the shop re-sends day 4's export whole, under the same name. The README's supported way with the
    # landing source ("fix or re-send the export"; "a re-sent file replaces its own earlier rows"): the run
    # validates day 4 again, builds it and the reports it held back, then day 6.
    week.export(f"orders-{BAD}.csv", sent[BAD])
    week.export(f"orders-{DAYS[5]}.csv", sent[DAYS[5]])
    before = week.tree()
    result = week.night(DAYS[5])
    states[BAD], states[LATE], states[DAYS[5]] = DONE, DONE, DONE
    status, _ = check_night(week, DAYS[5], result, 0, states, {BAD, LATE, DAYS[5]})
    assert "validation failed" not in week.log(DAYS[5])
    assert f"ingested {week.landing / f'orders-{BAD}.csv'}: {BAD}: {len(sent[BAD])}; 0 rows refused" in week.log(
        DAYS[5]
    )
    assert not (day_dir(week.base, "raw", BAD) / "validation_failed.json").exists()
    assert changed_partitions(before, week.tree()) == (
        parts("raw processed metrics", BAD, DAYS[5]) | parts("metrics", LATE)
    ), "day 4, the report it held back, day 6: nothing before day 4"
    assert last_line(status) == "March 2024: 6 days, 6 done"
    assert f"raw partition of {BAD} rebuilt from orders-{BAD}.csv" in week.log(DAYS[5]), "the log names the fix"

    # Night 7: a late file with more orders of day 5, already reported, lands with day 7's export. Day 5 is
    # rebuilt with the windows that read it (days 5 to 7); days 1 to 4, and day 6's own data, are not rewritten.
    late = orders(LATE, prefix="LATE")[:5]
    week.export(f"orders-{LATE}-late.csv", late)
    week.export(f"orders-{DAYS[6]}.csv", sent[DAYS[6]])
    before = week.tree()
    day5_before = week.json("processed", LATE, "daily_summary.json")["total_orders"]
    window_of_late = [LATE + n * ONE_DAY for n in range(WINDOW)]  # days 5, 6, 7
    result = week.night(DAYS[6])
    states[DAYS[6]] = DONE
    status, _ = check_night(week, DAYS[6], result, 0, states, set(window_of_late))  # days 5 to 7 count the late orders
    assert last_line(status) == "March 2024: 7 days, 7 done"
    assert f"raw partition of {LATE} rebuilt from orders-{LATE}-late.csv" in week.log(DAYS[6])
    assert week.json("processed", LATE, "daily_summary.json")["total_orders"] == day5_before + len(late)
    assert f"ingested {week.landing / f'orders-{LATE}-late.csv'}: {LATE}: {len(late)}; 0 rows refused" in week.log(
        DAYS[6]
    )
    assert changed_partitions(before, week.tree()) == (
        parts("raw processed", LATE, DAYS[6]) | parts("metrics", *window_of_late)
    )

    # Night 8: a plain night adds day 8 and rewrites nothing else.
    week.export(f"orders-{DAYS[7]}.csv", sent[DAYS[7]])
    before = week.tree()
    result = week.night(DAYS[7])
    states[DAYS[7]] = DONE
    status, _ = check_night(week, DAYS[7], result, 0, states, {DAYS[7]})
    assert changed_partitions(before, week.tree()) == parts("raw processed metrics", DAYS[7])
    assert last_line(status) == "March 2024: 8 days, 8 done"
    assert sorted(p.name for p in week.logs.glob("daily-*.log")) == [
        f"daily-{day}.log" for day in DAYS if day != MISSED
    ], "a log per night run, none for the missed night"
