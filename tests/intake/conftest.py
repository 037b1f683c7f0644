"""Fixtures for the intake suite: every storage-touching test runs on the local folder and on
S3 (moto's standalone server over HTTP, shared with the storage suite's fixtures)."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport, load_demo
from contest.models import Contest
from contest.settings import Settings
from storage import Storage, storage_from_url
from tests.intake.support import Counts, StoredCheck, counts
from tests.s3server import AWS_REGION
from tests.support import app_client, upload_leftovers

# Small limits keep the suite fast; the rules are the same at any size.
DRAWING_LIMIT = 256 * 1024
WRITING_LIMIT = 128 * 1024
STORY_LIMIT = 256 * 1024


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def intake_settings(settings: Settings, backend: str, request: pytest.FixtureRequest) -> Settings:
    if backend == "local":
        return settings
    endpoint: str = request.getfixturevalue("s3_endpoint")
    bucket: str = request.getfixturevalue("s3_bucket")
    return dataclasses.replace(
        settings, storage_url=f"s3://{bucket}?endpoint_url={endpoint}&region={AWS_REGION}"
    )


@pytest.fixture
async def store(intake_settings: Settings) -> AsyncIterator[Storage]:
    """The backend under test, opened apart from the app, to count and read objects."""
    opened = storage_from_url(
        intake_settings.storage_url,
        secret_key=intake_settings.secret_key,
        base_url=intake_settings.base_url,
    )
    yield opened
    await opened.aclose()


@pytest.fixture
async def app(intake_settings: Settings, seeded: DemoReport) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(intake_settings) as client:
        yield client


@pytest.fixture
async def seeded(sessionmaker: async_sessionmaker[AsyncSession], store: Storage) -> DemoReport:
    """The demo event in the backend under test, with small upload limits."""
    report = await load_demo(sessionmaker=sessionmaker, storage=store)
    async with sessionmaker() as session:
        for slug, limit in (
            ("ve-tranh-theo-sach", DRAWING_LIMIT),
            ("viet-ve-cuon-sach-em-yeu", WRITING_LIMIT),
            ("ke-chuyen-sach", STORY_LIMIT),
        ):
            await session.execute(
                update(Contest).where(Contest.slug == slug).values(max_file_size=limit)
            )
        await session.commit()
    return report


@contextlib.asynccontextmanager
async def _adding(
    sessionmaker: async_sessionmaker[AsyncSession], store: Storage, *, entries: int, files: int
) -> AsyncIterator[Counts]:
    before = await counts(sessionmaker, store)
    yield before
    assert await counts(sessionmaker, store) == Counts(
        before.entrants + entries,
        before.entries + entries,
        before.assets + files,
        before.objects + files,
    )


@pytest.fixture
def nothing_stored(sessionmaker: async_sessionmaker[AsyncSession], store: Storage) -> StoredCheck:
    """``async with nothing_stored() as before:`` fails unless what runs inside leaves the
    entrants, entries, assets and stored objects as they were (``before``)."""
    return functools.partial(_adding, sessionmaker, store, entries=0, files=0)


@pytest.fixture
def one_entry_stored(sessionmaker: async_sessionmaker[AsyncSession], store: Storage) -> StoredCheck:
    """``async with one_entry_stored() as before:`` fails unless what runs inside adds one
    entrant with one entry and its three files (the original, its preview and its thumbnail,
    rows and objects), and nothing else."""
    return functools.partial(_adding, sessionmaker, store, entries=1, files=3)


LOCAL_ONLY = pytest.mark.parametrize("backend", ["local"], indirect=True)


@pytest.fixture
def leftovers(store: Storage, request: pytest.FixtureRequest) -> Callable[[], list[str]]:
    """Lists what a failed upload could leave behind: temp files, or open multipart uploads."""
    return functools.partial(upload_leftovers, store, request)
