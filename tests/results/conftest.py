"""Fixtures for the results suite."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from tests.results.support import Judged, judged_contest
from tests.support import MakeUser


@pytest.fixture
async def judged(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> Judged:
    """The demo's writing contest with six primary-school entries scored by three judges."""
    return await judged_contest(sessionmaker, make_user)
