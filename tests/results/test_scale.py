"""Assignment, compute and publication past the database driver's parameter limit.

asyncpg refuses a statement with more than 32,767 parameters; a list of every entry's id in a
query, or one row object per result in the session, used to fail or crawl at national size.
These tests make more entries than that (in bulk SQL, not through the services), then run the
services on them, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.models import Assignment, Contest, Entry, EntryStatus, Result, Unit
from contest.results import services
from judging import services as judging
from tests.results.support import Judged
from tests.support import bulk_entries, bulk_scores

MANY = 33_000  # past asyncpg's 32,767 parameters of one statement


class Recorder:
    """A progress callback that keeps what it was told."""

    def __init__(self, *, stop_after: int | None = None) -> None:
        self.calls: list[tuple[int, int]] = []
        self.stop_after = stop_after

    async def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))
        if self.stop_after is not None and len(self.calls) > self.stop_after:
            raise KeyboardInterrupt("stopped half-way")

    def assert_complete(self, total: int) -> None:
        """Called with 0 first, then with done strictly increasing to the one right total."""
        assert self.calls[0] == (0, total)
        assert self.calls[-1] == (total, total)
        done = [d for d, _ in self.calls]
        assert done == sorted(set(done))
        assert {t for _, t in self.calls} == {total}


async def count(session: AsyncSession, query: Select[int]) -> int:
    return int(await session.scalar(query) or 0)


async def duplicate_assignments(session: AsyncSession) -> int:
    keys = select(Assignment.round_id, Assignment.entry_id, Assignment.judge_id).distinct()
    distinct = await count(session, select(func.count()).select_from(keys.subquery()))
    return await count(session, select(func.count(Assignment.id))) - distinct


async def test_assign_compute_and_publish_more_entries_than_one_statement_takes(
    sessionmaker: async_sessionmaker[AsyncSession], judged: Judged
) -> None:
    contest_id, _six = judged
    async with sessionmaker() as session:
        units = list(await session.scalars(select(Unit.id).order_by(Unit.id)))
        await bulk_entries(
            session, contest_id=contest_id, count=MANY, unit_ids=units, prefix="scale-"
        )
        await session.commit()
        entries = await count(
            session,
            select(func.count(Entry.id)).where(
                Entry.contest_id == contest_id, Entry.status == EntryStatus.SUBMITTED
            ),
        )
    assert entries == MANY + 6

    # A run stopped after its first batch leaves nothing; the next run does all of it.
    async with sessionmaker() as session:
        with pytest.raises(KeyboardInterrupt):
            await judging.run_assignment(
                session, contest_id=contest_id, actor=None, progress=Recorder(stop_after=1)
            )
        await session.rollback()
    async with sessionmaker() as session:
        assert await count(session, select(func.count(Assignment.id))) == 6 * 3
        watched = Recorder()
        report = await judging.run_assignment(
            session, contest_id=contest_id, actor=None, progress=watched
        )
        await session.commit()
    assert report.entries == MANY + 6 and report.new_assignments == MANY * 3
    assert report.shortfalls == {}
    watched.assert_complete(MANY * 3)
    assert len(watched.calls) > 2  # in batches, not one statement

    async with sessionmaker() as session:
        again = await judging.run_assignment(session, contest_id=contest_id, actor=None)
        await session.commit()
        assert again.new_assignments == 0
        assert await duplicate_assignments(session) == 0
        round_ = await judging.current_round(session, contest_id=contest_id)
        assert round_ is not None
        await bulk_scores(session, round_id=round_.id)
        await session.commit()
        progress = await judging.contest_progress(session, contest_id=contest_id)
    assert (progress.entries, progress.assigned, progress.done) == (
        (MANY + 6,) + (entries * 3,) * 2
    )
    assert sum(j.done for j in progress.judges) == entries * 3

    async with sessionmaker() as session:
        # Prizes by score: thousands of winners, so serials go in more than one batch.
        contest = await session.get(Contest, contest_id)
        assert contest is not None
        contest.prize_scheme = {
            "method": "threshold",
            "thresholds": {"first": 9.0, "second": 7.0, "third": 5.0, "honourable": 3.0},
        }
        await session.commit()
    async with sessionmaker() as session:
        computing = Recorder()
        computed = await services.compute_results(
            session, contest_id=contest_id, actor=None, progress=computing
        )
        await session.commit()
    assert computed.entries == entries
    computing.assert_complete(entries)
    async with sessionmaker() as session:
        # Computing again replaces the preview: still one result per entry.
        await services.compute_results(session, contest_id=contest_id, actor=None)
        await session.commit()
        assert await count(session, select(func.count(Result.id))) == entries
        assert await count(session, select(func.count(func.distinct(Result.entry_id)))) == entries

    async with sessionmaker() as session:
        publishing = Recorder()
        published = await services.publish_results(
            session, contest_id=contest_id, actor=None, progress=publishing
        )
        await session.commit()
    assert published == entries
    prizes = sum(computed.prizes.values())
    assert prizes > services.SERIAL_BATCH
    publishing.assert_complete(prizes)
    async with sessionmaker() as session:
        unpublished = select(func.count(Result.id)).where(Result.published_at.is_(None))
        assert await count(session, unpublished) == 0
        serials = select(func.count(func.distinct(Result.certificate_serial)))
        assert await count(session, serials) == prizes
        without = select(func.count(Result.id)).where(
            Result.prize.is_not(None), Result.certificate_serial.is_(None)
        )
        assert await count(session, without) == 0
