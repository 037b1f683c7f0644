"""The audience vote: opened after publication, one ballot per receipt's code, throttled per
address, fraud flagged for the organiser, counts hidden while it runs if chosen, and never a
change to the official results."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import utcnow
from contest.demo import DemoReport
from contest.models import Ballot, Entry, Prize, Result
from contest.settings import Settings
from contest.vote import services
from tests.results.support import Row, make_results
from tests.support import WRITING, app_client, contest_id_of, csrf_from, make_entries, vi


async def _ballots(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Ballot)) or 0)


async def _results(sessionmaker: async_sessionmaker[AsyncSession]) -> list[tuple[object, ...]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Result.entry_id, Result.rank, Result.final_score, Result.prize).order_by(
                Result.id
            )
        )
        return [tuple(r) for r in rows.all()]


@pytest.fixture
async def published(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[int, list[int]]:
    """The writing contest with four entries published: three winners and one without prize."""
    entries = await make_entries(sessionmaker, WRITING, ages=[9, 10, 10, 11])
    await make_results(
        sessionmaker,
        [
            Row(entries[0], 1, 9.0, Prize.FIRST),
            Row(entries[1], 2, 8.0, Prize.SECOND),
            Row(entries[2], 3, 7.0, Prize.THIRD),
            Row(entries[3], 4, 5.0),
        ],
    )
    return await contest_id_of(sessionmaker, WRITING), entries


async def _open(
    organiser: httpx.AsyncClient, contest_id: int, *, hidden: bool = True, hours: int = 2
) -> httpx.Response:
    path = f"/admin/contests/{contest_id}/vote"
    token = await csrf_from(organiser, path)
    start = (utcnow() + timedelta(hours=7) - timedelta(minutes=5)).strftime("%H:%M %d/%m/%Y")
    end = (utcnow() + timedelta(hours=7 + hours)).strftime("%H:%M %d/%m/%Y")
    data = {"csrf_token": token, "opens_at": start, "closes_at": end}
    if hidden:
        data["counts_hidden"] = "1"
    return await organiser.post(path, data=data)


async def _vote(
    client: httpx.AsyncClient, code: str, entry: int, token: str | None = None
) -> httpx.Response:
    token = token or await csrf_from(client, f"/contests/{WRITING}/vote")
    return await client.post(
        f"/contests/{WRITING}/vote", data={"csrf_token": token, "code": code, "entry": str(entry)}
    )


def _code(settings: Settings, contest_id: int, entry_id: int) -> str:
    return services.vote_code(settings.secret_key, contest_id=contest_id, entry_id=entry_id)


@pytest.fixture
async def voting(
    published: tuple[int, list[int]], organiser: httpx.AsyncClient
) -> tuple[int, list[int]]:
    """``published``, with its audience vote opened by the organiser, the counts hidden."""
    assert (await _open(organiser, published[0])).status_code == 303
    return published


async def test_the_vote_opens_only_after_publication_with_a_sensible_period(
    demo: DemoReport,
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    writing = await contest_id_of(sessionmaker, WRITING)
    early = await _open(organiser, writing)
    assert early.status_code == 409
    assert vi("Publish the results first: the audience vote comes after.") in html.unescape(
        early.text
    )
    entries = await make_entries(sessionmaker, WRITING, ages=[9])
    await make_results(sessionmaker, [Row(entries[0], 1, 9.0, Prize.FIRST)])
    backwards = await _open(organiser, writing, hours=-3)
    assert backwards.status_code == 422
    async with sessionmaker() as session:
        assert await services.get_vote(session, contest_id=writing) is None
    assert (await _open(organiser, writing)).status_code == 303


async def test_one_vote_per_receipt_and_never_a_change_to_the_results(
    published: tuple[int, list[int]],
    organiser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    writing, entries = published
    results = await _results(sessionmaker)
    assert (await _open(organiser, writing)).status_code == 303
    async with app_client(settings) as voter:
        page = await voter.get(f"/contests/{WRITING}/vote")
        assert page.status_code == 200
        shown = [int(n) for n in re.findall(r'data-entry="(\d+)"', page.text)]
        assert shown == entries[:3]  # the winners, not the entry without a prize
        assert "data-ballots" not in page.text  # counts hidden while it runs
        code = _code(settings, writing, entries[3])
        voted = await _vote(voter, code.lower(), entries[0])
        assert voted.status_code == 303
        again = await _vote(voter, code, entries[1])
        assert again.status_code == 409
        assert vi("This code has voted already: one vote per receipt.") in html.unescape(again.text)
        for bad_code in ["", "123-ABCDEF", f"{entries[3]}-AAAAAA", "<script>"]:
            refused = await _vote(voter, bad_code, entries[0])
            assert refused.status_code == 422
            assert "<script>" not in refused.text
        not_a_winner = await _vote(voter, _code(settings, writing, entries[2]), entries[3])
        assert not_a_winner.status_code == 422
        assert vi("Choose one of the entries shown.") in html.unescape(not_a_winner.text)
    assert await _ballots(sessionmaker) == 1
    assert await _results(sessionmaker) == results
    admin_page = await organiser.get(f"/admin/contests/{writing}/vote")
    assert re.search(rf'data-entry="{entries[0]}"[^>]*><td>[^<]*</td><td>1', admin_page.text)


async def test_a_vote_after_the_close_is_refused_and_the_counts_then_show(
    voting: tuple[int, list[int]],
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    writing, entries = voting
    async with app_client(settings) as voter:
        assert (
            await _vote(voter, _code(settings, writing, entries[1]), entries[2])
        ).status_code == 303
        token = await csrf_from(voter, f"/contests/{WRITING}/vote")
        async with sessionmaker.begin() as session:
            vote = await services.get_vote(session, contest_id=writing)
            assert vote is not None
            vote.closes_at = utcnow() - timedelta(minutes=1)
        late = await _vote(voter, _code(settings, writing, entries[0]), entries[2], token)
        assert late.status_code == 409
        assert vi("The audience vote is not open.") in html.unescape(late.text)
        closed = await voter.get(f"/contests/{WRITING}/vote")
    assert await _ballots(sessionmaker) == 1
    # Closed: the counts show and the leader carries the audience prize, apart from the prizes.
    assert "data-ballots" in closed.text
    winner = closed.text.split(f'data-entry="{entries[2]}"')[1].split("</li>")[0]
    assert vi("Audience prize") in winner


async def test_too_many_attempts_from_one_address_wait_and_fraud_is_flagged(
    published: tuple[int, list[int]],
    organiser: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    writing, entries = published
    assert (await _open(organiser, writing, hidden=False)).status_code == 303
    more = await make_entries(sessionmaker, WRITING, ages=[9] * 12)
    async with app_client(settings) as voter:
        for entry in more[: services.BURST_BALLOTS]:
            assert (
                await _vote(voter, _code(settings, writing, entry), entries[0])
            ).status_code == 303
        for _ in range(services.MAX_ATTEMPTS_PER_ADDRESS - services.BURST_BALLOTS):
            await _vote(voter, "1-AAAAAA", entries[0])
        throttled = await _vote(voter, _code(settings, writing, more[-1]), entries[0])
        assert throttled.status_code == 429
        assert vi("Too many attempts from this connection. Please try again in an hour.") in (
            html.unescape(throttled.text)
        )
    assert await _ballots(sessionmaker) == services.BURST_BALLOTS
    async with sessionmaker() as session:
        standing = await services.standing(session, contest_id=writing)
    assert standing.suspect_entries == [entries[0]]
    assert [count for _ip, count in standing.suspect_addresses] == [services.BURST_BALLOTS]
    page = await organiser.get(f"/admin/contests/{writing}/vote")
    assert vi("a burst of votes: check it") in page.text


async def test_the_receipt_shows_its_vote_code_while_the_vote_is_open(
    voting: tuple[int, list[int]],
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    writing = voting[0]
    async with sessionmaker() as session:
        entry = await session.scalar(select(Entry).where(Entry.receipt_code == "DEMV-W7K3"))
    assert entry is not None
    async with sessionmaker() as session:
        code = await services.receipt_vote_code(
            session, entry=entry, secret_key=settings.secret_key
        )
    assert code == _code(settings, writing, entry.id)
