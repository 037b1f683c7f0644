"""The organiser's judging page at scale: unfinished assignments and judges a page at a time,
reassignment through a judge picker that searches (never a dropdown of every judge), and
progress counted by the database."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import utcnow
from contest.demo import DemoReport
from contest.models import (
    Assignment,
    AssignmentStatus,
    AuditEvent,
    Entry,
    EntryStatus,
    Role,
    Round,
    User,
    contest_judges,
)
from contest.pagination import PageRequest
from judging import services
from tests.results.support import bearer
from tests.support import (
    DRAWING,
    WRITING,
    WRITING_FULL_MARKS,
    Account,
    MakeUser,
    all_pages,
    contest_id_of,
    csrf_from,
    listed,
    make_entries,
    score,
    vi,
)

NO_MARKS = dict.fromkeys(WRITING_FULL_MARKS, 0)


@pytest.fixture
async def assigned(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> int:
    """The writing contest with six entries and seven judges, assigned (18 assignments)."""
    for number in range(3):
        await make_user(f"extra{number}@x.vn", Role.JUDGE, units=["tdp-3"], contests=[WRITING])
    await make_entries(sessionmaker, WRITING, ages=[7, 8, 9, 12, 13])
    contest_id = await contest_id_of(sessionmaker, WRITING)
    async with sessionmaker() as session:
        report = await services.run_assignment(session, contest_id=contest_id, actor=None)
        await session.commit()
    assert report.new_assignments == 18 and report.shortfalls == {}
    return contest_id


@pytest.fixture
async def judge_of_another_contest(demo: DemoReport, make_user: MakeUser) -> Account:
    """A judge of the drawing contest only."""
    return await make_user("drawing@x.vn", Role.JUDGE, units=["tdp-3"], contests=[DRAWING])


async def _assignments(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> list[tuple[int, int, int, AssignmentStatus]]:
    """(assignment, entry, judge, status) of every assignment."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Assignment.id, Assignment.entry_id, Assignment.judge_id, Assignment.status)
        )
        return [(a, e, j, s) for a, e, j, s in rows.all()]


async def _user_id(sessionmaker: async_sessionmaker[AsyncSession], email: str) -> int:
    async with sessionmaker() as session:
        found = await session.scalar(select(User.id).where(User.email == email))
    assert found is not None
    return int(found)


async def _score(
    sessionmaker: async_sessionmaker[AsyncSession],
    assignment_id: int,
    points: dict[str, int],
    *,
    submit: bool = True,
) -> None:
    async with sessionmaker() as session:
        await score(session, assignment_id=assignment_id, points=points, submit=submit)
        await session.commit()


async def test_the_judging_page_lists_unfinished_work_and_judges_a_page_at_a_time(
    assigned: int, organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    path = f"/admin/contests/{assigned}/judging?per_page=5"
    every = await _assignments(sessionmaker)
    pages = await all_pages(organiser, path, "assignment")
    assert [len(page) for page in pages] == [5, 5, 5, 3]
    assert sorted(i for page in pages for i in page) == sorted(a for a, *_ in every)

    judges = await all_pages(organiser, path, "judge", name="judges_page")
    assert [len(page) for page in judges] == [5, 2]
    async with sessionmaker() as session:
        members = set(
            (
                await session.scalars(
                    select(contest_judges.c.user_id).where(contest_judges.c.contest_id == assigned)
                )
            ).all()
        )
    assert {i for page in judges for i in page} == members

    # Reassignment names a judge in a text field: no list of every judge on the page.
    page = await organiser.get(path)
    assert "<option" not in page.text and "<select" not in page.text
    assert 'list="judge-options"' in page.text and "/picker.js" in page.text


async def test_the_unfinished_work_filters_by_judge_and_receipt_code(
    assigned: int, organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    every = await _assignments(sessionmaker)
    minh = await _user_id(sessionmaker, "gk.minh@bachsam.demo")
    path = f"/admin/contests/{assigned}/judging"
    his = await organiser.get(f"{path}?judge={minh}")
    assert set(listed(his.text, "assignment")) == {a for a, _e, j, _s in every if j == minh}

    entry_id = every[0][1]
    async with sessionmaker() as session:
        code = await session.scalar(select(Entry.receipt_code).where(Entry.id == entry_id))
    assert code is not None
    found = await organiser.get(f"{path}?receipt={code.lower()}")
    assert set(listed(found.text, "assignment")) == {a for a, e, _j, _s in every if e == entry_id}
    both = await organiser.get(f"{path}?receipt={code}&judge=999999")
    assert listed(both.text, "assignment") == []

    for query in ("page=0", "judges_page=x", "judge=minh", "judge=0"):
        refused = await organiser.get(f"{path}?{query}")
        assert refused.status_code == 400, query


@pytest.mark.usefixtures("judge_of_another_contest")
async def test_reassignment_takes_a_judges_email_or_id_and_refuses_anyone_else(
    assigned: int,
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    # Two judges who joined after the assignment, so that any entry may go to them.
    await make_user("late0@x.vn", Role.JUDGE, units=["tdp-3"], contests=[WRITING])
    await make_user("late1@x.vn", Role.JUDGE, units=["tdp-3"], contests=[WRITING])
    extra = await _user_id(sessionmaker, "late0@x.vn")
    other = await _user_id(sessionmaker, "late1@x.vn")
    free = [(a, e) for a, e, _j, _s in await _assignments(sessionmaker)]
    token = await csrf_from(organiser, f"/admin/contests/{assigned}/judging")

    async def reassign(assignment_id: int, judge: str) -> httpx.Response:
        return await organiser.post(
            f"/admin/assignments/{assignment_id}/reassign",
            data={"csrf_token": token, "judge": judge},
        )

    async def judge_of(assignment_id: int) -> int:
        async with sessionmaker() as session:
            found = await session.scalar(
                select(Assignment.judge_id).where(Assignment.id == assignment_id)
            )
        assert found is not None
        return int(found)

    by_email = await reassign(free[0][0], " LATE0@x.vn ")
    assert by_email.status_code == 303
    assert await judge_of(free[0][0]) == extra
    by_id = await reassign(free[1][0], str(other))
    assert by_id.status_code == 303
    assert await judge_of(free[1][0]) == other

    async with sessionmaker() as session:
        audited = await session.scalar(select(func.count()).select_from(AuditEvent))
    kept = await judge_of(free[0][0])
    for judge, status, message in [
        ("nobody@x.vn", 422, "No judge has this e-mail address."),
        ("extra", 422, "Choose one of the options."),
        ("", 422, "Choose one of the options."),
        ("drawing@x.vn", 409, None),  # a judge, but not of this contest
    ]:
        refused = await reassign(free[0][0], judge)
        assert refused.status_code == status, judge
        if message:
            assert vi(message) in refused.text
    assert await judge_of(free[0][0]) == kept
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == audited


@pytest.mark.usefixtures("judge_of_another_contest")
async def test_the_judge_picker_searches_the_contests_active_judges(
    assigned: int,
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    async with sessionmaker() as session:
        for number in range(25):
            user = User(email=f"many{number:02}@y.vn", name=f"Many {number:02}", role=Role.JUDGE)
            session.add(user)
            await session.flush()
            await session.execute(
                insert(contest_judges).values(contest_id=assigned, user_id=user.id)
            )
        retired = await session.scalar(select(User).where(User.email == "extra2@x.vn"))
        assert retired is not None
        retired.is_active = False
        await session.commit()
    api = f"/api/v1/contests/{WRITING}/judges"

    async def emails(query: str) -> list[str]:
        response = await organiser.get(f"{api}?{query}")
        assert response.status_code == 200, response.text
        return [judge["email"] for judge in response.json()["judges"]]

    assert await emails("q=LAN") == ["gk.lan@bachsam.demo"]
    assert await emails("q=x.vn") == ["extra0@x.vn", "extra1@x.vn"]  # not the retired one
    assert await emails("q=drawing") == []  # judges another contest
    assert await emails("q=%25") == []  # a wildcard is a character like any other
    many = await emails("q=many")
    assert len(many) == services.JUDGE_PICKER_SIZE == 20
    assert many == sorted(many) and many[0] == "many00@y.vn"
    assert len(await emails("")) == 20

    too_long = await organiser.get(f"{api}?q={'a' * 101}")
    assert too_long.status_code == 400
    assert too_long.json()["error"]["message"] == vi(
        "Search with at most %(count)s characters.", count=100
    )
    assert (await organiser.get("/api/v1/contests/no-such-contest/judges")).status_code == 404


async def test_only_organisers_may_search_the_judges(
    assigned: int, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    api = f"/api/v1/contests/{WRITING}/judges?q=a"
    assert (await client.get(api)).status_code == 401
    for role in (Role.JUDGE, Role.COORDINATOR):
        response = await client.get(api, headers=await bearer(sessionmaker, role))
        assert response.status_code == 403, role


async def test_progress_is_counted_by_the_database_a_page_of_judges_at_a_time(
    assigned: int, organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    every = await _assignments(sessionmaker)
    # One entry scored far apart (full marks and none), one more submitted, one draft, one
    # assignment recused and one of a withdrawn entry: neither of the last two counts.
    split = every[0][1]
    on_split = [a for a, e, _j, _s in every if e == split]
    await _score(sessionmaker, on_split[0], WRITING_FULL_MARKS)
    await _score(sessionmaker, on_split[1], NO_MARKS)
    others = [row for row in every if row[1] != split]
    await _score(sessionmaker, others[0][0], WRITING_FULL_MARKS)
    await _score(sessionmaker, others[1][0], {"noi-dung": 2}, submit=False)
    touched = {row[1] for row in others[:3]}
    withdrawn = next(e for _a, e, _j, _s in reversed(others) if e not in touched)
    async with sessionmaker() as session:
        recused = await session.get(Assignment, others[2][0])
        entry = await session.get(Entry, withdrawn)
        round_ = await session.scalar(select(Round).where(Round.contest_id == assigned))
        assert recused is not None and entry is not None and round_ is not None
        recused.status = AssignmentStatus.RECUSED
        entry.status = EntryStatus.WITHDRAWN
        round_.closes_at = utcnow() - timedelta(hours=1)
        await session.commit()

    # The same counts row by row.
    rows = [
        (j, s)
        for _a, e, j, s in await _assignments(sessionmaker)
        if s != AssignmentStatus.RECUSED and e != withdrawn
    ]
    assigned_to = Counter(j for j, _s in rows)
    done = Counter(j for j, s in rows if s == AssignmentStatus.SUBMITTED)
    drafts = Counter(j for j, s in rows if s == AssignmentStatus.DRAFT)

    seen: dict[int, tuple[int, int, int, int]] = {}
    for number in (1, 2, 3):
        async with sessionmaker() as session:
            progress = await services.contest_progress(
                session, contest_id=assigned, judges_page=PageRequest(number, 3)
            )
        # Judges are not counted (a national contest has 20,000): each page says whether
        # another follows.
        assert progress.judges_page is not None and progress.judges_page.total is None
        assert progress.judges_page.has_next == (number < 3)
        names = [j.name for j in progress.judges]
        assert names == sorted(names)
        seen.update(
            {j.judge_id: (j.assigned, j.done, j.drafts, j.overdue) for j in progress.judges}
        )
    assert seen == {
        judge: (assigned_to[judge], done[judge], drafts[judge], assigned_to[judge] - done[judge])
        for judge in seen
    }
    assert len(seen) == 7
    assert (progress.entries, progress.assigned, progress.done) == (5, len(rows), 3)
    assert [entry for entry, _totals in progress.flagged] == [split]
    low, high = progress.flagged[0][1]
    assert low == 0.0 < high and not progress.flagged_more

    # The entries list finds the same disagreement.
    flagged = await organiser.get(f"/admin/contests/{assigned}/entries?flagged=1")
    assert listed(flagged.text, "entry") == [split]

    api = f"/api/v1/contests/{WRITING}/progress"
    second = (await organiser.get(f"{api}?page=2&per_page=3")).json()
    assert second["judges_page"] == {"page": 2, "per_page": 3, "pages": None, "total": None}
    assert len(second["judges"]) == 3 and second["assigned"] == len(rows)
    assert second["flagged"] == [{"entry": split, "totals": [low, high]}]
    refused = await organiser.get(f"{api}?page=0")
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == vi(
        "The page number must be a whole number from 1."
    )
