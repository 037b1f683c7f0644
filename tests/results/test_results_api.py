"""The API covers what the pages do with results: organisers compute and publish; anyone reads
a published contest's winners, named only as each entrant consented. And an outside program
finds the units an entry must name."""

from __future__ import annotations

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.models import AuditEvent, Consent, Entrant, Entry, Role
from contest.settings import Settings
from tests.results.support import Judged, bearer
from tests.support import WRITING, follow_job


async def test_the_units_an_entry_names_are_listed_as_a_tree(
    demo: DemoReport, client: httpx.AsyncClient
) -> None:
    answer = await client.get(f"/api/v1/contests/{WRITING}/units")
    assert answer.status_code == 200
    units = {unit["code"]: unit for unit in answer.json()["units"]}
    assert units["th-bach-sam"] == {
        "code": "th-bach-sam",
        "name": "Trường Tiểu học Bạch Sam",
        "kind": "school",
        "parent": None,
    }
    assert units["th-bach-sam-5a"]["parent"] == "th-bach-sam"
    assert units["th-bach-sam-5a"]["kind"] == "class"
    assert {"residential_group", "learning_centre"} <= {u["kind"] for u in units.values()}
    # Parents come before the units inside them.
    order = list(units)
    assert all(order.index(u["parent"]) < order.index(c) for c, u in units.items() if u["parent"])
    assert (await client.get("/api/v1/contests/khong-co/units")).status_code == 404


async def test_organisers_compute_and_publish_and_the_public_reads_the_winners(
    client: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    judged: Judged,
) -> None:
    entries = judged.entries
    async with sessionmaker() as session:
        first = await session.get(Entry, entries[0])
        second = await session.get(Entry, entries[1])
        assert first and second
        await session.execute(
            update(Entrant).where(Entrant.id == first.entrant_id).values(consent=Consent.FULL_NAME)
        )
        await session.execute(
            update(Entrant).where(Entrant.id == second.entrant_id).values(consent=Consent.HIDDEN)
        )
        await session.commit()
    public = f"/api/v1/contests/{WRITING}/results"
    compute = f"/api/v1/contests/{WRITING}/results/compute"
    publish = f"/api/v1/contests/{WRITING}/results/publish"

    # Only organisers compute and publish.
    assert (await client.post(compute)).status_code == 401
    judge = await bearer(sessionmaker, Role.JUDGE)
    assert (await client.post(compute, headers=judge)).status_code == 403
    organiser = await bearer(sessionmaker)
    assert (await client.post(publish, headers=organiser)).status_code == 409  # not computed

    # Each runs as a job: 202, then its result once a worker ran it.
    computed = await follow_job(
        client, settings, await client.post(compute, headers=organiser), headers=organiser
    )
    assert computed["status"] == "done", computed
    assert computed["result"] == {"entries": 6, "prizes": {"first": 1, "second": 2, "third": 3}}
    # A preview: nothing public yet.
    assert (await client.get(public)).status_code == 404

    published = await follow_job(
        client, settings, await client.post(publish, headers=organiser), headers=organiser
    )
    assert published["result"] == {"published": 6}
    assert (await client.post(publish, headers=organiser)).status_code == 409
    assert (await client.post(compute, headers=organiser)).status_code == 409
    async with sessionmaker() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert "results_computed" in actions and "results_published" in actions

    answer = await client.get(public)
    assert answer.status_code == 200
    body = answer.json()
    assert body["contest"] == WRITING
    winners = body["winners"]
    assert [w["prize"] for w in winners] == ["first", "second", "second", "third", "third", "third"]
    names = [w["name"] for w in winners]
    # Full name, no name, and initials for the others, as each consented.
    assert names[0] == "Học sinh 0"
    assert "Học sinh 1" not in names and "Người dự thi" in names
    assert "H. S. 2." in names
    assert winners[0]["prize_label"] == "Giải Nhất" and winners[0]["rank"] == 1
    assert "guardian" not in answer.text and "0900000000" not in answer.text
    assert (await client.get("/api/v1/contests/khong-co/results")).status_code == 404
