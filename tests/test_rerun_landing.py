"""``etl rerun --from raw`` with the landing source: a day is read again from the files that fed it (issue 14, 3)."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import luigi
import pytest
from conftest import build, day_dir, landing_source, summary
from test_landing import csv_bytes

import etl
from etl import DailyReport, IngestLandingFiles, RangeDaily, landing, run_settings
from etl.marks import ask_rerun, built_from
from etl.rerun import ask, plan_rerun
from etl.tasks import landing_state

D = datetime.date
DAYS = [D(2024, 1, 1) + datetime.timedelta(days=i) for i in range(3)]
COLUMN_MAP = {"Order": "order_id", "Customer": "customer_id", "Qty": "quantity", "Placed": "order_timestamp",
              "Total": "total_amount"}  # fmt: skip
HEADER = list(COLUMN_MAP)
ETL = Path(sys.executable).with_name("etl")


def order(name: str, day: datetime.date, total: str) -> dict:
    return {"Order": name, "Customer": "c1", "Qty": "1", "Placed": f"{day}T12:00:00", "Total": total}


def land(directory: Path, name: str, rows: list[dict], at_ns: int) -> None:
    """An export file, modified at ``at_ns`` (what orders the files of one ingest)."""
    (directory / name).write_bytes(csv_bytes(rows, HEADER))
    os.utime(directory / name, ns=(at_ns, at_ns))


def first_exports(directory: Path) -> None:
    """a.csv feeds every day, b.csv the 2nd only, and c.csv (later) moves a.csv's #1 from the 2nd to the 3rd."""
    land(directory, "a.csv", [order(f"#{n}", DAYS[n % 3], f"{10 + n}.00") for n in range(6)], 10**18)
    land(directory, "b.csv", [order("#b", DAYS[1], "7.50")], 10**18 + 1)
    land(directory, "c.csv", [order("#1", DAYS[2], "77.00")], 10**18 + 2)


def figures(base: Path) -> dict[datetime.date, tuple[int, float]]:
    return {day: (summary(base, day)["total_orders"], summary(base, day)["total_revenue"]) for day in DAYS}


def tree(base: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``base`` with its inode, modification time and bytes."""
    return {
        str(p.relative_to(base)): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def content(path: str, data: bytes) -> object:
    """What a file says, but for when it was built: a mark's files without their times, a report without its own."""
    if Path(path).name.startswith("_"):
        return built_from(json.loads(data))
    if path.endswith("daily_report.json"):
        return {**json.loads(data), "run": None}
    return data


def requests(base: Path) -> list[str]:
    return sorted(str(p.relative_to(base)) for p in base.rglob("*.rerun.json"))


def of_day(snapshot: dict, day: datetime.date) -> dict:
    return {path: entry for path, entry in snapshot.items() if f"day={day:%d}" in path}


@pytest.fixture
def exports(configure, tmp_path) -> Path:
    return landing_source(configure, tmp_path / "landing", COLUMN_MAP, etl={"start_date": DAYS[0].isoformat()},
                          validation={"min_orders": "0"})  # fmt: skip


def whole_range(days: int = len(DAYS)) -> RangeDaily:
    return RangeDaily(of=DailyReport, start=DAYS[0], stop=DAYS[0] + datetime.timedelta(days=days))


def rerun_from_raw(day: datetime.date) -> luigi.execution_summary.LuigiRunResult:
    """What ``etl rerun --start day --from raw`` does, in this process: ask, then run the range with the request."""
    settings = run_settings.current()
    plan = plan_rerun(settings, day, day, "raw", failed=False, stale=False, include_expired=False)
    request = ask(settings, plan, restore_expired=False)
    stop = max([*plan.steps, *plan.following]) + datetime.timedelta(days=1)
    return build(RangeDaily(of=DailyReport, start=day, stop=stop, rerun=request))


def test_a_rerun_from_raw_reads_the_day_again_from_its_files_and_clears_every_request(exports, base_dir):
    first_exports(exports)
    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS
    before = tree(base_dir)

    assert rerun_from_raw(DAYS[1]).status == luigi.LuigiStatusCode.SUCCESS

    after = tree(base_dir)
    assert requests(base_dir) == [], "every step met its request"
    assert figures(base_dir) == {DAYS[0]: (2, 23.0), DAYS[1]: (2, 21.5), DAYS[2]: (3, 104.0)}, "#1 stays on the 3rd"
    record = json.loads((base_dir / "ingest" / "record.json").read_text())["runs"][-1]
    assert record["rebuilt_days"] == [DAYS[1].isoformat()], "no other day is touched"
    assert {entry["file"]: list(entry["rows"]) for entry in record["files"]} == {
        "a.csv": [DAYS[1].isoformat()],
        "b.csv": [DAYS[1].isoformat()],
    }, "the files that fed the day, read again for that day only (c.csv's order left it)"
    rebuilt = of_day(before, DAYS[1])
    assert all(after[path][0] != entry[0] for path, entry in rebuilt.items()), "every file of the day written anew"
    assert {path: content(path, entry[2]) for path, entry in rebuilt.items()} == {
        path: content(path, after[path][2]) for path in rebuilt
    }, "the same bytes, built from the same bytes: the same files were read"
    for day in (DAYS[0], DAYS[2]):  # the 3rd's window reads the 2nd, whose processed bytes did not change
        assert of_day(after, day) == of_day(before, day), f"{day} untouched"


def test_an_export_fixed_in_place_gives_its_new_figures_after_a_rerun_from_raw(exports, base_dir):
    first_exports(exports)
    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS
    fixed = exports / "a.csv"
    stat = fixed.stat()
    fixed.write_bytes(
        fixed.read_bytes().replace(b"#4,c1,1,2024-01-02T12:00:00,14.00", b"#4,c1,1,2024-01-02T12:00:00,41.00")
    )
    os.utime(fixed, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the same size and time: no ingest looks again
    assert fixed.stat().st_size == stat.st_size
    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS
    assert figures(base_dir)[DAYS[1]] == (2, 21.5), "a plain run cannot tell the file changed"
    before = tree(base_dir)

    assert rerun_from_raw(DAYS[1]).status == luigi.LuigiStatusCode.SUCCESS

    assert figures(base_dir) == {DAYS[0]: (2, 23.0), DAYS[1]: (2, 48.5), DAYS[2]: (3, 104.0)}, "#4 at 41.00"
    after = tree(base_dir)
    assert of_day(after, DAYS[0]) == of_day(before, DAYS[0]), "a.csv's other day is left as it was"
    assert requests(base_dir) == []


def test_a_raw_request_is_work_for_the_ingest_and_a_new_task_id(exports, base_dir):
    first_exports(exports)
    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS
    settings = run_settings.current()
    waiting = landing_state(settings)
    assert IngestLandingFiles().complete()

    ask_rerun(settings.store, "raw", DAYS[1], "raw", "r1")

    assert not IngestLandingFiles().complete(), "a day asked to be read again is work for the ingest"
    assert landing_state(settings) != waiting, "and names a new ingest task"
    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS
    assert requests(base_dir) == [] and IngestLandingFiles().complete()


def test_a_request_written_while_the_day_is_read_again_stays(exports, base_dir, monkeypatch):
    first_exports(exports)
    assert build(whole_range()).status == luigi.LuigiStatusCode.SUCCESS
    settings = run_settings.current()
    ask_rerun(settings.store, "raw", DAYS[1], "raw", "r1")
    publish = landing.publish

    def asked_again_meanwhile(store, journal, seen):
        ask_rerun(store, "raw", DAYS[1], "raw", "r2")
        publish(store, journal, seen)

    monkeypatch.setattr(landing, "publish", asked_again_meanwhile)
    assert build(IngestLandingFiles()).status == luigi.LuigiStatusCode.SUCCESS

    request = json.loads((day_dir(base_dir, "raw", DAYS[1]) / "_raw.rerun.json").read_text())
    assert request["request"] == "r2", "read again before it was asked: still to do"
    assert not IngestLandingFiles().complete()


def test_a_rerun_from_raw_of_a_day_no_export_held_an_order_of_is_met(exports, base_dir):
    first_exports(exports)
    assert build(whole_range(days=4)).status == luigi.LuigiStatusCode.SUCCESS
    empty = DAYS[0] + datetime.timedelta(days=3)

    assert rerun_from_raw(empty).status == luigi.LuigiStatusCode.SUCCESS

    assert requests(base_dir) == [] and summary(base_dir, empty)["total_orders"] == 0


def test_etl_rerun_from_raw_rebuilds_a_landed_day_and_refuses_naming_a_file_gone(tmp_path):
    landing_dir, base = tmp_path / "landing", tmp_path / "base"
    landing_dir.mkdir()
    first_exports(landing_dir)
    (tmp_path / "luigi.cfg").write_text(
        f"[etl]\nsource = landing\nstart_date = {DAYS[0]}\n[validation]\nmin_orders = 0\n"
        f"[landing]\ndirectory = {landing_dir}\ncolumn_map = {json.dumps(COLUMN_MAP)}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}
    env.update(
        LUIGI_CONFIG_PATH=str(tmp_path / "luigi.cfg"),
        ETL_BASE_DIR=str(base),
        ETL_LOG_DIR=str(tmp_path / "logs"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(Path(etl.__file__).parents[1]), os.environ.get("PYTHONPATH")])),
    )

    def etl_command(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(ETL), *args, "--local-scheduler"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )

    built = etl_command("backfill", "--start", str(DAYS[0]), "--end", str(DAYS[-1]))
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    figures_built = figures(base)
    before = tree(base)

    rerun = etl_command("rerun", "--start", str(DAYS[1]), "--from", "raw")

    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert requests(base) == [] and figures(base) == figures_built
    after = tree(base)
    assert of_day(after, DAYS[0]) == of_day(before, DAYS[0]) and of_day(after, DAYS[2]) == of_day(before, DAYS[2])
    assert all(after[path][0] != entry[0] for path, entry in of_day(before, DAYS[1]).items()), "the day rebuilt"

    (landing_dir / "b.csv").unlink()
    left = {**tree(base), **{f"landing/{k}": v for k, v in tree(landing_dir).items()}}

    refused = etl_command("rerun", "--start", str(DAYS[0]), "--end", str(DAYS[-1]), "--from", "raw")

    assert refused.returncode == 20, refused.stdout[-3000:] + refused.stderr[-3000:]
    assert (
        f"etl: error: cannot rebuild the raw partition of {DAYS[1]}: it came from {landing_dir / 'b.csv'}, no longer "
        "in the landing directory" in refused.stderr
    ), refused.stderr
    assert {**tree(base), **{f"landing/{k}": v for k, v in tree(landing_dir).items()}} == left, "nothing written"

    shutil.rmtree(landing_dir)
    unreachable = etl_command("rerun", "--start", str(DAYS[0]), "--from", "raw")

    assert unreachable.returncode == 20, unreachable.stderr[-3000:]
    assert unreachable.stderr.strip() == f"etl: error: the landing directory {landing_dir} does not exist"
