"""The tallies the database keeps (migrations 0009's and 0017's triggers) equal a count of the
rows after every kind of write: the ORM's, bulk INSERT ... SELECT, COPY (PostgreSQL) or batches
(SQLite), scoring, recusal, reassignment, withdrawal, an entrant or an entry moved, bulk
updates and deletes; and what the pages show is read from them, for the whole event and for
an organiser of some units."""

from __future__ import annotations

import re
from collections import Counter

import httpx
from sqlalchemy import delete, distinct, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest import rules
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
    UnitEntryTally,
    UnitKind,
    UnitRoundTally,
    UnitTally,
    User,
)
from contest.pagination import PageRequest
from contest.rules import OrganiserScope
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
    make_two_provinces,
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


ByUnit = tuple[Counter[tuple[int, int, str]], Counter[tuple[int, int, str]]]


async def _by_unit(session: AsyncSession) -> tuple[ByUnit, ByUnit]:
    """Entries by (contest, their entrant's unit, status) and assignments by (round, unit,
    status): counted row by row, and read from the tallies by unit (0 is no row)."""
    entries = (
        select(Entry.contest_id, Entrant.unit_id, Entry.status, func.count())
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .group_by(Entry.contest_id, Entrant.unit_id, Entry.status)
    )
    assignments = (
        select(Assignment.round_id, Entrant.unit_id, Assignment.status, func.count())
        .join(Entry, Entry.id == Assignment.entry_id)
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .group_by(Assignment.round_id, Entrant.unit_id, Assignment.status)
    )
    counted = [
        Counter(
            {
                (a, b, str(c)): n
                for a, b, c, n in await session.execute(query.where(Entrant.unit_id.is_not(None)))
            }
        )
        for query in (entries, assignments)
    ]
    tallied = (
        Counter(
            {
                (t.contest_id, t.unit_id, str(t.status)): t.entries
                for t in await session.scalars(select(UnitEntryTally))
                if t.entries
            }
        ),
        Counter(
            {
                (t.round_id, t.unit_id, str(t.status)): t.assignments
                for t in await session.scalars(select(UnitRoundTally))
                if t.assignments
            }
        ),
    )
    return (counted[0], counted[1]), tallied


async def _check(sessionmaker: async_sessionmaker[AsyncSession]) -> Counts:
    async with sessionmaker() as session:
        counted = await _counted(session)
        entries, entrants, _judges, rounds, units = counted
        assert await _tallied(session) == (entries, entrants, rounds, units)
        by_unit, tallied_by_unit = await _by_unit(session)
        assert tallied_by_unit == by_unit
    return counted


async def _reassign(session: AsyncSession, assignment_id: int, contest_id: int) -> None:
    """The assignment given to the first of the contest's judges who may take it."""
    for judge in await judging.contest_judges_of(session, contest_id=contest_id):
        try:
            await judging.reassign(
                session, assignment_id=assignment_id, judge_id=judge.id, actor=None
            )
        except ReassignRefusedError:
            continue
        break
    await session.commit()


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
        await _reassign(session, moved.assignment_id, contest_id)
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
        await session.execute(delete(UnitEntryTally))
        await session.execute(delete(UnitRoundTally))
        assert await _tallied(session) != (counted[0], counted[1], counted[3], counted[4])
        by_unit, tallied_by_unit = await _by_unit(session)
        assert sum(by_unit[0].values()) > 0 and tallied_by_unit == (Counter(), Counter())
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


async def _scope_live(
    session: AsyncSession, scope: OrganiserScope, contest_id: int, round_id: int
) -> tuple[int, int, int, int, Counter[int]]:
    """What an organiser's progress and unfinished list show, counted row by row as before the
    tallies by unit: (submitted entries, active assignments of them, submitted ones, unfinished
    assignments, active assignments by judge)."""
    in_scope = rules.entries_in_scope(scope)
    entries = await session.scalar(
        select(func.count(Entry.id)).where(
            Entry.contest_id == contest_id, Entry.status == EntryStatus.SUBMITTED, in_scope
        )
    )
    work = select(Assignment.judge_id, Assignment.status).join(
        Entry, Entry.id == Assignment.entry_id
    )
    work = work.where(Assignment.round_id == round_id, in_scope)
    active = (
        await session.execute(
            work.where(Entry.status == EntryStatus.SUBMITTED, Assignment.status.in_(judging.ACTIVE))
        )
    ).all()
    unfinished = (
        await session.execute(work.where(Assignment.status.in_(judging.UNFINISHED)))
    ).all()
    return (
        int(entries or 0),
        len(active),
        sum(1 for _j, status in active if status == AssignmentStatus.SUBMITTED),
        len(unfinished),
        Counter(judge for judge, _status in active),
    )


async def _scope_shown(
    session: AsyncSession, scope: OrganiserScope, contest_id: int
) -> tuple[int, int, int, int, Counter[int]]:
    """The same as the progress and the unfinished list show them (from the tallies)."""
    progress = await judging.contest_progress(
        session, contest_id=contest_id, scope=scope, judges_page=PageRequest(size=100)
    )
    unfinished = await judging.unfinished_assignments(session, contest_id=contest_id, scope=scope)
    return (
        progress.entries,
        progress.assigned,
        progress.done,
        unfinished.total or 0,
        Counter({j.judge_id: j.assigned for j in progress.judges}),
    )


async def test_an_organisers_counts_from_the_tallies_by_unit_equal_a_live_count(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> None:
    """A province's, a ward's and a class's organiser, and the whole event's, see the counts a
    live count gives after assignment, scoring, a recusal, a reassignment, an entrant, an
    entry and a unit moved elsewhere, a withdrawal and deleted assignments."""
    await make_two_provinces(sessionmaker)
    async with sessionmaker() as session:
        parents = dict((await session.execute(select(Unit.code, Unit))).all())
        # A second school in each province, whose teacher judges the other school's entries.
        session.add_all(
            Unit(event_id=p.event_id, kind=UnitKind.SCHOOL, code=c, name=c, parent_id=p.id)
            for c, p in (("th-a2", parents["tinh-a"]), ("th-b2", parents["tinh-b"]))
        )
        await session.commit()
    for code in ("th-a2", "th-b2"):
        await make_user(f"gk.{code}@example.vn", Role.JUDGE, units=[code], contests=[WRITING])
    contest_id = await contest_id_of(sessionmaker, WRITING)
    await make_entries(sessionmaker, WRITING, ages=[7, 8, 9, 10])
    await make_entries(sessionmaker, WRITING, ages=[12, 13], unit_code="thcs-bach-sam-6a")
    scopes = [rules.WHOLE_EVENT]
    for code in ("tinh-a", "phuong-a", "tinh-b", "th-bach-sam-3a"):
        account = await make_user(f"{code}@example.vn", Role.ADMIN, units=[code])
        scopes.append(OrganiserScope(account.user.id, True))
    seen: list[tuple[int, int, int, int, Counter[int]]] = []

    async def check() -> None:
        async with sessionmaker() as session:
            round_id = await session.scalar(select(Round.id).where(Round.contest_id == contest_id))
            assert round_id is not None
            for scope in scopes:
                live = await _scope_live(session, scope, contest_id, round_id)
                shown = await _scope_shown(session, scope, contest_id)
                assert shown[:4] == live[:4], scope
                # The page's judges (an organiser of some units': their own), each with their
                # work on the scope's entries.
                assert shown[4] == Counter({j: live[4][j] for j in shown[4]}), scope
                seen.append(shown)
        await _check(sessionmaker)

    async with sessionmaker() as session:
        report = await judging.run_assignment(session, contest_id=contest_id, actor=None)
        await session.commit()
    assert report.new_assignments > 0
    await check()
    province = seen[1]
    assert province[0] > 0 and province[1] > 0 and province[0] < seen[0][0]
    assert sum(province[4].values()) > 0  # the province's own judges have its work

    # Scoring (submitted and drafts), a recusal, a reassignment.
    async with sessionmaker() as session:
        theirs = (
            await session.scalars(
                select(Assignment)
                .join(Entry, Entry.id == Assignment.entry_id)
                .where(Entry.contest_id == contest_id, rules.entries_in_scope(scopes[1]))
                .order_by(Assignment.id)
            )
        ).all()
        for number, assignment in enumerate(theirs[:4]):
            await score(
                session,
                assignment_id=assignment.id,
                points={"noi-dung": 3, "sang-tao": 1, "ngon-ngu": 1, "lien-he": 1},
                submit=number % 2 == 0,
            )
        await session.commit()
        stepping_back = theirs[4]
        judge = await session.get(User, stepping_back.judge_id)
        assert judge is not None
        await judging.recuse(
            session, assignment_id=stepping_back.id, judge=judge, reason="Người quen"
        )
        await session.commit()
    await check()
    assert seen[-4][2] > 0  # the province's submitted scores
    async with sessionmaker() as session:
        moved = (
            await judging.unfinished_assignments(session, contest_id=contest_id, scope=scopes[1])
        ).items[0]
        await _reassign(session, moved.assignment_id, contest_id)
    await check()

    # An entrant of province A moves to a class of province B, with their entry and its work;
    # then an entry is given to an entrant of province B; then a class moves to province B.
    async with sessionmaker() as session:
        units = dict((await session.execute(select(Unit.code, Unit.id))).all())
        a_entries = (
            await session.scalars(
                select(Entry)
                .join(Entrant, Entrant.id == Entry.entrant_id)
                .where(Entry.contest_id == contest_id, Entrant.unit_id == units["th-bach-sam-3a"])
                .order_by(Entry.id)
            )
        ).all()
        entrant = await session.get(Entrant, a_entries[0].entrant_id)
        assert entrant is not None
        entrant.unit_id = units["thcs-bach-sam-7b"]
        await session.commit()
        b_entrant = await session.scalar(
            select(Entrant.id).where(Entrant.unit_id == units["thcs-bach-sam-6a"]).limit(1)
        )
        assert b_entrant is not None
        a_entries[1].entrant_id = b_entrant
        await session.commit()
    await check()
    async with sessionmaker() as session:
        await session.execute(
            update(Unit)
            .where(Unit.code == "th-bach-sam-4b")
            .values(parent_id=units["thcs-bach-sam"])
        )
        await session.commit()
    await check()

    # A withdrawal, then the work on some entries deleted, then the whole round's.
    async with sessionmaker() as session:
        withdrawn = await session.get(Entry, a_entries[2].id)
        assert withdrawn is not None
        withdrawn.status = EntryStatus.WITHDRAWN
        await session.commit()
    await check()
    async with sessionmaker() as session:
        await session.execute(
            delete(Assignment).where(Assignment.entry_id.in_([e.id for e in a_entries[3:5]]))
        )
        await session.commit()
    await check()
    async with sessionmaker() as session:
        await session.execute(delete(Assignment))
        await session.commit()
    await check()
    assert all(counts[1:4] == (0, 0, 0) for counts in seen[-len(scopes) :])
