"""The set-based computation against the pure definition (judging.scoring), exactly.

A generated contest (seeded, so every run sees the same one): a few hundred entries of the
writing contest, with weighted criteria so that totals carry four decimals, judges seen on
many entries and on few, points drawn from a narrow range so that ties are many (a tie at the
top of a division shares a prize past its count), entries judged by one, two or three judges,
entries without a division, a withdrawn entry and entries no judge has scored. For each
aggregation and both prize schemes, contest.results.services.compute_results must give every
entry the rank, final score, plain mean, number of judges and prize that the pure functions
give it from the same totals: judging.services.round_scores (scoring.aggregate), then per
division scoring.rank and scoring.prizes_by_count or prizes_by_threshold, as results were
computed before they were computed in the database.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.models import (
    Aggregation,
    Assignment,
    AssignmentStatus,
    Contest,
    Criterion,
    Entry,
    EntryStatus,
    Result,
    Role,
    Score,
    Unit,
)
from contest.results import compute, services
from judging import services as judging
from judging.scoring import (
    AGGREGATIONS,
    EntryScore,
    RubricRow,
    prizes_by_count,
    prizes_by_threshold,
    rank,
    weighted_total,
)
from tests.results.support import Judged
from tests.support import WRITING, MakeUser, bulk_entries

ENTRIES = 240
TIERS = {"first": 1, "second": 2, "third": 3, "honourable": 5}
THRESHOLDS = {"first": 8.5, "second": 7.0, "third": 6.0, "honourable": 5.0}
WEIGHTS = (1.5, 1.0, 0.7, 1.3)  # the rubric's four criteria: totals get four decimals


async def _generated(
    sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> tuple[int, int]:
    """The writing contest of ``judged`` grown to ENTRIES more entries, judged and scored;
    and the entry withdrawn."""
    for number in range(5):
        await make_user(f"judge{number}@x.vn", Role.JUDGE, units=["tdp-1"], contests=[WRITING])
    async with sessionmaker() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == WRITING))
        assert contest is not None
        unit = await session.scalar(select(Unit.id).where(Unit.code == "th-bach-sam-3a"))
        assert unit is not None
        await bulk_entries(
            session, contest_id=contest.id, count=ENTRIES, unit_ids=[unit], prefix="agree-"
        )
        criteria = list(
            await session.scalars(
                select(Criterion)
                .where(Criterion.contest_id == contest.id)
                .order_by(Criterion.position)
            )
        )
        for criterion, weight in zip(criteria, WEIGHTS, strict=True):
            criterion.weight = weight
        await session.commit()
        contest_id = contest.id
    async with sessionmaker() as session:
        await judging.run_assignment(session, contest_id=contest_id, actor=None)
        await session.commit()
    rubric = [RubricRow(c.key, c.max_points, c.weight) for c in criteria]
    draw = random.Random(14)
    async with sessionmaker() as session:
        assignments = (
            await session.execute(
                select(Assignment.id, Assignment.entry_id, Assignment.judge_id, Entry.division_id)
                .join(Entry, Entry.id == Assignment.entry_id)
                .where(
                    Entry.contest_id == contest_id,
                    ~Assignment.id.in_(select(Score.assignment_id)),
                )
                .order_by(Assignment.id)
            )
        ).all()
        entry_ids = sorted({a.entry_id for a in assignments})
        first_division = min(a.division_id for a in assignments)
        # Three entries of one division with full marks from every judge: a tie for first.
        best = set(
            sorted({a.entry_id for a in assignments if a.division_id == first_division})[-3:]
        )
        # Unscored: every judge of two entries; one judge of every seventh entry and two of
        # every eleventh.
        unscored = set(entry_ids[10:12])
        leniency = {j: draw.uniform(-0.2, 0.2) for j in sorted({a.judge_id for a in assignments})}
        seen: Counter[int] = Counter()
        for assignment_id, entry_id, judge_id, _division in assignments:
            seen[entry_id] += 1
            if (
                entry_id in unscored
                or (entry_id % 7 == 0 and seen[entry_id] == 1)
                or (entry_id % 11 == 0 and seen[entry_id] <= 2)
            ):
                continue
            quality = 0.5 + 0.3 * ((entry_id * 37) % 11) / 10 + leniency[judge_id]
            points = {
                row.key: row.max_points
                if entry_id in best
                else min(
                    row.max_points,
                    max(
                        0.0,
                        round((quality + draw.choice((-0.1, 0.0, 0.05))) * row.max_points * 2) / 2,
                    ),
                )
                for row in rubric
            }
            session.add(
                Score(
                    assignment_id=assignment_id,
                    points=points,
                    total=weighted_total(rubric, points),
                )
            )
        await session.execute(
            update(Assignment)
            .where(Assignment.id.in_(select(Score.assignment_id)))
            .values(status=AssignmentStatus.SUBMITTED)
        )
        # Entries without a division, and one withdrawn.
        await session.execute(
            update(Entry).where(Entry.id.in_(entry_ids[20:26])).values(division_id=None)
        )
        await session.execute(
            update(Entry).where(Entry.id == entry_ids[30]).values(status=EntryStatus.WITHDRAWN)
        )
        await session.commit()
    return contest_id, entry_ids[30]


Outcome = dict[int, tuple[Any, ...]]


async def _expected(
    session: AsyncSession, contest: Contest, scheme: dict[str, Any]
) -> tuple[Outcome, dict[int, EntryScore]]:
    """Each entry's (division, rank, final, plain mean, judges, prize) by the pure functions."""
    round_ = await judging.current_round(session, contest_id=contest.id)
    assert round_ is not None
    scores = await judging.round_scores(session, contest=contest, round_=round_)
    divisions: dict[int, int | None] = {
        entry_id: division_id
        for entry_id, division_id in await session.execute(
            select(Entry.id, Entry.division_id).where(Entry.contest_id == contest.id)
        )
    }
    by_division: dict[int | None, list[EntryScore]] = defaultdict(list)
    for entry_id, score in scores.items():
        by_division[divisions[entry_id]].append(score)
    outcome: Outcome = {}
    for division_id, listed in by_division.items():
        ranked = rank(listed)
        if scheme["method"] == "threshold":
            awards = prizes_by_threshold(ranked, scheme["thresholds"])
        else:
            awards = prizes_by_count(ranked, scheme["tiers"])
        for item in ranked:
            s = item.score
            outcome[item.entry_id] = (
                division_id,
                item.rank,
                s.final,
                s.raw_mean,
                s.judges,
                awards.get(item.entry_id),
            )
    return outcome, scores


async def _computed(session: AsyncSession, contest_id: int) -> Outcome:
    results = (await session.scalars(select(Result).where(Result.contest_id == contest_id))).all()
    return {
        r.entry_id: (
            r.division_id,
            r.rank,
            r.final_score,
            r.raw_score,
            r.judges,
            r.prize.value if r.prize else None,
        )
        for r in results
    }


async def _compare(
    sessionmaker: async_sessionmaker[AsyncSession],
    contest_id: int,
    method: str,
    scheme: dict[str, Any],
) -> tuple[services.ComputeReport, Outcome, dict[int, EntryScore], Outcome]:
    """The contest computed by ``method`` and ``scheme``: the report, what the pure functions
    give, their scores, and what was computed."""
    async with sessionmaker() as session:
        contest = await session.get(Contest, contest_id)
        assert contest is not None
        contest.aggregation = Aggregation(method)
        contest.prize_scheme = scheme
        await session.commit()
    async with sessionmaker() as session:
        report = await services.compute_results(session, contest_id=contest_id, actor=None)
        await session.commit()
    async with sessionmaker() as session:
        contest = await session.get(Contest, contest_id)
        assert contest is not None
        expected, scores = await _expected(session, contest, scheme)
        computed = await _computed(session, contest_id)
    return report, expected, scores, computed


async def test_the_database_computes_what_the_pure_functions_define(
    sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser, judged: Judged
) -> None:
    contest_id, withdrawn = await _generated(sessionmaker, make_user)
    schemes = [
        {"method": "count", "tiers": TIERS},
        {"method": "threshold", "thresholds": THRESHOLDS},
    ]
    seen_methods = set()
    for method in AGGREGATIONS:
        for scheme in schemes:
            report, expected, scores, computed = await _compare(
                sessionmaker, contest_id, method, scheme
            )
            assert computed == expected, (method, scheme["method"])
            prizes = Counter(row[5] for row in expected.values() if row[5] is not None)
            assert report.entries == len(expected) and report.prizes == dict(prizes)
            # What makes the comparison worth making: shared ranks, four-decimal finals, one
            # to three judges, entries without a division.
            places = Counter((row[0], row[1]) for row in expected.values())
            assert max(places.values()) > 1
            assert any(round(s.final, 3) != s.final for s in scores.values())
            assert {s.judges for s in scores.values()} >= {1, 2, 3}
            assert any(row[0] is None for row in expected.values())
            if scheme["method"] == "count" and method != "normalised":
                # The three entries with full marks share first place and its prize.
                firsts = Counter(row[0] for row in expected.values() if row[5] == "first")
                assert max(firsts.values()) >= 3
            if not seen_methods:
                # From the second computation on, result rows are rewritten: one entry that
                # had a result is withdrawn (its result must go), the withdrawn one comes back
                # (it must get one).
                async with sessionmaker() as session:
                    await session.execute(
                        update(Entry)
                        .where(Entry.id == min(computed))
                        .values(status=EntryStatus.WITHDRAWN)
                    )
                    await session.execute(
                        update(Entry)
                        .where(Entry.id == withdrawn)
                        .values(status=EntryStatus.SUBMITTED)
                    )
                    await session.commit()
                assert withdrawn not in computed
            seen_methods.add(method)
    assert seen_methods == set(AGGREGATIONS)


async def test_computing_twice_in_one_transaction_gives_one_result_per_entry(
    sessionmaker: async_sessionmaker[AsyncSession], judged: Judged
) -> None:
    contest_id, entries = judged
    async with sessionmaker() as session:
        first = await services.compute_results(session, contest_id=contest_id, actor=None)
        second = await services.compute_results(session, contest_id=contest_id, actor=None)
        await session.commit()
        computed = await _computed(session, contest_id)
    assert first == second
    assert sorted(computed) == sorted(entries)
    assert [computed[e][1] for e in entries] == [1, 2, 2, 4, 5, 6]


async def test_scoring_a_few_entries_at_a_time_changes_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
    judged: Judged,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The totals are read and scored in batches (ranges of entries on PostgreSQL, cursor
    partitions on SQLite whose last entry waits for the next): batches of a few rows, which
    cut many entries' totals in two, give what the pure functions give."""
    contest_id, _withdrawn = await _generated(sessionmaker, make_user)
    monkeypatch.setattr(compute, "COPY_BATCH", 5)
    monkeypatch.setattr(compute, "BULK_BATCH", 7)
    scheme = {"method": "threshold", "thresholds": THRESHOLDS}
    for method in ("normalised", "trimmed_mean"):
        _report, expected, _scores, computed = await _compare(
            sessionmaker, contest_id, method, scheme
        )
        assert computed == expected, method
        assert len(computed) > 200
