from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import Base
from contest.demo import load_demo
from contest.events.interfaces import Phase
from contest.events.services import contest_phase
from contest.i18n import LOCAL_TZ
from contest.models import Asset, Contest, Entry, Event, Role, Unit, User
from storage import Storage

TODAY = date(2026, 11, 29)


async def snapshot(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, list[Any]]:
    """Every row of every table, as plain tuples."""
    rows: dict[str, list[Any]] = {}
    async with sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            result = await session.execute(select(table).order_by(*table.primary_key.columns))
            rows[table.name] = [tuple(row) for row in result]
    return rows


async def test_demo_twice_leaves_the_same_rows_and_files(
    sessionmaker: async_sessionmaker[AsyncSession], storage: Storage
) -> None:

    first = await load_demo(sessionmaker=sessionmaker, storage=storage, today=TODAY)
    rows_after_first = await snapshot(sessionmaker)
    files_after_first = sorted(await storage.list_keys())
    second = await load_demo(sessionmaker=sessionmaker, storage=storage, today=TODAY)

    assert first.created > 40
    assert second.created == 0
    assert await snapshot(sessionmaker) == rows_after_first
    assert sorted(await storage.list_keys()) == files_after_first
    # A drawing with its preview and thumbnail, and a recording.
    assert len(files_after_first) == 4


async def test_demo_event_is_live_around_today(
    sessionmaker: async_sessionmaker[AsyncSession], storage: Storage
) -> None:
    report = await load_demo(sessionmaker=sessionmaker, storage=storage, today=TODAY)
    now = datetime(2026, 11, 29, 12, 0, tzinfo=LOCAL_TZ)

    async with sessionmaker() as session:
        event = (await session.scalars(select(Event))).one()
        contests = (await session.scalars(select(Contest).order_by(Contest.position))).all()
        units = (await session.scalars(select(Unit))).all()
        users = (await session.scalars(select(User))).all()
        entries = (await session.scalars(select(Entry))).all()
        assets = (await session.scalars(select(Asset))).all()

    assert event.name == "Tuần lễ hưởng ứng học tập suốt đời năm 2024"
    assert event.theme == "Phát triển văn hóa đọc thúc đẩy học tập suốt đời"
    assert event.organizer == "UBND phường Bạch Sam"
    assert event.starts_on <= TODAY <= event.ends_on
    assert [c.kind.value for c in contests] == ["writing", "drawing", "storytelling"]
    phases = [contest_phase(c, now) for c in contests]
    assert phases == [Phase.OPEN, Phase.CLOSING_SOON, Phase.OPEN]
    assert contests[1].closes_at - now < timedelta(days=3)
    assert {u.kind.value for u in units} == {
        "school",
        "class",
        "learning_centre",
        "residential_group",
    }
    assert {u.role for u in users} == {Role.ADMIN, Role.COORDINATOR, Role.JUDGE}
    assert {login[0] for login in report.logins} == {u.email for u in users}
    assert all(u.password_hash and u.password_hash.startswith("$argon2id$") for u in users)
    assert len(entries) == 3
    assert sorted((a.role.value, a.content_type) for a in assets) == [
        ("original", "audio/wav"),
        ("original", "image/png"),
        ("preview", "image/jpeg"),
        ("thumbnail", "image/jpeg"),
    ]
    for asset in assets:
        head = await storage.head(asset.storage_key)
        assert head.size == asset.size
