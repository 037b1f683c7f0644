"""The route × role matrix's object rules for judges and organisers, all answered by
contest.rules: another judge's assignment or re-marking task, and an organiser's action on a
contest that does not exist, answer 404 and write nothing."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest import rules
from contest.demo import DemoReport
from contest.errors import NotFoundError
from contest.models import (
    Assignment,
    AssignmentStatus,
    AuditEvent,
    Entry,
    RemarkRequest,
    Role,
    Round,
    Score,
    User,
)
from contest.settings import Settings
from tests.judging.test_judging import assign_all, assignments_of
from tests.support import DEMO_PASSWORD, MakeUser, app_client, csrf_from, sign_in

MISSING = 999_999


@pytest.fixture
async def judged(demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await assign_all(sessionmaker)


async def _written(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int, list[str]]:
    async with sessionmaker() as session:
        scores = await session.scalar(select(func.count()).select_from(Score))
        events = await session.scalar(select(func.count()).select_from(AuditEvent))
        statuses = (await session.scalars(select(Assignment.status).order_by(Assignment.id))).all()
    return int(scores or 0), int(events or 0), [s.value for s in statuses]


async def test_another_judges_assignment_is_404_everywhere_and_nothing_is_written(
    judged: None, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    target = (await assignments_of(sessionmaker, "gk.tuan@bachsam.demo"))[0].id
    await sign_in(client, "gk.hoa@bachsam.demo", DEMO_PASSWORD)
    token = await csrf_from(client, "/judge")
    before = await _written(sessionmaker)
    csrf = {"X-CSRF-Token": token}
    answers = {
        "page": await client.get(f"/judge/assignments/{target}"),
        "form": await client.post(
            f"/judge/assignments/{target}",
            data={"csrf_token": token, "points.noi-dung": "3", "action": "submit"},
        ),
        "autosave": await client.post(
            f"/judge/assignments/{target}/draft", json={"points": {"noi-dung": 3}}, headers=csrf
        ),
        "api read": await client.get(f"/api/v1/judge/assignments/{target}"),
        "api score": await client.put(
            f"/api/v1/judge/assignments/{target}/score",
            json={"points": {"noi-dung": 3}, "submit": True},
            headers=csrf,
        ),
        "recuse": await client.post(
            f"/judge/assignments/{target}/recuse",
            data={"csrf_token": token, "reason": "Tôi quen em này"},
        ),
    }
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 404)
    assert answers["api read"].json()["error"]["status"] == 404
    assert await _written(sessionmaker) == before


async def test_the_rule_is_the_one_the_routes_ask(
    judged: None, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    own = (await assignments_of(sessionmaker, "gk.hoa@bachsam.demo"))[0]
    other = (await assignments_of(sessionmaker, "gk.tuan@bachsam.demo"))[0]
    async with sessionmaker() as session:
        hoa = await session.scalar(select(User).where(User.email == "gk.hoa@bachsam.demo"))
        assert hoa is not None
        found, entry, round_ = await rules.ensure_judge_assignment(
            session, assignment_id=own.id, judge=hoa
        )
        assert found.id == own.id and isinstance(entry, Entry) and isinstance(round_, Round)
        for assignment_id in (other.id, MISSING):
            with pytest.raises(NotFoundError):
                await rules.ensure_judge_assignment(session, assignment_id=assignment_id, judge=hoa)
        # A judge who stepped back no longer reaches the entry.
        found.status = AssignmentStatus.RECUSED
        assert not rules.may_see_assignment(hoa, found, entry)
        await session.rollback()


async def test_another_judges_remark_task_is_404(
    judged: None, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        tuan = await session.scalar(select(User).where(User.email == "gk.tuan@bachsam.demo"))
        entry = await session.scalar(select(Entry).order_by(Entry.id).limit(1))
        assert tuan is not None and entry is not None
        remark = RemarkRequest(
            entry_id=entry.id, contest_id=entry.contest_id, reason="Xin phúc khảo", judge_id=tuan.id
        )
        session.add(remark)
        await session.commit()
        remark_id = remark.id
    await sign_in(client, "gk.hoa@bachsam.demo", DEMO_PASSWORD)
    token = await csrf_from(client, "/judge")
    assert (await client.get(f"/judge/remarks/{remark_id}")).status_code == 404
    posted = await client.post(
        f"/judge/remarks/{remark_id}", data={"csrf_token": token, "points.noi-dung": "3"}
    )
    assert posted.status_code == 404
    async with sessionmaker() as session:
        untouched = await session.get(RemarkRequest, remark_id)
        assert untouched is not None and untouched.points == {} and untouched.total is None
        hoa = await session.scalar(select(User).where(User.email == "gk.hoa@bachsam.demo"))
        assert hoa is not None
        assert not rules.may_remark(hoa, untouched)
        with pytest.raises(NotFoundError):
            await rules.ensure_judge_remark(session, remark_id=remark_id, judge=hoa)


async def test_an_organiser_action_on_a_contest_that_does_not_exist_is_404(
    demo: DemoReport,
    settings: Settings,
    make_user: MakeUser,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    admin = await make_user("btc.rules@example.vn", Role.ADMIN)
    async with app_client(settings) as organiser:
        await sign_in(organiser, admin.user.email, admin.password)
        token = await csrf_from(organiser, "/admin")
        # Counted after signing in (itself audited).
        before = await _written(sessionmaker)
        form = {"csrf_token": token}
        csrf = {"X-CSRF-Token": token}
        base = f"/admin/contests/{MISSING}"
        answers = {
            "page": await organiser.get(f"{base}/judging"),
            "assign": await organiser.post(f"{base}/judging/assign", data=form),
            "add judge": await organiser.post(
                f"{base}/judging/add-judge", data={**form, "entry": "1"}
            ),
            "close": await organiser.post(f"{base}/judging/close", data=form),
            "next": await organiser.post(
                f"{base}/judging/next-round", data={**form, "rule": "division", "count": "3"}
            ),
            "deadline": await organiser.post(f"{base}/judging/deadline", data=form),
            "results": await organiser.get(f"{base}/results"),
            "compute": await organiser.post(f"{base}/results", data={**form, "action": "compute"}),
            "remarks": await organiser.get(f"{base}/remarks"),
            "api assign": await organiser.post("/api/v1/contests/nope/assignment", headers=csrf),
            "api progress": await organiser.get("/api/v1/contests/nope/progress"),
            "api round": await organiser.post(
                "/api/v1/contests/nope/rounds", json={"action": "close"}, headers=csrf
            ),
            "api add judge": await organiser.post(
                "/api/v1/contests/nope/entries/1/judges", headers=csrf
            ),
        }
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 404)
    assert answers["api assign"].json()["error"]["status"] == 404
    assert await _written(sessionmaker) == before
