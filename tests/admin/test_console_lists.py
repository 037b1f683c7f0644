"""The organiser's entries list, and the one rule of every paginated list: a page at a time,
filters that narrow it, and an address that cannot be read refused with 400."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import ColumnElement, event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest import audit, pagination
from contest.demo import DemoReport
from contest.models import (
    AuditEvent,
    Contest,
    Division,
    Entrant,
    Entry,
    EntryStatus,
    Role,
    Unit,
    User,
)
from contest.pagination import (
    COUNT_CAP,
    MAX_PAGE_SIZE,
    PageRequest,
    QueryRefusedError,
    page_request,
    paginate,
)
from tests.support import (
    WRITING,
    all_pages,
    bulk_entries,
    listed,
    make_entries,
    pager_link,
    vi,
)


async def _writing(sessionmaker: async_sessionmaker[AsyncSession]) -> Contest:
    async with sessionmaker() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == WRITING))
    assert contest is not None
    return contest


async def _entry_ids(
    sessionmaker: async_sessionmaker[AsyncSession], *where: ColumnElement[bool]
) -> set[int]:
    async with sessionmaker() as session:
        query = select(Entry.id).join(Entrant).outerjoin(Unit).where(*where)
        return set((await session.scalars(query)).all())


def test_page_numbers_and_sizes_are_read_or_refused() -> None:
    assert page_request({}) == PageRequest(1, 50)
    assert page_request({"page": " 3 ", "per_page": "200"}) == PageRequest(3, MAX_PAGE_SIZE)
    assert page_request({"judges_page": "2"}, name="judges_page") == PageRequest(2, 50)
    for bad in ({"page": "0"}, {"page": "-1"}, {"page": "1.5"}, {"page": "abc"}, {"page": ""}):
        with pytest.raises(QueryRefusedError) as refused:
            page_request(bad)
        assert refused.value.status_code == 400
    for bad in ({"per_page": "0"}, {"per_page": "201"}, {"per_page": "x"}):
        with pytest.raises(QueryRefusedError):
            page_request(bad)


async def test_a_page_past_the_end_is_the_last_page(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    query = select(Division.id).order_by(Division.id)
    async with sessionmaker() as session:
        every = [row[0] for row in (await session.execute(query)).all()]
        last = await paginate(session, query, PageRequest(99, 2))
        first = await paginate(session, query, PageRequest(1, 2))
    assert len(every) > 2
    assert last.number == last.pages == -(-len(every) // 2) and not last.has_next
    assert [row[0] for row in last.items] == every[(last.number - 1) * 2 :]
    assert [row[0] for row in first.items] == every[:2] and first.has_next
    assert first.total == last.total == len(every)


async def test_the_entries_list_is_paginated_newest_first(
    organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    contest = await _writing(sessionmaker)
    await make_entries(sessionmaker, WRITING, ages=[7, 8, 9, 12, 13])
    every = await _entry_ids(sessionmaker, Entry.contest_id == contest.id)
    assert len(every) == 6

    path = f"/admin/contests/{contest.id}/entries"
    pages = await all_pages(organiser, f"{path}?per_page=4", "entry")
    assert [len(page) for page in pages] == [4, 2]
    assert [i for page in pages for i in page] == sorted(every, reverse=True)
    first = await organiser.get(f"{path}?per_page=4")
    assert vi("Page %(number)s of %(pages)s", number="1", pages="2") in first.text
    assert pager_link(first.text, "prev") is None

    # Past the end: the last page, not an error.
    beyond = await organiser.get(f"{path}?per_page=4&page=9")
    assert beyond.status_code == 200 and listed(beyond.text, "entry") == pages[-1]
    # The default page holds them all; the dashboard links to the list.
    assert len(listed((await organiser.get(path)).text, "entry")) == 6
    assert path in (await organiser.get("/admin")).text


async def test_paging_reaches_the_first_rows_only_and_says_so(
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A national list is paged through its first MAX_PAGED_ROWS rows (here 4 of 6): the last
    page reached offers no next link and says that the filters show the rest; a page beyond is
    empty, read from no row, says so too and links back to the last page reached."""
    monkeypatch.setattr(pagination, "MAX_PAGED_ROWS", 4)
    contest = await _writing(sessionmaker)
    await make_entries(sessionmaker, WRITING, ages=[7, 8, 9, 12, 13])
    every = sorted(await _entry_ids(sessionmaker, Entry.contest_id == contest.id), reverse=True)
    assert len(every) == 6
    path = f"/admin/contests/{contest.id}/entries"
    hint = vi("More rows follow than pages reach. Narrow the list with its filters to see them.")

    first = await organiser.get(f"{path}?per_page=2")
    assert listed(first.text, "entry") == every[:2] and hint not in first.text
    last = await organiser.get(f"{path}?per_page=2&page=2")
    assert last.status_code == 200 and listed(last.text, "entry") == every[2:4]
    assert pager_link(last.text, "next") is None and hint in last.text

    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engine = sessionmaker.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        beyond = await organiser.get(f"{path}?per_page=2&page=9")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert beyond.status_code == 200 and listed(beyond.text, "entry") == []
    assert hint in beyond.text
    back = pager_link(beyond.text, "prev")
    assert back is not None and "page=2" in back
    assert not [s for s in statements if "FROM entries" in s and "OFFSET" in s]
    # The API answers the same: an empty page, not an error.
    api = await organiser.get(f"/api/v1/contests/{WRITING}/entries?per_page=2&page=9")
    assert api.status_code == 200 and api.json()["entries"] == []
    # A short list past its end is still its last page.
    monkeypatch.setattr(pagination, "MAX_PAGED_ROWS", 10_000)
    past = await organiser.get(f"{path}?per_page=2&page=999")
    assert past.status_code == 200 and listed(past.text, "entry") == every[4:]


async def test_paginate_reads_no_row_past_the_rows_it_reaches(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pagination, "MAX_PAGED_ROWS", 3)
    query = select(Division.id).order_by(Division.id)
    async with sessionmaker() as session:
        reached = await paginate(session, query, PageRequest(3, 1), total=1_000_000)
        beyond = await paginate(session, query, PageRequest(4, 1), total=1_000_000)
    assert reached.number == 3 and reached.items and not reached.has_next and reached.cut_short
    assert beyond.items == [] and beyond.cut_short and beyond.previous == 3


async def test_the_entries_list_filters_by_unit_division_status_and_receipt_code(
    organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    contest = await _writing(sessionmaker)
    pupils = await make_entries(sessionmaker, WRITING, ages=[7, 12])  # class 3A, two divisions
    (resident,) = await make_entries(sessionmaker, WRITING, ages=[40], unit_code="tdp-2")
    async with sessionmaker() as session:
        withdrawn = await session.get(Entry, pupils[1])
        assert withdrawn is not None
        withdrawn.status = EntryStatus.WITHDRAWN
        await session.commit()
        division_id = withdrawn.division_id
        receipt = withdrawn.receipt_code
    path = f"/admin/contests/{contest.id}/entries"

    async def shown(query: str) -> set[int]:
        response = await organiser.get(f"{path}?{query}")
        assert response.status_code == 200, response.text
        return set(listed(response.text, "entry"))

    # A school's code covers its classes; a class's code is the class only.
    school = await _entry_ids(
        sessionmaker, Entry.contest_id == contest.id, Unit.code.startswith("th-bach-sam")
    )
    assert set(pupils) < school
    assert await shown("unit=th-bach-sam") == school
    assert await shown("unit=th-bach-sam-3a") == set(pupils)
    assert await shown("unit=tdp-2") == {resident}
    assert await shown("unit=no-such-unit") == set()
    assert await shown("status=withdrawn") == {pupils[1]}
    assert await shown(f"division={division_id}") == await _entry_ids(
        sessionmaker, Entry.contest_id == contest.id, Entry.division_id == division_id
    )
    # The receipt code as a person types it: lower case, without the dash.
    assert await shown("receipt=" + receipt.replace("-", "").lower()) == {pupils[1]}
    assert await shown(f"status=submitted&unit=th-bach-sam-3a&receipt={receipt}") == set()
    # Nobody's judges disagree yet.
    assert await shown("flagged=1") == set()


async def test_unreadable_list_addresses_are_refused_and_change_nothing(
    organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    contest = await _writing(sessionmaker)
    path = f"/admin/contests/{contest.id}/entries"
    async with sessionmaker() as session:
        before = await session.scalar(select(func.count()).select_from(AuditEvent))
    for query, message in [
        ("page=0", "The page number must be a whole number from 1."),
        ("page=abc", "The page number must be a whole number from 1."),
        ("per_page=1000", "Ask for 1 to %(count)s rows a page."),
        ("status=lost", "This filter cannot be read. Choose one of the options."),
        ("division=first", "This filter cannot be read. Choose one of the options."),
        ("flagged=yes", "This filter cannot be read. Choose one of the options."),
        ("receipt=" + "x" * 101, "Search with at most %(count)s characters."),
    ]:
        response = await organiser.get(f"{path}?{query}")
        assert response.status_code == 400, query
        assert vi(message, count=MAX_PAGE_SIZE if "rows" in message else 100) in response.text
    assert (await organiser.get("/admin/contests/999999/entries")).status_code == 404
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == before


async def test_the_audit_log_pages_newest_first_without_counting_it(
    organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        for number in range(7):
            audit.record(
                session,
                action="zz_listed" if number % 2 else "aa_listed",
                object_type="entry",
                object_id=number,
                actor=None,
                after={"n": number},
            )
        await session.commit()
        listed_ids = (
            await session.scalars(
                select(AuditEvent.id)
                .where(AuditEvent.action == "zz_listed")
                .order_by(AuditEvent.id.desc())
            )
        ).all()
        actions = (
            await session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
        ).all()
    pages = await all_pages(organiser, "/admin/audit?per_page=2&action=zz_listed", "event")
    assert pages == [list(listed_ids[:2]), list(listed_ids[2:])]
    first = await organiser.get("/admin/audit?per_page=2&action=zz_listed")
    assert vi("Page %(number)s", number="1") in first.text
    # Every action the log holds is offered as a filter, in order, once.
    offered = re.findall(r'<option value="([a-z_]+)"', first.text)
    assert offered == list(actions) and "aa_listed" in offered
    # Past the end of an uncounted list: an empty page that links back.
    beyond = await organiser.get("/admin/audit?page=50&action=zz_listed")
    assert listed(beyond.text, "event") == [] and pager_link(beyond.text, "prev") is not None
    assert (await organiser.get("/admin/audit?page=-2")).status_code == 400


async def test_the_accounts_list_is_paginated_and_searched_by_name_email_and_role(
    organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        every = (
            await session.scalars(select(User.id).order_by(User.role, User.name, User.id))
        ).all()
        judges = set((await session.scalars(select(User.id).where(User.role == Role.JUDGE))).all())
        lan = await session.scalar(select(User.id).where(User.email == "gk.lan@bachsam.demo"))
    pages = await all_pages(organiser, "/admin/users?per_page=3", "user")
    assert [i for page in pages for i in page] == list(every)
    assert [len(page) for page in pages][:-1] == [3] * (len(pages) - 1) and len(pages) > 1

    async def shown(query: str) -> set[int]:
        response = await organiser.get(f"/admin/users?{query}")
        assert response.status_code == 200, response.text
        return set(listed(response.text, "user"))

    assert await shown("role=judge") == judges
    assert await shown("q=GK.LAN") == {lan}
    assert await shown("q=_") == set()  # a wildcard is a character like any other
    assert (await organiser.get("/admin/users?role=boss")).status_code == 400


async def test_a_list_longer_than_the_count_cap_pages_without_counting(
    organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    contest = await _writing(sessionmaker)
    async with sessionmaker() as session:
        unit_ids = list(await session.scalars(select(Unit.id).limit(2)))
        await bulk_entries(
            session, contest_id=contest.id, count=COUNT_CAP, unit_ids=unit_ids, prefix="Cap "
        )
        await session.commit()
    every = await _entry_ids(sessionmaker, Entry.contest_id == contest.id)
    assert len(every) > COUNT_CAP
    path = f"/admin/contests/{contest.id}/entries?per_page=200"
    first = await organiser.get(path)
    assert vi("Page %(number)s", number="1") in first.text
    assert vi("%(count)s in all", count=str(len(every))) not in first.text
    assert pager_link(first.text, "next") is not None
    # The last page found by following the links; one past it is empty and links back.
    pages = await all_pages(organiser, path, "entry")
    assert sorted(i for page in pages for i in page) == sorted(every)
    beyond = await organiser.get(f"{path}&page={len(pages) + 1}")
    assert listed(beyond.text, "entry") == [] and pager_link(beyond.text, "prev") is not None
