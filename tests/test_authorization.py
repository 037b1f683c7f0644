"""Every route the router holds × every kind of visitor: allowed or denied as declared.

The routes come from the app itself, so a new route is covered the day it is added; a route
without an access declaration stops the app from starting (and this test with it).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Route

from contest import rules
from contest.access import (
    ANYONE,
    UNIT_ORGANISER,
    access_of,
    check_declarations,
    iter_endpoints,
    public,
)
from contest.app import create_app
from contest.db import utcnow
from contest.demo import DemoReport
from contest.errors import ContestError
from contest.models import (
    Assignment,
    Contest,
    Entry,
    EntryStatus,
    Job,
    JobStatus,
    RemarkRequest,
    RemarkStatus,
    Result,
    Role,
    Unit,
    User,
)
from contest.settings import Settings
from contest.tokens import hash_token
from judging.services import run_assignment
from storage import storage_from_url
from tests.intake import files
from tests.intake.support import Counts, counts, entrant_fields, form, post_form
from tests.support import DRAWING, WRITING, Account, app_client, make_entries, sign_in

# The refusal of a signed-in user whose role does not fit, in either language (a persona may
# have switched language on the way through the routes).
ROLE_DENIED = [
    "Tài khoản của bạn không được dùng trang này.",
    "Your account may not use this page.",
]


@dataclass
class Persona:
    name: str
    role: Role | None
    client: httpx.AsyncClient
    csrf: str
    # An organiser who holds units reaches only the pages declared for them.
    for_units: bool = False


async def _csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


@pytest.fixture
async def personas(
    settings: Settings,
    demo: DemoReport,
    make_user: Callable[..., Awaitable[Account]],
) -> AsyncIterator[list[Persona]]:
    accounts = {
        "coordinator of unit A": await make_user(
            "a@example.vn", Role.COORDINATOR, units=["th-bach-sam-5a"]
        ),
        "coordinator of unit B": await make_user(
            "b@example.vn", Role.COORDINATOR, units=["thcs-bach-sam-6a"]
        ),
        "judge of contest X": await make_user(
            "x@example.vn", Role.JUDGE, units=["tdp-1"], contests=["viet-ve-cuon-sach-em-yeu"]
        ),
        "judge of contest Y": await make_user(
            "y@example.vn", Role.JUDGE, units=["tdp-2"], contests=["ke-chuyen-sach"]
        ),
        "admin": await make_user("admin@example.vn", Role.ADMIN),
        "organiser of school A": await make_user(
            "school-a@example.vn", Role.ADMIN, units=["th-bach-sam"]
        ),
    }
    people: list[Persona] = []
    clients = []
    for name in ["anonymous", "entrant with an edit token", *accounts]:
        context = app_client(settings)
        client = await context.__aenter__()
        clients.append(context)
        account = accounts.get(name)
        if account is not None:
            await sign_in(client, account.user.email, account.password)
        people.append(
            Persona(
                name,
                account.user.role if account else None,
                client,
                await _csrf(client),
                for_units=name == "organiser of school A",
            )
        )
    try:
        yield people
    finally:
        for context in clients:
            await context.__aexit__(None, None, None)


ENTRANT_TOKEN = "the-entrants-own-private-token"


async def path_values(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """Real identifiers from the demo, so a request reaches the handler's own checks: the
    entrant persona's entry, and an assignment of judge X's."""
    async with sessionmaker() as session:
        contest = await session.scalar(select(Contest).order_by(Contest.id))
        unit = await session.scalar(select(Unit).order_by(Unit.id))
        user = await session.scalar(select(User).order_by(User.id))
        assert contest and unit and user
        entry = await session.scalar(select(Entry).where(Entry.contest_id == contest.id))
        assert entry is not None
        # The entrant persona holds this entry's private link.
        entry.edit_token_hash = hash_token(ENTRANT_TOKEN)
        await run_assignment(session, contest_id=contest.id, actor=None)
        await session.commit()
        assignment = await session.scalar(
            select(Assignment.id)
            .join(User, User.id == Assignment.judge_id)
            .where(User.email == "x@example.vn")
        )
        # A published result for the entry, and a re-marking request handed to judge X.
        judge_x = await session.scalar(select(User).where(User.email == "x@example.vn"))
        assert judge_x is not None
        session.add(
            Result(
                contest_id=contest.id,
                entry_id=entry.id,
                rank=1,
                final_score=9.0,
                published_at=utcnow(),
            )
        )
        remark = RemarkRequest(
            entry_id=entry.id,
            contest_id=contest.id,
            reason="x",
            status=RemarkStatus.ASSIGNED,
            judge_id=judge_x.id,
        )
        session.add(remark)
        # An import coordinator A sent, finished: followed by A and the organisers alone.
        coordinator_a = await session.scalar(select(User).where(User.email == "a@example.vn"))
        assert coordinator_a is not None
        job = Job(
            kind="bulk_import",
            contest_id=contest.id,
            params={"csv": "imports/x/entrants.csv", "zip": None},
            status=JobStatus.DONE,
            result={"accepted": 0, "refused": 0, "rows": []},
            created_by_id=coordinator_a.id,
            created_at=utcnow(),
        )
        session.add(job)
        await session.commit()
    assert assignment is not None
    return {
        "code": entry.receipt_code,
        "assignment_id": assignment,
        "slug": contest.slug,
        "locale": "en",
        "contest_id": contest.id,
        "unit_id": unit.id,
        "user_id": user.id,
        "part": "divisions",
        "child_id": 1,
        "token_id": 1,
        "token": "not-a-real-token",
        "key": "entries/x/original.png",
        "remark_id": remark.id,
        "job_id": job.id,
    }


def is_denied(persona: Persona, response: httpx.Response) -> bool:
    if response.status_code == 401:
        return True
    if response.status_code == 303 and "/login" in response.headers.get("location", ""):
        return True
    return response.status_code == 403 and any(text in response.text for text in ROLE_DENIED)


def expected_allowed(declared: frozenset[str], persona: Persona) -> bool:
    if ANYONE in declared:
        return True
    if persona.for_units:
        return UNIT_ORGANISER in declared
    return persona.role is not None and persona.role.value in declared


# Routes whose permission depends on the object, not only the role: who may use them, and that
# a refusal there is a 403 or 404 (the object is none of the visitor's business).
OBJECT_RULES: dict[str, Callable[[Persona], bool]] = {
    "/entries/{code:str}/edit": lambda p: p.name == "entrant with an edit token",
    "/entries/{code:str}/withdraw": lambda p: p.name == "entrant with an edit token",
    "/api/v1/entries/{code:str}": lambda p: p.name == "entrant with an edit token",
    "/api/v1/entries/{code:str}/withdraw": lambda p: p.name == "entrant with an edit token",
    "/judge/assignments/{assignment_id:int}": lambda p: p.name == "judge of contest X",
    "/judge/assignments/{assignment_id:int}/draft": lambda p: p.name == "judge of contest X",
    "/judge/assignments/{assignment_id:int}/recuse": lambda p: p.name == "judge of contest X",
    "/api/v1/judge/assignments/{assignment_id:int}": lambda p: p.name == "judge of contest X",
    "/api/v1/judge/assignments/{assignment_id:int}/score": lambda p: p.name == "judge of contest X",
    "/entries/{code:str}/remark": lambda p: p.name == "entrant with an edit token",
    "/api/v1/entries/{code:str}/remark": lambda p: p.name == "entrant with an edit token",
    "/judge/remarks/{remark_id:int}": lambda p: p.name == "judge of contest X",
    "/entries/{code:str}/my-data.zip": lambda p: p.name == "entrant with an edit token",
    "/entries/{code:str}/my-data": lambda p: p.name == "entrant with an edit token",
    "/api/v1/entries/{code:str}/my-data": lambda p: p.name == "entrant with an edit token",
    "/api/v1/jobs/{job_id:int}": lambda p: p.name in ("coordinator of unit A", "admin"),
    # An organiser of some units follows and retries only the jobs they started.
    "/admin/jobs/{job_id:int}": lambda p: p.name == "admin",
    "/admin/jobs/{job_id:int}/retry": lambda p: p.name == "admin",
    "/api/v1/jobs/{job_id:int}/retry": lambda p: p.name == "admin",
    "/coordinator/contests/{slug:str}/import/{job_id:int}": (
        lambda p: p.name in ("coordinator of unit A", "admin")
    ),
}


def last_steps(item: tuple[str, Any, Any]) -> tuple[int, str]:
    """Withdrawing the entry and signing out change what later requests see: they go last."""
    path = item[0]
    return (2 if path == "/logout" else 1 if path.endswith("/withdraw") else 0, path)


async def test_every_route_allows_exactly_whom_it_declares(
    personas: list[Persona],
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    app = create_app(settings)
    values = await path_values(sessionmaker)
    checked = 0
    wrong: list[str] = []
    endpoints = sorted(iter_endpoints(app.routes), key=last_steps)
    for path, route, endpoint in endpoints:
        declared = access_of(endpoint)
        assert declared, f"{path} declares no access"
        methods = (
            sorted((route.methods or {"GET"}) - {"HEAD"}) if isinstance(route, Route) else ["GET"]
        )
        params = re.findall(r"{(\w+)(?::\w+)?}", path)
        url = path
        for name in params:
            url = re.sub("{" + name + r"(?::\w+)?}", str(values.get(name, 1)), url)
        rule = OBJECT_RULES.get(path)
        for method in methods:
            for persona in personas:
                holds_link = persona.name == "entrant with an edit token" and "{code" in path
                data = {"csrf_token": persona.csrf} if method in ("POST", "PATCH") else None
                headers = {"X-CSRF-Token": persona.csrf}
                if holds_link:
                    headers["X-Edit-Token"] = ENTRANT_TOKEN
                response = await persona.client.request(
                    method,
                    url + (f"?token={ENTRANT_TOKEN}" if holds_link else ""),
                    data=data,
                    headers=headers,
                )
                assert response.status_code < 500, f"{method} {url} as {persona.name}"
                allowed = not is_denied(persona, response)
                expected = expected_allowed(declared, persona)
                if rule is not None and expected:
                    expected = rule(persona)
                    allowed = allowed and response.status_code not in (403, 404)
                if allowed != expected:
                    wrong.append(
                        f"{method} {path} as {persona.name}: {response.status_code}"
                        f" (declared {sorted(declared)})"
                    )
                checked += 1
        if path.endswith("/withdraw"):
            # Put the entry back, for the other withdraw route's turn.
            async with sessionmaker() as session:
                await session.execute(
                    update(Entry)
                    .where(Entry.receipt_code == values["code"])
                    .values(status=EntryStatus.SUBMITTED)
                )
                await session.commit()
    assert wrong == [], "\n".join(wrong)
    assert checked > 7 * 25


def test_a_route_without_a_declaration_stops_the_app() -> None:
    async def undeclared(request: Any) -> Any:
        raise AssertionError

    async def declared(request: Any) -> Any:
        raise AssertionError

    check_declarations([Route("/open", public(declared))])
    with pytest.raises(RuntimeError, match="/secret"):
        check_declarations([Route("/open", declared), Route("/secret", undeclared)])


async def _stored(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> Counts:
    store = storage_from_url(
        settings.storage_url, secret_key=settings.secret_key, base_url=settings.base_url
    )
    try:
        return await counts(sessionmaker, store)
    finally:
        await store.aclose()


class RulesAsked:
    """Which of contest.rules' answers were asked for, and what they said."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.refusals: list[str] = []
        for name in ("ensure_entry_holder", "ensure_may_submit_for_unit"):
            monkeypatch.setattr(rules, name, self._spy(name, getattr(rules, name)))

    def _spy(self, name: str, rule: Callable[..., None]) -> Callable[..., None]:
        def asked(*args: Any, **kwargs: Any) -> None:
            try:
                rule(*args, **kwargs)
            except ContestError:
                self.refusals.append(name)
                raise

        return asked

    def take(self) -> list[str]:
        taken, self.refusals = self.refusals, []
        return taken


async def test_the_object_rules_refuse_what_is_not_the_visitors(
    personas: list[Persona],
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another coordinator's unit and another entrant's entry, through contest.rules: refused
    as they always were (403; an unknown code 404), with nothing stored or changed."""
    values = await path_values(sessionmaker)
    by_name = {p.name: p for p in personas}
    entrant, coordinator = by_name["entrant with an edit token"], by_name["coordinator of unit B"]
    async with sessionmaker() as session:
        own = await session.scalar(select(Entry).where(Entry.receipt_code == values["code"]))
        assert own is not None
        other = await session.scalar(
            select(Entry).where(Entry.id != own.id).order_by(Entry.id).limit(1)
        )
        assert other is not None and other.edit_token_hash != hash_token(ENTRANT_TOKEN)
        other_code, other_title = other.receipt_code, other.title
    asked = RulesAsked(monkeypatch)
    before = await _stored(sessionmaker, settings)

    # Another coordinator's unit: the API answers 403 before any file is stored, at either
    # address; the page answers as for any unit not on its list (422, the unit marked).
    submission = form(entrant_fields(unit="th-bach-sam-5a"), [("t.png", files.drawing_png())])
    for path in (
        f"/api/v1/contests/{DRAWING}/entries",
        f"/api/v1/coordinator/contests/{DRAWING}/entries",
    ):
        response = await post_form(
            coordinator.client, path, submission, headers={"X-CSRF-Token": coordinator.csrf}
        )
        assert response.status_code == 403, f"{path}: {response.text}"
        assert response.json()["error"]["status"] == 403
        assert asked.take() == ["ensure_may_submit_for_unit"], path
    page = await post_form(
        coordinator.client,
        f"/coordinator/contests/{DRAWING}/submit",
        form(
            entrant_fields(unit="th-bach-sam-5a"),
            [("t.png", files.drawing_png())],
            csrf=coordinator.csrf,
        ),
    )
    assert page.status_code == 422 and 'id="f-unit-error"' in page.text

    # Another entrant's entry: the entrant's own token does not open it, to read, edit,
    # withdraw, ask for re-marking or download its data, on the pages or through the API.
    token = {"token": ENTRANT_TOKEN}
    edit_header = {"X-Edit-Token": ENTRANT_TOKEN, "X-CSRF-Token": entrant.csrf}
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/entries/{other_code}", {"params": token}),
        ("POST", f"/entries/{other_code}/edit", {"params": token, "data": {"title": "X"}}),
        ("POST", f"/entries/{other_code}/withdraw", {"params": token, "data": {}}),
        ("GET", f"/entries/{other_code}/my-data.zip", {"params": token}),
        ("GET", f"/api/v1/entries/{other_code}", {"headers": edit_header}),
        (
            "PATCH",
            f"/api/v1/entries/{other_code}",
            {"headers": edit_header, "json": {"title": "X"}},
        ),
        ("POST", f"/api/v1/entries/{other_code}/withdraw", {"headers": edit_header}),
        ("GET", f"/api/v1/entries/{other_code}/my-data", {"headers": edit_header}),
        ("GET", f"/api/v1/entries/{other_code}/remark", {"headers": edit_header}),
    ]
    for method, url, options in requests:
        if "data" in options:
            options["data"] = {"csrf_token": entrant.csrf, **options["data"]}
        response = await entrant.client.request(method, url, **options)
        assert response.status_code == 403, f"{method} {url}: {response.status_code}"
        assert asked.take() == ["ensure_entry_holder"], f"{method} {url}"
    # The same token on the entrant's own entry opens it; an unknown code is not found.
    assert (await entrant.client.get(f"/entries/{values['code']}", params=token)).status_code == 200
    assert asked.take() == []
    unknown = await entrant.client.get("/api/v1/entries/ZZZZ-ZZZZ", headers=edit_header)
    assert unknown.status_code == 404

    assert await _stored(sessionmaker, settings) == before
    async with sessionmaker() as session:
        untouched = await session.scalar(select(Entry).where(Entry.receipt_code == other_code))
    assert untouched is not None
    assert (untouched.title, untouched.status) == (other_title, EntryStatus.SUBMITTED)


async def _assignments_of(session: AsyncSession, contest_id: int) -> list[Any]:
    """(id, entry, receipt code, judge) of each of the contest's assignments."""
    found = await session.execute(
        select(Assignment.id, Assignment.entry_id, Entry.receipt_code, Assignment.judge_id)
        .join(Entry, Entry.id == Assignment.entry_id)
        .where(Entry.contest_id == contest_id)
    )
    return list(found.all())


async def test_an_organiser_of_some_units_judges_only_their_units_entries(
    personas: list[Persona],
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: Callable[..., Awaitable[Account]],
) -> None:
    """The organiser of school A judges school A's entries with school A's judges: another
    school's entry or assignment answers 404 (as a missing one) with nothing stored, another
    school's judge is refused as one who is not the contest's, the round's own actions 403."""
    school_a = next(p for p in personas if p.name == "organiser of school A")
    client, headers = school_a.client, {"X-CSRF-Token": school_a.csrf}
    [other_entry] = await make_entries(
        sessionmaker, WRITING, ages=[10], unit_code="thcs-bach-sam-6a"
    )
    async with sessionmaker() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == WRITING))
        assert contest is not None
        await run_assignment(session, contest_id=contest.id, actor=None)
        await session.commit()
        rows = await _assignments_of(session, contest.id)
        lan = await session.scalar(select(User.id).where(User.email == "gk.lan@bachsam.demo"))
    theirs = [row for row in rows if row[1] == other_entry]
    mine = [row for row in rows if row[1] != other_entry]
    assert theirs and mine and {row[2] for row in mine} == {"DEMV-W7K3"}

    progress = (await client.get(f"/api/v1/contests/{WRITING}/progress")).json()
    assert progress["entries"] == 1 and progress["assigned"] == len(mine)
    assert [j["id"] for j in progress["judges"]] == [lan]
    page = await client.get(f"/admin/contests/{contest.id}/judging")
    assert page.status_code == 200
    assert "DEMV-W7K3" in page.text and theirs[0][2] not in page.text

    for response in (
        await client.post(
            f"/admin/assignments/{theirs[0][0]}/reassign",
            data={"csrf_token": school_a.csrf, "judge": str(lan)},
        ),
        await client.post(
            f"/api/v1/assignments/{theirs[0][0]}/reassign", headers=headers, json={"judge": lan}
        ),
        await client.post(
            f"/admin/contests/{contest.id}/judging/add-judge",
            data={"csrf_token": school_a.csrf, "entry": str(other_entry)},
        ),
        await client.post(
            f"/api/v1/contests/{WRITING}/entries/{other_entry}/judges", headers=headers
        ),
    ):
        assert response.status_code == 404, response.request.url
    # Their own entry's work goes to their own judges only: another school's is refused as a
    # judge who is not the contest's.
    foreign = (
        await make_user("gk.b@example.vn", Role.JUDGE, units=["thcs-bach-sam"], contests=[WRITING])
    ).user.id
    refused = await client.post(
        f"/api/v1/assignments/{mine[0][0]}/reassign", headers=headers, json={"judge": foreign}
    )
    unknown = await client.post(
        f"/api/v1/assignments/{mine[0][0]}/reassign", headers=headers, json={"judge": 2_000_000}
    )
    assert refused.status_code == unknown.status_code == 409
    assert refused.json()["error"]["message"] == unknown.json()["error"]["message"]
    closed = await client.post(
        f"/api/v1/contests/{WRITING}/rounds", headers=headers, json={"action": "close"}
    )
    assert closed.status_code == 403
    async with sessionmaker() as session:
        assert sorted(await _assignments_of(session, contest.id)) == sorted(rows)
