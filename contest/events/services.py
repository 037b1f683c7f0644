from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from contest.events.interfaces import CLOSING_SOON, ContestNotFoundError, Phase
from contest.models import Book, Contest, ContestStatus, Criterion, Division, Event, Unit


async def get_event(session: AsyncSession) -> Event | None:
    """The most recent event, or None before one is set up (the organisers' and exports' view)."""
    found: Event | None = await session.scalar(
        select(Event).order_by(Event.starts_on.desc(), Event.id.desc()).limit(1)
    )
    return found


async def find_current_event(session: AsyncSession) -> Event | None:
    """The event the home page shows: the most recent one, with its public contests; None
    before any event is set up (a state every page shows, not an error)."""
    return await session.scalar(
        select(Event)
        .order_by(Event.starts_on.desc(), Event.id.desc())
        .options(selectinload(Event.contests))
        .limit(1)
    )


def public_contests(event: Event) -> list[Contest]:
    return [c for c in event.contests if c.status != ContestStatus.DRAFT]


async def event_contests(session: AsyncSession, *, event_id: int) -> list[Contest]:
    """All the event's contests, drafts too, in the organisers' order."""
    query = select(Contest).where(Contest.event_id == event_id)
    return list(await session.scalars(query.order_by(Contest.position, Contest.id)))


# What intake needs of a contest besides its row: its divisions, books and criteria.
_WITH_RULES = (
    selectinload(Contest.event),
    selectinload(Contest.divisions),
    selectinload(Contest.books),
    selectinload(Contest.criteria),
)


async def get_public_contest(session: AsyncSession, *, slug: str) -> Contest:
    """A contest the public may read, newest event first when a slug is reused across years."""
    contest = await session.scalar(
        select(Contest)
        .join(Event)
        .where(Contest.slug == slug, Contest.status != ContestStatus.DRAFT)
        .order_by(Event.starts_on.desc())
        .options(*_WITH_RULES)
        .limit(1)
    )
    if contest is None:
        raise ContestNotFoundError(slug)
    return contest


async def get_open_contest(session: AsyncSession, *, contest_id: int) -> Contest:
    """The same, by id: for work that a request started and a job carries on (an import)."""
    contest = await session.scalar(
        select(Contest)
        .where(Contest.id == contest_id, Contest.status != ContestStatus.DRAFT)
        .options(*_WITH_RULES)
    )
    if contest is None:
        raise ContestNotFoundError(str(contest_id))
    return contest


def event_json(event: Event) -> dict[str, Any]:
    """The event as the API shows it; the organisers' event form starts from the same fields."""
    return {
        "slug": event.slug,
        "name": event.name,
        "theme": event.theme,
        "organizer": event.organizer,
        "starts_on": event.starts_on.isoformat(),
        "ends_on": event.ends_on.isoformat(),
    }


def contest_phase(contest: Contest, now: datetime) -> Phase:
    if now < contest.opens_at:
        return Phase.UPCOMING
    if now >= contest.closes_at or contest.status not in (ContestStatus.OPEN,):
        return Phase.CLOSED
    if contest.closes_at - now <= CLOSING_SOON:
        return Phase.CLOSING_SOON
    return Phase.OPEN


# What a contest is made of, each kept in the order the organisers gave.
_Part = TypeVar("_Part", Division, Criterion, Book)


async def contest_parts(
    session: AsyncSession, model: type[_Part], *, contest_id: int
) -> list[_Part]:
    """The contest's divisions, rubric criteria or books, in the organisers' order."""
    query = select(model).where(model.contest_id == contest_id)
    return list((await session.scalars(query.order_by(model.position, model.id))).all())


async def contest_divisions(session: AsyncSession, *, contest_id: int) -> list[Division]:
    """The contest's divisions in the organisers' order."""
    return await contest_parts(session, Division, contest_id=contest_id)


async def units_under(session: AsyncSession, *, unit_ids: Sequence[int]) -> dict[int, int]:
    """Each of these units and every unit below them (a school's classes), mapped to the one
    of ``unit_ids`` it falls under; read first, so that the counts over entrants that follow
    go through the entrants' unit index."""
    if not unit_ids:
        return {}
    tree = (
        select(Unit.id.label("unit_id"), Unit.id.label("top_id"))
        .where(Unit.id.in_(list(unit_ids)))
        .cte("units_under", recursive=True)
    )
    tree = tree.union_all(
        select(Unit.id, tree.c.top_id).join(tree, Unit.parent_id == tree.c.unit_id)
    )
    rows = await session.execute(select(tree.c.unit_id, tree.c.top_id))
    return {unit_id: top_id for unit_id, top_id in rows.all()}
