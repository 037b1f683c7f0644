"""Metadata that names or locates a child, taken out of stored files before anyone sees them.

Phones and office programs write more than the work: a video's place (QuickTime ``©xyz``, the
location keys of ``meta``), an audio file's artist and title tags, a document's author and
last editor, a PDF's author and title. Judges must not learn the entrant's name from a file,
and the public must not learn where a child lives from a video in the gallery.

Each scrubber reads a seekable source and writes the cleaned file to a target, returning
whether anything changed (the caller then replaces the stored object). Container formats are
cleaned without moving a byte of the media (boxes and chunks are renamed to padding and
zeroed, PDF strings are blanked in place), so offsets inside the file stay valid. Images are
not touched here: the public sees only their re-encoded previews (contest.intake.media), and
their originals stay as the family sent them.

What is not cleaned (and why) is listed in ``NOT_CLEANED`` for the report and the README.
"""

from __future__ import annotations

import re
import shutil
import struct
import zipfile
from collections.abc import Callable
from typing import IO

from storage import ONE_MIB

COPY_CHUNK = ONE_MIB
# A QuickTime or MP4 index ('moov') is read whole to be cleaned; one this large is not a
# phone's recording and is left as it is.
MAX_MOOV_BYTES = 64 * ONE_MIB
# A DOCX is rebuilt member by member; past this much unpacked data it is left as it is (the
# judges' reader refuses it too).
MAX_DOCX_UNPACKED = 64 * ONE_MIB

# A PDF is cleaned in memory; a larger one is left as it is.
MAX_PDF_BYTES = 64 * ONE_MIB

# ISO base media (MP4, M4A, MOV): boxes that hold tags, places and XMP, and the boxes that
# contain them.
_BMFF_TAGS = frozenset({b"udta", b"meta", b"uuid"})
_BMFF_CONTAINERS = frozenset({b"moov", b"trak"})
# RIFF WAVE: chunks of tags (INFO list, ID3, broadcast origin, iXML, XMP).
_RIFF_TAGS = frozenset({b"LIST", b"id3 ", b"ID3 ", b"bext", b"iXML", b"_PMX", b"cart"})
# PDF document information entries that may name or describe a person.
_PDF_INFO_KEYS = (b"Author", b"Creator", b"Producer", b"Title", b"Subject", b"Keywords")
_PDF_INFO_REF = re.compile(rb"/Info\s+(\d+)\s+(\d+)\s+R")
_XMP_PACKET = re.compile(rb"<x:xmpmeta\b.*?</x:xmpmeta>", re.DOTALL)
_XMP_FIELDS = re.compile(
    rb"<(dc:creator|dc:title|dc:description|dc:subject|dc:rights|pdf:Author|pdf:Keywords"
    rb"|pdf:Producer|xmp:CreatorTool|photoshop:AuthorsPosition|xmpRights:Owner)\b[^>]*>"
    rb"(.*?)</\1>",
    re.DOTALL,
)
_XMP_ATTRIBUTES = re.compile(
    rb'\b(pdf:Author|pdf:Producer|pdf:Keywords|xmp:CreatorTool|dc:creator)="([^"]*)"'
)
_XML_TEXT = re.compile(rb">([^<]+)<")
# DOCX: the package's properties, and who wrote comments and tracked changes.
_DOCX_EMPTY_CORE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    b'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"/>'
)
_DOCX_EMPTY_CUSTOM = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'custom-properties"/>'
)
_DOCX_APP_FIELDS = re.compile(rb"<(Company|Manager|HyperlinkBase)>[^<]*</\1>")
_DOCX_PEOPLE = re.compile(rb'\b(w:author|w:initials|w15:userId|w15:providerId)="[^"]*"')

NOT_CLEANED = (
    "OGG and WebM recordings (their tags sit inside compressed or CRC-checked pages)",
    "APEv2 tags in MP3 files",
    "PDF metadata inside compressed object streams, and text or images inside the PDF",
    "pictures embedded in a DOCX (word/media) keep their own EXIF",
    "the originals of drawings (the public sees previews only; judges' pages show originals)",
)


# --- ISO base media (MP4, M4A, MOV) -------------------------------------------------------


def _copy(source: IO[bytes], target: IO[bytes], length: int | None) -> None:
    """Copy ``length`` bytes (all that is left when None)."""
    if length is None:
        shutil.copyfileobj(source, target, COPY_CHUNK)
        return
    while length > 0:
        chunk = source.read(min(COPY_CHUNK, length))
        if not chunk:
            return
        target.write(chunk)
        length -= len(chunk)


def _zero(target: IO[bytes], length: int) -> None:
    block = bytes(min(COPY_CHUNK, length))
    while length > 0:
        target.write(block[: min(len(block), length)])
        length -= min(len(block), length)


def _box_header(data: bytes | bytearray, at: int, end: int) -> tuple[int, bytes, int] | None:
    """(size, type, header length) of the box at ``at``, or None when it does not fit."""
    if end - at < 8:
        return None
    size, kind = struct.unpack_from(">I4s", data, at)
    header = 8
    if size == 1:
        if end - at < 16:
            return None
        (size,) = struct.unpack_from(">Q", data, at + 8)
        header = 16
    elif size == 0:
        size = end - at
    if size < header or at + size > end:
        return None
    return size, kind, header


def _clean_boxes(data: bytearray, start: int, end: int) -> bool:
    """Turn tag boxes inside [start, end) into zeroed padding ('free'), in place."""
    changed = False
    at = start
    while (found := _box_header(data, at, end)) is not None:
        size, kind, header = found
        if kind in _BMFF_TAGS:
            data[at + 4 : at + 8] = b"free"
            data[at + header : at + size] = bytes(size - header)
            changed = True
        elif kind in _BMFF_CONTAINERS:
            changed |= _clean_boxes(data, at + header, at + size)
        at += size
    return changed


def scrub_iso_media(source: IO[bytes], target: IO[bytes]) -> bool:
    """MP4, M4A, MOV: tag, place and XMP boxes at the top and in the index become padding."""
    changed = False
    while True:
        head = source.read(8)
        if len(head) < 8:
            target.write(head)
            return changed
        size, kind = struct.unpack(">I4s", head)
        extended = b""
        if size == 1:
            extended = source.read(8)
            if len(extended) < 8:
                target.write(head + extended)
                return changed
            (size,) = struct.unpack(">Q", extended)
        header = 8 + len(extended)
        if size == 0 or size < header:
            # To the end of the file (or not a box at all): copied as it is.
            target.write(head + extended)
            _copy(source, target, None)
            return changed
        payload = size - header
        if kind in _BMFF_TAGS:
            target.write(head[:4] + b"free" + extended)
            source.seek(payload, 1)
            _zero(target, payload)
            changed = True
        elif kind == b"moov" and payload <= MAX_MOOV_BYTES:
            box = bytearray(head + extended + source.read(payload))
            changed |= _clean_boxes(box, header, len(box))
            target.write(box)
        else:
            target.write(head + extended)
            _copy(source, target, payload)


# --- RIFF WAVE ----------------------------------------------------------------------------


def scrub_wav(source: IO[bytes], target: IO[bytes]) -> bool:
    """WAV: tag chunks become 'JUNK' chunks of zeros; the sound is copied as it is."""
    head = source.read(12)
    target.write(head)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        _copy(source, target, None)
        return False
    changed = False
    while True:
        chunk = source.read(8)
        if len(chunk) < 8:
            target.write(chunk)
            return changed
        kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        payload = size + (size & 1)  # chunks are padded to an even length
        if kind in _RIFF_TAGS:
            target.write(b"JUNK" + chunk[4:])
            skipped = len(source.read(payload))
            _zero(target, skipped)
            changed = True
        else:
            target.write(chunk)
            _copy(source, target, payload)


# --- MP3 ----------------------------------------------------------------------------------


def scrub_mp3(source: IO[bytes], target: IO[bytes]) -> bool:
    """MP3: the ID3v2 tags in front and the ID3v1 (and extended) tag at the end are left out."""
    source.seek(0, 2)
    end = source.tell()
    start = 0
    while True:
        source.seek(start)
        head = source.read(10)
        if len(head) < 10 or head[:3] != b"ID3" or any(b & 0x80 for b in head[6:10]):
            break
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        start += 10 + size + (10 if head[5] & 0x10 else 0)
    stop = end
    if stop - start >= 128:
        source.seek(stop - 128)
        if source.read(3) == b"TAG":
            stop -= 128
            if stop - start >= 227:
                source.seek(stop - 227)
                if source.read(4) == b"TAG+":
                    stop -= 227
    start = min(start, end)
    source.seek(start)
    _copy(source, target, stop - start)
    return start > 0 or stop < end


# --- DOCX ---------------------------------------------------------------------------------


def scrub_docx(source: IO[bytes], target: IO[bytes]) -> bool:
    """DOCX: the author, last editor, company and custom properties, and the names on comments
    and tracked changes, are removed; every other member is copied as it is."""
    try:
        package = zipfile.ZipFile(source)
        members = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    if sum(m.file_size for m in members) > MAX_DOCX_UNPACKED:
        return False
    changed = False
    with zipfile.ZipFile(target, "w") as out:
        for member in members:
            data = package.read(member)
            clean = _docx_member(member.filename, data)
            changed |= clean != data
            out.writestr(member, clean, compress_type=member.compress_type)
    return changed


def _docx_member(name: str, data: bytes) -> bytes:
    if name == "docProps/core.xml":
        return _DOCX_EMPTY_CORE
    if name == "docProps/custom.xml":
        return _DOCX_EMPTY_CUSTOM
    if name == "docProps/app.xml":
        return _DOCX_APP_FIELDS.sub(lambda m: b"<%s></%s>" % (m[1], m[1]), data)
    if name.startswith("word/") and name.endswith(".xml"):
        return _DOCX_PEOPLE.sub(lambda m: m[1] + b'=""', data)
    return data


# --- PDF ----------------------------------------------------------------------------------


def _blank_literal(data: bytearray, at: int) -> int:
    """Blank the literal string '(…)' starting at ``at`` (nested brackets and escapes kept
    balanced by blanking them too); returns where it ends."""
    depth = 0
    index = at
    while index < len(data):
        byte = data[index]
        if byte == 0x5C:  # backslash: the next byte is escaped
            data[index : index + 2] = b"  "[: len(data[index : index + 2])]
            index += 2
            continue
        if byte == 0x28:
            depth += 1
            if depth == 1:
                index += 1
                continue
        elif byte == 0x29:
            depth -= 1
            if depth == 0:
                return index + 1
        data[index] = 0x20
        index += 1
    return index


def _blank_hex(data: bytearray, at: int) -> int:
    end = data.find(b">", at)
    if end < 0:
        return len(data)
    digits = 0
    for index in range(at + 1, end):
        if chr(data[index]) in "0123456789abcdefABCDEF":
            data[index] = ord("2") if digits % 2 == 0 else ord("0")  # hex 20: a space
            digits += 1
    return end + 1


def _blank_info(data: bytearray, start: int, end: int) -> bool:
    changed = False
    for key in _PDF_INFO_KEYS:
        for found in re.finditer(rb"/" + key + rb"\s*([(<])", data[start:end]):
            at = start + found.start(1)
            if data[at : at + 2] == b"<<":
                continue
            if data[at] == 0x28:
                _blank_literal(data, at)
            else:
                _blank_hex(data, at)
            changed = True
    return changed


def _blank_xmp(data: bytearray) -> bool:
    changed = False
    for packet in list(_XMP_PACKET.finditer(data)):
        for field in _XMP_FIELDS.finditer(data, packet.start(), packet.end()):
            for text in _XML_TEXT.finditer(data, field.start(2) - 1, field.end(2) + 1):
                if text[1].strip():
                    data[text.start(1) : text.end(1)] = b" " * len(text[1])
                    changed = True
        for attribute in _XMP_ATTRIBUTES.finditer(data, packet.start(), packet.end()):
            if attribute[2]:
                data[attribute.start(2) : attribute.end(2)] = b" " * len(attribute[2])
                changed = True
    return changed


def scrub_pdf(source: IO[bytes], target: IO[bytes]) -> bool:
    """PDF: the document information (author, title, …) and the XMP packet's names are blanked
    in place, byte for byte, so every offset in the file stays right."""
    data = bytearray(source.read(MAX_PDF_BYTES + 1))
    if len(data) > MAX_PDF_BYTES:
        return False
    changed = False
    for reference in set(_PDF_INFO_REF.findall(data)):
        number, generation = reference
        for obj in re.finditer(
            rb"(?<![0-9])" + number + rb"\s+" + generation + rb"\s+obj\b(.*?)endobj",
            data,
            re.DOTALL,
        ):
            changed |= _blank_info(data, obj.start(1), obj.end(1))
    changed |= _blank_xmp(data)
    target.write(data)
    return changed


SCRUBBERS: dict[str, Callable[[IO[bytes], IO[bytes]], bool]] = {
    "pdf": scrub_pdf,
    "docx": scrub_docx,
    "mp4": scrub_iso_media,
    "m4a": scrub_iso_media,
    "mov": scrub_iso_media,
    "mp3": scrub_mp3,
    "wav": scrub_wav,
}
