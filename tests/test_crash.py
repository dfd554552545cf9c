"""SIGKILL at a moment of an ingest, of a step and of a cleanup, then an ordinary rerun (issue 9, point 5).

A run is killed just before one of its file events (``kill_at.py``: a temporary file made, a file renamed, its
time set, a file removed), once per phase, at a moment only a kill reaches: a step's file written whole under its
temporary name by a process then gone, the ingest's publish between two of its moves, a partition half removed by
the cleanup. After the kill every visible file is whole, either as it was before the run or as a run never killed
leaves it; after the rerun the outputs are those of a run never killed, byte for byte apart from the run-time
fields, and nothing the killed run left behind remains.

A failure at each call of the store's write verbs, before or after it did its work (an error rather than a kill),
is ``test_faults.py``'s: fast and in this process, it stands for the kills at every file event this file made
before (issue 15, point 4).
"""

from __future__ import annotations

import concurrent.futures
import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from test_landing import COLUMN_MAP, WEEK, csv_bytes, export_rows

from etl.marks import BUILDING, built_from

RUN_TIME_FIELDS = frozenset({"at", "generated_at"})
LATEST = "metrics/latest_daily_report.json"
JOURNAL = "ingest/journal.json"  # exists only while an ingest publishes: whole, but neither before nor after
KILL_AT = REPO / "tests" / "kill_at.py"
RANGE = ("RangeDaily", "--of", "DailyPipeline", "--start=2024-01-01", "--stop=2024-01-06")


def run(base: Path, landing: Path, kill_at: int = 0) -> tuple[int, list[str]]:
    """The range over ``base``, killed just before file event ``kill_at`` (never when 0): its exit code, and the
    file events of a run not killed."""
    events_file = base.parent / f"{base.name}.events"
    events_file.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}
    command = [
        sys.executable, str(KILL_AT), str(kill_at), str(events_file), "--module", "etl", *RANGE, "--local-scheduler",
        f"--etl-base-dir={base}", "--etl-source=landing", f"--landing-directory={landing}",
        f"--landing-column-map={json.dumps(COLUMN_MAP)}", "--validation-min-orders=1", "--rolling-window-days=2",
        "--retention-raw-days=3", "--retention-processed-days=3", "--retention-metrics-days=4",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=base.parent, env=env, capture_output=True, text=True, timeout=120)
    events = events_file.read_text().splitlines() if events_file.exists() else []
    return done.returncode, events


def outputs(base: Path) -> dict[str, object]:
    """Every visible file by path: JSON without its run-time fields (a partial one fails to load), CSV bytes,
    completion marks as what they say was built from what."""
    found: dict[str, object] = {}
    for path in sorted(base.rglob("*")):
        relative = path.relative_to(base)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            text = path.read_bytes()
            if path.name.startswith("_"):
                found[str(relative)] = built_from(json.loads(text))
            else:
                found[str(relative)] = _without_run_time(json.loads(text)) if path.suffix == ".json" else text
    return found


def hidden_files(base: Path) -> list[str]:
    return sorted(str(p.relative_to(base)) for p in base.rglob(".*") if p.is_file())


def _without_run_time(document: object) -> object:
    if isinstance(document, dict):
        return {k: _without_run_time(v) for k, v in document.items() if k not in RUN_TIME_FIELDS}
    if isinstance(document, list):
        return [_without_run_time(item) for item in document]
    return document


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> dict:
    """A built week from two exports (the state before), then a late file and a re-sent export (the change),
    and the outputs of runs nobody killed: the first one, and one over the change."""
    root = tmp_path_factory.mktemp("crash")
    landing = root / "landing"
    landing.mkdir()
    rows = export_rows(WEEK[:5], per_day=30, seed=31)
    (landing / "a.csv").write_bytes(csv_bytes(rows[::2]))
    (landing / "b.csv.gz").write_bytes(gzip.compress(csv_bytes(rows[1::2])))
    before = root / "before"
    code, first_events = run(before, landing)
    assert code == 0
    changed_landing = root / "changed"
    shutil.copytree(landing, changed_landing)
    (changed_landing / "late.csv").write_bytes(csv_bytes(export_rows([WEEK[3]], per_day=4, seed=32, prefix="L")))
    (changed_landing / "b.csv.gz").write_bytes(gzip.compress(csv_bytes(rows[1::2][:-3])))
    after = root / "after"
    shutil.copytree(before, after)
    code, change_events = run(after, changed_landing)
    assert code == 0
    return {
        "root": root, "landing": landing, "changed_landing": changed_landing, "before_dir": before,
        "first": outputs(before), "after": outputs(after), "first_events": first_events,
        "change_events": change_events,
    }  # fmt: skip


def publish_kill(events: list[str]) -> int:
    """Just before the middle one of the ingest's publishing moves (a staged raw file renamed over a day's): some
    days published, the others still to go as its journal says."""
    moves = [n for n, event in enumerate(events, 1) if event.startswith("os.rename") and event.endswith(".staged")]
    return moves[len(moves) // 2]


def step_kill(events: list[str]) -> int:
    """Just before a day's processed orders are renamed into place: written whole under a temporary name by a
    process that is then gone."""
    return next(
        n for n, event in enumerate(events, 1) if event.startswith("os.rename") and "/.orders_processed" in event
    )


def cleanup_kill(events: list[str]) -> int:
    """Inside the removal of a raw partition, after its first file went: the partition half removed."""
    removal = next(n for n, event in enumerate(events, 1) if event.startswith("shutil.rmtree") and "/raw/" in event)
    assert events[removal].startswith("os.remove") and events[removal + 1].startswith("os.remove"), events[removal:]
    return removal + 2


def whole_csv(content: bytes) -> bool:
    rows = list(csv.reader(io.StringIO(content.decode())))
    return bool(rows) and all(len(row) == len(rows[0]) for row in rows) and content.endswith(b"\n")


def assert_as_before_or_as_it_ends(found: dict, before: dict, ends: dict, moment: str) -> None:
    """Each visible file after a run stopped at ``moment`` (``found``, as :func:`outputs` gives) is whole, and as it
    was ``before`` the run or as the run ``ends`` it."""
    reports = [content for path, content in ends.items() if path.endswith("/daily_report.json")]
    for path, content in found.items():
        if path == LATEST:  # moves forward day by day: it is one of the days' reports
            assert content in reports or content == before.get(path), f"the latest report after {moment}"
        elif "/_" in path and content["outcome"] == BUILDING:  # a first build begun: not built, says the mark
            continue
        elif not before and path not in ends:  # a run from nothing: written, then retired by its cleanup
            assert path.endswith(".json") or whole_csv(content), f"{path} after {moment}"
        elif path != JOURNAL:
            assert content in (before.get(path), ends.get(path)), (
                f"{path} after {moment} is neither as before nor as it ends"
            )


def check_kills(scenario: dict, name: str, landing: Path, points: list[int], start: Path | None) -> None:
    """Each kill point on a copy of ``start`` (or nothing), two at a time; the first failure is raised."""
    before = outputs(start) if start is not None else {}
    ends = scenario["after" if start is not None else "first"]

    def one(kill_at: int) -> None:
        base = scenario["root"] / f"{name}-{kill_at}"
        if start is not None:
            shutil.copytree(start, base)
        code, _ = run(base, landing, kill_at)
        assert code == -9, f"killed at file event {kill_at}"
        assert_as_before_or_as_it_ends(outputs(base), before, ends, f"a kill at file event {kill_at}")
        assert run(base, landing)[0] == 0, f"the rerun after a kill at file event {kill_at}"
        assert hidden_files(base) == [], f"left behind by the kill at file event {kill_at}"
        assert not (base / JOURNAL).exists() and not (base / "ingest" / "spill").exists()
        assert outputs(base) == ends, f"a kill at file event {kill_at}, then a rerun"
        shutil.rmtree(base)

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for done in pool.map(one, points):
            assert done is None


@pytest.mark.slow
def test_a_kill_during_the_publish_of_a_late_file_is_finished_by_the_next_run(scenario):
    """The run that ingests a late file and a re-sent export, killed between two of its publishing moves."""
    points = [publish_kill(scenario["change_events"])]
    check_kills(scenario, "change", scenario["changed_landing"], points, scenario["before_dir"])


@pytest.mark.slow
def test_a_kill_during_a_step_or_a_cleanup_of_a_first_run_is_finished_by_the_next_run(scenario):
    """The first run, from nothing, killed before a step's temporary file is renamed, and inside a removal."""
    events = scenario["first_events"]
    check_kills(scenario, "first", scenario["landing"], [step_kill(events), cleanup_kill(events)], None)
