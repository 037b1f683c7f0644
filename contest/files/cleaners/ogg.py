"""Ogg (Vorbis, Opus, Speex, Theora, FLAC): comment headers blanked length for length, their
pages given a new CRC."""

from __future__ import annotations

import struct
from typing import IO

from contest.files.cleaners.stream import copy_bytes
from contest.files.limits import MAX_OGG_HEADER_BYTES

# A logical stream's first packet names its codec, and its second packet is the comment header:
# (first packet's magic, comment packet's magic, whether a framing byte ends the comments).
_OGG_CODECS: tuple[tuple[bytes, bytes, bool], ...] = (
    (b"\x01vorbis", b"\x03vorbis", True),
    (b"OpusHead", b"OpusTags", False),
    (b"\x80theora", b"\x81theora", False),
    (b"Speex   ", b"", False),
)
# Ogg FLAC: every header packet after the first is one metadata block.
_OGG_FLAC = b"\x7fFLAC"
_FLAC_PADDING, _FLAC_COMMENT, _FLAC_PICTURE = 1, 4, 6


def _ogg_crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = (crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_OGG_CRC_TABLE = _ogg_crc_table()


def ogg_crc(page: bytes | bytearray) -> int:
    """The CRC of an Ogg page (polynomial 0x04C11DB7, not reflected, starting from 0), computed
    with the page's own CRC field read as zeros."""
    crc = 0
    for index, byte in enumerate(page):
        if 22 <= index < 26:
            byte = 0
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC_TABLE[(crc >> 24) ^ byte]
    return crc


class _OggPage:
    __slots__ = ("data", "dirty")

    def __init__(self, data: bytearray) -> None:
        self.data = data
        self.dirty = False


class _OggStream:
    """One logical stream while its headers are read: the packets seen so far, the pieces of
    the packet being read, and what the codec's comment header looks like."""

    __slots__ = ("codec", "done", "flac_headers", "packets", "pieces")

    def __init__(self) -> None:
        self.packets = 0
        self.pieces: list[tuple[_OggPage, int, int]] = []
        self.codec: tuple[bytes, bytes, bool] | None = None
        self.flac_headers: int | None = None
        self.done = False


def _read_ogg_page(source: IO[bytes]) -> bytearray | bytes:
    """The next whole page (a bytearray), or the bytes read when they are not one (bytes)."""
    head = source.read(27)
    if len(head) < 27 or head[:4] != b"OggS" or head[4] != 0:
        return head
    lacing = source.read(head[26])
    if len(lacing) < head[26]:
        return head + lacing
    body = source.read(sum(lacing))
    if len(body) < sum(lacing):
        return head + lacing + body
    return bytearray(head + lacing + body)


def _neutral_comment(length: int) -> bytes:
    """A comment of ``length`` bytes that says nothing: 'X=' and spaces."""
    if length < 2:
        return b"X" * length
    return b"X=" + b" " * (length - 2)


def _blank_vorbis_comment(packet: bytearray, at: int, framing: bool) -> None:
    """Blank a Vorbis comment structure from ``at``, in place and length for length: the
    vendor string becomes spaces, each comment 'X=' and spaces, anything after them zeros (a
    Vorbis header keeps its framing byte)."""
    end = len(packet)

    def length(at: int) -> int | None:
        return struct.unpack_from("<I", packet, at)[0] if at + 4 <= end else None

    vendor = length(at)
    if vendor is None or at + 4 + vendor > end:
        packet[at:] = bytes(end - at)
        return
    packet[at + 4 : at + 4 + vendor] = b" " * vendor
    at += 4 + vendor
    count = length(at)
    if count is None:
        packet[at:] = bytes(end - at)
        return
    at += 4
    for _ in range(count):
        size = length(at)
        if size is None or at + 4 + size > end:
            packet[at:] = bytes(end - at)
            return
        packet[at + 4 : at + 4 + size] = _neutral_comment(size)
        at += 4 + size
    if framing and at < end:
        at += 1
    packet[at:] = bytes(end - at)


def _ogg_header_packet(stream: _OggStream, index: int, packet: bytearray) -> None:
    """Clean one header packet in place (the first one only names the codec) and note when the
    stream's headers are over."""
    if index == 0:
        stream.codec = next((c for c in _OGG_CODECS if packet.startswith(c[0])), None)
        if packet.startswith(_OGG_FLAC) and len(packet) >= 9:
            stream.flac_headers = int.from_bytes(packet[7:9], "big") or None
        elif stream.codec is None:
            stream.done = True  # a codec without comments we know of
        return
    if stream.codec is not None:
        _, magic, framing = stream.codec
        if packet.startswith(magic):
            _blank_vorbis_comment(packet, len(magic), framing)
        stream.done = True
        return
    # Ogg FLAC: a metadata block per packet, the last one flagged.
    if not packet or packet[0] == 0xFF or packet[0] & 0x7F == 127:
        stream.done = True
        return
    kind = packet[0] & 0x7F
    if kind == _FLAC_COMMENT:
        _blank_vorbis_comment(packet, 4, False)
    elif kind == _FLAC_PICTURE:
        # A cover picture (a photo, perhaps) becomes padding of the same length.
        packet[0] = (packet[0] & 0x80) | _FLAC_PADDING
        packet[4:] = bytes(len(packet) - 4)
    if packet[0] & 0x80 or (stream.flac_headers is not None and index >= stream.flac_headers):
        stream.done = True


def _ogg_packet_done(stream: _OggStream) -> None:
    pieces, stream.pieces = stream.pieces, []
    index = stream.packets
    stream.packets += 1
    packet = bytearray(b"".join(page.data[start:end] for page, start, end in pieces))
    _ogg_header_packet(stream, index, packet)
    offset = 0
    for page, start, end in pieces:
        clean = packet[offset : offset + end - start]
        if page.data[start:end] != clean:
            page.data[start:end] = clean
            page.dirty = True
        offset += end - start


def _ogg_page_packets(stream: _OggStream, page: _OggPage) -> None:
    """Follow a header page's packets (a packet may span pages) until the headers are over."""
    data = page.data
    segments = data[26]
    continued = bool(data[5] & 0x01)
    # A page that does not continue the packet being read drops it; a continuation of a
    # packet never seen is skipped.
    if not continued:
        stream.pieces = []
    skipping = continued and not stream.pieces
    start = at = 27 + segments
    for value in data[27 : 27 + segments]:
        at += value
        if value < 255:
            if skipping:
                skipping = False
            else:
                stream.pieces.append((page, start, at))
                _ogg_packet_done(stream)
                if stream.done:
                    return
            start = at
    if at > start and not skipping:
        stream.pieces.append((page, start, at))


def _flush_ogg(pages: list[_OggPage], target: IO[bytes]) -> bool:
    changed = False
    for page in pages:
        if page.dirty:
            page.data[22:26] = struct.pack("<I", ogg_crc(page.data))
            changed = True
        target.write(page.data)
    pages.clear()
    return changed


def scrub_ogg(source: IO[bytes], target: IO[bytes]) -> bool:
    """OGG (Vorbis, Opus, Speex, Theora, FLAC): every comment header is blanked in place, its
    length kept, and the pages it lies on get their CRC again; no page moves, the sound is
    copied as it is. A chained file's every link is cleaned."""
    streams: dict[int, _OggStream] = {}
    pending: list[_OggPage] = []
    held = 0
    changed = False
    while True:
        read = _read_ogg_page(source)
        if not isinstance(read, bytearray):
            changed |= _flush_ogg(pending, target)
            target.write(read)
            copy_bytes(source, target, None)
            return changed
        page = _OggPage(read)
        serial = struct.unpack_from("<I", read, 14)[0]
        if read[5] & 0x02:  # the first page of a logical stream
            streams[serial] = _OggStream()
        stream = streams.get(serial)
        if stream is not None and not stream.done:
            _ogg_page_packets(stream, page)
        pending.append(page)
        held += len(read)
        if held > MAX_OGG_HEADER_BYTES:
            for reading in streams.values():
                reading.done = True
                reading.pieces = []
        if all(reading.done for reading in streams.values()):
            changed |= _flush_ogg(pending, target)
            held = 0
