"""A video's length read from its container as its bytes pass, whatever the chunks' sizes,
and None (never an exception) for a file whose length cannot be found."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from contest.files.duration import (
    DurationReader,
    IsoMediaDuration,
    MatroskaDuration,
    read_duration,
)
from contest.files.kinds import FILE_KINDS
from tests.intake.files import mp4, pdf, video_mp4, video_webm


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


CHUNK_SIZES = [1, 3, 8, 13, 1 << 20]


@pytest.mark.parametrize("size", CHUNK_SIZES)
@pytest.mark.parametrize(
    ("data", "seconds"),
    [
        (video_mp4(300), 300.0),
        (video_mp4(312.5, moov_at_end=True), 312.5),
        (video_mp4(61, version=1, timescale=90_000), 61.0),
        (video_mp4(90, fragmented=True), 90.0),
        (video_mp4(45, brand=b"qt  "), 45.0),
        (video_mp4(7200.5, moov_at_end=True, media_bytes=4096), 7200.5),
    ],
)
def test_an_mp4_or_mov_gives_its_movie_header_length(
    data: bytes, seconds: float, size: int
) -> None:
    assert read_duration(IsoMediaDuration(), chunked(data, size)) == pytest.approx(seconds)


@pytest.mark.parametrize("size", CHUNK_SIZES)
@pytest.mark.parametrize(
    ("data", "seconds"),
    [
        (video_webm(300), 300.0),
        (video_webm(7.25, scale=1000), 7.25),
        (video_webm(599.9), 599.9),
    ],
)
def test_a_webm_gives_its_segment_duration(data: bytes, seconds: float, size: int) -> None:
    assert read_duration(MatroskaDuration(), chunked(data, size)) == pytest.approx(seconds)


def test_the_reader_stops_at_the_index_and_keeps_no_media() -> None:
    """A movie header before the media: the answer comes before the media is seen."""
    data = video_mp4(300, media_bytes=1_000_000)
    reader = IsoMediaDuration()
    header_end = data.index(b"mdat") - 4
    reader.feed(data[:header_end])
    assert reader.done and reader.seconds == pytest.approx(300)
    # Media after the index passes without being kept.
    late = IsoMediaDuration()
    data = video_mp4(300, moov_at_end=True, media_bytes=1_000_000)
    for chunk in chunked(data, 64 * 1024):
        late.feed(chunk)
        assert len(late._buffer) <= 64 * 1024
    assert late.finish() == pytest.approx(300)


def _iso_box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


@pytest.mark.parametrize(
    ("make", "data"),
    [
        (IsoMediaDuration, mp4()),  # no movie header at all
        (IsoMediaDuration, video_mp4(0)),  # a movie header that says 0
        (IsoMediaDuration, video_mp4(30, timescale=600)[:40]),  # cut inside the index
        (IsoMediaDuration, mp4()[:24] + _iso_box(b"moov", _iso_box(b"mvhd", b"\x00" * 6))),
        (IsoMediaDuration, mp4()[:24] + _iso_box(b"moov", b"\x00\x00\x00\x03abcd")),
        # A movie header of an unknown version, and one absurdly large.
        (IsoMediaDuration, mp4()[:24] + _iso_box(b"moov", _iso_box(b"mvhd", b"\x07" * 100))),
        (IsoMediaDuration, mp4()[:24] + _iso_box(b"moov", _iso_box(b"mvhd", b"\x00" * 5000))),
        (IsoMediaDuration, pdf()),
        (IsoMediaDuration, b""),
        (MatroskaDuration, video_webm(None)),  # recorded without a Duration
        (MatroskaDuration, video_webm(30)[:30]),  # cut inside the header
        (MatroskaDuration, b"\x1a\x45\xdf\xa3\x00" + b"\x00" * 50),  # a size without a marker
        (MatroskaDuration, video_webm(30).replace(b"\x00\x0f\x42\x40", b"\x00" * 4, 1)),  # scale 0
        (MatroskaDuration, pdf()),
    ],
)  # fmt: skip
def test_a_length_that_cannot_be_found_is_none(
    make: Callable[[], DurationReader], data: bytes
) -> None:
    for size in (1, 7, 1 << 20):
        assert read_duration(make(), chunked(data, size)) is None


def test_a_hostile_file_of_endless_boxes_costs_bounded_work() -> None:
    data = mp4()[:24] + _iso_box(b"free", b"") * 200_000
    reader = IsoMediaDuration()
    reader.feed(data)
    assert reader.done and reader.finish() is None


def test_every_video_kind_has_a_reader_of_its_length() -> None:
    videos = [k for k in FILE_KINDS.values() if k.group == "video"]
    assert {k.name for k in videos} == {"mp4", "webm", "mov"}
    assert all(k.duration is not None for k in videos)
    assert read_duration(FILE_KINDS["mov"].duration(), [video_mp4(12, brand=b"qt  ")]) == 12  # type: ignore[misc]
