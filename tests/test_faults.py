"""A store call that fails, just before or just after it does its work, then an ordinary rerun (issue 15, point 4).

Each write verb of the store fails in turn at its calls in a small range, in this process
(:class:`stores.FaultyStore`): the fast stand-in for most of ``test_crash.py``'s kills. A generated range covers the
steps and the cleanup; a landing range that takes a late file and a re-sent export covers the ingest, whose calls
are those made under its lease (its staging, journal, publish and record). The faulty run must fail, never
report success; the rerun on the sound store must end with the outputs of a run that never failed, with nothing
a failed call left behind (a temporary file, the ingest's journal, a lease).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import shutil
from pathlib import Path

import luigi
import pytest
from conftest import build, luigi_config
from stores import FaultyStore
from test_crash import JOURNAL, assert_as_before_or_as_it_ends, hidden_files, outputs
from test_landing import COLUMN_MAP, WEEK, csv_bytes, export_rows

from etl import run_settings
from etl.range import RangeDaily
from etl.storage import LocalStore, Store
from etl.tasks import DailyPipeline

START, STOP = WEEK[0], WEEK[3]
# Small days, and retention short enough that the range's cleanups remove partitions and write their records.
SETTINGS = {
    "etl": {"start_date": str(START)},
    "generation": {"mean_orders_per_day": "40"},
    "validation": {"min_orders": "10"},
    "rolling": {"window_days": "1"},
    "retention": {"raw_days": "1", "processed_days": "1", "metrics_days": "2"},
}
SPREAD = 14  # a verb called more often (a step's writes) fails at this many of its calls, spread over the run


WRITE_VERBS = ("atomic_output", "remove", "move", "remove_partition", "update_json", "lease")


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A range run under ``config`` on a copy of ``start`` (on nothing when None): the calls of each write verb that
    fail in turn, and the outputs before the run and of a sound run."""

    root: Path
    config: dict[str, dict[str, str]]
    start: Path | None
    calls: dict[str, list[int]]
    before: dict[str, object]
    ends: dict[str, object]


def run_range(monkeypatch, store: Store, config: dict[str, dict[str, str]]) -> luigi.execution_summary.LuigiRunResult:
    """The range in this process on ``store`` under SETTINGS and ``config``, the night after it, as cron runs it."""
    monkeypatch.setenv("ETL_NOW", f"{STOP}T12:00+00:00")
    monkeypatch.setattr(run_settings, "open_store", lambda _: store)
    monkeypatch.setattr(run_settings, "_kept", None)  # read the settings anew, opening ``store``
    monkeypatch.setattr(run_settings, "_named", None)
    with luigi_config() as apply:
        apply(SETTINGS)
        apply(config)
        return build(RangeDaily(of=DailyPipeline, start=START, stop=STOP))


def sound_run(base: Path, start: Path | None, config: dict[str, dict[str, str]]) -> FaultyStore:
    """The range run once on a copy of ``start`` at ``base`` on a store that never fails: its calls counted."""
    if start is not None:
        shutil.copytree(start, base)
    counting = FaultyStore(LocalStore(base), "", 0, "before")
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert run_range(monkeypatch, counting, config).status == luigi.LuigiStatusCode.SUCCESS
    return counting


def spread(numbers: list[int]) -> list[int]:
    """Every one of up to SPREAD numbers, else SPREAD of them from the first to the last."""
    if len(numbers) <= SPREAD:
        return numbers
    return [numbers[round(i * (len(numbers) - 1) / (SPREAD - 1))] for i in range(SPREAD)]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Scenario:
    """Three generated days from nothing, the cleanups as of the last two removing partitions."""
    root = tmp_path_factory.mktemp("generated")
    counting = sound_run(root / "sound", None, {})
    calls = {verb: spread(list(range(1, counting.calls[verb] + 1))) for verb in WRITE_VERBS}
    return Scenario(root, {}, None, calls, {}, outputs(root / "sound"))


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> Scenario:
    """Three days built from two exports, then a late file and a re-sent export: the calls of that run's ingest,
    those made under its lease, and the lease itself."""
    root = tmp_path_factory.mktemp("landed")
    landing = root / "landing"
    landing.mkdir()
    config = {"etl": {"source": "landing"}, "validation": {"min_orders": "1"},
              "landing": {"directory": str(landing), "column_map": json.dumps(COLUMN_MAP)}}  # fmt: skip
    rows = export_rows(WEEK[:3], per_day=30, seed=31)
    (landing / "a.csv").write_bytes(csv_bytes(rows[::2]))
    (landing / "b.csv.gz").write_bytes(gzip.compress(csv_bytes(rows[1::2])))
    sound_run(root / "before", None, config)
    (landing / "late.csv").write_bytes(csv_bytes(export_rows([WEEK[1]], per_day=4, seed=32, prefix="L")))
    (landing / "b.csv.gz").write_bytes(gzip.compress(csv_bytes(rows[1::2][:-3])))
    counting = sound_run(root / "sound", root / "before", config)
    ingest = [*counting.under_lease, *(("lease", n) for n in range(1, counting.calls["lease"] + 1))]
    calls = {verb: spread(sorted(n for v, n in ingest if v == verb)) for verb in WRITE_VERBS}
    return Scenario(root, config, root / "before", calls, outputs(root / "before"), outputs(root / "sound"))


def check_faults(scenario: Scenario, verb: str, when: str, monkeypatch) -> None:
    """Fail ``verb`` ``when`` each of its chosen calls in turn, then rerun on the sound store."""
    assert scenario.calls[verb], f"a sound run calls {verb}"
    for n in scenario.calls[verb]:
        fault = f"a fault {when} call {n} of {verb}"
        base = scenario.root / f"{verb}-{when}-{n}"
        if scenario.start is not None:
            shutil.copytree(scenario.start, base)
        faulty = FaultyStore(LocalStore(base), verb, n, when)
        result = run_range(monkeypatch, faulty, scenario.config)
        assert faulty.fired, f"{fault}: the faulty run made that call"
        assert result.status == luigi.LuigiStatusCode.FAILED, f"{fault}: the run says so ({result.summary_text})"
        assert_as_before_or_as_it_ends(outputs(base), scenario.before, scenario.ends, fault)
        rerun = run_range(monkeypatch, LocalStore(base), scenario.config)
        assert rerun.status == luigi.LuigiStatusCode.SUCCESS, f"{fault}, then a rerun: {rerun.summary_text}"
        assert hidden_files(base) == [], f"left behind by {fault}"
        assert not (base / JOURNAL).exists(), f"the journal of the ingest after {fault}, then a rerun"
        assert outputs(base) == scenario.ends, f"{fault}, then a rerun"
        shutil.rmtree(base)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("verb", ["atomic_output", "remove", "remove_partition", "update_json"])
def test_a_failed_store_call_of_a_step_or_a_cleanup_is_finished_by_the_next_run(generated, verb, when, monkeypatch):
    check_faults(generated, verb, when, monkeypatch)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("verb", ["lease", "atomic_output", "move", "remove", "update_json"])
def test_a_failed_store_call_of_an_ingest_is_finished_by_the_next_run(landed, verb, when, monkeypatch):
    check_faults(landed, verb, when, monkeypatch)
