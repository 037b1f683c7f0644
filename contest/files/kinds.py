"""The one table of file kinds: what a contest's media policy may list, and what each kind gets.

A kind is named by its policy name (``"mp4"``) and carries its stored type and extension, the
label shown to people, the viewer a judge gets, whether it is a drawing (decoded, previewed),
and which metadata cleaner runs on it: ``stream_cleaner`` as its bytes arrive, ``scrub`` on a
seekable copy (a direct upload, or a kind that cannot be cleaned as it streams).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from contest.files.cleaners import Scrub, StreamCleaner
from contest.files.cleaners.docx import scrub_docx
from contest.files.cleaners.iso import IsoMediaCleaner, scrub_iso_media
from contest.files.cleaners.mp3 import scrub_mp3
from contest.files.cleaners.ogg import scrub_ogg
from contest.files.cleaners.pdf import scrub_pdf
from contest.files.cleaners.wav import WavCleaner, scrub_wav
from contest.files.cleaners.webm import scrub_matroska
from contest.files.duration import DurationReader, IsoMediaDuration, MatroskaDuration
from contest.i18n import gettext

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# What a judge's page shows a file in; "download" is a link and nothing inline.
DOWNLOAD = "download"
# Viewers that show the file itself in the page; the others get a download link.
INLINE_VIEWERS = frozenset({"image", "pdf", "text", "audio", "video"})


@dataclass(frozen=True, slots=True)
class FileKind:
    """A kind of file a contest's media policy may list, by its policy name."""

    name: str
    content_type: str
    extension: str
    label: str
    viewer: str = DOWNLOAD
    is_image: bool = False
    scrub: Scrub | None = None
    stream_cleaner: Callable[[], StreamCleaner] | None = None
    # Reads a video's length from its container as its bytes pass (contest.files.duration).
    duration: Callable[[], DurationReader] | None = None

    @property
    def group(self) -> str:
        """What a division's rules may name it by besides its own name: image, document,
        audio or video."""
        family = self.content_type.split("/")[0]
        return family if family in ("image", "audio", "video") else "document"


# In the order the organisers' form lists them.
FILE_KINDS: dict[str, FileKind] = {
    kind.name: kind
    for kind in [
        FileKind("jpeg", "image/jpeg", "jpg", "JPEG", "image", is_image=True),
        FileKind("png", "image/png", "png", "PNG", "image", is_image=True),
        FileKind("webp", "image/webp", "webp", "WebP", "image", is_image=True),
        # Browsers show no HEIC; judges see a drawing as its JPEG preview anyway.
        FileKind("heic", "image/heic", "heic", "HEIC", is_image=True),
        FileKind("pdf", "application/pdf", "pdf", "PDF", "pdf", scrub=scrub_pdf),
        FileKind("docx", DOCX_TYPE, "docx", "DOCX", "docx", scrub=scrub_docx),
        FileKind("txt", "text/plain; charset=utf-8", "txt", "TXT", "text"),
        FileKind("mp3", "audio/mpeg", "mp3", "MP3", "audio", scrub=scrub_mp3),
        FileKind(
            "m4a", "audio/mp4", "m4a", "M4A", "audio", scrub=scrub_iso_media,
            stream_cleaner=IsoMediaCleaner,
        ),
        FileKind(
            "wav", "audio/wav", "wav", "WAV", "audio", scrub=scrub_wav,
            stream_cleaner=WavCleaner,
        ),
        FileKind("ogg", "audio/ogg", "ogg", "OGG", "audio", scrub=scrub_ogg),
        FileKind(
            "mp4", "video/mp4", "mp4", "MP4", "video", scrub=scrub_iso_media,
            stream_cleaner=IsoMediaCleaner, duration=IsoMediaDuration,
        ),
        FileKind(
            "webm", "video/webm", "webm", "WebM", "video", scrub=scrub_matroska,
            duration=MatroskaDuration,
        ),
        FileKind(
            "mov", "video/quicktime", "mov", "MOV", "video", scrub=scrub_iso_media,
            stream_cleaner=IsoMediaCleaner, duration=IsoMediaDuration,
        ),
    ]
}  # fmt: skip
# What browsers and API clients may declare (and what older rows may carry), mapped to kinds.
DECLARED_TYPES: dict[str, str] = {
    "application/pdf": "pdf",
    DOCX_TYPE: "docx",
    "text/plain": "txt",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heic",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/m4a": "m4a",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/ogg": "ogg",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "audio/webm": "webm",
    "video/quicktime": "mov",
}
# Sniffed names that are never accepted whatever a policy says.
FORBIDDEN_KINDS = frozenset({"html", "svg", "xml", "executable", "script", "zip"})
# Kinds that are the same container (ISO base media) told apart only by a brand.
INTERCHANGEABLE = {"m4a": {"mp4"}, "mp4": {"m4a", "mov"}, "mov": {"mp4"}}
# What a division's rules may list besides kinds: a group of kinds, or typed text (a
# writing contest's text box).
MEDIA_GROUPS = ("image", "document", "audio", "video")
TYPED = "typed"
# Previews and thumbnails of drawings, and the event's logo, are stored as this.
PREVIEW_TYPE = "image/jpeg"


def declared_kind(content_type: str) -> FileKind | None:
    """The kind a declared (or stored) content type names, parameters and case aside."""
    name = DECLARED_TYPES.get(content_type.split(";")[0].strip().lower())
    return FILE_KINDS[name] if name else None


def kind_of_stored(content_type: str) -> FileKind | None:
    """The kind of a stored file, from the exact type it was stored with."""
    return next((k for k in FILE_KINDS.values() if k.content_type == content_type), None)


def viewer_for(content_type: str) -> str:
    """How a judge's page shows a file of this type ("download" when not inline)."""
    kind = declared_kind(content_type)
    return kind.viewer if kind else DOWNLOAD


def accepted_labels(allowed_types: Iterable[str]) -> str:
    return ", ".join(FILE_KINDS[t].label for t in allowed_types if t in FILE_KINDS)


def kinds_accepted(accepts: Iterable[str], allowed_types: Iterable[str]) -> list[str]:
    """The kinds of the contest's list that a division's ``accepts`` (kind and group names)
    takes, in the contest's order; every one of them when ``accepts`` is empty."""
    names = set(accepts)
    allowed = [t for t in allowed_types if t in FILE_KINDS]
    if not names:
        return allowed
    return [t for t in allowed if t in names or FILE_KINDS[t].group in names]


def division_accepts_label(accepts: Sequence[str], allowed_types: Iterable[str]) -> str:
    """What a division takes, for people: typed text (when listed) and its kinds' labels."""
    kinds = accepted_labels(kinds_accepted(accepts, allowed_types))
    typed = gettext("typed text") if TYPED in accepts else ""
    return ", ".join(part for part in (typed, kinds) if part)
