"""How the domain's fixed values read to people; translated where shown."""

from __future__ import annotations

from contest.i18n import N_
from contest.models import (
    Aggregation,
    Consent,
    ContestKind,
    ContestStatus,
    EntryStatus,
    FileState,
    Prize,
    Role,
    UnitKind,
)

CONTEST_KINDS = {
    ContestKind.WRITING: N_("Writing"),
    ContestKind.DRAWING: N_("Drawing"),
    ContestKind.STORYTELLING: N_("Storytelling"),
}

CONTEST_KIND_HINTS = {
    ContestKind.WRITING: N_("An essay, a letter or a story written about a book."),
    ContestKind.DRAWING: N_("A drawing or painting inspired by a book."),
    ContestKind.STORYTELLING: N_("A recorded telling of a book's story, as audio or video."),
}

# Keyed by contest.events.interfaces.Phase's values (a StrEnum, so a Phase finds its label):
# labels sit below the domain packages and import none of them.
PHASES = {
    "upcoming": N_("Opens soon"),
    "open": N_("Open for entries"),
    "closing_soon": N_("Closing soon"),
    "closed": N_("Closed"),
}

UNIT_KINDS = {
    UnitKind.PROVINCE: N_("Province or city"),
    UnitKind.WARD: N_("Ward or commune"),
    UnitKind.SCHOOL: N_("School"),
    UnitKind.CLASS: N_("Class"),
    UnitKind.RESIDENTIAL_GROUP: N_("Residential group"),
    UnitKind.LEARNING_CENTRE: N_("Community learning centre"),
}

PRIZES = {
    Prize.FIRST: N_("First prize"),
    Prize.SECOND: N_("Second prize"),
    Prize.THIRD: N_("Third prize"),
    Prize.HONOURABLE: N_("Honourable mention"),
}

ROLES = {
    Role.ADMIN: N_("Organiser"),
    Role.COORDINATOR: N_("Coordinator"),
    Role.JUDGE: N_("Judge"),
}

CONTEST_STATUSES = {
    ContestStatus.DRAFT: N_("Draft (not shown)"),
    ContestStatus.OPEN: N_("Open"),
    ContestStatus.CLOSED: N_("Closed"),
    ContestStatus.JUDGING: N_("Judging"),
    ContestStatus.PUBLISHED: N_("Results published"),
}

AGGREGATIONS = {
    Aggregation.MEAN: N_("Mean"),
    Aggregation.MEDIAN: N_("Median"),
    Aggregation.TRIMMED_MEAN: N_("Trimmed mean"),
    Aggregation.NORMALISED: N_("Normalised per judge (evens out lenient and harsh judges)"),
}

PRIZE_COUNT_LABELS = {
    "first": N_("Number of first prizes per division"),
    "second": N_("Number of second prizes per division"),
    "third": N_("Number of third prizes per division"),
    "honourable": N_("Number of honourable mentions per division"),
}

# How a winner's name may appear in public, as the submit form asks it.
CONSENTS = {
    Consent.FULL_NAME: N_("Full name (for example: Nguyễn Minh Anh)"),
    Consent.INITIALS: N_("Initials only (for example: N. M. A.)"),
    Consent.HIDDEN: N_("Do not show the name"),
}

ENTRY_STATUSES = {
    EntryStatus.SUBMITTED: N_("Submitted"),
    EntryStatus.WITHDRAWN: N_("Withdrawn"),
    EntryStatus.DISQUALIFIED: N_("Disqualified"),
}

# An entry's files, as the organisers' lists show them (contest.intake.jobs processes them).
FILE_STATES = {
    FileState.PROCESSING: N_("Processing"),
    FileState.READY: N_("Ready"),
    FileState.FAILED: N_("Processing failed"),
}

# What a division's rules may name besides single kinds (contest.files.kinds' MEDIA_GROUPS
# and TYPED), as the organisers' form lists them.
MEDIA_NAMES = {
    "typed": N_("Typed text"),
    "image": N_("Images (drawings, photos, scans)"),
    "document": N_("Documents (PDF, DOCX, TXT)"),
    "audio": N_("Audio recordings"),
    "video": N_("Video recordings"),
}
