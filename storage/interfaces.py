"""The storage contract shared by every backend: value types, errors, key rules and limits."""

from __future__ import annotations

import abc
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from storage._http import check_content_type

ONE_MIB = 1024 * 1024
# A size past which S3 uploads go in several parts (the S3 backend cuts 6 MiB parts, so that
# its two part buffers, being sent or being filled, stay well within 16 MB).
MULTIPART_PART_SIZE = 8 * ONE_MIB
READ_CHUNK_SIZE = 64 * 1024
# Writes are batched so a stream of tiny chunks doesn't cost one thread hop per chunk.
LOCAL_WRITE_BUFFER_SIZE = ONE_MIB
MAX_KEY_BYTES = 512
# read_prefix is meant for sniffing magic bytes, never for reading whole objects.
MAX_PREFIX_LENGTH = ONE_MIB
# Room for the multipart framing and the small form fields around the file of a direct upload.
UPLOAD_FORM_OVERHEAD = 64 * 1024
# After refusing an upload, read at most this much more of its body so that the client (a
# browser still sending) reads our answer instead of a reset connection; past it the
# connection is just closed. One limit for every refusal, the app's forms included.
DRAIN_LIMIT = 16 * ONE_MIB
DEFAULT_READ_URL_EXPIRES = 900
DEFAULT_UPLOAD_FORM_EXPIRES = 3600


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What put_stream returns; sha256 is lowercase hex."""

    key: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ObjectHead:
    key: str
    size: int
    content_type: str | None


@dataclass(frozen=True, slots=True)
class UploadForm:
    """A presigned direct-upload form: POST `fields` plus the file as the last field `file`."""

    url: str
    fields: dict[str, str]
    key: str
    max_size: int
    expires_at: datetime


class StorageError(Exception):
    """Base class of every error a backend raises on purpose (missing objects excepted)."""


class StorageUnavailableError(StorageError):
    """The backend cannot be reached or is not usable right now."""


class ObjectTooLargeError(StorageError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"object is larger than the limit of {limit} bytes")
        self.limit = limit


class InvalidKeyError(StorageError, ValueError):
    """The key breaks the key rules; ValueError too so generic input handling catches it."""


_KEY_RE = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")


def validate_key(key: str) -> str:
    """Return key unchanged if it is safe as both an S3 key and a relative local path."""
    if not isinstance(key, str) or not key:
        raise InvalidKeyError("storage key must be a non-empty string")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidKeyError(f"storage key is longer than {MAX_KEY_BYTES} bytes")
    if not _KEY_RE.fullmatch(key):
        raise InvalidKeyError(
            f"storage key {key[:80]!r} must be ASCII letters, digits, '._-' segments joined by '/'"
        )
    # Segments starting with a dot cover "." and "..", and also keep keys away from hidden
    # bookkeeping entries such as the local backend's ".tmp" folder.
    if any(segment.startswith(".") for segment in key.split("/")):
        raise InvalidKeyError(f"storage key {key[:80]!r} has a segment starting with '.'")
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix is a key, a key followed by '/', or empty."""
    if prefix:
        validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def check_max_size(max_size: int | None) -> None:
    if max_size is not None and max_size < 0:
        raise ValueError("max_size must not be negative")


def check_expires_in(expires_in: int) -> None:
    if expires_in <= 0:
        raise ValueError("expires_in must be a positive number of seconds")


def check_prefix_length(length: int) -> None:
    if not 0 <= length <= MAX_PREFIX_LENGTH:
        raise ValueError(f"length must be between 0 and {MAX_PREFIX_LENGTH}")


class _Counted:
    """The chunks of one put_stream, counted as they pass; past the limit, the next chunk
    raises ObjectTooLargeError instead of arriving."""

    def __init__(self, chunks: AsyncIterable[bytes], limit: int | None) -> None:
        self._chunks = aiter(chunks)
        self._limit = limit
        self.size = 0

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> bytes:
        chunk = await anext(self._chunks)
        self.size += len(chunk)
        if self._limit is not None and self.size > self._limit:
            raise ObjectTooLargeError(self._limit)
        return chunk


class Storage(abc.ABC):
    """An object store. Missing objects raise the builtin FileNotFoundError(key)."""

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        max_size: int | None = None,
        content_type: str | None = None,
        copy_to: BinaryIO | None = None,
    ) -> StoredObject:
        """Store the bytes of `chunks`, hashing as they flow and never holding them all.

        Once more than max_size bytes arrived, stop pulling, remove everything partial and
        raise ObjectTooLargeError. Any failure leaves no object and nothing partial behind.
        `copy_to`, a file, also gets the bytes in order, written by the thread that hashes
        them, so the caller can read them again without fetching the object back; after a
        failure its contents mean nothing.
        """
        validate_key(key)
        check_max_size(max_size)
        if content_type:
            check_content_type(content_type)
        counted = _Counted(chunks, max_size)
        sha256 = await self._write(key, counted, content_type or None, copy_to)
        return StoredObject(key=key, size=counted.size, sha256=sha256)

    @abc.abstractmethod
    async def _write(
        self, key: str, body: AsyncIterable[bytes], content_type: str | None, copy: BinaryIO | None
    ) -> str:
        """put_stream's backend part, for a checked key and type: the bytes' SHA-256 (hex).
        `body` raises ObjectTooLargeError itself once past the limit."""

    @abc.abstractmethod
    async def get_stream(self, key: str) -> AsyncIterator[bytes]:
        """Raises FileNotFoundError when awaited, before the first byte is yielded."""

    async def read_prefix(self, key: str, length: int) -> bytes:
        """At most `length` first bytes, for sniffing the type of direct uploads."""
        validate_key(key)
        check_prefix_length(length)
        return await self._prefix(key, length)

    @abc.abstractmethod
    async def _prefix(self, key: str, length: int) -> bytes:
        """read_prefix's backend part, for a checked key and length."""

    @abc.abstractmethod
    async def head(self, key: str) -> ObjectHead: ...

    async def exists(self, key: str) -> bool:
        try:
            await self.head(key)
        except FileNotFoundError:
            return False
        return True

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Idempotent: deleting a missing object is fine."""

    async def list_keys(self, prefix: str = "") -> list[str]:
        """All keys starting with prefix, sorted."""
        return await self._keys(validate_prefix(prefix))

    @abc.abstractmethod
    async def _keys(self, prefix: str) -> list[str]:
        """list_keys's backend part, for a checked prefix."""

    async def read_url(
        self,
        key: str,
        *,
        expires_in: int = DEFAULT_READ_URL_EXPIRES,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """A signed GET URL served as an attachment, or inline when content_type is given."""
        validate_key(key)
        check_expires_in(expires_in)
        if content_type:
            check_content_type(content_type)
        return await self._read_url(key, expires_in, filename or None, content_type or None)

    @abc.abstractmethod
    async def _read_url(
        self, key: str, expires_in: int, filename: str | None, content_type: str | None
    ) -> str:
        """read_url's backend part, for checked arguments."""

    async def upload_form(
        self, key: str, *, max_size: int, expires_in: int = DEFAULT_UPLOAD_FORM_EXPIRES
    ) -> UploadForm:
        """A presigned POST form letting a browser upload at most max_size bytes to key."""
        validate_key(key)
        check_expires_in(expires_in)
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        return await self._upload_form(key, max_size, expires_in)

    @abc.abstractmethod
    async def _upload_form(self, key: str, max_size: int, expires_in: int) -> UploadForm:
        """upload_form's backend part, for checked arguments."""

    async def abort_incomplete_uploads(self, *, older_than: timedelta) -> int:
        """Abort multipart uploads begun longer ago than older_than and never completed (their
        abort failed, e.g. because the service was down at that moment); the number aborted.
        Nothing to do for backends that write whole files."""
        return 0

    def browser_origin(self) -> str | None:
        """The origin browsers fetch signed URLs from when it is not the app's own (a bucket's
        endpoint), for the pages' Content-Security-Policy; None when the app serves files."""
        return None

    @abc.abstractmethod
    async def check(self) -> None:
        """Health check: raises StorageUnavailableError with a short reason."""

    @abc.abstractmethod
    async def aclose(self) -> None: ...
