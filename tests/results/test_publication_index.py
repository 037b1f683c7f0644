"""Publishing a large contest with the index of published results set aside (PostgreSQL),
and with it in place when another transaction holds the results table: the same outcome."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from contest.models import Result
from contest.results import services
from tests.results.support import Judged


async def _index_identity(connection: AsyncConnection) -> object:
    """Something that changes when the index is dropped and made again: its object id on
    PostgreSQL; on SQLite (where it never is) its definition."""
    if connection.dialect.name == "postgresql":
        return await connection.scalar(text("SELECT 'ix_results_contest_published'::regclass::oid"))
    return await connection.scalar(
        text("SELECT sql FROM sqlite_master WHERE name = 'ix_results_contest_published'")
    )


async def _published_index(connection: AsyncConnection) -> list[dict[str, object]]:
    def read(sync: object) -> list[dict[str, object]]:
        indexes = inspect(sync).get_indexes("results")
        return [
            {"columns": i["column_names"], "unique": i["unique"]}
            for i in indexes
            if i["name"] == "ix_results_contest_published"
        ]

    return await connection.run_sync(read)


async def _publish(sessionmaker: async_sessionmaker[AsyncSession], contest_id: int) -> object:
    async with sessionmaker() as session:
        await services.compute_results(session, contest_id=contest_id, actor=None)
        await session.commit()
    async with sessionmaker() as session:
        connection = await session.connection()
        before = await _index_identity(connection)
        await session.rollback()
    async with sessionmaker() as session:
        assert await services.publish_results(session, contest_id=contest_id, actor=None) == 6
        await session.commit()
    return before


async def _published_with_index(
    sessionmaker: async_sessionmaker[AsyncSession], contest_id: int
) -> object:
    """Checks that every result is published, every winner has a serial and the index is
    there as the model defines it; the index's identity."""
    async with sessionmaker() as session:
        connection = await session.connection()
        published = await session.scalar(
            select(func.count()).where(
                Result.contest_id == contest_id, Result.published_at.is_not(None)
            )
        )
        serials = await session.scalar(
            select(func.count()).where(
                Result.contest_id == contest_id, Result.certificate_serial.is_not(None)
            )
        )
        assert (published, serials) == (6, 6)
        assert await _published_index(connection) == [{"columns": ["contest_id"], "unique": False}]
        assert await services.is_published(session, contest_id=contest_id)
        return await _index_identity(connection)


@pytest.fixture
def contest_id(judged: Judged, monkeypatch: pytest.MonkeyPatch) -> int:
    """The judged contest, counted as large."""
    monkeypatch.setattr(services, "REINDEX_FROM", 1)
    return judged[0]


async def test_a_large_contest_is_published_with_the_index_made_again(
    sessionmaker: async_sessionmaker[AsyncSession], contest_id: int
) -> None:
    before = await _publish(sessionmaker, contest_id)
    identity = await _published_with_index(sessionmaker, contest_id)
    async with sessionmaker() as session:
        postgresql = (await session.connection()).dialect.name == "postgresql"
    # Dropped and made again on PostgreSQL; on SQLite, where an UPDATE costs the same either
    # way, left alone.
    assert (identity != before) == postgresql


async def test_publication_does_not_wait_for_a_table_another_transaction_holds(
    sessionmaker: async_sessionmaker[AsyncSession], contest_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "REINDEX_LOCK_TIMEOUT", "50ms")
    async with sessionmaker() as reader:
        # An open transaction that has read the results (an export, a page) holds the table
        # against a DROP INDEX until it ends.
        await reader.scalar(select(func.count()).select_from(Result))
        before = await _publish(sessionmaker, contest_id)
        await reader.rollback()
    assert await _published_with_index(sessionmaker, contest_id) == before
