"""Compute, review, publish: nothing visible before publication, everything audited."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.models import (
    AuditEvent,
    Contest,
    ContestStatus,
    Entry,
    Prize,
    Result,
    Role,
)
from contest.results import services
from contest.results.services import ResultsError
from contest.settings import Settings
from contest.tokens import hash_token
from tests.results.support import Judged
from tests.support import WRITING, MakeUser, csrf_from, follow_job, run_contest_cli, sign_in, stored


async def test_compute_publish_and_visibility(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], judged: Judged
) -> None:
    contest_id, entries = judged
    async with sessionmaker() as session:
        report = await services.compute_results(session, contest_id=contest_id, actor=None)
        await session.commit()
    # One first, two second, three third, five honourable per division (the demo's scheme):
    # 1.0 first; 0.75 and 0.75 share second; then third for 0.5, 0.25 and 0.0.
    assert report.entries == 6
    assert report.prizes == {"first": 1, "second": 2, "third": 3}
    async with sessionmaker() as session:
        results = {r.entry_id: r for r in (await session.scalars(select(Result))).all()}
    assert [results[e].rank for e in entries] == [1, 2, 2, 4, 5, 6]
    assert results[entries[0]].prize == Prize.FIRST and results[entries[0]].final_score == 10.0

    # Before publication nothing shows anywhere public.
    assert (await client.get(f"/contests/{WRITING}/winners")).status_code == 404
    receipt_code = (await stored(sessionmaker, Entry, entries[0])).receipt_code
    async with sessionmaker() as session:
        first = await session.get(Entry, entries[0])
        assert first is not None
        first.edit_token_hash = hash_token("private-link-token")
        await session.commit()
    private = f"/entries/{receipt_code}?token=private-link-token"
    receipt = await client.get(private)
    assert receipt.status_code == 200
    assert "Giải Nhất" not in receipt.text and "Cố gắng lên!" not in receipt.text
    # Nor on the contest's page, in the API's contest and entry, or its re-marking state.
    for path in (f"/contests/{WRITING}", f"/api/v1/contests/{WRITING}"):
        public = await client.get(path)
        assert public.status_code == 200
        assert "Giải Nhất" not in public.text and '"prize"' not in public.text
    headers = {"X-Edit-Token": "private-link-token"}
    entry_api = await client.get(f"/api/v1/entries/{receipt_code}", headers=headers)
    assert entry_api.status_code == 200
    assert "first" not in entry_api.text and "Cố gắng lên!" not in entry_api.text
    remark_api = await client.get(f"/api/v1/entries/{receipt_code}/remark", headers=headers)
    assert remark_api.status_code == 404

    async with sessionmaker() as session:
        await services.publish_results(session, contest_id=contest_id, actor=None)
        await session.commit()
        contest = await session.get(Contest, contest_id)
        published = (await session.scalars(select(Result))).all()
    assert contest is not None and contest.status == ContestStatus.PUBLISHED
    assert all(r.published_at is not None for r in published)
    serials = [r.certificate_serial for r in published if r.prize]
    assert len(serials) == 6 and len(set(serials)) == 6
    gallery = await client.get(f"/contests/{WRITING}/winners")
    assert gallery.status_code == 200
    # Consent is initials for these entrants: "Học sinh 0" shows as "H. S. 0.".
    assert "Học sinh 0" not in gallery.text
    assert "H. S. 0." in gallery.text
    assert "Giải Nhất" in gallery.text
    receipt = await client.get(private)
    assert 'id="entry-prize">Giải Nhất<' in receipt.text
    assert "Cố gắng lên!" in receipt.text
    # Without the private link, the receipt page says nothing of the result.
    assert "Giải Nhất" not in (await client.get(f"/entries/{receipt_code}")).text
    etag = gallery.headers["etag"]
    assert gallery.headers["cache-control"].startswith("public")
    again = await client.get(f"/contests/{WRITING}/winners", headers={"If-None-Match": etag})
    assert again.status_code == 304

    async with sessionmaker() as session:
        with pytest.raises(ResultsError, match="published"):
            await services.compute_results(session, contest_id=contest_id, actor=None)
        with pytest.raises(ResultsError, match="published"):
            await services.publish_results(session, contest_id=contest_id, actor=None)


async def test_an_override_needs_a_reason_survives_recompute_and_is_audited(
    client: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
    judged: Judged,
) -> None:
    contest_id, entries = judged
    admin = await make_user("btc@x.vn", Role.ADMIN)
    await sign_in(client, admin.user.email, admin.password)
    page = f"/admin/contests/{contest_id}/results"
    token = await csrf_from(client, page)
    computed = await client.post(page, data={"csrf_token": token, "action": "compute"})
    assert computed.status_code == 303
    assert (await follow_job(client, settings, computed))["status"] == "done"
    async with sessionmaker() as session:
        last = await session.scalar(select(Result).where(Result.entry_id == entries[-1]))
    assert last is not None and last.prize == Prize.THIRD

    async def override(**fields: str) -> httpx.Response:
        data = {"csrf_token": token, "action": "override", "result": str(last.id), **fields}
        return await client.post(page, data=data)

    no_reason = await override(prize="")
    assert no_reason.status_code == 422
    assert "Hãy ghi lý do" in no_reason.text
    # A prize the form does not offer is refused before anything changes.
    unknown = await override(prize="gold", reason="Bài không đúng thể lệ")
    assert unknown.status_code == 422
    assert "Hãy chọn một trong các lựa chọn." in unknown.text
    assert (await stored(sessionmaker, Result, last.id)).prize == Prize.THIRD
    changed = await override(prize="", reason="Bài không đúng thể lệ")
    assert changed.status_code == 303
    recomputed = await client.post(page, data={"csrf_token": token, "action": "compute"})
    assert (await follow_job(client, settings, recomputed))["status"] == "done"
    async with sessionmaker() as session:
        kept = await session.scalar(select(Result).where(Result.entry_id == entries[-1]))
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "prize_overridden")
        )
    assert kept is not None and kept.prize is None
    assert kept.override_reason == "Bài không đúng thể lệ"
    assert event is not None and event.before == {"prize": "third"}
    assert event.after == {"prize": None, "reason": "Bài không đúng thể lệ"}

    published = await client.post(page, data={"csrf_token": token, "action": "publish"})
    assert (await follow_job(client, settings, published))["result"] == {"published": 6}
    refused = await override(prize="first", reason="x")
    assert refused.status_code == 409


def test_results_commands(settings: Settings) -> None:
    env = {
        "CONTEST_DATA_DIR": str(settings.data_dir),
        "CONTEST_DATABASE_URL": settings.database_url,
        "CONTEST_SECRET_KEY": "k",
        "CONTEST_LOCALE": "en",
    }
    done = run_contest_cli("results", "compute", "no-such-contest", env=env, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == "contest: no contest is called no-such-contest"
