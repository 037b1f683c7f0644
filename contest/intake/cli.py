"""``contest storage sweep``: remove uploads that never became part of an entry, after a
grace period, and the files of withdrawn entries. Safe to run at any time, and again."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import utcnow
from contest.intake.interfaces import DEFAULT_SWEEP_GRACE, SweepReport
from contest.intake.services import remove_assets
from contest.models import Asset, Entry, EntryStatus
from storage import Storage, StorageError

BATCH = 500


async def sweep(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    grace: timedelta = DEFAULT_SWEEP_GRACE,
    now: datetime | None = None,
) -> SweepReport:
    """Delete the objects, then the rows, of (1) assets with no entry older than ``grace``
    (uploads in flight that were abandoned, slots never used, files replaced by an edit) and
    (2) every asset of a withdrawn entry. An object that cannot be deleted keeps its row, so
    the next sweep tries again."""
    cutoff = (now or utcnow()) - grace
    async with sessionmaker() as session:
        unattached = list(
            (
                await session.scalars(
                    select(Asset)
                    .where(Asset.entry_id.is_(None), Asset.created_at < cutoff)
                    .order_by(Asset.id)
                )
            ).all()
        )
        # A derived preview can be newer than the cutoff while its source is older.
        ids = {a.id for a in unattached}
        extra = (
            list(
                (
                    await session.scalars(
                        select(Asset).where(
                            Asset.entry_id.is_(None),
                            Asset.source_id.in_(ids),
                            Asset.id.not_in(ids),
                        )
                    )
                ).all()
            )
            if ids
            else []
        )
        withdrawn = list(
            (
                await session.scalars(
                    select(Asset)
                    .join(Entry, Asset.entry_id == Entry.id)
                    .where(Entry.status == EntryStatus.WITHDRAWN)
                    .order_by(Asset.id)
                )
            ).all()
        )
    first = unattached + extra
    deleted = 0
    for start in range(0, len(first), BATCH):
        deleted += await remove_assets(
            sessionmaker=sessionmaker, storage=storage, assets=first[start : start + BATCH]
        )
    for start in range(0, len(withdrawn), BATCH):
        deleted += await remove_assets(
            sessionmaker=sessionmaker, storage=storage, assets=withdrawn[start : start + BATCH]
        )
    total = len(first) + len(withdrawn)
    # Writes that never finished: multipart uploads whose abort could not reach the bucket,
    # temporary files of a process killed mid-write.
    try:
        aborted = await storage.abort_incomplete_uploads(older_than=grace)
    except StorageError:
        aborted = 0
    return SweepReport(
        unattached_assets=len(first),
        withdrawn_assets=len(withdrawn),
        objects_deleted=deleted,
        failures=total - deleted,
        incomplete_uploads=aborted,
    )


async def run_sweep(
    *, database_url: str, storage_url: str, secret_key: str, base_url: str, grace_hours: float
) -> SweepReport:
    """What the command runs: its own engine and storage, closed afterwards."""
    from contest.db import create_engine, create_sessionmaker
    from storage import storage_from_url

    engine = create_engine(database_url)
    opened = storage_from_url(storage_url, secret_key=secret_key, base_url=base_url)
    try:
        return await sweep(
            sessionmaker=create_sessionmaker(engine),
            storage=opened,
            grace=timedelta(hours=grace_hours),
        )
    finally:
        await opened.aclose()
        await engine.dispose()
