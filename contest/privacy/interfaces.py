"""Children's personal data: what erasure leaves, and the domain's errors and reports. (The
notice's version and the agreement a submission carries are in ``contest.notice``.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contest.errors import ContestError, InvalidError, NotFoundError

# What an erased entrant's name becomes (the column cannot be empty of a value, only of text).
ERASED_NAME = ""
# What replaces a personal value found inside free text that must otherwise stay (a judge's
# feedback, an organiser's reason).
ERASED_MARK = "[…]"
# Audit keys whose values are the entry's own free text: dropped whole on erasure.
AUDIT_TEXT_KEYS = frozenset(
    {
        "title",
        "note",
        "body_text",
        "files",
        "filename",
        "original_filename",
        "full_name",
        "guardian_name",
        "guardian_phone",
    }
)
# Bytes of an original file copied into the access archive per read.
ARCHIVE_CHUNK = 256 * 1024


class PrivacyError(ContestError):
    """Base of the privacy domain's errors (400 unless a status class says otherwise)."""


class EntryNotFoundError(PrivacyError, NotFoundError):
    """No entry with this receipt code, or not the asker's to see."""


class ReasonRequiredError(PrivacyError, InvalidError):
    """An erasure is recorded with the reason for it."""


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What one erasure did. ``already``: nothing was left to erase."""

    receipt_code: str
    entries: int
    files_deleted: int
    files_left: int
    already: bool


@dataclass(frozen=True, slots=True)
class RetentionItem:
    """An entry whose personal data and files the retention rule erases."""

    event_slug: str
    contest_slug: str
    receipt_code: str
    entry_id: int
    clock_started: datetime
    due: datetime


@dataclass(frozen=True, slots=True)
class RetentionRun:
    items: list[RetentionItem]
    reports: list[ErasureReport]
    # Entries erased before (by a run that stopped, or with storage refusing) whose files
    # this run took up, and what became of those files.
    leftovers: int = 0
    leftover_files_deleted: int = 0
    leftover_files_left: int = 0

    @property
    def files_deleted(self) -> int:
        return sum(r.files_deleted for r in self.reports) + self.leftover_files_deleted

    @property
    def files_left(self) -> int:
        return sum(r.files_left for r in self.reports) + self.leftover_files_left
