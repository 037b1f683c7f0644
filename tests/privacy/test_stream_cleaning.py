"""Recordings cleaned as they stream in: MP4, M4A, MOV and WAV lose their tags on the way to
storage, whatever way the bytes are cut into chunks, with the same result as cleaning the
whole file.

The files here are generated together with the cleaned file they must give (an oracle built
box by box, apart from the cleaner): tags at the top level, in the index and in its tracks,
64-bit box sizes, a last box running to the end of its parent or of the file, boxes that do
not fit their parent, a few stray bytes at the end.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from hypothesis import given, settings
from hypothesis import strategies as st

from contest.files.cleaners import StreamCleaner, scrub_file
from contest.files.cleaners.iso import IsoMediaCleaner, scrub_iso_media
from contest.files.cleaners.wav import WavCleaner, scrub_wav
from contest.files.limits import MAX_BOX_DEPTH, MAX_HEADERS

TAGS = (b"udta", b"meta", b"uuid")
PLAIN = (b"mdat", b"free", b"mvhd", b"tkhd", b"mdia", b"\xa9xyz", b"ilst")
CONTAINERS = (b"moov", b"trak")


@dataclass(frozen=True)
class Sample:
    data: bytes
    cleaned: bytes
    changed: bool


def _header(kind: bytes, payload_length: int, *, wide: bool, to_end: bool) -> bytes:
    if to_end:
        return struct.pack(">I", 0) + kind
    if wide:
        return struct.pack(">I", 1) + kind + struct.pack(">Q", 16 + payload_length)
    return struct.pack(">I", 8 + payload_length) + kind


@st.composite
def boxes(draw: st.DrawFn, *, depth: int, top: bool, last: bool) -> Sample:
    """One box. Tags are cleaned at every level; moov is looked into at the top, moov and
    trak inside it."""
    wide = draw(st.booleans())
    # A size of 0 means "to the end": of the file at the top (where nothing more is looked
    # at), of the parent inside one.
    to_end = last and draw(st.integers(0, 3)) == 0
    if depth > 0 and draw(st.booleans()):
        kind = draw(st.sampled_from(CONTAINERS))
        children = draw(box_lists(depth=depth - 1, top=False))
        header = _header(kind, len(children.data), wide=wide, to_end=to_end)
        if top and to_end:
            return Sample(header + children.data, header + children.data, False)
        if kind == b"moov" or not top:
            return Sample(header + children.data, header + children.cleaned, children.changed)
        return Sample(header + children.data, header + children.data, False)
    kind = draw(st.sampled_from(TAGS + PLAIN))
    payload = draw(st.binary(max_size=40))
    header = _header(kind, len(payload), wide=wide, to_end=to_end)
    data = header + payload
    if kind in TAGS and not (top and to_end):
        free = header[:4] + b"free" + header[8:]
        return Sample(data, free + bytes(len(payload)), True)
    return Sample(data, data, False)


@st.composite
def box_lists(draw: st.DrawFn, *, depth: int, top: bool = False) -> Sample:
    count = draw(st.integers(0, 4))
    samples = [draw(boxes(depth=depth, top=top, last=index == count - 1)) for index in range(count)]
    data = b"".join(sample.data for sample in samples)
    cleaned = b"".join(sample.cleaned for sample in samples)
    changed = any(sample.changed for sample in samples)
    ending = draw(st.sampled_from(["none", "stray", "misfit"]))
    if samples and samples[-1].data[:4] == bytes(4):
        ending = "none"  # the last box already runs to the end
    if ending == "stray":
        # Fewer than 8 bytes: no room for a box, kept as they are.
        stray = draw(st.binary(min_size=1, max_size=7))
        data, cleaned = data + stray, cleaned + stray
    elif ending == "misfit" and not top:
        # A tag box claiming more than its parent holds: the rest of the parent is kept.
        payload = draw(st.binary(max_size=20))
        misfit = struct.pack(">I", 8 + len(payload) + 1 + draw(st.integers(0, 1000)))
        misfit += draw(st.sampled_from(TAGS)) + payload
        data, cleaned = data + misfit, cleaned + misfit
    return Sample(data, cleaned, changed)


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(point, len(data)) for point in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return pieces


def _stream(cleaner: StreamCleaner, pieces: list[bytes]) -> bytes:
    out = b"".join(cleaner.feed(piece) for piece in pieces)
    return out + cleaner.close()


def _check(
    make: Callable[[], StreamCleaner],
    scrub: Callable[[IO[bytes], IO[bytes]], bool],
    sample: Sample,
    cuts: list[int],
) -> None:
    """Streamed in pieces, cleaned as a file, and by the dry pass then the real one: all give
    the expected file."""
    cleaner = make()
    assert _stream(cleaner, _cut(sample.data, cuts)) == sample.cleaned
    assert cleaner.changed is sample.changed

    out = io.BytesIO()
    assert scrub(io.BytesIO(sample.data), out) is sample.changed
    assert out.getvalue() == sample.cleaned

    dry = io.BytesIO()
    assert scrub_file(scrub, io.BytesIO(sample.data), dry) is sample.changed
    assert dry.getvalue() == (sample.cleaned if sample.changed else b"")


@settings(max_examples=300, deadline=None, database=None)
@given(sample=box_lists(depth=3, top=True), cuts=st.lists(st.integers(0, 400), max_size=12))
def test_iso_media_is_cleaned_alike_in_a_stream_and_in_a_file(
    sample: Sample, cuts: list[int]
) -> None:
    _check(IsoMediaCleaner, scrub_iso_media, sample, cuts)


@st.composite
def wav_files(draw: st.DrawFn) -> Sample:
    head = b"RIFF" + struct.pack("<I", 1000) + b"WAVE"
    data, cleaned, changed = head, head, False
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from([b"fmt ", b"data", b"LIST", b"id3 ", b"bext", b"JUNK"]))
        payload = draw(st.binary(max_size=30))
        pad = b"\x00" if len(payload) % 2 else b""
        chunk = kind + struct.pack("<I", len(payload))
        data += chunk + payload + pad
        if kind in (b"LIST", b"id3 ", b"bext"):
            cleaned += b"JUNK" + chunk[4:] + bytes(len(payload) + len(pad))
            changed = True
        else:
            cleaned += chunk + payload + pad
    stray = draw(st.binary(max_size=7))
    return Sample(data + stray, cleaned + stray, changed)


@settings(max_examples=200, deadline=None, database=None)
@given(sample=wav_files(), cuts=st.lists(st.integers(0, 300), max_size=10))
def test_wav_is_cleaned_alike_in_a_stream_and_in_a_file(sample: Sample, cuts: list[int]) -> None:
    _check(WavCleaner, scrub_wav, sample, cuts)


@settings(max_examples=200, deadline=None, database=None)
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=10))
def test_any_bytes_keep_their_length_and_clean_alike(data: bytes, cuts: list[int]) -> None:
    for make, scrub in (
        (IsoMediaCleaner, scrub_iso_media),
        (WavCleaner, scrub_wav),
    ):
        streamed = _stream(make(), _cut(data, cuts))
        out = io.BytesIO()
        scrub(io.BytesIO(data), out)
        assert len(streamed) == len(data)
        assert streamed == out.getvalue()


def test_media_chunks_go_through_uncopied() -> None:
    cleaner = IsoMediaCleaner()
    head = struct.pack(">I", 8 + 3 * 65536) + b"mdat"
    assert cleaner.feed(head) == head
    chunk = bytes(65536)
    assert cleaner.feed(chunk) is chunk


def test_a_tag_box_cut_short_by_the_end_of_the_file_is_zeroed_not_lengthened() -> None:
    # Before, the cleaned file got the whole declared length of zeros.
    data = struct.pack(">I", 1000) + b"udta" + b"Nguyen Van An"
    out = io.BytesIO()
    assert scrub_iso_media(io.BytesIO(data), out) is True
    assert out.getvalue() == struct.pack(">I", 1000) + b"free" + bytes(13)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _nested(kind: bytes, depth: int, inner: bytes) -> bytes:
    for _ in range(depth):
        inner = _box(kind, inner)
    return inner


def test_deep_nesting_costs_bounded_memory() -> None:
    # 400,000 moov boxes, each inside the one before: 3.2 MB that once kept one open end per
    # level (16 MB of state). Now the cleaner looks MAX_BOX_DEPTH deep and keeps the rest.
    count = 400_000
    data = b"".join(struct.pack(">I", 8 * (count - level)) + b"moov" for level in range(count))
    view = memoryview(data)
    cleaner = IsoMediaCleaner()
    tracemalloc.start()
    try:
        length = sum(len(cleaner.feed(view[at : at + 65536])) for at in range(0, len(data), 65536))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert length + len(cleaner.close()) == len(data)
    assert peak < 1024 * 1024

    # Tags a phone writes (moov/trak/udta) are well within the depth looked at.
    tag = _box(b"udta", b"Nguyen Van An")
    shallow = _nested(b"moov", 1, _nested(b"trak", 2, tag))
    out = io.BytesIO()
    assert scrub_iso_media(io.BytesIO(shallow), out) is True
    assert b"Nguyen" not in out.getvalue()
    deep = _nested(b"moov", MAX_BOX_DEPTH + 1, tag)
    out = io.BytesIO()
    assert scrub_iso_media(io.BytesIO(deep), out) is False
    assert out.getvalue() == deep


def test_headers_are_read_only_so_far() -> None:
    tag = _box(b"udta", b"Nguyen Van An")
    # A fragmented recording: a moof and an mdat box per fragment, then its tags.
    fragments = (_box(b"moof", bytes(16)) + _box(b"mdat", bytes(32))) * 5_000
    out = io.BytesIO()
    assert scrub_iso_media(io.BytesIO(fragments + tag), out) is True
    assert b"Nguyen" not in out.getvalue()
    # Past MAX_HEADERS boxes the rest is kept as it is: the work a file can cause is bounded.
    padding = _box(b"free", b"") * (MAX_HEADERS + 1)
    out = io.BytesIO()
    assert scrub_iso_media(io.BytesIO(padding + tag), out) is False
    assert out.getvalue() == padding + tag
