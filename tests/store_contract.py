"""What every ``Store`` promises, whatever it stores on: a module of tests over a ``store`` fixture.

A test module of one store defines a ``store`` fixture (an empty store of its own per test) and imports these
tests with ``from store_contract import *``. The tests reach the store through its verbs only, so that each
store is held to the same behaviour; what only one store can show stays in that store's own tests.
"""

from __future__ import annotations

import datetime
import threading

import pyarrow.fs as pafs
import pytest

from etl.storage import ConflictError, Store
from etl.storage.layout import file_key, partition_key, staged_key

__all__ = [
    "test_a_listing_of_one_partition_shows_its_files_only",
    "test_arrow_reads_a_file_by_its_key_below_the_root_the_store_gives",
    "test_atomic_output_publishes_only_on_success",
    "test_atomic_output_replaces_a_file_whole",
    "test_concurrent_update_json_loses_no_update",
    "test_keys_outside_the_layout_are_refused",
    "test_lease_makes_a_second_holder_wait",
    "test_list_partitions_finds_every_day_of_a_layer_and_ignores_malformed_and_staged",
    "test_move_replaces_whole",
    "test_open_input_missing_names_the_location",
    "test_remove_deletes_one_file_and_ignores_a_missing_one",
    "test_replace_if_writes_only_over_the_file_as_it_was_seen",
    "test_remove_partition_removes_only_that_day_of_that_layer",
    "test_stat_tells_the_size_and_none_for_a_missing_file",
    "test_update_json_creates_changes_and_can_leave_a_document_alone",
    "test_version_token_changes_with_every_write_and_not_with_a_read",
]

D = datetime.date
DAY = D(2024, 3, 9)
KEY = file_key("metrics", DAY, "out.json")


def write(store: Store, key: str, data: bytes) -> None:
    with store.atomic_output(key) as stream:
        stream.write(data)


def test_stat_tells_the_size_and_none_for_a_missing_file(store):
    assert store.stat(KEY) is None and not store.exists(KEY)
    write(store, KEY, b"12345")
    assert store.stat(KEY).size == 5 and store.exists(KEY)
    assert store.stat(KEY + "/below-a-file") is None, "a key below a file is simply missing"


def test_atomic_output_publishes_only_on_success(store):
    with pytest.raises(RuntimeError, match="boom"), store.atomic_output(KEY) as stream:
        stream.write(b"half")
        raise RuntimeError("boom")
    assert store.stat(KEY) is None, "a failed write publishes nothing"
    assert store.list_partition("metrics", DAY) == {}, "nor lists anything"
    assert store.list_partitions("metrics").get(DAY, {}) == {}, "(an empty partition may remain on disk)"
    write(store, KEY, b"old")
    with pytest.raises(RuntimeError, match="boom"), store.atomic_output(KEY) as stream:
        stream.write(b"new")
        raise RuntimeError("boom")
    assert store.read_bytes(KEY) == b"old", "a failed write keeps the file it would have replaced"
    assert list(store.list_partition("metrics", DAY)) == ["out.json"], "and leaves nothing beside it"


def test_atomic_output_replaces_a_file_whole(store):
    write(store, KEY, b"old content, longer")
    write(store, KEY, b"new")
    assert store.read_bytes(KEY) == b"new"
    with store.atomic_output(KEY):
        pass
    assert store.read_bytes(KEY) == b"", "a block that writes nothing leaves an empty file"


def test_open_input_missing_names_the_location(store):
    missing = file_key("raw", DAY, "nope.csv")
    with pytest.raises(FileNotFoundError) as raised:
        store.open_input(missing)
    assert store.describe(missing) in str(raised.value), "the error says where the file was looked for"
    with pytest.raises(FileNotFoundError):
        store.read_json(missing)


@pytest.mark.parametrize(
    "key", ["", "staging/x.csv", "/raw/x.csv", "raw//x.csv", "raw/../metrics/x", "raw/./x", "../raw/x", "raw/x/"]
)
def test_keys_outside_the_layout_are_refused(store, key):
    for verb in (store.stat, store.open_input, store.remove, store.read_bytes):
        with pytest.raises(ValueError, match="is not a key of the pipeline's layout"):
            verb(key)
    with pytest.raises(ValueError, match="is not a key"), store.atomic_output(key) as stream:
        stream.write(b"x")
    with pytest.raises(ValueError, match="is not a key"):
        store.update_json(key, lambda current: {})
    assert store.list_partitions("raw") == {}, "nothing was created"


def test_list_partitions_finds_every_day_of_a_layer_and_ignores_malformed_and_staged(store):
    days = [D(2023, 12, 31), D(2024, 1, 1), D(2024, 2, 29)]
    for day in days:
        write(store, file_key("raw", day, "orders.csv"), day.isoformat().encode())
    write(store, staged_key(file_key("raw", DAY, "orders.csv")), b"staged, not published")
    write(store, staged_key(file_key("raw", days[0], "orders.csv")), b"staged beside a published file")
    for malformed in ("year=2024/month=02/day=30", "year=2024/month=13/day=01", "year=24/month=01/day=01"):
        write(store, f"raw/{malformed}/orders.csv", b"x")
    write(store, "raw/year=2024/month=01/notes.txt", b"not in a day")
    write(store, file_key("processed", DAY, "orders_processed.csv"), b"another layer")

    found = store.list_partitions("raw")

    assert sorted(found) == sorted([*days, DAY])
    assert found[DAY] == {}, "a partition holding only a staged file lists no file"
    assert found[days[0]] == {"orders.csv": store.stat(file_key("raw", days[0], "orders.csv"))}
    assert found[days[2]]["orders.csv"].size == len(b"2024-02-29")
    assert store.list_partitions("metrics") == {}, "a layer never written is empty"


def test_a_listing_of_one_partition_shows_its_files_only(store):
    write(store, file_key("raw", DAY, "orders.csv"), b"a")
    write(store, file_key("raw", DAY, "manifest.json"), b"{}")
    write(store, staged_key(file_key("raw", DAY, "orders.csv")), b"staged")
    write(store, file_key("raw", DAY + datetime.timedelta(days=1), "orders.csv"), b"next day")
    listed = store.list_partition("raw", DAY)
    assert sorted(listed) == ["manifest.json", "orders.csv"]
    assert listed["orders.csv"] == store.stat(file_key("raw", DAY, "orders.csv")), "a listing tells what stat does"
    assert store.list_partition("raw", D(2020, 1, 1)) == {}


def test_remove_deletes_one_file_and_ignores_a_missing_one(store):
    write(store, KEY, b"x")
    write(store, file_key("metrics", DAY, "keep.json"), b"y")
    store.remove(KEY)
    store.remove(KEY)
    assert list(store.list_partition("metrics", DAY)) == ["keep.json"]


def test_move_replaces_whole(store):
    final, staged = file_key("raw", DAY, "orders.csv"), staged_key(file_key("raw", DAY, "orders.csv"))
    write(store, final, b"old version, longer than the new one")
    write(store, staged, b"order_id\nA\n")
    store.move(staged, final)
    assert store.read_bytes(final) == b"order_id\nA\n"
    assert store.stat(staged) is None, "the staged file is gone"
    assert list(store.list_partition("raw", DAY)) == ["orders.csv"]


def test_remove_partition_removes_only_that_day_of_that_layer(store):
    for layer in ("raw", "processed"):
        for day in (DAY, DAY + datetime.timedelta(days=1)):
            write(store, file_key(layer, day, "a.csv"), b"x")
            write(store, file_key(layer, day, "b.json"), b"{}")
    write(store, "cleanup/retired_days.json", b"{}")

    assert store.remove_partition("raw", DAY) is True
    assert store.remove_partition("raw", DAY) is False, "a day already gone"
    assert store.remove_partition("metrics", DAY) is False, "a layer never written"

    assert list(store.list_partitions("raw")) == [DAY + datetime.timedelta(days=1)]
    assert sorted(store.list_partitions("processed")) == [DAY, DAY + datetime.timedelta(days=1)]
    assert store.exists("cleanup/retired_days.json")
    for layer in ("staging", "raw/..", ".."):
        with pytest.raises(ValueError, match="unknown layer"):
            store.remove_partition(layer, DAY)
    assert partition_key("processed", DAY) in store.partition_location("processed", DAY)


def test_version_token_changes_with_every_write_and_not_with_a_read(store):
    """Every write of other bytes gives a new token (an object store's ETag is a digest: the same bytes may keep
    theirs), whatever the clock says; a read never changes it."""
    tokens = []
    for n in range(4):
        write(store, KEY, f"content {n}".encode())  # the same size each time
        tokens.append(store.stat(KEY).version)
        store.read_bytes(KEY)
        assert store.stat(KEY).version == tokens[-1], "a read changes nothing"
    assert all(before != after for before, after in zip(tokens, tokens[1:], strict=False)), (
        f"every write gives a token other than the one before (a freed inode may come back later): {tokens}"
    )
    assert store.version(KEY).sha256 == store.version(KEY, store.stat(KEY)).sha256


def test_replace_if_writes_only_over_the_file_as_it_was_seen(store):
    store.replace_if(KEY, b"first", None)
    seen = store.stat(KEY)
    with pytest.raises(ConflictError, match="changed since it was read"):
        store.replace_if(KEY, b"not over an existing file", None)
    write(store, KEY, b"another writer's")  # between the holder's read and its write
    with pytest.raises(ConflictError, match=f"{store.describe(KEY)} changed since it was read"):
        store.replace_if(KEY, b"the paused holder's", seen)
    assert store.read_bytes(KEY) == b"another writer's"
    store.replace_if(KEY, b"third", store.stat(KEY))
    assert store.read_bytes(KEY) == b"third"


def test_update_json_creates_changes_and_can_leave_a_document_alone(store):
    seen = []

    def bump(current):
        seen.append(current)
        return {"n": (current or {}).get("n", 0) + 1}

    assert store.update_json(KEY, bump) == {"n": 1}
    assert store.update_json(KEY, bump) == {"n": 2}
    assert seen == [None, {"n": 1}]
    before = store.stat(KEY)
    assert store.update_json(KEY, lambda current: None) is None, "None leaves the document unchanged"
    assert store.read_json(KEY) == {"n": 2}
    assert store.stat(KEY).version == before.version, "not even rewritten"


def test_concurrent_update_json_loses_no_update(store):
    threads, increments = 8, 25

    def increment_many() -> None:
        for _ in range(increments):
            store.update_json(KEY, lambda current: {"n": (current or {"n": 0})["n"] + 1})

    workers = [threading.Thread(target=increment_many) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert store.read_json(KEY) == {"n": threads * increments}


def test_arrow_reads_a_file_by_its_key_below_the_root_the_store_gives(store):
    write(store, KEY, b"written through the store")
    filesystem, root = store.arrow_filesystem()
    with filesystem.open_input_stream(f"{root}/{KEY}") as stream:
        assert stream.read() == b"written through the store"
    listed = filesystem.get_file_info(pafs.FileSelector(f"{root}/metrics", recursive=True))
    assert [info.path for info in listed if info.is_file] == [f"{root}/{KEY}"], "the same keys, nothing more"


def test_lease_makes_a_second_holder_wait(store):
    key = "ingest/lock/ingest"
    events: list[str] = []
    entered = threading.Event()

    def second() -> None:
        with store.lease(key, ttl=30):
            events.append("second in")
        entered.set()

    with store.lease(key, ttl=30):
        thread = threading.Thread(target=second)
        thread.start()
        assert not entered.wait(0.5), "the second holder got in while the first held the lease"
        events.append("first out")
    thread.join(timeout=30)
    assert events == ["first out", "second in"]
