"""A comparative final: opened from a scored round, its pairs planned in advance and given to
judges free of conflicts, decided one at a time by each pair's judge, and ranked with its
reliability and each judge's infit on the organiser's page; every refusal writes nothing."""

from __future__ import annotations

import dataclasses
import html
import re
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.errors import ConflictError, InvalidError
from contest.models import (
    Comparison,
    Entrant,
    Entry,
    Role,
    Round,
    RoundKind,
    RoundStatus,
    User,
    round_entries,
)
from judging import comparing, services
from judging.services import unit_chain
from tests.support import (
    WRITING,
    Account,
    MakeUser,
    comparative_final,
    contest_id_of,
    csrf_from,
    make_entries,
    score_all,
    selected,
    sign_in,
    vi,
)

PER_ENTRY = 4


@dataclasses.dataclass
class Final:
    contest_id: int
    round: Round
    # Each shortlisted entry's true share of full marks: the better one should win its pairs.
    quality: dict[int, float]
    judges: dict[str, Account]


@pytest.fixture
async def final(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> Final:
    """The writing contest judged on the rubric, then its best 4 of each division sent to a
    comparative final of PER_ENTRY comparisons per entry."""
    writing = await contest_id_of(sessionmaker, WRITING)
    judges = {
        email: await make_user(email, Role.JUDGE, units=[unit], contests=[WRITING])
        for email, unit in (("a@x.vn", "tdp-1"), ("b@x.vn", "tdp-2"), ("c@x.vn", "tdp-3"))
    }
    # Two divisions (primary, lower secondary) of six entries each.
    ages = [9, 10, 10, 11, 9, 10, 12, 13, 14, 12, 13, 14]
    entries = await make_entries(sessionmaker, WRITING, ages=ages)
    async with sessionmaker() as session:
        await services.run_assignment(session, contest_id=writing, actor=None)
        await session.commit()
        every = await session.scalars(select(Entry.id).where(Entry.contest_id == writing))
        others = set(every.all()) - set(entries)
    # The first four of each division score full marks and go on; the rest a quarter.
    best = set(entries[:4] + entries[6:10])
    shares = {entry: 1.0 if entry in best else 0.25 for entry in [*entries, *others]}
    await score_all(sessionmaker, writing, shares)
    async with sessionmaker() as session:
        round_ = await comparative_final(
            session, contest_id=writing, per_entry=PER_ENTRY, top_per_division=4
        )
        await session.commit()
    # In the final, the later an entry was made, the better it truly is.
    quality = {entry: float(entry) for entry in shares}
    return Final(writing, round_, quality, judges)


async def _comparisons(
    sessionmaker: async_sessionmaker[AsyncSession], round_id: int
) -> list[Comparison]:
    query = select(Comparison).where(Comparison.round_id == round_id)
    return await selected(sessionmaker, query.order_by(Comparison.id))


async def test_every_entry_gets_its_comparisons_from_judges_free_of_conflicts(
    final: Final, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    made = await _comparisons(sessionmaker, final.round.id)
    seen = Counter(e for c in made for e in (c.left_entry_id, c.right_entry_id))
    async with sessionmaker() as session:
        shortlisted = await session.scalars(
            select(round_entries.c.entry_id).where(round_entries.c.round_id == final.round.id)
        )
        assert set(seen) == set(shortlisted.all())
    assert min(seen.values()) >= PER_ENTRY
    assert len({frozenset((c.left_entry_id, c.right_entry_id)) for c in made}) == len(made)
    assert all(c.winner_entry_id is None and c.decided_at is None for c in made)
    async with sessionmaker() as session:
        for comparison in made:
            for entry_id in (comparison.left_entry_id, comparison.right_entry_id):
                entry = await session.get(Entry, entry_id)
                assert entry is not None
                entrant = await session.get(Entrant, entry.entrant_id)
                assert entrant is not None
                chain = await unit_chain(session, entrant.unit_id)
                conflicts = await services.rules.judge_conflicts(
                    session, judge_ids=[comparison.judge_id]
                )
                assert conflicts[comparison.judge_id].units.isdisjoint(chain)
    # The three judges free of every conflict carry loads within one of each other.
    loads = Counter(c.judge_id for c in made)
    free = [loads[account.user.id] for account in final.judges.values()]
    assert min(free) > 0 and max(free) - min(free) <= 1


@pytest.mark.parametrize("per_entry", [1, 41])
async def test_a_plan_is_made_once_and_only_with_a_sensible_number(
    final: Final, sessionmaker: async_sessionmaker[AsyncSession], per_entry: int
) -> None:
    before = len(await _comparisons(sessionmaker, final.round.id))
    async with sessionmaker() as session:
        with pytest.raises(ConflictError):
            await comparing.plan_round(session, contest_id=final.contest_id, actor=None)
        with pytest.raises(InvalidError):
            await comparing.plan_round(
                session, contest_id=final.contest_id, per_entry=per_entry, actor=None
            )
    assert len(await _comparisons(sessionmaker, final.round.id)) == before
    for raw in ["", "x", "1", "41", "-3", "٣"]:
        with pytest.raises(InvalidError):
            comparing.check_per_entry(raw)


async def _judge_of(sessionmaker: async_sessionmaker[AsyncSession], judge_id: int) -> User:
    async with sessionmaker() as session:
        judge = await session.get(User, judge_id)
    assert judge is not None
    return judge


async def test_a_judge_decides_their_pairs_on_the_page_and_nothing_else(
    final: Final,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    made = await _comparisons(sessionmaker, final.round.id)
    account = final.judges["a@x.vn"]
    mine = [c for c in made if c.judge_id == account.user.id]
    theirs = next(c for c in made if c.judge_id != account.user.id)
    assert mine
    await sign_in(client, account.user.email, account.password)
    queue = await client.get("/judge")
    assert "data-compare" in queue.text
    page = await client.get("/judge/compare")
    assert page.status_code == 200
    shown = [int(n) for n in re.findall(r'data-entry="(\d+)"', page.text)]
    first = mine[0]
    assert shown == [first.left_entry_id, first.right_entry_id]
    # No name, unit or receipt code of either entrant on the page.
    async with sessionmaker() as session:
        for entry_id in shown:
            entry = await session.get(Entry, entry_id)
            assert entry is not None
            entrant = await session.get(Entrant, entry.entrant_id)
            assert entrant is not None
            assert entry.receipt_code not in page.text and entrant.full_name not in page.text
    token = await csrf_from(client, "/judge/compare")
    path = f"/judge/compare/{first.id}"

    async def pick(url: str, winner: object) -> httpx.Response:
        return await client.post(url, data={"csrf_token": token, "winner": str(winner)})

    # An entry outside the pair, a pair of another judge's: refused, nothing written.
    outside = await pick(
        path, theirs.left_entry_id if theirs.left_entry_id not in shown else 999999
    )
    assert outside.status_code == 422
    assert vi("Choose one of the two entries shown.") in html.unescape(outside.text)
    assert (await pick(path, "not-a-number")).status_code == 422
    other = await pick(f"/judge/compare/{theirs.id}", theirs.left_entry_id)
    assert other.status_code == 404
    assert all(c.decided_at is None for c in await _comparisons(sessionmaker, final.round.id))

    chosen = await pick(path, first.right_entry_id)
    assert chosen.status_code == 303 and chosen.headers["location"].endswith("/judge/compare")
    # The same pick again stands; another pick after it is refused.
    assert (await pick(path, first.right_entry_id)).status_code == 303
    changed = await pick(path, first.left_entry_id)
    assert changed.status_code == 409
    assert vi("You have already chosen in this pair.") in html.unescape(changed.text)
    async with sessionmaker() as session:
        stored = await session.get(Comparison, first.id)
    assert stored is not None and stored.winner_entry_id == first.right_entry_id
    next_page = await client.get("/judge/compare")
    if len(mine) > 1:
        assert f'data-entry="{mine[1].left_entry_id}"' in next_page.text


async def test_no_pick_is_taken_once_the_round_is_closed(
    final: Final, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    made = await _comparisons(sessionmaker, final.round.id)
    async with sessionmaker() as session:
        await services.close_round(session, contest_id=final.contest_id, actor=None)
        await session.commit()
    judge = await _judge_of(sessionmaker, made[0].judge_id)
    async with sessionmaker() as session:
        with pytest.raises(ConflictError):
            await comparing.decide(
                session,
                comparison_id=made[0].id,
                judge=judge,
                winner_entry_id=made[0].left_entry_id,
            )
        assert await comparing.next_pair(session, judge=judge) is None
    assert all(c.decided_at is None for c in await _comparisons(sessionmaker, final.round.id))


async def test_the_organiser_sees_the_ranking_its_reliability_and_each_judges_infit(
    final: Final,
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    made = await _comparisons(sessionmaker, final.round.id)
    empty = await organiser.get(f"/admin/contests/{final.contest_id}/comparative")
    assert empty.status_code == 200 and "data-reliability" not in empty.text
    async with sessionmaker() as session:
        for comparison in made:
            judge = await session.get(User, comparison.judge_id)
            assert judge is not None
            better = max(
                (comparison.left_entry_id, comparison.right_entry_id),
                key=final.quality.__getitem__,
            )
            await comparing.decide(
                session, comparison_id=comparison.id, judge=judge, winner_entry_id=better
            )
        await session.commit()
        standing = await comparing.standing(session, contest_id=final.contest_id)
    assert standing.decided == standing.planned == len(made)
    assert standing.reliability is not None and 0 < standing.reliability <= 1
    order = [row.entry_id for row in standing.ranking]
    # Every pick followed the true order: the fit keeps it within each division's mixing.
    assert order[0] == max(order, key=final.quality.__getitem__)
    assert all(j.infit is not None and j.infit < comparing.INFIT_WARNING for j in standing.judges)
    page = await organiser.get(f"/admin/contests/{final.contest_id}/comparative")
    shown = re.search(r'data-reliability="([0-9.]+)"', page.text)
    assert shown and abs(float(shown.group(1)) - standing.reliability) < 1e-3
    for judge in standing.judges:
        assert f'data-judge="{judge.judge_id}"' in page.text


async def test_the_organiser_opens_a_final_from_the_judging_page(
    demo: DemoReport,
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    writing = await contest_id_of(sessionmaker, WRITING)
    for email, unit in (("a@x.vn", "tdp-1"), ("b@x.vn", "tdp-2")):
        await make_user(email, Role.JUDGE, units=[unit], contests=[WRITING])
    entries = await make_entries(sessionmaker, WRITING, ages=[9, 10, 10, 12, 13, 14])
    async with sessionmaker() as session:
        await services.run_assignment(session, contest_id=writing, actor=None)
        await session.commit()
        every = set(
            (await session.scalars(select(Entry.id).where(Entry.contest_id == writing))).all()
        )
    await score_all(sessionmaker, writing, {e: (0.5 if e in entries else 0.25) for e in every})
    path = f"/admin/contests/{writing}/judging"
    token = await csrf_from(organiser, path)
    url = f"/admin/contests/{writing}/comparative/open"
    for bad in [{"count": "0", "per_entry": "10"}, {"count": "3", "per_entry": "99"}]:
        refused = await organiser.post(url, data={"csrf_token": token, **bad})
        assert refused.status_code == 422
    async with sessionmaker() as session:
        rounds = int(await session.scalar(select(func.count()).select_from(Round)) or 0)
    assert rounds == 1
    opened = await organiser.post(url, data={"csrf_token": token, "count": "3", "per_entry": "4"})
    assert opened.status_code == 303
    async with sessionmaker() as session:
        current = await services.current_round(session, contest_id=writing)
        assert current is not None
        assert current.kind == RoundKind.COMPARATIVE and current.status == RoundStatus.OPEN
    assert await _comparisons(sessionmaker, current.id)
    judging = await organiser.get(path)
    assert f"/admin/contests/{writing}/comparative" in judging.text
