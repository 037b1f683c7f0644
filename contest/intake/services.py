"""Entry intake: windows, validation, stored files with their rows, entries, edits, withdrawals.

Files are written before the rows that make them count, and every stored object has a row
first: an Asset without an entry is an upload in flight. A failed submission removes its
objects and rows; what a crash leaves behind is an old unattached upload, which the sweep
removes. So an entry never lacks its file, and no file outlives the sweep without an entry.

Transactions: functions that take a session work in it and never commit; the caller owns the
unit of work. The one exception is a file's life, which a database transaction cannot hold:
a file's row is committed before its bytes are streamed (``store_upload``,
``create_upload_slot``), and its row goes only after its object (``discard_uploads``,
``remove_assets``). The operations that carry files, ``submit_entry`` and ``edit_entry``,
therefore take the sessionmaker and run their rows' unit of work themselves
(``record_entry``, ``record_changes``), so that files can be removed once it is committed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import re
import tempfile
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from contest import audit, rules
from contest.db import utcnow
from contest.events.media import takes_typed_text, word_limit
from contest.files import keys
from contest.files.cleaners import StreamCleaner, scrub_file
from contest.files.duration import DurationReader
from contest.files.images import Derivatives, check_header, make_derivatives
from contest.files.interfaces import UnreadableImageError, UnsupportedFileError
from contest.files.kinds import (
    FILE_KINDS,
    PREVIEW_TYPE,
    FileKind,
    declared_kind,
    division_accepts_label,
    kind_of_stored,
    kinds_accepted,
)
from contest.files.limits import IMAGE_HEADER_BYTES, SNIFF_BYTES, SPOOL_IN_MEMORY
from contest.files.sniff import check_kind, clean_filename, sniff
from contest.i18n import (
    count_words,
    format_datetime,
    format_duration,
    format_duration_range,
    format_size,
    gettext,
    ngettext,
    normalize_text,
)
from contest.intake.interfaces import (
    ADULT_AGE,
    BOOK_TITLE_MAX,
    IDEMPOTENCY_KEY_MAX,
    IDEMPOTENCY_KEY_MIN,
    MAX_AGE,
    MAX_GRADE,
    MIN_AGE,
    NAME_MAX,
    NOTE_MAX,
    PROCESS_ENTRY,
    TITLE_MAX,
    UPLOAD_SLOT_EXPIRES,
    EntryData,
    EntryLockedError,
    EntryNotFoundError,
    EntryValidationError,
    MalformedUploadError,
    PendingUpload,
    StorageDownError,
    UploadNotFoundError,
    UploadSlot,
    UploadTooLargeError,
    WindowClosedError,
)
from contest.jobs.queue import JobQueue
from contest.jobs.services import create_job
from contest.models import (
    Asset,
    AssetRole,
    Book,
    Consent,
    Contest,
    ContestKind,
    ContestStatus,
    Division,
    Entrant,
    Entry,
    EntryStatus,
    FileState,
    Job,
    Unit,
    User,
)
from contest.notice import (
    AGREEMENT_FIELD,
    AGREEMENT_VERSION,
    CHILD_CONSENT_FIELD,
    agreed,
    needs_child_consent,
)
from contest.tokens import hash_token, new_receipt_code, new_secret_token, normalize_receipt_code
from storage import ObjectTooLargeError, Storage, StorageError

RECEIPT_ATTEMPTS = 5
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]+")
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_PHONE_NOISE = re.compile(r"[\s.()-]")
_PHONE = re.compile(r"\+?[0-9]{9,15}")

# --- contests and their windows -----------------------------------------------------------


def check_window(contest: Contest, now: datetime) -> None:
    """Entries only while the contest is open, judged by the server's clock."""
    if contest.status == ContestStatus.OPEN and now < contest.opens_at:
        raise WindowClosedError(
            gettext(
                "Entries for this contest open at %(time)s. Nothing was sent; "
                "please come back then.",
                time=format_datetime(contest.opens_at),
            )
        )
    if contest.status != ContestStatus.OPEN or now >= contest.closes_at:
        raise WindowClosedError(
            gettext(
                "Entries for this contest closed at %(time)s. Nothing was sent.",
                time=format_datetime(contest.closes_at),
            )
        )


def submission_limit(contest: Contest, overhead: int) -> int:
    """The largest body a submission to this contest can honestly have."""
    return contest.max_file_size * max(1, contest.max_files) + overhead


# --- units --------------------------------------------------------------------------------


def group_units(units: Sequence[Unit]) -> list[tuple[Unit, list[Unit]]]:
    """Top-level units with the classes inside them, for a grouped choice."""
    ids = {u.id for u in units}
    children: dict[int, list[Unit]] = {}
    for unit in units:
        if unit.parent_id is not None and unit.parent_id in ids:
            children.setdefault(unit.parent_id, []).append(unit)
    tops = [u for u in units if u.parent_id is None or u.parent_id not in ids]
    return [(top, sorted(children.get(top.id, []), key=lambda u: u.name)) for top in tops]


# --- validation ---------------------------------------------------------------------------


def _too_long(limit: int) -> str:
    return gettext("Use at most %(count)s characters.", count=limit)


def _text(
    values: Mapping[str, str],
    name: str,
    errors: dict[str, str],
    *,
    limit: int,
    required: str | None = None,
) -> str:
    value = normalize_text(values.get(name, ""))
    if required and not value:
        errors[name] = required
    elif len(value) > limit:
        errors[name] = _too_long(limit)
    return value


def _number(
    values: Mapping[str, str], name: str, errors: dict[str, str], *, low: int, high: int
) -> int | None:
    raw = normalize_text(values.get(name, ""))
    if not raw:
        return None
    if not raw.isdecimal() or not low <= int(raw) <= high:
        errors[name] = gettext("Enter a number from %(low)s to %(high)s.", low=low, high=high)
        return None
    return int(raw)


def normalize_phone(raw: str) -> str | None:
    compact = _PHONE_NOISE.sub("", raw)
    return compact if _PHONE.fullmatch(compact) else None


def pick_division(divisions: Sequence[Division], *, age: int, grade: int | None) -> Division | None:
    """The division an entrant belongs to. A pupil's grade speaks for their school level
    (grade 1 is age 6); where age ranges overlap at a boundary, the older division wins,
    so an 11-year-old without a grade goes with the secondary pupils."""
    reference = grade + 5 if grade is not None else age
    fitting = [
        d
        for d in divisions
        if (d.min_age is None or d.min_age <= reference)
        and (d.max_age is None or reference <= d.max_age)
    ]
    if not fitting:
        return None
    return max(fitting, key=lambda d: (d.min_age or 0, -d.position))


def _check_book(
    values: Mapping[str, str], books: Sequence[Book], errors: dict[str, str]
) -> tuple[int | None, str, str]:
    choice = normalize_text(values.get("book", ""))
    if choice and choice != "other":
        book = next((b for b in books if str(b.id) == choice), None)
        if book is None:
            errors["book"] = gettext("Choose a book from the list, or choose another book.")
            return None, "", ""
        return book.id, book.title, book.author
    title = _text(values, "book_title", errors, limit=BOOK_TITLE_MAX)
    author = _text(values, "book_author", errors, limit=BOOK_TITLE_MAX)
    if not title and "book_title" not in errors:
        if choice == "other" or not books:
            errors["book_title"] = gettext("Type the title of the book.")
        else:
            errors["book"] = gettext(
                "Choose the book your entry is based on, or choose another book and type its title."
            )
    return None, title, author


def _check_body(
    values: Mapping[str, str],
    contest: Contest,
    errors: dict[str, str],
    *,
    has_files: bool,
    division: Division | None = None,
    required: bool = True,
) -> tuple[str | None, int | None]:
    body = normalize_text(values.get("body_text", "")) or None
    if not takes_typed_text(contest, division):
        if body is not None and contest.kind == ContestKind.WRITING and division is not None:
            errors["body_text"] = gettext(
                "The division %(division)s does not take typed text. Please send one of: "
                "%(types)s.",
                division=division.name,
                types=division_accepts_label(division.accepts, contest.allowed_types),
            )
        elif required and not has_files:
            errors["file"] = gettext("Attach your file.")
        return None, None
    words = count_words(body) if body else None
    limit = word_limit(contest, division)
    if words is not None and limit and words > limit:
        errors["body_text"] = ngettext(
            "The text has %(num)d word; the limit is %(limit)s.",
            "The text has %(num)d words; the limit is %(limit)s.",
            words,
            limit=limit,
        )
    if required and body is None and not has_files:
        errors["body_text"] = gettext("Type your text here, or attach a file.")
    return body, words


def check_consent(values: Mapping[str, str], errors: dict[str, str]) -> str:
    consent = values.get("consent", "")
    if consent not in {c.value for c in Consent}:
        errors["consent"] = gettext("Choose how the name may appear in public.")
    return consent


def check_child_consent(
    values: Mapping[str, str],
    errors: dict[str, str],
    *,
    consent: str,
    age: int | None,
    is_minor: bool,
    given: bool = False,
) -> bool:
    """Whether the child agreed, now, to their name being shown. A child aged 7 to 17 must, in
    their own field, beside the guardian's choice, before the name may be shown; choosing not to
    show it needs nothing, and neither does a consent the child ``given`` already."""
    ticked = agreed(values.get(CHILD_CONSENT_FIELD))
    shown = consent in {Consent.FULL_NAME.value, Consent.INITIALS.value}
    if shown and not ticked and not given and needs_child_consent(age=age, is_minor=is_minor):
        errors[CHILD_CONSENT_FIELD] = gettext(
            "A child aged 7 to 17 must agree for themself before their name can be shown: let "
            "the child tick their own box, or choose not to show the name."
        )
    return shown and ticked


def check_agreement(values: Mapping[str, str], errors: dict[str, str], *, is_minor: bool) -> None:
    """The privacy notice must be agreed to: by a parent or guardian for a minor, by the
    entrant themself otherwise. Without it nothing is kept."""
    if agreed(values.get(AGREEMENT_FIELD)):
        return
    errors[AGREEMENT_FIELD] = (
        gettext(
            "A parent or guardian must read the privacy notice and agree to it before a "
            "child's entry can be sent."
        )
        if is_minor
        else gettext("Please read the privacy notice and tick that you agree to it.")
    )


def validate_entry(
    values: Mapping[str, str],
    *,
    contest: Contest,
    units: Sequence[Unit],
    has_files: bool,
) -> EntryData:
    """Check a submission's fields; EntryValidationError maps each wrong field to a message."""
    errors: dict[str, str] = {}
    full_name = _text(
        values,
        "full_name",
        errors,
        limit=NAME_MAX,
        required=gettext("Enter the entrant's full name."),
    )
    age = _number(values, "age", errors, low=MIN_AGE, high=MAX_AGE)
    if age is None and "age" not in errors:
        errors["age"] = gettext("Enter the entrant's age.")
    grade = _number(values, "grade", errors, low=1, high=MAX_GRADE)
    unit_code = values.get("unit", "")
    unit = next((u for u in units if u.code == unit_code), None)
    if unit is None:
        errors["unit"] = gettext("Choose the school and class, or the residential group.")
    is_minor = age is not None and age < ADULT_AGE
    guardian_name = _text(values, "guardian_name", errors, limit=NAME_MAX) or None
    raw_phone = normalize_text(values.get("guardian_phone", ""))
    guardian_phone = normalize_phone(raw_phone) if raw_phone else None
    if raw_phone and guardian_phone is None:
        errors["guardian_phone"] = gettext("Enter a phone number such as 0912 345 678.")
    if is_minor:
        if not guardian_name and "guardian_name" not in errors:
            errors["guardian_name"] = gettext(
                "Entrants under 18 need a parent or guardian: enter their name."
            )
        if not raw_phone:
            errors["guardian_phone"] = gettext(
                "Entrants under 18 need a parent or guardian: enter their phone number."
            )
    consent = check_consent(values, errors)
    child_consent = check_child_consent(values, errors, consent=consent, age=age, is_minor=is_minor)
    check_agreement(values, errors, is_minor=is_minor)
    title = _text(
        values, "title", errors, limit=TITLE_MAX, required=gettext("Give your entry a title.")
    )
    note = _text(values, "note", errors, limit=NOTE_MAX)
    book_id, book_title, book_author = _check_book(values, contest.books, errors)
    division = pick_division(contest.divisions, age=age, grade=grade) if age is not None else None
    if age is not None and division is None and contest.divisions and "age" not in errors:
        errors["age"] = gettext("No division of this contest is open to this age.")
    body_text, word_count = _check_body(
        values, contest, errors, has_files=has_files, division=division
    )
    if errors:
        raise EntryValidationError(errors, gettext("Some information needs correcting."))
    assert age is not None and unit is not None
    return EntryData(
        full_name=full_name,
        age=age,
        grade=grade,
        unit_id=unit.id,
        guardian_name=guardian_name,
        guardian_phone=guardian_phone,
        consent=consent,
        child_consent=child_consent,
        title=title,
        note=note,
        book_id=book_id,
        book_title=book_title,
        book_author=book_author,
        body_text=body_text,
        word_count=word_count,
        division_id=division.id if division else None,
    )


@dataclass(frozen=True, slots=True)
class EntryChanges:
    title: str
    note: str
    consent: str
    book_id: int | None
    book_title: str
    book_author: str
    body_text: str | None
    word_count: int | None
    child_consent: bool = False


def validate_changes(
    values: Mapping[str, str],
    *,
    contest: Contest,
    entrant: Entrant,
    has_files: bool,
    had_files: bool,
    division: Division | None = None,
) -> EntryChanges:
    """What an entrant may change with the edit link: the entry, not the person (whose age
    picked the ``division`` whose rules still hold). A name to be shown anew (a changed
    choice) needs a child's own consent as a new entry does; an unchanged one stays as it is,
    hidden while a child's consent is missing (contest.notice)."""
    errors: dict[str, str] = {}
    title = _text(
        values, "title", errors, limit=TITLE_MAX, required=gettext("Give your entry a title.")
    )
    note = _text(values, "note", errors, limit=NOTE_MAX)
    consent = check_consent(values, errors)
    child_consent = check_child_consent(
        values,
        errors,
        consent=consent,
        age=entrant.age,
        is_minor=entrant.is_minor,
        given=entrant.child_consent_at is not None or consent == entrant.consent.value,
    )
    book_id, book_title, book_author = _check_book(values, contest.books, errors)
    body_text, word_count = _check_body(
        values, contest, errors, has_files=has_files or had_files, division=division
    )
    if errors:
        raise EntryValidationError(errors, gettext("Some information needs correcting."))
    return EntryChanges(
        title, note, consent, book_id, book_title, book_author, body_text, word_count, child_consent
    )


def check_idempotency_key(raw: str | None) -> str | None:
    """A client's idempotency key: 16 to 64 characters of letters, digits and ``_.:-``."""
    if raw is None or raw == "":
        return None
    if not IDEMPOTENCY_KEY_MIN <= len(raw) <= IDEMPOTENCY_KEY_MAX or not _IDEMPOTENCY_KEY.fullmatch(
        raw
    ):
        raise MalformedUploadError(
            gettext(
                "The Idempotency-Key must be 16 to 64 letters, digits or the signs _ . : -, "
                "such as a UUID."
            )
        )
    return raw


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


def edit_token_for(secret_key: str, *, contest_id: int, idempotency_key: str) -> str:
    """The edit token of a submission made with an idempotency key.

    Derived rather than random so that a resent request (a double click, a retry after a
    dropped answer) can be answered with the same private link; only the hash is stored.
    """
    digest = hmac.new(
        secret_key.encode(),
        f"contest.intake.edit:{contest_id}:{idempotency_key}".encode(),
        hashlib.sha256,
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# --- stored files -------------------------------------------------------------------------


def too_large(limit: int) -> UploadTooLargeError:
    return UploadTooLargeError(
        gettext(
            "The file is larger than the limit of %(size)s. Please send a smaller file.",
            size=format_size(limit),
        )
    )


def _new_key(kind: FileKind) -> tuple[str, str]:
    upload_id = keys.new_upload_id()
    return upload_id, keys.original_key(upload_id, kind)


async def _add_original(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    kind: FileKind,
    key: str,
    filename: str | None,
    size: int = 0,
    state: FileState = FileState.READY,
) -> int:
    """An uploaded file's row (``filename`` already cleaned), committed before any of its bytes
    are stored so that the sweep can find them whatever happens next; its digest is filled in
    once they are."""
    asset = Asset(
        role=AssetRole.ORIGINAL,
        storage_key=key,
        content_type=kind.content_type,
        size=size,
        sha256="",
        original_filename=filename,
        state=state,
    )
    async with sessionmaker() as session:
        session.add(asset)
        await session.commit()
        return asset.id


async def _delete_rows(sessionmaker: async_sessionmaker[AsyncSession], ids: Iterable[int]) -> None:
    ids = list(ids)
    if not ids:
        return
    async with sessionmaker() as session:
        # Derived rows first: they point at their source.
        await session.execute(delete(Asset).where(Asset.id.in_(ids), Asset.source_id.is_not(None)))
        await session.execute(delete(Asset).where(Asset.id.in_(ids)))
        await session.commit()


async def _prefixed(prefix: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if prefix:
        yield prefix
    async for chunk in rest:
        yield chunk


async def _cleaned(chunks: AsyncIterator[bytes], cleaner: StreamCleaner) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        if cleaned := cleaner.feed(chunk):
            yield cleaned
    if held := cleaner.close():
        yield held


async def _measured(chunks: AsyncIterator[bytes], reader: DurationReader) -> AsyncIterator[bytes]:
    """The chunks as they are, each shown to the reader of the video's length on its way."""
    async for chunk in chunks:
        reader.feed(chunk)
        yield chunk


async def _read_head(chunks: AsyncIterator[bytes], length: int) -> bytes:
    head = bytearray()
    while len(head) < length:
        try:
            head += await anext(chunks)
        except StopAsyncIteration:
            break
    return bytes(head)


def _needs_processing(kind: FileKind, *, streamed_clean: bool) -> bool:
    """Whether a stored file has work left for the processing job: a drawing's previews, or
    scrubbing from a copy for a kind that was not cleaned as it streamed in."""
    return kind.is_image or (kind.scrub is not None and not streamed_clean)


async def store_upload(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    contest: Contest,
    chunks: AsyncIterable[bytes],
    filename: str | None,
) -> PendingUpload:
    """Sniff, then stream a file into storage under a key of ours, with the contest's limit.

    The first bytes decide the kind before anything is written (415 otherwise), and an
    image's header is read for its pixel count (a decompression bomb: 422); past the
    contest's size the stream stops and what was written is removed (413). Recordings that
    can be cleaned as they stream are stored clean; what needs a seekable copy (scrubbing
    other kinds, a drawing's previews) is left to the entry's processing job, and the upload
    says so (``processing``).

    This commits early, on purpose: the file's row (an upload not yet attached to an entry)
    is committed in its own transaction before any byte is streamed, so that whatever
    happens next the sweep can find the bytes. Its size and digest are written to the row
    when it is attached to its entry (``record_entry``, ``record_changes``), in the entry's
    transaction; until then the returned upload carries them.
    """
    iterator = aiter(chunks)
    head = await _read_head(iterator, SNIFF_BYTES)
    kind = check_kind(sniff(head[:SNIFF_BYTES]), contest.allowed_types)
    if kind.is_image:
        head += await _read_head(iterator, IMAGE_HEADER_BYTES - len(head))
        check_header(head)
    _upload_id, key = _new_key(kind)
    name = clean_filename(filename)
    make_cleaner = kind.stream_cleaner
    processing = _needs_processing(kind, streamed_clean=make_cleaner is not None)
    asset_id = await _add_original(
        sessionmaker,
        kind=kind,
        key=key,
        filename=name,
        state=FileState.PROCESSING if processing else FileState.READY,
    )
    stream = _prefixed(head, iterator)
    measuring = kind.duration() if kind.duration is not None else None
    if measuring is not None:
        stream = _measured(stream, measuring)
    if make_cleaner is not None:
        stream = _cleaned(stream, make_cleaner())
    try:
        stored = await storage.put_stream(
            key, stream, max_size=contest.max_file_size, content_type=kind.content_type
        )
    except ObjectTooLargeError:
        await _delete_rows(sessionmaker, [asset_id])
        raise too_large(contest.max_file_size) from None
    except StorageError:
        await _delete_rows(sessionmaker, [asset_id])
        raise StorageDownError() from None
    except BaseException:
        await _delete_rows(sessionmaker, [asset_id])
        raise
    upload = PendingUpload(
        asset_id, key, kind, stored.size, stored.sha256, name, processing=processing
    )
    if measuring is not None:
        upload.seconds, upload.length_read = measuring.finish(), True
    return upload


async def _attach_uploads(
    session: AsyncSession, *, entry_id: int, uploads: Sequence[PendingUpload]
) -> None:
    """Attach the uploads' rows (and the previews already made from them) to the entry, with
    each file's size and digest as it was stored, in the caller's transaction. Only rows
    attached to no entry are taken."""
    for upload in uploads:
        await session.execute(
            update(Asset)
            .where(Asset.id == upload.asset_id, Asset.entry_id.is_(None))
            .values(
                entry_id=entry_id,
                size=upload.size,
                sha256=upload.sha256,
                content_type=upload.kind.content_type,
            )
        )
    derived = [i for u in uploads for i in u.derived_ids]
    if derived:
        await session.execute(
            update(Asset)
            .where(Asset.id.in_(derived), Asset.entry_id.is_(None))
            .values(entry_id=entry_id)
        )


async def _read_spool(spool: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(spool.read, 256 * 1024):
        yield chunk


async def _spool_object(storage: Storage, key: str) -> tuple[IO[bytes], str, int]:
    """A copy of a stored object to decode or hash: in memory when small, else on disk."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    hasher = hashlib.sha256()
    size = 0
    try:
        stream = await storage.get_stream(key)
        async for chunk in stream:
            hasher.update(chunk)
            size += len(chunk)
            await asyncio.to_thread(spool.write, chunk)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool, hasher.hexdigest(), size


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


# --- processing: what is left of an upload once its bytes are stored -------------------------


@dataclass(slots=True)
class Processed:
    """How an entry's processing job went: files made ready, files that failed (with the
    first error, raised again by the job so that its row carries it)."""

    ready: int = 0
    failed: int = 0
    error: BaseException | None = None


async def process_entry_files(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    entry_id: int,
    asset_ids: Sequence[int],
) -> Processed:
    """Do what was left of the entry's new files once their bytes were stored: each is read
    back once, hashed, scrubbed when its kind is (the object replaced only when that changed
    something), and a drawing decoded into its preview and thumbnail. Then the entry's state
    is summed up from all its files.

    Owns its transactions, like every operation that carries files (see ``store_upload``),
    and may run again on the same files at any point (a worker killed half-way, a retry):
    previews have fixed keys and their rows are looked up before one is added, scrubbing a
    clean file changes nothing, and a file already ready, or no longer the entry's (replaced
    by an edit, erased), is left alone. A file that cannot be processed is marked failed,
    never removed: the organiser sees the entry flagged with the job's error and retries."""
    async with sessionmaker() as session:
        originals = list(
            await session.scalars(
                select(Asset)
                .where(
                    Asset.id.in_(list(asset_ids)),
                    Asset.entry_id == entry_id,
                    Asset.role == AssetRole.ORIGINAL,
                    Asset.state != FileState.READY,
                )
                .order_by(Asset.id)
            )
        )
    outcome = Processed()
    done: dict[int, dict[str, object]] = {}
    for asset in originals:
        try:
            done[asset.id] = await _process_file(
                sessionmaker=sessionmaker, storage=storage, asset=asset
            )
            outcome.ready += 1
        except Exception as exc:
            done[asset.id] = {"state": FileState.FAILED}
            outcome.failed += 1
            outcome.error = outcome.error or exc
    async with sessionmaker.begin() as session:
        # The entry first, as an edit locks it before its files: the two take turns.
        await session.get(Entry, entry_id, with_for_update=True)
        for asset_id, values in done.items():
            await session.execute(
                update(Asset)
                .where(Asset.id == asset_id, Asset.entry_id == entry_id)
                .values(**values)
            )
        await settle_files_state(session, entry_id=entry_id)
    return outcome


async def settle_files_state(session: AsyncSession, *, entry_id: int) -> FileState | None:
    """Sum up an entry's state from its originals, in the caller's transaction: failed if
    one failed, processing while one still waits for its job, else ready. The entry's row is
    locked first, so that an edit attaching new files and a job ending take turns."""
    entry = await session.get(Entry, entry_id, with_for_update=True)
    if entry is None:
        return None
    states = set(
        await session.scalars(
            select(Asset.state)
            .where(Asset.entry_id == entry_id, Asset.role == AssetRole.ORIGINAL)
            .distinct()
        )
    )
    entry.files_state = next(
        (s for s in (FileState.FAILED, FileState.PROCESSING) if s in states), FileState.READY
    )
    return entry.files_state


async def _process_file(
    *, sessionmaker: async_sessionmaker[AsyncSession], storage: Storage, asset: Asset
) -> dict[str, object]:
    """Process one stored original; what its row becomes (ready, with its size, digest and
    pixel size), for the caller to write with the entry's state."""
    kind = kind_of_stored(asset.content_type)
    assert kind is not None, asset.content_type  # stored with its sniffed kind's type
    try:
        spool, sha256, size = await _spool_object(storage, asset.storage_key)
    except StorageError:
        raise StorageDownError() from None
    values: dict[str, object] = {}
    try:
        if kind.scrub is not None:
            scrubbed = await _scrub(storage, asset.storage_key, kind, spool)
            if scrubbed is not None:
                size, sha256 = scrubbed
        if kind.is_image:
            spool.seek(0)
            derived = await asyncio.to_thread(make_derivatives, spool)
            await _store_derivatives(
                sessionmaker=sessionmaker, storage=storage, source=asset, derived=derived
            )
            values.update(width=derived.width, height=derived.height)
    finally:
        spool.close()
    return {"size": size, "sha256": sha256, "state": FileState.READY, **values}


async def _scrub(
    storage: Storage, key: str, kind: FileKind, source: IO[bytes]
) -> tuple[int, str] | None:
    """Take the names, places and tags out of a document or recording (see
    contest.files.cleaners); the stored object is replaced only when something changed, and
    its new size and digest returned."""
    assert kind.scrub is not None
    source.seek(0)
    target = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        try:
            changed = await asyncio.to_thread(scrub_file, kind.scrub, source, target)
        except Exception:
            # A file the scrubber cannot follow was still sniffed and accepted: kept as sent.
            changed = False
        if not changed:
            return None
        target.seek(0)
        try:
            stored = await storage.put_stream(
                key, _read_spool(target), content_type=kind.content_type
            )
        except StorageError:
            raise StorageDownError() from None
        return stored.size, stored.sha256
    finally:
        target.close()


async def _store_derivatives(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    source: Asset,
    derived: Derivatives,
) -> None:
    """Store a drawing's preview and thumbnail beside it, their rows first: a row already
    there (from a run stopped half-way) is brought up to date, not added again."""
    made = [
        (keys.derived_key(source.storage_key, role.value), role, data, size)
        for role, data, size in (
            (AssetRole.PREVIEW, derived.preview, derived.preview_size),
            (AssetRole.THUMBNAIL, derived.thumbnail, derived.thumbnail_size),
        )
    ]
    async with sessionmaker.begin() as session:
        # The source locked and still the entry's: an edit that replaces it waits, and a
        # replaced source gets no previews that would stay attached to the entry.
        attached = await session.scalar(
            select(Asset.entry_id).where(Asset.id == source.id).with_for_update()
        )
        if attached is None or attached != source.entry_id:
            return
        rows = await session.execute(
            select(Asset.storage_key, Asset.id).where(
                Asset.storage_key.in_([key for key, *_rest in made])
            )
        )
        found = {row.storage_key: row.id for row in rows}
        for key, role, data, (width, height) in made:
            values = {
                "entry_id": source.entry_id,
                "source_id": source.id,
                "role": role,
                "content_type": PREVIEW_TYPE,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "width": width,
                "height": height,
            }
            if key in found:
                await session.execute(update(Asset).where(Asset.id == found[key]).values(**values))
            else:
                session.add(Asset(storage_key=key, **values))
    for key, _role, data, _size in made:
        try:
            await storage.put_stream(key, _single(data), content_type=PREVIEW_TYPE)
        except StorageError:
            raise StorageDownError() from None


async def discard_uploads(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    uploads: Iterable[PendingUpload],
) -> None:
    """Remove uploads that will not count: objects first, then their rows. When storage
    cannot delete, the rows stay, so the sweep finds the objects later."""
    for upload in uploads:
        try:
            for key in [*upload.derived_keys, upload.key]:
                await storage.delete(key)
        except StorageError:
            continue
        await _delete_rows(sessionmaker, [*upload.derived_ids, upload.asset_id])


async def create_upload_slot(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    contest: Contest,
    content_type: str,
    size: int,
    filename: str | None,
) -> UploadSlot:
    """A presigned form for one file to go straight to storage (S3), or through the app's
    own upload endpoint (local folder). The file counts only once verified."""
    announced = declared_kind(content_type)
    kind = check_kind(announced.name if announced else None, contest.allowed_types)
    if size > contest.max_file_size:
        raise too_large(contest.max_file_size)
    upload_id, key = _new_key(kind)
    asset_id = await _add_original(
        sessionmaker, kind=kind, key=key, filename=clean_filename(filename), size=size
    )
    try:
        form = await storage.upload_form(
            key, max_size=contest.max_file_size, expires_in=UPLOAD_SLOT_EXPIRES
        )
    except StorageError:
        await _delete_rows(sessionmaker, [asset_id])
        raise StorageDownError() from None
    return UploadSlot(
        upload_id=upload_id,
        url=form.url,
        fields=form.fields,
        max_size=form.max_size,
        expires_at=form.expires_at.isoformat(),
    )


async def verify_direct_upload(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    contest: Contest,
    upload_id: str,
) -> PendingUpload:
    """Check a direct upload before it counts: it is there, within the size, and its bytes
    are of the kind that was announced and that the contest accepts. Anything else is
    removed, object and row."""
    not_found = UploadNotFoundError(
        gettext("The uploaded file was not found or was already used. Please upload it again.")
    )
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise not_found
    async with sessionmaker() as session:
        asset = await session.scalar(
            select(Asset).where(
                Asset.storage_key.startswith(keys.original_key_prefix(upload_id)),
                Asset.entry_id.is_(None),
                Asset.role == AssetRole.ORIGINAL,
            )
        )
    if asset is None:
        raise not_found
    declared = kind_of_stored(asset.content_type)
    upload = PendingUpload(
        asset.id,
        asset.storage_key,
        declared or FILE_KINDS["pdf"],
        0,
        "",
        asset.original_filename,
        processing=True,
    )
    try:
        with _reading_upload():
            head = await storage.head(asset.storage_key)
            if head.size > contest.max_file_size:
                raise too_large(contest.max_file_size)
            prefix = await storage.read_prefix(asset.storage_key, IMAGE_HEADER_BYTES)
        kind = check_kind(
            sniff(prefix[:SNIFF_BYTES]),
            contest.allowed_types,
            declared=declared.name if declared else "",
        )
        upload.kind = kind
        if kind.is_image:
            check_header(prefix)
    except (UploadTooLargeError, UnsupportedFileError, UnreadableImageError):
        await discard_uploads(sessionmaker=sessionmaker, storage=storage, uploads=[upload])
        raise
    # Its digest is taken, and what it needs done is done, from one read of the object by the
    # entry's processing job.
    upload.size = head.size
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Asset)
            .where(Asset.id == asset.id)
            .values(size=head.size, content_type=kind.content_type, state=FileState.PROCESSING)
        )
    return upload


async def _read_length(storage: Storage, upload: PendingUpload) -> None:
    """A stored video's length, read from storage (a direct upload, which the app never
    saw stream): its chunks only until the reader has its answer."""
    if upload.length_read or upload.kind.duration is None:
        return
    reader = upload.kind.duration()
    with _reading_upload():
        stream = await storage.get_stream(upload.key)
        try:
            async for chunk in stream:
                reader.feed(chunk)
                if reader.done:
                    break
        finally:
            # Stopped early: the object's stream (an open file, an S3 body) is closed now.
            if isinstance(stream, AsyncGenerator):
                await stream.aclose()
    upload.seconds, upload.length_read = reader.finish(), True


@contextlib.contextmanager
def _reading_upload() -> Iterator[None]:
    """Reading a direct upload's object: one that is not there is asked for again, and
    storage that does not answer is a 503."""
    try:
        yield
    except FileNotFoundError:
        raise UploadNotFoundError(
            gettext("The file has not arrived yet. Please upload it again.")
        ) from None
    except StorageError:
        raise StorageDownError() from None


async def check_division_files(
    *,
    storage: Storage,
    contest: Contest,
    division: Division | None,
    uploads: Sequence[PendingUpload],
) -> None:
    """An entry's files against its division's rules: a kind the division does not take is
    refused as any kind the contest does not take is (415), a video shorter or longer than
    it allows, or whose length cannot be read, with 422. The caller removes the files."""
    if division is None:
        return
    if division.accepts:
        kinds = kinds_accepted(division.accepts, contest.allowed_types)
        if any(u.kind.name not in kinds for u in uploads):
            raise UnsupportedFileError(
                gettext(
                    "This kind of file is not accepted in the division %(division)s. Please "
                    "send one of: %(types)s.",
                    division=division.name,
                    types=division_accepts_label(division.accepts, contest.allowed_types),
                )
            )
    shortest, longest = division.min_seconds, division.max_seconds
    if shortest is None and longest is None:
        return
    allowed = format_duration_range(shortest, longest)
    for upload in uploads:
        if upload.kind.group != "video":
            continue
        await _read_length(storage, upload)
        if upload.seconds is None:
            raise _file_refused(
                gettext(
                    "The length of this video could not be read from the file, so it cannot "
                    "be checked against the division's %(range)s. Please save it again (as "
                    "MP4 from a phone's camera, for example) and send it.",
                    range=allowed,
                )
            )
        seconds = round(upload.seconds)
        if (shortest is not None and seconds < shortest) or (
            longest is not None and seconds > longest
        ):
            raise _file_refused(
                gettext(
                    "The video is %(length)s long; the division %(division)s takes videos of "
                    "%(range)s.",
                    length=format_duration(seconds),
                    division=division.name,
                    range=allowed,
                )
            )


def _file_refused(message: str) -> EntryValidationError:
    return EntryValidationError({"file": message}, gettext("Some information needs correcting."))


def division_of(contest: Contest, division_id: int | None) -> Division | None:
    return next((d for d in contest.divisions if d.id == division_id), None)


# --- entries ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submitted:
    """A stored entry and its edit token; ``replayed`` when an earlier request with the same
    idempotency key had stored it (the token is then the one given that time). ``view`` is
    the new entry as its receipt shows it, made from what was just written (None when
    replayed)."""

    entry: Entry
    edit_token: str
    replayed: bool
    view: EntryView | None = None


async def find_replay(
    session: AsyncSession, *, contest_id: int, idempotency_key: str
) -> Entry | None:
    entry: Entry | None = await session.scalar(
        select(Entry).where(
            Entry.contest_id == contest_id, Entry.idempotency_key == idempotency_key
        )
    )
    return entry


def replay_token(secret_key: str, entry: Entry) -> str:
    """The edit token of an entry made with an idempotency key, for answering a resent
    request with the same private link."""
    assert entry.idempotency_key is not None
    return edit_token_for(
        secret_key, contest_id=entry.contest_id, idempotency_key=entry.idempotency_key
    )


async def verify_direct_uploads(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    contest: Contest,
    upload_ids: Sequence[str],
) -> list[PendingUpload]:
    """Verify each direct upload a submission names (see ``verify_direct_upload``). When one
    is refused, those verified before it go back to being unattached uploads, which the
    sweep takes if they stay unused."""
    return [
        await verify_direct_upload(
            sessionmaker=sessionmaker, storage=storage, contest=contest, upload_id=upload_id
        )
        for upload_id in upload_ids
    ]


async def submit_entry(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    contest: Contest,
    units: Sequence[Unit],
    fields: Mapping[str, str],
    uploads: list[PendingUpload],
    upload_ids: list[str],
    idempotency_key: str | None,
    secret_key: str,
    submitted_by: User | None = None,
    client_ip: str | None = None,
    check_unit: bool = False,
    jobs: JobQueue | None = None,
) -> Submitted:
    """Submit an entry, from the entrant's page, a coordinator's page or the API: the fields
    checked (with ``check_unit``, first that the unit is one of ``units``, 403 otherwise),
    the direct uploads verified, then the entrant and the entry made with its files, and its
    processing job (see ``queue_processing``) handed to ``jobs`` once all that is committed.
    Without ``jobs`` the job waits in its row until a worker's minute check pushes it.

    ``uploads`` are the files stored while the request was read. On any refusal they are
    removed, objects and rows, and the lists are emptied. Files carry their rows' own
    transactions (see ``store_upload``), so this owns its transactions too: the entry's rows
    in one (``record_entry``), and a resent submission's second copy of the files removed
    after it.
    """
    try:
        if check_unit:
            rules.ensure_may_submit_for_unit(fields.get("unit", ""), units)
        data = validate_entry(
            fields, contest=contest, units=units, has_files=bool(uploads or upload_ids)
        )
        uploads.extend(
            await verify_direct_uploads(
                sessionmaker=sessionmaker, storage=storage, contest=contest, upload_ids=upload_ids
            )
        )
        upload_ids.clear()
        await check_division_files(
            storage=storage,
            contest=contest,
            division=division_of(contest, data.division_id),
            uploads=uploads,
        )
        submitted = await _record_with_retries(
            sessionmaker,
            contest=contest,
            units=units,
            data=data,
            uploads=uploads,
            idempotency_key=idempotency_key,
            secret_key=secret_key,
            submitted_by=submitted_by,
            client_ip=client_ip,
        )
    except BaseException:
        await discard_uploads(sessionmaker=sessionmaker, storage=storage, uploads=uploads)
        uploads.clear()
        raise
    if submitted.replayed:
        # The same idempotency key raced in twice: the first entry stands, this copy goes.
        await discard_uploads(sessionmaker=sessionmaker, storage=storage, uploads=uploads)
        uploads.clear()
    else:
        await _push(jobs, submitted.entry.files_job_id)
    return submitted


async def _push(jobs: JobQueue | None, job_id: int | None) -> None:
    if jobs is not None and job_id is not None:
        await asyncio.to_thread(jobs.push, job_id)


async def _record_with_retries(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    contest: Contest,
    units: Sequence[Unit],
    data: EntryData,
    uploads: Sequence[PendingUpload],
    idempotency_key: str | None,
    secret_key: str,
    submitted_by: User | None,
    client_ip: str | None,
) -> Submitted:
    """``record_entry`` in a unit of work of its own, drawn again when its receipt code was
    taken; a unique idempotency key already used answers with the entry that used it."""
    token = (
        edit_token_for(secret_key, contest_id=contest.id, idempotency_key=idempotency_key)
        if idempotency_key
        else new_secret_token()
    )
    for _attempt in range(RECEIPT_ATTEMPTS):
        try:
            async with sessionmaker.begin() as session:
                entry = await record_entry(
                    session,
                    contest=contest,
                    data=data,
                    uploads=uploads,
                    idempotency_key=idempotency_key,
                    edit_token=token,
                    submitted_by=submitted_by,
                    client_ip=client_ip,
                )
                # The receipt's view from the rows just written, in the same transaction:
                # the entrant and entry are in hand, their files are read back as stored.
                assets = (
                    await session.scalars(select(Asset).where(Asset.entry_id == entry.id))
                ).all()
                entrant = await session.get(Entrant, entry.entrant_id)
                assert entrant is not None
                unit = next((u for u in units if u.id == data.unit_id), None)
                view = _entry_view(entry, contest, entrant, unit, assets)
        except IntegrityError:
            if idempotency_key:
                async with sessionmaker() as session:
                    replay = await find_replay(
                        session, contest_id=contest.id, idempotency_key=idempotency_key
                    )
                if replay is not None:
                    return Submitted(replay, token, replayed=True)
            continue  # a receipt code drawn twice: draw again
        return Submitted(entry, token, replayed=False, view=view)
    raise RuntimeError("could not draw a free receipt code")


async def record_entry(
    session: AsyncSession,
    *,
    contest: Contest,
    data: EntryData,
    uploads: Sequence[PendingUpload],
    idempotency_key: str | None,
    edit_token: str,
    submitted_by: User | None = None,
    client_ip: str | None = None,
) -> Entry:
    """Make the entrant and the entry, attach its files, record their processing job and
    audit it, in the caller's transaction; the job is the caller's to push once this is
    committed (``entry.files_job_id``). IntegrityError: the receipt code or the idempotency
    key is taken."""
    entrant = Entrant(
        event_id=contest.event_id,
        unit_id=data.unit_id,
        full_name=data.full_name,
        age=data.age,
        grade=data.grade,
        is_minor=data.age < ADULT_AGE,
        guardian_name=data.guardian_name,
        guardian_phone=data.guardian_phone,
        consent=Consent(data.consent),
        child_consent_at=utcnow() if data.child_consent else None,
        # validate_entry refuses a submission without the agreement, so every EntryData
        # stands for an agreement given now, to the current wording.
        agreed_at=utcnow(),
        agreement_version=AGREEMENT_VERSION,
    )
    session.add(entrant)
    await session.flush()
    entry = Entry(
        contest_id=contest.id,
        division_id=data.division_id,
        # Held by the entry, the entrant stays in the session for the receipt to read.
        entrant=entrant,
        receipt_code=new_receipt_code(),
        edit_token_hash=hash_token(edit_token),
        title=data.title,
        note=data.note,
        book_id=data.book_id,
        book_title=data.book_title,
        book_author=data.book_author,
        body_text=data.body_text,
        word_count=data.word_count,
        idempotency_key=idempotency_key,
        submitted_by_id=submitted_by.id if submitted_by else None,
    )
    session.add(entry)
    await session.flush()
    await _attach_uploads(session, entry_id=entry.id, uploads=uploads)
    await queue_processing(session, entry=entry, uploads=uploads)
    audit.record(
        session,
        "entry.submit",
        entry,
        actor=submitted_by,
        actor_label="" if submitted_by else "entrant",
        after={"receipt_code": entry.receipt_code, "title": entry.title},
        client_ip=client_ip,
    )
    return entry


async def queue_processing(
    session: AsyncSession, *, entry: Entry, uploads: Sequence[PendingUpload]
) -> Job | None:
    """Record the job that processes the entry's new files that need it, in the caller's
    transaction (a worker must find the entry, its files and the job committed together),
    and mark the entry as processing until it ends; None when no file needs it."""
    ids = [u.asset_id for u in uploads if u.processing]
    if not ids:
        entry.files_state = FileState.READY
        return None
    # Named by the files, not only the entry: an edit's new files get a job of their own
    # even while the job of the files they replace is still running.
    job, _created = await create_job(
        session,
        kind=PROCESS_ENTRY,
        contest_id=None,
        params={"entry_id": entry.id, "assets": ids},
        actor=None,
        fresh=True,
    )
    entry.files_state = FileState.PROCESSING
    entry.files_job_id = job.id
    return job


@dataclass(frozen=True, slots=True)
class EntryView:
    """An entry as its entrant sees it: the contest, entrant, unit and division it belongs to,
    its original files and, by original, the previews made from them."""

    entry: Entry
    contest: Contest
    entrant: Entrant
    unit: Unit | None
    division: Division | None
    originals: list[Asset]
    derived: dict[int, dict[str, Asset]]


async def load_entry(
    session: AsyncSession, *, receipt_code: str, contest: Contest | None = None
) -> EntryView:
    """The entry with its receipt code, with what its pages show; ``contest``, when the
    caller has it loaded already (with its event, divisions and books), is not read again."""
    entry = await session.scalar(
        select(Entry)
        .where(Entry.receipt_code == normalize_receipt_code(receipt_code))
        .options(selectinload(Entry.entrant), selectinload(Entry.assets))
    )
    if entry is None:
        raise EntryNotFoundError(
            gettext("No entry has this receipt code. Please check the code and try again.")
        )
    if contest is None or contest.id != entry.contest_id:
        contest = await session.scalar(
            select(Contest)
            .where(Contest.id == entry.contest_id)
            .options(
                selectinload(Contest.event),
                selectinload(Contest.divisions),
                selectinload(Contest.books),
            )
        )
    assert contest is not None
    unit = await session.get(Unit, entry.entrant.unit_id) if entry.entrant.unit_id else None
    return _entry_view(entry, contest, entry.entrant, unit, entry.assets)


def _entry_view(
    entry: Entry,
    contest: Contest,
    entrant: Entrant,
    unit: Unit | None,
    assets: Sequence[Asset],
) -> EntryView:
    originals = [a for a in assets if a.role == AssetRole.ORIGINAL]
    derived: dict[int, dict[str, Asset]] = {}
    for asset in assets:
        if asset.source_id is not None:
            derived.setdefault(asset.source_id, {})[asset.role.value] = asset
    division = division_of(contest, entry.division_id)
    return EntryView(entry, contest, entrant, unit, division, originals, derived)


async def open_entry(
    session: AsyncSession,
    *,
    receipt_code: str,
    token: str | None,
    for_change: bool = False,
    now: datetime | None = None,
) -> EntryView:
    """An entry for the holder of its private link, to read it, or with ``for_change`` to
    change or withdraw it: 404 for an unknown code, 403 for a wrong token (contest.rules) or,
    for a change, once the entry is locked."""
    view = await load_entry(session, receipt_code=receipt_code)
    rules.ensure_entry_holder(view.entry, token)
    if for_change:
        check_editable(view, now or utcnow())
    return view


def check_editable(view: EntryView, now: datetime) -> None:
    if view.entry.status != EntryStatus.SUBMITTED:
        raise EntryLockedError(gettext("This entry was withdrawn and can no longer be changed."))
    if view.entry.forwarded_from_id is not None:
        # The work the level below judged is what goes on: its copy never changes.
        raise EntryLockedError(
            gettext(
                "This entry was forwarded from the level below and can no longer be changed. "
                "Ask the organisers if it must be withdrawn."
            )
        )
    if now >= view.contest.closes_at or view.contest.status != ContestStatus.OPEN:
        raise EntryLockedError(
            gettext(
                "The deadline (%(time)s) has passed: the entry can no longer be changed.",
                time=format_datetime(view.contest.closes_at),
            )
        )


def current_values(view: EntryView) -> dict[str, str]:
    """An entry's editable fields as a form sends them."""
    entry = view.entry
    return {
        "title": entry.title,
        "note": entry.note,
        "book": str(entry.book_id) if entry.book_id else "other",
        "book_title": entry.book_title,
        "book_author": entry.book_author,
        "body_text": entry.body_text or "",
        "consent": view.entrant.consent.value,
    }


async def edit_entry(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    view: EntryView,
    fields: Mapping[str, str],
    uploads: list[PendingUpload],
    upload_ids: list[str],
    client_ip: str | None = None,
    jobs: JobQueue | None = None,
) -> None:
    """Change an entry with its private link, from the page or the API: the fields sent are
    checked over the entry's current values, direct uploads verified, then the changes
    saved; new files replace the old ones, which are removed once that is committed, and
    their processing job is handed to ``jobs`` (as ``submit_entry`` does).

    On any refusal the new files are removed, objects and rows, and the lists emptied. Like
    ``submit_entry`` this owns its transactions, because files do (see ``store_upload``).
    """
    try:
        changes = validate_changes(
            {**current_values(view), **fields},
            contest=view.contest,
            entrant=view.entrant,
            has_files=bool(uploads or upload_ids),
            had_files=bool(view.originals),
            division=view.division,
        )
        uploads.extend(
            await verify_direct_uploads(
                sessionmaker=sessionmaker,
                storage=storage,
                contest=view.contest,
                upload_ids=upload_ids,
            )
        )
        upload_ids.clear()
        await check_division_files(
            storage=storage, contest=view.contest, division=view.division, uploads=uploads
        )
        async with sessionmaker.begin() as session:
            replaced = await record_changes(
                session,
                entry_id=view.entry.id,
                changes=changes,
                new_uploads=uploads,
                client_ip=client_ip,
            )
            job_id = (await session.get_one(Entry, view.entry.id)).files_job_id
    except BaseException:
        await discard_uploads(sessionmaker=sessionmaker, storage=storage, uploads=uploads)
        uploads.clear()
        raise
    if uploads:
        await _push(jobs, job_id)
    await remove_assets(sessionmaker=sessionmaker, storage=storage, assets=replaced)


async def record_changes(
    session: AsyncSession,
    *,
    entry_id: int,
    changes: EntryChanges,
    new_uploads: Sequence[PendingUpload],
    client_ip: str | None = None,
) -> list[Asset]:
    """Save an entry's changes in the caller's transaction; new files replace the old ones,
    whose rows are returned, detached, for removal once this is committed, and get their
    processing job (``entry.files_job_id``, for the caller to push once committed)."""
    entry = await session.get(Entry, entry_id, with_for_update=True)
    assert entry is not None
    before = {"title": entry.title, "note": entry.note, "book_title": entry.book_title}
    entry.title = changes.title
    entry.note = changes.note
    entry.book_id = changes.book_id
    entry.book_title = changes.book_title
    entry.book_author = changes.book_author
    if changes.body_text is not None or new_uploads:
        entry.body_text = changes.body_text
        entry.word_count = changes.word_count
    entrant = await session.get(Entrant, entry.entrant_id)
    assert entrant is not None
    if entrant.consent != changes.consent and changes.consent != Consent.HIDDEN:
        # A name chosen anew after a withdrawal is a new consent.
        entrant.name_withdrawn_at = None
    entrant.consent = Consent(changes.consent)
    if changes.child_consent:
        entrant.child_consent_at = utcnow()
    replaced: list[Asset] = []
    if new_uploads:
        replaced = list(
            (await session.scalars(select(Asset).where(Asset.entry_id == entry.id))).all()
        )
        # Detached, not deleted: if removing the objects fails later, the sweep finds them.
        await session.execute(update(Asset).where(Asset.entry_id == entry.id).values(entry_id=None))
        await _attach_uploads(session, entry_id=entry.id, uploads=new_uploads)
        await queue_processing(session, entry=entry, uploads=new_uploads)
    after = {"title": entry.title, "note": entry.note, "book_title": entry.book_title}
    old, new = audit.changes(before, after)
    if new_uploads:
        new["files"] = [u.key for u in new_uploads]
    audit.record(
        session,
        "entry.edit",
        entry,
        actor_label="entrant",
        before=old,
        after=new,
        client_ip=client_ip,
    )
    return replaced


async def remove_assets(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    assets: Sequence[Asset],
) -> int:
    """Delete objects, then the rows of those that went; returns how many objects went.

    A source whose preview could not be deleted keeps its row: removing it would take the
    preview's row along (foreign key cascade) and leave that object untracked."""
    gone: list[int] = []
    kept_sources: set[int] = set()
    for asset in sorted(assets, key=lambda a: a.source_id is None):
        try:
            await storage.delete(asset.storage_key)
        except StorageError:
            if asset.source_id is not None:
                kept_sources.add(asset.source_id)
            continue
        gone.append(asset.id)
    await _delete_rows(sessionmaker, [i for i in gone if i not in kept_sources])
    return len(gone)


async def withdraw_entry(
    session: AsyncSession,
    *,
    entry_id: int,
    client_ip: str | None = None,
) -> None:
    """Withdrawn entries leave judging at once; their files go with the next sweep. In the
    caller's transaction."""
    entry = await session.get(Entry, entry_id)
    assert entry is not None
    entry.status = EntryStatus.WITHDRAWN
    audit.record(
        session,
        "entry.withdraw",
        entry,
        actor_label="entrant",
        before={"status": EntryStatus.SUBMITTED.value},
        after={"status": EntryStatus.WITHDRAWN.value},
        client_ip=client_ip,
    )


def now() -> datetime:
    return utcnow()
