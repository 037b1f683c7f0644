"""Cleaning a file as its bytes pass: the driver every box- or chunk-based cleaner shares.

A ``StreamCleaner`` decides, header by header, which bytes pass as they are and which become
zeros; ``clean_file`` runs one over a seekable file, seeking past the media, and
``scrub_file`` runs any scrubber twice only when a dry first pass finds something to clean.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from contest.files.limits import COPY_CHUNK, MAX_HEADERS

if TYPE_CHECKING:
    from typing_extensions import Buffer

# A scrubber cleans a seekable source into a target and says whether anything changed.
Scrub = Callable[[IO[bytes], IO[bytes]], bool]

# What a stream cleaner is reading: a header, bytes kept as they are, bytes turned to zeros.
HEADER, KEEP, ZERO = 0, 1, 2


class Discard(io.BytesIO):
    """A target that keeps nothing: a first pass only learns whether anything would change."""

    def write(self, data: Buffer, /) -> int:
        return memoryview(data).nbytes


def skip_bytes(source: IO[bytes], length: int | None) -> int:
    """Seek past ``length`` bytes (all that is left when None); how many there were."""
    here = source.tell()
    left = source.seek(0, io.SEEK_END) - here
    moved = left if length is None else max(0, min(length, left))
    source.seek(here + moved)
    return moved


def copy_bytes(source: IO[bytes], target: IO[bytes], length: int | None) -> int:
    """Copy ``length`` bytes (all that is left when None), only skipping them for a dry pass;
    how many there were."""
    if isinstance(target, Discard):
        return skip_bytes(source, length)
    moved = 0
    while length is None or moved < length:
        chunk = source.read(COPY_CHUNK if length is None else min(COPY_CHUNK, length - moved))
        if not chunk:
            break
        target.write(chunk)
        moved += len(chunk)
    return moved


def write_zeros(target: IO[bytes], length: int) -> None:
    if isinstance(target, Discard):
        return
    block = bytes(min(COPY_CHUNK, length))
    while length > 0:
        target.write(block[: min(len(block), length)])
        length -= min(len(block), length)


class StreamCleaner:
    """Cleans a file as its bytes pass, box by box (or chunk by chunk), holding nothing back
    but the header being read (at most 16 bytes) and the ends of the boxes it is inside.

    ``feed`` takes the next bytes and returns the cleaned bytes that can go out now;
    ``close`` returns what was held back at the end (a header cut short goes out as it came).
    The output always has the input's length: tags are renamed to padding and zeroed, never
    cut out. ``changed`` says whether anything was cleaned.

    The same cleaner drives the scrubbers of seekable files (``clean_file``), which skip the
    media with seeks instead of reading it.
    """

    def __init__(self) -> None:
        self.changed = False
        self._at = 0  # offset of the next byte
        self._mode = HEADER
        self._want = 0  # header bytes wanted
        self._header = bytearray()
        self._until: int | None = None  # end of the running keep or zero run; None: the end
        self._headers = 0  # headers read so far
        self._begin()

    # -- what subclasses decide --

    def _begin(self) -> None:
        raise NotImplementedError

    def _on_header(self, header: bytes) -> bytes | None:
        """Decide what follows a complete header; the header bytes to send (None: read more)."""
        raise NotImplementedError

    def _run_ended(self) -> None:
        """A keep or zero run ended at ``self._at``: decide what comes next."""
        raise NotImplementedError

    # -- what they decide with --

    def _expect_header(self, length: int) -> None:
        self._mode, self._want = HEADER, length
        self._header.clear()

    def _read_more(self, header: bytes, length: int) -> None:
        self._mode, self._want = HEADER, length
        self._header[:] = header

    def _run(self, mode: int, until: int | None) -> None:
        self._mode, self._until = mode, until
        if until is not None and until <= self._at:
            self._run_ended()

    # -- feeding --

    def ahead(self) -> tuple[int, int | None]:
        """What comes next: (HEADER, bytes wanted), or (KEEP or ZERO, run length or None)."""
        if self._mode == HEADER:
            return HEADER, self._want - len(self._header)
        return self._mode, None if self._until is None else self._until - self._at

    def skip(self, length: int) -> None:
        """``length`` bytes of the running keep or zero run were passed on by the caller."""
        self._at += length
        if self._until is not None and self._at >= self._until:
            self._run_ended()

    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        view = memoryview(data)
        size = len(view)
        if self._mode == KEEP and (self._until is None or self._at + size < self._until):
            self._at += size  # the media, most of the time: goes out untouched, uncopied
            return bytes(view) if not isinstance(data, bytes) else data
        out: list[bytes | memoryview] = []
        done = 0
        while done < size:
            if self._mode == HEADER:
                take = min(size - done, self._want - len(self._header))
                self._header += view[done : done + take]
                done += take
                self._at += take
                if len(self._header) == self._want:
                    header = bytes(self._header)
                    self._header.clear()
                    self._headers += 1
                    if self._headers > MAX_HEADERS:
                        self._run(KEEP, None)
                        sent: bytes | None = header
                    else:
                        sent = self._on_header(header)
                    if sent is not None:
                        out.append(sent)
                continue
            take = size - done
            if self._until is not None:
                take = min(take, self._until - self._at)
            out.append(view[done : done + take] if self._mode == KEEP else bytes(take))
            done += take
            self.skip(take)
        return b"".join(out)

    def close(self) -> bytes:
        """The bytes held back at the end of the file, as they came."""
        held = bytes(self._header) if self._mode == HEADER else b""
        self._header.clear()
        return held


def pass_on(source: IO[bytes], target: IO[bytes], length: int | None, mode: int) -> int:
    """Pass ``length`` bytes (all that is left when None) from source to target as they are
    (KEEP) or as zeros (ZERO); how many there were. Zeros, and everything in a dry pass,
    cost a seek, not a read."""
    if mode == KEEP:
        return copy_bytes(source, target, length)
    moved = skip_bytes(source, length)
    write_zeros(target, moved)
    return moved


def clean_file(cleaner: StreamCleaner, source: IO[bytes], target: IO[bytes]) -> bool:
    """Run a stream cleaner over a seekable file, seeking past what it does not look at."""
    while True:
        mode, length = cleaner.ahead()
        if mode == HEADER:
            assert length is not None
            data = source.read(length)
            target.write(cleaner.feed(data))
            if len(data) < length:
                break
            continue
        moved = pass_on(source, target, length, mode)
        cleaner.skip(moved)
        if length is None or moved < length:
            break
    target.write(cleaner.close())
    return cleaner.changed


def scrub_file(
    scrub: Callable[[IO[bytes], IO[bytes]], bool], source: IO[bytes], target: IO[bytes]
) -> bool:
    """Clean ``source`` into ``target`` with ``scrub``; whether anything changed.

    A first pass writes nothing and skips the media with seeks, so a file without tags (most
    of them) costs a read of its headers, not a copy; ``target`` is written only when that
    pass finds something to clean."""
    if not scrub(source, Discard()):
        return False
    source.seek(0)
    return scrub(source, target)
