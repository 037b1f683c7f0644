"""Organisers of a part of the event: a province's organiser sees and acts only on its own
schools' entries and results (lists, search, the API, exports, counts); the national organiser
on all; every other organiser page is the national organiser's alone."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.models import Entry, Role, User
from contest.settings import Settings
from tests.results.support import Row, make_results, pdf_pages
from tests.support import (
    WRITING,
    MakeUser,
    contest_id_of,
    csrf_from,
    entries_below,
    make_entries,
    province_and_nation,
    vi,
)


@dataclass
class Chain:
    """Province A (ward A, then the primary school) and province B (the secondary school),
    each with entries of the writing contest, and a signed-in organiser of each level."""

    mine: list[str]  # receipt codes in province A
    theirs: list[str]  # receipt codes in province B
    province: httpx.AsyncClient  # the organiser of province A
    national: httpx.AsyncClient  # the organiser with no units
    contest_id: int
    event: str


async def _codes_in(sessionmaker: async_sessionmaker[AsyncSession], school: str) -> list[str]:
    """The writing contest's entries from the school and its classes (the demo's own too)."""
    return await entries_below(sessionmaker, school, column=Entry.receipt_code)


@pytest.fixture
async def chain(
    demo: DemoReport,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> AsyncIterator[Chain]:
    await make_entries(sessionmaker, WRITING, ages=[8, 9], unit_code="th-bach-sam-5a")
    await make_entries(sessionmaker, WRITING, ages=[10], unit_code="thcs-bach-sam-6a")
    async with province_and_nation(settings, sessionmaker, make_user) as (as_province, as_national):
        yield Chain(
            await _codes_in(sessionmaker, "th-bach-sam"),
            await _codes_in(sessionmaker, "thcs-bach-sam"),
            as_province,
            as_national,
            await contest_id_of(sessionmaker, WRITING),
            demo.event_name,
        )


async def _listed(client: httpx.AsyncClient, query: str = "") -> set[str]:
    response = await client.get(f"/api/v1/contests/{WRITING}/entries{query}")
    assert response.status_code == 200, response.text
    return {entry["receipt_code"] for entry in response.json()["entries"]}


async def test_the_entries_list_and_its_api_hold_only_the_provinces_entries(
    chain: Chain,
) -> None:
    assert await _listed(chain.province) == set(chain.mine)
    assert set(chain.mine) | set(chain.theirs) <= await _listed(chain.national)
    page = await chain.province.get(f"/admin/contests/{chain.contest_id}/entries")
    assert page.status_code == 200
    assert all(code in page.text for code in chain.mine)
    assert not any(code in page.text for code in chain.theirs)
    # Its count on the overview is its own entries'.
    overview = await chain.province.get("/admin")
    assert f'entries">{len(chain.mine)}</a>' in overview.text


async def test_another_provinces_entry_is_not_found_by_search_or_by_unit(chain: Chain) -> None:
    other = chain.theirs[0]
    # Searched by its receipt code: as if the code did not exist, on the page and in the API.
    assert await _listed(chain.province, f"?receipt={other}") == set()
    assert await _listed(chain.province, "?receipt=ZZZZ-ZZZZ") == set()
    assert await _listed(chain.national, f"?receipt={other}") == {other}
    page = await chain.province.get(f"/admin/contests/{chain.contest_id}/entries?receipt={other}")
    # (The search field keeps what was typed; no row shows it.)
    assert page.status_code == 200 and f">{other}<" not in page.text
    # Asked for by the other province's school or class: nothing.
    assert await _listed(chain.province, "?unit=thcs-bach-sam") == set()
    assert await _listed(chain.province, "?unit=tinh-b") == set()
    # Its own ward and school narrow as they do for everyone.
    assert await _listed(chain.province, "?unit=phuong-a") == set(chain.mine)


async def test_the_results_export_holds_only_the_provinces_rows(
    chain: Chain, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await make_results(
        sessionmaker,
        [Row(code, rank, 10.0 - rank) for rank, code in enumerate(chain.mine + chain.theirs, 1)],
    )
    path = f"/admin/contests/{chain.contest_id}/export/results.csv"
    mine = await chain.province.get(path)
    assert mine.status_code == 200
    text = mine.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert all(code in text for code in chain.mine)
    assert not any(code in text for code in chain.theirs)
    everything = (await chain.national.get(path)).content.decode("utf-8-sig")
    assert all(code in everything for code in chain.mine + chain.theirs)
    assert len(list(csv.reader(io.StringIO(everything)))) == len(rows) + len(chain.theirs)
    xlsx = await chain.province.get(path.replace(".csv", ".xlsx"))
    assert xlsx.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/admin/event",
        "/admin/units",
        "/admin/audit",
        "/admin/privacy",
        "/admin/contests/{contest_id}",
        # Judging is theirs too (tests/judging/test_unit_judging.py), but not the judges'
        # sign-in slips or judging on paper.
        "/admin/contests/{contest_id}/slips",
        "/admin/contests/{contest_id}/paper",
        "/admin/contests/{contest_id}/results",
        "/admin/contests/{contest_id}/certificates.pdf",
    ],
)
async def test_the_national_organisers_pages_are_refused_to_a_province(
    chain: Chain, path: str
) -> None:
    url = path.format(contest_id=chain.contest_id)
    refused = await chain.province.get(url)
    assert refused.status_code == 403
    assert "Tài khoản của bạn không được dùng trang này." in refused.text
    # The national organiser is let in (a file with nothing to hold yet is not found).
    assert (await chain.national.get(url)).status_code in (200, 303, 404)


async def test_a_provinces_console_shows_only_its_pages(chain: Chain) -> None:
    overview = await chain.province.get("/admin")
    for national_only in ("/admin/event", "/admin/units", "/admin/audit", "/admin/privacy"):
        assert f'href="http://testserver{national_only}"' not in overview.text
    assert f"/admin/contests/{chain.contest_id}/entries" in overview.text
    national = await chain.national.get("/admin")
    assert 'href="http://testserver/admin/units"' in national.text


async def test_a_provinces_report_rolls_up_its_wards_and_the_nations_its_provinces(
    chain: Chain,
) -> None:
    mine = await chain.province.get("/admin/report")
    assert mine.status_code == 200
    title = vi("Report of %(units)s on the %(event)s", units="Tỉnh A", event=chain.event)
    assert f"<h1>{title}</h1>" in mine.text
    # One row: its ward, with its school's entries below it; nothing of province B.
    assert "<span>Phường A</span>" in mine.text
    assert "Tỉnh B" not in mine.text and "Trường THCS Bạch Sam" not in mine.text
    totals = mine.text.split('class="total"')[1]
    assert f'<td class="num">{len(chain.mine)}</td>' in totals
    # The nation's report: the provinces at the top, each rolled up.
    national = await chain.national.get("/admin/report")
    assert "<span>Tỉnh A</span>" in national.text and "<span>Tỉnh B</span>" in national.text
    assert "<span>Phường A</span>" not in national.text


def _cells(workbook: bytes) -> set[str]:
    """Every filled cell of every sheet, as text."""
    book = load_workbook(io.BytesIO(workbook), read_only=True)
    return {
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    }


async def test_a_provinces_report_files_hold_its_units_only(
    chain: Chain, make_user: MakeUser
) -> None:
    # A judge of the event, whom a province's report does not list (judges are the nation's).
    await make_user("gk-khac@example.vn", Role.JUDGE, units=["tdp-1"], contests=[WRITING])
    mine = await chain.province.get("/admin/report.xlsx")
    assert mine.status_code == 200
    cells = _cells(mine.content)
    assert any("Phường A" in cell for cell in cells)
    assert not any("Tỉnh B" in cell or "THCS Bạch Sam" in cell for cell in cells)
    assert not any("gk-khac@example.vn" in cell for cell in cells)
    title = vi("Report of %(units)s on the %(event)s", units="Tỉnh A", event=chain.event)
    assert load_workbook(io.BytesIO(mine.content)).properties.title == title
    assert any(cell.startswith("Tỉnh A · ") for cell in cells)
    national = await chain.national.get("/admin/report.xlsx")
    everything = _cells(national.content)
    assert any("Tỉnh B" in cell for cell in everything)
    assert "gk-khac@example.vn" in everything
    pdf = await chain.province.get("/admin/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "Tỉnh B" not in " ".join(pdf_pages(pdf.content))


async def test_a_province_manages_only_its_own_judges_and_coordinators(
    chain: Chain, make_user: MakeUser, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    mine = await make_user("gk-a@example.vn", Role.JUDGE, units=["th-bach-sam"])
    theirs = await make_user("gk-b@example.vn", Role.JUDGE, units=["thcs-bach-sam"])
    both = await make_user("gk-ab@example.vn", Role.JUDGE, units=["th-bach-sam", "tdp-1"])
    listed = await chain.province.get("/admin/users")
    assert listed.status_code == 200
    assert "gk-a@example.vn" in listed.text
    for other in ("gk-b@example.vn", "gk-ab@example.vn", "quoc-gia@example.vn"):
        assert other not in listed.text
    # Another province's judge, one who is also elsewhere, and an organiser: none of theirs.
    for account in (theirs, both):
        assert (await chain.province.get(f"/admin/users/{account.user.id}")).status_code == 404
    assert (await chain.province.get(f"/admin/users/{mine.user.id}")).status_code == 200

    async def users() -> int:
        async with sessionmaker() as session:
            return int(await session.scalar(select(func.count()).select_from(User)) or 0)

    before = await users()
    token = await csrf_from(chain.province, "/admin/users")
    not_theirs = vi("Give one or more of your own units (or the units below them).")
    for fields, message in (
        ({"role": "judge", "units": "thcs-bach-sam"}, not_theirs),
        ({"role": "coordinator", "units": ""}, not_theirs),
        (
            {"role": "admin", "units": "th-bach-sam"},
            vi("You may add judges and coordinators only."),
        ),
    ):
        refused = await chain.province.post(
            "/admin/users",
            data={"csrf_token": token, "email": "moi@example.vn", "name": "Người mới", **fields},
        )
        assert refused.status_code == 422, (fields, refused.status_code)
        assert message in html.unescape(refused.text), fields
    assert await users() == before
    made = await chain.province.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "email": "gk-moi@example.vn",
            "name": "Giám khảo mới",
            "role": "judge",
            "units": "phuong-a",
        },
    )
    assert made.status_code == 200 and "/invite/" in made.text
    assert await users() == before + 1
    # Moving its own judge out of the province: refused, nothing changed.
    moved = await chain.province.post(
        f"/admin/users/{mine.user.id}",
        data={"csrf_token": token, "name": "GK A", "units": "thcs-bach-sam", "active": "1"},
    )
    assert moved.status_code == 422 and not_theirs in html.unescape(moved.text)
    async with sessionmaker() as session:
        kept = await session.scalar(select(User).where(User.id == mine.user.id))
        assert kept is not None and kept.name != "GK A"
