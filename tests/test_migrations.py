"""The migration history builds exactly the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from contest.db import Base, create_engine
from contest.migrate import upgrade
from tests.support import DATABASES, empty_postgresql_database, run_apart


@contextlib.contextmanager
def empty_database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
    else:
        with empty_postgresql_database("contest_migrations") as url:
            yield url


def differences_and_tables(url: str) -> tuple[list[Any], set[str]]:
    def compare(connection: Connection) -> tuple[list[Any], set[str]]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        tables = set(inspect(connection).get_table_names())
        return compare_metadata(context, Base.metadata), tables

    async def run() -> tuple[list[Any], set[str]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    return run_apart(run())


@pytest.mark.parametrize("database", DATABASES)
def test_migrations_from_empty_build_exactly_the_models(database: str, tmp_path: Path) -> None:
    with empty_database(database, tmp_path) as url:
        assert differences_and_tables(url)[1] == set()
        upgrade(url)
        upgrade(url)  # a second run has nothing to apply
        differences, tables = differences_and_tables(url)
    assert differences == []
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
