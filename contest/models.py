"""The domain: events, units, contests, entries and their files, judging, results, audit.

Personal data sits on ``Entrant`` alone, so that erasing it and keeping judges blind each have one
place to look.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contest.db import Base, NFCString, NFCText, utcnow


def _enum(cls: type[enum.Enum]) -> SAEnum:
    # Stored as plain strings (values, not names) so that adding a member needs no type change
    # on PostgreSQL and reads the same in SQL.
    return SAEnum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=24,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class ContestKind(enum.StrEnum):
    WRITING = "writing"
    DRAWING = "drawing"
    STORYTELLING = "storytelling"


class ContestStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    JUDGING = "judging"
    PUBLISHED = "published"


class UnitKind(enum.StrEnum):
    # The chain above the schools (since 1/7/2025 there is no district level): a province's
    # department of education, then a ward or commune.
    PROVINCE = "province"
    WARD = "ward"
    SCHOOL = "school"
    CLASS = "class"
    RESIDENTIAL_GROUP = "residential_group"
    LEARNING_CENTRE = "learning_centre"


class Role(enum.StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    JUDGE = "judge"


class EntryStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"
    DISQUALIFIED = "disqualified"


class FileState(enum.StrEnum):
    """How far a stored file (and, summed up, an entry's files) got through processing: the
    scrubbing and previews that a background job does after the upload returned."""

    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class Consent(enum.StrEnum):
    """How an entrant's name may appear in public."""

    FULL_NAME = "full_name"
    INITIALS = "initials"
    HIDDEN = "hidden"


class AssetRole(enum.StrEnum):
    ORIGINAL = "original"
    PREVIEW = "preview"
    THUMBNAIL = "thumbnail"


class RoundStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class RoundKind(enum.StrEnum):
    """How a round is judged: each entry scored on the rubric, or pairs of entries compared
    side by side (a comparative final, ranked by ``judging.comparative``)."""

    RUBRIC = "rubric"
    COMPARATIVE = "comparative"


class ComparativeResults(enum.StrEnum):
    """What a finished comparative final does to the published results: its Bradley-Terry
    order ranks the shortlist (and so gives its prizes), or the rubric order stands and the
    comparative order only separates entries tied on the rubric score."""

    RANK = "rank"
    TIES = "ties"


class AssignmentStatus(enum.StrEnum):
    ASSIGNED = "assigned"
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RECUSED = "recused"


class Aggregation(enum.StrEnum):
    MEAN = "mean"
    MEDIAN = "median"
    TRIMMED_MEAN = "trimmed_mean"
    NORMALISED = "normalised"


class RemarkStatus(enum.StrEnum):
    """A re-marking request (phúc khảo) after publication."""

    REQUESTED = "requested"  # filed by the entrant, no judge yet
    ASSIGNED = "assigned"  # a judge who did not score the entry re-scores it
    RESCORED = "rescored"  # waiting for the organiser's decision
    UPHELD = "upheld"  # decided: the published result stands
    CHANGED = "changed"  # decided: the published result was changed


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Prize(enum.StrEnum):
    FIRST = "first"
    SECOND = "second"
    THIRD = "third"
    HONOURABLE = "honourable"


user_units = Table(
    "user_units",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
)

contest_judges = Table(
    "contest_judges",
    Base.metadata,
    Column("contest_id", ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    # How many entries of this contest the judge takes at most; none = no limit.
    Column("capacity", Integer, nullable=True),
    # The contests a judge judges, for the judge's own pages and the judge picker.
    Index("ix_contest_judges_user_id", "user_id"),
)

# Entries admitted to a later round (a shortlist); the first round takes every submitted entry.
round_entries = Table(
    "round_entries",
    Base.metadata,
    Column("round_id", ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True),
    Column("entry_id", ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True),
)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str]
    theme: Mapped[str]
    organizer: Mapped[str]
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    description: Mapped[str] = mapped_column(NFCText, default="")
    logo_key: Mapped[str | None] = mapped_column(String(512))
    # Months after publication before `contest retention apply` erases non-winners' personal
    # data and files; None keeps them until erased by hand.
    retention_months: Mapped[int | None] = mapped_column(default=12)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contests: Mapped[list[Contest]] = relationship(
        back_populates="event", order_by="Contest.position", lazy="raise"
    )
    units: Mapped[list[Unit]] = relationship(back_populates="event", lazy="raise")


class Unit(Base):
    """A school, a class, a residential group or the learning centre; classes sit in schools,
    schools may sit in a ward or commune, and those in a province."""

    __tablename__ = "units"
    __table_args__ = (
        UniqueConstraint("event_id", "code"),
        # The units page: a unit's children (or the top-level units) by name, a page at a time.
        Index("ix_units_event_parent_name", "event_id", "parent_id", "name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[UnitKind] = mapped_column(_enum(UnitKind))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str]

    event: Mapped[Event] = relationship(back_populates="units", lazy="raise")
    parent: Mapped[Unit | None] = relationship(remote_side=[id], lazy="raise")


class Contest(Base):
    __tablename__ = "contests"
    __table_args__ = (UniqueConstraint("event_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(80))
    kind: Mapped[ContestKind] = mapped_column(_enum(ContestKind))
    title: Mapped[str]
    summary: Mapped[str] = mapped_column(NFCText, default="")
    rules: Mapped[str] = mapped_column(NFCText, default="")
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    status: Mapped[ContestStatus] = mapped_column(_enum(ContestStatus), default=ContestStatus.DRAFT)
    position: Mapped[int] = mapped_column(default=0)
    # Media policy: what an entry may carry.
    allowed_types: Mapped[list[Any]] = mapped_column(default=list)
    max_file_size: Mapped[int] = mapped_column(BigInteger)
    max_files: Mapped[int] = mapped_column(default=1)
    max_words: Mapped[int | None]
    # Judging.
    judges_per_entry: Mapped[int] = mapped_column(default=3)
    # Days after publication during which an entrant may ask for re-marking.
    remark_days: Mapped[int] = mapped_column(default=7)
    blind: Mapped[bool] = mapped_column(Boolean, default=True)
    aggregation: Mapped[Aggregation] = mapped_column(
        _enum(Aggregation), default=Aggregation.NORMALISED
    )
    prize_scheme: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The next level's contest this one forwards its best entries to, and how many of each
    # division each unit may forward (contest.results.forwarding); none: a last level.
    forwards_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("contests.id", ondelete="SET NULL")
    )
    forward_quota: Mapped[int | None]

    event: Mapped[Event] = relationship(back_populates="contests", lazy="raise")
    divisions: Mapped[list[Division]] = relationship(
        back_populates="contest", order_by="Division.position", lazy="raise"
    )
    books: Mapped[list[Book]] = relationship(
        back_populates="contest", order_by="Book.position", lazy="raise"
    )
    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="contest", order_by="Criterion.position", lazy="raise"
    )


class _WholeRule:
    """A whole-number rule of a division's ``media``, read and set as an attribute (None
    when it is not set)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, division: Division | None, owner: type | None = None) -> int | None:
        if division is None:
            return None
        value = (division.media or {}).get(self.name)
        return int(value) if value is not None else None

    def __set__(self, division: Division, value: int | None) -> None:
        division.set_rule(self.name, value)


class Division(Base):
    """An age group within a contest; an entrant's age picks it."""

    __tablename__ = "divisions"
    __table_args__ = (UniqueConstraint("contest_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str]
    min_age: Mapped[int | None]
    max_age: Mapped[int | None]
    position: Mapped[int] = mapped_column(default=0)
    # The division's own media rules, on top of its contest's: ``accepts`` (kind and group
    # names, and "typed"), ``max_words``, ``min_seconds`` and ``max_seconds`` of a video;
    # each left out when not set. Read and set as the attributes below.
    media: Mapped[dict[str, Any]] = mapped_column(default=dict)

    contest: Mapped[Contest] = relationship(back_populates="divisions", lazy="raise")

    def set_rule(self, name: str, value: Any) -> None:
        """Set one media rule (None or [] leaves it out), as a new dict, so that the JSON
        column sees the change."""
        rules = {k: v for k, v in (self.media or {}).items() if k != name}
        if value is not None and value != []:
            rules[name] = value
        self.media = rules

    @property
    def accepts(self) -> list[str]:
        return list((self.media or {}).get("accepts") or [])

    @accepts.setter
    def accepts(self, value: list[str]) -> None:
        self.set_rule("accepts", list(value))

    max_words = _WholeRule()
    min_seconds = _WholeRule()
    max_seconds = _WholeRule()


class Book(Base):
    """A suggested book for a contest."""

    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(
        ForeignKey("contests.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str]
    author: Mapped[str] = mapped_column(NFCString(255), default="")
    note: Mapped[str] = mapped_column(NFCText, default="")
    position: Mapped[int] = mapped_column(default=0)

    contest: Mapped[Contest] = relationship(back_populates="books", lazy="raise")


class Entrant(Base):
    """The person behind an entry, with the least data the contest needs."""

    __tablename__ = "entrants"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="SET NULL"), index=True
    )
    full_name: Mapped[str]
    age: Mapped[int | None]
    grade: Mapped[int | None]
    is_minor: Mapped[bool] = mapped_column(Boolean, default=True)
    guardian_name: Mapped[str | None]
    guardian_phone: Mapped[str | None] = mapped_column(String(32))
    consent: Mapped[Consent] = mapped_column(_enum(Consent))
    # The agreement to the privacy notice (the guardian's, for a minor): when, and which wording.
    agreed_at: Mapped[datetime | None]
    agreement_version: Mapped[str | None] = mapped_column(String(32))
    # A child aged 7 to 17 agrees for themself, beside the guardian, to their name being shown
    # (contest.notice.name_consent); when the name's consent was withdrawn with the private link.
    child_consent_at: Mapped[datetime | None]
    name_withdrawn_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Entry(Base):
    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint("contest_id", "idempotency_key"),
        Index("ix_entries_contest_id_status", "contest_id", "status"),
        # A contest's entries, newest first, a page at a time.
        Index("ix_entries_contest_id_id", "contest_id", "id"),
        # The organiser's list of entries whose files could not be processed.
        Index("ix_entries_contest_id_files_state", "contest_id", "files_state"),
        # An entry reaches the next level's contest once at most. (A unique index, not a
        # constraint: SQLite adds one to a table without rebuilding it and its triggers.)
        Index(
            "uq_entries_contest_id_forwarded_from_id",
            "contest_id",
            "forwarded_from_id",
            unique=True,
        ),
        # Whether a contest's results were forwarded (and so are frozen).
        Index("ix_entries_forwarded_from_id", "forwarded_from_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    division_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id", ondelete="SET NULL"))
    entrant_id: Mapped[int] = mapped_column(
        ForeignKey("entrants.id", ondelete="CASCADE"), index=True
    )
    receipt_code: Mapped[str] = mapped_column(String(16), unique=True)
    edit_token_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str]
    note: Mapped[str] = mapped_column(NFCText, default="")
    book_id: Mapped[int | None] = mapped_column(ForeignKey("books.id", ondelete="SET NULL"))
    book_title: Mapped[str] = mapped_column(NFCString(255), default="")
    book_author: Mapped[str] = mapped_column(NFCString(255), default="")
    body_text: Mapped[str | None] = mapped_column(NFCText)
    word_count: Mapped[int | None]
    status: Mapped[EntryStatus] = mapped_column(_enum(EntryStatus), default=EntryStatus.SUBMITTED)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Set when the entrant's personal data and files were erased; the entry stays as an
    # anonymous row so that counts and results still add up.
    erased_at: Mapped[datetime | None]
    # Ready once every file of the entry is processed (contest.intake.jobs); failed when one
    # could not be, until the organiser's retry of ``files_job_id`` succeeds.
    files_state: Mapped[FileState] = mapped_column(
        _enum(FileState), default=FileState.READY, server_default=FileState.READY.value
    )
    files_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    # A copy forwarded from a lower level's contest: the entry it came from and, when the
    # organiser carried it, that entry's published final score (shown to the organisers only).
    forwarded_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("entries.id", ondelete="SET NULL")
    )
    forwarded_score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    entrant: Mapped[Entrant] = relationship(lazy="raise")
    assets: Mapped[list[Asset]] = relationship(
        back_populates="entry", order_by="Asset.id", lazy="raise"
    )


class Asset(Base):
    """One stored file: an entry's original, or a preview derived from it.

    An asset without an entry is an upload in flight; the sweep removes those left too long.
    """

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("entries.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    role: Mapped[AssetRole] = mapped_column(_enum(AssetRole), default=AssetRole.ORIGINAL)
    storage_key: Mapped[str] = mapped_column(String(512), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    original_filename: Mapped[str | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    # An original is shown to judges and the public only once ready (scrubbed, previews made);
    # previews are written ready.
    state: Mapped[FileState] = mapped_column(
        _enum(FileState), default=FileState.READY, server_default=FileState.READY.value
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    entry: Mapped[Entry | None] = relationship(back_populates="assets", lazy="raise")


class User(Base):
    __tablename__ = "users"
    # The accounts list by role, in name order, a page at a time.
    __table_args__ = (Index("ix_users_role_name_id", "role", "name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str]
    role: Mapped[Role] = mapped_column(_enum(Role))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped to end every session the user holds (deactivation, password change).
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    units: Mapped[list[Unit]] = relationship(secondary=user_units, lazy="raise")
    judged_contests: Mapped[list[Contest]] = relationship(secondary=contest_judges, lazy="raise")


class Criterion(Base):
    """A rubric row."""

    __tablename__ = "criteria"
    __table_args__ = (UniqueConstraint("contest_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str]
    description: Mapped[str] = mapped_column(NFCText, default="")
    max_points: Mapped[float] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    position: Mapped[int] = mapped_column(default=0)

    contest: Mapped[Contest] = relationship(back_populates="criteria", lazy="raise")


class Round(Base):
    __tablename__ = "rounds"
    __table_args__ = (UniqueConstraint("contest_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(default=1)
    status: Mapped[RoundStatus] = mapped_column(_enum(RoundStatus), default=RoundStatus.OPEN)
    kind: Mapped[RoundKind] = mapped_column(
        _enum(RoundKind), default=RoundKind.RUBRIC, server_default=RoundKind.RUBRIC.value
    )
    # A comparative round's effect on the results (None: the default, RANK).
    comparative_results: Mapped[ComparativeResults | None] = mapped_column(
        _enum(ComparativeResults)
    )
    closes_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Comparison(Base):
    """One pair of entries a judge of a comparative round compares; ``winner_entry_id`` is
    their pick (None until they decide). A pair may come more than once in a round (few
    entries, many comparisons each), to different judges or the same."""

    __tablename__ = "comparisons"
    # A judge's next pair to decide; a round's decided pairs for the fit.
    __table_args__ = (
        Index("ix_comparisons_round_judge_decided", "round_id", "judge_id", "decided_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    judge_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    left_entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"))
    right_entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"))
    winner_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("entries.id", ondelete="CASCADE")
    )
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("round_id", "entry_id", "judge_id"),
        # A round's work per judge: progress counts, a judge's list for the organiser.
        Index("ix_assignments_round_judge_status", "round_id", "judge_id", "status"),
        # A round's totals by status; one judge's work across rounds.
        Index("ix_assignments_round_status", "round_id", "status"),
        Index("ix_assignments_judge_round_status", "judge_id", "round_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[AssignmentStatus] = mapped_column(
        _enum(AssignmentStatus), default=AssignmentStatus.ASSIGNED
    )
    recusal_reason: Mapped[str | None] = mapped_column(NFCText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Score(Base):
    """One judge's scoring of one entry: points per criterion and the two comments."""

    __tablename__ = "scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), unique=True
    )
    points: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total: Mapped[float | None] = mapped_column(Float)
    comment_to_organizers: Mapped[str] = mapped_column(NFCText, default="")
    feedback_to_entrant: Mapped[str] = mapped_column(NFCText, default="")
    # Who typed the score in, when not the judge: a clerk copying a paper sheet.
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Conflict(Base):
    """A judge must not see entries of this unit (and the units below it) or of this entrant."""

    __tablename__ = "conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    entrant_id: Mapped[int | None] = mapped_column(ForeignKey("entrants.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(NFCText, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Result(Base):
    __tablename__ = "results"
    __table_args__ = (
        UniqueConstraint("contest_id", "entry_id"),
        # A division's results in rank order, a page at a time.
        Index("ix_results_contest_division_rank", "contest_id", "division_id", "rank"),
        # The few prize winners of a contest (the gallery, the public results, the report's
        # prize counts), among a national contest's million results.
        Index(
            "ix_results_contest_prized",
            "contest_id",
            postgresql_where=text("prize IS NOT NULL"),
            sqlite_where=text("prize IS NOT NULL"),
        ),
        # Whether, and when, a contest's results were published: none before publication.
        Index(
            "ix_results_contest_published",
            "contest_id",
            postgresql_where=text("published_at IS NOT NULL"),
            sqlite_where=text("published_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    division_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id", ondelete="SET NULL"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"))
    rank: Mapped[int]
    final_score: Mapped[float] = mapped_column(Float)
    # The plain mean of the judges' totals, shown beside the final (possibly normalised) score.
    raw_score: Mapped[float | None] = mapped_column(Float)
    judges: Mapped[int] = mapped_column(default=0)
    prize: Mapped[Prize | None] = mapped_column(_enum(Prize))
    override_reason: Mapped[str | None] = mapped_column(NFCText)
    certificate_serial: Mapped[str | None] = mapped_column(String(32), unique=True)
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RemarkRequest(Base):
    """An entrant's request to have a published result re-marked by a different judge.

    One per entry. The judge's points and feedback live here rather than in ``scores`` so that
    the judging round, its progress and its aggregation stay as they were published.
    """

    __tablename__ = "remark_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), unique=True)
    contest_id: Mapped[int] = mapped_column(
        ForeignKey("contests.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(NFCText)
    status: Mapped[RemarkStatus] = mapped_column(
        _enum(RemarkStatus), default=RemarkStatus.REQUESTED
    )
    judge_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    points: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total: Mapped[float | None] = mapped_column(Float)
    feedback: Mapped[str] = mapped_column(NFCText, default="")
    # The published figures when the request was filed, and the decision.
    previous_score: Mapped[float | None] = mapped_column(Float)
    previous_prize: Mapped[Prize | None] = mapped_column(_enum(Prize))
    new_prize: Mapped[Prize | None] = mapped_column(_enum(Prize))
    decision_note: Mapped[str] = mapped_column(NFCText, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rescored_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Who did what, when, and the values before and after."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_object", "object_type", "object_id"),
        # The audit log filtered by action, newest first.
        Index("ix_audit_events_action_id", "action", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(NFCString(255), default="")
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    client_ip: Mapped[str | None] = mapped_column(String(64))


class ApiToken(Base):
    """A bearer token for integrations; only its digest is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, shown in lists so that an owner can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AudienceVote(Base):
    """A contest's public vote for the audience prize: when it runs and whether its counts stay
    hidden until it closes. It never touches the official scores, ranks or prizes."""

    __tablename__ = "audience_votes"

    contest_id: Mapped[int] = mapped_column(
        ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True
    )
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    counts_hidden: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Ballot(Base):
    """One vote of the audience: for an entry, by the holder of one receipt's vote code (kept
    as a digest: one ballot per code per contest), from an address (for the fraud flags)."""

    __tablename__ = "ballots"
    __table_args__ = (
        UniqueConstraint("contest_id", "voter_hash"),
        Index("ix_ballots_contest_entry", "contest_id", "entry_id"),
        Index("ix_ballots_contest_ip_cast", "contest_id", "client_ip", "cast_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"))
    voter_hash: Mapped[str] = mapped_column(String(64))
    client_ip: Mapped[str] = mapped_column(String(64))
    cast_at: Mapped[datetime] = mapped_column(default=utcnow)


class JudgeSlip(Base):
    """A short sign-in code for a judge who does not manage an account: printed on a slip or
    sent as a link, for one judge, expiring, revocable. Only its hash is kept."""

    __tablename__ = "judge_slips"

    id: Mapped[int] = mapped_column(primary_key=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Invitation(Base):
    """A signed, expiring, single-use link with which a user sets a password."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    nonce: Mapped[str] = mapped_column(String(43), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LoginAttempt(Base):
    """Sign-in attempts, kept in the database so that throttling holds across app processes."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_client_ip_at", "client_ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    email: Mapped[str] = mapped_column(String(254))
    client_ip: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)


class Job(Base):
    """A long piece of work run by a worker: what it is, how far it got, and how it ended.

    The row, not the queue's message, is the truth: a worker runs a job only after claiming the
    row (one UPDATE that a second worker cannot also win), keeps ``heartbeat_at`` fresh while
    it works, and a job whose heartbeat went stale is claimed again and resumed. ``active_key``
    is set while the job is queued or running, so that asking twice for the same work (the
    same kind on the same contest) finds the job already under way instead of starting a second.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_heartbeat", "status", "heartbeat_at"),
        Index("ix_jobs_contest_created", "contest_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    contest_id: Mapped[int | None] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus), default=JobStatus.QUEUED)
    active_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int] = mapped_column(BigInteger, default=0)
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(NFCText)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(120))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


# --- tallies ----------------------------------------------------------------------------------
# Counts the organiser's pages show, kept by the database itself: triggers on entries and
# assignments (migrations 0009 and 0017) add and take away in the statement that changes a
# row, whatever code changed it, so a page reads a few rows instead of counting a national
# table. No foreign keys: a trigger may still count rows of a contest being deleted.


class EntryTally(Base):
    """How many entries a contest has in each status."""

    __tablename__ = "entry_tallies"

    contest_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[EntryStatus] = mapped_column(_enum(EntryStatus), primary_key=True)
    entries: Mapped[int] = mapped_column(default=0)


class EntrantTally(Base):
    """How many entrants of an event have at least one submitted entry."""

    __tablename__ = "entrant_tallies"

    event_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    entrants: Mapped[int] = mapped_column(default=0)


class RoundTally(Base):
    """How many assignments a round has in each status, in a few shards (by judge) so that
    judges scoring at once seldom wait for each other's tally row."""

    __tablename__ = "round_tallies"

    round_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[AssignmentStatus] = mapped_column(_enum(AssignmentStatus), primary_key=True)
    shard: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    assignments: Mapped[int] = mapped_column(default=0)


class UnitTally(Base):
    """A unit's submitted entries (as their entrants gave the unit) and the entrants with at
    least one, not counting the units below it."""

    __tablename__ = "unit_tallies"

    unit_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    entries: Mapped[int] = mapped_column(default=0)
    entrants: Mapped[int] = mapped_column(default=0)


class UnitEntryTally(Base):
    """How many entries a contest has in each status from the entrants of one unit (not
    counting the units below it: a scope's count is the sum over its units, so that a unit
    moved to another parent needs nothing recounted)."""

    __tablename__ = "unit_entry_tallies"

    contest_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    unit_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[EntryStatus] = mapped_column(_enum(EntryStatus), primary_key=True)
    entries: Mapped[int] = mapped_column(default=0)


class UnitRoundTally(Base):
    """How many assignments a round has in each status on the entries of one unit's entrants
    (not counting the units below it), whatever the entry's status."""

    __tablename__ = "unit_round_tallies"

    round_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    unit_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[AssignmentStatus] = mapped_column(_enum(AssignmentStatus), primary_key=True)
    assignments: Mapped[int] = mapped_column(default=0)


class ConfigVersion(Base):
    """One row whose number the database raises, by triggers (migration 0016), with every
    committed change to what a submission reads of a contest: events, units, contests,
    divisions, books and criteria, whatever code made it. Each app process keeps its copy of
    that configuration and checks it against this one number per request."""

    __tablename__ = "config_versions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    # PostgreSQL raises the number once per transaction, as it commits: the last transaction
    # that did (unused on SQLite, whose triggers run as each row changes).
    bumped_by: Mapped[int | None] = mapped_column(BigInteger)
