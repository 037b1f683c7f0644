"""LocalStorage specifics: its signed /files routes over real HTTP, paths and health."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from storage import (
    ONE_MIB,
    InvalidKeyError,
    LocalStorage,
    StorageUnavailableError,
)

if TYPE_CHECKING:
    from conftest import LocalHttp


async def one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.fixture
def local(local_http: LocalHttp, tmp_path: Path) -> LocalStorage:
    root = tmp_path / "uploads"
    root.mkdir()
    storage = LocalStorage(root, secret_key="test", base_url=local_http.base_url)
    local_http.serve(storage)
    return storage


@pytest.fixture
def in_the_past(local: LocalStorage, local_http: LocalHttp) -> LocalStorage:
    """The same storage with a clock two hours behind, to mint already-expired URLs."""
    return LocalStorage(
        local.root,
        secret_key="test",
        base_url=local_http.base_url,
        clock=lambda: time.time() - 7200,
    )


def temp_files(storage: LocalStorage) -> list[str]:
    tmp_dir = storage.root / ".tmp"
    return sorted(p.name for p in tmp_dir.iterdir()) if tmp_dir.exists() else []


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def get(url: str, **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(url, **kwargs)  # type: ignore[arg-type]


# -- signed read URLs --------------------------------------------------------------------------


async def test_read_url_shape(local: LocalStorage, local_http: LocalHttp) -> None:
    url = await local.read_url("essays/e1.pdf", expires_in=60)
    parts = urlsplit(url)
    assert url.startswith(f"{local_http.base_url}/files/essays/e1.pdf?")
    query = dict(parse_qsl(parts.query))
    assert set(query) == {"e", "s"}
    assert int(time.time()) + 55 <= int(query["e"]) <= int(time.time()) + 61


async def test_tampered_read_urls_are_forbidden(local: LocalStorage) -> None:
    await local.put_stream("essays/secret.txt", one_chunk(b"top secret"))
    await local.put_stream("essays/other.txt", one_chunk(b"other"))
    url = await local.read_url("essays/secret.txt", filename="a.txt")
    assert (await get(url)).status_code == 200

    signature = dict(parse_qsl(urlsplit(url).query))["s"]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    tampered = [
        with_query(url, s=flipped),
        with_query(url, s=""),
        with_query(url, e=str(int(time.time()) + 999_999)),
        with_query(url, fn="evil.html"),
        with_query(url, ct="text/html"),
        url.replace("essays/secret.txt", "essays/other.txt"),
        url.split("?")[0],
    ]
    for bad in tampered:
        response = await get(bad)
        assert response.status_code == 403, bad
        assert b"secret" not in response.content


async def test_expired_read_url_is_forbidden(
    local: LocalStorage, in_the_past: LocalStorage
) -> None:
    await local.put_stream("essays/e.txt", one_chunk(b"hello"))
    expired = await in_the_past.read_url("essays/e.txt", expires_in=900)
    assert (await get(expired)).status_code == 403
    fresh = await local.read_url("essays/e.txt", expires_in=900)
    assert (await get(fresh)).content == b"hello"


async def test_signed_url_for_missing_object_is_404(local: LocalStorage) -> None:
    response = await get(await local.read_url("essays/gone.txt"))
    assert response.status_code == 404


async def test_other_secret_key_does_not_verify(local: LocalStorage, local_http: LocalHttp) -> None:
    await local.put_stream("a.txt", one_chunk(b"hello"))
    forged = LocalStorage(local.root, secret_key="guessed", base_url=local_http.base_url)
    assert (await get(await forged.read_url("a.txt"))).status_code == 403


async def test_head_request(local: LocalStorage) -> None:
    await local.put_stream("a.txt", one_chunk(b"hello"))
    async with httpx.AsyncClient() as client:
        response = await client.head(await local.read_url("a.txt"))
    assert response.status_code == 200
    assert response.headers["content-length"] == "5"
    assert response.content == b""


# -- direct upload endpoint --------------------------------------------------------------------


def multipart_body(fields: dict[str, str], file_data: bytes, boundary: str) -> tuple[bytes, bytes]:
    """The body of a form POST cut in two: everything up to and including the file, the end."""
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + file_data, f"\r\n--{boundary}--\r\n".encode()


async def post_chunked(url: str, pieces: list[bytes], boundary: str) -> httpx.Response:
    """POST without Content-Length: the body goes out with chunked transfer encoding."""

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            for start in range(0, len(piece), 65536):
                yield piece[start : start + 65536]

    async with httpx.AsyncClient() as client:
        return await client.post(
            url,
            content=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )


async def test_upload_too_large_with_content_length(local: LocalStorage) -> None:
    await local.put_stream("up/kept.bin", one_chunk(b"previous"))
    form = await local.upload_form("up/kept.bin", max_size=ONE_MIB)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            form.url, data=form.fields, files={"file": ("f.bin", os.urandom(2 * ONE_MIB))}
        )
    assert response.status_code == 413
    assert await local.list_keys() == ["up/kept.bin"]
    assert (await local.read_prefix("up/kept.bin", 100)) == b"previous"
    assert temp_files(local) == []


async def test_upload_too_large_without_content_length(local: LocalStorage) -> None:
    form = await local.upload_form("up/chunked.bin", max_size=ONE_MIB)
    boundary = "----contract-boundary-1"
    body, end = multipart_body(form.fields, os.urandom(ONE_MIB + 1), boundary)
    response = await post_chunked(form.url, [body, end], boundary)
    assert response.status_code == 413
    assert await local.list_keys() == []
    assert temp_files(local) == []


async def test_upload_at_the_limit_without_content_length(local: LocalStorage) -> None:
    form = await local.upload_form("up/exact.bin", max_size=ONE_MIB)
    boundary = "----contract-boundary-2"
    data = os.urandom(ONE_MIB)
    body, end = multipart_body(form.fields, data, boundary)
    response = await post_chunked(form.url, [body, end], boundary)
    assert response.status_code == 204, response.text
    assert (await local.head("up/exact.bin")).size == ONE_MIB


async def test_truncated_upload_stores_nothing(local: LocalStorage) -> None:
    form = await local.upload_form("up/cut.bin", max_size=ONE_MIB)
    boundary = "----contract-boundary-3"
    body, _ = multipart_body(form.fields, os.urandom(300_000), boundary)
    response = await post_chunked(form.url, [body], boundary)  # no closing boundary
    assert response.status_code == 400
    assert await local.list_keys() == []
    assert temp_files(local) == []


async def test_upload_with_bad_policies(local: LocalStorage, in_the_past: LocalStorage) -> None:
    form = await local.upload_form("up/a.bin", max_size=ONE_MIB)
    other = await local.upload_form("up/b.bin", max_size=ONE_MIB)
    expired = await in_the_past.upload_form("up/a.bin", max_size=ONE_MIB)
    payload, _, signature = form.fields["policy"].partition(".")
    # A signature changed in its first character: the last one of an unpadded base64 string
    # may carry padding bits only, so changing it need not change the signature at all.
    tampered = ("B" if signature[0] == "A" else "A") + signature[1:]
    bigger = other.fields["policy"].partition(".")[0]
    attempts = [
        {"key": "up/a.bin", "policy": f"{payload}.{tampered}"},
        {"key": "up/a.bin", "policy": f"{bigger}.{signature}"},
        {"key": "up/a.bin", "policy": ""},
        {"key": "up/a.bin"},
        {"key": "up/b.bin", "policy": form.fields["policy"]},
        {"key": "up/a.bin", "policy": other.fields["policy"]},
        expired.fields,
    ]
    async with httpx.AsyncClient() as client:
        for fields in attempts:
            response = await client.post(
                form.url, data=fields, files={"file": ("f.bin", b"payload")}
            )
            assert response.status_code == 403, fields
    assert await local.list_keys() == []


async def test_upload_malformed_requests(local: LocalStorage) -> None:
    form = await local.upload_form("up/a.bin", max_size=ONE_MIB)
    async with httpx.AsyncClient() as client:
        not_multipart = await client.post(form.url, data=form.fields)
        no_file = await client.post(
            form.url, data=form.fields, files={"other": ("f.bin", b"payload")}
        )
        empty = await client.post(form.url, data=form.fields, files={"file": ("f.bin", b"")})
        wrong_method = await client.put(form.url, content=b"x")
    assert not_multipart.status_code == 400
    assert no_file.status_code == 400
    assert empty.status_code == 400
    assert wrong_method.status_code == 405
    assert await local.list_keys() == []
    assert temp_files(local) == []


# -- paths and health --------------------------------------------------------------------------


async def test_symlink_escaping_root_is_refused(local: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"not for you")
    (local.root / "link").symlink_to(outside, target_is_directory=True)
    (local.root / "evil.txt").symlink_to(outside / "secret.txt")

    for key in ["link/secret.txt", "evil.txt"]:
        with pytest.raises(InvalidKeyError):
            await local.get_stream(key)
        with pytest.raises(InvalidKeyError):
            await local.head(key)
        with pytest.raises(InvalidKeyError):
            await local.read_prefix(key, 4)
        with pytest.raises(InvalidKeyError):
            await local.delete(key)
        response = await get(await local.read_url(key))
        assert response.status_code == 404
        assert b"not for you" not in response.content
    with pytest.raises(InvalidKeyError):
        await local.put_stream("link/new.txt", one_chunk(b"planted"))
    with pytest.raises(InvalidKeyError):
        await local.put_stream("evil.txt", one_chunk(b"overwritten"))

    assert await local.list_keys() == []
    assert await local.list_keys("link/") == []
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"not for you"
    assert temp_files(local) == []


async def test_put_is_atomic_and_creates_folders(local: LocalStorage) -> None:
    stored = await local.put_stream("deep/er/and/deeper/x.bin", one_chunk(b"abc"))
    assert (local.root / "deep/er/and/deeper/x.bin").read_bytes() == b"abc"
    assert stored.size == 3
    assert temp_files(local) == []


async def test_list_keys_skips_temp_and_foreign_files(local: LocalStorage) -> None:
    await local.put_stream("ok/a.txt", one_chunk(b"a"))
    (local.root / ".tmp" / "put-leftover.part").write_bytes(b"partial")
    (local.root / "ok" / "with space.txt").write_bytes(b"foreign")
    (local.root / "ok" / ".DS_Store").write_bytes(b"foreign")
    assert await local.list_keys() == ["ok/a.txt"]


async def test_check_passes_on_a_healthy_root(local: LocalStorage) -> None:
    await local.check()
    assert temp_files(local) == []


async def test_check_fails_when_root_is_a_file(tmp_path: Path) -> None:
    root = tmp_path / "not-a-folder"
    root.write_bytes(b"")
    storage = LocalStorage(root, secret_key="test", base_url="http://x")
    with pytest.raises(StorageUnavailableError, match="not a directory"):
        await storage.check()
    with pytest.raises(StorageUnavailableError):
        await storage.put_stream("a.txt", one_chunk(b"x"))


async def test_check_fails_when_root_is_missing(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "gone", secret_key="test", base_url="http://x")
    with pytest.raises(StorageUnavailableError):
        await storage.check()
    with pytest.raises(StorageUnavailableError):
        await storage.put_stream("a.txt", one_chunk(b"x"))
    assert not (tmp_path / "gone").exists()


async def test_check_fails_when_root_is_not_writable(tmp_path: Path) -> None:
    root = tmp_path / "uploads"
    root.mkdir()
    # Works even as root, where permission bits would not stop the write.
    (root / ".tmp").write_bytes(b"in the way")
    storage = LocalStorage(root, secret_key="test", base_url="http://x")
    with pytest.raises(StorageUnavailableError, match="not writable"):
        await storage.check()
    if os.geteuid() != 0:
        (root / ".tmp").unlink()
        root.chmod(0o500)
        try:
            with pytest.raises(StorageUnavailableError, match="not writable"):
                await storage.check()
        finally:
            root.chmod(0o700)
