"""S3 (or S3-compatible) backend. Every boto3 call runs in a worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

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

from storage._http import check_content_type, content_disposition
from storage.interfaces import (
    DEFAULT_READ_URL_EXPIRES,
    DEFAULT_UPLOAD_FORM_EXPIRES,
    MULTIPART_PART_SIZE,
    READ_CHUNK_SIZE,
    ObjectHead,
    ObjectTooLargeError,
    Storage,
    StorageError,
    StorageUnavailableError,
    StoredObject,
    UploadForm,
    check_expires_in,
    check_max_size,
    check_prefix_length,
    validate_key,
    validate_prefix,
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


def _join_and_hash(hasher: _Hash, chunks: list[bytes]) -> bytes:
    body = b"".join(chunks)
    hasher.update(body)
    return body


class S3Storage(Storage):
    def __init__(
        self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None
    ) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
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

    async def _call(
        self, key: str | None, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise _map_error(exc, key) from exc

    # -- writing --

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        max_size: int | None = None,
        content_type: str | None = None,
    ) -> StoredObject:
        validate_key(key)
        check_max_size(max_size)
        extra: dict[str, Any] = {}
        if content_type:
            extra["ContentType"] = check_content_type(content_type)
        hasher = hashlib.sha256()
        size = 0
        buffered: list[bytes] = []
        buffered_len = 0
        upload_id: str | None = None
        parts: list[CompletedPartTypeDef] = []
        try:
            async for chunk in chunks:
                size += len(chunk)
                if max_size is not None and size > max_size:
                    raise ObjectTooLargeError(max_size)
                buffered.append(chunk)
                buffered_len += len(chunk)
                if buffered_len < MULTIPART_PART_SIZE:
                    continue
                if upload_id is None:
                    created = await self._call(
                        key,
                        self._client.create_multipart_upload,
                        Bucket=self.bucket,
                        Key=key,
                        **extra,
                    )
                    upload_id = created["UploadId"]
                body = await asyncio.to_thread(_join_and_hash, hasher, buffered)
                buffered, buffered_len = [], 0
                parts.append(await self._upload_part(key, upload_id, len(parts) + 1, body))
                del body
            body = await asyncio.to_thread(_join_and_hash, hasher, buffered)
            buffered = []
            if upload_id is None:
                await self._call(
                    key,
                    self._client.put_object,
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    **extra,
                )
            else:
                if body:
                    parts.append(await self._upload_part(key, upload_id, len(parts) + 1, body))
                del body
                await self._call(
                    key,
                    self._client.complete_multipart_upload,
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
                upload_id = None
        except BaseException:
            if upload_id is not None:
                await self._abort_quietly(key, upload_id)
            raise
        return StoredObject(key=key, size=size, sha256=hasher.hexdigest())

    async def _upload_part(
        self, key: str, upload_id: str, number: int, body: bytes
    ) -> CompletedPartTypeDef:
        result = await self._call(
            key,
            self._client.upload_part,
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
        )
        return {"ETag": result["ETag"], "PartNumber": number}

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

    async def read_prefix(self, key: str, length: int) -> bytes:
        validate_key(key)
        check_prefix_length(length)
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

    async def exists(self, key: str) -> bool:
        try:
            await self.head(key)
        except FileNotFoundError:
            return False
        return True

    async def delete(self, key: str) -> None:
        validate_key(key)
        await self._call(key, self._client.delete_object, Bucket=self.bucket, Key=key)

    def _list_keys(self, prefix: str) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []) if "Key" in item)
        return sorted(keys)

    async def list_keys(self, prefix: str = "") -> list[str]:
        validate_prefix(prefix)
        return await self._call(None, self._list_keys, prefix)

    # -- presigned URLs --

    async def read_url(
        self,
        key: str,
        *,
        expires_in: int = DEFAULT_READ_URL_EXPIRES,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str:
        validate_key(key)
        check_expires_in(expires_in)
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "ResponseCacheControl": "private",
            "ResponseContentDisposition": content_disposition(
                "inline" if content_type else "attachment", filename
            ),
        }
        if content_type:
            params["ResponseContentType"] = check_content_type(content_type)
        return await self._call(
            key,
            self._client.generate_presigned_url,
            "get_object",
            Params=params,
            ExpiresIn=expires_in,
        )

    async def upload_form(
        self, key: str, *, max_size: int, expires_in: int = DEFAULT_UPLOAD_FORM_EXPIRES
    ) -> UploadForm:
        validate_key(key)
        check_expires_in(expires_in)
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
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
        await asyncio.to_thread(self._client.close)
