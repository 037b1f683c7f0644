"""Reading a multipart/form-data body part by part, as its bytes arrive.

Starlette's ``request.form()`` spools file parts to disk with no size cap; here the body is
pushed through python-multipart's parser one chunk at a time and each part is handed over as
it arrives: text parts as capped strings, file parts as a stream of chunks, so a file can go
straight into storage with its own limit. Memory stays at about one body chunk.

The one driver of python-multipart: the app's submission forms and the local backend's
direct-upload endpoint both read their bodies with it (it lives in storage, which the app
may import and which imports nothing of the app).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks


class FormReadError(Exception):
    """The body is not a well-formed form, or it ended early."""


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None

    @property
    def is_file(self) -> bool:
        return self.filename is not None


_BEGIN, _DATA, _END = 0, 1, 2


def boundary_of(content_type: str | None) -> bytes:
    media_type, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary or len(boundary) > 200:
        raise FormReadError("expected a multipart/form-data body")
    return boundary


class MultipartReader:
    """``async for part in reader``; then ``read_text(limit)``, ``chunks()`` or ``skip()``.

    A part not consumed is skipped when the next one is asked for. A body that stops before
    the closing boundary raises FormReadError, never a short file.
    """

    def __init__(self, boundary: bytes, body: AsyncIterator[bytes], *, max_parts: int) -> None:
        self._body = body
        self._max_parts = max_parts
        self._events: deque[tuple[int, bytes | Part | None]] = deque()
        self._parts = 0
        self._ended = False
        self._complete = False
        self._in_part = False
        self.received = 0
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._on_part_begin,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_end": self._on_end,
        }
        try:
            self._parser = MultipartParser(boundary, callbacks)
        except FormParserError as exc:
            raise FormReadError("invalid multipart boundary") from exc

    # -- parser callbacks (synchronous, from inside parser.write) --

    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > self._max_parts:
            raise FormReadError("too many form parts")
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]
        if len(self._header_name) > 256:
            raise FormReadError("form part header too long")

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        if len(self._header_value) > 4096:
            raise FormReadError("form part header too long")

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        # Header bytes are kept as sent; browsers send UTF-8 names.
        raw = self._headers.get(b"content-disposition", b"").decode("latin-1")
        _, options = parse_options_header(raw)
        name = options.get(b"name")
        if name is None:
            raise FormReadError("form part without a name")
        filename = options.get(b"filename")
        content_type = self._headers.get(b"content-type")
        self._events.append(
            (
                _BEGIN,
                Part(
                    name=name.decode("utf-8", "replace"),
                    filename=None if filename is None else filename.decode("utf-8", "replace"),
                    content_type=None if content_type is None else content_type.decode("latin-1"),
                ),
            )
        )

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if start < end:
            self._events.append((_DATA, data[start:end]))

    def _on_part_end(self) -> None:
        self._events.append((_END, None))

    def _on_end(self) -> None:
        self._complete = True

    # -- driving the parser --

    async def _feed(self) -> None:
        """Parse one more body chunk; a body that ends before the closing boundary is an error."""
        if self._ended:
            raise FormReadError("body ended before the form did")
        try:
            chunk = await anext(self._body)
        except StopAsyncIteration:
            self._ended = True
            if not self._complete:
                raise FormReadError("body ended before the form did") from None
            return
        except ClientDisconnect:
            self._ended = True
            raise FormReadError("the client went away") from None
        self.received += len(chunk)
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise FormReadError("malformed multipart body") from exc

    async def _next_event(self) -> tuple[int, bytes | Part | None] | None:
        while not self._events:
            if self._complete:
                return None
            await self._feed()
        return self._events.popleft()

    def __aiter__(self) -> MultipartReader:
        return self

    async def __anext__(self) -> Part:
        while True:
            event = await self._next_event()
            if event is None:
                raise StopAsyncIteration
            kind, value = event
            if kind == _BEGIN:
                assert isinstance(value, Part)
                self._in_part = True
                return value
            if kind == _END:
                self._in_part = False
            # Data of a part nobody read is dropped here.

    async def chunks(self) -> AsyncIterator[bytes]:
        """The current part's bytes, as they arrive."""
        while self._in_part:
            event = await self._next_event()
            if event is None:
                raise FormReadError("body ended inside a part")
            kind, value = event
            if kind == _DATA:
                assert isinstance(value, bytes)
                yield value
            elif kind == _END:
                self._in_part = False
            else:
                raise FormReadError("a part began inside another")

    async def read_text(self, limit: int) -> str:
        """The current part as UTF-8 text of at most ``limit`` bytes."""
        data = bytearray()
        async for chunk in self.chunks():
            data += chunk
            if len(data) > limit:
                raise FormReadError("form field too large")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormReadError("form field is not UTF-8") from exc

    async def skip(self) -> None:
        async for _chunk in self.chunks():
            pass

    async def drain(self, limit: int) -> None:
        """Discard up to ``limit`` more body bytes so that the client reads our answer."""
        drained = 0
        while not self._ended and drained <= limit:
            try:
                chunk = await anext(self._body)
            except StopAsyncIteration:
                self._ended = True
                return
            except Exception:  # the client went away, or the body passed its cap: stop here
                self._ended = True
                return
            drained += len(chunk)
