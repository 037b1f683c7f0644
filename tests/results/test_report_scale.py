"""The report's PDF at national size: thousands of schools, some with names long enough to
wrap, lay out over as many pages as it takes, every unit in its tables and the chart kept to
the largest units (it used to be one drawing taller than a page, and reportlab gave up)."""

from __future__ import annotations

import io
import unicodedata

from reportlab.lib.units import cm  # type: ignore[import-untyped, unused-ignore]
from reportlab.pdfbase.pdfmetrics import (  # type: ignore[import-untyped, unused-ignore]
    stringWidth,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import insert_rows
from contest.demo import DemoReport
from contest.models import Contest, Event, Unit, UnitKind
from contest.results import exports
from contest.results.certificates import FONT, register_fonts
from contest.results.exports import write_report_export
from tests.results.support import pdf_pages
from tests.support import WRITING, bulk_entries, vi

SCHOOLS = 2_000
LONG_NAME = "Trường Trung học cơ sở và Trung học phổ thông Nguyễn Bỉnh Khiêm " * 3


async def _many_schools(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    """SCHOOLS schools in bulk, the first of them with a name of several lines, and an entry
    in each; their names."""
    names = [f"{LONG_NAME}số 0"] + [f"Trường Tiểu học số {n}" for n in range(1, SCHOOLS)]
    async with sessionmaker() as session:
        event_id = await session.scalar(select(Event.id).order_by(Event.id))
        contest_id = await session.scalar(select(Contest.id).where(Contest.slug == WRITING))
        assert event_id is not None and contest_id is not None
        await insert_rows(
            session,
            Unit,
            ["event_id", "parent_id", "kind", "code", "name"],
            (
                (event_id, None, UnitKind.SCHOOL.value, f"scale-{n}", name)
                for n, name in enumerate(names)
            ),
            total=SCHOOLS,
        )
        unit_ids = list(
            await session.scalars(
                select(Unit.id).where(Unit.code.like("scale-%")).order_by(Unit.id)
            )
        )
        await bulk_entries(
            session, contest_id=contest_id, count=SCHOOLS, unit_ids=unit_ids, prefix="scale-"
        )
        await session.commit()
    return names


async def test_a_report_of_thousands_of_units_goes_over_many_pages(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    names = await _many_schools(sessionmaker)
    out = io.BytesIO()
    async with sessionmaker() as session:
        event_id = await session.scalar(select(Event.id).order_by(Event.id))
        assert event_id is not None
        info = await write_report_export(
            session, event_id=event_id, fmt="pdf", out=out, locale="vi"
        )
    assert info.media_type == "application/pdf"
    pages = [" ".join(unicodedata.normalize("NFC", p).split()) for p in pdf_pages(out.getvalue())]
    rows_per_page = exports.PDF_TABLE_ROWS * 2
    # Three tables list every school (entries by unit, participation, prizes).
    assert len(pages) > 3 * SCHOOLS / rows_per_page
    header = vi("Unit")
    table_pages = [p for p in pages if header in p]
    assert len(table_pages) > 3 * SCHOOLS / rows_per_page
    text = " ".join(pages)
    for name in (names[1], names[SCHOOLS // 2], names[-1]):
        # Each school in the three tables; "số 10" is not "số 1" (a word after it).
        assert text.count(f"{name} ") >= 3, name
    # The long name (the longest a unit may have) wraps over lines of its cell.
    assert "Nguyễn Bỉnh Khiêm" in text
    # The chart shows the largest units and says so.
    note = vi(
        "The %(count)s units with the most entries; the table lists every unit.",
        count=exports.PDF_CHART_UNITS,
    )
    assert " ".join(note.split()) in text


def test_a_cell_wraps_to_its_column_and_stops_after_its_lines() -> None:
    register_fonts()
    width = 5 * cm
    short = exports._cell_lines("Lớp 5A", FONT, width)
    assert short == "Lớp 5A"
    lines = exports._cell_lines("Trường " * 200, FONT, width).split("\n")
    assert len(lines) == exports.PDF_CELL_LINES and lines[-1].endswith("…")
    assert all(stringWidth(line, FONT, exports.PDF_CELL_SIZE) <= width for line in lines)
    assert exports._cell_lines(None, FONT, width) == ""
