"""Databases a benchmark makes for itself on a PostgreSQL server, and drops afterwards."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import asyncpg


@contextlib.asynccontextmanager
async def connected(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the database at ``database_url`` (a plain PostgreSQL URL), closed after."""
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


async def _run(server_url: str, statement: str) -> None:
    async with connected(server_url) as connection:
        await connection.execute(statement)


@contextlib.contextmanager
def own_database(server_url: str, name: str, *, keep: bool = False) -> Iterator[str]:
    """A new, empty database called ``name`` (one of that name left by an earlier run is dropped
    first), and its URL; dropped when the block ends unless ``keep``."""
    asyncio.run(_run(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_run(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        if not keep:
            asyncio.run(_run(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
