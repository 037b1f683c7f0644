"""S3 (or S3-compatible) backend. Every boto3 call runs in a worker thread."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, ParamSpec, TypeVar, cast
from urllib.parse import urlsplit

import boto3.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from storage._http import DOWNLOAD_TYPE, content_disposition, is_inline_safe
from storage.interfaces import (
    ONE_MIB,
    READ_CHUNK_SIZE,
    ObjectHead,
    Storage,
    StorageError,
    StorageUnavailableError,
    UploadForm,
    validate_key,
)

if TYPE_CHECKING:
    from hashlib import _Hash

    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

CONNECT_TIMEOUT = 3
READ_TIMEOUT = 30
MAX_ATTEMPTS = 2
MAX_POOL_CONNECTIONS = 20
# One upload holds at most PART_BUFFERS part buffers, each being filled or being sent: at most
# PART_BUFFERS * S3_PART_SIZE bytes (12 MiB, so that the whole upload stays under 16 MB).
# Two parts are sent at once while the body is read, or while it waits for a buffer to come
# back. More buffers did not make uploads faster (the CPU is the limit), and parts larger than
# S3's smallest (5 MiB) mean fewer requests for the same bytes.
S3_PART_SIZE = 6 * ONE_MIB
PART_BUFFERS = 2
# The first part's buffer grows with the bytes up to this size, so small objects cost little.
GROWING_BUFFER_LIMIT = ONE_MIB
# A small object's SHA-256 is taken on the event loop (tens of microseconds); a larger one's,
# or one copied to a file as well, in a thread.
INLINE_DIGEST_LIMIT = 256 * 1024

_MISSING_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
_BUSY_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"})

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _error_code(exc: ClientError) -> tuple[str, int]:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return code, status


def _map_error(exc: Exception, key: str | None) -> Exception:
    """Translate botocore errors so nothing outside storage/ has to know about them."""
    if isinstance(exc, ClientError):
        code, status = _error_code(exc)
        if key is not None and code in _MISSING_CODES:
            return FileNotFoundError(key)
        if code == "NoSuchBucket":
            return StorageUnavailableError("S3 bucket does not exist")
        if status >= 500 or code in _BUSY_CODES:
            return StorageUnavailableError(f"S3 is not answering properly ({code or status})")
        return StorageError(f"S3 request failed ({code or status})")
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return StorageUnavailableError(f"S3 endpoint not reachable ({type(exc).__name__})")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return StorageUnavailableError("no usable S3 credentials")
    return StorageError(f"S3 client error ({type(exc).__name__})")


def _digest(hasher: _Hash, body: bytearray, copy_to: BinaryIO | None) -> None:
    hasher.update(body)
    if copy_to is not None:
        copy_to.write(body)


def _crc32(body: bytearray) -> str:
    """The body's CRC32 as the x-amz-checksum-crc32 header carries it. Sent as a plain
    header (not a trailer, which several S3-compatible servers refuse), it lets the server
    check the bytes it got before it keeps them; payloads are not hashed again for the
    signature (UNSIGNED-PAYLOAD, as botocore itself does over HTTPS)."""
    return base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()


def _blob(body: bytearray) -> bytes:
    # botocore takes a bytearray as it is (its validator allows bytes, bytearray or a file);
    # the stubs only say bytes. bytes(body) would copy a whole part.
    return cast("bytes", body)


class S3Storage(Storage):
    def __init__(
        self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None
    ) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path", "payload_signing_enabled": False},
            retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            max_pool_connections=MAX_POOL_CONNECTIONS,
            # The newer default CRC trailers are rejected by several S3-compatible servers;
            # integrity is covered by the SigV4 payload hash and our own SHA-256.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # A private session: the default one is not safe to share between threads.
        session = boto3.session.Session()
        self._client: S3Client = session.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )
        # Aborts of failed uploads that outlived the cancelled task they were started by.
        self._cleanups: set[asyncio.Task[None]] = set()
        # Path-style presigned URLs point at the client's endpoint (the given one, or the
        # region's): that is the origin browsers fetch files from.
        endpoint = urlsplit(self._client.meta.endpoint_url)
        self._browser_origin = f"{endpoint.scheme}://{endpoint.netloc}"

    def browser_origin(self) -> str | None:
        return self._browser_origin

    def _abort_incomplete(self, cutoff: datetime) -> int:
        aborted = 0
        paginator = self._client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket):
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < cutoff:
                    with contextlib.suppress(ClientError):  # completed or aborted meanwhile
                        self._client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        aborted += 1
        return aborted

    async def abort_incomplete_uploads(self, *, older_than: timedelta) -> int:
        return await self._call(None, self._abort_incomplete, datetime.now(UTC) - older_than)

    async def _call(
        self, key: str | None, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise _map_error(exc, key) from exc

    # -- writing --

    async def _write(
        self, key: str, body: AsyncIterable[bytes], content_type: str | None, copy: BinaryIO | None
    ) -> str:
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        hasher = hashlib.sha256()
        # The part being filled (filled bytes of it). A full part is sent only once more bytes
        # arrive, so an object of at most one part is a single PUT.
        part = bytearray()
        filled = 0
        upload: _MultipartUpload | None = None
        try:
            async for chunk in body:
                rest = memoryview(chunk)
                while rest:
                    if filled == S3_PART_SIZE:
                        if upload is None:
                            upload = _MultipartUpload(self, key, extra, hasher, copy)
                        upload.send(part)
                        part, filled = await upload.take_buffer(), 0
                    piece = rest[: S3_PART_SIZE - filled]
                    end = filled + len(piece)
                    if end > len(part) and end > GROWING_BUFFER_LIMIT:
                        # Not a small object: give the first part its full size once, rather
                        # than growing by copies that leave holes in the heap.
                        full = bytearray(S3_PART_SIZE)
                        full[:filled] = part
                        part = full
                    part[filled:end] = piece
                    filled = end
                    rest = rest[len(piece) :]
                if upload is not None:
                    upload.raise_failure()
            del part[filled:]
            if upload is None:
                if copy is None and len(part) <= INLINE_DIGEST_LIMIT:
                    hasher.update(part)  # less than a thread's hand-over costs
                else:
                    await asyncio.to_thread(_digest, hasher, part, copy)
                await self._call(
                    key,
                    self._client.put_object,
                    Bucket=self.bucket,
                    Key=key,
                    Body=_blob(part),
                    ChecksumCRC32=_crc32(part),
                    **extra,
                )
            else:
                if part:
                    upload.send(part)
                del part
                await upload.complete()
                upload = None
        except BaseException:
            if upload is not None:
                await self._finish_cleanup(upload.abort())
            raise
        return hasher.hexdigest()

    async def _finish_cleanup(self, cleanup: Coroutine[Any, Any, None]) -> None:
        """Run cleanup to its end, even if the calling task gets cancelled (again) meanwhile."""
        task = asyncio.create_task(cleanup)
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
        await asyncio.shield(task)

    async def _abort_quietly(self, key: str, upload_id: str) -> None:
        # Best effort: the original error matters more than a failed cleanup. Running in a
        # thread, the abort completes even if this task gets cancelled meanwhile.
        with contextlib.suppress(StorageError, FileNotFoundError):
            await self._call(
                key,
                self._client.abort_multipart_upload,
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
            )

    # -- reading --

    async def get_stream(self, key: str) -> AsyncIterator[bytes]:
        validate_key(key)
        response = await self._call(key, self._client.get_object, Bucket=self.bucket, Key=key)
        return self._iter_body(key, response["Body"])

    async def _iter_body(self, key: str, body: StreamingBody) -> AsyncIterator[bytes]:
        try:
            while chunk := await self._call(key, body.read, READ_CHUNK_SIZE):
                yield chunk
        finally:
            body.close()

    async def _prefix(self, key: str, length: int) -> bytes:
        if length == 0:
            await self.head(key)
            return b""
        try:
            response = await asyncio.to_thread(
                self._client.get_object,
                Bucket=self.bucket,
                Key=key,
                Range=f"bytes=0-{length - 1}",
            )
        except ClientError as exc:
            # S3 refuses any range on an empty object; the object is there, its prefix is empty.
            if _error_code(exc)[0] == "InvalidRange":
                return b""
            raise _map_error(exc, key) from exc
        except BotoCoreError as exc:
            raise _map_error(exc, key) from exc
        body: StreamingBody = response["Body"]
        try:
            return await self._call(key, body.read, length)
        finally:
            body.close()

    async def head(self, key: str) -> ObjectHead:
        validate_key(key)
        response = await self._call(key, self._client.head_object, Bucket=self.bucket, Key=key)
        return ObjectHead(
            key=key, size=response["ContentLength"], content_type=response.get("ContentType")
        )

    async def delete(self, key: str) -> None:
        validate_key(key)
        await self._call(key, self._client.delete_object, Bucket=self.bucket, Key=key)

    def _list_keys(self, prefix: str) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []) if "Key" in item)
        return sorted(keys)

    async def _keys(self, prefix: str) -> list[str]:
        return await self._call(None, self._list_keys, prefix)

    # -- presigned URLs --

    async def _read_url(
        self, key: str, expires_in: int, filename: str | None, content_type: str | None
    ) -> str:
        # Only types that run nothing are shown inline; anything else is a download.
        inline = bool(content_type) and is_inline_safe(content_type or "")
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "ResponseCacheControl": "private",
            "ResponseContentDisposition": content_disposition(
                "inline" if inline else "attachment", filename
            ),
        }
        if content_type:
            params["ResponseContentType"] = content_type if inline else DOWNLOAD_TYPE
        return await self._call(
            key,
            self._client.generate_presigned_url,
            "get_object",
            Params=params,
            ExpiresIn=expires_in,
        )

    async def _upload_form(self, key: str, max_size: int, expires_in: int) -> UploadForm:
        expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
        post = await self._call(
            key,
            self._client.generate_presigned_post,
            Bucket=self.bucket,
            Key=key,
            Conditions=[["content-length-range", 1, max_size]],
            ExpiresIn=expires_in,
        )
        return UploadForm(
            url=str(post["url"]),
            fields={str(name): str(value) for name, value in post["fields"].items()},
            key=key,
            max_size=max_size,
            expires_at=expires_at,
        )

    # -- health --

    async def check(self) -> None:
        try:
            await asyncio.to_thread(self._client.head_bucket, Bucket=self.bucket)
        except ClientError as exc:
            code, status = _error_code(exc)
            if status == 404 or code in ("NoSuchBucket", "NotFound", "404"):
                raise StorageUnavailableError(f"S3 bucket {self.bucket!r} not found") from exc
            if status == 403:
                reason = f"access to S3 bucket {self.bucket!r} denied"
                raise StorageUnavailableError(reason) from exc
            raise StorageUnavailableError(str(_map_error(exc, None))) from exc
        except BotoCoreError as exc:
            raise StorageUnavailableError(str(_map_error(exc, None))) from exc

    async def aclose(self) -> None:
        if self._cleanups:
            await asyncio.wait(set(self._cleanups))
        await asyncio.to_thread(self._client.close)


class _MultipartUpload:
    """The parts of one multipart upload, hashed and sent by worker threads while the next fills.

    Created when the first part is full; the upload itself is created in the background too.
    Its PART_BUFFERS buffers are each being filled or being sent: the next part is filled in
    a buffer whose part was sent. Parts are hashed (and written to the caller's copy) one
    after the other, in order, while being sent.
    """

    def __init__(
        self,
        storage: S3Storage,
        key: str,
        extra: dict[str, Any],
        hasher: _Hash,
        copy_to: BinaryIO | None,
    ) -> None:
        self._storage = storage
        self._key = key
        self._hasher = hasher
        self._copy_to = copy_to
        self._created = asyncio.create_task(self._create(extra))
        # The hashing of the last part sent; each part's hashing waits for the one before.
        self._hashed: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[CompletedPartTypeDef]] = set()
        self._sent: list[CompletedPartTypeDef] = []
        self._count = 0
        # Buffers of parts sent successfully, reused so that at most PART_BUFFERS part
        # buffers ever exist for one upload (the first one is the caller's).
        self._spare: list[bytearray] = []
        self._buffers = 1

    async def _create(self, extra: dict[str, Any]) -> str:
        storage = self._storage
        created = await storage._call(
            self._key,
            storage._client.create_multipart_upload,
            Bucket=storage.bucket,
            Key=self._key,
            ChecksumAlgorithm="CRC32",
            **extra,
        )
        return created["UploadId"]

    def _upload_part(self, upload_id: str, number: int, body: bytearray) -> CompletedPartTypeDef:
        checksum = _crc32(body)  # computed in the worker thread, like the send
        storage = self._storage
        result = storage._client.upload_part(
            Bucket=storage.bucket,
            Key=self._key,
            UploadId=upload_id,
            PartNumber=number,
            Body=_blob(body),
            ChecksumCRC32=checksum,
        )
        return {"ETag": result["ETag"], "PartNumber": number, "ChecksumCRC32": checksum}

    async def _hash(self, previous: asyncio.Task[None] | None, body: bytearray) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        await asyncio.to_thread(_digest, self._hasher, body, self._copy_to)

    async def _send_part(
        self, number: int, body: bytearray, hashed: asyncio.Task[None]
    ) -> CompletedPartTypeDef:
        # Shielded: a part task is never cancelled by us, but if it were, the creation must
        # still finish so that abort() learns the upload id.
        upload_id = await asyncio.shield(self._created)
        part = await self._storage._call(self._key, self._upload_part, upload_id, number, body)
        await asyncio.wait([hashed])
        hashed.result()
        # Sent and hashed: nothing refers to body any more.
        self._spare.append(body)
        return part

    async def take_buffer(self) -> bytearray:
        """A buffer for the next part (contents undefined): a new one while fewer than
        PART_BUFFERS exist, else the first one whose part is sent."""
        while not self._spare and self._buffers >= PART_BUFFERS:
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
            self.raise_failure()
        if self._spare:
            return self._spare.pop()
        self._buffers += 1
        return bytearray(S3_PART_SIZE)

    def raise_failure(self) -> None:
        """Collect the parts sent so far; raise the error of one that failed."""
        for task in [task for task in self._in_flight if task.done()]:
            self._in_flight.discard(task)
            self._sent.append(task.result())

    def send(self, body: bytearray) -> None:
        """Start sending body as the next part."""
        self.raise_failure()
        self._count += 1
        self._hashed = asyncio.create_task(self._hash(self._hashed, body))
        self._in_flight.add(asyncio.create_task(self._send_part(self._count, body, self._hashed)))

    async def complete(self) -> None:
        while self._in_flight:
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_EXCEPTION)
            self.raise_failure()
        storage = self._storage
        await storage._call(
            self._key,
            storage._client.complete_multipart_upload,
            Bucket=storage.bucket,
            Key=self._key,
            UploadId=self._created.result(),
            MultipartUpload={"Parts": sorted(self._sent, key=lambda part: part["PartNumber"])},
        )

    async def abort(self) -> None:
        # Cancelling a part's task would not stop its worker thread, and a part that lands
        # after the abort would be left behind: wait for every part to end, then abort.
        tasks: list[asyncio.Future[Any]] = [self._created, *self._in_flight]
        if self._hashed is not None:
            tasks.append(self._hashed)  # the last one waits for all the others
        await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled():
                task.exception()  # retrieved: the error that matters is already raised
        if self._created.cancelled() or self._created.exception() is not None:
            return
        await self._storage._abort_quietly(self._key, self._created.result())
