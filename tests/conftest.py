"""Shared fixtures: a fresh base directory per test, Luigi config set and restored, the real luigi CLI."""

from __future__ import annotations

import contextlib
import datetime
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import luigi
import luigi.configuration
import pytest
from luigi.task_register import Register

import etl  # noqa: F401 - installs the package's Luigi defaults, as the luigi command does

# In-process runs (main(), run_backfill()) use config the tests set in this process, which the child process of
# the progress line would not see: keep them in-process under `pytest -s` on a terminal too. Commands the tests
# start get a clean environment (run_luigi, and test_progress's terminal) and decide for themselves.
os.environ["ETL_PROGRESS"] = "0"
REPO = Path(__file__).resolve().parents[1]
LUIGI = Path(sys.executable).with_name("luigi")
ETL = Path(sys.executable).with_name("etl")
# Small days keep the suite fast; validation's minimum is lowered to match.
FAST_DAYS = {"generation": {"mean_orders_per_day": "80"}, "validation": {"min_orders": "20"}}


@pytest.fixture(autouse=True)
def real_clock(monkeypatch) -> None:
    """Tests run on the real clock unless they set ETL_NOW themselves, whatever the shell running them set."""
    monkeypatch.delenv("ETL_NOW", raising=False)


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    return tmp_path / "base"


@contextlib.contextmanager
def luigi_config() -> Iterator[Callable[[dict[str, dict[str, object]]], None]]:
    """Set Luigi config options (``apply({section: {option: value}})``) for a block and restore them after.

    Luigi caches task instances, and a task reads its config once, as it does its parameters:
    the cache is cleared whenever config changes, as a new process would start afresh.
    """
    config = luigi.configuration.get_config()
    saved: dict[tuple[str, str], str | None] = {}

    def apply(sections: dict[str, dict[str, object]]) -> None:
        for section, options in sections.items():
            if not config.has_section(section):
                config.add_section(section)
            for option, value in options.items():
                saved.setdefault((section, option), config.get(section, option, None))
                config.set(section, option, str(value))
        Register.clear_instance_cache()

    try:
        yield apply
    finally:
        for (section, option), value in saved.items():
            if value is None:
                config.remove_option(section, option)
            else:
                config.set(section, option, value)
        Register.clear_instance_cache()


@pytest.fixture
def configure(base_dir: Path) -> Iterator:
    """Luigi config for one test: base_dir and small days by default, more with ``configure({...})``."""
    with luigi_config() as apply:
        apply({"etl": {"base_dir": str(base_dir)}, **FAST_DAYS})
        yield apply


def run_luigi(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    scheduler: tuple[str, ...] = ("--local-scheduler",),
    stdout: int = subprocess.PIPE,
) -> subprocess.CompletedProcess:
    """Run the real ``luigi`` command with ``--module etl`` in a clean environment; returns the finished process.

    A range runs the night after its ``--stop``, unless ``env`` sets ``ETL_NOW``: a range completes whole blocks of
    days up to the calendar's today, and a test's range is then exactly its days. ``stdout`` (a file descriptor, a
    terminal's say) replaces the captured output."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}
    full_env.update(night_after(args, "--stop", days=0))
    full_env.update(env or {})
    return subprocess.run(
        [str(LUIGI), "--module", "etl", *args, *scheduler, "--log-level", "INFO"],
        cwd=cwd,
        env=full_env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=600,
    )


def night_after(args: tuple[str, ...], option: str, days: int) -> dict[str, str]:
    """``ETL_NOW`` at noon UTC ``days`` after the day ``option`` names in ``args`` (none without it): that day has
    begun, and the day before it is over, in every [etl] timezone from UTC-12 to UTC+11."""
    for index, arg in enumerate(args):
        if arg == option or arg.startswith(f"{option}="):
            day = datetime.date.fromisoformat(arg.partition("=")[2] or args[index + 1])
            return {"ETL_NOW": f"{day + datetime.timedelta(days=days)}T12:00+00:00"}
    return {}


def run_etl(*args: str, base: Path) -> subprocess.CompletedProcess:
    """Run the installed ``etl`` command on ``base`` (from 2024-01-01, small days) in a clean environment; a backfill
    runs the night after its ``--end`` (see :func:`run_luigi`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "ETL_"))}
    if args[0] == "backfill":
        env.update(night_after(args, "--end", days=1))
    return subprocess.run(
        [str(ETL), *args, f"--etl-base-dir={base}", "--etl-start-date=2024-01-01", *fast_day_args()],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def fast_day_args() -> list[str]:
    """The command-line form of FAST_DAYS."""
    return [f"--{s}-{o.replace('_', '-')}={v}" for s, options in FAST_DAYS.items() for o, v in options.items()]


def day_dir(base: Path, layer: str, day: datetime.date) -> Path:
    """A day partition's directory, spelled out here independently of the package's layout code."""
    return base / layer / f"year={day:%Y}" / f"month={day:%m}" / f"day={day:%d}"


def landing_source(configure, directory: Path, column_map: dict[str, str], **sections: dict[str, str]) -> Path:
    """Configure the landing source for one test: ``directory`` (made) with ``column_map``, days of one order
    valid, and any other ``sections``; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    landing = {"directory": str(directory), "column_map": json.dumps(column_map), **sections.pop("landing", {})}
    configure({
        "etl": {"source": "landing", **sections.pop("etl", {})},
        "landing": landing,
        "validation": {"min_orders": "1", **sections.pop("validation", {})},
        **sections,
    })  # fmt: skip
    return directory


def summary(base: Path, day: datetime.date) -> dict:
    """A day's daily summary, read from its processed partition."""
    return json.loads((day_dir(base, "processed", day) / "daily_summary.json").read_text())


def build(*tasks: luigi.Task, workers: int = 1) -> luigi.execution_summary.LuigiRunResult:
    """Run ``tasks`` in this process with the local scheduler; the detailed result."""
    return luigi.build(list(tasks), local_scheduler=True, workers=workers, detailed_summary=True, log_level="WARNING")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[int, list]]:
    """A real SMTP server on a free loopback port: its port, and the messages it received."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list = []

    class Inbox(Message):
        def handle_message(self, message):
            received.append(message)

    port = free_port()
    server = Controller(Inbox(), hostname="127.0.0.1", port=port)
    server.start()
    yield port, received
    server.stop()


@contextlib.contextmanager
def http_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    """A real HTTP server with ``handler`` on a free loopback port, served by a thread: its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def webhook_inbox() -> Iterator[tuple[str, list[dict]]]:
    """A webhook endpoint, a real HTTP server on a free loopback port taking JSON POSTs (anything else: 400): its URL,
    whose path is a secret as a Slack webhook's is, and each JSON body it received."""
    received: list[dict] = []

    class Webhook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers["Content-Type"] != "application/json":
                self.send_error(400, "expected application/json")
                return
            received.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            """Quiet: the test reads what was received."""

    with http_server(Webhook) as port:
        yield f"http://127.0.0.1:{port}/services/T0/B0/secret-token", received


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port where connections are accepted (the kernel's backlog) and never answered: a hung server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.fixture
def luigid(tmp_path):
    """A real central scheduler on a free loopback port."""
    with running_luigid(tmp_path) as port:
        yield port


@contextlib.contextmanager
def running_luigid(directory: Path) -> Iterator[int]:
    """luigid on a free loopback port, run in ``directory`` (where it reads a luigi.cfg and writes its state)."""
    port = free_port()
    command = [str(LUIGI.with_name("luigid")), "--address", "127.0.0.1", "--port", str(port), "--logdir"]
    command.append(str(directory))
    with serving(subprocess.Popen(command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), port):
        yield port


@contextlib.contextmanager
def serving(process: subprocess.Popen, port: int, wait_seconds: float = 30) -> Iterator[None]:
    """Wait until the server ``process`` listens on ``port`` (fail the test otherwise); stop it after the block."""
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"{process.args[0]} did not start listening on port {port}")
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def download_s3(url: str, into: Path) -> Path:
    """The objects under ``s3://bucket/prefix`` as a local tree under ``into`` (as they are now), to compare."""
    from etl.storage.s3 import download  # the s3 extra, there when a test has a bucket

    return download(url, into)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 endpoint on a free loopback port for the whole session: moto's server in its own process, so
    that the luigi commands the tests start reach it too. Skipped, saying how to install it, without moto."""
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError:
        pytest.skip("boto3 and moto[server] are not installed: pip install -e '.[dev,s3]'")
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with serving(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), port, 60):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def s3_bucket(s3_endpoint, monkeypatch) -> str:
    """A new empty bucket on the loopback endpoint, the standard AWS variables pointing there (for the commands
    the tests start too): its ``s3://`` URL."""
    import boto3

    for name, value in {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }.items():
        monkeypatch.setenv(name, value)
    bucket = f"etl-{uuid.uuid4().hex[:16]}"
    boto3.session.Session().client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}"
