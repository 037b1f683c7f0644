"""`contest storage sweep`: uploads never attached go after a grace period; withdrawn
entries' files go; everything an entry still uses stays."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import utcnow
from contest.intake.cli import run_sweep, sweep
from contest.models import Asset, Entry
from contest.settings import Settings
from storage import Storage
from tests.intake import files
from tests.intake.support import submit_drawing
from tests.support import DRAWING, csrf_from


async def _age(sessionmaker: async_sessionmaker[AsyncSession], prefix: str, hours: float) -> None:
    async with sessionmaker() as session:
        await session.execute(
            update(Asset)
            .where(Asset.storage_key.startswith(prefix))
            .values(created_at=utcnow() - timedelta(hours=hours))
        )
        await session.commit()


async def _keys(sessionmaker: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessionmaker() as session:
        return set((await session.scalars(select(Asset.storage_key))).all())


async def test_the_sweep_removes_abandoned_uploads_and_withdrawn_files_only(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    run_jobs: Callable[[], Awaitable[int]],
) -> None:
    # An upload slot used, then abandoned a day ago; another abandoned just now.
    old_slot = (
        await app.post(
            f"/api/v1/contests/{DRAWING}/uploads", json={"content_type": "image/png", "size": 600}
        )
    ).json()
    await store.put_stream(
        f"entries/{old_slot['upload_id']}/original.png", _one(files.drawing_png())
    )
    await _age(sessionmaker, f"entries/{old_slot['upload_id']}", hours=30)
    new_slot = (
        await app.post(
            f"/api/v1/contests/{DRAWING}/uploads", json={"content_type": "image/png", "size": 600}
        )
    ).json()
    # An entry kept, and an entry withdrawn.
    kept_code, _ = await submit_drawing(app, "k.png")
    gone_code, gone_token = await submit_drawing(app, "g.png")
    assert await run_jobs() == 2  # their previews made
    csrf = await csrf_from(app, f"/entries/{gone_code}?token={gone_token}")
    await app.post(f"/entries/{gone_code}/withdraw?token={gone_token}", data={"csrf_token": csrf})
    # Everything is old now, except the new slot.
    async with sessionmaker() as session:
        kept_id = await session.scalar(select(Entry.id).where(Entry.receipt_code == kept_code))
        gone_id = await session.scalar(select(Entry.id).where(Entry.receipt_code == gone_code))
        kept_keys = set(
            (
                await session.scalars(select(Asset.storage_key).where(Asset.entry_id == kept_id))
            ).all()
        )
        gone_keys = set(
            (
                await session.scalars(select(Asset.storage_key).where(Asset.entry_id == gone_id))
            ).all()
        )
        await session.execute(
            update(Asset)
            .where(Asset.entry_id.is_not(None))
            .values(created_at=utcnow() - timedelta(days=3))
        )
        await session.commit()
    assert len(kept_keys) == 3 and len(gone_keys) == 3
    objects_before = set(await store.list_keys(""))

    report = await sweep(sessionmaker=sessionmaker, storage=store, grace=timedelta(hours=24))

    assert report.unattached_assets == 1 and report.withdrawn_assets == 3
    assert report.failures == 0
    objects = set(await store.list_keys(""))
    rows = await _keys(sessionmaker)
    assert f"entries/{old_slot['upload_id']}/original.png" not in objects | rows
    assert not gone_keys & (objects | rows)
    assert kept_keys <= objects and kept_keys <= rows
    assert any(k.startswith(f"entries/{new_slot['upload_id']}/") for k in rows)
    assert objects == objects_before - gone_keys - {f"entries/{old_slot['upload_id']}/original.png"}
    # The withdrawn entry itself stays, as a record.
    async with sessionmaker() as session:
        assert await session.get(Entry, gone_id) is not None

    again = await sweep(sessionmaker=sessionmaker, storage=store)
    assert (again.unattached_assets, again.withdrawn_assets) == (0, 0)


async def test_a_replaced_file_left_behind_is_swept(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    intake_settings: Settings,
    run_jobs: Callable[[], Awaitable[int]],
) -> None:
    # A file detached by an edit whose deletion failed stays as an unattached row.
    code, _token = await submit_drawing(app, "a.png")
    assert await run_jobs() == 1
    async with sessionmaker() as session:
        entry_id = await session.scalar(select(Entry.id).where(Entry.receipt_code == code))
        await session.execute(update(Asset).where(Asset.entry_id == entry_id).values(entry_id=None))
        await session.commit()
    orphan = await _keys(sessionmaker)
    await _age(sessionmaker, "entries/", hours=48)

    report = await run_sweep(
        database_url=intake_settings.database_url,
        storage_url=intake_settings.storage_url,
        secret_key=intake_settings.secret_key,
        base_url=intake_settings.base_url,
        grace_hours=24,
    )

    assert report.unattached_assets >= 3
    remaining = set(await store.list_keys(""))
    async with sessionmaker() as session:
        attached = set(
            (
                await session.scalars(select(Asset.storage_key).where(Asset.entry_id.is_not(None)))
            ).all()
        )
    assert remaining == attached
    assert orphan - attached and not (orphan - attached) & remaining


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
