"""The store contract (:mod:`store_contract`) on S3 (moto's server on loopback), and what only S3 shows: bounded
listings, retried transient errors, failed writes that leave nothing, conditional writes that give up naming
the key, a lease a vanished holder loses, and the landing area on a bucket."""

from __future__ import annotations

import concurrent.futures
import datetime
import gzip
import hashlib
import math
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import REPO, landing_source, run_luigi
from store_contract import *  # noqa: F403 - the contract's tests, run here on an S3Store

boto3 = pytest.importorskip("boto3", reason="boto3 is not installed: pip install -e '.[dev,s3]'")

from botocore.awsrequest import AWSResponse  # noqa: E402
from botocore.exceptions import BotoCoreError  # noqa: E402

import etl.storage.s3  # noqa: E402
from etl import landing, run_settings  # noqa: E402
from etl.storage import UnsupportedStoreError, open_store  # noqa: E402
from etl.storage.landing import LocalLanding  # noqa: E402
from etl.storage.layout import INGEST_INDEX_KEY, INGEST_JOURNAL_KEY, file_key  # noqa: E402
from etl.storage.s3 import ConflictError, S3Landing, S3Options, S3Store, S3WriteError  # noqa: E402

D = datetime.date
KEY = file_key("metrics", D(2024, 3, 9), "out.json")


@pytest.fixture
def store(s3_bucket) -> S3Store:
    return S3Store(f"{s3_bucket}/base")


class _Raw:
    """What botocore reads an answer's body from."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs):
        yield self.body


def answer_500(times: int | None):
    """A botocore ``before-send`` handler answering 500 to the first ``times`` requests (every one if None),
    as a struggling service does; it counts the requests it saw."""
    seen = []

    def handler(request, **kwargs):
        seen.append(request.url)
        if times is None or len(seen) <= times:
            return AWSResponse(request.url, 500, {}, _Raw(b"<Error><Code>InternalError</Code></Error>"))
        return None

    handler.seen = seen
    return handler


def test_open_store_of_an_s3_url_is_an_s3_store_and_other_schemes_are_refused(s3_bucket):
    store = open_store(f"{s3_bucket}/base/")
    assert isinstance(store, S3Store) and store.describe() == f"{s3_bucket}/base"
    assert store == S3Store(f"{s3_bucket}/base")
    for url in ("gs://bucket/data", "file:///tmp/x"):
        with pytest.raises(UnsupportedStoreError, match="not supported"):
            open_store(url)


def test_the_s3_endpoint_url_flag_reaches_the_store_without_aws_endpoint_url(
    s3_endpoint, s3_bucket, monkeypatch, tmp_path
):
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    result = run_luigi(
        "GenerateDailyData", "--date", "2024-01-01", f"--etl-base-dir={s3_bucket}/base",
        f"--s3-endpoint-url={s3_endpoint}", "--s3-addressing-style=path", cwd=tmp_path, env={"PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    client = boto3.session.Session().client("s3", endpoint_url=s3_endpoint)
    listed = client.list_objects_v2(Bucket=s3_bucket.removeprefix("s3://"), Prefix="base/raw/")
    assert f"base/{file_key('raw', D(2024, 1, 1), 'orders.csv')}" in [item["Key"] for item in listed["Contents"]]


def test_the_first_conditional_write_checks_the_endpoint_once_per_bucket_and_leaves_no_probe(s3_bucket, monkeypatch):
    puts = []
    made = etl.storage.s3.make_client

    def counting_client(options):
        client = made(options)
        client.meta.events.register("before-call.s3.PutObject", lambda **kwargs: puts.append(1))
        return client

    monkeypatch.setattr(etl.storage.s3, "make_client", counting_client)
    store = open_store(f"{s3_bucket}/base")
    store.stat("raw/year=2024/month=01/day=01/orders.csv")
    assert puts == [], "opening and reading a store never writes"
    store.update_json(INGEST_INDEX_KEY, lambda current: {"n": 1})
    assert len(puts) == 1 + 3, "one write, then two that must fail, then the update"
    open_store(f"{s3_bucket}/other").update_json(INGEST_INDEX_KEY, lambda current: {"n": 1})
    assert len(puts) == 4 + 1, "once per process and bucket"
    listed = store.client.list_objects_v2(Bucket=store.bucket)["Contents"]
    assert [item["Key"] for item in listed] == [f"{prefix}/{INGEST_INDEX_KEY}" for prefix in ("base", "other")], (
        "the probe object is removed"
    )


@pytest.mark.parametrize(("ignored", "header"), [("IfNoneMatch", "If-None-Match: \\*"), ("IfMatch", "If-Match")])
def test_an_endpoint_ignoring_a_write_condition_is_refused_naming_it(
    s3_endpoint, s3_bucket, monkeypatch, ignored, header
):
    made = etl.storage.s3.make_client

    def ignoring(options):
        """A client whose puts lose the condition on the way, as an endpoint without conditional writes drops it."""
        client = made(options)
        client.meta.events.register("before-parameter-build.s3.PutObject", lambda params, **_: params.pop(ignored, 0))
        return client

    monkeypatch.setattr(etl.storage.s3, "make_client", ignoring)
    message = f"{s3_bucket}/base: the S3 endpoint {s3_endpoint} ignores {header} on a write"
    store = open_store(f"{s3_bucket}/base")
    with pytest.raises(UnsupportedStoreError, match=message):
        store.update_json(INGEST_INDEX_KEY, lambda current: {"n": 1})


def test_listing_three_years_costs_bounded_requests(store):
    days = [D(2022, 1, 1) + datetime.timedelta(days=n) for n in range(3 * 365 + 1)]
    names = [store._name(file_key("raw", day, "orders.csv")) for day in days]
    put_empty(store.bucket, names)
    listings = []
    store.client.meta.events.register("before-call.s3.ListObjectsV2", lambda **kwargs: listings.append(1))

    found = store.list_partitions("raw")

    assert sorted(found) == days and all(list(files) == ["orders.csv"] for files in found.values())
    assert len(listings) == math.ceil(len(days) / 1000), "a page of 1,000 objects a request, never one per day"
    listings.clear()
    assert store.list_partitions("processed") == {} and len(listings) == 1


def test_a_transient_500_is_retried(store):
    failing = answer_500(times=2)
    store.client.meta.events.register("before-send.s3.PutObject", failing)
    store.write_json(KEY, {"v": 1})
    assert len(failing.seen) == 3, "two 500s, then the write"
    assert store.read_json(KEY) == {"v": 1}


def test_a_failed_write_leaves_nothing_and_names_the_key(s3_bucket):
    store = S3Store(f"{s3_bucket}/base", S3Options(max_attempts=2))
    failing = answer_500(times=None)
    store.client.meta.events.register("before-send.s3.PutObject", failing)
    with pytest.raises(S3WriteError, match=f"could not write {store.describe(KEY)}"):
        store.write_json(KEY, {"v": 1})
    assert len(failing.seen) > 1, "retried before giving up"
    assert store.stat(KEY) is None and store.list_partitions("metrics") == {}


def test_an_endpoint_that_never_answers_times_out_after_the_configured_seconds(monkeypatch, silent_port):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    options = S3Options(
        endpoint_url=f"http://127.0.0.1:{silent_port}", region="us-east-1", max_attempts=2, connect_timeout_seconds=1,
        read_timeout_seconds=0.5,
    )  # fmt: skip
    store = S3Store("s3://silent/base", options)
    started = time.monotonic()
    with pytest.raises(BotoCoreError, match="Read timeout"):
        store.stat(KEY)
    assert time.monotonic() - started < 5, "two attempts of half a second each, and botocore's backoff"


def test_an_ingest_whose_lease_was_taken_over_does_not_write_over_the_new_holders_index(
    store, configure, tmp_path, monkeypatch
):
    from test_landing import COLUMN_MAP, WEEK, csv_bytes, export_rows

    directory = landing_source(configure, tmp_path / "landing", COLUMN_MAP)
    (directory / "week.csv").write_bytes(csv_bytes(export_rows(WEEK, per_day=5, seed=1)))
    settings = run_settings.load_run_settings().landing
    store.write_json(INGEST_INDEX_KEY, {"files": {}})
    check_bucketing = landing.check_bucketing

    def taken_over_meanwhile(*args, **kwargs):
        """The holder pauses past its lease here; another takes the lease and publishes its own index."""
        store.write_json(INGEST_INDEX_KEY, {"files": {}, "by": "the new holder"})
        return check_bucketing(*args, **kwargs)

    monkeypatch.setattr(landing, "check_bucketing", taken_over_meanwhile)
    with pytest.raises(ConflictError, match=f"{store.describe(INGEST_INDEX_KEY)} changed since it was read"):
        landing.ingest(store, LocalLanding(str(directory), settings.patterns), settings, "UTC", WEEK[0], lambda _: True)
    assert store.read_json(INGEST_INDEX_KEY) == {"files": {}, "by": "the new holder"}
    assert not any(store.list_partitions("raw").values()), "no staged partition moved over the new holder's"
    assert "actions" not in store.read_json(INGEST_JOURNAL_KEY), "no commit for the next ingest to finish"


def test_an_ingest_whose_staged_files_a_new_holder_removed_publishes_nothing(store, configure, tmp_path, monkeypatch):
    from test_landing import COLUMN_MAP, WEEK, csv_bytes, export_rows

    directory = landing_source(configure, tmp_path / "landing", COLUMN_MAP)
    (directory / "week.csv").write_bytes(csv_bytes(export_rows(WEEK, per_day=5, seed=1)))
    settings = run_settings.load_run_settings().landing
    stage_day = landing.stage_day

    def taken_over_meanwhile(*args, **kwargs):
        """The holder pauses past its lease after staging; another takes the lease and drops what it staged, as
        ``finish_interrupted`` does with a journal that never committed."""
        staged = stage_day(*args, **kwargs)
        for action, *keys in staged:
            if action == "move":
                store.remove(keys[0])
        return staged

    monkeypatch.setattr(landing, "stage_day", taken_over_meanwhile)
    with pytest.raises(ConflictError, match="staged files were removed by another ingest"):
        landing.ingest(store, LocalLanding(str(directory), settings.patterns), settings, "UTC", WEEK[0], lambda _: True)
    assert not any(store.list_partitions("raw").values()) and not store.exists(INGEST_INDEX_KEY), "nothing published"


def test_a_landing_file_rewritten_within_its_second_at_the_same_size_is_seen_as_changed(s3_bucket, store):
    landing_url, name = f"{s3_bucket}/landing", "week.csv"
    exports = S3Landing(landing_url, ("*.csv",))
    store.client.put_object(Bucket=store.bucket, Key=f"landing/{name}", Body=b"Id,Total\n1,2.50\n")
    (_, first), *_ = exports.files()
    store.client.put_object(Bucket=store.bucket, Key=f"landing/{name}", Body=b"Id,Total\n1,9.50\n")
    (_, now), *_ = exports.files()
    seen = {"size": first.size, "mtime_ns": now.mtime_ns, "version": first.version, "sha256": "of the first bytes"}
    store.write_json(INGEST_INDEX_KEY, {"files": {name: {**seen, "days": {}, "rank": [1, 0]}}})

    assert now.size == first.size and now.version != first.version
    assert not landing.up_to_date(store, exports, lambda _: True), "same size and second, another ETag"
    assert [pending[0] for pending in landing.scan(store, exports, lambda _: True).pending] == [name]


def test_update_json_conflict_retries_then_names_the_key(store, monkeypatch):
    monkeypatch.setattr(etl.storage.s3, "CAS_BACKOFF_SECONDS", 0)
    calls = []

    def overtaken(current):
        calls.append(current)
        store.write_json(KEY, {"by": "another writer", "n": len(calls)})  # lands between our read and write
        return {"by": "us"}

    with pytest.raises(ConflictError, match=store.describe(KEY)):
        store.update_json(KEY, overtaken)
    assert len(calls) == etl.storage.s3.CAS_ATTEMPTS
    assert store.read_json(KEY) == {"by": "another writer", "n": len(calls)}, "the other writer's update stands"


def test_two_threads_racing_update_json_lose_nothing(s3_bucket):
    stores = [S3Store(f"{s3_bucket}/base") for _ in range(2)]  # two clients, as two hosts have

    def increment_many(store) -> None:
        for _ in range(30):
            store.update_json(KEY, lambda current: {"n": (current or {"n": 0})["n"] + 1})

    threads = [threading.Thread(target=increment_many, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert stores[0].read_json(KEY) == {"n": 60}


def test_the_lease_excludes_a_second_holder_and_expires_when_its_holder_vanishes(store):
    key, ttl = "ingest/lock/ingest", 2
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LEASE.format(url=store.describe(), key=key, ttl=ttl)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        entered = threading.Event()

        def second() -> None:
            with store.lease(key, ttl=ttl):
                entered.set()

        thread = threading.Thread(target=second, daemon=True)
        thread.start()
        assert not entered.wait(ttl * 1.5), "a live holder renews its lease: the second waits"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        assert entered.wait(ttl * 4), "a vanished holder's lease is taken once it expires"
        thread.join(timeout=30)
        assert store.stat(f"{key}.lease") is None, "released by the second holder"
    finally:
        holder.kill()
        holder.wait(timeout=30)


_HOLD_LEASE = textwrap.dedent("""
    import time
    from etl.storage.s3 import S3Store
    with S3Store({url!r}).lease({key!r}, ttl={ttl}):
        print("held", flush=True)
        time.sleep(600)
""")


def test_the_landing_area_on_a_bucket_lists_fingerprints_and_reads_exports(s3_bucket, store):
    landing_url = f"{s3_bucket}/landing"
    body = b"Id,Total\n1,2.50\n"
    objects = {
        "landing/b.csv": body,
        "landing/shop/a.csv.gz": gzip.compress(body),
        "landing/notes.txt": b"not an export",
        "landing/.partial/c.csv": body,
        "base/raw/x.csv": b"the pipeline's own",
    }
    for name, data in objects.items():
        store.client.put_object(Bucket=store.bucket, Key=name, Body=data)
    landing = S3Landing(landing_url, ("*.csv", "*.csv.gz"))

    files = landing.files()

    assert [name for name, _ in files] == ["b.csv", "shop/a.csv.gz"]
    assert files[0][1].size == len(body) and isinstance(files[0][1].version, str)
    assert landing.open("shop/a.csv.gz").read() == body and landing.open("b.csv").read() == body
    assert landing.sha256("b.csv") == hashlib.sha256(body).hexdigest()
    assert landing.max_decoded_bytes("shop/a.csv.gz") == 200 * len(gzip.compress(body))
    assert landing.max_decoded_bytes("b.csv") is None and landing.target("b.csv") is None
    assert landing.describe("b.csv") == f"{landing_url}/b.csv"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        S3Landing("s3://no-such-bucket-here/landing", ("*.csv",)).files()


def put_empty(bucket: str, names: list[str]) -> None:
    """Small objects put from a few threads at once: three years of keys in seconds on moto."""
    client = boto3.session.Session().client("s3")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: client.put_object(Bucket=bucket, Key=name, Body=b"x"), names))
