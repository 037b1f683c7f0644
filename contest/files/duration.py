"""How long a video is, read from its container as its bytes pass.

MP4 and MOV state it in the movie header (``moov`` > ``mvhd``, or for a fragmented file
``moov`` > ``mvex`` > ``mehd``); WebM in its segment's information (``Segment`` > ``Info`` >
``Duration``, in units of ``TimecodeScale``). A reader is fed the file's chunks in order, as
they stream into storage, keeps only the few header bytes it needs and skips the media by
counting, so a long video costs no memory; it stops looking once it has its answer. A file
whose length cannot be found this way (no movie header, a WebM recorded without a
``Duration``, a damaged header) has none: the caller refuses it, clearly.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from contest.files.limits import MAX_BOX_DEPTH, MAX_HEADERS

# A movie header is about 100 bytes; one larger than this is not one.
_MAX_HEADER_BOX = 1024
# Matroska element IDs, with their length marker, as they are written.
_EBML = 0x1A45DFA3
_SEGMENT = 0x18538067
_INFO = 0x1549A966
_TIMECODE_SCALE = 0x2AD7B1
_DURATION = 0x4489
_CLUSTER = 0x1F43B675
_DEFAULT_TIMECODE_SCALE = 1_000_000  # nanoseconds per unit: milliseconds


class DurationReader:
    """Fed a file's bytes in order; ``seconds`` once ``done`` (None: no length found).

    The subclasses parse; this keeps the bytes not yet parsed (``_buffer``, starting at
    absolute offset ``_at``) and drops those up to ``_skip_to`` without keeping them."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._at = 0
        self._skip_to = 0
        self._headers = 0
        # The boxes or elements being looked into, innermost last: (type or ID, absolute end,
        # None when it runs to the end of the file or of its parent).
        self._parents: list[tuple[object, int | None]] = []
        self.done = False
        self.seconds: float | None = None

    def feed(self, chunk: bytes) -> None:
        if self.done:
            return
        view = memoryview(chunk)
        if self._skip_to > self._at and not self._buffer:
            dropped = min(len(view), self._skip_to - self._at)
            view = view[dropped:]
            self._at += dropped
        if not view:
            return
        self._buffer += view
        while not self.done:
            if self._skip_to > self._at:
                dropped = min(len(self._buffer), self._skip_to - self._at)
                del self._buffer[:dropped]
                self._at += dropped
                if self._skip_to > self._at:
                    return
            if not self._step():
                return

    def finish(self) -> float | None:
        """The length found, once every byte was fed (or the reader stopped early)."""
        if not self.done:
            self._end_of_file()
            self.done = True
        self._buffer.clear()
        return self.seconds

    def _take(self, length: int) -> bytes | None:
        """The next ``length`` bytes, consumed, or None until that many have arrived."""
        if len(self._buffer) < length:
            return None
        taken = bytes(self._buffer[:length])
        del self._buffer[:length]
        self._at += length
        return taken

    def _peek(self, length: int) -> bytes | None:
        return bytes(self._buffer[:length]) if len(self._buffer) >= length else None

    def _left(self, final: object) -> bool:
        """Leave the parents that end here; True when ``final`` (the one holding the answer)
        was among them."""
        while self._parents:
            parent, end = self._parents[-1]
            if end is None or self._at < end:
                return False
            self._parents.pop()
            if parent == final:
                return True
        return False

    def _counted(self) -> bool:
        """One more header looked at; past MAX_HEADERS a hostile file gets no more work."""
        self._headers += 1
        if self._headers > MAX_HEADERS:
            self._stop(None)
            return False
        return True

    def _stop(self, seconds: float | None) -> None:
        self.seconds = seconds if seconds is None or seconds >= 0 else None
        self.done = True
        self._buffer.clear()

    def _step(self) -> bool:
        """Parse what the buffer allows; False while more bytes are needed."""
        raise NotImplementedError

    def _end_of_file(self) -> None:
        self.seconds = None


class IsoMediaDuration(DurationReader):
    """MP4, MOV: the movie header's duration over its timescale; a fragmented file's
    ``mehd`` when the movie header says 0."""

    def __init__(self) -> None:
        super().__init__()
        self._timescale = 0
        self._duration = 0
        self._fragments = 0

    def _step(self) -> bool:
        if self._left(b"moov"):
            self._stop(self._result())
            return False
        header = self._peek(8)
        if header is None:
            return False
        size, kind = struct.unpack(">I4s", header)
        length = 8
        if size == 1:
            large = self._peek(16)
            if large is None:
                return False
            (size,) = struct.unpack_from(">Q", large, 8)
            length = 16
        if not self._counted():
            return False
        parent_end = self._parents[-1][1] if self._parents else None
        end: int | None = self._at + size
        if size == 0:
            end = parent_end
        elif size < length or (parent_end is not None and self._at + size > parent_end):
            self._stop(self._result() if self._in_moov() else None)
            return False
        inside = [k for k, _e in self._parents]
        if (kind == b"moov" and not inside) or (kind == b"mvex" and inside == [b"moov"]):
            if len(self._parents) >= MAX_BOX_DEPTH:
                self._stop(None)
                return False
            self._take(length)
            self._parents.append((kind, end))
            return True
        if (kind == b"mvhd" and inside == [b"moov"]) or (
            kind == b"mehd" and inside == [b"moov", b"mvex"]
        ):
            if end is None or size > _MAX_HEADER_BOX:
                self._stop(None)
                return False
            box = self._take(size)
            if box is None:
                return False
            self._read_header(kind, box[length:])
            return True
        if end is None:  # the rest of the file, or of the parent, is this box
            self._stop(self._result() if self._in_moov() else None)
            return False
        self._take(length)
        self._skip_to = end
        return True

    def _in_moov(self) -> bool:
        return any(kind == b"moov" for kind, _end in self._parents)

    def _read_header(self, kind: bytes, body: bytes) -> None:
        version = body[0] if body else -1
        try:
            if kind == b"mvhd" and version == 0:
                self._timescale, self._duration = struct.unpack_from(">II", body, 12)
                if self._duration == 0xFFFFFFFF:  # "unknown"
                    self._duration = 0
            elif kind == b"mvhd" and version == 1:
                self._timescale, self._duration = struct.unpack_from(">IQ", body, 20)
                if self._duration == 0xFFFFFFFFFFFFFFFF:
                    self._duration = 0
            elif kind == b"mehd" and version in (0, 1):
                (self._fragments,) = struct.unpack_from(">I" if version == 0 else ">Q", body, 4)
        except struct.error:
            pass  # too short: the length stays unknown

    def _result(self) -> float | None:
        units = self._duration or self._fragments
        if not self._timescale or not units:
            return None
        return units / self._timescale

    def _end_of_file(self) -> None:
        self.seconds = self._result() if self._in_moov() else None


def _vint(data: bytes, *, keep_marker: bool) -> tuple[int, int] | None:
    """A Matroska variable-length integer at the start of data: (value, length), None when
    data is too short; (-1, length) for a size of all ones ("unknown")."""
    if not data:
        return None
    first = data[0]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        return (-2, 1)  # no marker: not an element
    if len(data) < length:
        return None
    value = int.from_bytes(data[:length], "big")
    if keep_marker:
        return value, length
    value &= (1 << (7 * length)) - 1
    return (-1 if value == (1 << (7 * length)) - 1 else value), length


class MatroskaDuration(DurationReader):
    """WebM: ``Segment`` > ``Info`` > ``Duration`` × ``TimecodeScale`` nanoseconds."""

    def __init__(self) -> None:
        super().__init__()
        self._scale = _DEFAULT_TIMECODE_SCALE
        self._duration: float | None = None

    def _step(self) -> bool:
        if self._left(_INFO):
            self._stop(self._result())
            return False
        head = self._peek(12)
        if head is None:
            head = bytes(self._buffer)
        found = _vint(head, keep_marker=True)
        if found is None:
            return False
        element, id_length = found
        sized = _vint(head[id_length:], keep_marker=False) if element >= 0 else (-2, 0)
        if sized is None:
            return False
        size, size_length = sized
        if element < 0 or size == -2 or not self._counted():
            self._stop(None)
            return False
        length = id_length + size_length
        end = None if size == -1 else self._at + length + size
        inside = [e for e, _end in self._parents]
        if element in (_SEGMENT, _INFO) and inside == ([] if element == _SEGMENT else [_SEGMENT]):
            if element == _INFO and end is None:
                self._stop(None)
                return False
            self._take(length)
            self._parents.append((element, end))
            return True
        if inside == [_SEGMENT, _INFO] and element in (_TIMECODE_SCALE, _DURATION):
            if end is None or size > 8:
                self._stop(None)
                return False
            data = self._take(length + size)
            if data is None:
                return False
            self._read_value(element, data[length:])
            return True
        if element == _CLUSTER or end is None:
            # The media has begun (or an element of unknown size hides what follows) before
            # the segment's information was found.
            self._stop(None)
            return False
        self._take(length)
        self._skip_to = end
        return True

    def _read_value(self, element: int, value: bytes) -> None:
        if element == _TIMECODE_SCALE:
            self._scale = int.from_bytes(value, "big") if value else 0
        elif len(value) == 4:
            (self._duration,) = struct.unpack(">f", value)
        elif len(value) == 8:
            (self._duration,) = struct.unpack(">d", value)

    def _result(self) -> float | None:
        duration = self._duration
        if duration is None or not self._scale or not duration > 0 or duration == float("inf"):
            return None
        return duration * self._scale / 1e9

    def _end_of_file(self) -> None:
        self.seconds = self._result() if _INFO in [e for e, _end in self._parents] else None


def read_duration(reader: DurationReader, chunks: Iterable[bytes]) -> float | None:
    """The length of a whole file given as chunks (a test's, or a copy's)."""
    for chunk in chunks:
        reader.feed(chunk)
        if reader.done:
            break
    return reader.finish()
