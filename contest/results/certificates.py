"""Certificates of merit (Giấy khen) for published prize winners, and their public verification.

A certificate is the winner's own document: it carries the full name. Whoever scans its QR code
reaches the verification page, which shows only the name the entrant consented to make public.
Nothing here sees a result before it is published.

A contest's certificates are read and rendered a batch at a time (``CERTIFICATES_PER_BATCH``
winners), so memory stays flat. Up to one batch they make one PDF, as before; more make one
ZIP of PDFs, a batch each, in hand-out order. Not one big PDF: reportlab keeps every page of a
document in memory until it is saved, and joining PDFs afterwards would read them all back;
a ZIP is written part by part, and each part opens and prints on its own.
"""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, BinaryIO

from reportlab.lib.colors import Color, HexColor  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.utils import (  # type: ignore[import-untyped, unused-ignore]
    simpleSplit,
)
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped, unused-ignore]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import CTE, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contest import labels
from contest.errors import NotFoundError
from contest.events.services import event_contests
from contest.i18n import N_, format_date, get_locale, gettext, use_locale
from contest.models import (
    Consent,
    Contest,
    Division,
    Entrant,
    Entry,
    EntryStatus,
    Event,
    Prize,
    Result,
    Unit,
    UnitKind,
)
from contest.notice import name_consent
from contest.pdf import FONT, FONT_BOLD, qr_image, register_fonts
from contest.progress import Progress, no_progress
from contest.results.downloads import MEDIA_TYPES, ExportInfo
from contest.results.services import PRIZE_ORDER
from contest.tokens import RECEIPT_ALPHABET

SERIAL_PATTERN = re.compile(rf"\d{{4}}-[{RECEIPT_ALPHABET}]{{4}}-[{RECEIPT_ALPHABET}]{{4}}")
MAX_SERIAL_LENGTH = 32

# Certificates rendered into one PDF at a time: memory holds one batch's pages, never more.
CERTIFICATES_PER_BATCH = 200

# The certificate's colours: a deep red for the title and the prize, gold for the inner frame.
RED = HexColor("#a31f1f")
GOLD = HexColor("#b8912b")
INK = HexColor("#1b1f24")
MUTED = HexColor("#4a5560")
# Size of the QR code on the page, in points (about 3.5 cm: a phone reads it from arm's length).
QR_SIZE = 100


class NoCertificatesError(NotFoundError):
    """No published prize winner here (yet), so no certificate to write."""

    default_message = N_("There are no published prize winners here yet.")


class CertificateNotFoundError(NotFoundError):
    """No published certificate has this serial number (unknown, forged or not yet public)."""

    def __init__(self, serial: str) -> None:
        super().__init__(
            gettext(
                "No published certificate has this serial number. Check the number on the "
                "certificate, or ask the organisers."
            )
        )
        self.args = (serial,)


# --- names ------------------------------------------------------------------------------------


def initials(full_name: str) -> str:
    """ "Nguyễn Minh Anh" → "N. M. A." (the first letter of each word, diacritics kept)."""
    return " ".join(f"{word[0].upper()}." for word in full_name.split())


def public_name(entrant: Entrant) -> str:
    """The entrant's name as they consented to show it in public (``name_consent``: a child of
    7 to 17 must have agreed too, and a withdrawn consent shows no name)."""
    consent = name_consent(entrant)
    if consent == Consent.FULL_NAME:
        return entrant.full_name
    if consent == Consent.INITIALS:
        return initials(entrant.full_name)
    return gettext("An entrant")


# --- units ------------------------------------------------------------------------------------


class UnitTree:
    """An event's units, to name an entrant's class together with its school and to gather a
    school with everything below it."""

    def __init__(self, units: Iterable[Unit]) -> None:
        self.units = {unit.id: unit for unit in units}
        self.children: dict[int | None, list[int]] = {}
        for unit in sorted(self.units.values(), key=lambda u: (u.name, u.id)):
            self.children.setdefault(unit.parent_id, []).append(unit.id)

    @classmethod
    async def load(cls, session: AsyncSession, *, event_id: int) -> UnitTree:
        return cls((await session.scalars(select(Unit).where(Unit.event_id == event_id))).all())

    def ancestry(self, unit_id: int | None) -> list[Unit]:
        """The unit, its parent, and so on up to the top."""
        chain: list[Unit] = []
        current = self.units.get(unit_id) if unit_id is not None else None
        while current is not None and current not in chain:
            chain.append(current)
            current = self.units.get(current.parent_id) if current.parent_id else None
        return chain

    def root(self, unit_id: int | None) -> Unit | None:
        """The top-level unit: the school of a class, or a residential group itself."""
        chain = self.ancestry(unit_id)
        return chain[-1] if chain else None

    def below(self, unit_id: int | None, tops: Collection[int]) -> Unit | None:
        """The unit's ancestor just below one of ``tops`` (a province's ward, a ward's school),
        or the top itself for an entrant of that very unit; None outside them."""
        chain = self.ancestry(unit_id)
        for index, unit in enumerate(chain):
            if unit.id in tops:
                return chain[index - 1] if index else unit
        return None

    def school(self, unit_id: int | None) -> Unit | None:
        """The nearest school at or above the unit, else its top-level unit."""
        chain = self.ancestry(unit_id)
        return next((u for u in chain if u.kind == UnitKind.SCHOOL), chain[-1] if chain else None)

    def label(self, unit_id: int | None) -> str:
        """ "Lớp 5A, Trường Tiểu học Bạch Sam": the unit and the units above it."""
        return ", ".join(u.name for u in self.ancestry(unit_id))

    def subtree(self, unit_id: int) -> set[int]:
        found: set[int] = set()
        stack = [unit_id]
        while stack:
            current = stack.pop()
            if current in found:
                continue
            found.add(current)
            stack.extend(self.children.get(current, []))
        return found

    def in_tree_order(self) -> list[tuple[Unit, int]]:
        """Every unit with its depth, each followed by the units below it."""
        ordered: list[tuple[Unit, int]] = []

        def walk(parent: int | None, depth: int) -> None:
            for unit_id in self.children.get(parent, []):
                ordered.append((self.units[unit_id], depth))
                walk(unit_id, depth + 1)

        walk(None, 0)
        return ordered


# --- certificates as plain data ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Certificate:
    serial: str
    full_name: str  # "" once the family withdrew the name's consent
    unit: str  # the entrant's unit with its school, or ""
    prize: Prize
    contest: str
    division: str
    event: str
    organizer: str
    published_at: datetime
    verify_url: str

    def shown_name(self) -> str:
        return self.full_name or gettext("An entrant")


def verify_url(base_url: str, serial: str) -> str:
    return f"{base_url.rstrip('/')}/verify/{serial}"


def _standing_winners(*columns: Any) -> Select[*tuple[Any, ...]]:
    """``columns`` of published prizes whose entry still stands (not withdrawn), with the
    entry, the entrant and the division (if any) joined."""
    return (
        select(*columns)
        .join(Entry, Entry.id == Result.entry_id)
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .outerjoin(Division, Division.id == Result.division_id)
        .where(
            Result.published_at.is_not(None),
            Result.prize.is_not(None),
            Entry.status == EntryStatus.SUBMITTED,
        )
    )


def _certified_query(
    contest_id: int, *, members: CTE | None, result_id: int | None
) -> Select[*tuple[Any, ...]]:
    """The contest's published winners whose entry still stands, in the order certificates
    are handed out: by division, prize, rank."""
    prize_order = case(
        *((Result.prize == prize, position) for prize, position in PRIZE_ORDER.items()), else_=9
    )
    query = (
        _standing_winners(
            Result.certificate_serial,
            Result.prize,
            Result.published_at,
            Entrant.full_name,
            Entrant.name_withdrawn_at,
            Entrant.unit_id,
            Division.name.label("division"),
        )
        .where(
            Result.contest_id == contest_id,
            Result.certificate_serial.is_not(None),
            Result.certificate_serial != "",
        )
        .order_by(func.coalesce(Division.position, 0), prize_order, Result.rank, Result.entry_id)
    )
    if members is not None:
        query = query.where(Entrant.unit_id.in_(select(members.c.id)))
    if result_id is not None:
        query = query.where(Result.id == result_id)
    return query


@dataclass
class _Scope:
    """Whose certificates: the event, its contests to go through, and the units (a unit with
    every unit below it, as a recursive query) or the one result they are limited to."""

    event: Event
    contests: list[Contest]
    members: CTE | None
    result_id: int | None
    stem: str  # the file's name without its extension

    def queries(self) -> list[Select[*tuple[Any, ...]]]:
        return [
            _certified_query(c.id, members=self.members, result_id=self.result_id)
            for c in self.contests
        ]


async def _scope(
    session: AsyncSession,
    *,
    contest_id: int | None = None,
    unit_id: int | None = None,
    result_id: int | None = None,
) -> _Scope | None:
    if [contest_id, unit_id, result_id].count(None) != 2:
        raise ValueError("give exactly one of contest_id, unit_id, result_id")
    members: CTE | None = None
    if result_id is not None:
        result = await session.get(Result, result_id)
        if result is None or result.published_at is None or result.prize is None:
            return None
        contest_id = result.contest_id
        stem = f"certificate-{result.certificate_serial or result_id}"
    contests: list[Contest]
    if unit_id is not None:
        unit = await session.get(Unit, unit_id)
        if unit is None:
            return None
        event_id = unit.event_id
        contests = await event_contests(session, event_id=event_id)
        # UNION, not UNION ALL: a loop in the tree ends.
        below = select(Unit.id).where(Unit.id == unit_id).cte("members", recursive=True)
        members = below.union(select(Unit.id).join(below, Unit.parent_id == below.c.id))
        stem = f"{unit.code}-certificates"
    else:
        contest = await session.get(Contest, contest_id)
        if contest is None:
            return None
        event_id = contest.event_id
        contests = [contest]
        if result_id is None:
            stem = f"{contest.slug}-certificates"
    event = await session.get(Event, event_id)
    assert event is not None
    return _Scope(event, contests, members, result_id, stem)


async def _count(session: AsyncSession, scope: _Scope) -> int:
    total = 0
    for query in scope.queries():
        total += (
            await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
            or 0
        )
    return total


async def _batches(
    session: AsyncSession, scope: _Scope, *, base_url: str, size: int
) -> AsyncIterator[list[Certificate]]:
    """The scope's certificates, ``size`` at a time, read as they are needed."""
    tree = await UnitTree.load(session, event_id=scope.event.id)
    batch: list[Certificate] = []
    for contest, query in zip(scope.contests, scope.queries(), strict=True):
        stream = await session.stream(query.execution_options(yield_per=size))
        async for row in stream:
            batch.append(
                Certificate(
                    serial=row.certificate_serial,
                    # The winner's own document carries the full name, but not once the
                    # family withdrew the name's consent: a certificate may be put on show.
                    full_name=row.full_name if row.name_withdrawn_at is None else "",
                    unit=tree.label(row.unit_id),
                    prize=Prize(row.prize),
                    contest=contest.title,
                    division=row.division or "",
                    event=scope.event.name,
                    organizer=scope.event.organizer,
                    published_at=row.published_at,
                    verify_url=verify_url(base_url, row.certificate_serial),
                )
            )
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


async def certificates_for(
    session: AsyncSession,
    *,
    base_url: str,
    contest_id: int | None = None,
    unit_id: int | None = None,
    result_id: int | None = None,
) -> list[Certificate]:
    """The certificates of published winners: of one contest, of one unit and the units below
    it (a school and its classes) across the event's contests, or of one result. Empty when
    there are none (or nothing is published yet). All at once: for a few; a whole contest's
    are written by ``write_certificates``."""
    scope = await _scope(session, contest_id=contest_id, unit_id=unit_id, result_id=result_id)
    if scope is None:
        return []
    found: list[Certificate] = []
    async for batch in _batches(session, scope, base_url=base_url, size=CERTIFICATES_PER_BATCH):
        found += batch
    return found


# --- verification -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verification:
    """What the public may learn from a genuine certificate's serial number."""

    serial: str
    name: str  # as the entrant consented
    school: str  # the school (or residential group, learning centre) only, not the class
    contest: str
    division: str
    prize: Prize
    event: str
    organizer: str
    published_at: datetime


def clean_serial(serial: str) -> str | None:
    """The serial as certificates print it, or None when it cannot be one."""
    candidate = serial.strip().upper()
    if len(candidate) > MAX_SERIAL_LENGTH or not SERIAL_PATTERN.fullmatch(candidate):
        return None
    return candidate


async def verify_certificate(session: AsyncSession, *, serial: str) -> Verification:
    """The published certificate with this serial; CertificateNotFoundError otherwise."""
    candidate = clean_serial(serial)
    if candidate is None:
        raise CertificateNotFoundError(serial)
    row = (
        await session.execute(
            _standing_winners(Result, Entrant, Contest, Division, Event)
            .join(Contest, Contest.id == Result.contest_id)
            .join(Event, Event.id == Contest.event_id)
            .where(Result.certificate_serial == candidate)
        )
    ).first()
    if row is None:
        raise CertificateNotFoundError(serial)
    result, entrant, contest, division, event = row
    tree = await UnitTree.load(session, event_id=event.id)
    school = tree.school(entrant.unit_id)
    assert result.prize is not None and result.published_at is not None
    return Verification(
        serial=candidate,
        name=public_name(entrant),
        school=school.name if school else "",
        contest=contest.title,
        division=division.name if division else "",
        prize=Prize(result.prize),
        event=event.name,
        organizer=event.organizer,
        published_at=result.published_at,
    )


# --- the PDF ----------------------------------------------------------------------------------


def _line(
    canvas: Canvas,
    text: str,
    *,
    x: float,
    y: float,
    size: float,
    max_width: float,
    bold: bool = False,
    color: Color = INK,
    leading: float = 1.25,
) -> float:
    """Centred text, shrunk to fit (to two thirds of its size), wrapped beyond that. Returns
    the baseline below the last line."""
    font = FONT_BOLD if bold else FONT
    floor = size * 2 / 3
    while size > floor and pdfmetrics.stringWidth(text, font, size) > max_width:
        size -= 0.5
    canvas.setFont(font, size)
    canvas.setFillColor(color)
    for part in simpleSplit(text, font, size, max_width) or [""]:
        canvas.drawCentredString(x, y, part)
        y -= size * leading
    return y


def _draw_certificate(canvas: Canvas, cert: Certificate) -> None:
    width, height = landscape(A4)
    # Frames: a red outer line and a thin gold inner one.
    canvas.setStrokeColor(RED)
    canvas.setLineWidth(3)
    canvas.rect(18, 18, width - 36, height - 36)
    canvas.setStrokeColor(GOLD)
    canvas.setLineWidth(1)
    canvas.rect(26, 26, width - 52, height - 52)

    # Heading: the organiser on the left, the national motto on the right, as official
    # Vietnamese documents are laid out.
    left, right = width * 0.26, width * 0.72
    below = _line(
        canvas, cert.organizer.upper(), x=left, y=height - 66, size=13, max_width=330, bold=True
    )
    # The motto, two lines; ``motto`` ends where the second stands, to underline it.
    motto = y = height - 66
    for text in (
        gettext("SOCIALIST REPUBLIC OF VIETNAM"),
        gettext("Independence – Freedom – Happiness"),
    ):
        motto, y = y, _line(canvas, text, x=right, y=y, size=12, max_width=380, bold=True)
    canvas.setStrokeColor(INK)
    canvas.setLineWidth(0.7)
    canvas.line(right - 90, motto - 7, right + 90, motto - 7)
    canvas.line(left - 40, below + 7, left + 40, below + 7)

    # The body: lines centred on the page, each as wide as the page allows.
    body = partial(_line, canvas, x=width / 2, max_width=width - 160)
    y = body(gettext("CERTIFICATE OF MERIT"), y=height - 160, size=46, bold=True, color=RED)
    y = body(gettext("Awarded to"), y=y - 6, size=15)
    y = body(cert.shown_name(), y=y - 16, size=30, bold=True)
    if cert.unit:
        y = body(gettext("Unit: %(unit)s", unit=cert.unit), y=y - 2, size=14)
    y = body(gettext("for achieving"), y=y - 4, size=14)
    y = body(gettext(labels.PRIZES[cert.prize]), y=y - 12, size=26, bold=True, color=RED)
    contest_line = (
        gettext(
            "in the contest “%(contest)s”, %(division)s division",
            contest=cert.contest,
            division=cert.division,
        )
        if cert.division
        else gettext("in the contest “%(contest)s”", contest=cert.contest)
    )
    y = body(contest_line, y=y - 4, size=15)
    body(cert.event, y=y, size=13, color=MUTED)

    # Signature block, bottom right: the date of publication and the organisers' line.
    signature = partial(_line, canvas, x=right, size=12, max_width=330)
    date_y = signature(gettext("Issued on %(date)s", date=format_date(cert.published_at)), y=150)
    signature(gettext("ON BEHALF OF THE ORGANISING COMMITTEE"), y=date_y, bold=True)

    # Verification, bottom left: the QR code, the serial and the address it encodes.
    canvas.drawImage(qr_image(cert.verify_url), 48, 44, QR_SIZE, QR_SIZE)
    canvas.setFillColor(INK)
    canvas.setFont(FONT_BOLD, 10)
    canvas.drawString(
        48 + QR_SIZE + 8, 44 + QR_SIZE - 18, gettext("Serial no. %(serial)s", serial=cert.serial)
    )
    canvas.setFont(FONT, 8)
    canvas.setFillColor(MUTED)
    canvas.drawString(48 + QR_SIZE + 8, 44 + QR_SIZE - 32, gettext("Scan to verify at"))
    for index, part in enumerate(simpleSplit(cert.verify_url, FONT, 8, 190)):
        canvas.drawString(48 + QR_SIZE + 8, 44 + QR_SIZE - 44 - index * 10, part)


def render_certificates(certificates: Sequence[Certificate], *, locale: str | None = None) -> bytes:
    """One A4 landscape page per certificate, as one PDF."""
    register_fonts()
    buffer = io.BytesIO()
    with use_locale(locale or get_locale()):
        canvas = Canvas(buffer, pagesize=landscape(A4), invariant=True)
        canvas.setTitle(
            gettext("Certificate of merit: %(name)s", name=certificates[0].shown_name())
            if len(certificates) == 1
            else gettext("Certificates of merit")
        )
        if certificates:
            canvas.setAuthor(certificates[0].organizer)
            canvas.setSubject(certificates[0].event)
        for cert in certificates:
            _draw_certificate(canvas, cert)
            canvas.showPage()
        canvas.save()
    return buffer.getvalue()


def render_certificate(certificate: Certificate, *, locale: str | None = None) -> bytes:
    return render_certificates([certificate], locale=locale)


async def write_certificates(
    session: AsyncSession,
    *,
    base_url: str,
    out: BinaryIO,
    contest_id: int | None = None,
    unit_id: int | None = None,
    result_id: int | None = None,
    locale: str | None = None,
    progress: Progress = no_progress,
) -> ExportInfo:
    """The certificates of a contest, a unit or one result (as ``certificates_for``), written
    into ``out``: one PDF when they fit in one batch, otherwise a ZIP of one PDF per batch
    (see the module's docstring). ``progress`` hears (certificates written, in all) after
    every batch. NoCertificatesError (404), with nothing written, when there are none."""
    scope = await _scope(session, contest_id=contest_id, unit_id=unit_id, result_id=result_id)
    total = await _count(session, scope) if scope is not None else 0
    if scope is None or total == 0:
        raise NoCertificatesError()
    locale = locale or get_locale()
    size = CERTIFICATES_PER_BATCH
    batches = _batches(session, scope, base_url=base_url, size=size)
    if total <= size:
        certificates = [c async for batch in batches for c in batch]
        out.write(await asyncio.to_thread(render_certificates, certificates, locale=locale))
        await progress(len(certificates), total)
        return ExportInfo(f"{scope.stem}.pdf", MEDIA_TYPES["pdf"], len(certificates))
    done = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        async for batch in batches:
            data = await asyncio.to_thread(render_certificates, batch, locale=locale)
            name = f"{scope.stem}-{done + 1:06d}-{done + len(batch):06d}.pdf"
            await asyncio.to_thread(archive.writestr, name, data)
            done += len(batch)
            await progress(done, max(done, total))
    return ExportInfo(f"{scope.stem}.zip", MEDIA_TYPES["zip"], done)
