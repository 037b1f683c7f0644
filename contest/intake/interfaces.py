"""Entry intake: the limits on an entry's fields, the domain's errors and value types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from contest.errors import (
    ContestError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
)
from contest.files.kinds import FileKind

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


# --- errors -------------------------------------------------------------------------------


class IntakeError(ContestError):
    """Base of the intake's errors (400 unless a status class below says otherwise)."""


class MalformedUploadError(IntakeError):
    """The form or its file arrived incomplete or damaged."""


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
