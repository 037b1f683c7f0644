"""What a file is, from its first bytes: never from its name or the type a client declares."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from contest.files.interfaces import UnsupportedFileError
from contest.files.kinds import (
    FILE_KINDS,
    FORBIDDEN_KINDS,
    INTERCHANGEABLE,
    FileKind,
    accepted_labels,
)
from contest.files.limits import FILENAME_MAX
from contest.i18n import gettext

_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
_M4A_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P "})
_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash", b"M4V "}
    | {b"mmp4", b"MSNV", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"f4v "}
)
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_EXECUTABLE_MAGIC = (
    b"MZ",
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"\x00asm",
    b"#!",
)
# Markup a browser could run if it were ever served inline: refused even inside a .txt.
_MARKUP = re.compile(
    rb"<\s*(?:!doctype\s+html|html|head|body|script|iframe|svg|object|embed|style|meta"
    rb"|link|img|a\s|div|table|form|math)\b|<\?xml|<!--",
    re.IGNORECASE,
)
_TEXT_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def sniff(prefix: bytes) -> str | None:
    """The kind of a file from its first bytes: a FILE_KINDS name, a FORBIDDEN_KINDS name for
    what is never accepted, or None for anything unrecognised."""
    if not prefix:
        return None
    if prefix.startswith(_EXECUTABLE_MAGIC):
        return "executable"
    if prefix.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if prefix.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if prefix.startswith(b"%PDF-"):
        return "pdf"
    if prefix.startswith(b"RIFF") and len(prefix) >= 12:
        return {b"WEBP": "webp", b"WAVE": "wav"}.get(prefix[8:12])
    if prefix.startswith(b"OggS"):
        return "ogg"
    if prefix.startswith(b"\x1a\x45\xdf\xa3"):
        # EBML: WebM names its doctype in the header; other Matroska files are not WebM.
        return "webm" if b"webm" in prefix[:64] else None
    if len(prefix) >= 12 and prefix[4:8] == b"ftyp":
        return _sniff_iso_media(prefix)
    if len(prefix) >= 8 and prefix[4:8] in _QUICKTIME_ATOMS:
        return "mov"
    if prefix.startswith(b"ID3") or _is_mpeg_audio_frame(prefix):
        return "mp3"
    if prefix.startswith(b"PK\x03\x04"):
        return "docx" if b"word/" in prefix else "zip"
    return _sniff_text(prefix)


def _sniff_iso_media(prefix: bytes) -> str | None:
    box_size = int.from_bytes(prefix[0:4], "big")
    major = prefix[8:12]
    end = min(len(prefix), max(16, box_size))
    brands = {major} | {prefix[i : i + 4] for i in range(16, end - 3, 4)}
    if b"avif" in brands or b"avis" in brands:
        return None
    if major in _HEIC_BRANDS:
        return "heic"
    if major in _M4A_BRANDS:
        return "m4a"
    if major == b"qt  ":
        return "mov"
    if major in _MP4_BRANDS:
        return "m4a" if brands & _M4A_BRANDS else "mp4"
    return None


def _is_mpeg_audio_frame(prefix: bytes) -> bool:
    if len(prefix) < 4 or prefix[0] != 0xFF or prefix[1] & 0xE0 != 0xE0:
        return False
    version = (prefix[1] >> 3) & 0b11
    layer = (prefix[1] >> 1) & 0b11
    bitrate = prefix[2] >> 4
    sample_rate = (prefix[2] >> 2) & 0b11
    # Layer III of MPEG 1, 2 or 2.5, with a real bitrate and sample rate.
    return version != 0b01 and layer == 0b01 and bitrate not in (0, 15) and sample_rate != 3


def _sniff_text(prefix: bytes) -> str | None:
    body = prefix.removeprefix(b"\xef\xbb\xbf")
    if _MARKUP.search(body):
        stripped = body.lstrip().lower()
        return "svg" if b"<svg" in stripped else "html"
    if _TEXT_CONTROL.search(body):
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The prefix may end inside a character; only an error before the last 3 bytes counts.
        if exc.start < len(body) - 3:
            return None
    return "txt"


def check_kind(
    sniffed: str | None, allowed_types: Iterable[str], *, declared: str | None = None
) -> FileKind:
    """The accepted kind of a sniffed file, or UnsupportedFileError (415) saying what is."""
    allowed = [t for t in allowed_types if t in FILE_KINDS]
    refusal = gettext(
        "This kind of file is not accepted here. Please send one of: %(types)s.",
        types=accepted_labels(allowed),
    )
    if sniffed is None or sniffed in FORBIDDEN_KINDS or sniffed not in FILE_KINDS:
        raise UnsupportedFileError(refusal)
    name = sniffed
    if name not in allowed:
        # An audio-only MP4 is an M4A; a QuickTime file with an MP4 brand plays as MP4.
        name = next((t for t in allowed if t in INTERCHANGEABLE.get(sniffed, ())), "")
        if not name:
            raise UnsupportedFileError(refusal)
    if declared is not None and declared != name and declared not in INTERCHANGEABLE.get(name, ()):
        raise UnsupportedFileError(
            gettext(
                "The file's content does not match the kind of file that was announced "
                "(%(declared)s). Please choose the file again.",
                declared=FILE_KINDS[declared].label if declared in FILE_KINDS else declared,
            )
        )
    return FILE_KINDS[name]


# --- names -------------------------------------------------------------------------------


def clean_filename(raw: str | None) -> str | None:
    """A client's file name made safe to keep and show: the last path segment only, NFC,
    without control or direction-changing characters, at most FILENAME_MAX characters."""
    if not raw:
        return None
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    # Cc: NUL and other controls; Cf: right-to-left overrides and other invisible formatting
    # that could make "gpj.exe" read as "exe.jpg"; Cs/Co/Cn: nothing a name needs.
    name = "".join(
        ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    name = name.strip().lstrip(".").strip()
    if len(name) > FILENAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: FILENAME_MAX - len(extension) - 1] + "." + extension
        else:
            name = name[:FILENAME_MAX]
    return name or None
