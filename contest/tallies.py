"""Counts read from the tallies the database keeps (``contest.models.EntryTally``,
``EntrantTally``, ``UnitTally``, ``RoundTally``, and by unit ``UnitEntryTally`` and
``UnitRoundTally``): triggers of migrations 0009 and 0017 change them in the statement that
changes an entry, an entrant's unit or an assignment, whatever code ran it, so they always
equal a count of the rows and reading them costs a few rows at any size (an organiser of some
units: a few rows a unit of theirs)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contest.models import (
    AssignmentStatus,
    EntrantTally,
    EntryStatus,
    EntryTally,
    RoundTally,
    UnitEntryTally,
    UnitRoundTally,
    UnitTally,
)

# The tallies counted afresh from the rows (after rows were written with the triggers off, as
# a bulk load does), in plain SQL for either database. Migrations 0009 and 0017 keep their own
# copies.
REFILL = (
    "DELETE FROM entry_tallies",
    """INSERT INTO entry_tallies (contest_id, status, entries)
       SELECT contest_id, status, count(*) FROM entries GROUP BY contest_id, status""",
    "DELETE FROM entrant_tallies",
    """INSERT INTO entrant_tallies (event_id, entrants)
       SELECT en.event_id, count(*) FROM entrants en
       WHERE EXISTS (SELECT 1 FROM entries e WHERE e.entrant_id = en.id AND e.status = 'submitted')
       GROUP BY en.event_id""",
    "DELETE FROM round_tallies",
    """INSERT INTO round_tallies (round_id, status, shard, assignments)
       SELECT round_id, status, judge_id % 16, count(*) FROM assignments
       GROUP BY round_id, status, judge_id % 16""",
    "DELETE FROM unit_tallies",
    """INSERT INTO unit_tallies (unit_id, entries, entrants)
       SELECT en.unit_id, count(*), count(DISTINCT en.id) FROM entrants en
       JOIN entries e ON e.entrant_id = en.id
       WHERE e.status = 'submitted' AND en.unit_id IS NOT NULL GROUP BY en.unit_id""",
    "DELETE FROM unit_entry_tallies",
    """INSERT INTO unit_entry_tallies (contest_id, unit_id, status, entries)
       SELECT e.contest_id, en.unit_id, e.status, count(*)
       FROM entries e JOIN entrants en ON en.id = e.entrant_id
       WHERE en.unit_id IS NOT NULL GROUP BY e.contest_id, en.unit_id, e.status""",
    "DELETE FROM unit_round_tallies",
    """INSERT INTO unit_round_tallies (round_id, unit_id, status, assignments)
       SELECT a.round_id, en.unit_id, a.status, count(*)
       FROM assignments a JOIN entries e ON e.id = a.entry_id
       JOIN entrants en ON en.id = e.entrant_id
       WHERE en.unit_id IS NOT NULL GROUP BY a.round_id, en.unit_id, a.status""",
)


async def entry_counts(
    session: AsyncSession, *, contest_ids: Iterable[int], status: EntryStatus | None = None
) -> dict[int, int]:
    """Entries per contest (of one status, or of any), for the contests that have some."""
    query = (
        select(EntryTally.contest_id, func.sum(EntryTally.entries))
        .where(EntryTally.contest_id.in_(list(contest_ids)))
        .group_by(EntryTally.contest_id)
    )
    if status is not None:
        query = query.where(EntryTally.status == status)
    return {contest_id: int(count) for contest_id, count in await session.execute(query) if count}


async def submitted_entrants(session: AsyncSession, *, event_id: int) -> int:
    """Entrants of the event with at least one submitted entry."""
    found = await session.scalar(
        select(EntrantTally.entrants).where(EntrantTally.event_id == event_id)
    )
    return int(found or 0)


async def round_counts(
    session: AsyncSession,
    *,
    round_id: int,
    statuses: Sequence[AssignmentStatus],
    units: Select[int] | None = None,
) -> Counter[AssignmentStatus]:
    """The round's assignments in these statuses, by status; with ``units`` (a query of their
    ids: ``contest.rules.OrganiserScope.units``), only those on the entries of their entrants
    (entries in any status, as for the whole round)."""
    tally: type[RoundTally] | type[UnitRoundTally] = RoundTally if units is None else UnitRoundTally
    query = (
        select(tally.status, func.sum(tally.assignments))
        .where(tally.round_id == round_id, tally.status.in_(list(statuses)))
        .group_by(tally.status)
    )
    if units is not None:
        query = query.where(UnitRoundTally.unit_id.in_(units))
    return Counter({status: int(count or 0) for status, count in await session.execute(query)})


async def unit_counts(
    session: AsyncSession, *, unit_ids: Iterable[int]
) -> dict[int, tuple[int, int]]:
    """(submitted entries, entrants with one) of each of these units that has any."""
    rows = await session.execute(
        select(UnitTally.unit_id, UnitTally.entries, UnitTally.entrants).where(
            UnitTally.unit_id.in_(list(unit_ids))
        )
    )
    return {unit_id: (entries, entrants) for unit_id, entries, entrants in rows if entries}


async def unit_entry_count(
    session: AsyncSession, *, contest_id: int, units: Select[int], status: EntryStatus
) -> int:
    """A contest's entries of one status from the entrants of these units (a query of their
    ids: ``contest.rules.OrganiserScope.units``)."""
    found = await session.scalar(
        select(func.sum(UnitEntryTally.entries)).where(
            UnitEntryTally.contest_id == contest_id,
            UnitEntryTally.status == status,
            UnitEntryTally.unit_id.in_(units),
        )
    )
    return int(found or 0)
