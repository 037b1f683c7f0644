"""The migration history builds exactly the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from contest.db import Base, create_engine, create_sessionmaker
from contest.demo import load_demo
from contest.migrate import alembic_config, upgrade
from judging.services import run_assignment
from storage import storage_from_url
from tests.support import DATABASES, WRITING, contest_id_of, empty_postgresql_database, run_apart

T = TypeVar("T")


@contextlib.contextmanager
def empty_database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
    else:
        with empty_postgresql_database("contest_migrations") as url:
            yield url


def inspected(url: str, look: Callable[[Connection], T]) -> T:
    """What ``look`` finds on a connection to the database."""

    async def run() -> T:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(look)
        finally:
            await engine.dispose()

    return run_apart(run())


def differences_and_tables(url: str) -> tuple[list[Any], set[str]]:
    def compare(connection: Connection) -> tuple[list[Any], set[str]]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        tables = set(inspect(connection).get_table_names())
        return compare_metadata(context, Base.metadata), tables

    return inspected(url, compare)


@pytest.mark.parametrize("database", DATABASES)
def test_migrations_from_empty_build_exactly_the_models(database: str, tmp_path: Path) -> None:
    with empty_database(database, tmp_path) as url:
        assert differences_and_tables(url)[1] == set()
        upgrade(url)
        upgrade(url)  # a second run has nothing to apply
        differences, tables = differences_and_tables(url)
    assert differences == []
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


# Migrations that change tables the tallies' triggers (0009, 0017) sit on or read: each goes
# down to the revision before it, dropping exactly its columns and keeping every trigger of the
# migrations before it, and back up with every trigger of the head.
TRIGGERED_TABLE_CHANGES = [
    ("0013", "0012", "entrants", {"child_consent_at", "name_withdrawn_at"}),
    ("0015", "0014", "entries", {"forwarded_from_id", "forwarded_score"}),
]
# The tallies' triggers a later migration adds (by a part of their names), on entries,
# entrants and assignments: they go down with it.
LATER_TALLY_TRIGGERS = [("0017", "_unit_tally_")]


def tally_triggers(connection: Connection) -> set[str]:
    """The names of the tallies' triggers (0009's ``*_tally_*``, 0017's ``*_unit_tally_*``)."""
    if connection.dialect.name == "sqlite":
        query = (
            "SELECT name FROM sqlite_master"
            " WHERE type = 'trigger' AND name LIKE '%\\_tally\\_%' ESCAPE '\\'"
        )
    else:
        query = (
            "SELECT tgname FROM pg_trigger"
            " WHERE NOT tgisinternal AND tgname LIKE '%\\_tally\\_%' ESCAPE '\\'"
        )
    return set(connection.exec_driver_sql(query).scalars())


def triggers_before(triggers: set[str], revision: str) -> set[str]:
    """Those of the head's tallies' ``triggers`` a database at ``revision`` has."""
    return {
        name
        for name in triggers
        if not any(later > revision and part in name for later, part in LATER_TALLY_TRIGGERS)
    }


@pytest.mark.parametrize("database", DATABASES)
@pytest.mark.parametrize(("revision", "before", "table", "added"), TRIGGERED_TABLE_CHANGES)
def test_a_migration_on_triggered_tables_goes_down_and_up_again(
    database: str, revision: str, before: str, table: str, added: set[str], tmp_path: Path
) -> None:
    """Down from the head to just before ``revision`` and up again: its columns go and come
    back, every trigger stays, and the schema is exactly the models'."""

    def columns_and_triggers(connection: Connection) -> tuple[set[str], set[str]]:
        found = {c["name"] for c in inspect(connection).get_columns(table)}
        return found, tally_triggers(connection)

    with empty_database(database, tmp_path) as url:
        upgrade(url)
        columns, triggers = inspected(url, columns_and_triggers)
        assert added <= columns and triggers_before(triggers, before)
        command.downgrade(alembic_config(url), before)
        down, triggers_down = inspected(url, columns_and_triggers)
        assert down == columns - added
        assert triggers_down == triggers_before(triggers, before)
        upgrade(url)
        assert inspected(url, tally_triggers) == triggers
        differences, _tables = differences_and_tables(url)
    assert differences == []


# Each tally by unit beside a count of the rows, in both databases' SQL (0 is no row).
UNIT_TALLIES = {
    "unit_entry_tallies": (
        "SELECT contest_id, unit_id, status, entries FROM unit_entry_tallies"
        " WHERE entries <> 0 ORDER BY 1, 2, 3",
        "SELECT e.contest_id, en.unit_id, e.status, count(*) FROM entries e"
        " JOIN entrants en ON en.id = e.entrant_id WHERE en.unit_id IS NOT NULL"
        " GROUP BY e.contest_id, en.unit_id, e.status ORDER BY 1, 2, 3",
    ),
    "unit_round_tallies": (
        "SELECT round_id, unit_id, status, assignments FROM unit_round_tallies"
        " WHERE assignments <> 0 ORDER BY 1, 2, 3",
        "SELECT a.round_id, en.unit_id, a.status, count(*) FROM assignments a"
        " JOIN entries e ON e.id = a.entry_id JOIN entrants en ON en.id = e.entrant_id"
        " WHERE en.unit_id IS NOT NULL GROUP BY a.round_id, en.unit_id, a.status"
        " ORDER BY 1, 2, 3",
    ),
}


async def _demo_assigned(url: str, uploads: Path) -> None:
    """The demo, its writing contest's judges assigned."""
    engine = create_engine(url)
    try:
        sessionmaker = create_sessionmaker(engine)
        storage = storage_from_url(f"file://{uploads}", secret_key="test", base_url="")
        await load_demo(sessionmaker=sessionmaker, storage=storage)
        await storage.aclose()
        contest_id = await contest_id_of(sessionmaker, WRITING)
        async with sessionmaker() as session:
            await run_assignment(session, contest_id=contest_id, actor=None)
            await session.commit()
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database", DATABASES)
def test_the_tallies_by_unit_go_down_and_up_again_counting_the_rows(
    database: str, tmp_path: Path
) -> None:
    """0017 down: its tables and triggers go, every other trigger stays; up again on rows
    written meanwhile: both tallies count them."""
    with empty_database(database, tmp_path) as url:
        upgrade(url)
        triggers = inspected(url, tally_triggers)
        run_apart(_demo_assigned(url, tmp_path / "uploads"))
        for tallied, counted in UNIT_TALLIES.values():
            assert _rows(url, tallied) == _rows(url, counted) != []
        _migrate(url, command.downgrade, "0016")
        assert not set(UNIT_TALLIES) & set(differences_and_tables(url)[1])
        assert inspected(url, tally_triggers) == triggers_before(triggers, "0016") != triggers
        _rows(url, "UPDATE assignments SET status = 'submitted' WHERE id % 2 = 0")
        _migrate(url, command.upgrade, "head")
        assert inspected(url, tally_triggers) == triggers
        for tallied, counted in UNIT_TALLIES.values():
            assert _rows(url, tallied) == _rows(url, counted)
        differences, _tables = differences_and_tables(url)
    assert differences == []


def _migrate(url: str, step: Any, revision: str) -> None:
    # Like contest.migrate.upgrade: env.py runs an event loop of its own, in a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(step, alembic_config(url), revision).result()


def _rows(url: str, statement: str) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(statement))
                return list(result.all()) if result.returns_rows else []
        finally:
            await engine.dispose()

    return run_apart(run())


@pytest.mark.parametrize("database", DATABASES)
def test_division_media_migrates_down_and_up_keeping_the_divisions(
    database: str, tmp_path: Path
) -> None:
    with empty_database(database, tmp_path) as url:
        _migrate(url, command.upgrade, "0012")
        _rows(
            url,
            "INSERT INTO events (slug, name, theme, organizer, starts_on, ends_on, description,"
            " retention_months, created_at) VALUES"
            " ('e', 'E', '', '', '2026-10-01', '2026-10-07', '', 12, '2026-10-01 00:00:00')",
        )
        _rows(
            url,
            "INSERT INTO contests (event_id, slug, kind, title, summary, rules, opens_at,"
            " closes_at, status, position, allowed_types, max_file_size, max_files,"
            " judges_per_entry, remark_days, blind, aggregation, prize_scheme) VALUES"
            " (1, 'c', 'storytelling', 'C', '', '', '2026-10-01 00:00:00', '2026-10-07 00:00:00',"
            " 'open', 0, '[\"mp4\"]', 1024, 1, 3, 7, true, 'normalised', '{}')",
        )
        _rows(
            url, "INSERT INTO divisions (contest_id, key, name, position) VALUES (1, 'd', 'D', 0)"
        )

        _migrate(url, command.upgrade, "0014")
        # A division from before has no rules of its own.
        assert [
            json.loads(r[0]) if isinstance(r[0], str) else r[0]
            for r in _rows(url, "SELECT media FROM divisions")
        ] == [{}]
        _rows(url, """UPDATE divisions SET media = '{"accepts": ["video"], "max_seconds": 600}'""")

        _migrate(url, command.downgrade, "0013")
        assert "media" not in {c["name"] for c in _columns(url, "divisions")}
        assert _rows(url, "SELECT key FROM divisions") == [("d",)]

        _migrate(url, command.upgrade, "head")
        differences, _tables = differences_and_tables(url)
    assert differences == []


def _columns(url: str, table: str) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(lambda c: inspect(c).get_columns(table))
        finally:
            await engine.dispose()

    return run_apart(run())
