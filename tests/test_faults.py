"""A store call that fails, just before or just after it does its work, then an ordinary rerun (issue 15, point 4).

Each write verb of the store fails in turn at its calls in a small range, in this process
(:class:`stores.FaultyStore`): the fast stand-in for most of ``test_crash.py``'s kills. A generated range covers the
steps and the cleanup; a landing range that takes a late file and a re-sent export covers the ingest, whose calls
are those made under its lease (its staging, journal, publish and record). The faulty run must fail, never
report success, and leave every file as it was or as it ends; the rerun on the sound store must end with the
outputs of a run that never failed, with nothing a failed call left behind (a temporary file, the ingest's
journal, a lease object). The ingest runs on S3 too (slow: moto), where writes are conditional and the lease is
an object.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import luigi
import pytest
from conftest import build, download_s3, luigi_config
from stores import FaultyStore
from test_crash import JOURNAL, assert_as_before_or_as_it_ends, hidden_files, outputs
from test_landing import COLUMN_MAP, WEEK, csv_bytes, export_rows

from etl import run_settings
from etl.range import RangeDaily
from etl.storage import LocalStore, Store, open_store
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


WRITE_VERBS = ("atomic_output", "remove", "move", "remove_partition", "update_json", "replace_if", "lease")


@dataclasses.dataclass(frozen=True)
class Place:
    """Where a scenario's runs keep their bases: directories under ``root``, or prefixes of the S3 ``bucket`` (then
    read as trees downloaded under ``root``)."""

    root: Path
    bucket: str | None = None

    def store(self, name: str) -> Store:
        return LocalStore(self.root / name) if self.bucket is None else open_store(f"{self.bucket}/{name}")

    def tree(self, name: str) -> Path:
        """The base ``name`` as a local tree: the directory itself, or its objects as they are now."""
        if self.bucket is None:
            return self.root / name
        into = self.root / "downloaded" / name
        shutil.rmtree(into, ignore_errors=True)
        return download_s3(f"{self.bucket}/{name}", into)


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A range run under ``config`` on a copy of the local tree ``start`` (on nothing when None): the calls of each
    write verb that fail in turn, and the outputs before the run and of a sound run."""

    place: Place
    config: dict[str, dict[str, str]]
    start: Path | None
    calls: dict[str, list[int]]
    before: dict[str, object]
    ends: dict[str, object]


def run_range(monkeypatch, store: Store, config: dict[str, dict[str, str]]) -> luigi.execution_summary.LuigiRunResult:
    """The range in this process on ``store`` under SETTINGS and ``config``, the night after it, as cron runs it."""
    monkeypatch.setenv("ETL_NOW", f"{STOP}T12:00+00:00")
    monkeypatch.setattr(run_settings, "open_store", lambda *_: store)
    monkeypatch.setattr(run_settings, "_kept", None)  # read the settings anew, opening ``store``
    monkeypatch.setattr(run_settings, "_named", None)
    with luigi_config() as apply:
        apply(SETTINGS)
        apply(config)
        return build(RangeDaily(of=DailyPipeline, start=START, stop=STOP))


def sound_run(place: Place, name: str, start: Path | None, config: dict[str, dict[str, str]]) -> FaultyStore:
    """The range run once on a copy of ``start`` at ``name`` on a store that never fails: its calls counted."""
    if start is not None:
        shutil.copytree(start, place.root / name)
    counting = FaultyStore(place.store(name), "", 0, "before")
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
    place = Place(tmp_path_factory.mktemp("generated"))
    counting = sound_run(place, "sound", None, {})
    calls = {verb: spread(list(range(1, counting.calls[verb] + 1))) for verb in WRITE_VERBS}
    return Scenario(place, {}, None, calls, {}, outputs(place.tree("sound")))


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> Scenario:
    """Three days built from two exports, then a late file and a re-sent export: the calls of that run's ingest,
    those made under its lease, and the lease itself."""
    place = Place(tmp_path_factory.mktemp("landed"))
    landing, rows = exports(place.root)
    config = landing_config(landing)
    sound_run(place, "before", None, config)
    (landing / "late.csv").write_bytes(csv_bytes(export_rows([WEEK[1]], per_day=4, seed=32, prefix="L")))
    (landing / "b.csv.gz").write_bytes(gzip.compress(csv_bytes(rows[1::2][:-3])))
    before = place.root / "before"
    calls = ingest_calls(sound_run(place, "sound", before, config), spread)
    return Scenario(place, config, before, calls, outputs(before), outputs(place.tree("sound")))


@pytest.fixture
def landed_on_s3(s3_bucket, tmp_path) -> Scenario:
    """Three days from two exports on S3, from nothing: the middle call of each verb of its ingest, and its lease (an
    object there)."""
    place = Place(tmp_path, s3_bucket)
    landing, _ = exports(place.root)
    config = landing_config(landing)
    calls = ingest_calls(sound_run(place, "sound", None, config), lambda numbers: numbers[len(numbers) // 2 :][:1])
    return Scenario(place, config, None, calls, {}, outputs(place.tree("sound")))


def exports(root: Path) -> tuple[Path, list[dict]]:
    """A landing directory with two exports of three days, and their rows."""
    landing = root / "landing"
    landing.mkdir()
    rows = export_rows(WEEK[:3], per_day=30, seed=31)
    (landing / "a.csv").write_bytes(csv_bytes(rows[::2]))
    (landing / "b.csv.gz").write_bytes(gzip.compress(csv_bytes(rows[1::2])))
    return landing, rows


def landing_config(landing: Path) -> dict[str, dict[str, str]]:
    return {"etl": {"source": "landing"}, "validation": {"min_orders": "1"},
            "landing": {"directory": str(landing), "column_map": json.dumps(COLUMN_MAP)}}  # fmt: skip


def ingest_calls(counting: FaultyStore, pick: Callable[[list[int]], list[int]]) -> dict[str, list[int]]:
    """The calls of the ingest that fail in turn, as ``pick`` chooses: those made under its lease, and the lease."""
    ingest = [*counting.under_lease, *(("lease", n) for n in range(1, counting.calls["lease"] + 1))]
    return {verb: pick(sorted(n for v, n in ingest if v == verb)) for verb in WRITE_VERBS}


def check_faults(scenario: Scenario, verb: str, when: str, monkeypatch) -> None:
    """Fail ``verb`` ``when`` each of its chosen calls in turn, then rerun on the sound store."""
    assert scenario.calls[verb], f"a sound run calls {verb}"
    for n in scenario.calls[verb]:
        fault = f"a fault {when} call {n} of {verb}"
        name, place = f"{verb}-{when}-{n}", scenario.place
        if scenario.start is not None:
            shutil.copytree(scenario.start, place.root / name)
        faulty = FaultyStore(place.store(name), verb, n, when)
        result = run_range(monkeypatch, faulty, scenario.config)
        assert faulty.fired, f"{fault}: the faulty run made that call"
        assert result.status == luigi.LuigiStatusCode.FAILED, f"{fault}: the run says so ({result.summary_text})"
        assert_as_before_or_as_it_ends(outputs(place.tree(name)), scenario.before, scenario.ends, fault)
        rerun = run_range(monkeypatch, place.store(name), scenario.config)
        assert rerun.status == luigi.LuigiStatusCode.SUCCESS, f"{fault}, then a rerun: {rerun.summary_text}"
        tree = place.tree(name)
        assert hidden_files(tree) == [], f"left behind by {fault}"
        assert not (tree / JOURNAL).exists(), f"the journal of the ingest after {fault}, then a rerun"
        assert outputs(tree) == scenario.ends, f"{fault}, then a rerun (a lease object left would show here)"
        shutil.rmtree(tree)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("verb", ["atomic_output", "remove", "remove_partition", "update_json"])
def test_a_failed_store_call_of_a_step_or_a_cleanup_is_finished_by_the_next_run(generated, verb, when, monkeypatch):
    check_faults(generated, verb, when, monkeypatch)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("verb", ["lease", "atomic_output", "move", "remove", "update_json", "replace_if"])
def test_a_failed_store_call_of_an_ingest_is_finished_by_the_next_run(landed, verb, when, monkeypatch):
    check_faults(landed, verb, when, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_failed_store_call_of_an_ingest_on_s3_is_finished_by_the_next_run(landed_on_s3, when, monkeypatch):
    """The S3 store's own conditional writes and lease object, at one call of each verb (moto is slower)."""
    for verb in ("lease", "atomic_output", "move", "remove", "update_json"):
        check_faults(landed_on_s3, verb, when, monkeypatch)
