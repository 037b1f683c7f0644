"""Entry intake: the limits, the file kinds a contest may accept, and the domain's errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from contest.errors import ContestError
from storage import ONE_MIB

# --- limits -------------------------------------------------------------------------------

# Bytes looked at to decide what a file is; the ZIP-based formats need to see the name of
# their first members, which sit in the first few hundred bytes.
SNIFF_BYTES = 8 * 1024
# Room for the text fields and the multipart framing around the files of one submission.
FORM_OVERHEAD = 256 * 1024
MAX_FORM_PARTS = 40
MAX_FIELD_BYTES = 8 * 1024
# A typed essay: generous for the longest word limit, bounded so a form stays a form.
MAX_BODY_TEXT_BYTES = 200 * 1024
# After refusing an upload, read at most this much more so the browser sees our answer
# instead of a reset connection; beyond it the connection is just closed.
DRAIN_LIMIT = 1 * ONE_MIB

NAME_MAX = 100
TITLE_MAX = 200
NOTE_MAX = 1000
BOOK_TITLE_MAX = 255
FILENAME_MAX = 180
MIN_AGE = 3
MAX_AGE = 120
MAX_GRADE = 12
ADULT_AGE = 18
IDEMPOTENCY_KEY_MIN = 16
IDEMPOTENCY_KEY_MAX = 64

# Images: previews are what judges and the gallery see; the original stays untouched.
# 64 megapixels covers a 50 MP phone photo and an A4 page scanned at 600 dpi.
MAX_IMAGE_PIXELS = 64_000_000
PREVIEW_SIZE = 1600
THUMBNAIL_SIZE = 400
PREVIEW_QUALITY = 85
# Drawings are decoded from a spooled copy: small ones stay in memory, larger ones on disk.
SPOOL_IN_MEMORY = 4 * ONE_MIB

# Uploads never attached to an entry are swept after this long.
DEFAULT_SWEEP_GRACE = timedelta(hours=24)
UPLOAD_SLOT_EXPIRES = 3600

BULK_MAX_CSV_BYTES = 2 * ONE_MIB
BULK_MAX_ZIP_BYTES = 1024 * ONE_MIB
BULK_MAX_ROWS = 1000

# --- file kinds ---------------------------------------------------------------------------

# The header the API reads an entry's edit token from.
EDIT_TOKEN_HEADER = "x-edit-token"  # noqa: S105 - a header name, not a secret


@dataclass(frozen=True, slots=True)
class FileKind:
    """A kind of file a contest's media policy may list, by its policy name."""

    name: str
    content_type: str
    extension: str
    label: str
    is_image: bool = False


FILE_KINDS: dict[str, FileKind] = {
    kind.name: kind
    for kind in [
        FileKind("pdf", "application/pdf", "pdf", "PDF"),
        FileKind(
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
            "DOCX",
        ),
        FileKind("txt", "text/plain; charset=utf-8", "txt", "TXT"),
        FileKind("jpeg", "image/jpeg", "jpg", "JPEG", is_image=True),
        FileKind("png", "image/png", "png", "PNG", is_image=True),
        FileKind("webp", "image/webp", "webp", "WebP", is_image=True),
        FileKind("heic", "image/heic", "heic", "HEIC", is_image=True),
        FileKind("mp3", "audio/mpeg", "mp3", "MP3"),
        FileKind("m4a", "audio/mp4", "m4a", "M4A"),
        FileKind("wav", "audio/wav", "wav", "WAV"),
        FileKind("ogg", "audio/ogg", "ogg", "OGG"),
        FileKind("mp4", "video/mp4", "mp4", "MP4"),
        FileKind("webm", "video/webm", "webm", "WebM"),
        FileKind("mov", "video/quicktime", "mov", "MOV"),
    ]
}
# What browsers and API clients may declare for a direct upload, mapped to our kinds.
DECLARED_TYPES: dict[str, str] = {
    "application/pdf": "pdf",
    FILE_KINDS["docx"].content_type: "docx",
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

# --- errors -------------------------------------------------------------------------------


class IntakeError(ContestError):
    """Base of the intake's errors; ``message`` is already in the visitor's language."""

    status_code = 400


class MalformedUploadError(IntakeError):
    status_code = 400


class WindowClosedError(IntakeError):
    status_code = 403


class UploadTooLargeError(IntakeError):
    status_code = 413


class UnsupportedFileError(IntakeError):
    status_code = 415


class UnreadableImageError(IntakeError):
    """Not a decodable image, or a decompression bomb."""

    status_code = 422


class UploadNotFoundError(IntakeError):
    status_code = 422


class StorageDownError(IntakeError):
    status_code = 503


class EntryNotFoundError(IntakeError):
    status_code = 404


class EntryLockedError(IntakeError):
    """The deadline has passed, or the entry was withdrawn: it can no longer change."""

    status_code = 403


class EntryValidationError(IntakeError):
    """Some fields need correcting: ``errors`` (the ``fields`` of every ContestError) maps a
    field name to its message."""

    status_code = 422

    def __init__(self, errors: dict[str, str], message: str = "") -> None:
        super().__init__(message, fields=errors)

    @property
    def errors(self) -> dict[str, str]:
        return self.fields


@dataclass(frozen=True, slots=True)
class EntryData:
    """A submission's fields, checked and normalised."""

    full_name: str
    age: int
    grade: int | None
    unit_id: int | None
    guardian_name: str | None
    guardian_phone: str | None
    consent: str
    title: str
    note: str
    book_id: int | None
    book_title: str
    book_author: str
    body_text: str | None
    word_count: int | None
    division_id: int | None


@dataclass(slots=True)
class PendingUpload:
    """A stored file with its row, not yet attached to an entry (plus what was derived)."""

    asset_id: int
    key: str
    kind: FileKind
    size: int
    sha256: str
    original_filename: str | None
    derived_ids: list[int] = field(default_factory=list)
    derived_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class UploadSlot:
    upload_id: str
    url: str
    fields: dict[str, str]
    max_size: int
    expires_at: str


@dataclass(frozen=True, slots=True)
class SweepReport:
    unattached_assets: int
    withdrawn_assets: int
    objects_deleted: int
    failures: int
    incomplete_uploads: int = 0
