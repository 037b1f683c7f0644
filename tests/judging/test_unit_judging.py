"""Each level judges its own entries: in a contest that holds every province's entries, a
province's organiser assigns, follows and reassigns their province's entries with their own
judges (through the page, the API and the assignment job), and leaves every other entry and
assignment as it is; the whole event's organiser fills what is left and keeps the round."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest import rules
from contest.demo import DemoReport
from contest.models import (
    Assignment,
    AssignmentStatus,
    AuditEvent,
    Contest,
    Entry,
    EntryStatus,
    Job,
    JobStatus,
    Role,
    Round,
    RoundStatus,
    Unit,
    UnitKind,
    User,
)
from contest.rules import OrganiserScope
from contest.settings import Settings
from judging import services
from judging.interfaces import ReassignRefusedError
from tests.support import (
    WRITING,
    Account,
    MakeUser,
    app_client,
    contest_id_of,
    csrf_from,
    entries_below,
    follow_job,
    make_entries,
    make_two_provinces,
    sign_in,
    vi,
)

K = 2  # judges an entry needs, in these tests


@dataclass
class Level:
    """A province's (or the nation's) organiser, signed in, with their CSRF token."""

    client: httpx.AsyncClient
    csrf: str
    user_id: int

    @property
    def api(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}


@dataclass
class Provinces:
    a: Level
    b: Level
    national: Level
    contest_id: int
    # Entry ids of the writing contest: province A's, province B's, and of a unit in neither.
    entries: dict[str, set[int]]
    # The judges of the writing contest each province's organiser manages (every unit theirs).
    judges: dict[str, set[int]]
    sessionmaker: async_sessionmaker[AsyncSession]


async def _entries_below(sessionmaker: async_sessionmaker[AsyncSession], code: str) -> set[int]:
    """The writing contest's entries from the unit with this code and its classes."""
    return set(await entries_below(sessionmaker, code))


async def _level(settings: Settings, account: Account, stack: AsyncExitStack) -> Level:
    client = await stack.enter_async_context(app_client(settings))
    await sign_in(client, account.user.email, account.password)
    return Level(client, await csrf_from(client, "/login"), account.user.id)


@pytest.fixture
async def provinces(
    demo: DemoReport,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> AsyncIterator[Provinces]:
    await make_two_provinces(sessionmaker)
    async with sessionmaker() as session:
        event_id = await session.scalar(select(Unit.event_id).where(Unit.code == "tinh-a"))
        parents = dict((await session.execute(select(Unit.code, Unit.id))).all())
        # A second school in each province, where its judges teach: a judge never judges an
        # entry of their own school.
        for code, parent in (("th-a2", "tinh-a"), ("th-b2", "tinh-b")):
            session.add(
                Unit(
                    event_id=event_id,
                    kind=UnitKind.SCHOOL,
                    code=code,
                    name=code,
                    parent_id=parents[parent],
                )
            )
        await session.execute(
            update(Contest).where(Contest.slug == WRITING).values(judges_per_entry=K)
        )
        await session.commit()
    await make_entries(sessionmaker, WRITING, ages=[8, 9], unit_code="th-bach-sam-5a")
    await make_entries(sessionmaker, WRITING, ages=[10, 10], unit_code="thcs-bach-sam-6a")
    await make_entries(sessionmaker, WRITING, ages=[10], unit_code="tdp-3")
    judges: dict[str, set[int]] = {}
    for province in ("a", "b"):
        made = [
            await make_user(
                f"gk.{province}{n}@example.vn",
                Role.JUDGE,
                units=[f"th-{province}2"],
                contests=[WRITING],
            )
            for n in (1, 2, 3)
        ]
        judges[province] = {account.user.id for account in made}
    async with sessionmaker() as session:
        # The demo's judges of the two schools are their provinces' too (each in conflict
        # with their own school's entries, so given none of them).
        for province, email in (("a", "gk.lan@bachsam.demo"), ("b", "gk.minh@bachsam.demo")):
            judge = await session.scalar(select(User.id).where(User.email == email))
            assert judge is not None
            judges[province].add(judge)
    async with AsyncExitStack() as stack:
        levels = [
            await _level(settings, await make_user(email, Role.ADMIN, units=units), stack)
            for email, units in (
                ("tinh-a@example.vn", ["tinh-a"]),
                ("tinh-b@example.vn", ["tinh-b"]),
                ("quoc-gia@example.vn", []),
            )
        ]
        yield Provinces(
            *levels,
            contest_id=await contest_id_of(sessionmaker, WRITING),
            entries={
                "a": await _entries_below(sessionmaker, "th-bach-sam"),
                "b": await _entries_below(sessionmaker, "thcs-bach-sam"),
                "elsewhere": await _entries_below(sessionmaker, "tdp-3"),
            },
            judges=judges,
            sessionmaker=sessionmaker,
        )


async def _pairs(p: Provinces) -> set[tuple[int, int, int]]:
    """Every assignment of the writing contest not stepped back from: (id, entry, judge)."""
    async with p.sessionmaker() as session:
        rows = await session.execute(
            select(Assignment.id, Assignment.entry_id, Assignment.judge_id)
            .join(Entry, Entry.id == Assignment.entry_id)
            .where(Entry.contest_id == p.contest_id, Assignment.status != AssignmentStatus.RECUSED)
        )
        return {(a, e, j) for a, e, j in rows.all()}


def _of(pairs: set[tuple[int, int, int]], entries: set[int]) -> set[tuple[int, int, int]]:
    return {pair for pair in pairs if pair[1] in entries}


def _assert_fully_judged_by(
    pairs: set[tuple[int, int, int]], entries: set[int], judges: set[int]
) -> None:
    mine = _of(pairs, entries)
    assert Counter(entry for _a, entry, _j in mine) == dict.fromkeys(entries, K)
    assert {judge for _a, _e, judge in mine} <= judges


async def _assign_for(p: Provinces, level: Level) -> None:
    """The level's run, straight through the service (the job path has tests of its own)."""
    async with p.sessionmaker() as session:
        scope = OrganiserScope(level.user_id, level is not p.national)
        await services.run_assignment(session, contest_id=p.contest_id, actor=None, scope=scope)
        await session.commit()


async def _both_assigned(p: Provinces) -> set[tuple[int, int, int]]:
    """Both provinces' runs done: every assignment of the writing contest."""
    await _assign_for(p, p.a)
    await _assign_for(p, p.b)
    return await _pairs(p)


async def _audited(p: Provinces, action: str) -> int:
    async with p.sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
            )
            or 0
        )


async def test_each_province_assigns_its_own_entries_to_its_own_judges_in_a_job(
    provinces: Provinces, settings: Settings
) -> None:
    p = provinces
    page = f"/admin/contests/{p.contest_id}/judging"
    # Province A from the page: its job's page follows it.
    started = await p.a.client.post(f"{page}/assign", data={"csrf_token": p.a.csrf})
    assert started.status_code == 303 and "/admin/jobs/" in started.headers["location"]
    job = await follow_job(p.a.client, settings, started)
    a_job = job["id"]
    assert job["status"] == "done", job
    assert job["result"]["entries"] == len(p.entries["a"])
    assert job["result"]["new_assignments"] == K * len(p.entries["a"])
    assert job["result"]["judges"] == len(p.judges["a"])
    job_page = await p.a.client.get(started.headers["location"])
    assert job_page.status_code == 200
    # Its console is the province's: no link to the national organiser's pages.
    assert 'href="http://testserver/admin/units"' not in job_page.text
    assert f"/admin/contests/{p.contest_id}/judging" in job_page.text
    # Another province's organiser does not see it, as if it did not exist.
    assert (await p.b.client.get(started.headers["location"])).status_code == 404
    assert (await p.b.client.get(f"/api/v1/jobs/{job['id']}")).status_code == 404
    after_a = await _pairs(p)
    _assert_fully_judged_by(after_a, p.entries["a"], p.judges["a"])
    assert _of(after_a, p.entries["b"] | p.entries["elsewhere"]) == set()

    # Province B through the API: its entries, its judges; province A's left as they were.
    started = await p.b.client.post(f"/api/v1/contests/{WRITING}/assignment", headers=p.b.api)
    assert started.status_code == 202
    job = await follow_job(p.b.client, settings, started)
    assert job["status"] == "done" and job["result"]["entries"] == len(p.entries["b"])
    # Each province's judging page lists the jobs it started, not the other's.
    b_page = (await p.b.client.get(page)).text
    assert f'/admin/jobs/{job["id"]}"' in b_page and f'/admin/jobs/{a_job}"' not in b_page
    after_b = await _pairs(p)
    assert _of(after_b, p.entries["a"]) == _of(after_a, p.entries["a"])
    _assert_fully_judged_by(after_b, p.entries["b"], p.judges["b"])
    assert _of(after_b, p.entries["elsewhere"]) == set()

    # The whole event's organiser afterwards fills only the gaps.
    started = await p.national.client.post(
        f"/api/v1/contests/{WRITING}/assignment", headers=p.national.api
    )
    job = await follow_job(p.national.client, settings, started)
    assert job["status"] == "done"
    assert job["result"]["new_assignments"] == K * len(p.entries["elsewhere"])
    after_all = await _pairs(p)
    assert after_all - after_b == _of(after_all, p.entries["elsewhere"])
    assert Counter(e for _a, e, _j in _of(after_all, p.entries["elsewhere"])) == dict.fromkeys(
        p.entries["elsewhere"], K
    )


async def test_two_provinces_starting_at_once_each_get_their_own_job(
    provinces: Provinces, settings: Settings
) -> None:
    p = provinces
    path = f"/api/v1/contests/{WRITING}/assignment"
    started = {
        name: await level.client.post(path, headers=level.api)
        for name, level in (("a", p.a), ("b", p.b), ("national", p.national))
    }
    assert all(r.status_code == 202 for r in started.values())
    ids = {name: r.json()["id"] for name, r in started.items()}
    assert len(set(ids.values())) == 3
    # Asking twice gives the job under way, the province's own.
    again = await p.a.client.post(path, headers=p.a.api)
    assert again.json()["id"] == ids["a"]
    assert (await p.a.client.get(f"/api/v1/jobs/{ids['b']}")).status_code == 404
    for name, level in (("a", p.a), ("b", p.b), ("national", p.national)):
        job = await follow_job(level.client, settings, started[name])
        assert job["status"] == "done", job
    # Whichever ran first, the runs took turns: every entry has its judges, none more.
    pairs = await _pairs(p)
    assert Counter(e for _a, e, _j in pairs) == dict.fromkeys(set().union(*p.entries.values()), K)

    # A failed run is tried again by the organiser who started it (and the whole event's),
    # never by another province's.
    async with p.sessionmaker() as session:
        await session.execute(
            update(Job).where(Job.id == ids["a"]).values(status=JobStatus.FAILED, active_key=None)
        )
        await session.commit()
    retry = f"/api/v1/jobs/{ids['a']}/retry"
    assert (await p.b.client.post(retry, headers=p.b.api)).status_code == 404
    retried = await p.a.client.post(retry, headers=p.a.api)
    assert retried.status_code == 202, retried.text
    job = await follow_job(p.a.client, settings, retried)
    assert job["status"] == "done" and job["result"]["new_assignments"] == 0
    assert await _pairs(p) == pairs


async def test_a_provinces_progress_and_page_count_its_entries_and_judges(
    provinces: Provinces,
) -> None:
    p = provinces
    await _both_assigned(p)
    progress = await p.a.client.get(f"/api/v1/contests/{WRITING}/progress")
    assert progress.status_code == 200, progress.text
    body = progress.json()
    assert body["entries"] == len(p.entries["a"])
    assert body["assigned"] == K * len(p.entries["a"]) and body["done"] == 0
    assert {j["id"] for j in body["judges"]} == p.judges["a"]
    assert sum(j["assigned"] for j in body["judges"]) == K * len(p.entries["a"])
    whole = (await p.national.client.get(f"/api/v1/contests/{WRITING}/progress")).json()
    all_entries = set().union(*p.entries.values())
    assert whole["entries"] == len(all_entries)
    assert whole["assigned"] == K * (len(p.entries["a"]) + len(p.entries["b"]))
    assert p.judges["a"] | p.judges["b"] <= {j["id"] for j in whole["judges"]}

    page = await p.a.client.get(f"/admin/contests/{p.contest_id}/judging")
    assert page.status_code == 200
    shown = {int(i) for i in re.findall(r'data-assignment="(\d+)"', page.text)}
    assert shown == {a for a, _e, _j in _of(await _pairs(p), p.entries["a"])}
    assert {int(i) for i in re.findall(r'data-judge="(\d+)"', page.text)} == p.judges["a"]
    assert (
        vi(
            "%(done)s of %(assigned)s scores submitted · %(entries)s entries",
            done=0,
            assigned=K * len(p.entries["a"]),
            entries=len(p.entries["a"]),
        )
        in page.text
    )
    # The round's own actions are not offered, and refused when asked for anyway.
    for action in ("close", "next-round", "deadline"):
        assert f"/judging/{action}" not in page.text
        refused = await p.a.client.post(
            f"/admin/contests/{p.contest_id}/judging/{action}",
            data={"csrf_token": p.a.csrf, "rule": "division", "count": "1", "closes_at": ""},
        )
        assert refused.status_code == 403
    refused = await p.a.client.post(
        f"/api/v1/contests/{WRITING}/rounds", headers=p.a.api, json={"action": "close"}
    )
    assert refused.status_code == 403
    async with p.sessionmaker() as session:
        statuses = await session.scalars(
            select(Round.status).where(Round.contest_id == p.contest_id)
        )
        assert list(statuses) == [RoundStatus.OPEN]
    national_page = await p.national.client.get(f"/admin/contests/{p.contest_id}/judging")
    assert f"/admin/contests/{p.contest_id}/judging/close" in national_page.text
    # A withdrawn entry and its work leave the province's counts.
    async with p.sessionmaker() as session:
        await session.execute(
            update(Entry)
            .where(Entry.id == min(p.entries["a"]))
            .values(status=EntryStatus.WITHDRAWN)
        )
        await session.commit()
    left = (await p.a.client.get(f"/api/v1/contests/{WRITING}/progress")).json()
    assert left["entries"] == len(p.entries["a"]) - 1
    assert left["assigned"] == K * (len(p.entries["a"]) - 1)
    assert sum(j["assigned"] for j in left["judges"]) == K * (len(p.entries["a"]) - 1)
    # The overview leads a province's organiser to judging.
    overview = await p.a.client.get("/admin")
    assert f"/admin/contests/{p.contest_id}/judging" in overview.text


async def test_the_judge_picker_lists_only_the_provinces_judges(provinces: Provinces) -> None:
    p = provinces
    path = f"/api/v1/contests/{WRITING}/judges"
    mine = await p.a.client.get(path)
    assert mine.status_code == 200
    assert {j["id"] for j in mine.json()["judges"]} == p.judges["a"]
    assert (await p.a.client.get(path, params={"q": "gk.b"})).json() == {"judges": []}
    theirs = (await p.national.client.get(path, params={"q": "gk.b"})).json()["judges"]
    made_for_b = {j for j in p.judges["b"] if (await _email(p, j)).startswith("gk.b")}
    assert len(made_for_b) == 3 and {j["id"] for j in theirs} == made_for_b


async def _email(p: Provinces, user_id: int) -> str:
    async with p.sessionmaker() as session:
        email = await session.scalar(select(User.email).where(User.id == user_id))
    assert email is not None
    return email


async def test_reassignment_stays_within_the_provinces_entries_and_judges(
    provinces: Provinces,
) -> None:
    p = provinces
    before = await _both_assigned(p)
    audited = await _audited(p, "reassigned")
    own = min(_of(before, p.entries["a"]))
    other = min(_of(before, p.entries["b"]))
    b_judge = min(p.judges["b"] - {other[2]})
    b_email = await _email(p, b_judge)

    # Another province's judge, by id: refused as a judge who is not the contest's.
    unknown = await p.a.client.post(
        f"/api/v1/assignments/{own[0]}/reassign", headers=p.a.api, json={"judge": 2_000_000}
    )
    foreign = await p.a.client.post(
        f"/api/v1/assignments/{own[0]}/reassign", headers=p.a.api, json={"judge": b_judge}
    )
    assert unknown.status_code == foreign.status_code == 409
    assert foreign.json()["error"]["message"] == unknown.json()["error"]["message"]
    assert foreign.json()["error"]["message"] == vi(ReassignRefusedError().message)
    # ... and by e-mail address on the page: as if nobody had it.
    form = f"/admin/assignments/{own[0]}/reassign"
    by_email = await p.a.client.post(form, data={"csrf_token": p.a.csrf, "judge": b_email})
    nobody = await p.a.client.post(
        form, data={"csrf_token": p.a.csrf, "judge": "nobody@example.vn"}
    )
    assert by_email.status_code == nobody.status_code == 422
    assert vi("No judge has this e-mail address.") in by_email.text
    by_id = await p.a.client.post(form, data={"csrf_token": p.a.csrf, "judge": str(b_judge)})
    assert by_id.status_code == 409

    # Another province's assignment: not found, on the page and through the API.
    a_judge = min(p.judges["a"] - {own[2]})
    for response in (
        await p.a.client.post(
            f"/admin/assignments/{other[0]}/reassign",
            data={"csrf_token": p.a.csrf, "judge": str(a_judge)},
        ),
        await p.a.client.post(
            f"/api/v1/assignments/{other[0]}/reassign", headers=p.a.api, json={"judge": a_judge}
        ),
        await p.a.client.post(
            "/api/v1/assignments/2000000/reassign", headers=p.a.api, json={"judge": a_judge}
        ),
    ):
        assert response.status_code == 404, response.text
    assert await _pairs(p) == before
    assert await _audited(p, "reassigned") == audited

    # Their own entry to their own free judge: done.
    free = min(p.judges["a"] - {j for _a, e, j in before if e == own[1]} - await _lan(p))
    done = await p.a.client.post(
        f"/api/v1/assignments/{own[0]}/reassign", headers=p.a.api, json={"judge": free}
    )
    assert done.status_code == 200, done.text
    assert (own[0], own[1], free) in await _pairs(p)
    assert await _audited(p, "reassigned") == audited + 1


async def _lan(p: Provinces) -> set[int]:
    """The demo's judge of province A's own school (in conflict with all of its entries)."""
    async with p.sessionmaker() as session:
        return set(
            await session.scalars(select(User.id).where(User.email == "gk.lan@bachsam.demo"))
        )


async def test_another_judge_only_for_the_provinces_entries_and_from_its_judges(
    provinces: Provinces,
) -> None:
    p = provinces
    before = await _both_assigned(p)
    other_entry = min(p.entries["b"])
    page = f"/admin/contests/{p.contest_id}/judging/add-judge"
    for response in (
        await p.a.client.post(page, data={"csrf_token": p.a.csrf, "entry": str(other_entry)}),
        await p.a.client.post(
            f"/api/v1/contests/{WRITING}/entries/{other_entry}/judges", headers=p.a.api
        ),
    ):
        assert response.status_code == 404, response.text
    assert await _pairs(p) == before
    assert await _audited(p, "judge_added") == 0

    own_entry = min(p.entries["a"])
    added = await p.a.client.post(
        f"/api/v1/contests/{WRITING}/entries/{own_entry}/judges", headers=p.a.api
    )
    assert added.status_code == 200 and added.json() == {"added": 1}
    new = await _pairs(p) - before
    assert len(new) == 1 and {(e, j in p.judges["a"]) for _a, e, j in new} == {(own_entry, True)}


async def test_a_judge_stepping_back_hands_the_entry_to_another_of_the_provinces_judges(
    provinces: Provinces,
) -> None:
    """Only province A assigned: province B's judges have no work at all, so a whole-event
    draw would give the entry to one of them (the least loaded); it goes to A's judge instead.
    An entry of a unit no organiser holds still draws on the whole contest."""
    p = provinces
    await _assign_for(p, p.a)
    before = await _pairs(p)
    _id, entry_id, judge_id = min(_of(before, p.entries["a"]))
    async with p.sessionmaker() as session:
        judge = await session.get(User, judge_id)
        assert judge is not None
        added = await services.recuse(
            session, assignment_id=_id, judge=judge, reason="Học sinh của tôi"
        )
        await session.commit()
    assert added == 1
    new = await _pairs(p) - before
    assert len(new) == 1
    ((_a, entry, replacement),) = new
    assert entry == entry_id and replacement in p.judges["a"] - {judge_id}

    # The entry from a unit of neither province, assigned by the whole event's run.
    await _assign_for(p, p.national)
    before = await _pairs(p)
    _id, entry_id, judge_id = min(_of(before, p.entries["elsewhere"]))
    async with p.sessionmaker() as session:
        scope = await rules.entry_organisers_scope(session, entry_id=entry_id)
        assert not scope.for_units
        a_scope = await rules.entry_organisers_scope(session, entry_id=min(p.entries["a"]))
        assert a_scope.for_units and a_scope.user_id == p.a.user_id
