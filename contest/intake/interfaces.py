"""Entry intake: the limits on an entry's fields, the domain's errors and value types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from contest.errors import (
    ContestError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
)
from contest.files.kinds import FileKind
from contest.files.limits import MAX_BODY_TEXT_BYTES
from contest.i18n import N_, gettext

# --- limits -------------------------------------------------------------------------------
# (The limits on bytes are in contest.files.limits, with every other file limit.)

NAME_MAX = 100
TITLE_MAX = 200
NOTE_MAX = 1000
BOOK_TITLE_MAX = 255
MIN_AGE = 3
MAX_AGE = 120
MAX_GRADE = 12
ADULT_AGE = 18
IDEMPOTENCY_KEY_MIN = 16
IDEMPOTENCY_KEY_MAX = 64

# Uploads never attached to an entry are swept after this long.
DEFAULT_SWEEP_GRACE = timedelta(hours=24)
UPLOAD_SLOT_EXPIRES = 3600
# The background job that processes an entry's new files (contest.intake.jobs).
PROCESS_ENTRY = "process_entry"


# The fields of a submission, in the order a client should send them: text first, files last.
# Every limit the intake checks, stated so that a client can know it before sending.
_NON_BLANK = r"\S"
SUBMISSION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["full_name", "age", "unit", "consent", "agreement", "title"],
    "properties": {
        "full_name": {
            "type": "string",
            "minLength": 1,
            "maxLength": NAME_MAX,
            "pattern": _NON_BLANK,
        },
        "age": {"type": "integer", "minimum": MIN_AGE, "maximum": MAX_AGE},
        "grade": {"type": "integer", "minimum": 1, "maximum": MAX_GRADE},
        "unit": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "description": "A unit's code, from GET /contests/{slug}/units.",
        },
        "guardian_name": {"type": "string", "maxLength": NAME_MAX},
        "guardian_phone": {"type": "string", "maxLength": 20, "examples": ["0912 345 678"]},
        "consent": {"type": "string", "enum": ["full_name", "initials", "hidden"]},
        "child_consent": {
            "type": "string",
            "enum": ["yes"],
            "description": "The child's own consent to their name being shown, needed beside "
            "the guardian's for an entrant aged 7 to 17 whose consent is full_name or initials "
            "(Decree 356/2025/NĐ-CP). Without it such an entry is refused (422) and nothing is "
            "kept; with consent hidden it is not needed.",
        },
        "agreement": {
            "type": "string",
            "enum": ["yes"],
            "description": "The privacy notice (/privacy) was agreed to: by a parent or "
            "guardian for an entrant under 18, by the entrant otherwise. Without it the entry "
            "is refused (422) and nothing is kept.",
        },
        "title": {"type": "string", "minLength": 1, "maxLength": TITLE_MAX, "pattern": _NON_BLANK},
        "note": {"type": "string", "maxLength": NOTE_MAX},
        "book": {"type": "string", "maxLength": 20, "description": "A book id, or `other`."},
        "book_title": {"type": "string", "maxLength": BOOK_TITLE_MAX},
        "book_author": {"type": "string", "maxLength": BOOK_TITLE_MAX},
        "body_text": {"type": "string", "maxLength": MAX_BODY_TEXT_BYTES},
        "upload_id": {"type": "string", "maxLength": 64},
        "file": {"type": "string", "format": "binary"},
    },
}


# --- errors -------------------------------------------------------------------------------


class IntakeError(ContestError):
    """Base of the intake's errors (400 unless a status class below says otherwise). Raised
    without a message, one says its ``default_message``, translated."""

    default_message = ""

    def __init__(self, message: str = "", *, fields: dict[str, str] | None = None) -> None:
        default = gettext(self.default_message) if self.default_message else ""
        super().__init__(message or default, fields=fields)


class MalformedUploadError(IntakeError):
    """The form or its file arrived incomplete or damaged."""

    default_message = N_(
        "The form arrived incomplete or damaged, perhaps because the connection dropped. "
        "Nothing was saved; please send it again."
    )


class WindowClosedError(IntakeError, ForbiddenError):
    """The contest takes no entries now."""


class UploadTooLargeError(IntakeError):
    """A file, or the whole form, is past its limit."""

    status_code = 413


class UploadNotFoundError(IntakeError, InvalidError):
    """A direct upload that was never made, or not as it was announced."""


class StorageDownError(IntakeError):
    """The file store does not answer: nothing was saved."""

    status_code = 503
    default_message = N_(
        "The file store cannot be reached right now. Nothing was saved; "
        "please try again in a few minutes."
    )


class EntryNotFoundError(IntakeError, NotFoundError):
    """No entry with this receipt code and edit token."""


class EntryLockedError(IntakeError, ForbiddenError):
    """The deadline has passed, or the entry was withdrawn: it can no longer change."""


class EntryValidationError(IntakeError, InvalidError):
    """Some fields need correcting: ``errors`` (the ``fields`` of every ContestError) maps a
    field name to its message."""

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
    # The child (aged 7 to 17) agreed for themself to their name being shown.
    child_consent: bool
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
    """A stored file with its row, not yet attached to an entry (plus what was derived).

    ``processing``: its bytes are safely stored, and what is left (scrubbing from a copy,
    previews) is for the entry's processing job once the entry is committed."""

    asset_id: int
    key: str
    kind: FileKind
    size: int
    sha256: str
    original_filename: str | None
    derived_ids: list[int] = field(default_factory=list)
    derived_keys: list[str] = field(default_factory=list)
    processing: bool = False
    # A video's length in seconds, read from its container (None: none found), once
    # ``length_read``: as it streamed in, or from storage when a rule needs it.
    seconds: float | None = None
    length_read: bool = False


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
