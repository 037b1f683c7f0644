"""Small files of every kind the intake meets, made in memory, the same way every time."""

from __future__ import annotations

import io
import math
import struct
import wave
import zipfile
import zlib
from collections.abc import Mapping

import pillow_heif
from PIL import ExifTags, Image

GPS_LATITUDE = (21.0, 1.0, 30.0)


def photo_jpeg(
    size: tuple[int, int] = (320, 160), *, orientation: int = 1, gps: bool = True
) -> bytes:
    """A phone photo: left half red, right half blue, with EXIF orientation and GPS."""
    image = Image.new("RGB", size, (220, 30, 30))
    image.paste((30, 30, 220), (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 12"
    if gps:
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: GPS_LATITUDE,
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (105.0, 51.0, 0.0),
        }
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80, exif=exif.tobytes(), comment=b"secret comment")
    return out.getvalue()


def drawing_png(size: tuple[int, int] = (300, 200)) -> bytes:
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste((40, 160, 60, 255), (0, size[1] // 2, size[0], size[1]))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def drawing_webp(size: tuple[int, int] = (200, 120)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (250, 200, 0)).save(out, format="WEBP")
    return out.getvalue()


def photo_heic(size: tuple[int, int] = (128, 96)) -> bytes:
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(out, format="HEIF", quality=60)
    return out.getvalue()


def bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A few hundred bytes that claim 1.6 gigapixels: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + width // 8) * 16, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


def docx(
    text: str = "Bài viết của em",
    *,
    document: str | None = None,
    parts: Mapping[str, str] | None = None,
) -> bytes:
    """A Word package: content types, relationships, word/document.xml (by default text after
    a bare w:document tag), then the other parts given, in order."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            '2006/content-types"/>',
        )
        archive.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        archive.writestr(
            "word/document.xml",
            document if document is not None else f'<?xml version="1.0"?><w:document>{text}',
        )
        for name, content in (parts or {}).items():
            archive.writestr(name, content)
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return out.getvalue()


def text_file(text: str = "Cuốn sách em yêu nhất là Dế Mèn phiêu lưu ký.\n") -> bytes:
    return text.encode("utf-8")


def wav(seconds: float = 0.2, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
            for n in range(int(rate * seconds))
        )
        audio.writeframes(frames)
    return out.getvalue()


def mp3() -> bytes:
    # An ID3 tag then MPEG-1 layer III frame headers (128 kbit/s, 44.1 kHz) with silence.
    frame = b"\xff\xfb\x90\x64" + b"\x00" * 413
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + frame * 8


def mp4(brand: bytes = b"isom") -> bytes:
    ftyp = struct.pack(">I", 24) + b"ftyp" + brand + b"\x00\x00\x02\x00" + b"isom" + b"mp41"
    return ftyp + struct.pack(">I", 16) + b"mdat" + b"\x00" * 8


def exe() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200 + b"PE\x00\x00"


def elf() -> bytes:
    return b"\x7fELF\x02\x01\x01" + b"\x00" * 100


def svg() -> bytes:
    return (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
        b"<script>alert(document.cookie)</script></svg>"
    )


def html() -> bytes:
    return b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def _mvhd(units: int, timescale: int, version: int) -> bytes:
    if version == 1:
        times = struct.pack(">QQIQ", 0, 0, timescale, units)
    else:
        times = struct.pack(">IIII", 0, 0, timescale, units)
    # rate, volume, reserved, matrix, pre-defined, next track id: what follows the times.
    rest = (
        struct.pack(">IH10x", 0x00010000, 0x0100)
        + b"\x00" * 36
        + b"\x00" * 24
        + b"\x00\x00\x00\x02"
    )
    return _box(b"mvhd", bytes([version, 0, 0, 0]) + times + rest)


def video_mp4(
    seconds: float,
    *,
    brand: bytes = b"isom",
    moov_at_end: bool = False,
    version: int = 0,
    timescale: int = 600,
    media_bytes: int = 64,
    fragmented: bool = False,
) -> bytes:
    """A tiny MP4 (or, with brand ``qt  ``, MOV) of the given length: its ``ftyp``, a
    ``moov`` with a movie header (and a ``udta`` tag beside it, as phones write), and the
    media, before or after the index. ``fragmented``: the movie header says 0 and the
    length is in ``mvex`` > ``mehd``, as a recorder that writes fragments does."""
    ftyp = _box(b"ftyp", brand + b"\x00\x00\x02\x00" + b"isom" + b"mp41")
    units = round(seconds * timescale)
    children = _mvhd(0 if fragmented else units, timescale, version)
    if fragmented:
        children += _box(b"mvex", _box(b"mehd", bytes(4) + struct.pack(">I", units)))
    children += _box(b"udta", _box(b"\xa9nam", b"Bai ke chuyen"))
    moov = _box(b"moov", children)
    mdat = _box(b"mdat", b"\x00" * media_bytes)
    return ftyp + (mdat + moov if moov_at_end else moov + mdat)


def _ebml(element: int, body: bytes, *, unknown_size: bool = False) -> bytes:
    name = element.to_bytes((element.bit_length() + 7) // 8, "big")
    size = (
        b"\x01\xff\xff\xff\xff\xff\xff\xff"
        if unknown_size
        else b"\x01" + len(body).to_bytes(7, "big")
    )
    return name + size + body


def video_webm(seconds: float | None, *, media_bytes: int = 64, scale: int = 1_000_000) -> bytes:
    """A tiny WebM of the given length (None: without a Duration, as some browsers record
    one), its Info after a Void element and before the first Cluster."""
    header = _ebml(0x1A45DFA3, _ebml(0x4282, b"webm"))
    info = _ebml(0x2AD7B1, scale.to_bytes(4, "big"))
    if seconds is not None:
        info += _ebml(0x4489, struct.pack(">d", seconds * 1e9 / scale))
    info += _ebml(0x4D80, b"contest-tests")
    segment = _ebml(0xEC, b"\x00" * 10) + _ebml(0x1549A966, info)
    segment += _ebml(
        0x1F43B675, _ebml(0xE7, b"\x00") + _ebml(0xA3, b"\x81" + b"\x00" * media_bytes)
    )
    return header + _ebml(0x18538067, segment, unknown_size=True)
