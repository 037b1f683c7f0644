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
import tempfile
import unicodedata
import zipfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from contest.errors import ContestError
from contest.files.limits import (
    BULK_MAX_CSV_BYTES,
    BULK_MAX_ROWS,
    BULK_MAX_ZIP_BYTES,
    BULK_SPOOL_IN_MEMORY,
    FORM_OVERHEAD,
    MAX_FIELD_BYTES,
)
from contest.forms import CSRF_FIELD, verify_csrf
from contest.i18n import N_, gettext, normalize_text
from contest.intake import services
from contest.intake.interfaces import (
    EntryValidationError,
    MalformedUploadError,
    PendingUpload,
    UploadTooLargeError,
)
from contest.intake.uploads import receipt_url_for
from contest.models import Contest, Unit, User
from storage import Storage
from storage.multipart import FormReadError, MultipartReader, boundary_of

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
    edit_url: str | None = None
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
                    gettext("Import at most %(count)s rows at a time.", count=BULK_MAX_ROWS)
                )
    except csv.Error:
        raise _import_error(gettext("The CSV file could not be read.")) from None
    return rows


def _zip_members(archive: IO[bytes] | None) -> tuple[zipfile.ZipFile | None, dict[str, list[str]]]:
    if archive is None:
        return None, {}
    try:
        opened = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _import_error(gettext("The ZIP file could not be read.")) from None
    members: dict[str, list[str]] = {}
    for info in opened.infolist():
        if info.is_dir():
            continue
        # Only the last segment counts: names are matched, never used as paths.
        base = unicodedata.normalize("NFC", info.filename.replace("\\", "/").rsplit("/", 1)[-1])
        members.setdefault(base.casefold(), []).append(info.filename)
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


async def import_entries(
    request: Request,
    *,
    contest: Contest,
    units: Sequence[Unit],
    user: User,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
) -> ImportReport:
    csv_bytes, spool = await _read_parts(request)
    try:
        rows = parse_csv(csv_bytes)
        archive, members = _zip_members(spool)
        digest = hashlib.sha256(csv_bytes).hexdigest()[:24]
        results = []
        for number, row in enumerate(rows, start=2):  # row 1 is the header
            results.append(
                await _import_row(
                    request,
                    number=number,
                    row=row,
                    key=f"bulk-{digest}-{number}",
                    contest=contest,
                    units=units,
                    user=user,
                    archive=archive,
                    members=members,
                    sessionmaker=sessionmaker,
                    storage=storage,
                )
            )
    finally:
        if spool is not None:
            spool.close()
    return ImportReport(results)


async def _import_row(
    request: Request,
    *,
    number: int,
    row: dict[str, str],
    key: str,
    contest: Contest,
    units: Sequence[Unit],
    user: User,
    archive: zipfile.ZipFile | None,
    members: dict[str, list[str]],
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
) -> RowResult:
    result = RowResult(row=number, name=row.get("full_name", ""), accepted=False)
    secret = request.state.settings.secret_key
    async with sessionmaker() as session:
        existing = await services.find_replay(session, contest_id=contest.id, idempotency_key=key)
    if existing is not None:
        token = services.edit_token_for(secret, contest_id=contest.id, idempotency_key=key)
        result.accepted, result.already = True, True
        result.receipt_code = existing.receipt_code
        result.edit_url = receipt_url_for(request, existing, token)
        return result
    values = _row_values(row, contest)
    file_name = unicodedata.normalize("NFC", row.get("file", "")).rsplit("/", 1)[-1]
    found = members.get(file_name.casefold(), []) if file_name else []
    errors: dict[str, str] = {}
    if file_name and not found:
        errors["file"] = gettext("No file named %(name)s in the ZIP.", name=file_name)
    elif len(found) > 1:
        errors["file"] = gettext("The ZIP has several files named %(name)s.", name=file_name)
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
        if found and archive is not None:
            uploads.append(
                await services.store_upload(
                    sessionmaker=sessionmaker,
                    storage=storage,
                    contest=contest,
                    chunks=_member_chunks(archive, found[0]),
                    filename=file_name,
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
            secret_key=secret,
            submitted_by=user,
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
    result.edit_url = receipt_url_for(request, submitted.entry, submitted.edit_token)
    return result
