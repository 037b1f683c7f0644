"""Labels to stick on entries that are on paper: each names the entry only by its number (and
a QR code of it), so that the sheet of paper can be matched with its entry, scanned or judged,
without showing who made it. A coordinator prints those of their units' entries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.utils import simpleSplit  # type: ignore[import-untyped, unused-ignore]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contest.i18n import gettext
from contest.models import Entrant, Entry, EntryStatus, Unit
from contest.pdf import FONT, FONT_BOLD, qr_image, register_fonts

# What a label's QR code says: the platform's mark and the entry's number.
LABEL_MARK = "contest-entry"
COLUMNS, ROWS = 3, 8


@dataclass
class Label:
    entry_id: int
    title: str


async def unit_labels(
    session: AsyncSession, *, contest_id: int, units: Sequence[Unit]
) -> list[Label]:
    """The labels of the contest's entries from these units, by entry number."""
    rows = await session.execute(
        select(Entry.id, Entry.title)
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .where(
            Entry.contest_id == contest_id,
            Entry.status == EntryStatus.SUBMITTED,
            Entrant.unit_id.in_([u.id for u in units]),
        )
        .order_by(Entry.id)
    )
    return [Label(entry_id, title) for entry_id, title in rows.all()]


def write_labels(labels: Sequence[Label], *, contest_title: str, out: BinaryIO) -> None:
    """A4 sheets of 3 × 8 labels (70 × 37 mm, the common sticker sheet)."""
    register_fonts()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(gettext("Labels for paper entries"))
    width, height = A4
    cell_w, cell_h = width / COLUMNS, height / ROWS
    for index, label in enumerate(labels):
        place = index % (COLUMNS * ROWS)
        if index and place == 0:
            canvas.showPage()
        column, row = place % COLUMNS, place // COLUMNS
        x, y = column * cell_w, height - (row + 1) * cell_h
        size = cell_h - 20
        canvas.drawImage(qr_image(f"{LABEL_MARK}:{label.entry_id}"), x + 8, y + 10, size, size)
        text_x = x + size + 14
        canvas.setFont(FONT_BOLD, 12)
        canvas.drawString(
            text_x, y + cell_h - 24, gettext("Entry no. %(number)s", number=label.entry_id)
        )
        canvas.setFont(FONT, 7)
        lines = simpleSplit(contest_title, FONT, 7, cell_w - size - 22)[:2]
        lines += simpleSplit(label.title, FONT, 7, cell_w - size - 22)[:3]
        for n, line in enumerate(lines):
            canvas.drawString(text_x, y + cell_h - 38 - 9 * n, line)
    if not labels:
        canvas.setFont(FONT, 12)
        canvas.drawString(40, height - 60, gettext("Your units have no entries in this contest."))
    canvas.showPage()
    canvas.save()
