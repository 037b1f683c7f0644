"""The units page a page at a time (top-level units, a unit's own, a search), and every form
that names a unit by its code with suggestions instead of a list of every unit: the unit's
parent, a coordinator's or judge's units, a conflict."""

from __future__ import annotations

import re
from collections.abc import Awaitable

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.i18n import ngettext, use_locale
from contest.models import AuditEvent, Conflict, Invitation, Unit, User
from contest.settings import Settings
from tests.support import all_pages, app_client, csrf_from, listed, vi

# The demo's units: two schools with three classes each, the learning centre, three groups.
SCHOOL = "th-bach-sam"
CLASSES = ["th-bach-sam-3a", "th-bach-sam-4b", "th-bach-sam-5a"]


def unknown_units(*codes: str) -> str:
    with use_locale("vi"):
        return ngettext(
            "No unit has the code %(codes)s.",
            "No units have the codes %(codes)s.",
            len(codes),
            codes=", ".join(codes),
        )


async def _unit_ids(sessionmaker: async_sessionmaker[AsyncSession], *where: object) -> list[int]:
    async with sessionmaker() as session:
        return list(
            await session.scalars(select(Unit.id).where(*where).order_by(Unit.name, Unit.id))  # type: ignore[arg-type]
        )


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _post(client: httpx.AsyncClient, path: str, data: dict[str, object]) -> httpx.Response:
    token = await csrf_from(client, path)
    return await client.post(path, data={**data, "csrf_token": token})


async def test_the_units_page_is_paginated_top_level_units_first(
    organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    top = await _unit_ids(sessionmaker, Unit.parent_id.is_(None))
    assert len(top) > 3
    pages = await all_pages(organiser, "/admin/units?per_page=3", "unit")
    assert [len(page) for page in pages][:-1] == [3] * (len(pages) - 1) and len(pages) > 1
    assert [i for page in pages for i in page] == top
    first = await organiser.get("/admin/units?per_page=3")
    assert vi("Page %(number)s of %(pages)s", number="1", pages=str(len(pages))) in first.text

    # A school's classes, a page of their own; its row links to them.
    async with sessionmaker() as session:
        school = await session.scalar(select(Unit).where(Unit.code == SCHOOL))
    assert school is not None
    assert f"?parent={SCHOOL}" in (await organiser.get("/admin/units")).text
    classes = await organiser.get(f"/admin/units?parent={SCHOOL}")
    assert listed(classes.text, "unit") == await _unit_ids(
        sessionmaker, Unit.parent_id == school.id
    )
    assert vi("Units of %(name)s", name=school.name) in classes.text


async def test_the_units_page_searches_by_code_or_name_at_any_depth(
    organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async def shown(query: str) -> set[int]:
        response = await organiser.get(f"/admin/units?{query}")
        assert response.status_code == 200, response.text
        return set(listed(response.text, "unit"))

    assert await shown("q=3A") == set(await _unit_ids(sessionmaker, Unit.code == CLASSES[0]))
    assert await shown("q=bach-sam-") == set(
        await _unit_ids(sessionmaker, Unit.code.like("%bach-sam-%"))
    )
    assert await shown("q=Lớp") == set(await _unit_ids(sessionmaker, Unit.kind == "class"))
    assert await shown("q=_") == set()  # a wildcard is a character like any other
    # A unit's own units, searched.
    assert await shown(f"parent={SCHOOL}&q=4b") == set(
        await _unit_ids(sessionmaker, Unit.code == CLASSES[1])
    )
    # An unknown unit's units: none, and the page says why.
    missing = await organiser.get("/admin/units?parent=khong-co")
    assert listed(missing.text, "unit") == []
    assert unknown_units("khong-co") in missing.text


async def test_unreadable_units_addresses_are_refused(
    organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    before = await _count(sessionmaker, AuditEvent)
    for query, message in [
        ("page=0", "The page number must be a whole number from 1."),
        ("page=x", "The page number must be a whole number from 1."),
        ("q=" + "x" * 101, "Search with at most %(count)s characters."),
        ("parent=" + "x" * 101, "Search with at most %(count)s characters."),
    ]:
        response = await organiser.get(f"/admin/units?{query}")
        assert response.status_code == 400, query
        assert vi(message, count=100) in response.text
        api = await organiser.get(f"/api/v1/units?{query}")
        if query.startswith("q="):
            assert api.status_code == 400
            assert api.json()["error"]["message"] == vi(message, count=100)
    assert await _count(sessionmaker, AuditEvent) == before


async def test_a_unit_names_its_parent_by_code_never_from_a_list_of_every_unit(
    organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    page = await organiser.get("/admin/units")
    assert '<select id="f-parent"' not in page.text
    assert 'list="f-parent-options"' in page.text and "/api/v1/units" in page.text
    before = await _count(sessionmaker, Unit)

    # An unknown parent: the form again with the reason, nothing stored.
    unknown = await _post(
        organiser,
        "/admin/units",
        {"code": "th-moi-1a", "name": "Lớp 1A", "kind": "class", "parent": "khong-co"},
    )
    assert unknown.status_code == 422
    assert unknown_units("khong-co") in unknown.text
    assert await _count(sessionmaker, Unit) == before

    made = await _post(
        organiser,
        "/admin/units",
        {"code": "th-bach-sam-1a", "name": "Lớp 1A", "kind": "class", "parent": SCHOOL},
    )
    assert made.status_code == 303
    async with sessionmaker() as session:
        school = await session.scalar(select(Unit).where(Unit.code == SCHOOL))
        child = await session.scalar(select(Unit).where(Unit.code == "th-bach-sam-1a"))
    assert school is not None and child is not None and child.parent_id == school.id

    # A school cannot belong to its own class, nor to itself.
    edit = f"/admin/units/{school.id}"
    form = await organiser.get(edit)
    assert '<select id="f-parent"' not in form.text
    for parent in ("th-bach-sam-1a", SCHOOL):
        refused = await _post(
            organiser,
            edit,
            {"code": SCHOOL, "name": school.name, "kind": "school", "parent": parent},
        )
        assert refused.status_code == 422
        assert vi("A unit cannot belong to itself or to a unit below it.") in refused.text
    async with sessionmaker() as session:
        again = await session.get(Unit, school.id)
    assert again is not None and again.parent_id is None


async def test_the_unit_suggestions_are_a_few_units_for_organisers_only(
    organiser: httpx.AsyncClient, settings: Settings
) -> None:
    found = await organiser.get("/api/v1/units?q=bach-sam-")
    assert found.status_code == 200
    units = found.json()["units"]
    assert {u["code"] for u in units} == {*CLASSES, "thcs-bach-sam-6a", "thcs-bach-sam-7b",
                                          "thcs-bach-sam-8c"}  # fmt: skip
    third = next(u for u in units if u["code"] == CLASSES[0])
    assert third["parent"] == SCHOOL and third["label"] == "Lớp 3A · Trường Tiểu học Bạch Sam"
    first = (await organiser.get("/api/v1/units")).json()["units"]
    assert 0 < len(first) <= 20 and all(u["parent"] is None for u in first)
    async with app_client(settings) as anonymous:
        refused = await anonymous.get("/api/v1/units?q=a")
    assert refused.status_code == 401


async def test_staff_units_are_typed_as_codes_and_unknown_ones_refused(
    organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    page = await organiser.get("/admin/users")
    # No box per unit: a field of codes with suggestions.
    assert f'value="{CLASSES[0]}"' not in page.text and 'data-picker="many"' in page.text
    users, invitations = await _count(sessionmaker, User), await _count(sessionmaker, Invitation)

    def invite(units: str) -> Awaitable[httpx.Response]:
        form = {"email": "gv@x.vn", "name": "Cô giáo", "role": "coordinator", "units": units}
        return _post(organiser, "/admin/users", form)

    refused = await invite(f"{CLASSES[0]}, khong-co, sai-ma")
    assert refused.status_code == 422
    assert unknown_units("khong-co", "sai-ma") in refused.text
    assert await _count(sessionmaker, User) == users
    assert await _count(sessionmaker, Invitation) == invitations

    invited = await invite(f"{CLASSES[0]},  {CLASSES[2]}")
    assert invited.status_code == 200 and "data-invite-link" in invited.text
    async with sessionmaker() as session:
        user = await session.scalar(select(User).where(User.email == "gv@x.vn"))
        assert user is not None
        await session.refresh(user, ["units"])
        codes = sorted(u.code for u in user.units)
    assert codes == [CLASSES[0], CLASSES[2]]

    # Editing: the codes shown as typed, an unknown one refused and nothing changed.
    edit = f"/admin/users/{user.id}"
    form = await organiser.get(edit)
    assert re.search(rf'value="{CLASSES[0]}, {CLASSES[2]}"', form.text)
    bad = await _post(organiser, edit, {"name": "Cô giáo", "units": "khong-co", "active": "1"})
    assert bad.status_code == 422
    assert unknown_units("khong-co") in bad.text
    async with sessionmaker() as session:
        again = await session.get(User, user.id)
        assert again is not None
        await session.refresh(again, ["units"])
        assert sorted(u.code for u in again.units) == codes


async def test_a_conflict_names_its_unit_by_code(
    organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    page = await organiser.get("/admin/conflicts")
    assert "<select" not in page.text and 'list="f-unit-options"' in page.text
    refused = await _post(
        organiser, "/admin/conflicts", {"judge": "gk.lan@bachsam.demo", "unit": "khong-co"}
    )
    assert refused.status_code == 422
    assert unknown_units("khong-co") in refused.text
    nobody = await _post(organiser, "/admin/conflicts", {"judge": "ai@x.vn", "unit": "tdp-1"})
    assert nobody.status_code == 422
    assert vi("No judge has this e-mail address.") in nobody.text
    assert await _count(sessionmaker, Conflict) == 0
