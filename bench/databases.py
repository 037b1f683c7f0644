"""Databases a benchmark makes for itself on a PostgreSQL server, and drops afterwards."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import asyncpg


async def _run(server_url: str, statement: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


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
