"""storage_from_url parsing and the key rules, without any backend running."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import (
    InvalidKeyError,
    LocalStorage,
    S3Storage,
    storage_from_url,
    validate_key,
)


def from_url(url: str) -> object:
    return storage_from_url(url, secret_key="test", base_url="http://testserver")


def test_absolute_file_url_creates_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "var" / "uploads"
    storage = from_url(f"file://{root}")
    assert isinstance(storage, LocalStorage)
    assert storage.root == root.resolve()
    assert root.is_dir()


def test_relative_file_url_resolves_against_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = from_url("file://var/uploads")
    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "var" / "uploads").resolve()
    assert storage.root.is_dir()


def test_file_url_with_escaped_characters(tmp_path: Path) -> None:
    storage = from_url(f"file://{tmp_path}/my%20uploads")
    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "my uploads").resolve()


async def test_s3_url() -> None:
    storage = from_url("s3://contest-uploads?endpoint_url=http://127.0.0.1:9000&region=eu-west-1")
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.endpoint_url, storage.region) == (
        "contest-uploads",
        "http://127.0.0.1:9000",
        "eu-west-1",
    )
    await storage.aclose()


async def test_s3_url_with_defaults() -> None:
    storage = from_url("s3://contest-uploads")
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.endpoint_url, storage.region) == ("contest-uploads", None, None)
    await storage.aclose()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "scheme"),
        ("/var/uploads", "scheme"),
        ("ftp://host/uploads", "scheme"),
        ("http://host/uploads", "scheme"),
        ("file://", "no path"),
        ("file:///tmp/x?mode=1", "query"),
        ("s3://", "no bucket"),
        ("s3:///only-a-path", "no bucket"),
        ("s3://?region=eu-west-1", "no bucket"),
        ("s3://Bad_Bucket", "bucket name"),
        ("s3://ab", "bucket name"),
        ("s3://bucket/prefix", "only a bucket"),
        ("s3://bucket?regoin=eu-west-1", "unknown"),
        ("s3://bucket?region=", "one value"),
        ("s3://bucket?region=a&region=b", "one value"),
        ("s3://bucket?endpoint_url=localhost:9000", "endpoint_url"),
    ],
)
def test_bad_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        from_url(url)


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "essays/2024/ab12-cd_34.pdf",
        "c1/e/9f86d081884c7d659a2feaa0c55ad015.mp3",
        "a.b.c/d..e",
        "x" * 512,
        "/".join(["s"] * 256),
    ],
)
def test_valid_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["", "/a", "a/", "a//b", ".", "..", "a/../b", "a/./b", ".a", "a/.b", "a\x00", "a\x01b",
     "a\tb", "a\\b", "a:b", "a?b", "a%2e", "é", "x" * 513],
)  # fmt: skip
def test_invalid_keys(key: str) -> None:
    with pytest.raises(InvalidKeyError):
        validate_key(key)
