"""Children's personal data: a copy of what is held about an entry, its erasure, and retention.

Personal data sits on the entrant (name, age, grade, guardian, phone), in the entry's own free
text (title, note, typed text) and in its files. Erasure blanks the first two and deletes the
files with every preview derived from them, keeping the rows as anonymous ones so that counts,
ranks and the event report still add up. The audit log keeps that an erasure happened, by whom,
when and why, and loses what was erased.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import zipfile
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from contest import audit
from contest.db import utcnow
from contest.files.kinds import kind_of_stored
from contest.i18n import gettext, normalize_text
from contest.intake import services as intake
from contest.models import (
    Asset,
    AssetRole,
    Assignment,
    AuditEvent,
    Conflict,
    Consent,
    Contest,
    Entrant,
    Entry,
    Event,
    RemarkRequest,
    Result,
    Score,
    User,
)
from contest.notice import AGREEMENT_VERSION
from contest.privacy.interfaces import (
    ARCHIVE_CHUNK,
    AUDIT_TEXT_KEYS,
    ERASED_MARK,
    ERASED_NAME,
    EntryNotFoundError,
    ErasureReport,
    ReasonRequiredError,
    RetentionItem,
    RetentionRun,
)
from contest.progress import Progress, no_progress
from contest.results.gallery import GalleryCache
from contest.results.outcome import published_outcome
from contest.tokens import normalize_receipt_code
from storage import Storage

REASON_MAX = 1000
# Entries whose leftover files a retention run deletes at a time (one query each).
RETENTION_FILES_BATCH = 500

# --- the notice ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoticeFacts:
    """What the notice states that depends on the event: who runs it, how long data stays."""

    organizer: str
    retention_months: int | None
    version: str = AGREEMENT_VERSION


async def notice_facts(session: AsyncSession) -> NoticeFacts:
    """The current event's organiser and retention (the newest event, as the home page)."""
    event = await session.scalar(
        select(Event).order_by(Event.starts_on.desc(), Event.id.desc()).limit(1)
    )
    if event is None:
        return NoticeFacts(organizer="", retention_months=None)
    return NoticeFacts(organizer=event.organizer, retention_months=event.retention_months)


# --- withdrawing the name's consent --------------------------------------------------------


async def withdraw_name_consent(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    view: intake.EntryView,
    gallery: GalleryCache | None = None,
    client_ip: str | None = None,
) -> bool:
    """Stop showing the entrant's name, at any time (after the deadline and the publication
    too), for the holder of the private link: the guardian's choice and the child's consent are
    withdrawn together. What reads the name (the gallery, the results API, certificate
    verification, the exports, certificates made from now on) follows at once; this process's
    gallery pages of the contest are forgotten. False when it was already withdrawn."""
    async with sessionmaker.begin() as session:
        entrant = await session.get(Entrant, view.entrant.id, with_for_update=True)
        assert entrant is not None
        already = entrant.name_withdrawn_at is not None and entrant.consent == Consent.HIDDEN
        if not already:
            before = {
                "consent": entrant.consent.value,
                "child_consent": entrant.child_consent_at is not None,
            }
            entrant.consent = Consent.HIDDEN
            entrant.child_consent_at = None
            entrant.name_withdrawn_at = utcnow()
            audit.record(
                session,
                "entry.name_consent_withdraw",
                view.entry,
                actor_label="entrant",
                before=before,
                after={"consent": Consent.HIDDEN.value, "child_consent": False},
                client_ip=client_ip,
            )
    if gallery is not None:
        gallery.forget(view.contest.slug)
    return not already


# --- access: a copy of everything held about an entry -------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def archive_name(index: int, asset: Asset) -> str:
    """A file's name inside the archive: numbered, with the name the entrant gave it (only its
    last segment, and never a path) or the kind's extension."""
    kind = kind_of_stored(asset.content_type)
    given = (asset.original_filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip(". ")
    name = given or f"original.{kind.extension if kind else 'bin'}"
    return f"files/{index}-{name}"


async def entry_record(session: AsyncSession, *, view: intake.EntryView) -> dict[str, Any]:
    """Everything the platform holds about one entry, as plain JSON values."""
    entry, entrant = view.entry, view.entrant
    originals = [a for a in entry.assets if a.role == AssetRole.ORIGINAL]
    names = {a.id: archive_name(i, a) for i, a in enumerate(originals, start=1)}
    outcome = await published_outcome(session, entry_id=entry.id)
    remark = await session.scalar(select(RemarkRequest).where(RemarkRequest.entry_id == entry.id))
    history = (
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == "entry", AuditEvent.object_id == str(entry.id))
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    ).all()
    return {
        "notice_version": AGREEMENT_VERSION,
        "generated_at": utcnow().isoformat(),
        "entrant": {
            "full_name": entrant.full_name,
            "age": entrant.age,
            "grade": entrant.grade,
            "is_minor": entrant.is_minor,
            "guardian_name": entrant.guardian_name,
            "guardian_phone": entrant.guardian_phone,
            "unit": view.unit.name if view.unit else None,
            "name_in_public": entrant.consent.value,
            "child_consent_at": _iso(entrant.child_consent_at),
            "name_withdrawn_at": _iso(entrant.name_withdrawn_at),
            "agreed_at": _iso(entrant.agreed_at),
            "agreement_version": entrant.agreement_version,
            "recorded_at": _iso(entrant.created_at),
        },
        "entry": {
            "receipt_code": entry.receipt_code,
            "event": view.contest.event.name,
            "contest": view.contest.title,
            "division": view.division.name if view.division else None,
            "status": entry.status.value,
            "title": entry.title,
            "note": entry.note,
            "book_title": entry.book_title,
            "book_author": entry.book_author,
            "body_text": entry.body_text,
            "word_count": entry.word_count,
            "submitted_at": _iso(entry.created_at),
            "updated_at": _iso(entry.updated_at),
            "erased_at": _iso(entry.erased_at),
        },
        "files": [
            {
                "role": a.role.value,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "original_filename": a.original_filename,
                "width": a.width,
                "height": a.height,
                "stored_at": _iso(a.created_at),
                "in_archive": names.get(a.id),
            }
            for a in entry.assets
        ],
        "result": {
            "rank": outcome.rank,
            "prize": outcome.prize.value if outcome.prize else None,
            "feedback": outcome.feedback,
        }
        if outcome is not None
        else None,
        "remark_request": {
            "reason": remark.reason,
            "status": remark.status.value,
            "filed_at": _iso(remark.created_at),
        }
        if remark is not None
        else None,
        "history": [
            {
                "at": _iso(event.at),
                "action": event.action,
                # Staff are named by role, not by account: the copy is about the entrant.
                "by": "entrant" if event.actor_label == "entrant" else "organisers",
            }
            for event in history
        ],
    }


async def write_access_archive(
    session: AsyncSession, *, storage: Storage, view: intake.EntryView
) -> IO[bytes]:
    """A ZIP (in a temporary file, positioned at its start) holding ``entry.json`` and the
    entry's original files. Closing the file deletes it. Raises FileNotFoundError or
    StorageError when a file cannot be read, leaving nothing behind."""
    record = await entry_record(session, view=view)
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
    try:
        archive = zipfile.ZipFile(spool, "w")
        data = json.dumps(record, ensure_ascii=False, indent=2).encode()
        await asyncio.to_thread(
            archive.writestr, "entry.json", data, compress_type=zipfile.ZIP_DEFLATED
        )
        originals = [a for a in view.entry.assets if a.role == AssetRole.ORIGINAL]
        for index, asset in enumerate(originals, start=1):
            # Media are compressed already: stored as they are, streamed through in chunks.
            member = await asyncio.to_thread(
                archive.open, archive_name(index, asset), "w", force_zip64=True
            )
            try:
                async for chunk in _chunks(storage, asset.storage_key):
                    await asyncio.to_thread(member.write, chunk)
            finally:
                await asyncio.to_thread(member.close)
        await asyncio.to_thread(archive.close)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


async def _chunks(storage: Storage, key: str) -> AsyncIterator[bytes]:
    stream = await storage.get_stream(key)
    buffer = bytearray()
    async for chunk in stream:
        buffer += chunk
        if len(buffer) >= ARCHIVE_CHUNK:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


async def iter_file(spool: IO[bytes]) -> AsyncIterator[bytes]:
    """A temporary file's bytes for a streamed response; the file is closed (deleted) after."""
    try:
        while chunk := await asyncio.to_thread(spool.read, ARCHIVE_CHUNK):
            yield chunk
    finally:
        spool.close()


# --- erasure ------------------------------------------------------------------------------


def _personal_patterns(entrant: Entrant) -> list[re.Pattern[str]]:
    """What finds the entrant's values where they were copied into free text: the names
    (case-blind, longest first, so a full name goes before a part of it) and the phone number
    however it was spaced or prefixed (0912 345 678, 0912.345.678, +84 912 345 678)."""
    names = {entrant.full_name.strip(), (entrant.guardian_name or "").strip()}
    patterns = [
        re.compile(re.escape(name), re.IGNORECASE)
        for name in sorted(names, key=len, reverse=True)
        if len(name) >= 2
    ]
    digits = re.sub(r"\D", "", entrant.guardian_phone or "")
    national = digits[2:] if digits.startswith("84") else digits.removeprefix("0")
    if len(national) >= 6:
        spaced = r"[\s.()-]*".join(national)
        patterns.append(re.compile(r"(?:\+?\s*84|0)[\s.()-]*" + spaced))
    return patterns


def _without(text: str | None, personal: Sequence[re.Pattern[str]]) -> str | None:
    """Free text with every occurrence of a personal value replaced by a mark."""
    if not text:
        return text
    for pattern in personal:
        text = pattern.sub(ERASED_MARK, text)
    return text


def _scrub(value: Any, personal: Sequence[re.Pattern[str]]) -> Any:
    """An audit value with the entry's own free text dropped and personal values marked."""
    if isinstance(value, dict):
        return {k: None if k in AUDIT_TEXT_KEYS else _scrub(v, personal) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, personal) for v in value]
    if isinstance(value, str):
        return _without(value, personal)
    return value


def check_reason(raw: str | None, *, required: bool) -> str:
    reason = normalize_text(raw or "")
    if required and not reason:
        raise ReasonRequiredError(gettext("Write the reason for the erasure."))
    if len(reason) > REASON_MAX:
        raise ReasonRequiredError(gettext("Use at most %(count)s characters.", count=REASON_MAX))
    return reason


async def _audit_rows_about(session: AsyncSession, *, entry_ids: Sequence[int]) -> list[AuditEvent]:
    """Audit events about the entries, their judges' assignments, results and re-marking."""
    assignment_ids = (
        await session.scalars(select(Assignment.id).where(Assignment.entry_id.in_(entry_ids)))
    ).all()
    result_ids = (
        await session.scalars(select(Result.id).where(Result.entry_id.in_(entry_ids)))
    ).all()
    remark_ids = (
        await session.scalars(select(RemarkRequest.id).where(RemarkRequest.entry_id.in_(entry_ids)))
    ).all()
    objects = [
        ("entry", entry_ids),
        ("assignment", assignment_ids),
        ("result", result_ids),
        ("remark", remark_ids),
        ("remark_request", remark_ids),
    ]
    conditions = [
        (AuditEvent.object_type == kind) & AuditEvent.object_id.in_([str(i) for i in ids])
        for kind, ids in objects
        if ids
    ]
    return list((await session.scalars(select(AuditEvent).where(or_(*conditions)))).all())


async def _scrub_rows(
    session: AsyncSession, *, entrant: Entrant, entries: Sequence[Entry], now: datetime
) -> None:
    """Blank the personal data in every row that holds it, in the caller's transaction."""
    personal = _personal_patterns(entrant)
    ids = [e.id for e in entries]
    for event in await _audit_rows_about(session, entry_ids=ids):
        event.before = _scrub(event.before, personal)
        event.after = _scrub(event.after, personal)
        if event.actor_id is None and event.actor_label == "entrant":
            # The family's own device address goes too; staff's stays for accountability.
            event.client_ip = None
    for score in (
        await session.scalars(select(Score).join(Assignment).where(Assignment.entry_id.in_(ids)))
    ).all():
        score.feedback_to_entrant = _without(score.feedback_to_entrant, personal) or ""
        score.comment_to_organizers = _without(score.comment_to_organizers, personal) or ""
    for assignment in (
        await session.scalars(select(Assignment).where(Assignment.entry_id.in_(ids)))
    ).all():
        assignment.recusal_reason = _without(assignment.recusal_reason, personal)
    for result in (await session.scalars(select(Result).where(Result.entry_id.in_(ids)))).all():
        result.override_reason = _without(result.override_reason, personal)
    for remark in (
        await session.scalars(select(RemarkRequest).where(RemarkRequest.entry_id.in_(ids)))
    ).all():
        # The entrant's own words: gone. The judge's and organiser's: kept, marked.
        remark.reason = ""
        remark.feedback = _without(remark.feedback, personal) or ""
        remark.decision_note = _without(remark.decision_note, personal) or ""
    for conflict in (
        await session.scalars(select(Conflict).where(Conflict.entrant_id == entrant.id))
    ).all():
        conflict.reason = _without(conflict.reason, personal) or ""
    for asset in (await session.scalars(select(Asset).where(Asset.entry_id.in_(ids)))).all():
        asset.original_filename = None
    entrant.full_name = ERASED_NAME
    entrant.guardian_name = None
    entrant.guardian_phone = None
    entrant.age = None
    entrant.grade = None
    entrant.consent = Consent.HIDDEN
    entrant.child_consent_at = None
    for entry in entries:
        entry.title = ""
        entry.note = ""
        entry.body_text = None
        entry.erased_at = entry.erased_at or now


@dataclass(frozen=True, slots=True)
class Erasure:
    """What ``erase_personal_data`` found and did: the entrant's entries, and whether their
    rows had been erased before."""

    receipt_code: str
    entry_ids: list[int]
    files: int
    already: bool


async def erase_personal_data(
    session: AsyncSession,
    *,
    receipt_code: str,
    reason: str,
    actor: User | None = None,
    actor_label: str = "",
    client_ip: str | None = None,
) -> Erasure:
    """Blank the personal data of the entrant behind a receipt code, with every entry of
    theirs, and audit it once, in the caller's transaction. Their files are left for
    ``delete_entry_files``, once this is committed."""
    code = normalize_receipt_code(receipt_code)
    entry = await session.scalar(
        select(Entry).where(Entry.receipt_code == code).options(selectinload(Entry.entrant))
    )
    if entry is None:
        raise EntryNotFoundError(
            gettext("No entry has this receipt code. Please check the code and try again.")
        )
    entrant = entry.entrant
    entries = list(
        (await session.scalars(select(Entry).where(Entry.entrant_id == entrant.id))).all()
    )
    ids = [e.id for e in entries]
    files = await session.scalar(
        select(func.count()).select_from(Asset).where(Asset.entry_id.in_(ids))
    )
    already = all(e.erased_at is not None for e in entries)
    if not already:
        personal = _personal_patterns(entrant)
        await _scrub_rows(session, entrant=entrant, entries=entries, now=utcnow())
        audit.record(
            session,
            "entry.erase",
            entry,
            actor=actor,
            actor_label=actor_label,
            after={"reason": _without(reason, personal)},
            client_ip=client_ip,
        )
    return Erasure(code, ids, files or 0, already)


async def erase_entrant(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    receipt_code: str,
    reason: str,
    actor: User | None = None,
    actor_label: str = "",
    client_ip: str | None = None,
) -> ErasureReport:
    """Erase the personal data of the entrant behind a receipt code, with every entry of
    theirs: the rows are blanked and audited in one transaction, then the files go.

    Like the intake's files, this owns its transactions: the files can only go once the rows
    that stop pointing at them are committed, and each file's row goes only after its object
    (so a storage outage leaves rows the next run finds). Running it again finishes what
    storage refused the first time and otherwise changes nothing, not even the audit log.
    """
    async with sessionmaker.begin() as session:
        erasure = await erase_personal_data(
            session,
            receipt_code=receipt_code,
            reason=reason,
            actor=actor,
            actor_label=actor_label,
            client_ip=client_ip,
        )
    if erasure.already and not erasure.files:
        return ErasureReport(erasure.receipt_code, len(erasure.entry_ids), 0, 0, already=True)
    deleted, left = await delete_entry_files(
        sessionmaker=sessionmaker, storage=storage, entry_ids=erasure.entry_ids
    )
    return ErasureReport(erasure.receipt_code, len(erasure.entry_ids), deleted, left, already=False)


async def delete_entry_files(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    entry_ids: Sequence[int],
) -> tuple[int, int]:
    """Delete the entries' objects (originals and every derived one), then their rows (each
    step its own short transaction, as every file's life in the intake)."""
    async with sessionmaker() as session:
        assets = list(
            (await session.scalars(select(Asset).where(Asset.entry_id.in_(entry_ids)))).all()
        )
    deleted = await intake.remove_assets(sessionmaker=sessionmaker, storage=storage, assets=assets)
    return deleted, len(assets) - deleted


# --- retention ----------------------------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` later; the 31st becomes the month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return moment.replace(year=year, month=month, day=min(moment.day, days))


async def retention_plan(session: AsyncSession, *, now: datetime) -> list[RetentionItem]:
    """The entries whose retention has run out: per event with a retention setting, each
    contest's clock starts at its publication (its latest published result) or, for a contest
    never published, at its closing; ``retention_months`` later, every entry of that contest
    that is not a published winner is due, unless it is already erased or its entrant also has
    a winning entry (erasure takes the entrant whole)."""
    events = (await session.scalars(select(Event).where(Event.retention_months.is_not(None)))).all()
    published: dict[int, datetime] = {
        contest_id: at
        for contest_id, at in (
            await session.execute(
                select(Result.contest_id, func.max(Result.published_at))
                .where(Result.published_at.is_not(None))
                .group_by(Result.contest_id)
            )
        ).all()
        if at is not None
    }
    winning_entrants = set(
        (
            await session.scalars(
                select(Entry.entrant_id)
                .join(Result, Result.entry_id == Entry.id)
                .where(Result.published_at.is_not(None), Result.prize.is_not(None))
            )
        ).all()
    )
    items: list[RetentionItem] = []
    for event in sorted(events, key=lambda e: e.id):
        assert event.retention_months is not None
        contests = (
            await session.scalars(
                select(Contest).where(Contest.event_id == event.id).order_by(Contest.id)
            )
        ).all()
        for contest in contests:
            started = published.get(contest.id) or contest.closes_at
            due = add_months(started, event.retention_months)
            if due > now:
                continue
            rows = (
                await session.execute(
                    select(Entry.id, Entry.receipt_code, Entry.entrant_id)
                    .where(Entry.contest_id == contest.id, Entry.erased_at.is_(None))
                    .order_by(Entry.id)
                )
            ).all()
            items.extend(
                RetentionItem(event.slug, contest.slug, code, entry_id, started, due)
                for entry_id, code, entrant_id in rows
                if entrant_id not in winning_entrants
            )
    return items


async def _erased_with_files(session: AsyncSession) -> list[int]:
    """Entries erased whose files are not all gone yet (storage refused them, or the run that
    erased them stopped before their files)."""
    return [
        entry_id
        for entry_id in (
            await session.scalars(
                select(Asset.entry_id)
                .join(Entry, Entry.id == Asset.entry_id)
                .where(Entry.erased_at.is_not(None), Asset.entry_id.is_not(None))
                .distinct()
                .order_by(Asset.entry_id)
            )
        ).all()
        if entry_id is not None
    ]


async def apply_retention(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    now: datetime,
    dry_run: bool,
    progress: Progress = no_progress,
) -> RetentionRun:
    """Erase what the plan lists (nothing with ``dry_run``), through the one erasure, then
    the files still left of entries erased before. ``progress`` hears (entries done, entries
    in all) after each one.

    Each entrant's erasure is its own unit of work, so a run stopped half-way keeps what it
    did, and the next run takes up the rest: the plan leaves out what is erased already, and
    the files an erased entry still has are deleted then."""
    async with sessionmaker() as session:
        items = await retention_plan(session, now=now)
        leftovers = [] if dry_run else await _erased_with_files(session)
    if dry_run:
        await progress(len(items), len(items))
        return RetentionRun(items, [])
    total = len(items) + len(leftovers)
    await progress(0, total)
    reports: list[ErasureReport] = []
    for done, item in enumerate(items, start=1):
        reports.append(
            await erase_entrant(
                sessionmaker=sessionmaker,
                storage=storage,
                receipt_code=item.receipt_code,
                reason=retention_reason(item),
                actor_label="retention",
            )
        )
        await progress(done, total)
    deleted = left = 0
    for start in range(0, len(leftovers), RETENTION_FILES_BATCH):
        batch = leftovers[start : start + RETENTION_FILES_BATCH]
        gone, kept = await delete_entry_files(
            sessionmaker=sessionmaker, storage=storage, entry_ids=batch
        )
        deleted, left = deleted + gone, left + kept
        await progress(len(items) + start + len(batch), total)
    return RetentionRun(items, reports, len(leftovers), deleted, left)


def retention_reason(item: RetentionItem) -> str:
    return f"retention: due {item.due.date().isoformat()}"


# --- the organiser's page -----------------------------------------------------------------


async def recent_erasures(session: AsyncSession, *, limit: int = 20) -> list[AuditEvent]:
    return list(
        (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "entry.erase")
                .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                .limit(limit)
            )
        ).all()
    )


async def erased_codes(session: AsyncSession, *, entry_ids: Iterable[int]) -> dict[int, str]:
    ids = list(entry_ids)
    if not ids:
        return {}
    rows = await session.execute(select(Entry.id, Entry.receipt_code).where(Entry.id.in_(ids)))
    return {entry_id: code for entry_id, code in rows.all()}
