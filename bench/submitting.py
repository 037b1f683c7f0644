"""Entries a benchmark makes through the intake services, as the entry form would, on the
database and storage that ``contest serve`` would use with the same environment."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class Services:
    settings: Any  # contest.settings.Settings
    sessionmaker: Any
    storage: Any
    contest: Any  # the contest entries go to, with its books and divisions
    units: Any  # the units a visitor may name


@contextlib.asynccontextmanager
async def services_for(env: Mapping[str, str], slug: str) -> AsyncIterator[Services]:
    """The app's settings, database and storage from ``env``, and the contest ``slug``;
    closed afterwards."""
    from contest import rules
    from contest.db import create_engine, create_sessionmaker
    from contest.events.services import get_public_contest
    from contest.settings import Settings
    from storage import storage_from_url

    settings = Settings.from_env(dict(env))
    engine = create_engine(settings.database_url)
    storage = storage_from_url(
        settings.storage_url, secret_key=settings.secret_key, base_url=settings.base_url
    )
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            contest = await get_public_contest(session, slug=slug)
            units = await rules.submittable_units(session, user=None, event_id=contest.event_id)
        yield Services(settings, sessionmaker, storage, contest, units)
    finally:
        await storage.aclose()
        await engine.dispose()


async def submit_file(
    services: Services, *, data: bytes, filename: str, fields: Mapping[str, str]
) -> Any:
    """One entry of one file, stored then submitted; the intake's ``Submitted``."""
    from contest.intake import services as intake

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    upload = await intake.store_upload(
        sessionmaker=services.sessionmaker,
        storage=services.storage,
        contest=services.contest,
        chunks=chunks(),
        filename=filename,
    )
    return await intake.submit_entry(
        sessionmaker=services.sessionmaker,
        storage=services.storage,
        contest=services.contest,
        units=services.units,
        fields=dict(fields),
        uploads=[upload],
        upload_ids=[],
        idempotency_key=None,
        secret_key=services.settings.secret_key,
    )
