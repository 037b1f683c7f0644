"""The results console and the report page a page at a time: filters by division, prize and
receipt code, the prize form on the page's rows only, the report's totals whatever the page."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.models import Contest, Division, Entry, Prize, Result, Unit
from tests.results.support import Row, bearer, make_results
from tests.support import WRITING, all_pages, listed, make_entries, vi


async def _console(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> tuple[int, list[Result]]:
    """Seven computed, unpublished results of the writing contest, in two divisions."""
    entries = await make_entries(sessionmaker, WRITING, ages=[7, 8, 9, 10, 12, 13])
    prizes = [Prize.FIRST, Prize.SECOND, None, None, Prize.FIRST, Prize.HONOURABLE]
    rows = [Row("DEMV-W7K3", 5, 5.0)] + [
        Row(entry, rank, 10.0 - rank, prize)
        for rank, (entry, prize) in enumerate(zip(entries, prizes, strict=True), start=1)
    ]
    results = await make_results(sessionmaker, rows, published=False)
    client.headers.update(await bearer(sessionmaker))
    async with sessionmaker() as session:
        contest_id = await session.scalar(select(Contest.id).where(Contest.slug == WRITING))
    assert contest_id is not None
    return contest_id, results


async def test_the_results_console_is_paginated_a_division_at_a_time(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    contest_id, results = await _console(demo, sessionmaker, client)
    async with sessionmaker() as session:
        divisions = (
            await session.scalars(
                select(Division.id)
                .where(Division.contest_id == contest_id)
                .order_by(Division.position, Division.id)
            )
        ).all()
    by_division = {d: [r.id for r in results if r.division_id == d] for d in divisions}
    assert len(by_division[divisions[0]]) == 5  # the first division is the default
    path = f"/admin/contests/{contest_id}/results"
    pages = await all_pages(client, f"{path}?per_page=2", "result")
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(i for page in pages for i in page) == sorted(by_division[divisions[0]])
    second = await all_pages(client, f"{path}?per_page=2&division={divisions[1]}", "result")
    assert sorted(i for page in second for i in page) == sorted(by_division[divisions[1]])

    first = await client.get(f"{path}?per_page=2")
    forms = re.findall(r'name="result" value="(\d+)"', first.text)
    assert [int(i) for i in forms] == listed(first.text, "result") == pages[0]
    # The actions stay whatever the page shows.
    assert 'value="publish"' in first.text and "/export/results.xlsx" in first.text


async def test_the_results_console_filters_by_division_prize_and_receipt_code(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    contest_id, results = await _console(demo, sessionmaker, client)
    path = f"/admin/contests/{contest_id}/results"

    async def shown(query: str) -> set[int]:
        response = await client.get(f"{path}?{query}")
        assert response.status_code == 200, response.text
        return set(listed(response.text, "result"))

    division = results[-1].division_id
    assert await shown(f"division={division}") == {
        r.id for r in results if r.division_id == division
    }
    assert await shown(f"prize=first&division={division}") == {
        r.id for r in results if r.prize == Prize.FIRST and r.division_id == division
    }
    async with sessionmaker() as session:
        code = await session.scalar(
            select(Entry.receipt_code).where(Entry.id == results[-1].entry_id)
        )
        first_division = await session.scalar(
            select(Division.id)
            .where(Division.contest_id == contest_id)
            .order_by(Division.position, Division.id)
            .limit(1)
        )
    assert code is not None
    # A receipt code is looked for in every division, not only the first.
    assert results[-1].division_id != first_division
    assert await shown(f"receipt={code.replace('-', ' ')}") == {results[-1].id}
    nothing = await client.get(f"{path}?prize=third")
    assert listed(nothing.text, "result") == [] and vi("No results match.") in nothing.text
    assert 'value="publish"' in nothing.text  # computed, whatever the filter shows

    for query in ("prize=gold", "division=-1", "page=x", "per_page=0"):
        assert (await client.get(f"{path}?{query}")).status_code == 400, query


async def test_the_report_page_shows_the_totals_and_a_page_of_units(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    await make_entries(sessionmaker, WRITING, ages=[7, 8])
    client.headers.update(await bearer(sessionmaker))
    async with sessionmaker() as session:
        tops = (await session.scalars(select(Unit.id).where(Unit.parent_id.is_(None)))).all()
    pages = await all_pages(client, "/admin/report?per_page=4", "unit")
    assert [len(page) for page in pages] == [4, 2]
    assert sorted(i for page in pages for i in page) == sorted(tops)

    headline = vi(
        "%(entries)s entries from %(entrants)s entrants in %(contests)s contests; "
        "%(prizes)s prizes awarded.",
        entries=5,
        entrants=5,
        contests=3,
        prizes=0,
    )
    for page in (1, 2):
        response = await client.get(f"/admin/report?per_page=4&page={page}")
        assert headline in response.text
        assert 'data-section="summary"' in response.text
    # Schools first: the primary school has the most entries on its page.
    first = await client.get("/admin/report?per_page=4")
    assert 'class="bar w-100"' in first.text
    assert (await client.get("/admin/report?page=0")).status_code == 400
