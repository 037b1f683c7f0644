"""Object storage for contest submissions: a local folder or an S3 bucket behind one interface."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from storage.interfaces import (
    MULTIPART_PART_SIZE,
    ONE_MIB,
    READ_CHUNK_SIZE,
    InvalidKeyError,
    ObjectHead,
    ObjectTooLargeError,
    Storage,
    StorageError,
    StorageUnavailableError,
    StoredObject,
    UploadForm,
    validate_key,
)
from storage.local import FILES_MOUNT_PATH, LocalStorage
from storage.s3 import S3Storage

__all__ = [
    "FILES_MOUNT_PATH",
    "MULTIPART_PART_SIZE",
    "ONE_MIB",
    "READ_CHUNK_SIZE",
    "InvalidKeyError",
    "LocalStorage",
    "ObjectHead",
    "ObjectTooLargeError",
    "S3Storage",
    "Storage",
    "StorageError",
    "StorageUnavailableError",
    "StoredObject",
    "UploadForm",
    "storage_from_url",
    "validate_key",
]

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_S3_OPTIONS = frozenset({"endpoint_url", "region"})


def storage_from_url(url: str, *, secret_key: str, base_url: str) -> Storage:
    """Build the storage named by a URL: file:///abs/path, file://relative/path, s3://bucket?..."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return _local_from_url(url, secret_key=secret_key, base_url=base_url)
    if parts.scheme == "s3":
        return _s3_from_url(url)
    raise ValueError(f"unsupported storage URL scheme {parts.scheme!r} (use file:// or s3://)")


def _local_from_url(url: str, *, secret_key: str, base_url: str) -> LocalStorage:
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ValueError("file:// storage URLs take no query or fragment")
    # file:///abs has an empty host; file://relative/path reads its first segment as the host.
    raw = unquote(parts.netloc + parts.path)
    if not raw:
        raise ValueError("file:// storage URL has no path")
    root = Path(raw).resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create storage folder {root}: {exc.strerror}") from exc
    return LocalStorage(root, secret_key=secret_key, base_url=base_url)


def _s3_from_url(url: str) -> S3Storage:
    parts = urlsplit(url)
    bucket = parts.netloc
    if not bucket:
        raise ValueError("s3:// storage URL has no bucket (s3://BUCKET?endpoint_url=...)")
    if not _BUCKET_RE.fullmatch(bucket):
        raise ValueError(f"invalid S3 bucket name {bucket!r}")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("s3:// storage URL takes only a bucket and query options")
    try:
        options = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise ValueError("malformed s3:// storage URL query") from exc
    unknown = set(options) - _S3_OPTIONS
    if unknown:
        raise ValueError(f"unknown s3:// storage URL option(s): {', '.join(sorted(unknown))}")
    values: dict[str, str] = {}
    for name, found in options.items():
        if len(found) != 1 or not found[0]:
            raise ValueError(f"s3:// storage URL option {name!r} needs exactly one value")
        values[name] = found[0]
    endpoint_url = values.get("endpoint_url")
    if endpoint_url is not None and urlsplit(endpoint_url).scheme not in ("http", "https"):
        raise ValueError("s3:// storage URL endpoint_url must be an http(s) URL")
    return S3Storage(bucket, endpoint_url=endpoint_url, region=values.get("region"))
