"""The contract every Storage backend must keep; each test runs against local and S3."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from storage import (
    MULTIPART_PART_SIZE,
    ONE_MIB,
    InvalidKeyError,
    LocalStorage,
    ObjectTooLargeError,
    S3Storage,
    Storage,
)

BIG_OBJECT_SIZE = 100 * ONE_MIB
MEMORY_GROWTH_LIMIT = 32 * ONE_MIB


async def chunks_of(data: bytes, sizes: list[int]) -> AsyncIterator[bytes]:
    """Yield data cut into pieces of the given sizes, cycling through them."""
    offset, index = 0, 0
    while offset < len(data):
        size = sizes[index % len(sizes)]
        yield data[offset : offset + size]
        offset += size
        index += 1


async def read_all(storage: Storage, key: str) -> bytes:
    return b"".join([chunk async for chunk in await storage.get_stream(key)])


class CountingSource:
    """An async byte source that would yield `total` bytes and counts what was pulled."""

    def __init__(self, total: int, chunk_size: int, fail_after: int | None = None) -> None:
        self.total = total
        self.chunk_size = chunk_size
        self.fail_after = fail_after
        self.pulled = 0
        self._block = os.urandom(chunk_size)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            if self.fail_after is not None and self.pulled >= self.fail_after:
                raise ConnectionResetError("client went away")
            chunk = self._block[: min(self.chunk_size, self.total - self.pulled)]
            self.pulled += len(chunk)
            yield chunk


# -- 1. round trip ---------------------------------------------------------------------------


async def test_round_trip(storage: Storage) -> None:
    data = os.urandom(3 * ONE_MIB + 12345)
    stored = await storage.put_stream(
        "essays/2024/round-trip.bin", chunks_of(data, [1, 7919, 65537, 333_333])
    )
    assert stored.key == "essays/2024/round-trip.bin"
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()

    assert await read_all(storage, "essays/2024/round-trip.bin") == data
    assert (await storage.head("essays/2024/round-trip.bin")).size == len(data)
    assert await storage.read_prefix("essays/2024/round-trip.bin", 16) == data[:16]
    assert await storage.exists("essays/2024/round-trip.bin")
    assert await storage.list_keys() == ["essays/2024/round-trip.bin"]

    await storage.delete("essays/2024/round-trip.bin")
    assert not await storage.exists("essays/2024/round-trip.bin")
    assert await storage.list_keys() == []
    await storage.delete("essays/2024/round-trip.bin")  # idempotent


async def test_multipart_sized_round_trip(storage: Storage) -> None:
    data = os.urandom(2 * MULTIPART_PART_SIZE + 4321)
    stored = await storage.put_stream("audio/long.ogg", chunks_of(data, [65536 + 13]))
    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert await read_all(storage, "audio/long.ogg") == data


@pytest.mark.parametrize("size", [0, 1000, 2 * MULTIPART_PART_SIZE + 4321])
async def test_copy_to_gets_the_bytes_as_stored(
    storage: Storage, tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)
    with (tmp_path / "copy").open("w+b") as copy:
        stored = await storage.put_stream(
            "audio/copied.ogg", chunks_of(data, [65536 + 13, 7]), copy_to=copy
        )
        copy.seek(0)
        assert copy.read() == data
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await read_all(storage, "audio/copied.ogg") == data


async def test_empty_object(storage: Storage) -> None:
    stored = await storage.put_stream("empty.txt", chunks_of(b"", [1]))
    assert (stored.size, stored.sha256) == (0, hashlib.sha256(b"").hexdigest())
    assert await read_all(storage, "empty.txt") == b""
    assert await storage.read_prefix("empty.txt", 8) == b""
    assert (await storage.head("empty.txt")).size == 0


async def test_overwrite_replaces_content(storage: Storage) -> None:
    await storage.put_stream("drawings/a.png", chunks_of(b"first version", [4]))
    await storage.put_stream("drawings/a.png", chunks_of(b"second", [4]))
    assert await read_all(storage, "drawings/a.png") == b"second"


async def test_content_type_is_kept_where_supported(storage: Storage) -> None:
    await storage.put_stream("a/b.mp3", chunks_of(b"ID3....", [3]), content_type="audio/mpeg")
    head = await storage.head("a/b.mp3")
    # Files carry no metadata locally; S3 keeps the type given at upload.
    expected = None if isinstance(storage, LocalStorage) else "audio/mpeg"
    assert (head.key, head.size, head.content_type) == ("a/b.mp3", 7, expected)


async def test_list_keys_prefix(storage: Storage) -> None:
    for key in ["c1/entries/2", "c1/entries/10", "c1/other", "c2/entries/1", "c10/x"]:
        await storage.put_stream(key, chunks_of(b"x", [1]))
    assert await storage.list_keys("c1/entries/") == ["c1/entries/10", "c1/entries/2"]
    assert await storage.list_keys("c1/") == ["c1/entries/10", "c1/entries/2", "c1/other"]
    assert await storage.list_keys("c1") == [
        "c1/entries/10",
        "c1/entries/2",
        "c1/other",
        "c10/x",
    ]
    assert await storage.list_keys("nothing/") == []
    assert len(await storage.list_keys()) == 5


async def test_get_stream_is_lazy_and_closable(storage: Storage) -> None:
    data = os.urandom(5 * 64 * 1024)
    await storage.put_stream("k/lazy", chunks_of(data, [ONE_MIB]))
    stream = await storage.get_stream("k/lazy")
    first = await anext(aiter(stream))
    assert data.startswith(first) and 0 < len(first) < len(data)
    await stream.aclose()  # type: ignore[attr-defined]


# -- 2. large object, bounded memory -----------------------------------------------------------


async def test_100_mb_streams_with_bounded_memory(
    storage: Storage, memory_probe_script: Path, project_root: Path
) -> None:
    args = [sys.executable, str(memory_probe_script), "--key", "big/100mb.bin"]
    args += ["--size", str(BIG_OBJECT_SIZE)]
    if isinstance(storage, LocalStorage):
        args += ["--backend", "local", "--root", str(storage.root)]
    else:
        assert isinstance(storage, S3Storage) and storage.endpoint_url
        args += ["--backend", "s3", "--bucket", storage.bucket]
        args += ["--endpoint-url", storage.endpoint_url]
    env = {**os.environ, "PYTHONPATH": str(project_root)}
    done = await asyncio.to_thread(
        subprocess.run, args, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{type(storage).__name__}: peak RSS growth {report['peak_growth'] / ONE_MIB:.1f} MiB")

    assert report["peak_growth"] < MEMORY_GROWTH_LIMIT
    assert report["size"] == BIG_OBJECT_SIZE
    assert report["sha256"] == report["expected_sha256"]
    assert (await storage.head("big/100mb.bin")).size == BIG_OBJECT_SIZE
    digest = hashlib.sha256()
    async for chunk in await storage.get_stream("big/100mb.bin"):
        digest.update(chunk)
    assert digest.hexdigest() == report["expected_sha256"]


# -- 3. size limit -----------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [ONE_MIB, 2 * MULTIPART_PART_SIZE + 5])
async def test_size_limit_stops_early_and_leaves_nothing(
    storage: Storage, leftovers: Callable[[], list[str]], limit: int
) -> None:
    # The larger limit makes S3 upload whole parts first, so the multipart abort is exercised.
    source = CountingSource(total=50 * ONE_MIB, chunk_size=64 * 1024 + 3)
    with pytest.raises(ObjectTooLargeError) as raised:
        await storage.put_stream("big/too-large.bin", source, max_size=limit)
    assert raised.value.limit == limit
    assert limit < source.pulled <= limit + source.chunk_size
    assert not await storage.exists("big/too-large.bin")
    assert await storage.list_keys() == []
    assert leftovers() == []


async def test_size_limit_exact_fit_is_accepted(storage: Storage) -> None:
    data = os.urandom(100_000)
    stored = await storage.put_stream("exact.bin", chunks_of(data, [999]), max_size=len(data))
    assert stored.size == len(data)


@pytest.mark.parametrize("fail_after", [100_000, 2 * MULTIPART_PART_SIZE + 1])
async def test_failing_source_leaves_nothing(
    storage: Storage, leftovers: Callable[[], list[str]], fail_after: int
) -> None:
    source = CountingSource(total=50 * ONE_MIB, chunk_size=64 * 1024, fail_after=fail_after)
    with pytest.raises(ConnectionResetError):
        await storage.put_stream("broken.bin", source)
    assert not await storage.exists("broken.bin")
    assert await storage.list_keys() == []
    assert leftovers() == []


async def test_failed_overwrite_keeps_previous_object(storage: Storage) -> None:
    await storage.put_stream("kept.bin", chunks_of(b"original", [8]))
    with pytest.raises(ObjectTooLargeError):
        await storage.put_stream("kept.bin", CountingSource(10 * ONE_MIB, 65536), max_size=1000)
    assert await read_all(storage, "kept.bin") == b"original"


# -- 4. invalid keys ---------------------------------------------------------------------------

BAD_KEYS = [
    "",
    "/etc/passwd",
    "/abs",
    "..",
    "../outside",
    "a/../../b",
    "a/..",
    ".",
    "a/./b",
    "a\x00b",
    "a\nb",
    "a\x7fb",
    "a\\b",
    "..\\windows",
    "a//b",
    "a/",
    "a b",
    "ü.txt",
    ".hidden",
    ".tmp/x",
    "x" * 513,
]


async def _never() -> AsyncIterator[bytes]:
    raise AssertionError("the byte source of an invalid key must not be read")
    yield b""  # pragma: no cover - makes this an async generator


KEYED_CALLS: dict[str, Callable[[Storage, str], Awaitable[object]]] = {
    "put_stream": lambda s, key: s.put_stream(key, _never()),
    "get_stream": lambda s, key: s.get_stream(key),
    "read_prefix": lambda s, key: s.read_prefix(key, 4),
    "head": lambda s, key: s.head(key),
    "exists": lambda s, key: s.exists(key),
    "delete": lambda s, key: s.delete(key),
    "read_url": lambda s, key: s.read_url(key),
    "upload_form": lambda s, key: s.upload_form(key, max_size=10),
}


@pytest.mark.parametrize("method", sorted(KEYED_CALLS))
async def test_invalid_keys_are_refused(storage: Storage, method: str) -> None:
    for key in BAD_KEYS:
        with pytest.raises(InvalidKeyError):
            await KEYED_CALLS[method](storage, key)
    assert await storage.list_keys() == []


async def test_invalid_key_error_is_a_value_error(storage: Storage) -> None:
    with pytest.raises(ValueError, match="storage key"):
        await storage.head("../x")


@pytest.mark.parametrize("prefix", ["/", "../", "a//", "a/../"])
async def test_invalid_list_prefix_is_refused(storage: Storage, prefix: str) -> None:
    with pytest.raises(InvalidKeyError):
        await storage.list_keys(prefix)


# -- 5. missing objects ------------------------------------------------------------------------


async def test_missing_object(storage: Storage) -> None:
    with pytest.raises(FileNotFoundError):
        await storage.get_stream("no/such/object")
    with pytest.raises(FileNotFoundError):
        await storage.head("no/such/object")
    with pytest.raises(FileNotFoundError):
        await storage.read_prefix("no/such/object", 8)
    with pytest.raises(FileNotFoundError):
        await storage.read_prefix("no/such/object", 0)
    assert not await storage.exists("no/such/object")
    await storage.delete("no/such/object")


async def test_folder_is_not_an_object(storage: Storage) -> None:
    await storage.put_stream("folder/inner", chunks_of(b"x", [1]))
    with pytest.raises(FileNotFoundError):
        await storage.head("folder")
    assert not await storage.exists("folder")
    await storage.delete("folder")
    assert await storage.exists("folder/inner")


# -- 6. presigned read URLs --------------------------------------------------------------------


async def test_read_url_serves_the_bytes(storage: Storage) -> None:
    data = os.urandom(200_000)
    await storage.put_stream("essays/e1.pdf", chunks_of(data, [50_000]))
    url = await storage.read_url("essays/e1.pdf", filename="Bài dự thi số 1.pdf")
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == data
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''B%C3%A0i%20d%E1%BB%B1%20thi%20s%E1%BB%91%201.pdf" in disposition
    assert 'filename="Bai du thi so 1.pdf"' in disposition
    if isinstance(storage, LocalStorage):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "private"
        assert response.headers["content-type"] == "application/octet-stream"


async def test_read_url_inline_media(storage: Storage) -> None:
    await storage.put_stream("audio/story.mp3", chunks_of(b"ID3" + bytes(1000), [100]))
    url = await storage.read_url("audio/story.mp3", content_type="audio/mpeg")
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
        ranged = await client.get(url, headers={"Range": "bytes=0-2"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.headers["content-disposition"] == "inline"
    # Media players (Safari above all) need range requests to play and seek.
    assert (ranged.status_code, ranged.content) == (206, b"ID3")


async def test_read_url_refuses_header_injection(storage: Storage) -> None:
    with pytest.raises(ValueError):
        await storage.read_url("a/b", content_type="text/html\r\nX-Evil: 1")


# -- 7. direct upload forms --------------------------------------------------------------------


async def test_upload_form_accepts_a_browser_post(storage: Storage) -> None:
    data = os.urandom(300_000)
    form = await storage.upload_form("drawings/d1.png", max_size=ONE_MIB)
    assert (form.key, form.max_size) == ("drawings/d1.png", ONE_MIB)
    assert form.fields["key"] == "drawings/d1.png"
    async with httpx.AsyncClient() as client:
        response = await client.post(
            form.url, data=form.fields, files={"file": ("d1.png", data, "image/png")}
        )
    assert response.status_code == 204, response.text
    assert await read_all(storage, "drawings/d1.png") == data
    assert await storage.list_keys() == ["drawings/d1.png"]


async def test_upload_form_refuses_bad_arguments(storage: Storage) -> None:
    with pytest.raises(ValueError):
        await storage.upload_form("a/b", max_size=0)
    with pytest.raises(ValueError):
        await storage.read_url("a/b", expires_in=0)
