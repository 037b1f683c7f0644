"""Alembic environment; runs with the app's async engine."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy import Enum, String, text
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from contest import models  # noqa: F401  (registers every table on the metadata)
from contest.db import Base, create_engine

# Any fixed number: app processes starting together on PostgreSQL take turns at migrating.
MIGRATION_LOCK_ID = 7_302_024

target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write migrations in plain SQLAlchemy types, so they never import the app's code."""
    if type_ != "type":
        return False
    if isinstance(obj, Enum):
        # Enums are stored as strings: a new member needs no migration.
        return f"sa.String(length={obj.length})"
    if isinstance(obj, TypeDecorator):
        impl = obj.impl_instance
        if isinstance(impl, String) and impl.length:
            return f"sa.{type(impl).__name__}(length={impl.length})"
        if getattr(impl, "timezone", False):
            return f"sa.{type(impl).__name__}(timezone=True)"
        return f"sa.{type(impl).__name__}()"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported")
asyncio.run(_run_async())
