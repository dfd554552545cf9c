"""The S3 store: objects under a bucket prefix, uploaded whole or not at all, updated by conditional writes.

Any S3-compatible service (AWS, MinIO, Ceph) reached with boto3: the endpoint, keys and region come from the
standard places (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``,
profiles) unless :class:`S3Options` says otherwise. Transient errors (throttling, 5xx, timeouts) are retried by
botocore's standard mode; a write that finally fails leaves nothing and names its key. Versions are ETags,
never times: LastModified has a one-second grain.
"""

from __future__ import annotations

import contextlib
import datetime
import fnmatch
import hashlib
import io
import json
import os
import random
import socket
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import boto3
import pyarrow as pa
import pyarrow.fs as pafs
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from etl.storage import UnsupportedStoreError
from etl.storage.landing import GZIP_SUFFIX, HASH_BLOCK, MAX_GZIP_RATIO
from etl.storage.layout import PROBE_KEY_PREFIX, checked_key, partition_key, partition_of_key
from etl.storage.s3_options import S3Options
from etl.storage.store import ConflictError, FileStat, Partitions, Store, dumps_json

SCHEME = "s3://"
SPOOL_BYTES = 8 << 20  # an output is held in memory up to this size, then in a temporary file
PART_BYTES = 64 << 20  # outputs larger than one part go up as a multipart upload
DELETE_BATCH = 1000  # the most keys one delete_objects request takes
CAS_ATTEMPTS = 20  # conditional writes of one update_json before it gives up: 8 writers racing on one key
# under load lost 10 in a row
CAS_BACKOFF_SECONDS = 0.05  # first wait after a lost conditional write, doubled each time (with jitter)
CAS_BACKOFF_CAP_SECONDS = 2.0
LEASE_POLL_SECONDS = 0.2  # how often a waiting holder looks at the lease again
AWS_DOMAIN = ".amazonaws.com"
_CONFLICTS = ("PreconditionFailed", "ConditionalRequestConflict")
_PROBED: set[tuple[str, str]] = set()  # (endpoint, bucket) whose conditional writes this process has seen work
_MISSING = ("NoSuchKey", "404", "NotFound")


class S3WriteError(OSError):
    """An object could not be written after botocore's retries; nothing of it is left."""


def split_url(url: str) -> tuple[str, str]:
    """(bucket, prefix without slashes at either end) of ``s3://bucket/prefix``; ValueError without a bucket."""
    bucket, _, prefix = url.removeprefix(SCHEME).partition("/")
    if not url.startswith(SCHEME) or not bucket:
        raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
    return bucket, prefix.strip("/")


def make_client(options: S3Options):
    """A thread-safe S3 client with bounded retries and timeouts, from the standard chain and ``options``."""
    config = Config(
        retries={"mode": "standard", "max_attempts": options.max_attempts},
        connect_timeout=options.connect_timeout_seconds,
        read_timeout=options.read_timeout_seconds,
        s3={"addressing_style": options.addressing_style} if options.addressing_style else None,
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=options.endpoint_url or None, region_name=options.region or None, config=config
    )


def arrow_s3(client, options: S3Options) -> pafs.S3FileSystem:
    """pyarrow's S3 client reaching what the boto3 ``client`` reaches: its endpoint and region, the credentials of
    the standard chain it was made from, and ``options``' addressing style and retries. AWS's own endpoints are left
    for Arrow to derive from the region (with virtual addressing, as botocore uses there)."""
    endpoint = urllib.parse.urlsplit(client.meta.endpoint_url)
    custom = not (endpoint.hostname or "").endswith(AWS_DOMAIN)
    found = boto3.session.Session().get_credentials()
    credentials = found.get_frozen_credentials() if found else None
    return pafs.S3FileSystem(
        access_key=credentials.access_key if credentials else None,
        secret_key=credentials.secret_key if credentials else None,
        session_token=credentials.token if credentials else None,
        anonymous=credentials is None,
        region=client.meta.region_name,
        endpoint_override=endpoint.netloc if custom else None,
        scheme=endpoint.scheme if custom else "https",
        force_virtual_addressing=options.addressing_style == "virtual",
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=options.max_attempts),
        connect_timeout=options.connect_timeout_seconds,
        request_timeout=options.read_timeout_seconds,
    )


def download(url: str, into: Path, options: S3Options | None = None) -> Path:
    """A local copy of every object under ``s3://bucket/prefix``, as they are now, in ``into``: how a person looks
    at, or compares, a pipeline on object storage with local tools."""
    bucket, prefix = split_url(url)
    client = make_client(options or S3Options())
    below = f"{prefix}/" if prefix else ""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=below):
        for item in page.get("Contents", []):
            path = into / item["Key"][len(below) :]
            path.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, item["Key"], str(path))
    return into


def check_conditional_writes(store: S3Store) -> None:
    """Refuse, once per process and bucket, before its first conditional write, an endpoint that ignores
    ``If-None-Match: *`` or ``If-Match``: every "only one writer" rule (the pointer, the ledger, the ingest's lease
    and index) rests on them, and an endpoint without them (an older MinIO or Ceph) accepts both writers silently.
    A probe object, unique to this process, is written three times under conditions that must fail the last two,
    then removed; never on opening the store, since a read never writes."""
    endpoint = store.client.meta.endpoint_url
    if (endpoint, store.bucket) in _PROBED:
        return
    key = f"{PROBE_KEY_PREFIX}{uuid.uuid4().hex}"
    name = store._name(key)
    try:
        store._put(key, name, b"", IfNoneMatch="*")
        missing = [
            header
            for header, condition in (("If-None-Match: *", {"IfNoneMatch": "*"}), ("If-Match", {"IfMatch": '"0"'}))
            if _accepted(store, key, name, condition)
        ]
    except (ClientError, BotoCoreError) as error:
        raise UnsupportedStoreError(
            f"{store.describe()}: cannot try a conditional write at {endpoint} ({error})"
        ) from None
    finally:
        with contextlib.suppress(ClientError, BotoCoreError):
            store.client.delete_object(Bucket=store.bucket, Key=name)
    if missing:
        raise UnsupportedStoreError(
            f"{store.describe()}: the S3 endpoint {endpoint} ignores {' and '.join(missing)} on a write, so two "
            "writers would lose each other's updates; use a store with conditional writes (AWS S3, a recent MinIO, "
            "Ceph RGW with If-Match support)"
        )
    _PROBED.add((endpoint, store.bucket))


def _accepted(store: S3Store, key: str, name: str, condition: dict[str, str]) -> bool:
    """Whether a write that ``condition`` must fail (412) went through."""
    try:
        store._put(key, name, b"", **condition)
    except ClientError as error:
        if _code(error) in _CONFLICTS:
            return False
        raise
    return True


class S3Store(Store):
    """Keys of the layout as objects under ``s3://bucket/prefix/``."""

    def __init__(self, url: str, options: S3Options | None = None, client=None) -> None:
        self.bucket, self.prefix = split_url(url)
        self.options = options or S3Options()
        self.client = client or make_client(self.options)

    def __repr__(self) -> str:
        return f"S3Store({self.describe()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, S3Store) and (other.bucket, other.prefix) == (self.bucket, self.prefix)

    def __hash__(self) -> int:
        return hash((self.bucket, self.prefix))

    def describe(self, key: str = "") -> str:
        root = f"{SCHEME}{self.bucket}/{self.prefix}".rstrip("/")
        return f"{root}/{key}" if key else root

    def stat(self, key: str) -> FileStat | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as error:
            if _code(error) in _MISSING:
                return None
            raise
        return _file_stat(head["ContentLength"], head["LastModified"], head["ETag"])

    def list_partitions(self, layer: str) -> Partitions:
        found: Partitions = {}
        for name, stat in self._listing(layer):
            partition, _, file = name.rpartition("/")
            located = partition_of_key(partition)
            if located is not None and located[0] == layer:
                files = found.setdefault(located[1], {})
                if not file.startswith("."):
                    files[file] = stat
        return found

    def list_partition(self, layer: str, date: datetime.date) -> dict[str, FileStat]:
        prefix = f"{partition_key(layer, date)}/"
        return {
            name[len(prefix) :]: stat
            for name, stat in self._listing(prefix[:-1])
            if "/" not in name[len(prefix) :] and not name[len(prefix) :].startswith(".")
        }

    def open_input(self, key: str) -> BinaryIO:
        return _get(self.client, self.bucket, self._name(key), self.describe(key))

    @contextlib.contextmanager
    def atomic_output(self, key: str) -> Iterator[BinaryIO]:
        """Bytes gathered in memory (in a temporary file past SPOOL_BYTES), uploaded only once the block ends
        without error: an upload started by closing a stream would publish a half-written file."""
        name = self._name(key)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as buffer:
            yield buffer
            size = buffer.tell()
            buffer.seek(0)
            self._upload(key, name, buffer, size)

    def remove(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def move(self, source: str, key: str) -> None:
        """A copy, then the source deleted: the object at ``key`` is whole at every instant."""
        source_name = self._name(source)
        try:
            self.client.copy_object(
                Bucket=self.bucket, Key=self._name(key), CopySource={"Bucket": self.bucket, "Key": source_name}
            )
        except ClientError as error:
            if _code(error) in _MISSING:
                raise FileNotFoundError(f"no such file: {self.describe(source)}") from None
            raise
        self.client.delete_object(Bucket=self.bucket, Key=source_name)

    def remove_partition(self, layer: str, date: datetime.date) -> bool:
        names = [self._name(name) for name, _ in self._listing(partition_key(layer, date))]
        for start in range(0, len(names), DELETE_BATCH):
            batch = [{"Key": name} for name in names[start : start + DELETE_BATCH]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return bool(names)

    def update_json(self, key: str, update: Callable[[dict | None], dict | None]) -> dict | None:
        """Compare-and-swap: the document is written only if it is still the one read (its ETag, or absent);
        a lost race reads again, after a jittered wait, at most CAS_ATTEMPTS times."""
        name = self._name(key)
        check_conditional_writes(self)
        for attempt in range(CAS_ATTEMPTS):
            current, etag = self._read_json(name)
            new = update(current)
            if new is None:
                return None
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                self._put(key, name, dumps_json(new), **condition)
                return new
            except ClientError as error:
                if _code(error) not in _CONFLICTS:
                    raise S3WriteError(f"could not write {self.describe(key)}: {error}") from error
            time.sleep(random.uniform(0, min(CAS_BACKOFF_CAP_SECONDS, CAS_BACKOFF_SECONDS * 2**attempt)))
        raise ConflictError(f"{self.describe(key)}: other writers changed it on each of {CAS_ATTEMPTS} attempts")

    def replace_if(self, key: str, data: bytes, seen: FileStat | None) -> None:
        """One conditional write: ``If-Match`` on the ETag seen, or ``If-None-Match: *`` for a file seen absent."""
        condition = {"IfMatch": str(seen.version)} if seen else {"IfNoneMatch": "*"}
        check_conditional_writes(self)
        try:
            self._put(key, self._name(key), data, **condition)
        except ClientError as error:
            if _code(error) in _CONFLICTS:
                raise ConflictError(f"{self.describe(key)} changed since it was read: not written") from None
            raise S3WriteError(f"could not write {self.describe(key)}: {error}") from error

    @contextlib.contextmanager
    def lease(self, key: str, ttl: float) -> Iterator[None]:
        """An object ``<key>.lease`` naming its holder and when it expires, taken with a conditional write and
        renewed while the block runs; a vanished holder's lease is taken over once it has expired."""
        check_conditional_writes(self)
        held = _Lease(self, self._name(f"{key}.lease"), ttl)
        held.acquire()
        try:
            yield
        finally:
            held.release()

    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        return arrow_s3(self.client, self.options), f"{self.bucket}/{self.prefix}".rstrip("/")

    def _name(self, key: str) -> str:
        key = checked_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _listing(self, below: str) -> Iterator[tuple[str, FileStat]]:
        """(key, stat) of every object below the key ``below``, a page of 1,000 objects a request."""
        prefix = f"{self._name(below)}/"
        root = len(prefix) - len(below) - 1
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"][root:], _file_stat(item["Size"], item["LastModified"], item["ETag"])

    def _read_json(self, name: str) -> tuple[dict | None, str | None]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=name)
        except ClientError as error:
            if _code(error) in _MISSING:
                return None, None
            raise
        return json.loads(answer["Body"].read()), answer["ETag"]

    def _put(self, key: str, name: str, body: bytes, **condition: str) -> str:
        return self.client.put_object(Bucket=self.bucket, Key=name, Body=body, **condition)["ETag"]

    def _upload(self, key: str, name: str, buffer: BinaryIO, size: int) -> None:
        try:
            if size <= PART_BYTES:
                self.client.put_object(Bucket=self.bucket, Key=name, Body=buffer)
            else:
                self._upload_parts(name, buffer)
        except (ClientError, BotoCoreError) as error:
            raise S3WriteError(f"could not write {self.describe(key)}: {error}") from error

    def _upload_parts(self, name: str, buffer: BinaryIO) -> None:
        """A multipart upload, aborted on any failure so that no part is kept (nor billed)."""
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=name)["UploadId"]
        try:
            parts = []
            while chunk := buffer.read(PART_BYTES):
                number = len(parts) + 1
                answer = self.client.upload_part(
                    Bucket=self.bucket, Key=name, UploadId=upload, PartNumber=number, Body=chunk
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=name, UploadId=upload, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            with contextlib.suppress(ClientError, BotoCoreError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload)
            raise


class S3Landing:
    """Export files under an ``s3://bucket/prefix`` (a shop's upload area), with the verbs of ``LocalLanding``:
    listed in pages, fingerprinted and read as streams, never written to or deleted. Objects have no links."""

    def __init__(self, url: str, patterns: tuple[str, ...], options: S3Options | None = None, client=None) -> None:
        self.bucket, self.prefix = split_url(url)
        self.patterns = patterns
        self.client = client or make_client(options or S3Options())

    def describe(self, name: str = "") -> str:
        root = f"{SCHEME}{self.bucket}/{self.prefix}".rstrip("/")
        return f"{root}/{name}" if name else root

    def files(self) -> list[tuple[str, FileStat]]:
        """Every export object matching a pattern, by name, sorted; hidden names (a ``.`` segment) are skipped.
        A missing bucket is an error, as a missing landing directory is."""
        root = f"{self.prefix}/" if self.prefix else ""
        found = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=root):
                for item in page.get("Contents", []):
                    name = item["Key"][len(root) :]
                    base = name.rpartition("/")[2]
                    if any(part.startswith(".") for part in name.split("/")) or not _matches(base, self.patterns):
                        continue
                    found.append((name, _file_stat(item["Size"], item["LastModified"], item["ETag"])))
        except ClientError as error:
            if _code(error) == "NoSuchBucket":
                raise FileNotFoundError(f"the landing directory {self.describe()} does not exist") from None
            raise
        return sorted(found)

    def target(self, name: str) -> str | None:
        return None

    def max_decoded_bytes(self, name: str) -> int | None:
        if not name.endswith(GZIP_SUFFIX):
            return None
        return MAX_GZIP_RATIO * self.client.head_object(Bucket=self.bucket, Key=self._name(name))["ContentLength"]

    def sha256(self, name: str) -> str:
        digest = hashlib.sha256()
        with self._stream(name) as stream:
            while block := stream.read(HASH_BLOCK):
                digest.update(block)
        return digest.hexdigest()

    def open(self, name: str) -> BinaryIO:
        stream = self._stream(name)
        return pa.CompressedInputStream(stream, "gzip") if name.endswith(GZIP_SUFFIX) else stream

    def _stream(self, name: str) -> BinaryIO:
        return _get(self.client, self.bucket, self._name(name), self.describe(name))

    def _name(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name


class _Lease:
    """One holding of a lease object: taken, renewed at a third of its life, released if still ours."""

    def __init__(self, store: S3Store, name: str, ttl: float) -> None:
        self.store, self.name, self.ttl = store, name, ttl
        self.owner = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex}"
        self.etag: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._renewer = threading.Thread(target=self._renew, daemon=True)

    def acquire(self) -> None:
        client, bucket = self.store.client, self.store.bucket
        while True:
            try:
                self.etag = client.put_object(Bucket=bucket, Key=self.name, Body=self._body(), IfNoneMatch="*")["ETag"]
                break
            except ClientError as error:
                if _code(error) not in _CONFLICTS:
                    raise
            held, etag = self.store._read_json(self.name)
            if held is not None and held["expires"] < time.time():
                try:
                    self.etag = client.put_object(Bucket=bucket, Key=self.name, Body=self._body(), IfMatch=etag)["ETag"]
                    break
                except ClientError as error:
                    if _code(error) not in _CONFLICTS:
                        raise
            time.sleep(LEASE_POLL_SECONDS)
        self._renewer.start()

    def release(self) -> None:
        self._stop.set()
        self._renewer.join()
        with self._lock, contextlib.suppress(ClientError):  # taken over meanwhile: it is the new holder's
            self.store.client.delete_object(Bucket=self.store.bucket, Key=self.name, IfMatch=self.etag)

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            with self._lock:
                try:
                    self.etag = self.store.client.put_object(
                        Bucket=self.store.bucket, Key=self.name, Body=self._body(), IfMatch=self.etag
                    )["ETag"]
                except ClientError:
                    return  # taken over: nothing left to renew

    def _body(self) -> bytes:
        return dumps_json({"owner": self.owner, "expires": time.time() + self.ttl})


class _Body(io.RawIOBase):
    """An object's body as a raw stream: what a buffered reader needs to read it in blocks, or to the end."""

    def __init__(self, body) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


def _get(client, bucket: str, name: str, location: str) -> BinaryIO:
    """A stream over an object's bytes; FileNotFoundError naming ``location`` when there is no such object."""
    try:
        body = client.get_object(Bucket=bucket, Key=name)["Body"]
    except ClientError as error:
        if _code(error) in _MISSING:
            raise FileNotFoundError(f"no such file: {location}") from None
        raise
    return _reader(body)


def _reader(body) -> BinaryIO:
    return io.BufferedReader(_Body(body), HASH_BLOCK)


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _file_stat(size: int, modified: datetime.datetime, etag: str) -> FileStat:
    return FileStat(size, int(modified.timestamp()) * 1_000_000_000, etag)
