"""Re-marking (phúc khảo): asked from the receipt, re-scored by another judge, decided by the
organisers; every step audited, every refusal leaves nothing behind."""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import utcnow
from contest.demo import DemoReport
from contest.models import (
    Assignment,
    Entrant,
    Entry,
    EntryStatus,
    Prize,
    RemarkRequest,
    RemarkStatus,
    Result,
    Role,
)
from contest.results import services
from contest.results.remarks import window_end
from contest.settings import Settings
from contest.tokens import hash_token
from tests.results.support import judged_contest
from tests.support import (
    WRITING,
    Account,
    MakeUser,
    app_client,
    audit_trail,
    csrf_from,
    sign_in,
    vi,
)

TOKEN = "remark-private-token"


async def published_contest(
    sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser, *, publish: bool = True
) -> tuple[int, str, int]:
    """The judged writing contest, computed (and published); returns the contest, the receipt
    code of the entry ranked fourth (third prize) holding TOKEN, and that entry's id."""
    contest_id, entries = await judged_contest(sessionmaker, make_user)
    async with sessionmaker() as session:
        await services.compute_results(session, contest_id=contest_id, actor=None)
        if publish:
            await services.publish_results(session, contest_id=contest_id, actor=None)
        entry = await session.get(Entry, entries[3])
        assert entry is not None
        entry.edit_token_hash = hash_token(TOKEN)
        await session.commit()
        return contest_id, entry.receipt_code, entry.id


async def fresh_judge_and_organiser(make_user: MakeUser) -> tuple[Account, Account]:
    """A judge of the contest who joined after the assignment, so the only one who never saw
    the entry, and an organiser."""
    fresh = await make_user("d@x.vn", Role.JUDGE, units=["tdp-4"], contests=[WRITING])
    return fresh, await make_user("btc@x.vn", Role.ADMIN)


class Case(NamedTuple):
    """A published contest's entry with a third prize, a judge who never saw it, an organiser."""

    contest_id: int
    code: str
    entry_id: int
    fresh: Account
    admin: Account


@pytest.fixture
async def case(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> Case:
    contest_id, code, entry_id = await published_contest(sessionmaker, make_user)
    return Case(contest_id, code, entry_id, *await fresh_judge_and_organiser(make_user))


async def count_requests(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count(RemarkRequest.id))) or 0)


async def _act(
    organiser: httpx.AsyncClient, detail: str, token: str, action: str, **fields: str
) -> httpx.Response:
    """One of the organiser's actions on a re-marking request's page."""
    return await organiser.post(detail, data={"csrf_token": token, "action": action, **fields})


async def test_a_request_follows_its_whole_path_and_is_audited(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
    case: Case,
) -> None:
    contest_id, code, entry_id, fresh, admin = case
    async with sessionmaker() as session:
        result = await session.scalar(select(Result).where(Result.entry_id == entry_id))
        assert result is not None and result.prize == Prize.THIRD
        serial = result.certificate_serial
        scorers = set(
            (
                await session.scalars(
                    select(Assignment.judge_id).where(Assignment.entry_id == entry_id)
                )
            ).all()
        )
        entrant = await session.scalar(
            select(Entrant).join(Entry, Entry.entrant_id == Entrant.id).where(Entry.id == entry_id)
        )
        assert entrant is not None
        name = entrant.full_name

    page = f"/entries/{code}/remark?token={TOKEN}"
    async with app_client(settings) as entrant_client:
        receipt = await entrant_client.get(f"/entries/{code}?token={TOKEN}")
        assert 'id="remark-link"' in receipt.text
        token = await csrf_from(entrant_client, page)
        empty = await entrant_client.post(page, data={"csrf_token": token, "reason": "  "})
        assert empty.status_code == 422
        assert vi("Say briefly why you ask for re-marking.") in empty.text
        assert await count_requests(sessionmaker) == 0
        sent = await entrant_client.post(
            page, data={"csrf_token": token, "reason": "Con nghĩ bài viết chưa được chấm kỹ."}
        )
        assert sent.status_code == 303
        again = await entrant_client.post(page, data={"csrf_token": token, "reason": "Lần nữa"})
        assert again.status_code == 409
        assert vi("A re-marking request was already sent for this entry.") in again.text
        assert await count_requests(sessionmaker) == 1
        followed = await entrant_client.get(page)
        assert vi("received, waiting for a judge") in followed.text
        receipt = await entrant_client.get(f"/entries/{code}?token={TOKEN}")
        assert 'id="remark-status"' in receipt.text

    async with sessionmaker() as session:
        remark = await session.scalar(select(RemarkRequest))
        assert remark is not None
        remark_id = remark.id
        assert remark.previous_prize == Prize.THIRD

    async with app_client(settings) as organiser:
        await sign_in(organiser, admin.user.email, admin.password)
        listed = await organiser.get(f"/admin/contests/{contest_id}/remarks")
        assert f"/admin/remarks/{remark_id}" in listed.text
        detail = f"/admin/remarks/{remark_id}"
        token = await csrf_from(organiser, detail)
        offered = (await organiser.get(detail)).text
        # Only the judge who never scored the entry is offered.
        assert f'value="{fresh.user.id}"' in offered
        for judge_id in scorers:
            assert f'<option value="{judge_id}"' not in offered
        refused = await _act(organiser, detail, token, "assign", judge=str(min(scorers)))
        assert refused.status_code == 422
        assert vi("Choose a judge who did not score this entry and has no conflict with it.") in (
            refused.text
        )
        async with sessionmaker() as session:
            untouched = await session.get(RemarkRequest, remark_id)
            assert untouched is not None
            assert (untouched.status, untouched.judge_id) == (RemarkStatus.REQUESTED, None)
        early = await _act(organiser, detail, token, "decide", prize="", note="x")
        assert early.status_code == 409
        assigned = await _act(organiser, detail, token, "assign", judge=str(fresh.user.id))
        assert assigned.status_code == 303

    async with app_client(settings) as judge_client:
        other = await make_user("e@x.vn", Role.JUDGE, units=["tdp-5"], contests=[WRITING])
        await sign_in(judge_client, other.user.email, other.password)
        assert (await judge_client.get(f"/judge/remarks/{remark_id}")).status_code == 404

    async with app_client(settings) as judge_client:
        await sign_in(judge_client, fresh.user.email, fresh.password)
        queue = await judge_client.get("/judge/remarks")
        assert f"/judge/remarks/{remark_id}" in queue.text
        view = await judge_client.get(f"/judge/remarks/{remark_id}")
        assert view.status_code == 200
        # Blind: neither who made it nor the receipt code.
        assert name not in view.text and code not in view.text
        form = f"/judge/remarks/{remark_id}"
        token = await csrf_from(judge_client, form)
        points = {"points.noi-dung": "4", "points.sang-tao": "2", "points.ngon-ngu": "1.5"}
        incomplete = await judge_client.post(
            form, data={"csrf_token": token, **points, "points.lien-he": "9"}
        )
        assert incomplete.status_code == 422
        assert vi("Enter points from 0 to the criterion's maximum.") in incomplete.text
        async with sessionmaker() as session:
            unchanged = await session.get(RemarkRequest, remark_id)
            assert unchanged is not None and unchanged.status == RemarkStatus.ASSIGNED
            assert unchanged.total is None
        scored = await judge_client.post(
            form,
            data={
                "csrf_token": token,
                **points,
                "points.lien-he": "2",
                "feedback": "Bài viết có ý riêng, lập luận chặt.",
            },
        )
        assert scored.status_code == 303

    async with sessionmaker() as session:
        remark = await session.get(RemarkRequest, remark_id)
        assert remark is not None
        assert remark.status == RemarkStatus.RESCORED
        assert remark.points == {"noi-dung": 4.0, "sang-tao": 2.0, "ngon-ngu": 1.5, "lien-he": 2.0}
        assert remark.total is not None and remark.total > 0

    async with app_client(settings) as organiser:
        await sign_in(organiser, admin.user.email, admin.password)
        detail = f"/admin/remarks/{remark_id}"
        token = await csrf_from(organiser, detail)
        no_note = await _act(organiser, detail, token, "decide", prize="second", note="")
        assert no_note.status_code == 422
        assert vi("Write the reason for the decision.") in no_note.text
        unknown = await _act(organiser, detail, token, "decide", prize="gold", note="x")
        assert unknown.status_code == 422
        assert vi("Choose one of the options.") in unknown.text
        async with sessionmaker() as session:
            waiting = await session.get(RemarkRequest, remark_id)
            kept = await session.scalar(select(Result).where(Result.entry_id == entry_id))
            assert waiting is not None and waiting.status == RemarkStatus.RESCORED
            assert waiting.decided_at is None
            assert kept is not None and kept.prize == Prize.THIRD
        decided = await _act(
            organiser, detail, token, "decide", prize="second", note="Điểm chấm lại cao hơn rõ rệt."
        )
        assert decided.status_code == 303
        late = await _act(organiser, detail, token, "assign", judge=str(fresh.user.id))
        assert late.status_code == 409

    async with sessionmaker() as session:
        result = await session.scalar(select(Result).where(Result.entry_id == entry_id))
        assert result is not None
        assert result.prize == Prize.SECOND
        assert result.certificate_serial == serial
        assert result.override_reason == "Điểm chấm lại cao hơn rõ rệt."
        events = await audit_trail(session, "remark_request")
    assert [(e.action, e.actor_id) for e in events] == [
        ("remark_requested", None),
        ("remark_assigned", admin.user.id),
        ("remark_rescored", fresh.user.id),
        ("remark_decided", admin.user.id),
    ]
    assert events[0].actor_label == "entrant"
    assert events[1].after == {"status": "assigned", "judge": fresh.user.id}
    assert events[3].before is not None and events[3].before["prize"] == "third"
    assert events[3].after is not None and events[3].after["prize"] == "second"
    # The reason is the entrant's words: kept on the request, not copied into the audit log.
    assert all("chấm kỹ" not in str(e.after) for e in events)

    async with app_client(settings) as entrant_client:
        followed = await entrant_client.get(f"/entries/{code}/remark?token={TOKEN}")
        assert 'id="remark-prize">Giải Nhì<' in followed.text
        assert "Điểm chấm lại cao hơn rõ rệt." in followed.text
        assert "Bài viết có ý riêng" in followed.text
        receipt = await entrant_client.get(f"/entries/{code}?token={TOKEN}")
        assert 'id="entry-prize">Giải Nhì<' in receipt.text
        gallery = await entrant_client.get(f"/contests/{WRITING}/winners")
        assert gallery.status_code == 200


async def test_refusals_leave_nothing(
    demo: DemoReport,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    contest_id, code, entry_id = await published_contest(sessionmaker, make_user, publish=False)
    async with app_client(settings) as client:
        page = f"/entries/{code}/remark?token={TOKEN}"
        # Before publication there is nothing to ask about, on the page and in the API.
        assert (await client.get(page)).status_code == 404
        headers = {"X-Edit-Token": TOKEN}
        api = await client.get(f"/api/v1/entries/{code}/remark", headers=headers)
        assert api.status_code == 404
        assert api.json()["error"]["message"] == vi("This entry has no published result yet.")
        posted = await client.post(
            f"/api/v1/entries/{code}/remark", headers=headers, json={"reason": "Xin chấm lại"}
        )
        assert posted.status_code == 404
        receipt = await client.get(f"/entries/{code}?token={TOKEN}")
        assert "remark-link" not in receipt.text

        async with sessionmaker() as session:
            await services.publish_results(session, contest_id=contest_id, actor=None)
            await session.commit()
        # A wrong or missing token: refused like every other use of the private link.
        assert (await client.get(f"/entries/{code}/remark?token=forged")).status_code == 403
        assert (await client.get(f"/entries/{code}/remark")).status_code == 403
        wrong = await client.post(
            f"/api/v1/entries/{code}/remark",
            headers={"X-Edit-Token": "forged"},
            json={"reason": "Xin chấm lại"},
        )
        assert wrong.status_code == 403
        not_json = await client.post(
            f"/api/v1/entries/{code}/remark",
            headers={**headers, "Content-Type": "application/json"},
            content=b"{reason",
        )
        assert not_json.status_code == 400
        blank = await client.post(
            f"/api/v1/entries/{code}/remark", headers=headers, json={"reason": ""}
        )
        assert blank.status_code == 422
        assert await count_requests(sessionmaker) == 0

        # Past the window (the days count to the end of the last day in Vietnam).
        async with sessionmaker() as session:
            result = await session.scalar(select(Result).where(Result.entry_id == entry_id))
            assert result is not None and result.published_at is not None
            result.published_at = utcnow() - timedelta(days=8, hours=23, minutes=59)
            await session.commit()
        late = await client.post(
            f"/api/v1/entries/{code}/remark", headers=headers, json={"reason": "Xin chấm lại"}
        )
        assert late.status_code == 409
        assert late.json()["error"]["message"] == vi("The time to ask for re-marking has passed.")
        closed = await client.get(page)
        assert 'id="remark-closed"' in closed.text
        assert await count_requests(sessionmaker) == 0

        # Within the window through the API: 201, then the state; a withdrawn entry cannot ask.
        async with sessionmaker() as session:
            await session.execute(
                update(Result)
                .where(Result.entry_id == entry_id)
                .values(published_at=utcnow() - timedelta(days=1))
            )
            await session.commit()
        filed = await client.post(
            f"/api/v1/entries/{code}/remark", headers=headers, json={"reason": "Xin chấm lại"}
        )
        assert filed.status_code == 201, filed.text
        body = filed.json()
        assert body["may_ask"] is False
        assert body["request"]["status"] == "requested"
        assert body["request"]["prize"] is None
        read = await client.get(f"/api/v1/entries/{code}/remark", headers=headers)
        assert read.json() == body

        async with sessionmaker() as session:
            other = await session.scalar(
                select(Entry)
                .join(Result, Result.entry_id == Entry.id)
                .where(Entry.contest_id == contest_id, Entry.id != entry_id)
                .limit(1)
            )
            assert other is not None
            other.status = EntryStatus.WITHDRAWN
            other.edit_token_hash = hash_token(TOKEN)
            other_code = other.receipt_code
            await session.commit()
        withdrawn = await client.post(
            f"/api/v1/entries/{other_code}/remark", headers=headers, json={"reason": "Xin"}
        )
        assert withdrawn.status_code == 409
        assert await count_requests(sessionmaker) == 1


def test_the_window_ends_with_the_last_day_in_vietnam() -> None:
    from datetime import UTC, datetime

    # Published at 18:30 UTC on 7 October = 01:30 on 8 October in Vietnam; 7 days → 15 October.
    end = window_end(datetime(2024, 10, 7, 18, 30, tzinfo=UTC), 7)
    assert end.astimezone(UTC) == datetime(2024, 10, 15, 16, 59, 59, tzinfo=UTC)


async def test_a_prize_taken_away_takes_its_certificate_with_it(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], case: Case
) -> None:
    from contest.results import remarks

    _contest_id, _code, entry_id, fresh, admin = case
    async with sessionmaker() as session:
        entry = await session.get(Entry, entry_id)
        assert entry is not None
        remark = await remarks.request_remark(session, entry=entry, reason="Xin chấm lại")
        await remarks.assign_remark(
            session, remark_id=remark.id, judge_id=fresh.user.id, actor=admin.user
        )
        await remarks.save_rescore(
            session,
            remark_id=remark.id,
            judge=fresh.user,
            points={"noi-dung": 0, "sang-tao": 0, "ngon-ngu": 0, "lien-he": 0},
            feedback="",
        )
        result = await session.scalar(select(Result).where(Result.entry_id == entry_id))
        assert result is not None and result.certificate_serial
        serial = result.certificate_serial
        await remarks.decide_remark(
            session, remark_id=remark.id, prize=None, note="Bài chép lại.", actor=admin.user
        )
        await session.commit()
        assert remark.status == RemarkStatus.CHANGED
    async with app_client(settings) as client:
        assert (await client.get(f"/verify/{serial}")).status_code == 404
        assert (await client.get(f"/api/v1/verify/{serial}")).status_code == 404
