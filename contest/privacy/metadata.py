"""Metadata that names or locates a child, taken out of stored files before anyone sees them.

Phones and office programs write more than the work: a video's place (QuickTime ``©xyz``, the
location keys of ``meta``), an audio file's artist and title tags (ID3, RIFF INFO, Vorbis
comments, Matroska tags), a document's author and last editor, a PDF's author and title.
Judges must not learn the entrant's name from a file, and the public must not learn where a
child lives from a video in the gallery.

Each scrubber reads a seekable source and writes the cleaned file to a target, returning
whether anything changed (the caller then replaces the stored object). Recordings made of
boxes or chunks (MP4, M4A, MOV, WAV) are cleaned as they stream in instead (``STREAM_CLEANERS``):
they are stored clean, with nothing kept apart or read back. Container formats are
cleaned without moving a byte of the media (boxes and chunks are renamed to padding and
zeroed, WebM elements become Voids, Ogg comment headers are blanked length for length and
their pages get a new CRC, PDF strings are blanked in place), so offsets inside the file stay
valid. Images are not touched here: the public sees only their re-encoded previews
(contest.intake.media), and their originals stay as the family sent them.

What is not cleaned (and why) is listed in ``NOT_CLEANED`` for the report and the README.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from storage import ONE_MIB

if TYPE_CHECKING:
    from typing_extensions import Buffer

COPY_CHUNK = ONE_MIB
# A DOCX is rebuilt member by member; past this much unpacked data it is left as it is (the
# judges' reader refuses it too).
MAX_DOCX_UNPACKED = 64 * ONE_MIB

# A PDF is cleaned in memory; a larger one is left as it is.
MAX_PDF_BYTES = 64 * ONE_MIB

# ISO base media (MP4, M4A, MOV): boxes that hold tags, places and XMP, and the boxes that
# contain them.
_BMFF_TAGS = frozenset({b"udta", b"meta", b"uuid"})
_BMFF_CONTAINERS = frozenset({b"moov", b"trak"})
# What a stream cleaner is reading: a header, bytes kept as they are, bytes turned to zeros.
_HEADER, _KEEP, _ZERO = 0, 1, 2
# A stream cleaner looks at most this deep into boxes (a phone's tags are at most 3 deep:
# moov, trak, udta) and at this many headers in all (a phone's file has a few dozen, a
# fragmented one two per fragment). Past either, the rest is kept as it is: a hostile file
# costs bounded memory and bounded work.
MAX_BOX_DEPTH = 8
MAX_HEADERS = 100_000
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
    "chapter names in WebM recordings",
    "APEv2 tags in MP3 files",
    "PDF metadata inside compressed object streams, and text or images inside the PDF",
    "pictures embedded in a DOCX (word/media) keep their own EXIF",
    "the originals of drawings (the public sees previews only; judges' pages show originals)",
    "MP4 or MOV tags nested deeper than 8 boxes or after the first 100,000 boxes (no phone "
    "writes them so; the bound keeps a hostile file's cost small)",
)


# --- ISO base media (MP4, M4A, MOV) -------------------------------------------------------


class _Discard(io.BytesIO):
    """A target that keeps nothing: a first pass only learns whether anything would change."""

    def write(self, data: Buffer, /) -> int:
        return memoryview(data).nbytes


def _skip(source: IO[bytes], length: int | None) -> int:
    """Seek past ``length`` bytes (all that is left when None); how many there were."""
    here = source.tell()
    left = source.seek(0, io.SEEK_END) - here
    moved = left if length is None else max(0, min(length, left))
    source.seek(here + moved)
    return moved


def _copy(source: IO[bytes], target: IO[bytes], length: int | None) -> int:
    """Copy ``length`` bytes (all that is left when None), only skipping them for a dry pass;
    how many there were."""
    if isinstance(target, _Discard):
        return _skip(source, length)
    moved = 0
    while length is None or moved < length:
        chunk = source.read(COPY_CHUNK if length is None else min(COPY_CHUNK, length - moved))
        if not chunk:
            break
        target.write(chunk)
        moved += len(chunk)
    return moved


def _zero(target: IO[bytes], length: int) -> None:
    if isinstance(target, _Discard):
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

    The same cleaner drives the scrubbers of seekable files (``_clean_file``), which skip the
    media with seeks instead of reading it.
    """

    def __init__(self) -> None:
        self.changed = False
        self._at = 0  # offset of the next byte
        self._mode = _HEADER
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
        self._mode, self._want = _HEADER, length
        self._header.clear()

    def _read_more(self, header: bytes, length: int) -> None:
        self._mode, self._want = _HEADER, length
        self._header[:] = header

    def _run(self, mode: int, until: int | None) -> None:
        self._mode, self._until = mode, until
        if until is not None and until <= self._at:
            self._run_ended()

    # -- feeding --

    def ahead(self) -> tuple[int, int | None]:
        """What comes next: (_HEADER, bytes wanted), or (_KEEP or _ZERO, run length or None)."""
        if self._mode == _HEADER:
            return _HEADER, self._want - len(self._header)
        return self._mode, None if self._until is None else self._until - self._at

    def skip(self, length: int) -> None:
        """``length`` bytes of the running keep or zero run were passed on by the caller."""
        self._at += length
        if self._until is not None and self._at >= self._until:
            self._run_ended()

    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        view = memoryview(data)
        size = len(view)
        if self._mode == _KEEP and (self._until is None or self._at + size < self._until):
            self._at += size  # the media, most of the time: goes out untouched, uncopied
            return bytes(view) if not isinstance(data, bytes) else data
        out: list[bytes | memoryview] = []
        done = 0
        while done < size:
            if self._mode == _HEADER:
                take = min(size - done, self._want - len(self._header))
                self._header += view[done : done + take]
                done += take
                self._at += take
                if len(self._header) == self._want:
                    header = bytes(self._header)
                    self._header.clear()
                    self._headers += 1
                    if self._headers > MAX_HEADERS:
                        self._run(_KEEP, None)
                        sent: bytes | None = header
                    else:
                        sent = self._on_header(header)
                    if sent is not None:
                        out.append(sent)
                continue
            take = size - done
            if self._until is not None:
                take = min(take, self._until - self._at)
            out.append(view[done : done + take] if self._mode == _KEEP else bytes(take))
            done += take
            self.skip(take)
        return b"".join(out)

    def close(self) -> bytes:
        """The bytes held back at the end of the file, as they came."""
        held = bytes(self._header) if self._mode == _HEADER else b""
        self._header.clear()
        return held


class IsoMediaCleaner(StreamCleaner):
    """MP4, M4A, MOV: tag, place and XMP boxes at the top level, in the index ('moov') and in
    its tracks become zeroed padding ('free'); everything else passes as it is. A box that
    does not fit in its parent ends the cleaning of that parent (the rest of it is kept), and
    boxes nested deeper than MAX_BOX_DEPTH are kept as they are."""

    def _begin(self) -> None:
        self._parents: list[int] = []  # ends of the boxes being looked into, innermost last
        self._box_at = 0
        self._next_box()

    def _next_box(self) -> None:
        while self._parents and self._at >= self._parents[-1]:
            self._parents.pop()
        self._box_at = self._at
        if self._parents and self._parents[-1] - self._at < 8:
            self._run(_KEEP, self._parents[-1])
        else:
            self._expect_header(8)

    def _run_ended(self) -> None:
        self._next_box()

    def _on_header(self, header: bytes) -> bytes | None:
        at = self._box_at
        end = self._parents[-1] if self._parents else None
        size, kind = struct.unpack_from(">I4s", header)
        if size == 1:
            if len(header) < 16:
                if end is not None and end - at < 16:
                    self._run(_KEEP, end)
                    return header
                self._read_more(header, 16)
                return None
            (size,) = struct.unpack_from(">Q", header, 8)
        if size == 0:  # to the end of the file, or of the parent
            if end is None:
                self._run(_KEEP, None)
                return header
            size = end - at
        if size < len(header) or (end is not None and at + size > end):
            # Not a box: the rest of the parent (or of the file) is kept as it is.
            self._run(_KEEP, end)
            return header
        if kind in _BMFF_TAGS:
            self.changed = True
            self._run(_ZERO, at + size)
            return header[:4] + b"free" + header[8:]
        container = kind == b"moov" or (end is not None and kind in _BMFF_CONTAINERS)
        if container and len(self._parents) < MAX_BOX_DEPTH:
            self._parents.append(at + size)
            self._next_box()
            return header
        self._run(_KEEP, at + size)
        return header


def _pass_on(source: IO[bytes], target: IO[bytes], length: int | None, mode: int) -> int:
    """Pass ``length`` bytes (all that is left when None) from source to target as they are
    (_KEEP) or as zeros (_ZERO); how many there were. Zeros, and everything in a dry pass,
    cost a seek, not a read."""
    if mode == _KEEP:
        return _copy(source, target, length)
    moved = _skip(source, length)
    _zero(target, moved)
    return moved


def _clean_file(cleaner: StreamCleaner, source: IO[bytes], target: IO[bytes]) -> bool:
    """Run a stream cleaner over a seekable file, seeking past what it does not look at."""
    while True:
        mode, length = cleaner.ahead()
        if mode == _HEADER:
            assert length is not None
            data = source.read(length)
            target.write(cleaner.feed(data))
            if len(data) < length:
                break
            continue
        moved = _pass_on(source, target, length, mode)
        cleaner.skip(moved)
        if length is None or moved < length:
            break
    target.write(cleaner.close())
    return cleaner.changed


def scrub_iso_media(source: IO[bytes], target: IO[bytes]) -> bool:
    """MP4, M4A, MOV (see IsoMediaCleaner)."""
    return _clean_file(IsoMediaCleaner(), source, target)


# --- RIFF WAVE ----------------------------------------------------------------------------


class WavCleaner(StreamCleaner):
    """WAV: tag chunks become 'JUNK' chunks of zeros; the sound passes as it is."""

    def _begin(self) -> None:
        self._riff = False
        self._expect_header(12)

    def _run_ended(self) -> None:
        self._expect_header(8)

    def _on_header(self, header: bytes) -> bytes | None:
        if not self._riff:
            if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
                self._run(_KEEP, None)
                return header
            self._riff = True
            self._expect_header(8)
            return header
        kind, (size,) = header[:4], struct.unpack_from("<I", header, 4)
        end = self._at + size + (size & 1)  # chunks are padded to an even length
        if kind in _RIFF_TAGS:
            self.changed = True
            self._run(_ZERO, end)
            return b"JUNK" + header[4:]
        self._run(_KEEP, end)
        return header


def scrub_wav(source: IO[bytes], target: IO[bytes]) -> bool:
    """WAV (see WavCleaner)."""
    return _clean_file(WavCleaner(), source, target)


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


# --- Ogg (Vorbis, Opus, Speex, Theora, FLAC) ----------------------------------------------

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
# The pages that hold a stream's headers are kept in memory until its comments are cleaned;
# headers larger than this (a recording is not) are left as they are.
MAX_OGG_HEADER_BYTES = 64 * ONE_MIB


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
            _copy(source, target, None)
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


# --- WebM and Matroska ----------------------------------------------------------------------

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
MAX_MKV_HEADER_BYTES = 16 * ONE_MIB


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
            _copy(source, target, None)
            return changed
        head, ident, size = read
        if ident == _MKV_SEGMENT or (ident == _MKV_CLUSTER and size is None):
            target.write(head)
        elif size is None:
            target.write(head)
            _copy(source, target, None)
            return changed
        elif ident in _MKV_VOIDED:
            void = _void_header(len(head) + size)
            present = len(head) + len(source.read(size))  # less when the file is cut short
            target.write(void[:present])
            _zero(target, max(0, present - len(void)))
            changed = True
        elif ident in _MKV_CLEANED and size <= MAX_MKV_HEADER_BYTES:
            element = bytearray(head + source.read(size))
            changed |= _clean_ebml_master(element, len(head), len(element))
            target.write(element)
        else:
            target.write(head)
            _copy(source, target, size)


def scrub_file(
    scrub: Callable[[IO[bytes], IO[bytes]], bool], source: IO[bytes], target: IO[bytes]
) -> bool:
    """Clean ``source`` into ``target`` with ``scrub``; whether anything changed.

    A first pass writes nothing and skips the media with seeks, so a file without tags (most
    of them) costs a read of its headers, not a copy; ``target`` is written only when that
    pass finds something to clean."""
    if not scrub(source, _Discard()):
        return False
    source.seek(0)
    return scrub(source, target)


# Kinds cleaned as they stream in: nothing of them is kept apart or read back to be cleaned.
STREAM_CLEANERS: dict[str, Callable[[], StreamCleaner]] = {
    "mp4": IsoMediaCleaner,
    "m4a": IsoMediaCleaner,
    "mov": IsoMediaCleaner,
    "wav": WavCleaner,
}

SCRUBBERS: dict[str, Callable[[IO[bytes], IO[bytes]], bool]] = {
    "pdf": scrub_pdf,
    "docx": scrub_docx,
    "mp4": scrub_iso_media,
    "m4a": scrub_iso_media,
    "mov": scrub_iso_media,
    "mp3": scrub_mp3,
    "wav": scrub_wav,
    "ogg": scrub_ogg,
    "webm": scrub_matroska,
}
