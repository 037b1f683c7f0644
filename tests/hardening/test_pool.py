"""The connection pool pings a PostgreSQL connection only once it has sat unused
(contest.db.PING_AFTER_IDLE_SECONDS), and replaces one found dead then: a connection the
server dropped (as a restart drops them all) costs no request."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

from contest import db
from tests.support import TEST_DATABASE_URL

# Defined only on PostgreSQL: SQLite's connections are files and are never pinged.
if TEST_DATABASE_URL:

    async def test_a_connection_dropped_by_the_server_is_replaced_before_use(
        database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        engine = db.create_engine(database_url)
        other = db.create_engine(database_url)
        try:
            async with engine.connect() as connection:
                first = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with other.connect() as connection:
                await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
                await connection.commit()
            # The pooled connection is dead; once it counts as idle it is pinged and replaced.
            monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
            async with engine.connect() as connection:
                second = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            assert second != first
        finally:
            await engine.dispose()
            await other.dispose()

    async def test_only_a_connection_that_sat_unused_is_pinged(
        database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        pings: list[object] = []
        ping = AsyncAdapt_asyncpg_connection.ping

        def counted(self: AsyncAdapt_asyncpg_connection) -> None:
            pings.append(self)
            ping(self)

        monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted)
        engine = db.create_engine(database_url)
        try:
            for _ in range(3):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            # A new connection is pinged once; given back and taken again at once, not again.
            assert len(pings) == 1
            monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            assert len(pings) == 2
        finally:
            await engine.dispose()
