"""Judging on paper: a judge's blind sheets printed, typed back by a clerk one at a time, or
imported from the judge's spreadsheet whole or not at all; every score keeps who typed it."""

from __future__ import annotations

import html
import io
from typing import NamedTuple

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.models import (
    Assignment,
    AssignmentStatus,
    AuditEvent,
    Contest,
    Criterion,
    Entrant,
    Entry,
    Score,
    User,
)
from judging import services
from tests.results.support import pdf_pages, pdf_qr_codes
from tests.support import (
    DEMO_PASSWORD,
    DRAWING,
    WRITING,
    csrf_from,
    entry_files,
    sign_in,
    vi,
)

JUDGE = "gk.hoa@bachsam.demo"


class Paper(NamedTuple):
    contest_id: int
    judge: User
    entries: list[int]
    criteria: list[Criterion]


@pytest.fixture
async def paper(demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]) -> Paper:
    """The writing contest assigned; the judge, their entries and the contest's rubric."""
    async with sessionmaker() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == WRITING))
        assert contest is not None
        await services.run_assignment(session, contest_id=contest.id, actor=None)
        await session.commit()
        judge = await session.scalar(select(User).where(User.email == JUDGE))
        assert judge is not None
        entries = list(
            (
                await session.scalars(
                    select(Assignment.entry_id)
                    .where(Assignment.judge_id == judge.id)
                    .order_by(Assignment.entry_id)
                )
            ).all()
        )
        criteria = await services.contest_criteria(session, contest_id=contest.id)
    assert entries
    return Paper(contest.id, judge, entries, criteria)


async def _download(organiser: httpx.AsyncClient, paper: Paper, name: str) -> httpx.Response:
    """A paper file of the judge (``sheets.pdf``, ``scores.xlsx``), as the organiser gets it."""
    response = await organiser.get(
        f"/admin/contests/{paper.contest_id}/paper/{name}?judge={paper.judge.id}"
    )
    assert response.status_code == 200
    return response


async def _scores(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Score)) or 0)


async def test_the_sheets_name_only_the_entry_and_carry_its_qr_code(
    paper: Paper,
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _cid, judge, entries, criteria = paper
    response = await _download(organiser, paper, "sheets.pdf")
    assert response.headers["content-type"] == "application/pdf"
    pages = pdf_pages(response.content)
    assert len(pages) == len(entries)
    async with sessionmaker() as session:
        assignments = {
            a.entry_id: a.id
            for a in (
                await session.scalars(select(Assignment).where(Assignment.judge_id == judge.id))
            ).all()
        }
        people = (
            await session.execute(
                select(Entry.receipt_code, Entrant.full_name, Entrant.guardian_name).join(
                    Entrant, Entrant.id == Entry.entrant_id
                )
            )
        ).all()
    for text, entry_id in zip(pages, entries, strict=True):
        assert vi("Entry no. %(number)s", number=entry_id) in text
        assert all(c.label in text for c in criteria)
        for code, name, guardian in people:
            assert code not in text and name not in text and (not guardian or guardian not in text)
    codes = pdf_qr_codes(response.content)
    assert codes == [[f"contest-sheet:{assignments[e]}:{e}"] for e in entries]


async def test_a_clerk_types_a_sheet_in_and_the_score_keeps_who_typed_it(
    paper: Paper,
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    cid, judge, entries, criteria = paper
    path = f"/admin/contests/{cid}/paper?judge={JUDGE}"
    page = await organiser.get(path)
    assert page.status_code == 200 and judge.name in page.text
    token = await csrf_from(organiser, path)
    full = {f"points.{c.key}": str(c.max_points / 2) for c in criteria}

    async def enter(entry: str, points: dict[str, str]) -> httpx.Response:
        data = {"csrf_token": token, "judge": str(judge.id), "entry": entry, **points}
        return await organiser.post(f"/admin/contests/{cid}/paper/enter", data=data)

    before = await _scores(sessionmaker)
    not_on_sheet = await enter("999999", full)
    assert not_on_sheet.status_code == 404
    assert vi("Entry no. %(number)s is not on this judge's sheets.", number=999999) in (
        html.unescape(not_on_sheet.text)
    )
    assert (await enter("abc", full)).status_code == 422
    too_many = dict(full, **{f"points.{criteria[0].key}": str(criteria[0].max_points + 1)})
    out_of_range = await enter(str(entries[0]), too_many)
    assert out_of_range.status_code == 422
    assert 'aria-invalid="true"' in out_of_range.text
    assert await _scores(sessionmaker) == before

    saved = await enter(f"#{entries[0]}", full)
    assert saved.status_code == 303
    assert f"saved={entries[0]}" in saved.headers["location"]
    typed_twice = await enter(str(entries[0]), full)
    assert typed_twice.status_code == 409
    assert vi("Entry no. %(number)s already has this judge's score.", number=entries[0]) in (
        html.unescape(typed_twice.text)
    )
    async with sessionmaker() as session:
        score = await session.scalar(
            select(Score)
            .join(Assignment, Assignment.id == Score.assignment_id)
            .where(Assignment.entry_id == entries[0], Assignment.judge_id == judge.id)
        )
        clerk = await session.scalar(select(User).where(User.email == "btc@example.vn"))
        audit = await session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "score_submitted")
            .order_by(AuditEvent.id.desc())
        )
    assert score is not None and clerk is not None and audit is not None
    assert score.submitted_at is not None and score.entered_by_id == clerk.id
    assert audit.actor_id == clerk.id and audit.after["entered_by"] == clerk.id
    assert await _scores(sessionmaker) == before + 1


def _filled(template: bytes, rows: list[list[object]]) -> bytes:
    book = load_workbook(io.BytesIO(template))
    sheet = book["scores"]
    sheet.delete_rows(2, sheet.max_row)
    for number, values in enumerate(rows, start=2):
        for col, value in enumerate(values, start=1):
            sheet.cell(number, col, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _import(
    organiser: httpx.AsyncClient, cid: int, judge_id: int, data: bytes
) -> httpx.Response:
    token = await csrf_from(organiser, f"/admin/contests/{cid}/paper?judge={judge_id}")
    return await organiser.post(
        f"/admin/contests/{cid}/paper/import",
        data={"csrf_token": token, "judge": str(judge_id)},
        files={"file": ("diem.xlsx", data, "application/octet-stream")},
    )


async def test_the_judges_spreadsheet_is_imported_whole(
    paper: Paper,
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    cid, judge, entries, criteria = paper
    template = (await _download(organiser, paper, "scores.xlsx")).content
    listed = [row[0] for row in load_workbook(io.BytesIO(template))["scores"].iter_rows(
        min_row=2, values_only=True
    )]  # fmt: skip
    assert listed == entries
    halves = [c.max_points / 2 for c in criteria]
    good = _filled(template, [[entry, *halves] for entry in entries])
    done = await _import(organiser, cid, judge.id, good)
    assert done.status_code == 303 and f"imported={len(entries)}" in done.headers["location"]
    async with sessionmaker() as session:
        statuses = (
            await session.scalars(select(Assignment.status).where(Assignment.judge_id == judge.id))
        ).all()
        entered_by = set(
            (
                await session.scalars(
                    select(Score.entered_by_id)
                    .join(Assignment, Assignment.id == Score.assignment_id)
                    .where(Assignment.judge_id == judge.id)
                )
            ).all()
        )
    assert set(statuses) == {AssignmentStatus.SUBMITTED}
    assert len(entered_by) == 1 and None not in entered_by
    # The same spreadsheet again: every row is already scored, nothing changes.
    again = await _import(organiser, cid, judge.id, good)
    assert again.status_code == 422
    assert again.text.count('class="refused"') == len(entries)


@pytest.mark.parametrize(
    "problem", ["out of range", "twice", "not on the sheets", "not a number", "another judge"]
)
async def test_a_spreadsheet_with_a_bad_row_imports_nothing_and_names_the_row(
    paper: Paper,
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    problem: str,
) -> None:
    cid, judge, entries, criteria = paper
    template = (await _download(organiser, paper, "scores.xlsx")).content
    halves: list[object] = [c.max_points / 2 for c in criteria]
    rows = [[entry, *halves] for entry in entries]
    bad_row = 2 + len(rows) - 1
    if problem == "out of range":
        rows[-1] = [entries[-1], criteria[0].max_points + 5, *halves[1:]]
    elif problem == "twice":
        rows.append([entries[0], *halves])
        bad_row = 2 + len(rows) - 1
    elif problem == "not on the sheets":
        rows[-1] = [999999, *halves]
    elif problem == "not a number":
        rows[-1] = [entries[-1], "nhiều", *halves[1:]]
    target = judge.id
    if problem == "another judge":
        async with sessionmaker() as session:
            other = await session.scalar(
                select(User.id)
                .join(Assignment, Assignment.judge_id == User.id)
                .where(User.id != judge.id)
                .limit(1)
            )
        assert other is not None
        target = other
    before = await _scores(sessionmaker)
    response = await _import(organiser, cid, target, _filled(template, rows))
    assert response.status_code == 422
    if problem == "another judge":
        assert vi(
            "This spreadsheet was made for another judge, contest or round: "
            "download this judge's own."
        ) in html.unescape(response.text)
    else:
        assert response.text.count('class="refused"') == 1
        assert f'data-row="{bad_row}"' in response.text
    assert await _scores(sessionmaker) == before


async def test_a_file_that_is_not_the_spreadsheet_is_refused(
    paper: Paper,
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    cid, judge, _entries, _criteria = paper
    before = await _scores(sessionmaker)
    response = await _import(organiser, cid, judge.id, b"PK\x03\x04 not a workbook")
    assert response.status_code == 422
    assert vi("This file is not a spreadsheet made by the platform.") in html.unescape(
        response.text
    )
    assert await _scores(sessionmaker) == before


async def test_a_scanned_entry_of_several_pages_is_one_document_for_its_judge(
    demo: DemoReport,
    client: httpx.AsyncClient,
    settings: object,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from tests.intake import files
    from tests.intake.support import api_submit, entrant_fields

    async with sessionmaker.begin() as session:
        drawing = await session.scalar(select(Contest).where(Contest.slug == DRAWING))
        assert drawing is not None
        drawing.max_files = 3
    pages = [("trang-1.png", files.drawing_png((30, 20))), ("trang-2.png", files.drawing_png())]
    sent = await api_submit(client, DRAWING, entrant_fields(title="Hai trang"), pages)
    assert sent.status_code == 201, sent.text
    from contest.app import JOB_KINDS
    from contest.jobs.worker import run_queued

    await run_queued(settings, JOB_KINDS)  # type: ignore[arg-type]
    async with sessionmaker() as session:
        await services.run_assignment(session, contest_id=drawing.id, actor=None)
        await session.commit()
        entry_id, originals = await entry_files(session, title="Hai trang")
        row = (
            await session.execute(
                select(Assignment.id, User.email)
                .join(User, User.id == Assignment.judge_id)
                .where(Assignment.entry_id == entry_id)
                .limit(1)
            )
        ).one()
    assert originals == ["trang-1.png", "trang-2.png"]
    await sign_in(client, row[1], DEMO_PASSWORD)
    page = await client.get(f"/judge/assignments/{row[0]}")
    assert page.status_code == 200
    first = page.text.index(vi("Page %(number)s of %(count)s", number=1, count=2))
    second = page.text.index(vi("Page %(number)s of %(count)s", number=2, count=2))
    assert first < second
