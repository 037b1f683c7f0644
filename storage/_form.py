"""Streaming multipart/form-data reading for the local direct-upload endpoint.

Starlette's request.form() spools file parts to disk with no size cap, so the upload endpoint
drives python-multipart itself: small fields are collected in memory (capped), and the bytes
of the single `file` part are handed over as they arrive so put_stream can enforce max_size.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FILE_FIELD = "file"
MAX_FIELD_BYTES = 8 * 1024
MAX_PARTS = 10
# Everything before the file part is small fields; more than this is not a legitimate form.
MAX_BYTES_BEFORE_FILE = 64 * 1024


class FormError(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def multipart_boundary(content_type: str | None) -> bytes:
    media_type, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise FormError(400, "expected a multipart/form-data body")
    return boundary


class MultipartUpload:
    """Fields first, then the `file` part's bytes as a stream; anything after it is ignored."""

    def __init__(self, boundary: bytes, body: AsyncIterator[bytes]) -> None:
        self._body = body
        self._ended = False
        self.received = 0
        self.fields: dict[str, str] = {}
        self._pending: deque[bytes] = deque()
        self._file_started = False
        self._file_done = False
        self._parts = 0
        self._part_name = ""
        self._in_file = False
        self._part_data = bytearray()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._disposition = b""
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._on_part_begin,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
        }
        try:
            self._parser = MultipartParser(boundary, callbacks)
        except FormParserError as exc:
            raise FormError(400, "invalid multipart boundary") from exc

    # -- parser callbacks (synchronous, called from inside parser.write) --

    def _on_part_begin(self) -> None:
        if self._file_done:
            return
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise FormError(400, "too many form fields")
        self._part_name = ""
        self._in_file = False
        self._part_data.clear()
        self._disposition = b""

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        if not self._file_done:
            self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        if not self._file_done:
            self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        if not self._file_done and self._header_name.lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        if self._file_done:
            return
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name")
        if name is None:
            raise FormError(400, "form part without a name")
        self._part_name = name.decode("utf-8", "replace")
        if self._part_name == FILE_FIELD:
            self._file_started = True
            self._in_file = True
        elif self._part_name in self.fields:
            raise FormError(400, f"duplicate form field {self._part_name[:40]!r}")

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file_done or start == end:
            return
        if self._in_file:
            self._pending.append(data[start:end])
            return
        if len(self._part_data) + (end - start) > MAX_FIELD_BYTES:
            raise FormError(400, "form field too large")
        self._part_data += data[start:end]

    def _on_part_end(self) -> None:
        if self._file_done:
            return
        if self._in_file:
            self._file_done = True
            return
        try:
            self.fields[self._part_name] = self._part_data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormError(400, "form field is not UTF-8") from exc

    # -- driving the parser --

    async def _feed(self) -> bool:
        """Parse one more body chunk; False once the body has ended."""
        if self._ended:
            return False
        try:
            chunk = await anext(self._body)
        except StopAsyncIteration:
            self._ended = True
            return False
        self.received += len(chunk)
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise FormError(400, "malformed multipart body") from exc
        return True

    async def read_fields(self) -> dict[str, str]:
        """Parse up to the start of the file part and return the fields seen before it."""
        while not self._file_started:
            if self.received > MAX_BYTES_BEFORE_FILE:
                raise FormError(400, "form fields too large")
            if not await self._feed():
                raise FormError(400, f"missing form field {FILE_FIELD!r}")
        return self.fields

    async def has_file_data(self) -> bool:
        """Whether the file part holds at least one byte."""
        while not self._pending and not self._file_done:
            if not await self._feed():
                raise FormError(400, "body ended inside the file")
        return bool(self._pending)

    async def file_chunks(self) -> AsyncIterator[bytes]:
        while True:
            while self._pending:
                yield self._pending.popleft()
            if self._file_done:
                return
            # A body that stops before the closing boundary is a truncated upload, never a file.
            if not await self._feed():
                raise FormError(400, "body ended inside the file")

    async def drain(self, limit: int) -> None:
        """Discard up to `limit` more body bytes so the client gets to read our error response."""
        drained = 0
        while not self._ended and drained <= limit:
            try:
                chunk = await anext(self._body)
            except StopAsyncIteration:
                self._ended = True
                return
            drained += len(chunk)
