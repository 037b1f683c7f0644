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
    Aggregation,
    AuditEvent,
    ComparativeResults,
    Comparison,
    Contest,
    Entrant,
    Entry,
    EntryStatus,
    Job,
    Prize,
    Result,
    Role,
    Round,
    RoundKind,
    RoundStatus,
    User,
    round_entries,
)
from contest.results import services as results
from judging import comparative, comparing, services
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


async def _make_final(
    sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser, best: list[float]
) -> Final:
    """The writing contest judged on the rubric (by the plain mean, so that equal marks tie),
    then its best 4 of each division (scored ``best``, a share of full marks each) sent to a
    comparative final of PER_ENTRY comparisons per entry."""
    writing = await contest_id_of(sessionmaker, WRITING)
    async with sessionmaker() as session:
        contest = await session.get(Contest, writing)
        assert contest is not None
        contest.aggregation = Aggregation.MEAN
        await session.commit()
    judges = {
        email: await make_user(email, Role.JUDGE, units=[unit], contests=[WRITING])
        for email, unit in (("a@x.vn", "tdp-1"), ("b@x.vn", "tdp-2"), ("c@x.vn", "tdp-3"))
    }
    # Two divisions (primary, lower secondary) of six entries each.
    ages = [9, 10, 10, 8, 9, 10, 12, 13, 14, 12, 13, 14]
    entries = await make_entries(sessionmaker, WRITING, ages=ages)
    async with sessionmaker() as session:
        await services.run_assignment(session, contest_id=writing, actor=None)
        await session.commit()
        every = await session.scalars(select(Entry.id).where(Entry.contest_id == writing))
        others = set(every.all()) - set(entries)
    # The first four of each division go on; the rest score a quarter.
    shares = dict.fromkeys([*entries, *others], 0.25)
    shares.update(zip(entries[:4], best, strict=True))
    shares.update(zip(entries[6:10], best, strict=True))
    await score_all(sessionmaker, writing, shares)
    async with sessionmaker() as session:
        round_ = await comparative_final(
            session, contest_id=writing, per_entry=PER_ENTRY, top_per_division=4
        )
        await session.commit()
    # In the final, the later an entry was made, the better it truly is.
    quality = {entry: float(entry) for entry in shares}
    return Final(writing, round_, quality, judges)


@pytest.fixture
async def final(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> Final:
    """A final whose shortlist all scored full marks on the rubric: the round before says
    nothing about who is close, so the pairs are random."""
    return await _make_final(sessionmaker, make_user, [1.0] * 4)


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


async def _decide(
    sessionmaker: async_sessionmaker[AsyncSession], final: Final, pairs: list[Comparison]
) -> None:
    """Each pair decided by its judge for the truly better entry."""
    async with sessionmaker() as session:
        for comparison in pairs:
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


async def test_the_organiser_sees_the_ranking_its_reliability_and_each_judges_infit(
    final: Final,
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    made = await _comparisons(sessionmaker, final.round.id)
    empty = await organiser.get(f"/admin/contests/{final.contest_id}/comparative")
    assert empty.status_code == 200 and "data-reliability" not in empty.text
    await _decide(sessionmaker, final, made)
    async with sessionmaker() as session:
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
    assert "Độ tin cậy của thang xếp hạng:" in page.text
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


# --- the final in the results -------------------------------------------------------------

# The shortlist's rubric shares, in each division: two tied at full marks, then 0.75 and 0.5.
GRADED = [1.0, 1.0, 0.75, 0.5]


@pytest.fixture
async def graded(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> Final:
    """A final whose shortlist scored GRADED on the rubric, every pair decided for the truly
    better entry (the later made, against the rubric order)."""
    made = await _make_final(sessionmaker, make_user, GRADED)
    await _decide(sessionmaker, made, await _comparisons(sessionmaker, made.round.id))
    return made


async def _results(
    sessionmaker: async_sessionmaker[AsyncSession], contest_id: int
) -> dict[int | None, list[Result]]:
    """The contest's results by division, best rank first."""
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(Result)
            .where(Result.contest_id == contest_id)
            .order_by(Result.rank, Result.entry_id)
        )
        found: dict[int | None, list[Result]] = {}
        for row in rows:
            found.setdefault(row.division_id, []).append(row)
    return found


async def _compute(sessionmaker: async_sessionmaker[AsyncSession], contest_id: int) -> None:
    async with sessionmaker() as session:
        await results.compute_results(session, contest_id=contest_id, actor=None)
        await session.commit()


async def _fit_order(sessionmaker: async_sessionmaker[AsyncSession], final: Final) -> list[int]:
    async with sessionmaker() as session:
        standing = await comparing.standing(session, contest_id=final.contest_id)
    return [row.entry_id for row in standing.ranking]


async def _shortlist(sessionmaker: async_sessionmaker[AsyncSession], final: Final) -> set[int]:
    async with sessionmaker() as session:
        found = await session.scalars(
            select(round_entries.c.entry_id).where(round_entries.c.round_id == final.round.id)
        )
        return set(found.all())


async def test_a_finished_final_ranks_the_shortlist_and_gives_its_prizes(
    graded: Final, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _compute(sessionmaker, graded.contest_id)
    by_division = await _results(sessionmaker, graded.contest_id)
    fit_order = await _fit_order(sessionmaker, graded)
    assert {r.entry_id for rows in by_division.values() for r in rows} == await _shortlist(
        sessionmaker, graded
    )
    assert len(by_division) == 2
    for rows in by_division.values():
        # The comparative order, not the rubric's (which put the earliest entries first).
        assert [r.entry_id for r in rows] == sorted((r.entry_id for r in rows), key=fit_order.index)
        assert [r.entry_id for r in rows] != sorted(r.entry_id for r in rows)
        assert [r.rank for r in rows] == [1, 2, 3, 4]
        # The demo's prizes by count: one first, two seconds, three thirds.
        assert [r.prize for r in rows] == [Prize.FIRST, Prize.SECOND, Prize.SECOND, Prize.THIRD]
        # The scores shown stay the rubric's.
        assert len({r.final_score for r in rows}) == 3


async def test_a_final_that_breaks_ties_keeps_the_rubric_order(
    graded: Final, organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    path = f"/admin/contests/{graded.contest_id}/comparative"
    page = await organiser.get(path)
    assert 'name="mode" value="rank" checked' in page.text
    token = await csrf_from(organiser, path)
    chosen = await organiser.post(f"{path}/results", data={"csrf_token": token, "mode": "ties"})
    assert chosen.status_code == 303
    assert 'name="mode" value="ties" checked' in (await organiser.get(path)).text
    await _compute(sessionmaker, graded.contest_id)
    fit_order = await _fit_order(sessionmaker, graded)
    for rows in (await _results(sessionmaker, graded.contest_id)).values():
        scores = [r.final_score for r in rows]
        assert scores == sorted(scores, reverse=True) and len(set(scores)) == 3
        tied = [r.entry_id for r in rows[:2]]
        # The two at full marks: ordered by the final, no longer sharing the first rank.
        assert tied == sorted(tied, key=fit_order.index)
        assert [r.rank for r in rows] == [1, 2, 3, 4]
    async with sessionmaker() as session:
        stored = await session.get(Round, graded.round.id)
        assert stored is not None and stored.comparative_results == ComparativeResults.TIES
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "comparative_results_chosen")
        )
    assert audited == 1


async def test_prizes_by_threshold_go_down_the_comparative_order(
    graded: Final, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _compute(sessionmaker, graded.contest_id)
    scores = sorted(
        {r.final_score for rows in (await _results(sessionmaker, graded.contest_id)).values()
         for r in rows},
        reverse=True,
    )  # fmt: skip
    async with sessionmaker() as session:
        contest = await session.get(Contest, graded.contest_id)
        assert contest is not None
        # Full marks win a first, 0.75 a second, 0.5 nothing.
        contest.prize_scheme = {
            "method": "threshold",
            "thresholds": {"first": scores[0], "second": scores[1]},
        }
        await session.commit()
    await _compute(sessionmaker, graded.contest_id)
    fit_order = await _fit_order(sessionmaker, graded)
    for rows in (await _results(sessionmaker, graded.contest_id)).values():
        assert [r.entry_id for r in rows] == sorted((r.entry_id for r in rows), key=fit_order.index)
        assert [r.prize for r in rows] == [Prize.FIRST, Prize.FIRST, Prize.SECOND, None]


async def _nothing_computed(
    sessionmaker: async_sessionmaker[AsyncSession], contest_id: int
) -> None:
    async with sessionmaker() as session:
        stored = await session.scalar(
            select(func.count()).select_from(Result).where(Result.contest_id == contest_id)
        )
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "results_computed")
        )
    assert stored == 0 and audited == 0


async def test_results_wait_for_every_pair_of_the_final(
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    final = await _make_final(sessionmaker, make_user, GRADED)
    made = await _comparisons(sessionmaker, final.round.id)
    await _decide(sessionmaker, final, made[:-1])
    message = vi(
        "The comparative final still has pairs to decide: compute the results when all are."
    )
    async with sessionmaker() as session:
        with pytest.raises(results.ResultsError) as refused:
            await results.compute_results(session, contest_id=final.contest_id, actor=None)
    assert refused.value.code == "undecided" and refused.value.status_code == 409
    assert refused.value.message == message
    # Through the API: refused at once, before any job is queued.
    headers = {"X-CSRF-Token": await csrf_from(organiser, f"/admin/contests/{final.contest_id}")}
    answered = await organiser.post(f"/api/v1/contests/{WRITING}/results/compute", headers=headers)
    assert answered.status_code == 409 and answered.json()["error"]["message"] == message
    await _nothing_computed(sessionmaker, final.contest_id)
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Job)) == 0
    # A pair whose entry was withdrawn is never shown, so it does not hold the results up.
    last = made[-1]
    async with sessionmaker() as session:
        entry = await session.get(Entry, last.left_entry_id)
        assert entry is not None
        entry.status = EntryStatus.WITHDRAWN
        await session.commit()
    await _compute(sessionmaker, final.contest_id)
    ranked = {r.entry_id for rows in (await _results(sessionmaker, final.contest_id)).values()
              for r in rows}  # fmt: skip
    assert ranked == await _shortlist(sessionmaker, final) - {last.left_entry_id}


async def test_the_choice_is_refused_for_another_round_or_mode(
    final: Final,
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    path = f"/admin/contests/{final.contest_id}/comparative"
    token = await csrf_from(organiser, path)
    for bad in ["best", "", "RANK "]:
        refused = await organiser.post(f"{path}/results", data={"csrf_token": token, "mode": bad})
        assert refused.status_code == 422, bad
        assert vi("Choose whether the final ranks the shortlist or only breaks ties.") in (
            html.unescape(refused.text)
        )
    # Another contest, judged on the rubric only.
    async with sessionmaker() as session:
        other = await session.scalar(select(Contest.id).where(Contest.id != final.contest_id))
        assert other is not None
        session.add(Round(contest_id=other, number=1, status=RoundStatus.OPEN))
        await session.commit()
    refused = await organiser.post(
        f"/admin/contests/{other}/comparative/results", data={"csrf_token": token, "mode": "rank"}
    )
    assert refused.status_code == 409
    assert vi("The current round is not a comparative round.") in html.unescape(refused.text)
    async with sessionmaker() as session:
        rounds = (await session.scalars(select(Round))).all()
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "comparative_results_chosen")
        )
    assert all(r.comparative_results is None for r in rounds) and audited == 0


async def test_the_final_is_planned_from_the_round_before_s_scores(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> None:
    final = await _make_final(sessionmaker, make_user, GRADED)
    made = await _comparisons(sessionmaker, final.round.id)
    shortlisted = sorted(await _shortlist(sessionmaker, final))
    async with sessionmaker() as session:
        contest = await session.get(Contest, final.contest_id)
        before = await comparing.scored_round(session, final=final.round)
        assert contest is not None and before is not None and before.number == 1
        scores = await services.round_scores(session, contest=contest, round_=before)
    prior = {entry: scores[entry].final for entry in shortlisted}
    informed = comparative.plan_pairs(
        shortlisted, per_entry=PER_ENTRY, seed=final.round.id, prior=prior
    )
    assert [(c.left_entry_id, c.right_entry_id) for c in made] == informed
    assert informed != comparative.plan_pairs(shortlisted, per_entry=PER_ENTRY, seed=final.round.id)


# --- the API ------------------------------------------------------------------------------


async def test_a_judge_decides_their_pairs_through_the_api_and_nothing_else(
    final: Final, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    made = await _comparisons(sessionmaker, final.round.id)
    account = final.judges["a@x.vn"]
    mine = [c for c in made if c.judge_id == account.user.id]
    theirs = next(c for c in made if c.judge_id != account.user.id)
    await sign_in(client, account.user.email, account.password)
    shown = await client.get("/api/v1/judge/comparisons/next")
    assert shown.status_code == 200
    body = shown.json()
    first = mine[0]
    assert body["pair"]["id"] == first.id and (body["done"], body["total"]) == (0, len(mine))
    assert [body["pair"]["left"]["id"], body["pair"]["right"]["id"]] == [
        first.left_entry_id,
        first.right_entry_id,
    ]
    # Blind: no name, unit or receipt code of either entrant.
    async with sessionmaker() as session:
        for entry_id in (first.left_entry_id, first.right_entry_id):
            entry = await session.get(Entry, entry_id)
            assert entry is not None
            entrant = await session.get(Entrant, entry.entrant_id)
            assert entrant is not None
            assert entry.receipt_code not in shown.text and entrant.full_name not in shown.text
    headers = {"X-CSRF-Token": await csrf_from(client, "/judge/compare")}
    path = f"/api/v1/judge/comparisons/{first.id}"

    async def pick(url: str, winner: object) -> httpx.Response:
        return await client.post(url, json={"winner": winner}, headers=headers)

    other = await pick(f"/api/v1/judge/comparisons/{theirs.id}", theirs.left_entry_id)
    assert other.status_code == 404
    assert other.json()["error"]["message"] == vi("This pair is not in your list.")
    outside = next(e for e in final.quality if e not in (first.left_entry_id, first.right_entry_id))
    for bad in [outside, str(first.left_entry_id), True, None, 1.5]:
        refused = await pick(path, bad)
        assert refused.status_code == 422, bad
        assert refused.json()["error"]["message"] == vi("Choose one of the two entries shown.")
    unreadable = await client.post(path, content=b"{", headers=headers)
    assert unreadable.status_code == 400
    assert all(c.decided_at is None for c in await _comparisons(sessionmaker, final.round.id))

    chosen = await pick(path, first.right_entry_id)
    assert chosen.status_code == 200
    assert chosen.json() == {"id": first.id, "winner": first.right_entry_id}
    assert (await pick(path, first.right_entry_id)).status_code == 200
    changed = await pick(path, first.left_entry_id)
    assert changed.status_code == 409
    assert changed.json()["error"]["message"] == vi("You have already chosen in this pair.")
    async with sessionmaker() as session:
        stored = await session.get(Comparison, first.id)
        decided = await session.scalar(
            select(func.count()).select_from(Comparison).where(Comparison.decided_at.is_not(None))
        )
    assert stored is not None and stored.winner_entry_id == first.right_entry_id
    assert decided == 1
    following = (await client.get("/api/v1/judge/comparisons/next")).json()
    assert following["done"] == 1
    assert following["pair"] is None if len(mine) == 1 else following["pair"]["id"] == mine[1].id


async def test_the_organiser_reads_the_standing_and_chooses_through_the_api(
    graded: Final, organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    url = f"/api/v1/contests/{WRITING}/comparative"
    read = await organiser.get(url)
    assert read.status_code == 200
    body = read.json()
    async with sessionmaker() as session:
        standing = await comparing.standing(session, contest_id=graded.contest_id)
    assert standing.reliability is not None
    assert body["reliability"] == pytest.approx(standing.reliability)
    assert (body["planned"], body["decided"], body["results"]) == (
        standing.planned,
        standing.decided,
        "rank",
    )
    assert [(r["entry"], r["standard_error"]) for r in body["ranking"]] == [
        (r.entry_id, pytest.approx(r.standard_error)) for r in standing.ranking
    ]
    assert [(j["id"], j["infit"]) for j in body["judges"]] == [
        (j.judge_id, pytest.approx(j.infit)) for j in standing.judges
    ]
    headers = {"X-CSRF-Token": await csrf_from(organiser, f"/admin/contests/{graded.contest_id}")}
    for bad in [{"mode": "best"}, {"mode": 1}, {}]:
        refused = await organiser.put(f"{url}/results", json=bad, headers=headers)
        assert refused.status_code == 422, bad
        assert refused.json()["error"]["message"] == vi(
            "Choose whether the final ranks the shortlist or only breaks ties."
        )
    async with sessionmaker() as session:
        stored = await session.get(Round, graded.round.id)
        assert stored is not None and stored.comparative_results is None
        drawing = await session.scalar(select(Contest).where(Contest.slug != WRITING))
        assert drawing is not None
        session.add(Round(contest_id=drawing.id, number=1, status=RoundStatus.OPEN))
        await session.commit()
    elsewhere = f"/api/v1/contests/{drawing.slug}/comparative"
    assert (await organiser.get(elsewhere)).status_code == 409
    wrong_round = await organiser.put(
        f"{elsewhere}/results", json={"mode": "rank"}, headers=headers
    )
    assert wrong_round.status_code == 409
    chosen = await organiser.put(f"{url}/results", json={"mode": "ties"}, headers=headers)
    assert chosen.status_code == 200 and chosen.json() == {"results": "ties"}
    async with sessionmaker() as session:
        rounds = {r.id: r.comparative_results for r in (await session.scalars(select(Round)))}
    assert rounds.pop(graded.round.id) == ComparativeResults.TIES
    assert set(rounds.values()) == {None}
