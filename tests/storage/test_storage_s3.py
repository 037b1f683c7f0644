"""S3Storage specifics: what is stored, and what happens when the endpoint is unreachable."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError

from storage import (
    MULTIPART_PART_SIZE,
    S3Storage,
    StorageError,
    StorageUnavailableError,
)
from storage.s3 import PART_BUFFERS, S3_PART_SIZE

# Connection refused is immediate; this bounds the retries' back-off as well.
UNREACHABLE_BUDGET_SECONDS = 10


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
async def s3(s3_endpoint: str, s3_bucket: str) -> AsyncIterator[S3Storage]:
    storage = S3Storage(s3_bucket, endpoint_url=s3_endpoint, region="us-east-1")
    yield storage
    await storage.aclose()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port nobody listens on (bound without listen, so nothing can grab it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize("size", [1000, MULTIPART_PART_SIZE + 1000])
async def test_single_and_multipart_objects_keep_type_size_and_digest(
    s3: S3Storage, s3_client: Any, size: int
) -> None:
    # The digest is the caller's to keep (the database holds it); S3 keeps type and bytes.
    data = os.urandom(size)
    stored = await s3.put_stream("m/x.bin", chunks_of(data, 65536), content_type="image/png")
    head = s3_client.head_object(Bucket=s3.bucket, Key="m/x.bin")
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    body = s3_client.get_object(Bucket=s3.bucket, Key="m/x.bin")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == stored.sha256
    assert head["ContentType"] == "image/png"
    assert head["ContentLength"] == size


async def test_each_part_carries_its_crc32_instead_of_a_payload_hash(s3: S3Storage) -> None:
    # The server checks each part (and a small object's single PUT) against the CRC32 in its
    # header (not a trailer, which several S3-compatible servers refuse); the bytes are not
    # hashed again for the signature.
    sent: dict[int, tuple[str, str, str]] = {}  # part number → CRC32 header, payload hash, body

    def record(request: Any, **_kwargs: Any) -> None:
        # A single PUT counts as part 0.
        number = int(parse_qs(urlsplit(request.url).query).get("partNumber", ["0"])[0])
        body = bytes(request.body)
        expected = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
        sent[number] = (
            "right CRC32" if request.headers["x-amz-checksum-crc32"].decode() == expected else "?",
            request.headers["X-Amz-Content-SHA256"].decode(),
            hashlib.sha256(body).hexdigest(),
        )

    s3._client.meta.events.register("before-send.s3.UploadPart", record)
    s3._client.meta.events.register("before-send.s3.PutObject", record)
    small = os.urandom(1000)
    await s3.put_stream("c/small.bin", chunks_of(small, 100))
    assert sent == {0: ("right CRC32", "UNSIGNED-PAYLOAD", hashlib.sha256(small).hexdigest())}
    sent.clear()
    data = os.urandom(2 * S3_PART_SIZE + 999)
    stored = await s3.put_stream("c/crc.bin", chunks_of(data, 65536))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    parts = [data[:S3_PART_SIZE], data[S3_PART_SIZE : 2 * S3_PART_SIZE], data[2 * S3_PART_SIZE :]]
    # Parts go out concurrently: compared by number, not by the order they were sent in.
    assert sent == {
        number: ("right CRC32", "UNSIGNED-PAYLOAD", hashlib.sha256(part).hexdigest())
        for number, part in enumerate(parts, start=1)
    }


async def test_upload_form_carries_the_size_condition(s3: S3Storage) -> None:
    import base64
    import json

    form = await s3.upload_form("u/x.bin", max_size=12345, expires_in=600)
    policy = json.loads(base64.b64decode(form.fields["policy"]))
    assert ["content-length-range", 1, 12345] in policy["conditions"]
    assert {"key": "u/x.bin"} in policy["conditions"]


async def test_missing_bucket_is_unavailable(s3_endpoint: str) -> None:
    storage = S3Storage("no-such-bucket-here", endpoint_url=s3_endpoint, region="us-east-1")
    try:
        with pytest.raises(StorageUnavailableError, match="not found"):
            await storage.check()
    finally:
        await storage.aclose()


async def test_unreachable_endpoint(aws_env: None, closed_port: int) -> None:
    storage = S3Storage(
        "some-bucket", endpoint_url=f"http://127.0.0.1:{closed_port}", region="us-east-1"
    )
    started = time.monotonic()
    try:
        with pytest.raises(StorageUnavailableError) as raised:
            await storage.check()
        assert len(str(raised.value)) < 120
        with pytest.raises(StorageUnavailableError):
            await storage.put_stream("a/small.bin", chunks_of(b"x" * 1000, 100))
        with pytest.raises(StorageUnavailableError):
            big = os.urandom(MULTIPART_PART_SIZE + 10)
            await storage.put_stream("a/big.bin", chunks_of(big, 1 << 20))
        for call in (storage.get_stream, storage.head, storage.exists, storage.delete):
            with pytest.raises(StorageUnavailableError):
                await call("a/small.bin")
        with pytest.raises(StorageUnavailableError):
            await storage.list_keys()
        # A plain StorageError subclass: callers never see botocore.
        assert isinstance(raised.value, StorageError)
        assert not type(raised.value).__module__.startswith("botocore")
    finally:
        await storage.aclose()
    assert time.monotonic() - started < UNREACHABLE_BUDGET_SECONDS


# -- concurrent multipart uploads ----------------------------------------------------------------

CHUNK = 64 * 1024 + 3  # chunk and part boundaries never line up


class Source:
    """Yields `total` bytes (a repeated random block) like a request body, counting them."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.pulled = 0
        self.digest = hashlib.sha256()
        self._block = os.urandom(CHUNK)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            chunk = self._block[: min(CHUNK, self.total - self.pulled)]
            self.pulled += len(chunk)
            self.digest.update(chunk)
            yield chunk
            await asyncio.sleep(0)


class PartSpy:
    """Stands in for the client's upload_part: records where and how many parts run at once,
    how many pulled bytes are not yet in a finished part, and can delay, hold back or fail
    parts (`hold={1: 2}`: part 1 is sent only once part 2 is done)."""

    def __init__(
        self,
        s3: S3Storage,
        source: Source,
        *,
        delay: float = 0.0,
        delays: dict[int, float] | None = None,
        hold: dict[int, int] | None = None,
        fail_part: int | None = None,
    ) -> None:
        self._real = s3._client.upload_part
        self._source = source
        self._delay = delay
        self._delays = delays or {}
        self._hold = hold or {}
        self._fail_part = fail_part
        self._lock = threading.Condition()
        self._active = 0
        self._acknowledged = 0
        self.max_active = 0
        self.threads: set[int] = set()
        self.held: list[int] = []
        self.finished: list[int] = []
        self.started = threading.Event()

    def watch_aborts(self, s3: S3Storage, monkeypatch: pytest.MonkeyPatch) -> list[int]:
        """Wraps abort_multipart_upload; returns the parts still being sent at each abort."""
        real_abort = s3._client.abort_multipart_upload
        active_at_abort: list[int] = []

        def abort(**kwargs: Any) -> Any:
            with self._lock:
                active_at_abort.append(self._active)
            return real_abort(**kwargs)

        monkeypatch.setattr(s3._client, "abort_multipart_upload", abort)
        return active_at_abort

    def __call__(self, **kwargs: Any) -> Any:
        number = kwargs["PartNumber"]
        with self._lock:
            self._active += 1
            self.max_active = max(self.max_active, self._active)
            self.threads.add(threading.get_ident())
            self.held.append(self._source.pulled - self._acknowledged)
        self.started.set()
        try:
            time.sleep(self._delays.get(number, self._delay))
            if number in self._hold:
                with self._lock:
                    done = self._lock.wait_for(lambda: self._hold[number] in self.finished, 10)
                assert done, f"part {self._hold[number]} never finished"
            if number == self._fail_part:
                response: Any = {
                    "Error": {"Code": "InternalError", "Message": "injected"},
                    "ResponseMetadata": {"HTTPStatusCode": 500},
                }
                raise ClientError(response, "UploadPart")
            result = self._real(**kwargs)
            with self._lock:
                self._acknowledged += len(kwargs["Body"])
                self.finished.append(number)
                self._lock.notify_all()
            return result
        finally:
            with self._lock:
                self._active -= 1


def open_uploads(s3_client: Any, bucket: str) -> list[str]:
    return [u["Key"] for u in s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def all_keys(s3_client: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])]


async def test_parts_upload_concurrently_in_worker_threads_with_bounded_memory(
    s3: S3Storage, s3_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Source(6 * S3_PART_SIZE + 12345)
    # Slow parts: the body is read ahead while they upload, as far as the bound allows.
    spy = PartSpy(s3, source, delay=0.05)
    monkeypatch.setattr(s3._client, "upload_part", spy)
    stored = await s3.put_stream("c/x.bin", source)

    assert stored.size == source.total
    assert stored.sha256 == source.digest.hexdigest()
    body = s3_client.get_object(Bucket=s3.bucket, Key="c/x.bin")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == stored.sha256
    assert spy.max_active == PART_BUFFERS
    assert threading.get_ident() not in spy.threads
    # Bytes pulled but not yet in a finished part: what the part buffers hold, being sent or
    # being filled, and one chunk on its way to them.
    assert max(spy.held) <= PART_BUFFERS * S3_PART_SIZE + CHUNK
    assert open_uploads(s3_client, s3.bucket) == []


async def test_parts_finishing_out_of_order_complete_in_order(
    s3: S3Storage, s3_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Source(4 * S3_PART_SIZE + 999)
    spy = PartSpy(s3, source, hold={1: 2})
    monkeypatch.setattr(s3._client, "upload_part", spy)
    completed: list[list[int]] = []
    real_complete = s3._client.complete_multipart_upload

    def complete(**kwargs: Any) -> Any:
        completed.append([part["PartNumber"] for part in kwargs["MultipartUpload"]["Parts"]])
        return real_complete(**kwargs)

    monkeypatch.setattr(s3._client, "complete_multipart_upload", complete)
    stored = await s3.put_stream("c/order.bin", source)

    assert spy.finished[0] == 2  # part 1 finished after part 2
    assert completed == [[1, 2, 3, 4, 5]]
    assert stored.sha256 == source.digest.hexdigest()
    body = s3_client.get_object(Bucket=s3.bucket, Key="c/order.bin")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == stored.sha256


# Part 4 is the last, partial part: its failure shows while completing.
@pytest.mark.parametrize("fail_part", [1, 2, 4])
async def test_failing_part_upload_leaves_nothing(
    s3: S3Storage, s3_client: Any, monkeypatch: pytest.MonkeyPatch, fail_part: int
) -> None:
    source = Source(3 * S3_PART_SIZE + S3_PART_SIZE // 2)
    spy = PartSpy(s3, source, delays={1: 0.2}, fail_part=fail_part)
    monkeypatch.setattr(s3._client, "upload_part", spy)
    active_at_abort = spy.watch_aborts(s3, monkeypatch)
    with pytest.raises(StorageUnavailableError, match="InternalError"):
        await s3.put_stream("c/fail.bin", source)
    # Parts still being sent could land after an abort: it waits for them.
    assert active_at_abort == [0]
    assert all_keys(s3_client, s3.bucket) == []
    assert open_uploads(s3_client, s3.bucket) == []


async def test_failing_part_upload_stops_reading(
    s3: S3Storage, s3_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Source(50 * S3_PART_SIZE)
    monkeypatch.setattr(s3._client, "upload_part", PartSpy(s3, source, fail_part=2))
    with pytest.raises(StorageUnavailableError):
        await s3.put_stream("c/fail.bin", source)
    # Noticed at the latest when a buffer is wanted again: part 2's never comes back, so at
    # most one more part (in part 1's buffer) and one chunk are pulled.
    assert source.pulled <= (PART_BUFFERS + 1) * S3_PART_SIZE + CHUNK
    assert open_uploads(s3_client, s3.bucket) == []


@pytest.mark.parametrize("cancellations", [1, 2])
async def test_cancelled_upload_leaves_nothing(
    s3: S3Storage, s3_client: Any, monkeypatch: pytest.MonkeyPatch, cancellations: int
) -> None:
    source = Source(50 * S3_PART_SIZE)
    spy = PartSpy(s3, source, delay=0.3)
    monkeypatch.setattr(s3._client, "upload_part", spy)
    active_at_abort = spy.watch_aborts(s3, monkeypatch)
    task = asyncio.create_task(s3.put_stream("c/cancelled.bin", source))
    await asyncio.to_thread(spy.started.wait, 10)
    task.cancel()
    if cancellations == 2:
        # Again while the cleanup waits for the parts in flight: the cleanup still finishes.
        await asyncio.sleep(0.05)
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await s3.aclose()  # waits for cleanups that outlived the task
    assert active_at_abort == [0]
    assert open_uploads(s3_client, s3.bucket) == []
    assert all_keys(s3_client, s3.bucket) == []
