"""Filesystem backend; the app itself serves signed URLs through LocalStorage.asgi_app()."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, ParamSpec, TypeVar
from urllib.parse import quote, urlencode

from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route, Router

from storage._http import DOWNLOAD_TYPE, content_disposition, is_inline_safe
from storage._signing import Signer, UploadPolicy
from storage.interfaces import (
    DRAIN_LIMIT,
    LOCAL_WRITE_BUFFER_SIZE,
    READ_CHUNK_SIZE,
    UPLOAD_FORM_OVERHEAD,
    InvalidKeyError,
    ObjectHead,
    ObjectTooLargeError,
    Storage,
    StorageError,
    StorageUnavailableError,
    UploadForm,
    validate_key,
)
from storage.multipart import FormReadError, MultipartReader, boundary_of

# Where the main app mounts asgi_app(); read_url and upload_form build URLs under it.
FILES_MOUNT_PATH = "/files"
UPLOAD_PATH = "/upload"
TMP_DIR_NAME = ".tmp"
# A direct upload's form: its policy fields, then the file part.
FILE_FIELD = "file"
MAX_UPLOAD_PARTS = 10
MAX_UPLOAD_FIELD_BYTES = 8 * 1024
# Everything before the file part is small fields; more than this is not a legitimate form.
MAX_BYTES_BEFORE_FILE = 64 * 1024

_SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private"}
# Files are served from the app's own origin, so each one is a sandboxed document that may load
# nothing: even a file that got in with a wrong type could run no script with the app's cookies.
# Pages of the app may still frame it (the judges' PDF viewer); Chromium's PDF viewer, image
# and media documents work under this policy (tests/hardening/test_file_viewers.py).
FILE_CONTENT_SECURITY_POLICY = "sandbox; default-src 'none'; frame-ancestors 'self'"
_FILE_HEADERS = {
    **_SECURITY_HEADERS,
    "Content-Security-Policy": FILE_CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "SAMEORIGIN",
}
_UNAVAILABLE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT, errno.EIO}
)

if TYPE_CHECKING:
    from hashlib import _Hash

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _write_error(exc: OSError, key: str) -> StorageError:
    reason = exc.strerror or type(exc).__name__
    if exc.errno in _UNAVAILABLE_ERRNOS:
        return StorageUnavailableError(f"local storage not writable: {reason}")
    return StorageError(f"cannot store {key!r}: {reason}")


async def _read_op(key: str, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
        raise FileNotFoundError(key) from exc
    except OSError as exc:
        raise StorageError(f"cannot read {key!r}: {exc.strerror or type(exc).__name__}") from exc


async def _write_op(key: str, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except OSError as exc:
        raise _write_error(exc, key) from exc


def _write_batch(
    file: BinaryIO, hasher: _Hash, batch: list[bytes], copy_to: BinaryIO | None
) -> None:
    for chunk in batch:
        hasher.update(chunk)
        file.write(chunk)
    if copy_to is not None:
        copy_to.writelines(batch)


def _discard(file: BinaryIO, tmp_path: str) -> None:
    # Runs on the event loop on purpose: it must complete even while the task is being
    # cancelled, and closing plus unlinking one file is quick.
    file.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp_path)


class LocalStorage(Storage):
    def __init__(
        self,
        root: Path,
        *,
        secret_key: str,
        base_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Resolved once so containment checks compare real paths even if root is a symlink.
        self.root = Path(os.path.realpath(root))
        self._tmp_dir = self.root / TMP_DIR_NAME
        self._signer = Signer(secret_key)
        self._base_url = base_url.rstrip("/")
        self._clock = clock

    # -- paths --

    def _path(self, key: str) -> Path:
        """The real path for key; refuses keys that resolve outside root (e.g. via symlinks)."""
        validate_key(key)
        resolved = Path(os.path.realpath(self.root / key))
        if (
            resolved == self.root
            or not resolved.is_relative_to(self.root)
            or resolved.is_relative_to(self._tmp_dir)
        ):
            raise InvalidKeyError(f"storage key {key!r} resolves outside the storage root")
        return resolved

    def _file_stat(self, key: str) -> tuple[Path, os.stat_result]:
        path = self._path(key)
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise FileNotFoundError(key)
        return path, st

    # -- writing --

    def _open_temp(self) -> tuple[BinaryIO, str]:
        try:
            # No parents=True: a missing root (an unmounted volume?) must fail, not be recreated.
            self._tmp_dir.mkdir(exist_ok=True)
            fd, tmp_path = tempfile.mkstemp(dir=self._tmp_dir, prefix="put-", suffix=".part")
        except OSError as exc:
            # Only the root is involved here, so any failure means the storage is unusable.
            reason = exc.strerror or type(exc).__name__
            raise StorageUnavailableError(f"local storage root not writable: {reason}") from exc
        return open(fd, "wb"), tmp_path

    def _commit(self, file: BinaryIO, tmp_path: str, key: str) -> None:
        file.flush()
        os.fsync(file.fileno())
        file.close()
        self._path(key).parent.mkdir(parents=True, exist_ok=True)
        # Resolve again now that the parent folders exist: a symlink placed meanwhile must
        # not redirect the write outside root.
        os.replace(tmp_path, self._path(key))

    async def _write(
        self, key: str, body: AsyncIterable[bytes], content_type: str | None, copy: BinaryIO | None
    ) -> str:
        # content_type is not persisted: files carry no metadata, and the read URL decides
        # the type the response is served with.
        await _write_op(key, self._path, key)
        file, tmp_path = await _write_op(key, self._open_temp)
        hasher = hashlib.sha256()
        batch: list[bytes] = []
        batch_len = 0
        try:
            async for chunk in body:
                batch.append(chunk)
                batch_len += len(chunk)
                if batch_len >= LOCAL_WRITE_BUFFER_SIZE:
                    await _write_op(key, _write_batch, file, hasher, batch, copy)
                    batch, batch_len = [], 0
            await _write_op(key, _write_batch, file, hasher, batch, copy)
            await _write_op(key, self._commit, file, tmp_path, key)
        except BaseException:
            _discard(file, tmp_path)
            raise
        return hasher.hexdigest()

    # -- reading --

    def _open_for_read(self, key: str) -> BinaryIO:
        file = open(self._path(key), "rb")  # noqa: SIM115 - the caller owns and closes it
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            file.close()
            raise FileNotFoundError(key)
        return file

    async def get_stream(self, key: str) -> AsyncIterator[bytes]:
        validate_key(key)
        file = await _read_op(key, self._open_for_read, key)
        return self._iter_file(key, file)

    async def _iter_file(self, key: str, file: BinaryIO) -> AsyncIterator[bytes]:
        try:
            while chunk := await _read_op(key, file.read, READ_CHUNK_SIZE):
                yield chunk
        finally:
            file.close()

    def _read_prefix(self, key: str, length: int) -> bytes:
        with self._open_for_read(key) as file:
            return file.read(length)

    async def _prefix(self, key: str, length: int) -> bytes:
        return await _read_op(key, self._read_prefix, key, length)

    async def head(self, key: str) -> ObjectHead:
        validate_key(key)
        _, st = await _read_op(key, self._file_stat, key)
        return ObjectHead(key=key, size=st.st_size, content_type=None)

    def _delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            path, _ = self._file_stat(key)
            path.unlink()

    async def delete(self, key: str) -> None:
        validate_key(key)
        await _write_op(key, self._delete, key)

    def _list_keys(self, prefix: str) -> list[str]:
        folder = prefix.rpartition("/")[0]
        start = self.root / folder
        try:
            if folder and self._path(folder) != start:
                return []  # the folder is reached through a symlink
        except InvalidKeyError:
            return []
        keys: list[str] = []
        pending = [start]
        while pending:
            try:
                with os.scandir(pending.pop()) as entries:
                    for entry in entries:
                        # Hidden entries (our .tmp among them) can never be valid keys, and
                        # symlinks are never objects we wrote.
                        if entry.name.startswith("."):
                            continue
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            key = Path(entry.path).relative_to(self.root).as_posix()
                            if key.startswith(prefix) and _is_valid_key(key):
                                keys.append(key)
            except (FileNotFoundError, NotADirectoryError):
                continue
        return sorted(keys)

    async def _keys(self, prefix: str) -> list[str]:
        return await _read_op(prefix, self._list_keys, prefix)

    # -- signed URLs --

    async def _read_url(
        self, key: str, expires_in: int, filename: str | None, content_type: str | None
    ) -> str:
        expires = int(self._clock()) + expires_in
        params = {"e": str(expires)}
        if filename:
            params["fn"] = filename
        if content_type:
            params["ct"] = content_type
        params["s"] = self._signer.sign_read(key, expires, filename or "", content_type or "")
        query = urlencode(params, quote_via=quote)
        return f"{self._base_url}{FILES_MOUNT_PATH}/{quote(key, safe='/')}?{query}"

    async def _upload_form(self, key: str, max_size: int, expires_in: int) -> UploadForm:
        expires = int(self._clock()) + expires_in
        policy = self._signer.make_policy(UploadPolicy(key=key, max_size=max_size, expires=expires))
        return UploadForm(
            url=f"{self._base_url}{FILES_MOUNT_PATH}{UPLOAD_PATH}",
            fields={"key": key, "policy": policy},
            key=key,
            max_size=max_size,
            expires_at=datetime.fromtimestamp(expires, UTC),
        )

    # -- incomplete uploads --

    def _remove_stale_temp_files(self, cutoff: float) -> int:
        removed = 0
        try:
            entries = list(os.scandir(self._tmp_dir))
        except FileNotFoundError:
            return 0
        for entry in entries:
            # Writes in progress keep touching their file; one left this long was abandoned
            # by a process that died mid-upload.
            with contextlib.suppress(FileNotFoundError):
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
        return removed

    async def abort_incomplete_uploads(self, *, older_than: timedelta) -> int:
        cutoff = self._clock() - older_than.total_seconds()
        return await _write_op(TMP_DIR_NAME, self._remove_stale_temp_files, cutoff)

    # -- health --

    def _check(self) -> None:
        if not self.root.is_dir():
            raise StorageUnavailableError(f"local storage root {self.root} is not a directory")
        try:
            self._tmp_dir.mkdir(exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self._tmp_dir, prefix="check-")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise StorageUnavailableError(f"local storage root not writable: {reason}") from exc

    async def check(self) -> None:
        await asyncio.to_thread(self._check)

    async def aclose(self) -> None:
        return None

    # -- HTTP endpoints --

    def asgi_app(self) -> Router:
        """Serves read_url and upload_form URLs; mount it at FILES_MOUNT_PATH."""
        return Router(
            routes=[
                Route(UPLOAD_PATH, self._upload_endpoint, methods=["POST"]),
                Route("/{key:path}", self._read_endpoint, methods=["GET"]),
            ]
        )

    async def _read_endpoint(self, request: Request) -> Response:
        key: str = request.path_params["key"]
        query = request.query_params
        filename = query.get("fn", "")
        content_type = query.get("ct", "")
        if not self._signer.verify_read(
            key, query.get("e", ""), filename, content_type, query.get("s", ""), self._clock()
        ):
            return PlainTextResponse("Forbidden", 403, headers=_SECURITY_HEADERS)
        try:
            path, st = await _read_op(key, self._file_stat, key)
        except (FileNotFoundError, InvalidKeyError):
            return PlainTextResponse("Not Found", 404, headers=_SECURITY_HEADERS)
        # Only types that run nothing are shown inline; HTML, SVG and the rest are downloads.
        inline = bool(content_type) and is_inline_safe(content_type)
        disposition = content_disposition("inline" if inline else "attachment", filename or None)
        return FileResponse(
            path,
            media_type=content_type if inline else DOWNLOAD_TYPE,
            headers={**_FILE_HEADERS, "Content-Disposition": disposition},
            stat_result=st,
        )

    async def _upload_endpoint(self, request: Request) -> Response:
        body = _FieldsFirst(request.stream())
        try:
            form = MultipartReader(
                boundary_of(request.headers.get("content-type")), body, max_parts=MAX_UPLOAD_PARTS
            )
        except FormReadError as exc:
            return PlainTextResponse(str(exc), 400, headers=_SECURITY_HEADERS)
        try:
            await self._receive_upload(request, form, body)
        except ObjectTooLargeError:
            await form.drain(DRAIN_LIMIT)
            return PlainTextResponse("File too large", 413, headers=_SECURITY_HEADERS)
        except _PolicyError as exc:
            await form.drain(DRAIN_LIMIT)
            return PlainTextResponse(str(exc), 403, headers=_SECURITY_HEADERS)
        except FormReadError as exc:
            await form.drain(DRAIN_LIMIT)
            return PlainTextResponse(str(exc), 400, headers=_SECURITY_HEADERS)
        except ClientDisconnect:
            # Nobody is left to read a response; put_stream already removed the partial file.
            return Response(status_code=400)
        return Response(status_code=204, headers=_SECURITY_HEADERS)

    async def _receive_upload(
        self, request: Request, form: MultipartReader, body: _FieldsFirst
    ) -> None:
        fields = await _read_fields(form)
        body.file_started = True
        policy = self._signer.read_policy(fields.get("policy", ""), self._clock())
        if policy is None or fields.get("key") != policy.key:
            raise _PolicyError("invalid or expired upload policy")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > policy.max_size + UPLOAD_FORM_OVERHEAD:
            raise ObjectTooLargeError(policy.max_size)
        chunks = form.chunks()
        first = await anext(chunks, b"")
        # Same rule as S3's content-length-range starting at 1: an empty file is no upload.
        if not first:
            raise FormReadError("the file is empty")
        # Whatever follows the file part is never read.
        await self.put_stream(policy.key, _prepend(first, chunks), max_size=policy.max_size)


class _FieldsFirst:
    """The request body, refused once more than MAX_BYTES_BEFORE_FILE went by without the
    file part beginning (however many parts and headers that took)."""

    def __init__(self, body: AsyncIterator[bytes]) -> None:
        self._body = body
        self._seen = 0
        self.file_started = False

    def __aiter__(self) -> _FieldsFirst:
        return self

    async def __anext__(self) -> bytes:
        if not self.file_started and self._seen > MAX_BYTES_BEFORE_FILE:
            raise FormReadError("form fields too large")
        chunk = await anext(self._body)
        self._seen += len(chunk)
        return chunk


class _PolicyError(Exception):
    """The upload's policy is missing, forged, expired or for another key: 403."""


async def _read_fields(form: MultipartReader) -> dict[str, str]:
    """The small fields before the file part; the reader is left at the file's first byte."""
    fields: dict[str, str] = {}
    async for part in form:
        if part.name == FILE_FIELD:
            return fields
        if part.name in fields:
            raise FormReadError(f"duplicate form field {part.name[:40]!r}")
        fields[part.name] = await form.read_text(MAX_UPLOAD_FIELD_BYTES)
    raise FormReadError(f"missing form field {FILE_FIELD!r}")


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


def _is_valid_key(key: str) -> bool:
    try:
        validate_key(key)
    except InvalidKeyError:
        return False
    return True
