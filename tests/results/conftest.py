"""Fixtures for the results suite."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from tests.results.support import Judged, MakeUser, judged_contest


@pytest.fixture
async def judged(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> Judged:
    """The demo's writing contest with six primary-school entries scored by three judges."""
    return await judged_contest(sessionmaker, make_user)
