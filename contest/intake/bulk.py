"""Coordinators' bulk import: a CSV of entrants plus a ZIP of their files, matched by name.

Each row is its own submission: a bad row is reported with its reasons and never blocks the
good ones. Rows carry an idempotency key made from the CSV's digest and the row number, so
sending the same import again reports the entries already made instead of doubling them.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from contest import rules
from contest.errors import ContestError
from contest.events.services import get_open_contest
from contest.files import keys
from contest.files.limits import (
    BULK_MAX_CSV_BYTES,
    BULK_MAX_ROWS,
    BULK_MAX_ZIP_BYTES,
    BULK_SPOOL_IN_MEMORY,
    FORM_OVERHEAD,
    MAX_FIELD_BYTES,
)
from contest.forms import CSRF_FIELD, verify_csrf
from contest.i18n import N_, format_number, gettext, normalize_text
from contest.intake import services
from contest.intake.interfaces import (
    EntryValidationError,
    MalformedUploadError,
    PendingUpload,
    StorageDownError,
    UploadTooLargeError,
)
from contest.jobs.kinds import JobContext, JobKind
from contest.jobs.queue import JobQueue, start_job
from contest.models import Contest, Job, Unit, User
from storage import Storage, StorageError
from storage.multipart import FormReadError, MultipartReader, boundary_of

logger = logging.getLogger(__name__)

IMPORT_KIND = "bulk_import"
READ_CHUNK = 256 * 1024
REQUIRED = ("full_name", "age", "unit", "consent", "title")
COLUMNS = (
    "full_name",
    "age",
    "grade",
    "unit",
    "guardian_name",
    "guardian_phone",
    "consent",
    "child_consent",
    "agreement",
    "title",
    "book",
    "book_author",
    "note",
    "file",
    "text",
)
FIELD_LABELS = {
    "full_name": N_("Full name"),
    "age": N_("Age"),
    "grade": N_("Grade"),
    "unit": N_("Unit"),
    "guardian_name": N_("Guardian's name"),
    "guardian_phone": N_("Guardian's phone"),
    "consent": N_("Name in public"),
    "child_consent": N_("Child's own consent"),
    "agreement": N_("Privacy agreement"),
    "title": N_("Entry title"),
    "book": N_("Book"),
    "book_title": N_("Book"),
    "book_author": N_("Author"),
    "note": N_("Note"),
    "file": N_("File"),
    "body_text": N_("Text"),
}


@dataclass
class RowResult:
    row: int
    name: str
    accepted: bool
    receipt_code: str | None = None
    # The row's idempotency key, from which its entry's private link is made again.
    key: str = ""
    already: bool = False
    reasons: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    rows: list[RowResult]

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.rows if r.accepted)

    @property
    def refused(self) -> int:
        return sum(1 for r in self.rows if not r.accepted)


def _import_error(message: str) -> EntryValidationError:
    return EntryValidationError({"csv": message}, message)


async def _read_parts(request: Request) -> tuple[bytes, IO[bytes] | None]:
    """The CSV (in memory, small) and the ZIP (spooled to disk), CSRF checked first."""
    limit = BULK_MAX_CSV_BYTES + BULK_MAX_ZIP_BYTES + FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise services.too_large(BULK_MAX_ZIP_BYTES)
    try:
        reader = MultipartReader(
            boundary_of(request.headers.get("content-type")), request.stream(), max_parts=10
        )
    except FormReadError:
        raise MalformedUploadError() from None
    csv_bytes = b""
    archive: IO[bytes] | None = None
    checked = False
    try:
        async for part in reader:
            if not checked:
                token = await reader.read_text(MAX_FIELD_BYTES) if part.name == CSRF_FIELD else None
                verify_csrf(request, token)
                checked = True
                if part.name == CSRF_FIELD:
                    continue
            if part.name == "csv" and part.is_file:
                data = bytearray()
                async for chunk in reader.chunks():
                    data += chunk
                    if len(data) > BULK_MAX_CSV_BYTES:
                        raise services.too_large(BULK_MAX_CSV_BYTES)
                csv_bytes = bytes(data)
            elif part.name == "zip" and part.is_file:
                archive = await _spool(reader.chunks())
            else:
                await reader.skip()
        if not checked:
            verify_csrf(request, None)
    except FormReadError:
        if archive is not None:
            archive.close()
        raise MalformedUploadError() from None
    except BaseException:
        if archive is not None:
            archive.close()
        raise
    return csv_bytes, archive


async def _spool(chunks: AsyncIterator[bytes]) -> IO[bytes] | None:
    spool = tempfile.SpooledTemporaryFile(max_size=BULK_SPOOL_IN_MEMORY)  # noqa: SIM115
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > BULK_MAX_ZIP_BYTES:
                raise services.too_large(BULK_MAX_ZIP_BYTES)
            await asyncio.to_thread(spool.write, chunk)
    except BaseException:
        spool.close()
        raise
    if size == 0:
        spool.close()
        return None
    spool.seek(0)
    return spool


def parse_csv(data: bytes) -> list[dict[str, str]]:
    """Rows keyed by column name; UTF-8 (with or without the BOM spreadsheets add),
    separated by commas, semicolons or tabs."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _import_error(gettext("The CSV file must be saved as UTF-8.")) from None
    if not text.strip():
        raise _import_error(gettext("Choose the CSV file of entrants."))
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text.split("\n", 1)[0], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [normalize_text(h or "").lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise _import_error(
            gettext("The CSV file lacks these columns: %(columns)s.", columns=", ".join(missing))
        )
    rows: list[dict[str, str]] = []
    try:
        for raw in reader:
            rows.append(
                {
                    normalize_text(k or "").lower(): normalize_text(v or "")
                    for k, v in raw.items()
                    if isinstance(v, str)
                }
            )
            if len(rows) > BULK_MAX_ROWS:
                raise _import_error(
                    gettext(
                        "Import at most %(count)s rows at a time.",
                        count=format_number(BULK_MAX_ROWS),
                    )
                )
    except csv.Error:
        raise _import_error(gettext("The CSV file could not be read.")) from None
    return rows


@dataclass
class Members:
    """What a ZIP holds, by the names a CSV may give: each file by its own name, and each
    folder (a scanned entry's pages) by its name, its files in page order."""

    files: dict[str, list[str]] = field(default_factory=dict)
    folders: dict[str, list[str]] = field(default_factory=dict)


def _page_order(path: str) -> list[object]:
    """Natural order: page 2 before page 10."""
    name = path.rsplit("/", 1)[-1]
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", name)]


def _zip_members(archive: IO[bytes] | None) -> tuple[zipfile.ZipFile | None, Members]:
    if archive is None:
        return None, Members()
    try:
        opened = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _import_error(gettext("The ZIP file could not be read.")) from None
    members = Members()
    for info in opened.infolist():
        if info.is_dir():
            continue
        # Only the last segments count: names are matched, never used as paths.
        parts = unicodedata.normalize("NFC", info.filename.replace("\\", "/")).split("/")
        members.files.setdefault(parts[-1].casefold(), []).append(info.filename)
        if len(parts) > 1 and parts[-2]:
            members.folders.setdefault(parts[-2].casefold(), []).append(info.filename)
    for pages in members.folders.values():
        pages.sort(key=_page_order)
    return opened, members


async def _member_chunks(archive: zipfile.ZipFile, name: str) -> AsyncIterator[bytes]:
    member = await asyncio.to_thread(archive.open, name)
    try:
        while chunk := await asyncio.to_thread(member.read, READ_CHUNK):
            yield chunk
    finally:
        member.close()


def _row_values(row: dict[str, str], contest: Contest) -> dict[str, str]:
    values = dict(row)
    book = row.get("book", "")
    match = next((b for b in contest.books if b.title.casefold() == book.casefold()), None)
    if match is not None:
        values["book"] = str(match.id)
    else:
        values["book"] = "other"
        values["book_title"] = book
    values["body_text"] = row.get("text", "")
    return values


def _reasons(errors: dict[str, str]) -> list[str]:
    return [f"{gettext(FIELD_LABELS.get(k, k))}: {v}" for k, v in errors.items()]


async def _bytes(chunks: Sequence[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def _spooled(spool: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(spool.read, READ_CHUNK):
        yield chunk


async def receive_import(
    request: Request,
    *,
    contest: Contest,
    user: User,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    queue: JobQueue | None,
) -> Job:
    """Take an import in: its CSV and ZIP read (CSRF first), refused whole at once when the CSV
    or the ZIP cannot be used (422, nothing kept), else both kept in storage and the rows left
    to a ``bulk_import`` job, which the coordinator follows on the import's page."""
    csv_bytes, spool = await _read_parts(request)
    stored: list[str] = []
    try:
        parse_csv(csv_bytes)
        archive, _members = _zip_members(spool)
        if archive is not None:
            archive.close()
        csv_key, zip_key = keys.new_import_keys(with_archive=spool is not None)
        try:
            await storage.put_stream(csv_key, _bytes([csv_bytes]), content_type="text/csv")
            stored.append(csv_key)
            if spool is not None and zip_key is not None:
                spool.seek(0)
                await storage.put_stream(zip_key, _spooled(spool), content_type="application/zip")
                stored.append(zip_key)
        except StorageError:
            raise StorageDownError() from None
        return await start_job(
            sessionmaker,
            queue,
            kind=IMPORT_KIND,
            contest_id=contest.id,
            params={"csv": csv_key, "zip": zip_key},
            actor=user,
        )
    except BaseException:
        await _delete_quietly(storage, stored)
        raise
    finally:
        if spool is not None:
            spool.close()


async def _delete_quietly(storage: Storage, stored: Sequence[str]) -> None:
    for key in stored:
        try:
            await storage.delete(key)
        except StorageError:
            logger.warning("the import file %s could not be removed", key)


async def _read_source(storage: Storage, key: str, into: IO[bytes]) -> None:
    try:
        async for chunk in await storage.get_stream(key):
            await asyncio.to_thread(into.write, chunk)
    except FileNotFoundError:
        raise ContestError(
            gettext("The files of this import are no longer kept. Please send the import again.")
        ) from None
    except StorageError:
        raise StorageDownError() from None
    into.seek(0)


async def run_import(ctx: JobContext) -> dict[str, Any]:
    """The ``bulk_import`` job: each row of the kept CSV submitted as the coordinator who sent
    it, its file taken from the kept ZIP. Every row commits on its own and carries an
    idempotency key, so a run taken up again after a worker died (or retried) goes on where
    it stopped, making nothing twice. The kept files go when the run ends."""
    assert ctx.job.contest_id is not None and ctx.actor is not None
    params = ctx.job.params
    async with ctx.sessionmaker() as session:
        contest = await get_open_contest(session, contest_id=ctx.job.contest_id)
        units = await rules.submittable_units(session, user=ctx.actor, event_id=contest.event_id)
    with (
        tempfile.TemporaryFile(dir=ctx.settings.data_dir) as csv_file,
        tempfile.TemporaryFile(dir=ctx.settings.data_dir) as zip_file,
    ):
        await _read_source(ctx.storage, params["csv"], csv_file)
        csv_bytes = csv_file.read()
        rows = parse_csv(csv_bytes)
        spool = None
        if params.get("zip"):
            await _read_source(ctx.storage, params["zip"], zip_file)
            spool = zip_file
        archive, members = _zip_members(spool)
        digest = hashlib.sha256(csv_bytes).hexdigest()[:24]
        results = []
        # Each entry's files get their processing job at once, as from the entrant's page.
        queue = JobQueue(ctx.settings, {})
        await ctx.progress(0, len(rows))
        for done, (number, row) in enumerate(enumerate(rows, start=2), start=1):  # 1: header
            results.append(
                await _import_row(
                    number=number,
                    row=row,
                    key=f"bulk-{digest}-{number}",
                    contest=contest,
                    units=units,
                    user=ctx.actor,
                    started_at=ctx.job.created_at,
                    secret_key=ctx.settings.secret_key,
                    archive=archive,
                    members=members,
                    sessionmaker=ctx.sessionmaker,
                    storage=ctx.storage,
                    jobs=queue,
                )
            )
            await ctx.progress(done, len(rows))
        if archive is not None:
            archive.close()
    await _delete_quietly(ctx.storage, [k for k in (params["csv"], params.get("zip")) if k])
    report = ImportReport(results)
    return {
        "accepted": report.accepted,
        "refused": report.refused,
        "rows": [asdict(r) for r in results],
    }


def report_of(result: dict[str, Any] | None) -> ImportReport | None:
    """A finished import's report, from its job's result."""
    if not result or "rows" not in result:
        return None
    return ImportReport([RowResult(**row) for row in result["rows"]])


KINDS = [JobKind(IMPORT_KIND, N_("Importing entries"), run_import, "admin_entries")]


async def _import_row(
    *,
    number: int,
    row: dict[str, str],
    key: str,
    contest: Contest,
    units: Sequence[Unit],
    user: User,
    started_at: datetime,
    secret_key: str,
    archive: zipfile.ZipFile | None,
    members: Members,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    jobs: JobQueue | None,
) -> RowResult:
    result = RowResult(row=number, name=row.get("full_name", ""), accepted=False, key=key)
    async with sessionmaker() as session:
        existing = await services.find_replay(session, contest_id=contest.id, idempotency_key=key)
    if existing is not None:
        # Made by an earlier import of the same CSV, or by this one before its worker stopped.
        result.accepted, result.already = True, existing.created_at < started_at
        result.receipt_code = existing.receipt_code
        return result
    values = _row_values(row, contest)
    file_name = unicodedata.normalize("NFC", row.get("file", "")).rstrip("/").rsplit("/", 1)[-1]
    found = members.files.get(file_name.casefold(), []) if file_name else []
    pages = members.folders.get(file_name.casefold(), []) if file_name and not found else []
    errors: dict[str, str] = {}
    if file_name and not found and not pages:
        errors["file"] = gettext("No file named %(name)s in the ZIP.", name=file_name)
    elif len(found) > 1:
        errors["file"] = gettext("The ZIP has several files named %(name)s.", name=file_name)
    elif len(pages) > contest.max_files:
        errors["file"] = gettext(
            "The folder %(name)s holds %(count)s files: send at most %(max)s pages.",
            name=file_name,
            count=len(pages),
            max=contest.max_files,
        )
    try:
        # Checked before the row's file is stored; submit_entry checks again, cheaply.
        services.validate_entry(values, contest=contest, units=units, has_files=bool(file_name))
    except EntryValidationError as exc:
        errors = {**exc.errors, **errors}
    if errors:
        result.reasons = _reasons(errors)
        return result
    uploads: list[PendingUpload] = []
    try:
        # One file, or a folder of scanned pages in page order: one entry either way.
        for member in found[:1] or pages:
            assert archive is not None
            uploads.append(
                await services.store_upload(
                    sessionmaker=sessionmaker,
                    storage=storage,
                    contest=contest,
                    chunks=_member_chunks(archive, member),
                    filename=member.replace("\\", "/").rsplit("/", 1)[-1],
                )
            )
        submitted = await services.submit_entry(
            sessionmaker=sessionmaker,
            storage=storage,
            contest=contest,
            units=units,
            fields=values,
            uploads=uploads,
            upload_ids=[],
            idempotency_key=key,
            secret_key=secret_key,
            submitted_by=user,
            jobs=jobs,
        )
    except (zipfile.BadZipFile, RuntimeError, OSError, EOFError):
        await services.discard_uploads(sessionmaker=sessionmaker, storage=storage, uploads=uploads)
        result.reasons = [
            f"{gettext(FIELD_LABELS['file'])}: "
            + gettext("This file in the ZIP could not be read.")
        ]
        return result
    except UploadTooLargeError as exc:
        result.reasons = [f"{gettext(FIELD_LABELS['file'])}: {exc.message}"]
        return result
    except ContestError as exc:
        await services.discard_uploads(sessionmaker=sessionmaker, storage=storage, uploads=uploads)
        result.reasons = (
            _reasons(exc.errors)
            if isinstance(exc, EntryValidationError)
            else [f"{gettext(FIELD_LABELS['file'])}: {exc.message}"]
        )
        return result
    result.accepted = True
    result.receipt_code = submitted.entry.receipt_code
    return result
