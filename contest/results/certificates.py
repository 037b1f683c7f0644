"""Certificates of merit (Giấy khen) for published prize winners, and their public verification.

A certificate is the winner's own document: it carries the full name. Whoever scans its QR code
reaches the verification page, which shows only the name the entrant consented to make public.
Nothing here sees a result before it is published.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import qrcode  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.colors import Color, HexColor  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.utils import (  # type: ignore[import-untyped, unused-ignore]
    ImageReader,
    simpleSplit,
)
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped, unused-ignore]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped, unused-ignore]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contest import labels
from contest.errors import NotFoundError
from contest.events.services import event_contests
from contest.i18n import format_date, get_locale, gettext, use_locale
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
from contest.results.services import ResultRow, results_of, winners
from contest.tokens import RECEIPT_ALPHABET

FONTS_DIR = Path(__file__).resolve().parent.parent / "static" / "fonts"
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"

SERIAL_PATTERN = re.compile(rf"\d{{4}}-[{RECEIPT_ALPHABET}]{{4}}-[{RECEIPT_ALPHABET}]{{4}}")
MAX_SERIAL_LENGTH = 32

Progress = Callable[[int, int], None]

# The certificate's colours: a deep red for the title and the prize, gold for the inner frame.
RED = HexColor("#a31f1f")
GOLD = HexColor("#b8912b")
INK = HexColor("#1b1f24")
MUTED = HexColor("#4a5560")
# Size of the QR code on the page, in points (about 3.5 cm: a phone reads it from arm's length).
QR_SIZE = 100


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
    """The entrant's name as they consented to show it in public."""
    if entrant.consent == Consent.FULL_NAME:
        return entrant.full_name
    if entrant.consent == Consent.INITIALS:
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
    full_name: str
    unit: str  # the entrant's unit with its school, or ""
    prize: Prize
    contest: str
    division: str
    event: str
    organizer: str
    published_at: datetime
    verify_url: str


def verify_url(base_url: str, serial: str) -> str:
    return f"{base_url.rstrip('/')}/verify/{serial}"


def _certificate(
    row: ResultRow, *, contest: Contest, event: Event, tree: UnitTree, base_url: str
) -> Certificate:
    result = row.result
    assert result.prize is not None and result.certificate_serial and result.published_at
    return Certificate(
        serial=result.certificate_serial,
        full_name=row.entrant.full_name,
        unit=tree.label(row.entrant.unit_id),
        prize=Prize(result.prize),
        contest=contest.title,
        division=row.division.name if row.division else "",
        event=event.name,
        organizer=event.organizer,
        published_at=result.published_at,
        verify_url=verify_url(base_url, result.certificate_serial),
    )


def _certified(rows: Sequence[ResultRow]) -> list[ResultRow]:
    """Published winners whose entry still stands, in the order certificates are handed out."""
    return [
        row
        for row in winners(rows)
        if row.result.published_at is not None
        and row.result.certificate_serial
        and row.entry.status == EntryStatus.SUBMITTED
    ]


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
    there are none (or nothing is published yet)."""
    if [contest_id, unit_id, result_id].count(None) != 2:
        raise ValueError("give exactly one of contest_id, unit_id, result_id")
    if result_id is not None:
        result = await session.get(Result, result_id)
        if result is None or result.published_at is None or result.prize is None:
            return []
        contest_id = result.contest_id
    contests: list[Contest]
    if unit_id is not None:
        unit = await session.get(Unit, unit_id)
        if unit is None:
            return []
        event_id = unit.event_id
        contests = await event_contests(session, event_id=event_id)
    else:
        contest = await session.get(Contest, contest_id)
        if contest is None:
            return []
        event_id = contest.event_id
        contests = [contest]
    event = await session.get(Event, event_id)
    assert event is not None
    tree = await UnitTree.load(session, event_id=event_id)
    members = tree.subtree(unit_id) if unit_id is not None else None
    certificates = []
    for contest in contests:
        rows = await results_of(session, contest_id=contest.id, published_only=True)
        for row in _certified(rows):
            if result_id is not None and row.result.id != result_id:
                continue
            if members is not None and row.entrant.unit_id not in members:
                continue
            certificates.append(
                _certificate(row, contest=contest, event=event, tree=tree, base_url=base_url)
            )
    return certificates


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
            select(Result, Entrant, Contest, Division, Event)
            .join(Entry, Entry.id == Result.entry_id)
            .join(Entrant, Entrant.id == Entry.entrant_id)
            .join(Contest, Contest.id == Result.contest_id)
            .join(Event, Event.id == Contest.event_id)
            .outerjoin(Division, Division.id == Result.division_id)
            .where(
                Result.certificate_serial == candidate,
                Result.published_at.is_not(None),
                Result.prize.is_not(None),
                Entry.status == EntryStatus.SUBMITTED,
            )
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


@cache
def register_fonts() -> None:
    """DejaVu Sans, embedded: it has every Vietnamese letter with its diacritics."""
    pdfmetrics.registerFont(TTFont(FONT, str(FONTS_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONTS_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD)


def qr_image(data: str) -> ImageReader:
    """The QR code as a lossless bitmap, embedded as an image so that it can be read back."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(data)
    code.make(fit=True)
    return ImageReader(code.make_image().get_image())


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
    motto = _line(
        canvas,
        gettext("SOCIALIST REPUBLIC OF VIETNAM"),
        x=right,
        y=height - 66,
        size=12,
        max_width=380,
        bold=True,
    )
    _line(
        canvas,
        gettext("Independence – Freedom – Happiness"),
        x=right,
        y=motto,
        size=12,
        max_width=380,
        bold=True,
    )
    canvas.setStrokeColor(INK)
    canvas.setLineWidth(0.7)
    canvas.line(right - 90, motto - 7, right + 90, motto - 7)
    canvas.line(left - 40, below + 7, left + 40, below + 7)

    centre, body = width / 2, width - 160
    y = _line(
        canvas,
        gettext("CERTIFICATE OF MERIT"),
        x=centre,
        y=height - 160,
        size=46,
        max_width=body,
        bold=True,
        color=RED,
    )
    y = _line(canvas, gettext("Awarded to"), x=centre, y=y - 6, size=15, max_width=body)
    y = _line(canvas, cert.full_name, x=centre, y=y - 16, size=30, max_width=body, bold=True)
    if cert.unit:
        y = _line(
            canvas,
            gettext("Unit: %(unit)s", unit=cert.unit),
            x=centre,
            y=y - 2,
            size=14,
            max_width=body,
        )
    y = _line(canvas, gettext("for achieving"), x=centre, y=y - 4, size=14, max_width=body)
    y = _line(
        canvas,
        gettext(labels.PRIZES[cert.prize]),
        x=centre,
        y=y - 12,
        size=26,
        max_width=body,
        bold=True,
        color=RED,
    )
    contest_line = (
        gettext(
            "in the contest “%(contest)s”, %(division)s division",
            contest=cert.contest,
            division=cert.division,
        )
        if cert.division
        else gettext("in the contest “%(contest)s”", contest=cert.contest)
    )
    y = _line(canvas, contest_line, x=centre, y=y - 4, size=15, max_width=body)
    _line(canvas, cert.event, x=centre, y=y, size=13, max_width=body, color=MUTED)

    # Signature block, bottom right: the date of publication and the organisers' line.
    date_y = _line(
        canvas,
        gettext("Issued on %(date)s", date=format_date(cert.published_at)),
        x=right,
        y=150,
        size=12,
        max_width=330,
    )
    _line(
        canvas,
        gettext("ON BEHALF OF THE ORGANISING COMMITTEE"),
        x=right,
        y=date_y,
        size=12,
        max_width=330,
        bold=True,
    )

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


def render_certificates(
    certificates: Sequence[Certificate],
    *,
    locale: str | None = None,
    progress: Progress | None = None,
) -> bytes:
    """One A4 landscape page per certificate, as one PDF."""
    register_fonts()
    buffer = io.BytesIO()
    with use_locale(locale or get_locale()):
        canvas = Canvas(buffer, pagesize=landscape(A4), invariant=True)
        canvas.setTitle(
            gettext("Certificate of merit: %(name)s", name=certificates[0].full_name)
            if len(certificates) == 1
            else gettext("Certificates of merit")
        )
        if certificates:
            canvas.setAuthor(certificates[0].organizer)
            canvas.setSubject(certificates[0].event)
        for done, cert in enumerate(certificates, start=1):
            _draw_certificate(canvas, cert)
            canvas.showPage()
            if progress is not None:
                progress(done, len(certificates))
        canvas.save()
    return buffer.getvalue()


def render_certificate(certificate: Certificate, *, locale: str | None = None) -> bytes:
    return render_certificates([certificate], locale=locale)
