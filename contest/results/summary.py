"""The event report as the console page shows it: the totals, the contests and one page of the
top-level units (schools, the learning centre, residential groups), each from counts in the
database. The full report, by class, contest and division, with prizes by tier and the judges'
workload, is the workbook and the PDF (``contest.results.exports``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contest import labels, tallies
from contest.events.services import event_contests, units_under
from contest.i18n import gettext
from contest.models import Contest, Entrant, Entry, EntryStatus, Event, Result, Unit
from contest.pagination import Page, PageRequest, paginate
from contest.results.exports import (
    KIND_ORDER,
    ContestSummary,
    ExportNotFoundError,
    ReportHeading,
    event_heading,
    heading_context,
    section_titles,
)
from contest.rules import OrganiserScope, organisers_own_units


@dataclass
class UnitLine:
    id: int
    unit: str
    kind: str
    entries: int
    entrants: int
    prizes: int
    share: int = 0  # percent of the largest unit's entries on this page, for the bar chart


def _submitted(contest_ids: list[int]) -> Any:
    return Entry.contest_id.in_(contest_ids) & (Entry.status == EntryStatus.SUBMITTED)


def _published_prizes(contest_ids: Any) -> Select[*tuple[Any, ...]]:
    """Published prizes of submitted entries, what the report counts: (contest, entrant's
    unit) of each."""
    return (
        select(Result.contest_id, Entrant.unit_id)
        .join(Entry, Entry.id == Result.entry_id)
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .where(
            Result.contest_id.in_(contest_ids),
            Result.published_at.is_not(None),
            Result.prize.is_not(None),
            Entry.status == EntryStatus.SUBMITTED,
        )
    )


async def report_heading(
    session: AsyncSession, *, event_id: int, scope: OrganiserScope | None = None
) -> ReportHeading:
    """The report's totals and its contests; counts over submitted entries only, prizes from
    published results only. With an organiser of some units (``scope``), over their units
    only, and the heading names them."""
    event = await session.get(Event, event_id)
    if event is None:
        raise ExportNotFoundError(event_id)
    contests: list[Contest] = await event_contests(session, event_id=event.id)
    ids = [c.id for c in contests]
    for_units = scope is not None and scope.for_units
    prized = _published_prizes(ids)
    units = ""
    if scope is not None and for_units:
        entries, entrants = await _unit_entries(session, ids, scope)
        prized = scope.narrow(prized, Entrant.unit_id)
        names = await session.scalars(
            select(Unit.name)
            .where(Unit.id.in_(organisers_own_units(scope.user_id)))
            .order_by(Unit.name)
        )
        units = ", ".join(names)
    else:
        entries = await tallies.entry_counts(session, contest_ids=ids, status=EntryStatus.SUBMITTED)
        entrants = int(await tallies.submitted_entrants(session, event_id=event.id) or 0)
    prizes = prized.subquery()
    awarded: dict[int, int] = dict(
        (
            await session.execute(
                select(prizes.c.contest_id, func.count()).group_by(prizes.c.contest_id)
            )
        ).all()
    )
    # Publication stamps every result of a contest at once (contest.results.services), so any
    # published result carries the contest's date: one row from the index of published ones.
    published: dict[int, datetime | None] = {
        contest_id: await session.scalar(
            select(Result.published_at)
            .where(Result.contest_id == contest_id, Result.published_at.is_not(None))
            .limit(1)
        )
        for contest_id in ids
    }
    return ReportHeading(
        **event_heading(event),
        contests=[
            ContestSummary(
                c.title,
                gettext(labels.CONTEST_KINDS[c.kind]),
                int(entries.get(c.id, 0)),
                int(awarded.get(c.id, 0)),
                published.get(c.id),
            )
            for c in contests
        ],
        entrants=entrants,
        units=units,
    )


async def _unit_entries(
    session: AsyncSession, contest_ids: list[int], scope: OrganiserScope
) -> tuple[dict[int, int], int]:
    """Submitted entries per contest, and the entrants who sent them, below the organiser's
    units: counted from the entries (the tallies are kept for the whole event)."""
    below = (
        select(Entry.contest_id, Entry.entrant_id)
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .where(_submitted(contest_ids))
    )
    rows = scope.narrow(below, Entrant.unit_id).subquery()
    counted = await session.execute(
        select(rows.c.contest_id, func.count()).group_by(rows.c.contest_id)
    )
    entrants = await session.scalar(select(func.count(func.distinct(rows.c.entrant_id))))
    return {contest_id: count for contest_id, count in counted.all()}, int(entrants or 0)


async def unit_page(
    session: AsyncSession,
    *,
    event_id: int,
    page: PageRequest,
    scope: OrganiserScope | None = None,
) -> Page[UnitLine]:
    """A page of the top-level units (provinces, or schools, then the learning centre, then
    residential groups, by name), each with its submitted entries, entrants and published
    prizes, counting everything below it (a province's wards and schools, a school's classes).
    For an organiser of some units (``scope``), the units just below theirs: a province's
    wards, a ward's schools, a school's classes."""
    order = case(*((Unit.kind == kind, position) for kind, position in KIND_ORDER.items()), else_=9)
    above = (
        Unit.parent_id.in_(organisers_own_units(scope.user_id))
        if scope is not None and scope.for_units
        else Unit.parent_id.is_(None)
    )
    roots = (
        select(Unit.id, Unit.name, Unit.kind)
        .where(Unit.event_id == event_id, above)
        .order_by(order, Unit.name, Unit.id)
    )
    found = await paginate(session, roots, page)
    root_ids = [row[0] for row in found.items]
    counts: dict[int, tuple[int, int]] = {}
    awarded: dict[int, int] = {}
    if root_ids:
        contest_ids = select(Contest.id).where(Contest.event_id == event_id)
        top_of = await units_under(session, unit_ids=root_ids)
        # An entrant belongs to one unit, so entrants add up across a school's classes.
        tallied = await tallies.unit_counts(session, unit_ids=list(top_of))
        for unit_id, (entries, entrants) in tallied.items():
            top = top_of[unit_id]
            before = counts.get(top, (0, 0))
            counts[top] = (before[0] + entries, before[1] + entrants)
        prizes = _published_prizes(contest_ids).subquery()
        prized = (
            select(prizes.c.unit_id, func.count())
            .where(prizes.c.unit_id.in_(list(top_of)))
            .group_by(prizes.c.unit_id)
        )
        for unit_id, count in (await session.execute(prized)).all():
            awarded[top_of[unit_id]] = awarded.get(top_of[unit_id], 0) + count
    lines = [
        UnitLine(
            unit_id,
            name,
            gettext(labels.UNIT_KINDS[kind]),
            counts.get(unit_id, (0, 0))[0],
            counts.get(unit_id, (0, 0))[1],
            int(awarded.get(unit_id, 0)),
        )
        for unit_id, name, kind in found.items
    ]
    largest = max((line.entries for line in lines), default=0)
    for line in lines:
        line.share = round(100 * line.entries / largest) if largest else 0
    return found.replace(lines)


def report_page_context(heading: ReportHeading, units: Page[UnitLine]) -> dict[str, Any]:
    """What templates/results/report.html shows."""
    titles = section_titles()
    return {
        **heading_context(heading),
        "units": units,
        "titles": {"summary": titles["summary"], "units": titles["participation"]},
    }
