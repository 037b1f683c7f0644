"""What a submission reads of a contest, kept by each app process between requests.

A submission needs the contest with its event, divisions, books and criteria, and the units
an entrant may name: six queries, and at national size tens of thousands of unit rows, for
what changes a few times a week. Each process keeps them and checks, in every request, the
database's configuration version (``models.ConfigVersion``, raised by triggers in the same
transaction as any change to those tables, whatever code makes it): one primary-key read.
When the number moved, everything kept is dropped and read again, so an organiser's edit
(closing a contest, removing a division) counts in every process from the next request on.

The kept objects are detached from any session and shared by concurrent requests: they are
only read, never changed or added to a session.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contest.events.services import get_public_contest
from contest.models import ConfigVersion, Contest, Unit
from contest.rules import submittable_units

CONFIG_ROW = 1


@dataclass(frozen=True, slots=True)
class ContestConfig:
    """A public contest (event, divisions, books and criteria loaded) and the units of its
    event that an entrant may submit for."""

    contest: Contest
    entrant_units: list[Unit]


@dataclass
class ContestConfigCache:
    """One process's copy, valid for ``version``; None kept nothing (no version row)."""

    version: int | None = None
    by_slug: dict[str, ContestConfig] = field(default_factory=dict)

    async def get(self, session: AsyncSession, *, slug: str) -> ContestConfig:
        """The contest named ``slug`` as the database has it now (ContestNotFoundError when
        there is none the public may read). The version is read before anything else, so a
        change committed while the rest is read leaves a copy that the next request reloads."""
        version = await session.scalar(
            select(ConfigVersion.version).where(ConfigVersion.id == CONFIG_ROW)
        )
        if version is None or version != self.version:
            self.by_slug.clear()
            self.version = version
        config = self.by_slug.get(slug)
        if config is None:
            contest = await get_public_contest(session, slug=slug)
            units = await submittable_units(session, user=None, event_id=contest.event_id)
            config = ContestConfig(contest, units)
            # Kept only while no other request has seen a newer version meanwhile: what was
            # read here may then be older than that version.
            if version is not None and self.version == version:
                self.by_slug[slug] = config
        return config
