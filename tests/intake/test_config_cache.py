"""What a submission reads of a contest, kept per process (contest.intake.config): checked
against the configuration's version, which the database raises with every committed change
to events, units, contests, divisions, books and criteria, so that an organiser's edit made
by any other process counts from the very next submission."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import delete, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import utcnow
from contest.i18n import format_datetime
from contest.intake.config import CONFIG_ROW, ContestConfigCache
from contest.models import (
    Book,
    ConfigVersion,
    Contest,
    Criterion,
    Division,
    Event,
    Unit,
    UnitKind,
)
from tests.intake.files import drawing_png
from tests.intake.support import StoredCheck, entrant_fields, form, post_form
from tests.support import DRAWING, vi

API = "/api/v1"


async def _submit(app: httpx.AsyncClient, **overrides: str) -> httpx.Response:
    body = form(list(entrant_fields(**overrides).items()), [("tranh.png", drawing_png())])
    return await post_form(app, f"{API}/contests/{DRAWING}/entries", body)


async def _version(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        version = await session.scalar(
            select(ConfigVersion.version).where(ConfigVersion.id == CONFIG_ROW)
        )
    assert version is not None
    return version


def _drawing_id() -> Any:
    return select(Contest.id).where(Contest.slug == DRAWING).scalar_subquery()


async def test_a_contest_closed_by_another_process_takes_no_more_entries(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    nothing_stored: StoredCheck,
) -> None:
    # The app now keeps the contest as it was, open.
    assert (await _submit(app)).status_code == 201
    closed_at = utcnow() - timedelta(minutes=1)
    # The organiser's change, from another connection (as another process would make it).
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Contest).where(Contest.slug == DRAWING).values(closes_at=closed_at)
        )

    async with nothing_stored():
        late = await _submit(app)

    assert late.status_code == 403, late.text
    assert late.json()["error"]["message"] == vi(
        "Entries for this contest closed at %(time)s. Nothing was sent.",
        time=format_datetime(closed_at),
    )


async def test_a_division_removed_by_another_process_takes_no_more_entries(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    nothing_stored: StoredCheck,
) -> None:
    # Refused for a missing name, but read: the app now keeps the contest with its divisions.
    assert (await _submit(app, full_name="")).status_code == 422
    async with sessionmaker.begin() as session:
        await session.execute(
            delete(Division).where(Division.contest_id == _drawing_id(), Division.key == "tieu-hoc")
        )

    async with nothing_stored():
        refused = await _submit(app)

    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["fields"]["age"] == vi(
        "No division of this contest is open to this age."
    )


@contextmanager
def _statements(sessionmaker: async_sessionmaker[AsyncSession]) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = sessionmaker.kw["bind"].sync_engine

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_the_kept_contest_is_read_again_only_after_a_change(
    demo: object, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cache = ContestConfigCache()
    async with sessionmaker() as session:
        first = await cache.get(session, slug=DRAWING)
    with _statements(sessionmaker) as seen:
        async with sessionmaker() as session:
            again = await cache.get(session, slug=DRAWING)
    assert again is first
    assert len(seen) == 1 and "config_versions" in seen[0]

    async with sessionmaker.begin() as session:
        await session.execute(
            update(Book).where(Book.contest_id == _drawing_id()).values(title="Sách khác")
        )
    async with sessionmaker() as session:
        fresh = await cache.get(session, slug=DRAWING)
    assert fresh is not first
    assert {b.title for b in fresh.contest.books} == {"Sách khác"}
    assert [u.code for u in fresh.entrant_units] == [u.code for u in first.entrant_units]


async def test_every_change_to_a_contests_configuration_raises_the_version_once_committed(
    demo: object, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        event_id = await session.scalar(select(Contest.event_id).where(Contest.slug == DRAWING))
    changes: list[Callable[[AsyncSession], Awaitable[object]]] = [
        lambda s: s.execute(update(Event).where(Event.id == event_id).values(name="Tuần lễ")),
        lambda s: s.execute(update(Contest).where(Contest.slug == DRAWING).values(title="Vẽ")),
        lambda s: s.execute(
            update(Division).where(Division.contest_id == _drawing_id()).values(min_age=5)
        ),
        lambda s: s.execute(
            update(Criterion).where(Criterion.contest_id == _drawing_id()).values(label="Ý")
        ),
        lambda s: s.execute(delete(Book).where(Book.contest_id == _drawing_id())),
        lambda s: _add_unit(s, event_id),
        lambda s: s.execute(update(Unit).where(Unit.code == "tmp-unit").values(name="Lớp B")),
        lambda s: s.execute(delete(Unit).where(Unit.code == "tmp-unit")),
    ]
    for change in changes:
        before = await _version(sessionmaker)
        async with sessionmaker() as session:
            await change(session)
            await session.flush()
            # Not committed yet: every other connection still reads the old number.
            assert await _version(sessionmaker) == before
            await session.commit()
        assert await _version(sessionmaker) > before


async def _add_unit(session: AsyncSession, event_id: int | None) -> None:
    assert event_id is not None
    session.add(Unit(event_id=event_id, kind=UnitKind.CLASS, code="tmp-unit", name="Lớp A"))
    await session.flush()
