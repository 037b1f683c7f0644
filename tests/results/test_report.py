"""The event report: submitted entries only, prizes of published results only, and every
table adds up to the same totals in the page, the workbook and the PDF."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import unicodedata

import httpx
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.models import (
    Assignment,
    AssignmentStatus,
    Contest,
    Entry,
    EntryStatus,
    Event,
    Prize,
    Round,
    User,
)
from contest.results.exports import EventReport, load_event_report
from tests.results.support import Row, bearer, make_results, pdf_pages
from tests.support import DRAWING, WRITING, make_entries, vi


async def ward_event(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Six submitted entries (the demo's three, two pupils of class 3A, one resident of group
    2), one withdrawn entry; the writing contest published, the drawing contest not; and some
    judging in the writing contest."""
    seven, twelve = await make_entries(sessionmaker, WRITING, ages=[7, 12])
    (resident,) = await make_entries(sessionmaker, WRITING, ages=[8], unit_code="tdp-2")
    (withdrawn,) = await make_entries(sessionmaker, WRITING, ages=[9], unit_code="th-bach-sam-4b")
    await make_results(
        sessionmaker,
        [
            Row("DEMV-W7K3", 1, 9.0, Prize.FIRST),
            Row(seven, 2, 8.0, Prize.SECOND),
            Row(resident, 3, 7.0, Prize.HONOURABLE),
            Row(withdrawn, 4, 6.0, Prize.HONOURABLE),  # withdrawn since: not counted
            Row(twelve, 1, 8.0, Prize.FIRST),
        ],
    )
    await make_results(sessionmaker, [Row("DEMD-R8P4", 1, 9.0, Prize.FIRST)], published=False)
    async with sessionmaker() as session:
        entry = await session.get(Entry, withdrawn)
        assert entry is not None
        entry.status = EntryStatus.WITHDRAWN
        contest = await session.scalar(select(Contest).where(Contest.slug == WRITING))
        assert contest is not None
        round_ = Round(contest_id=contest.id, number=1)
        session.add(round_)
        await session.flush()
        judges = {
            u.email.split("@")[0]: u.id
            for u in (await session.scalars(select(User).where(User.email.like("gk.%")))).all()
        }
        demv = await session.scalar(select(Entry.id).where(Entry.receipt_code == "DEMV-W7K3"))
        for judge, entry_id, status in [
            ("gk.lan", demv, AssignmentStatus.SUBMITTED),
            ("gk.lan", seven, AssignmentStatus.DRAFT),
            ("gk.minh", demv, AssignmentStatus.SUBMITTED),
            ("gk.hoa", demv, AssignmentStatus.RECUSED),
            ("gk.tuan", withdrawn, AssignmentStatus.SUBMITTED),  # a withdrawn entry
        ]:
            session.add(
                Assignment(
                    round_id=round_.id, entry_id=entry_id, judge_id=judges[judge], status=status
                )
            )
        await session.commit()
        event_id = await session.scalar(select(Event.id))
    assert event_id is not None
    return event_id


async def test_the_report_counts_submitted_entries_and_published_prizes(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    event_id = await ward_event(sessionmaker)
    async with sessionmaker() as session:
        report = await load_event_report(session, event_id=event_id)
        submitted = len(
            (
                await session.scalars(select(Entry.id).where(Entry.status == EntryStatus.SUBMITTED))
            ).all()
        )

    assert submitted == report.entries == 6
    assert len(report.columns) == 9  # three contests × three divisions
    by_unit = {row.unit: row.total for row in report.by_unit}
    assert by_unit == {
        "Lớp 3A, Trường Tiểu học Bạch Sam": 2,
        "Lớp 5A, Trường Tiểu học Bạch Sam": 1,
        "Lớp 6A, Trường THCS Bạch Sam": 1,
        "Tổ dân phố số 1": 1,
        "Tổ dân phố số 2": 1,
    }
    assert sum(report.column_totals) == report.entries
    class_3a = next(row for row in report.by_unit if row.unit.startswith("Lớp 3A"))
    primary = report.columns.index(next(c for c in report.columns if c.division == "Tiểu học"))
    assert class_3a.counts[primary] == 1  # the other pupil is in lower secondary

    participation = {p.unit: (p.entries, p.entrants) for p in report.participation}
    assert participation == {
        "Trường THCS Bạch Sam": (1, 1),
        "Trường Tiểu học Bạch Sam": (3, 3),
        "Trung tâm học tập cộng đồng phường Bạch Sam": (0, 0),
        "Tổ dân phố số 1": (1, 1),
        "Tổ dân phố số 2": (1, 1),
        "Tổ dân phố số 3": (0, 0),
    }
    # Schools first, then the learning centre, then residential groups.
    assert [p.unit for p in report.participation][:3] == [
        "Trường THCS Bạch Sam",
        "Trường Tiểu học Bạch Sam",
        "Trung tâm học tập cộng đồng phường Bạch Sam",
    ]
    assert report.entrants == 6
    assert {p.unit: p.share for p in report.participation}["Trường Tiểu học Bạch Sam"] == 100

    # Prizes: the writing contest's only (the drawing contest is not published yet).
    assert report.prize_totals == {
        Prize.FIRST: 2,
        Prize.SECOND: 1,
        Prize.THIRD: 0,
        Prize.HONOURABLE: 1,
    }
    prizes = {p.unit: (p.tiers, p.points) for p in report.prizes}
    assert prizes["Trường Tiểu học Bạch Sam"] == (
        {Prize.FIRST: 2, Prize.SECOND: 1, Prize.THIRD: 0, Prize.HONOURABLE: 0},
        11,
    )
    assert prizes["Tổ dân phố số 2"][0][Prize.HONOURABLE] == 1
    assert report.prizes[0].unit == "Trường Tiểu học Bạch Sam"  # most prize points first
    assert report.unpublished == ["Vẽ tranh theo sách", "Kể chuyện sách"]

    loads = {j.name: (j.assigned, j.submitted, j.recused) for j in report.judges}
    assert loads == {
        "Nguyễn Thị Lan": (2, 1, 0),
        "Trần Văn Minh": (1, 1, 0),
        "Lê Thị Hoa": (0, 0, 1),
        "Phạm Anh Tuấn": (0, 0, 0),
    }


def _total_row(rows: list[list[object]]) -> list[object]:
    return rows[-1]


async def test_the_report_as_a_page_a_workbook_and_a_pdf(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    await ward_event(sessionmaker)
    client.headers.update(await bearer(sessionmaker))
    headline = vi(
        "%(entries)s entries from %(entrants)s entrants in %(contests)s contests; "
        "%(prizes)s prizes awarded.",
        entries=6,
        entrants=6,
        contests=3,
        prizes=4,
    )

    page = await client.get("/admin/report")
    assert page.status_code == 200, page.text
    assert headline in page.text
    # The bar chart's one <style> block is allowed by its hash, and nothing else inline.
    style = re.search(r"<style>(.*?)</style>", page.text, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"style-src 'self' 'sha256-{digest}'" in page.headers["content-security-policy"]
    assert 'class="bar w-100"' in page.text and 'class="bar w-33"' in page.text
    assert 'style="' not in page.text
    assert page.headers["cache-control"] == "no-store"

    workbook = await client.get("/admin/report.xlsx")
    assert workbook.status_code == 200
    book = load_workbook(io.BytesIO(workbook.content))
    assert len(book.sheetnames) == 5
    by_unit = [list(r) for r in book.worksheets[1].iter_rows(min_row=5, values_only=True)]
    assert _total_row(by_unit)[0] == vi("Totals")
    assert _total_row(by_unit)[-1] == 6 == sum(int(str(r[-1])) for r in by_unit[:-1])
    participation = [list(r) for r in book.worksheets[2].iter_rows(min_row=5, values_only=True)]
    assert _total_row(participation)[2:4] == [6, 6]
    assert book.worksheets[2]._charts, "the participation chart"
    prizes = [list(r) for r in book.worksheets[3].iter_rows(min_row=5, values_only=True)]
    assert _total_row(prizes)[2:7] == [2, 1, 0, 1, 4]

    pdf = await client.get("/admin/report.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    text = unicodedata.normalize("NFC", " ".join(pdf_pages(pdf.content)))
    flat = " ".join(text.split())
    assert "UBND PHƯỜNG BẠCH SAM" in flat
    assert " ".join(headline.split()) in flat
    assert "Trường Tiểu học Bạch Sam" in flat and "Nguyễn Thị Lan" in flat


async def test_reports_of_an_empty_event_and_of_no_event(
    sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    client.headers.update(await bearer(sessionmaker))
    for path in ("/admin/report", "/admin/report.xlsx", "/admin/report.pdf"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert vi("There is no event yet. Create it first, or load an event file.") in (
            response.text
        )


async def test_an_event_without_entries_reports_zeros(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        for entry in (await session.scalars(select(Entry))).all():
            entry.status = EntryStatus.WITHDRAWN
        await session.commit()
        event_id = await session.scalar(select(Event.id))
        assert event_id is not None
        report: EventReport = await load_event_report(session, event_id=event_id)
    assert report.entries == report.entrants == 0
    assert report.by_unit == []
    assert all(p.entries == 0 and p.share == 0 for p in report.participation)
    assert sum(report.prize_totals.values()) == 0


async def test_drawing_contest_is_counted_by_its_division(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await make_entries(sessionmaker, DRAWING, ages=[30], unit_code="tdp-3")
    async with sessionmaker() as session:
        event_id = await session.scalar(select(Event.id))
        assert event_id is not None
        report = await load_event_report(session, event_id=event_id)
    column = next(
        i
        for i, c in enumerate(report.columns)
        if c.contest == "Vẽ tranh theo sách" and c.division == "Cộng đồng"
    )
    assert {row.unit: row.counts[column] for row in report.by_unit}["Tổ dân phố số 3"] == 1
