"""Shared fixtures: a migrated database per test (SQLite, or PostgreSQL when
``CONTEST_TEST_DATABASE_URL`` is set), the app with its lifespan, and an HTTP client.

With ``CI=true`` nothing may skip: a missing browser or database is a failure there.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.accounts import passwords
from contest.accounts.passwords import hash_password
from contest.db import Base, create_engine, create_sessionmaker
from contest.demo import DemoReport, load_demo
from contest.migrate import upgrade
from contest.models import Contest, Role, Unit, User
from contest.settings import Settings
from storage import Storage, storage_from_url
from tests.support import (
    IN_CI,
    TEST_DATABASE_URL,
    Account,
    app_client,
    empty_postgresql_database,
    sign_in,
)

pytest_plugins = ["tests.s3server"]

# Tests hash and check hundreds of passwords (every demo load hashes six): argon2id at a test's
# cost keeps that from dominating the run. Servers started as processes keep the production
# cost, and tests/accounts/test_passwords.py checks what that is.
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # An expected failure reports as skipped too; it is not a skip.
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if IN_CI and _skipped:
        print(f"\nCI=true but {len(_skipped)} test(s) skipped: {', '.join(_skipped[:10])}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- database -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once per session: a SQLite template file, or a PostgreSQL database."""
    if TEST_DATABASE_URL:
        with empty_postgresql_database() as url:
            upgrade(url)
            yield url
    else:
        path = tmp_path_factory.mktemp("db") / "template.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        yield url


@pytest.fixture
async def database_url(migrated_database: str, tmp_path: Path) -> str:
    """An empty, migrated database for one test."""
    if migrated_database.startswith("sqlite"):
        template = Path(make_url(migrated_database).database or "")
        copy = tmp_path / "contest.sqlite3"
        shutil.copyfile(template, copy)
        return f"sqlite+aiosqlite:///{copy}"
    engine = create_engine(migrated_database)
    try:
        async with engine.begin() as connection:
            # The configuration's version row stays (its number only goes up).
            tables = ", ".join(
                f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name != "config_versions"
            )
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()
    return migrated_database


# --- the app ------------------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        storage_url=f"file://{tmp_path / 'uploads'}",
        secret_key="test-secret-key",
        base_url="http://testserver",
        locale="vi",
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as c:
        yield c


@pytest.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session maker of the test's own, to look at what the app wrote."""
    engine = create_engine(database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    """The app's storage, opened separately, to look at or seed what the app sees."""
    opened = storage_from_url(
        settings.storage_url, secret_key=settings.secret_key, base_url=settings.base_url
    )
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
async def demo(sessionmaker: async_sessionmaker[AsyncSession], storage: Storage) -> DemoReport:
    """The demo event, loaded into the test's database and storage."""
    return await load_demo(sessionmaker=sessionmaker, storage=storage)


@pytest.fixture
def make_user(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> Callable[..., Awaitable[Account]]:
    """Make a user with a password, bound to units (by code) and judged contests (by slug)."""

    async def make(
        email: str,
        role: Role,
        *,
        units: Sequence[str] = (),
        contests: Sequence[str] = (),
        password: str = "correct horse battery",
    ) -> Account:
        async with sessionmaker() as session:
            user = User(
                email=email,
                name=email.split("@")[0],
                role=role,
                password_hash=hash_password(password),
            )
            session.add(user)
            await session.flush()
            await session.refresh(user, ["units", "judged_contests"])
            if units:
                user.units.extend(
                    (await session.scalars(select(Unit).where(Unit.code.in_(units)))).all()
                )
            if contests:
                user.judged_contests.extend(
                    (await session.scalars(select(Contest).where(Contest.slug.in_(contests)))).all()
                )
            await session.commit()
        return Account(user=user, password=password)

    return make


@pytest.fixture
async def organiser(
    client: httpx.AsyncClient, demo: DemoReport, make_user: Callable[..., Awaitable[Account]]
) -> httpx.AsyncClient:
    """The client, signed in as an organiser of the demo event."""
    admin = await make_user("btc@example.vn", Role.ADMIN)
    await sign_in(client, admin.user.email, admin.password)
    return client
