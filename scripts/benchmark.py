#!/usr/bin/env python3
"""Benchmark the pipeline against bare compute and the I/O floor, on one range of days.

Runs the same range (a) as a bare loop calling the same step functions with no Luigi,
(b) through the real ``luigi ... RangeDaily`` command with the local scheduler and one worker,
(c) the same with two workers, (d) the same with one worker and ``--days-per-task 1`` (every step of
every day its own Luigi task); each in a fresh base directory and a fresh process. (e) Two bare loops
at once, each on half of the days, measure what two processes gain on this machine without Luigi,
in the same run: the reference for (c). ``--fleet`` adds W luigi processes on one luigid; ``--store s3`` runs the
luigi variants on a bucket of a loopback S3 endpoint and compares what they wrote there.
Prints a table, or with --json one JSON object; exits 1 if the runs (a) to (d) did not all produce the same bytes.

    .venv/bin/python scripts/benchmark.py --days 30 --orders-per-day 1000 [--repeat 3] [--scan] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RUN_TIME_FIELDS = ("generated_at",)
SCAN_DAYS = 1095
STAGES = ("generate", "validate", "process", "rolling", "report")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "bare":
        return bare_loop(args)
    if args.command == "exports":
        return write_landing(args)
    if args.command == "cron-calls":
        return cron_calls(args)
    # Each run happens the night after the range's last day: a range completes whole blocks of days up to the
    # calendar's today, so the ranges measured do exactly the days the bare loops do.
    os.environ.setdefault("ETL_NOW", f"{args.start + datetime.timedelta(days=args.days)}T02:00+00:00")
    with tempfile.TemporaryDirectory(prefix="etl-bench-", dir=args.workdir) as workdir:
        if args.landing or args.landing_gb:
            result = (landing_benchmark if args.landing else big_landing_benchmark)(args, Path(workdir))
            print(json.dumps(result, indent=2, sort_keys=True))
            return 0
        if args.query:
            print(json.dumps(query_benchmark(args, Path(workdir)), indent=2, sort_keys=True))
            return 0
        result = benchmark(args, Path(workdir))
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(format_table(result))
    return 0 if result["same_bytes"] else 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "command", nargs="?", default="run", choices=["run", "bare", "exports", "cron-calls"], help=argparse.SUPPRESS
    )
    parser.add_argument("--days", type=int, default=30, help="days in the range (default 30)")
    parser.add_argument("--orders-per-day", type=int, default=1000, help="mean orders per day (default 1000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each variant; the median is reported")
    parser.add_argument("--start", type=datetime.date.fromisoformat, default=datetime.date(2024, 1, 1))
    parser.add_argument("--scan", action="store_true", help=f"also time the missing-day scan over {SCAN_DAYS} days")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument(
        "--days-per-task", type=int, help="[RangeDaily] days_per_task for the luigi variants (default: the config's)"
    )
    parser.add_argument(
        "--fleet",
        default="",
        metavar="W,W",
        help="also run W luigi processes at once against one luigid on a loopback port, for each W listed (a fleet "
        "of workers on one host: --no-lock --worker-keep-alive), against the same range",
    )
    parser.add_argument(
        "--store",
        choices=["local", "s3"],
        default="local",
        help="where the luigi variants' base lives: local disk, or a bucket on an S3 endpoint (moto's server) on a "
        "loopback port that the benchmark starts (the s3 extra and moto[server]); the bare loops stay on local disk",
    )
    parser.add_argument("--workdir", help="where the temporary base directories go (default: the system's temp)")
    parser.add_argument(
        "--landing",
        type=int,
        metavar="FILES",
        help="instead: the landing source, the days' orders shuffled over FILES export files (every other one "
        "gzip); prints the ingest against its floor, the whole run, and a run after one small late file (JSON)",
    )
    parser.add_argument(
        "--landing-gb",
        type=float,
        metavar="GB",
        help="instead: ingest a landing directory of GB gigabytes of plain CSV whose largest file holds a third of "
        "it, the --days mixed in every file; prints the ingest against its floor and its peak RSS (JSON)",
    )
    parser.add_argument(
        "--query",
        action="store_true",
        help="instead: build --days of processed partitions with the bare loop, then time etl.query.load_days over "
        "them against a direct pyarrow.dataset read of the same files (best of --repeat, at least 3; JSON)",
    )
    parser.add_argument("--base", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--late", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--corrections-of", default="", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def benchmark(args: argparse.Namespace, workdir: Path) -> dict:
    with contextlib.ExitStack() as services:
        fleets = [int(size) for size in args.fleet.split(",") if size]
        url = services.enter_context(central_scheduler(workdir / "luigid")) if fleets else ""
        args.bucket = services.enter_context(loopback_bucket(workdir / "s3")) if args.store == "s3" else ""
        variants = {
            "bare": bare_command,
            "luigi_w1": luigi_command(1, args.days_per_task),
            "luigi_w2": luigi_command(2, args.days_per_task),
            "bare_x2": bare_halves_commands,
            **{f"fleet_{size}": fleet_command(size, args.days_per_task, url) for size in fleets},
        }
        if args.store == "local":  # a task per step on S3 measures the endpoint's round trips more than the pipeline
            variants["per_day_w1"] = luigi_command(1, days_per_task=1)
        return measure(args, workdir, variants)


BARE_VARIANTS = ("bare", "bare_x2")  # the references; every other variant must write their bytes


def measure(args: argparse.Namespace, workdir: Path, variants: dict) -> dict:
    timings: dict[str, list[float]] = {name: [] for name in variants}
    peaks: dict[str, list[float]] = {name: [] for name in variants}
    busy: dict[str, list[float]] = {name: [] for name in variants}
    stages: list[dict[str, float]] = []
    bases: dict[str, Path] = {}
    for attempt in range(args.repeat):
        for name, command in variants.items():
            if name in bases:
                shutil.rmtree(bases[name])
            base = workdir / f"{name}-{attempt}"
            in_bucket = args.store == "s3" and name not in BARE_VARIANTS
            run = run_measured(command(args, f"{args.bucket}/{base.name}" if in_bucket else base))
            timings[name].append(run.seconds)
            peaks[name].append(run.peak_mb)
            busy[name].append(run.busy_cpu_s)
            if in_bucket:
                from etl.storage.s3 import download

                download(f"{args.bucket}/{base.name}", base)
            bases[name] = base
            if name == "bare":
                stages.append(json.loads(run.outputs[0])["stages"])
    median = {name: statistics.median(values) for name, values in timings.items()}
    floor = io_floor(bases["bare"])
    result = {
        "days": args.days,
        "orders_per_day": args.orders_per_day,
        "repeat": args.repeat,
        "bare_s": round(median["bare"], 3),
        "luigi_w1_s": round(median["luigi_w1"], 3),
        "luigi_w2_s": round(median["luigi_w2"], 3),
        "overhead_ratio": round(median["luigi_w1"] / median["bare"], 3),
        "parallel_speedup": round(median["luigi_w1"] / median["luigi_w2"], 3),
        "io_floor_s": round(floor, 4),
        "floor_ratio": round(median["luigi_w1"] / floor, 3),
        "bare_x2_s": round(median["bare_x2"], 3),
        "bare_parallel_speedup": round(median["bare"] / median["bare_x2"], 3),
        "peak_rss_mb": {name: round(max(values), 1) for name, values in peaks.items()},
        "cores_busy": {name: round(statistics.median(values) / median[name], 2) for name, values in busy.items()},
        "stage_s": {stage: round(statistics.median(s[stage] for s in stages), 3) for stage in STAGES},
        "same_bytes": all(
            same_bytes(bases["bare"], bases[name]) for name in variants if name.startswith(("luigi", "p", "f"))
        ),
    }
    if "per_day_w1" in median:
        result["per_day_w1_s"] = round(median["per_day_w1"], 3)
        result["per_day_overhead_ratio"] = round(median["per_day_w1"] / median["bare"], 3)
    if args.store == "s3":
        result["store"] = "s3"
    for name in variants:
        if name.startswith("fleet_"):
            result[f"{name}_s"] = round(median[name], 3)
            result[f"{name}_vs_bare_x2"] = round(median["bare_x2"] / median[name], 3)
    if args.days_per_task:
        result["days_per_task"] = args.days_per_task
    if args.scan:
        result["scan_days"] = SCAN_DAYS
        result["scan_s"] = round(scan_time(workdir / "scan"), 4)
        result["status_s"] = round(status_time(workdir / "scan"), 3)
        result["status_in_process_s"] = round(status_rows_time(workdir / "scan"), 3)
        result["cron_calls"] = {days: cron_store_calls(workdir / f"cron-{days}", days) for days in CRON_DAYS}
    return result


def settings(args: argparse.Namespace, base: Path) -> dict[tuple[str, str], str]:
    """The same settings for every variant: (config section, option) -> value; windows start with the range."""
    return {
        ("etl", "base_dir"): str(base),
        ("etl", "start_date"): args.start.isoformat(),
        ("generation", "mean_orders_per_day"): str(args.orders_per_day),
        ("validation", "min_orders"): str(max(1, args.orders_per_day // 4)),
    }


def config_args(args: argparse.Namespace, base: Path) -> list[str]:
    """:func:`settings` in luigi's command-line form."""
    return [
        f"--{section}-{option.replace('_', '-')}={value}" for (section, option), value in settings(args, base).items()
    ]


def bare_command(args: argparse.Namespace, base: Path) -> list[list[str]]:
    return [_bare_loop(base, args.start, args.days, args.orders_per_day)]


def bare_halves_commands(args: argparse.Namespace, base: Path) -> list[list[str]]:
    """Two bare loops, the first and the second half of the days, each in a base of its own
    (the second half's rolling windows start with it)."""
    half = args.days // 2
    second = args.start + datetime.timedelta(days=half)
    return [
        _bare_loop(base / "first", args.start, half, args.orders_per_day),
        _bare_loop(base / "second", second, args.days - half, args.orders_per_day),
    ]


def _bare_loop(base: Path, start: datetime.date, days: int, orders_per_day: int) -> list[str]:
    return [
        sys.executable, __file__, "bare", f"--base={base}", f"--days={days}",
        f"--orders-per-day={orders_per_day}", f"--start={start}",
    ]  # fmt: skip


def luigi_command(workers: int, days_per_task: int | None = None):
    def command(args: argparse.Namespace, base: Path) -> list[list[str]]:
        stop = args.start + datetime.timedelta(days=args.days)
        chunking = [] if days_per_task is None else [f"--days-per-task={days_per_task}"]
        return [
            [
                str(Path(sys.executable).with_name("luigi")), "--module", "etl", "RangeDaily", "--of", "DailyReport",
                f"--start={args.start}", f"--stop={stop}", *chunking, "--local-scheduler", f"--workers={workers}",
                "--log-level=WARNING", *config_args(args, base),
            ]
        ]  # fmt: skip

    return command


def fleet_command(size: int, days_per_task: int | None, url: str):
    """``size`` luigi processes started at once on the range, against the luigid at ``url``."""

    def command(args: argparse.Namespace, base: Path) -> list[list[str]]:
        (one,) = luigi_command(1, days_per_task)(args, base)
        fleet = ["--no-lock", "--worker-keep-alive", "--worker-wait-interval=0.2", "--worker-wait-jitter=0.2"]
        return [[argument for argument in one if argument != "--local-scheduler"] + ["--scheduler-url", url, *fleet]
                for _ in range(size)]  # fmt: skip

    return command


@contextlib.contextmanager
def central_scheduler(home: Path):
    """luigid on a free loopback port for the benchmark's fleets; its URL."""
    luigid = str(Path(sys.executable).with_name("luigid"))
    with loopback_server(home, lambda port: [luigid, "--address", "127.0.0.1", "--port", str(port),
                                             "--logdir", str(home)]) as port:  # fmt: skip
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def loopback_bucket(home: Path):
    """A new bucket on moto's S3 server on a free loopback port, the standard AWS variables pointing there for the
    luigi commands; its ``s3://`` URL. Moto keeps objects in its own process's memory, on this machine's cores."""
    import boto3

    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p"]
    with loopback_server(home, lambda port: [*command, str(port)]) as port:
        os.environ.update(
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )  # fmt: skip
        boto3.session.Session().client("s3").create_bucket(Bucket="etl-bench")
        yield "s3://etl-bench"


@contextlib.contextmanager
def loopback_server(home: Path, command: Callable[[int], list[str]]):
    """The server ``command(port)`` starts, in ``home``, on a free loopback port, once it accepts connections."""
    home.mkdir(parents=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(command(port), cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclasses.dataclass(frozen=True)
class Measured:
    """One measured run of one variant."""

    seconds: float  # wall time until the last of its processes ended
    peak_mb: float  # the largest peak resident memory among its processes (each with its children)
    busy_cpu_s: float  # CPU time the whole machine worked meanwhile: all cores, the kernel's writing included
    outputs: list[str]  # each process's stdout


def run_measured(commands: list[list[str]]) -> Measured:
    """Run ``commands`` together and measure them.

    Earlier runs' files are flushed to disk first (untimed): otherwise the kernel writes them back
    during this run, on a core that a one-worker run leaves idle and a two-worker run needs.
    """
    os.sync()
    with contextlib.ExitStack() as files:
        streams = [(files.enter_context(tempfile.TemporaryFile()), files.enter_context(tempfile.TemporaryFile()))
                   for _ in commands]  # fmt: skip
        started, busy_before = time.perf_counter(), busy_cpu_seconds()
        processes = [
            subprocess.Popen(command, stdout=out, stderr=err, env={**os.environ, "PYTHONWARNINGS": "ignore"})
            for command, (out, err) in zip(commands, streams, strict=True)
        ]
        results = [os.wait4(process.pid, 0) for process in processes]
        seconds, busy_cpu_s = time.perf_counter() - started, busy_cpu_seconds() - busy_before
        outputs = []
        for command, (_, status, _), (out, err) in zip(commands, results, streams, strict=True):
            out.seek(0)
            err.seek(0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"{' '.join(command)} failed:\n{err.read().decode()[-4000:]}")
            outputs.append(out.read().decode())
        return Measured(seconds, max(usage.ru_maxrss for _, _, usage in results) / 1024, busy_cpu_s, outputs)


def busy_cpu_seconds() -> float:
    """CPU time the machine has worked since boot, all cores together (Linux ``/proc/stat``):
    user, system and interrupt time; idle, I/O wait and time stolen by the hypervisor left out."""
    user, nice, system, _idle, _iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def bare_loop(args: argparse.Namespace) -> int:
    """The pipeline's steps for each day, oldest first, with no orchestrator: the compute baseline."""
    import luigi.configuration

    import etl  # noqa: F401 - package defaults, as luigi loads them

    for (section, option), value in settings(args, args.base).items():
        luigi.configuration.get_config().set(section, option, value)

    from etl import run_settings, steps
    from etl.metrics import window_dates
    from etl.sources import order_source

    run = run_settings.current()
    store, source = run.store, order_source(run.source, run.generation, run.timezone)
    spent = dict.fromkeys(STAGES, 0.0)
    for offset in range(args.days):
        day = args.start + datetime.timedelta(days=offset)
        clock = time.perf_counter()
        steps.ingest_day(store, source, day)
        spent["generate"] += time.perf_counter() - clock
        clock = time.perf_counter()
        steps.validate_day(store, day, run.min_orders, run.timezone, run.max_rejected_share)
        spent["validate"] += time.perf_counter() - clock
        clock = time.perf_counter()
        steps.process_day(store, day, run.timezone, run.negative_amounts, run.excluded_statuses)
        spent["process"] += time.perf_counter() - clock
        clock = time.perf_counter()
        steps.compute_rolling(store, day, window_dates(day, run.window_days, run.start_date), run.window_days)
        spent["rolling"] += time.perf_counter() - clock
        clock = time.perf_counter()
        steps.report_day(store, day, run.report_config, run.trend_threshold)
        spent["report"] += time.perf_counter() - clock
    print(json.dumps({"stages": spent}))
    return 0


def io_floor(base: Path) -> float:
    """Seconds for one plain pyarrow read and write of each day's raw orders file."""
    import pyarrow.csv as pacsv

    total = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for orders in sorted(base.glob("raw/year=*/month=*/day=*/orders.csv")):
            started = time.perf_counter()
            pacsv.write_csv(pacsv.read_csv(orders), Path(scratch, "orders.csv"))
            total += time.perf_counter() - started
    return total


def same_bytes(left: Path, right: Path) -> bool:
    """Whether two base directories hold the same files with the same bytes, reports' run-time fields aside."""
    files = {p.relative_to(left) for p in left.rglob("*") if p.is_file() and not p.name.startswith(".")}
    others = {p.relative_to(right) for p in right.rglob("*") if p.is_file() and not p.name.startswith(".")}
    if files != others:
        return False
    return all(_comparable(left / name) == _comparable(right / name) for name in files)


def _comparable(path: Path) -> object:
    if path.name.startswith("_"):
        from etl.marks import built_from

        return built_from(json.loads(path.read_text()))
    if path.name.endswith("report.json") and path.parent.name != "cleanup":
        report = json.loads(path.read_text())
        if "run" in report:
            report["run"] = {k: v for k, v in report["run"].items() if k not in RUN_TIME_FIELDS}
        return report
    return path.read_bytes()


def scan_time(base: Path) -> float:
    """Best of five: DailyReport.bulk_complete over SCAN_DAYS days of complete partitions in every layer
    (a report's state takes its inputs' into account)."""
    import luigi.configuration

    import etl
    from etl.day_ranges import days_between

    first = datetime.date(2024, 1, 1)
    days = days_between(first, first + datetime.timedelta(days=SCAN_DAYS))
    layers = {
        "raw": ("orders.csv", "validation_report.json"),
        "processed": ("orders_processed.csv", "daily_summary.json"),
        "metrics": ("rolling_metrics.json", "daily_report.json"),
    }
    for layer, names in layers.items():  # written in pipeline order, so that no day is stale
        for day in days:
            partition = base / layer / f"year={day:%Y}" / f"month={day:%m}" / f"day={day:%d}"
            partition.mkdir(parents=True)
            for name in names:
                (partition / name).touch()
    luigi.configuration.get_config().set("etl", "base_dir", str(base))
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        complete = etl.DailyReport.bulk_complete(iter(days))
        best = min(best, time.perf_counter() - started)
    assert len(complete) == SCAN_DAYS
    return best


CRON_DAYS = (120, 360)


def cron_store_calls(base: Path, days: int) -> dict[str, int]:
    """The store calls of a nightly run (RangeDaily of DailyPipeline from the first day) that adds one day to a
    store of ``days`` days built by the bare loop: a process of its own, counting."""
    start = datetime.date(2023, 1, 1)
    subprocess.run(_bare_loop(base, start, days, 80), check=True, capture_output=True)
    counted = subprocess.run(
        [sys.executable, __file__, "cron-calls", f"--base={base}", f"--days={days}", f"--start={start}"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(counted.stdout.splitlines()[-1])


def cron_calls(args: argparse.Namespace) -> int:
    """In this process: the nightly range over a built store, with its store's calls counted (printed as JSON)."""
    import collections

    import luigi
    import luigi.configuration

    import etl
    from etl import run_settings
    from etl.storage import LocalStore

    calls: collections.Counter[str] = collections.Counter()

    class Counting(LocalStore):
        def list_partitions(self, layer):
            calls[f"list_partitions {layer}"] += 1
            return super().list_partitions(layer)

        def list_partition(self, layer, date):
            calls["list_partition"] += 1
            return super().list_partition(layer, date)

        def atomic_output(self, key):
            calls["atomic_output"] += 1
            return super().atomic_output(key)

    config = luigi.configuration.get_config()
    for (section, option), value in settings(
        argparse.Namespace(start=args.start, orders_per_day=80), args.base
    ).items():
        config.set(section, option, value)
    for layer in ("raw", "processed", "metrics"):
        config.set("retention", f"{layer}_days", "10000")
    run_settings.open_store = lambda base_dir, s3: Counting(base_dir)
    stop = args.start + datetime.timedelta(days=args.days + 1)
    os.environ["ETL_NOW"] = f"{stop}T02:00+00:00"  # cron's night after the new day
    luigi.build([etl.RangeDaily(of=etl.DailyPipeline, start=args.start, stop=stop)], local_scheduler=True,
                log_level="WARNING")  # fmt: skip
    print(json.dumps(calls))
    return 0


def status_rows_time(base: Path) -> float:
    """Best of three: what ``etl status`` computes and prints over the scan's days, in this process (no start-up)."""
    import luigi.configuration

    from etl import run_settings
    from etl.status import STEPS, day_rows
    from etl.status_view import render

    config = luigi.configuration.get_config()
    config.set("etl", "base_dir", str(base))
    config.set("etl", "start_date", "2024-01-01")
    first = datetime.date(2024, 1, 1)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        shown = render(
            day_rows(run_settings.current(), first, first + datetime.timedelta(days=SCAN_DAYS)), list(STEPS), False
        )
        best = min(best, time.perf_counter() - started)
    assert f": {SCAN_DAYS} days, " in shown
    return best


def status_time(base: Path) -> float:
    """Best of three: the ``etl status`` command (a process, its start included) over the scan's SCAN_DAYS days (those
    not over yet are shown as not due)."""
    last = datetime.date(2024, 1, 1) + datetime.timedelta(days=SCAN_DAYS - 1)
    command = [str(Path(sys.executable).with_name("etl")), "status", "--start=2024-01-01", f"--end={last}"]
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        shown = subprocess.run(
            [*command, f"--etl-base-dir={base}", "--etl-start-date=2024-01-01"], capture_output=True, text=True
        )
        best = min(best, time.perf_counter() - started)
        assert f": {SCAN_DAYS} days, " in shown.stdout, shown.stdout[-2000:] + shown.stderr[-2000:]
    return best


EXPORT_COLUMNS = {"order_id": "OrderID", "customer_id": "CustomerRef", "quantity": "Qty", "order_timestamp": "When"}


def landing_benchmark(args: argparse.Namespace, workdir: Path) -> dict:
    """The landing source end to end: ingest against its floor, the whole range, then one small late file."""
    import pyarrow.csv as pacsv

    landing, base = workdir / "landing", workdir / "base"
    days = [args.start + datetime.timedelta(days=i) for i in range(args.days)]
    exports = [sys.executable, __file__, "exports", f"--base={landing}", f"--start={args.start}"]
    # In a process of its own, so that this one stays small: a child's peak RSS counts its parent's pages.
    subprocess.run([*exports, f"--days={args.days}", f"--orders-per-day={args.orders_per_day}",
                    f"--landing={args.landing}"], check=True)  # fmt: skip
    stop = args.start + datetime.timedelta(days=args.days)
    flags = [
        "--local-scheduler", "--log-level=WARNING", "--etl-source=landing", f"--landing-directory={landing}",
        f"--landing-column-map={json.dumps({v: k for k, v in EXPORT_COLUMNS.items()})}", *config_args(args, base),
    ]  # fmt: skip
    luigi = str(Path(sys.executable).with_name("luigi"))
    ingest = run_measured([[luigi, "--module", "etl", "IngestLandingFiles", *flags]])
    rest = [luigi, "--module", "etl", "RangeDaily", "--of", "DailyReport", f"--start={args.start}", f"--stop={stop}"]
    pipeline = run_measured([[*rest, *flags]])
    late_day = days[len(days) // 2]
    subprocess.run([sys.executable, __file__, "exports", f"--base={landing / 'late'}", f"--start={late_day}",
                    "--days=1", "--orders-per-day=100", "--landing=1", "--late"], check=True)  # fmt: skip
    late = run_measured([[*rest, *flags]])
    moved_from = days[: len(days) // 2 + 1 : max(1, len(days) // 10)][:5]  # orders of up to five earlier days
    subprocess.run([sys.executable, __file__, "exports", f"--base={landing / 'corrections'}",
                    f"--start={days[len(days) // 2 + 1]}", "--days=1", "--orders-per-day=100", "--landing=1",
                    f"--corrections-of={','.join(map(str, moved_from))}"], check=True)  # fmt: skip
    corrections = run_measured([[*rest, *flags]])
    floor = landing_floor(landing, base, pacsv)
    first = ingest.seconds + pipeline.seconds
    return {
        "days": args.days,
        "orders_per_day": args.orders_per_day,
        "landing_files": args.landing,
        "landing_mb": round(sum(p.stat().st_size for p in landing.rglob("*") if p.is_file()) / 1e6, 1),
        "ingest_s": round(ingest.seconds, 3),
        "ingest_floor_s": round(floor, 3),
        "ingest_floor_ratio": round(ingest.seconds / floor, 2),
        "first_run_s": round(first, 3),
        "late_file_run_s": round(late.seconds, 3),
        "late_share_of_first": round(late.seconds / first, 3),
        "corrections_run_s": round(corrections.seconds, 3),
        "corrections_moved_from_days": len(moved_from),
        "corrections_share_of_first": round(corrections.seconds / first, 3),
        "peak_rss_mb": {
            "ingest": round(ingest.peak_mb, 1),
            "pipeline": round(pipeline.peak_mb, 1),
            "late": round(late.peak_mb, 1),
            "corrections": round(corrections.peak_mb, 1),
        },  # fmt: skip
    }


def big_landing_benchmark(args: argparse.Namespace, workdir: Path) -> dict:
    """The ingest of a landing directory of ``--landing-gb`` gigabytes whose largest file holds a third of it."""
    import pyarrow.csv as pacsv

    landing, base = workdir / "landing", workdir / "base"
    subprocess.run([sys.executable, __file__, "exports", f"--base={landing}", f"--start={args.start}",
                    f"--days={args.days}", f"--landing-gb={args.landing_gb}"], check=True)  # fmt: skip
    flags = [
        "--local-scheduler", "--log-level=WARNING", "--etl-source=landing", f"--landing-directory={landing}",
        f"--landing-column-map={json.dumps({v: k for k, v in EXPORT_COLUMNS.items()})}", *config_args(args, base),
    ]  # fmt: skip
    ingest = run_measured([[str(Path(sys.executable).with_name("luigi")), "--module", "etl", "IngestLandingFiles",
                            *flags]])  # fmt: skip
    floor = landing_floor(landing, base, pacsv)
    sizes = [p.stat().st_size for p in landing.iterdir()]
    return {
        "days": args.days,
        "landing_mb": round(sum(sizes) / 1e6, 1),
        "largest_file_mb": round(max(sizes) / 1e6, 1),
        "ingest_s": round(ingest.seconds, 3),
        "ingest_floor_s": round(floor, 3),
        "ingest_floor_ratio": round(ingest.seconds / floor, 2),
        "ingest_peak_rss_mb": round(ingest.peak_mb, 1),
    }


def write_landing(args: argparse.Namespace) -> int:
    """The export files of the landing variants: the days' orders shuffled and dealt over ``--landing`` files,
    or ``--landing-gb`` gigabytes of them, a third in one file and the rest in four."""
    import numpy as np
    import pyarrow as pa

    if args.landing_gb:
        total = int(args.landing_gb * 1e9)
        write_big_exports(args, [total // 3] + [(total - total // 3) // 4] * 4)
        return 0

    days = [args.start + datetime.timedelta(days=i) for i in range(args.days)]
    table = export_table(days, args.orders_per_day, prefix="LATE" if args.late else "")
    if args.corrections_of:  # the same orders again, corrected onto another day: ids of earlier days' orders
        earlier = [datetime.date.fromisoformat(day) for day in args.corrections_of.split(",")]
        ids = [f"ORD-{earlier[n % len(earlier)]:%Y%m%d}-{n // len(earlier) + 1:07d}" for n in range(table.num_rows)]
        table = table.set_column(0, "OrderID", pa.array(ids))
    write_exports(table.take(pa.array(np.random.default_rng(7).permutation(table.num_rows))), args.base, args.landing)
    return 0


def write_big_exports(args: argparse.Namespace, sizes: list[int]) -> None:
    """Plain export files of about ``sizes`` bytes, written a shuffled block of every day's orders at a time
    (one block generated, its order ids renamed per copy), so that this process stays small."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    days = [args.start + datetime.timedelta(days=i) for i in range(args.days)]
    block = export_table(days, orders_per_day=2000)
    rng = np.random.default_rng(7)
    args.base.mkdir(parents=True, exist_ok=True)
    for number, size in enumerate(sizes):
        path = args.base / f"export-{number}.csv"
        with pacsv.CSVWriter(str(path), block.schema) as writer:
            copy = 0
            while path.stat().st_size < size:
                ids = pa.array([f"F{number}-{copy}-{i}" for i in range(block.num_rows)])
                writer.write_table(block.set_column(0, "OrderID", ids).take(rng.permutation(block.num_rows)))
                copy += 1


def export_table(days: list[datetime.date], orders_per_day: int, prefix: str = ""):
    """Synthetic orders of ``days`` as a shop's export: its own column names, a total but no unit price."""
    import pyarrow as pa

    from etl.generation import GenerationSettings, generate_orders

    frames = [generate_orders(day, GenerationSettings(mean_orders_per_day=orders_per_day)) for day in days]
    table = pa.concat_tables(pa.Table.from_pandas(frame, preserve_index=False) for frame in frames)
    table = table.drop_columns(["unit_price"]).rename_columns(
        [EXPORT_COLUMNS.get(name, name) for name in table.column_names if name != "unit_price"]
    )
    if prefix:
        table = table.set_column(0, "OrderID", pa.array([f"{prefix}-{i}" for i in range(table.num_rows)]))
    return table


def write_exports(table, directory: Path, files: int) -> None:
    """``table`` dealt out over ``files`` export files, every other one gzip."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    directory.mkdir(parents=True, exist_ok=True)
    for number in range(files):
        part = table.take(pa.array(range(number, table.num_rows, files)))
        if number % 2:
            with pa.CompressedOutputStream(str(directory / f"export-{number}.csv.gz"), "gzip") as stream:
                pacsv.write_csv(part, stream)
        else:
            pacsv.write_csv(part, str(directory / f"export-{number}.csv"))


def landing_floor(landing: Path, base: Path, pacsv) -> float:
    """One pyarrow read of every landing file plus one write of every raw partition's orders file."""
    import pyarrow as pa

    started = time.perf_counter()
    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        if path.suffix == ".gz":
            with pa.CompressedInputStream(pa.OSFile(str(path)), "gzip") as stream:
                pacsv.read_csv(stream)
        else:
            pacsv.read_csv(str(path))
    with tempfile.TemporaryDirectory() as scratch:
        for orders in sorted(base.glob("raw/year=*/month=*/day=*/orders.csv")):
            pacsv.write_csv(pacsv.read_csv(orders), str(Path(scratch, "orders.csv")))
    return time.perf_counter() - started


def query_benchmark(args: argparse.Namespace, workdir: Path) -> dict:
    """``load_days`` over every day built against a direct read of the same files by ``pyarrow.dataset`` (with the
    same column types, into an Arrow table, and on to a pandas frame), alternated: the best after a first round, and
    that first round's (where ``load_days`` reads the settings and every completion mark the day state needs)."""
    import luigi.configuration
    import pyarrow.csv as pacsv
    import pyarrow.dataset as ds

    import etl  # noqa: F401 - package defaults, as luigi loads them
    from etl.csv_io import TABLE_TYPES
    from etl.query import load_days

    base = workdir / "base"
    subprocess.run(_bare_loop(base, args.start, args.days, args.orders_per_day), check=True, stdout=subprocess.DEVNULL)
    for (section, option), value in settings(args, base).items():
        luigi.configuration.get_config().set(section, option, value)
    files = [str(path) for path in sorted(base.glob("processed/*/*/*/orders_processed.csv"))]
    types = TABLE_TYPES["orders_processed.csv"]
    csv_format = ds.CsvFileFormat(convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True))
    end = args.start + datetime.timedelta(days=args.days - 1)
    reads = {
        "load_days": lambda: load_days(args.start, end, strict=True),
        "pyarrow_table": lambda: ds.dataset(files, format=csv_format, partitioning="hive").to_table(),
        "pyarrow_frame": lambda: ds.dataset(files, format=csv_format, partitioning="hive").to_table().to_pandas(),
    }
    seconds: dict[str, list[float]] = {name: [] for name in reads}
    rows = {}
    for _ in range(1 + max(args.repeat, 3)):
        for name, read in reads.items():
            started = time.perf_counter()
            rows[name] = len(read())
            seconds[name].append(time.perf_counter() - started)
    if len(set(rows.values())) != 1:
        raise SystemExit(f"the reads disagree on the rows: {rows}")
    best = {name: min(times[1:]) for name, times in seconds.items()}
    return {
        "days": args.days,
        "orders": rows["load_days"],
        "processed_mb": round(sum(os.path.getsize(path) for path in files) / 1e6, 1),
        **{f"{name}_s": round(time_s, 3) for name, time_s in best.items()},
        "first_call_s": {name: round(times[0], 3) for name, times in seconds.items()},
        "load_days_vs_pyarrow_table": round(best["load_days"] / best["pyarrow_table"], 2),
        "load_days_vs_pyarrow_frame": round(best["load_days"] / best["pyarrow_frame"], 2),
    }


def format_table(result: dict) -> str:
    rows = [
        ("days x orders/day", f"{result['days']} x {result['orders_per_day']}"),
        ("bare loop (no orchestrator)", f"{result['bare_s']:.2f} s"),
        ("luigi, 1 worker", f"{result['luigi_w1_s']:.2f} s  ({result['overhead_ratio']:.2f}x bare)"),
        ("luigi, 2 workers", f"{result['luigi_w2_s']:.2f} s  (speed-up {result['parallel_speedup']:.2f}x)"),
        (
            "bare loop, two processes (half the days each)",
            f"{result['bare_x2_s']:.2f} s  (speed-up {result['bare_parallel_speedup']:.2f}x, reference for 2 workers)",
        ),
        (
            "I/O floor (pyarrow read+write)",
            f"{result['io_floor_s']:.3f} s  (luigi 1 worker = {result['floor_ratio']:.1f}x)",
        ),
        ("cores busy on average", ", ".join(f"{k} {v:.2f}" for k, v in result["cores_busy"].items())),
        ("peak RSS MB", ", ".join(f"{k} {v:.0f}" for k, v in result["peak_rss_mb"].items())),
        ("stages (bare, s)", ", ".join(f"{k} {v:.2f}" for k, v in result["stage_s"].items())),
        ("same bytes, runs (a) to (d)", str(result["same_bytes"])),
    ]
    if "per_day_w1_s" in result:
        rows.insert(
            4, ("luigi, 1 worker, a task per step", f"{result['per_day_w1_s']:.2f} s  "
                f"({result['per_day_overhead_ratio']:.2f}x bare)")
        )  # fmt: skip
    for name in result:
        if name.startswith("fleet_") and name.endswith("_s"):
            size = name.removeprefix("fleet_").removesuffix("_s")
            rows.append((f"fleet of {size} luigi processes on one luigid", f"{result[name]:.2f} s  "
                         f"({result[f'fleet_{size}_vs_bare_x2']:.2f}x as fast as two bare loops)"))  # fmt: skip
    if "scan_s" in result:
        rows.append((f"missing-day scan, {result['scan_days']} days", f"{result['scan_s'] * 1000:.1f} ms"))
        rows.append((f"etl status, {result['scan_days']} days (a process)", f"{result['status_s']:.2f} s"))
        rows.append((f"etl status, {result['scan_days']} days (in process)", f"{result['status_in_process_s']:.2f} s"))
        for days, calls in result["cron_calls"].items():
            listed = ", ".join(
                f"{layer} {calls[f'list_partitions {layer}']}" for layer in ("raw", "processed", "metrics")
            )
            rows.append(
                (f"a night's run on {days} days: store calls", f"layer listings {listed}; partition listings "
                 f"{calls['list_partition']}; files written {calls['atomic_output']}")
            )  # fmt: skip
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


if __name__ == "__main__":
    sys.exit(main())
