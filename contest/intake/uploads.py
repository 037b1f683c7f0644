"""Reading a submission request: its text fields, and its files streamed into storage.

The body is never spooled whole: a Content-Length over the contest's limit is refused before a
byte is read, a body without one is counted as it flows, and each file part goes through
``services.store_upload`` with the contest's size limit as it arrives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from contest.files.limits import (
    DRAIN_LIMIT,
    FORM_OVERHEAD,
    MAX_BODY_TEXT_BYTES,
    MAX_FIELD_BYTES,
    MAX_FORM_PARTS,
)
from contest.forms import CSRF_FIELD, verify_csrf
from contest.i18n import ngettext, normalize_text
from contest.intake import services
from contest.intake.interfaces import (
    EntryValidationError,
    MalformedUploadError,
    PendingUpload,
)
from contest.models import Contest, Entry
from storage import Storage
from storage.multipart import FormReadError, MultipartReader, boundary_of

FILE_FIELD = "file"
UPLOAD_ID_FIELD = "upload_id"
IDEMPOTENCY_FIELD = "idempotency_key"
IDEMPOTENCY_HEADER = "idempotency-key"
# Fields that may repeat; any other repeated field keeps its last value.
_BIG_FIELDS = {"body_text": MAX_BODY_TEXT_BYTES}


@dataclass
class Submission:
    """What a submission request carried; filled as it is read, so that after an error the
    form can still be shown with what was typed."""

    fields: dict[str, str] = field(default_factory=dict)
    uploads: list[PendingUpload] = field(default_factory=list)
    upload_ids: list[str] = field(default_factory=list)
    idempotency_key: str | None = None
    replay: Entry | None = None


def receipt_url_for(request: Request, entry: Entry | str, token: str, **extra: str) -> str:
    """The private edit link of an entry (or of the entry of a receipt code)."""
    code = entry if isinstance(entry, str) else entry.receipt_code
    url = str(request.url_for("receipt", code=code))
    return f"{url}?{urlencode({'token': token, **extra})}"


def body_limit(contest: Contest) -> int:
    return services.submission_limit(contest, FORM_OVERHEAD)


def check_declared_length(request: Request, limit: int, max_file_size: int) -> None:
    """413 at once when the announced body is larger than any honest submission."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise services.too_large(max_file_size)


async def _counted(
    body: AsyncIterator[bytes], limit: int, max_file_size: int
) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in body:
        received += len(chunk)
        if received > limit:
            raise services.too_large(max_file_size)
        yield chunk


async def read_submission(
    request: Request,
    submission: Submission,
    *,
    contest: Contest,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    check_csrf: bool,
    find_replay: Callable[[str], Awaitable[Entry | None]] | None = None,
    max_files: int | None = None,
    before_files: Callable[[Mapping[str, str]], None] | None = None,
) -> None:
    """Read a multipart submission into ``submission``, storing its files as they arrive.

    With ``check_csrf`` the first part must be the CSRF field (or the request carries the
    X-CSRF-Token header), checked before any file byte is read. On any error, the files
    stored so far are removed and the rest of the body is drained a little, then the error
    is raised. When ``find_replay`` finds an entry for the idempotency key, reading stops
    and ``submission.replay`` is set. ``before_files`` sees the fields read so far when the
    first file part arrives, before any of its bytes is stored, and may refuse by raising.
    """
    limit = body_limit(contest)
    max_files = contest.max_files if max_files is None else max_files
    check_declared_length(request, limit, contest.max_file_size)
    try:
        boundary = boundary_of(request.headers.get("content-type"))
    except FormReadError:
        raise MalformedUploadError() from None
    header_key = services.check_idempotency_key(request.headers.get(IDEMPOTENCY_HEADER))
    if header_key:
        submission.idempotency_key = header_key
        if find_replay is not None and (replay := await find_replay(header_key)) is not None:
            submission.replay = replay
            return
    reader = MultipartReader(
        boundary,
        _counted(request.stream(), limit, contest.max_file_size),
        max_parts=MAX_FORM_PARTS,
    )
    csrf_checked = not check_csrf
    try:
        async for part in reader:
            if not csrf_checked:
                token = None
                if part.name == CSRF_FIELD and not part.is_file:
                    token = await reader.read_text(MAX_FIELD_BYTES)
                verify_csrf(request, token)
                csrf_checked = True
                if part.name == CSRF_FIELD:
                    continue
            if part.is_file:
                if before_files is not None:
                    before_files(submission.fields)
                    before_files = None
                await _read_file(
                    reader,
                    part.name,
                    part.filename,
                    submission,
                    contest,
                    sessionmaker,
                    storage,
                    max_files,
                )
                continue
            value = normalize_text(
                await reader.read_text(_BIG_FIELDS.get(part.name, MAX_FIELD_BYTES))
            )
            if part.name == UPLOAD_ID_FIELD:
                if value:
                    submission.upload_ids.append(value)
                    _check_count(submission, max_files)
            elif part.name == IDEMPOTENCY_FIELD and not header_key:
                key = services.check_idempotency_key(value)
                submission.idempotency_key = key
                replay = await find_replay(key) if key and find_replay is not None else None
                if replay is not None:
                    submission.replay = replay
                    await reader.drain(DRAIN_LIMIT)
                    return
            elif part.name != CSRF_FIELD:
                submission.fields[part.name] = value
        if not csrf_checked:
            verify_csrf(request, None)
    except BaseException as exc:
        await services.discard_uploads(
            sessionmaker=sessionmaker, storage=storage, uploads=submission.uploads
        )
        submission.uploads.clear()
        if isinstance(exc, FormReadError):
            raise MalformedUploadError() from None
        if isinstance(exc, Exception):
            await reader.drain(DRAIN_LIMIT)
        raise


def _check_count(submission: Submission, max_files: int, *, adding: int = 0) -> None:
    if len(submission.uploads) + len(submission.upload_ids) + adding > max_files:
        raise EntryValidationError(
            {
                FILE_FIELD: ngettext(
                    "Send at most %(num)d file.", "Send at most %(num)d files.", max_files
                )
            }
        )


async def _first_chunk(chunks: AsyncIterator[bytes]) -> bytes | None:
    async for chunk in chunks:
        return chunk
    return None


async def _with_first(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


async def _read_file(
    reader: MultipartReader,
    name: str,
    filename: str | None,
    submission: Submission,
    contest: Contest,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    max_files: int,
) -> None:
    if name != FILE_FIELD:
        await reader.skip()
        return
    chunks = reader.chunks()
    first = await _first_chunk(chunks)
    if first is None:
        # A file input left empty still sends a part, with no name and no bytes.
        return
    _check_count(submission, max_files, adding=1)
    upload = await services.store_upload(
        sessionmaker=sessionmaker,
        storage=storage,
        contest=contest,
        chunks=_with_first(first, chunks),
        filename=filename,
    )
    submission.uploads.append(upload)
