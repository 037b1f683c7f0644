"""A judge who does not show up: their unfinished work goes to the other judges in one step,
each entry to the least-loaded judge free of conflicts and not already on it; finished work
stays; what nobody may take stays and is counted."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.errors import ConflictError, NotFoundError
from contest.models import Assignment, AssignmentStatus, AuditEvent, Role, User
from judging import handover, services
from tests.support import STORY, WRITING, MakeUser, contest_id_of, csrf_from, score, selected


async def _assignments(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Assignment]:
    return await selected(sessionmaker, select(Assignment).order_by(Assignment.id))


@pytest.fixture
async def absent(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> tuple[int, User]:
    """The writing contest assigned among the demo's judges and three more; the judge with
    the most work, who will not come."""
    for email, unit in (("a@x.vn", "tdp-1"), ("b@x.vn", "tdp-2"), ("c@x.vn", "tdp-3")):
        await make_user(email, Role.JUDGE, units=[unit], contests=[WRITING])
    writing = await contest_id_of(sessionmaker, WRITING)
    async with sessionmaker() as session:
        await services.run_assignment(session, contest_id=writing, actor=None)
        await session.commit()
    loads = Counter(a.judge_id for a in await _assignments(sessionmaker))
    judge_id = loads.most_common(1)[0][0]
    async with sessionmaker() as session:
        judge = await session.get(User, judge_id)
    assert judge is not None
    return writing, judge


async def test_a_judges_unfinished_work_goes_to_the_others_in_one_step(
    absent: tuple[int, User],
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    writing, judge = absent
    before = await _assignments(sessionmaker)
    theirs = [a for a in before if a.judge_id == judge.id]
    # One of theirs is finished already: it stays theirs.
    finished = theirs[0]
    async with sessionmaker() as session:
        await score(
            session,
            assignment_id=finished.id,
            judge=judge,
            points={"noi-dung": 2, "sang-tao": 1, "ngon-ngu": 1, "lien-he": 1},
        )
        await session.commit()
    path = f"/admin/contests/{writing}/slips"
    token = await csrf_from(organiser, path)
    response = await organiser.post(
        f"/admin/contests/{writing}/judges/{judge.id}/hand-over", data={"csrf_token": token}
    )
    assert response.status_code == 303
    assert f"moved={len(theirs) - 1}" in response.headers["location"]
    shown = await organiser.get(response.headers["location"])
    assert f"{len(theirs) - 1} " in shown.text
    after = {a.id: a for a in await _assignments(sessionmaker)}
    assert after[finished.id].judge_id == judge.id
    assert after[finished.id].status == AssignmentStatus.SUBMITTED
    for assignment in theirs[1:]:
        assert after[assignment.id].judge_id != judge.id
    # No entry has a judge twice; every move is audited as a reassignment.
    pairs = Counter((a.entry_id, a.judge_id) for a in after.values())
    assert max(pairs.values()) == 1
    async with sessionmaker() as session:
        moves = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "reassigned"))
        ).all()
    assert len(moves) == len(theirs) - 1
    assert all(m.before == {"judge": judge.id} for m in moves)


async def test_work_no_one_may_take_stays_and_is_counted(
    absent: tuple[int, User], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    writing, judge = absent
    async with sessionmaker() as session:
        # Only the absent judge is left active: nobody can take anything.
        for other in (await session.scalars(select(User).where(User.id != judge.id))).all():
            other.is_active = False
        await session.commit()
    theirs = [a for a in await _assignments(sessionmaker) if a.judge_id == judge.id]
    async with sessionmaker() as session:
        done = await handover.hand_over(session, contest_id=writing, judge_id=judge.id, actor=None)
        await session.commit()
    assert (done.moved, done.kept) == (0, len(theirs))
    left = [a.id for a in await _assignments(sessionmaker) if a.judge_id == judge.id]
    assert left == [a.id for a in theirs]


async def test_a_hand_over_is_refused_for_a_stranger_or_a_closed_round(
    absent: tuple[int, User],
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    writing, judge = absent
    stranger = await make_user("la@x.vn", Role.JUDGE, contests=[STORY])
    before = await _assignments(sessionmaker)
    async with sessionmaker() as session:
        with pytest.raises(NotFoundError):
            await handover.hand_over(
                session, contest_id=writing, judge_id=stranger.user.id, actor=None
            )
        await services.close_round(session, contest_id=writing, actor=None)
        with pytest.raises(ConflictError):
            await handover.hand_over(session, contest_id=writing, judge_id=judge.id, actor=None)
    assert [(a.id, a.judge_id) for a in await _assignments(sessionmaker)] == [
        (a.id, a.judge_id) for a in before
    ]
