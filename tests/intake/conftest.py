"""Fixtures for the intake suite: every storage-touching test runs on the local folder and on
S3 (moto's standalone server over HTTP, shared with the storage suite's fixtures)."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.app import JOB_KINDS
from contest.demo import DemoReport, load_demo
from contest.jobs.worker import run_queued
from contest.models import Contest, Role
from contest.settings import Settings
from storage import Storage, storage_from_url
from tests.intake.support import (
    ApiRefused,
    Counts,
    Refused,
    StoredCheck,
    api_submit,
    assert_alert,
    counts,
    entrant_fields,
    signed_in_coordinator,
    submit_page,
)
from tests.s3server import AWS_REGION
from tests.support import Account, MakeUser, app_client, sign_in, upload_leftovers

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
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    settings: Settings | None = None,
    *,
    entries: int,
    files: int,
    processed: int = 0,
) -> AsyncIterator[Counts]:
    before = await counts(sessionmaker, store)
    yield before
    answered = Counts(
        before.entrants + entries,
        before.entries + entries,
        before.assets + files,
        before.objects + files,
    )
    assert await counts(sessionmaker, store) == answered
    if processed:
        assert settings is not None
        await run_queued(settings, JOB_KINDS)
        assert await counts(sessionmaker, store) == dataclasses.replace(
            answered,
            assets=answered.assets + processed,
            objects=answered.objects + processed,
        )


@pytest.fixture
async def coordinator(app: httpx.AsyncClient, make_user: MakeUser) -> Account:
    """A coordinator of the demo's primary school (th-bach-sam), signed in on ``app``."""
    return await signed_in_coordinator(app, make_user, ["th-bach-sam"])


@pytest.fixture
def nothing_stored(sessionmaker: async_sessionmaker[AsyncSession], store: Storage) -> StoredCheck:
    """``async with nothing_stored() as before:`` fails unless what runs inside leaves the
    entrants, entries, assets and stored objects as they were (``before``)."""
    return functools.partial(_adding, sessionmaker, store, entries=0, files=0)


@pytest.fixture
def refused(app: httpx.AsyncClient, nothing_stored: StoredCheck) -> Refused:
    """``await refused(slug, files, status=…)`` sends the entry form (the usual entrant, or
    ``fields``) and fails unless the page refuses it with this status, saying ``alert`` when
    given, and keeps nothing; it answers the page."""

    async def send(
        slug: str,
        files: Iterable[tuple[str, bytes]] = (),
        *,
        fields: dict[str, str] | None = None,
        status: int,
        alert: str | None = None,
    ) -> httpx.Response:
        async with nothing_stored():
            response = await submit_page(
                app, slug, entrant_fields() if fields is None else fields, files
            )
            assert response.status_code == status
        if alert is not None:
            assert_alert(response, alert)
        return response

    return send


@pytest.fixture
def api_refused(app: httpx.AsyncClient, nothing_stored: StoredCheck) -> ApiRefused:
    """``await api_refused(slug, fields, files, status=…)`` sends the entry to the API and fails
    unless it is refused with this status and keeps nothing; it answers the JSON error."""

    async def send(
        slug: str,
        fields: dict[str, str],
        files: list[tuple[str, bytes]] | None = None,
        *,
        status: int,
    ) -> dict[str, Any]:
        async with nothing_stored():
            response = await api_submit(app, slug, fields, files)
            assert response.status_code == status, response.text
        error: dict[str, Any] = response.json()["error"]
        return error

    return send


@pytest.fixture
def one_entry_stored(
    sessionmaker: async_sessionmaker[AsyncSession], store: Storage, intake_settings: Settings
) -> StoredCheck:
    """``async with one_entry_stored() as before:`` fails unless what runs inside adds one
    entrant with one entry and its original file (row and object), and nothing else; and
    unless, once the queued jobs have run after the block, its preview and its thumbnail
    were added too (rows and objects), and nothing else."""
    return functools.partial(
        _adding, sessionmaker, store, intake_settings, entries=1, files=1, processed=2
    )


@pytest.fixture
def run_jobs(intake_settings: Settings) -> Callable[[], Awaitable[int]]:
    """``await run_jobs()`` runs the queued jobs (an entry's file processing) as a worker
    would, and says how many ran."""
    return functools.partial(run_queued, intake_settings, JOB_KINDS)


@pytest.fixture
async def admin(
    intake_settings: Settings,
    make_user: Callable[..., Awaitable[Account]],
    app: httpx.AsyncClient,
) -> AsyncIterator[httpx.AsyncClient]:
    """A second client, signed in as an organiser."""
    account = await make_user("btc@example.vn", Role.ADMIN)
    async with app_client(intake_settings) as client:
        await sign_in(client, account.user.email, account.password)
        yield client


LOCAL_ONLY = pytest.mark.parametrize("backend", ["local"], indirect=True)


@pytest.fixture
def leftovers(store: Storage, request: pytest.FixtureRequest) -> Callable[[], list[str]]:
    """Lists what a failed upload could leave behind: temp files, or open multipart uploads."""
    return functools.partial(upload_leftovers, store, request)
