"""S3Storage specifics: what is stored, and what happens when the endpoint is unreachable."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from storage import (
    MULTIPART_PART_SIZE,
    S3Storage,
    StorageError,
    StorageUnavailableError,
)

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
