"""WebM and Matroska: tags and attachments become Voids, titles and names are blanked."""

from __future__ import annotations

import struct
import zlib
from typing import IO

from contest.files.cleaners.stream import copy_bytes, write_zeros
from contest.files.limits import MAX_MKV_HEADER_BYTES

_EBML_VOID = 0xEC
_EBML_CRC32 = 0xBF
_MKV_SEGMENT = 0x18538067
_MKV_CLUSTER = 0x1F43B675
_MKV_SEEK_HEAD, _MKV_SEEK, _MKV_SEEK_ID = 0x114D9B74, 0x4DBB, 0x53AB
_MKV_INFO = 0x1549A966
_MKV_TRACKS, _MKV_TRACK_ENTRY = 0x1654AE6B, 0xAE
# Segment children that are only tags, or attached files (cover pictures): become Voids.
_MKV_VOIDED = frozenset({0x1254C367, 0x1941A469})
# Children of Info and of a track: the title becomes a Void; the muxing and writing
# applications (mandatory) and a track's name become spaces.
_MKV_VOIDED_FIELDS = frozenset({0x7BA9})
_MKV_BLANKED_FIELDS = frozenset({0x4D80, 0x5741, 0x536E})
# Segment children read whole to be cleaned; larger ones are left as they are.
_MKV_CLEANED = frozenset({_MKV_SEEK_HEAD, _MKV_INFO, _MKV_TRACKS})


def _vint_width(first: int) -> int | None:
    for width in range(1, 9):
        if first & (0x80 >> (width - 1)):
            return width
    return None


def ebml_element(data: bytes | bytearray, at: int, end: int) -> tuple[int, int | None, int] | None:
    """(ID, size or None when unknown, header length) of the EBML element at ``at``, or None
    when no element starts there."""
    if at >= end:
        return None
    id_width = _vint_width(data[at])
    if id_width is None or id_width > 4 or at + id_width >= end:
        return None
    size_width = _vint_width(data[at + id_width])
    header = id_width + (size_width or 0)
    if size_width is None or at + header > end:
        return None
    ident = int.from_bytes(data[at : at + id_width], "big")
    size = int.from_bytes(data[at + id_width : at + header], "big") & ((1 << (7 * size_width)) - 1)
    return ident, None if size == (1 << (7 * size_width)) - 1 else size, header


def _void_header(total: int) -> bytes:
    """The header of a Void element ``total`` bytes long (at least 2), zeros to follow."""
    width = min(8, total - 1)
    return bytes([_EBML_VOID]) + ((1 << (7 * width)) | (total - 1 - width)).to_bytes(width, "big")


def _void(data: bytearray, start: int, stop: int) -> bool:
    clean = _void_header(stop - start) + bytes(stop - start - len(_void_header(stop - start)))
    if data[start:stop] == clean:
        return False
    data[start:stop] = clean
    return True


def _clean_ebml_master(data: bytearray, start: int, end: int) -> bool:
    """Clean the children of a master element in [start, end), in place and byte for byte;
    a CRC-32 child in front is made right again."""
    changed = False
    crc_at = None
    at = start
    while (found := ebml_element(data, at, end)) is not None:
        ident, size, header = found
        if size is None or at + header + size > end:
            break
        stop = at + header + size
        if ident == _EBML_CRC32 and at == start and size == 4:
            crc_at = at + header
        elif ident in _MKV_VOIDED_FIELDS:
            changed |= _void(data, at, stop)
        elif ident in _MKV_BLANKED_FIELDS:
            if data[at + header : stop] != b" " * size:
                data[at + header : stop] = b" " * size
                changed = True
        elif ident == _MKV_SEEK:
            # An index entry pointing at the tags that are gone points at nothing.
            entry = ebml_element(data, at + header, stop)
            if entry is not None and entry[0] == _MKV_SEEK_ID and entry[1] is not None:
                target = data[at + header + entry[2] : at + header + entry[2] + entry[1]]
                if int.from_bytes(target, "big") in _MKV_VOIDED:
                    changed |= _void(data, at, stop)
        elif ident == _MKV_TRACK_ENTRY:
            changed |= _clean_ebml_master(data, at + header, stop)
        at = stop
    if changed and crc_at is not None:
        data[crc_at : crc_at + 4] = struct.pack("<I", zlib.crc32(data[crc_at + 4 : end]))
    return changed


def _read_ebml_head(source: IO[bytes]) -> tuple[bytes, int, int | None] | bytes:
    """(header bytes, ID, size or None when unknown) of the next element, or the bytes read
    when no element starts there."""
    head = source.read(1)
    id_width = _vint_width(head[0]) if head else None
    if id_width is None or id_width > 4:
        return head
    head += source.read(id_width)
    if len(head) < id_width + 1 or (size_width := _vint_width(head[-1])) is None:
        return head
    head += source.read(size_width - 1)
    found = ebml_element(head, 0, len(head))
    if found is None or found[2] != len(head):
        return head
    return head, found[0], found[1]


def scrub_matroska(source: IO[bytes], target: IO[bytes]) -> bool:
    """WebM and Matroska: tags and attachments become Void elements of the same length, the
    title goes and the applications' names and tracks' names become spaces; no element moves,
    so the seek index and cues stay right, and clusters are copied as they are.

    The walk is flat: the segment and a cluster of unknown size are entered, every other
    element is handled whole, so tags after the clusters are reached too."""
    changed = False
    while True:
        read = _read_ebml_head(source)
        if isinstance(read, bytes):
            target.write(read)
            copy_bytes(source, target, None)
            return changed
        head, ident, size = read
        if ident == _MKV_SEGMENT or (ident == _MKV_CLUSTER and size is None):
            target.write(head)
        elif size is None:
            target.write(head)
            copy_bytes(source, target, None)
            return changed
        elif ident in _MKV_VOIDED:
            void = _void_header(len(head) + size)
            present = len(head) + len(source.read(size))  # less when the file is cut short
            target.write(void[:present])
            write_zeros(target, max(0, present - len(void)))
            changed = True
        elif ident in _MKV_CLEANED and size <= MAX_MKV_HEADER_BYTES:
            element = bytearray(head + source.read(size))
            changed |= _clean_ebml_master(element, len(head), len(element))
            target.write(element)
        else:
            target.write(head)
            copy_bytes(source, target, size)
