"""Engine, sessions, the column types every model shares, and bulk writes."""

from __future__ import annotations

import asyncio
import itertools
import time
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import JSON, DateTime, MetaData, String, Table, Text, event, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from starlette.convertors import IntegerConvertor, register_url_convertor

from contest.progress import Progress, no_progress

# Deterministic constraint names, so that migrations name the same thing on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


T = TypeVar("T")

# Row ids are INTEGER columns: 32-bit on PostgreSQL, where a larger value is an error inside
# the query rather than "no such row".
MAX_ROW_ID = 2**31 - 1


def _digits_at_most(limit: int) -> str:
    """A regex matching the decimal numbers 0..limit (without leading zeros past its length)."""
    text = str(limit)
    options = [f"[0-9]{{1,{len(text) - 1}}}"] if len(text) > 1 else []
    for position, digit in enumerate(text):
        if digit != "0":
            rest = len(text) - position - 1
            lower = f"[0-{int(digit) - 1}]" if digit != "1" else "0"
            options.append(text[:position] + lower + (f"[0-9]{{{rest}}}" if rest else ""))
    options.append(text)
    return "(?:" + "|".join(options) + ")"


class RowIdConvertor(IntegerConvertor):
    """``{name:int}`` in a route path matches only numbers a row id can be; a larger one is a
    404 from the router, never an overflow inside a query."""

    regex = _digits_at_most(MAX_ROW_ID)


# Registered when this module is first imported, which the models (and so every route module)
# do before building their routes.
register_url_convertor("int", RowIdConvertor())


def nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


class NFCString(TypeDecorator[str]):
    """A string stored in Unicode NFC whatever path it came in by.

    Vietnamese typed on different keyboards arrives composed or decomposed; stored NFC it
    compares, sorts and searches as one text.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else nfc(value)


class NFCText(NFCString):
    impl = Text
    cache_ok = True


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in UTC on every database (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012  (SQLAlchemy reads it as a class attribute)
        str: NFCString(255),
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


def create_engine(database_url: str) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(database_url, pool_size=10, max_overflow=10)
    event.listen(engine.sync_engine, "checkin", _note_checkin)
    event.listen(engine.sync_engine, "checkout", _ping_if_idle)
    return engine


# A connection given back to the pool less than this long ago is handed out again without a
# ping: it answered a moment ago. The ping (BEGIN, an empty query, ROLLBACK: three round trips
# with asyncpg) is a third of a submission's round trips when every checkout has it.
PING_AFTER_IDLE_SECONDS = 1.0
_CHECKED_IN = "contest_checked_in"


def _note_checkin(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    connection_record.info[_CHECKED_IN] = time.monotonic()


def _ping_if_idle(
    dbapi_connection: Any, connection_record: ConnectionPoolEntry, connection_proxy: Any
) -> None:
    """After a PostgreSQL restart the pool hands out live connections again instead of
    failing a request on each dead one (what ``pool_pre_ping`` does for every checkout): a
    connection that sat unused is pinged, and a dead one is replaced by the pool."""
    checked_in = connection_record.info.get(_CHECKED_IN)
    if checked_in is not None and time.monotonic() - checked_in < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dbapi_connection.ping()
    except Exception as exc:
        raise DisconnectionError() from exc


def _sqlite_pragmas(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets readers go on while one writer commits, which several workers need.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def run_with_session(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one command's database work in a fresh event loop, engine and session (the CLI's)."""

    async def run() -> T:
        engine = create_engine(database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


# Rows per bulk statement: large enough that the round trips do not count, small enough that
# one batch's values stay a few megabytes whatever the number of rows in all.
BULK_BATCH = 20_000


async def insert_rows(
    session: AsyncSession,
    target: Table | type[Base],
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]] | AsyncIterable[Sequence[Any]],
    *,
    total: int,
    progress: Progress = no_progress,
) -> int:
    """Insert many rows (tuples of ``columns``' values as the database stores them: enum
    values, aware UTC datetimes; all of them given, as no column default applies) in
    batches, in the session's transaction; returns how many were inserted. The rows may come
    from an async iterator (made while they are read from the same session).

    PostgreSQL takes each batch through COPY on the session's own connection (several times
    faster than INSERT, and no parameter limit); SQLite through an executemany INSERT.
    """
    table = target if isinstance(target, Table) else cast(Table, target.__table__)
    connection = await session.connection()
    copy = None
    if connection.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        if not driver.is_in_transaction():
            # COPY outside the session's transaction would commit on its own.
            await connection.exec_driver_sql("SELECT 1")
        copy = driver.copy_records_to_table
    done = 0
    await progress(done, total)
    next_batch = _batches(rows)
    while batch := await next_batch():
        if copy is not None:
            await copy(table.name, records=batch, columns=list(columns))
        else:
            await session.execute(
                insert(table), [dict(zip(columns, row, strict=True)) for row in batch]
            )
        done += len(batch)
        await progress(done, total)
    if copy is not None and done:
        # Fresh statistics for the rows just loaded, inside the same transaction: the next
        # queries on the table (progress, the organiser's lists) plan for its real size
        # instead of waiting for autovacuum.
        await connection.exec_driver_sql(f'ANALYZE "{table.name}"')
    return done


async def hold_write_lock(session: AsyncSession) -> None:
    """Take the database's write lock now, for the rest of the session's transaction, before
    a long read that writes come after. SQLite needs it: a transaction that read, then sees
    another connection commit (a job's heartbeat), cannot start writing any more ("database is
    locked"); PostgreSQL locks rows as it writes them and needs nothing."""
    connection = await session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is not None and not driver.in_transaction:
        await connection.exec_driver_sql("BEGIN IMMEDIATE")


def _batches(
    rows: Iterable[Sequence[Any]] | AsyncIterable[Sequence[Any]],
) -> Callable[[], Awaitable[list[Sequence[Any]]]]:
    """The next BULK_BATCH rows at each call (an empty list at the end), of either kind."""
    if isinstance(rows, AsyncIterable):
        iterator: AsyncIterator[Sequence[Any]] = aiter(rows)

        async def take_async() -> list[Sequence[Any]]:
            batch: list[Sequence[Any]] = []
            async for row in iterator:
                batch.append(row)
                if len(batch) == BULK_BATCH:
                    break
            return batch

        return take_async
    plain = iter(rows)

    async def take() -> list[Sequence[Any]]:
        return list(itertools.islice(plain, BULK_BATCH))

    return take
