"""The tallies the database keeps (migration 0009's triggers) equal a count of the rows after
every kind of write: the ORM's, bulk INSERT ... SELECT, COPY (PostgreSQL) or batches (SQLite),
scoring, recusal, reassignment, withdrawal, bulk updates and deletes; and what the pages show
is read from them."""

from __future__ import annotations

import re
from collections import Counter

import httpx
from sqlalchemy import delete, distinct, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.i18n import format_number, use_locale
from contest.models import (
    Assignment,
    AssignmentStatus,
    Entrant,
    EntrantTally,
    Entry,
    EntryStatus,
    EntryTally,
    Role,
    Round,
    RoundTally,
    Unit,
    UnitTally,
    User,
)
from contest.tallies import REFILL
from judging import services as judging
from judging.interfaces import ReassignRefusedError
from tests.results.support import bearer
from tests.support import (
    WRITING,
    MakeUser,
    bulk_entries,
    bulk_scores,
    contest_id_of,
    make_entries,
    score,
)

Tallied = tuple[
    Counter[tuple[int, str]], Counter[int], Counter[tuple[int, str]], Counter[tuple[int, int]]
]
Counts = tuple[
    Counter[tuple[int, str]],
    Counter[int],
    Counter[tuple[int, int, str]],
    Counter[tuple[int, str]],
    Counter[tuple[int, int]],
]


async def _counted(session: AsyncSession) -> Counts:
    """Entries by (contest, status), entrants with a submitted entry by event, assignments by
    (round, judge, status): counted row by row."""
    entries = Counter(
        {
            (c, str(s)): n
            for c, s, n in await session.execute(
                select(Entry.contest_id, Entry.status, func.count()).group_by(
                    Entry.contest_id, Entry.status
                )
            )
        }
    )
    entrants = Counter(
        {
            event: n
            for event, n in await session.execute(
                select(Entrant.event_id, func.count(distinct(Entrant.id)))
                .join(Entry, Entry.entrant_id == Entrant.id)
                .where(Entry.status == EntryStatus.SUBMITTED)
                .group_by(Entrant.event_id)
            )
        }
    )
    assignments = Counter(
        {
            (r, j, str(s)): n
            for r, j, s, n in await session.execute(
                select(
                    Assignment.round_id, Assignment.judge_id, Assignment.status, func.count()
                ).group_by(Assignment.round_id, Assignment.judge_id, Assignment.status)
            )
        }
    )
    rounds: Counter[tuple[int, str]] = Counter()
    for (round_id, _judge, status), n in assignments.items():
        rounds[(round_id, status)] += n
    units = Counter(
        {
            (unit, n): people
            for unit, n, people in await session.execute(
                select(Entrant.unit_id, func.count(), func.count(distinct(Entrant.id)))
                .join(Entry, Entry.entrant_id == Entrant.id)
                .where(Entry.status == EntryStatus.SUBMITTED, Entrant.unit_id.is_not(None))
                .group_by(Entrant.unit_id)
            )
        }
    )
    return entries, entrants, assignments, rounds, units


async def _tallied(session: AsyncSession) -> Tallied:
    """The same from the tallies but for the judges' assignments, which have none (a tally of
    0 is no rows)."""
    entries = Counter(
        {
            (t.contest_id, str(t.status)): t.entries
            for t in await session.scalars(select(EntryTally))
            if t.entries
        }
    )
    entrants = Counter(
        {t.event_id: t.entrants for t in await session.scalars(select(EntrantTally)) if t.entrants}
    )
    rounds: Counter[tuple[int, str]] = Counter()
    for t in await session.scalars(select(RoundTally)):
        rounds[(t.round_id, str(t.status))] += t.assignments
    units = Counter(
        {(t.unit_id, t.entries): t.entrants for t in await session.scalars(select(UnitTally))}
    )
    return (
        entries,
        entrants,
        Counter({k: n for k, n in rounds.items() if n}),
        Counter({k: n for k, n in units.items() if k[1] or n}),
    )


async def _check(sessionmaker: async_sessionmaker[AsyncSession]) -> Counts:
    async with sessionmaker() as session:
        counted = await _counted(session)
        entries, entrants, _judges, rounds, units = counted
        assert await _tallied(session) == (entries, entrants, rounds, units)
    return counted


async def test_tallies_equal_the_rows_after_every_kind_of_write(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> None:
    entries, entrants, assignments, *_ = await _check(sessionmaker)
    assert sum(entries.values()) > 0 and sum(entrants.values()) > 0

    for number in range(3):
        await make_user(f"extra{number}@x.vn", Role.JUDGE, units=["tdp-3"], contests=[WRITING])
    made = await make_entries(sessionmaker, WRITING, ages=[7, 8, 9, 12, 13])
    contest_id = await contest_id_of(sessionmaker, WRITING)
    async with sessionmaker() as session:
        unit_ids = list(await session.scalars(select(Unit.id).limit(3)))
        # Many rows in one statement.
        await bulk_entries(
            session, contest_id=contest_id, count=40, unit_ids=unit_ids, prefix="Tally "
        )
        await session.commit()
    entries, *_ = await _check(sessionmaker)
    assert entries[(contest_id, "submitted")] >= 45

    # Assignment: COPY on PostgreSQL, batches on SQLite.
    async with sessionmaker() as session:
        report = await judging.run_assignment(session, contest_id=contest_id, actor=None)
        await session.commit()
    assert report.new_assignments > 0
    _, _, assignments, *_ = await _check(sessionmaker)
    assert sum(assignments.values()) == report.new_assignments

    # Scoring, a recusal, a reassignment.
    async with sessionmaker() as session:
        some = (
            await session.scalars(
                select(Assignment).where(Assignment.entry_id.in_(made)).order_by(Assignment.id)
            )
        ).all()[:6]
        for number, assignment in enumerate(some):
            await score(
                session,
                assignment_id=assignment.id,
                points={"noi-dung": 3, "sang-tao": 1, "ngon-ngu": 1, "lien-he": 1},
                submit=number % 3 != 0,
            )
        await session.commit()
    _, _, assignments, *_ = await _check(sessionmaker)
    assert {status for _r, _j, status in assignments} >= {"assigned", "draft", "submitted"}
    async with sessionmaker() as session:
        mine = await session.scalar(
            select(Assignment)
            .where(Assignment.status == AssignmentStatus.ASSIGNED)
            .order_by(Assignment.id)
            .limit(1)
        )
        assert mine is not None
        judge = await session.get(User, mine.judge_id)
        assert judge is not None
        await judging.recuse(session, assignment_id=mine.id, judge=judge, reason="Người quen")
        await session.commit()
    await _check(sessionmaker)
    async with sessionmaker() as session:
        moved = (await judging.unfinished_assignments(session, contest_id=contest_id)).items[0]
        judges = await judging.contest_judges_of(session, contest_id=contest_id)
        for judge in judges:
            try:
                await judging.reassign(
                    session, assignment_id=moved.assignment_id, judge_id=judge.id, actor=None
                )
            except ReassignRefusedError:
                continue
            break
        await session.commit()
        reassigned = await session.get(Assignment, moved.assignment_id)
        assert reassigned is not None and reassigned.judge_id != moved.judge_id
    await _check(sessionmaker)

    # Withdrawal, and an entrant with two entries who counts once, then not at all.
    async with sessionmaker() as session:
        first, second = (await session.get(Entry, made[0])), (await session.get(Entry, made[1]))
        assert first is not None and second is not None
        second.entrant_id = first.entrant_id
        await session.commit()
    await _check(sessionmaker)
    # The entrant moves to another unit, taking both entries along.
    async with sessionmaker() as session:
        first = await session.get(Entry, made[0])
        assert first is not None
        entrant = await session.get(Entrant, first.entrant_id)
        group = await session.scalar(select(Unit.id).where(Unit.code == "tdp-2"))
        assert entrant is not None and group is not None and entrant.unit_id != group
        before = (await _counted(session))[4]
        entrant.unit_id = group
        await session.commit()
    *_, units = await _check(sessionmaker)
    assert units != before
    # Their first entry withdrawn, they still count; their second disqualified, no more.
    seen = []
    for entry_id, status in ((made[0], EntryStatus.WITHDRAWN), (made[1], EntryStatus.DISQUALIFIED)):
        async with sessionmaker() as session:
            entry = await session.get(Entry, entry_id)
            assert entry is not None
            entry.status = status
            await session.commit()
        seen.append((await _check(sessionmaker))[1])
    entrants_one, entrants_none = seen
    event = next(iter(entrants_one))
    assert entrants_none[event] == entrants_one[event] - 1

    # Bulk updates and deletes, many rows a statement.
    async with sessionmaker() as session:
        round_id = await session.scalar(select(Round.id).where(Round.contest_id == contest_id))
        assert round_id is not None
        await bulk_scores(session, round_id=round_id)
        await session.commit()
    await _check(sessionmaker)
    async with sessionmaker() as session:
        await session.execute(
            update(Entry).where(Entry.contest_id == contest_id).values(status="withdrawn")
        )
        await session.execute(delete(Assignment).where(Assignment.round_id == round_id))
        await session.commit()
    entries, _, assignments, *_ = await _check(sessionmaker)
    assert entries[(contest_id, "submitted")] == 0 and not any(
        key[0] == round_id for key in assignments
    )


async def test_refill_counts_the_tallies_afresh(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """What a bulk load runs after writing rows with the triggers off."""
    counted = await _check(sessionmaker)
    async with sessionmaker() as session:
        await session.execute(delete(EntryTally))
        await session.execute(delete(EntrantTally))
        await session.execute(delete(RoundTally))
        await session.execute(delete(UnitTally))
        assert await _tallied(session) != (counted[0], counted[1], counted[3], counted[4])
        for statement in REFILL:
            await session.execute(text(statement))
        await session.commit()
    assert await _check(sessionmaker) == counted


async def test_the_dashboard_and_the_report_read_the_tallies(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    """A tally changed by hand shows on the pages: they read it, not the rows."""
    contest_id = await contest_id_of(sessionmaker, WRITING)
    async with sessionmaker() as session:
        await session.execute(
            update(EntryTally)
            .where(EntryTally.contest_id == contest_id, EntryTally.status == "submitted")
            .values(entries=987654)
        )
        await session.execute(update(EntrantTally).values(entrants=123456))
        await session.commit()
    headers = await bearer(sessionmaker)
    dashboard = await client.get("/admin", headers=headers)
    report = await client.get("/admin/report", headers=headers)
    assert dashboard.status_code == report.status_code == 200
    assert number(987654) in dashboard.text
    assert number(987654) in report.text
    headline = re.search(r"<strong data-headline>([^<]*)</strong>", report.text)
    assert headline is not None and "123456" in headline.group(1)


def number(value: int) -> str:
    """A count as the Vietnamese pages write it."""
    with use_locale("vi"):
        return format_number(value)
