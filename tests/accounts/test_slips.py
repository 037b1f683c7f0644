"""Judges without accounts: an organiser adds a judge by name and prints a sign-in slip; the
judge signs in with its short code and does their own work; an expired or revoked slip, an
unknown code and too many tries are refused with nothing written but the attempt."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.accounts import slips
from contest.db import utcnow
from contest.demo import DemoReport
from contest.models import AuditEvent, JudgeSlip, LoginAttempt, Role, User
from contest.settings import Settings
from tests.support import DRAWING, STORY, MakeUser, app_client, contest_id_of, csrf_from, vi

REFUSED = "This code is not valid, has expired or was revoked. Ask the organisers for a new slip."


async def _post(client: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
    token = await csrf_from(client, path)
    return await client.post(path, data={"csrf_token": token, **data})


def _code_of(page: httpx.Response) -> str:
    found = re.search(r"data-slip-code>([A-Z0-9-]+)<", page.text)
    assert found, page.text[:2000]
    return found.group(1)


async def _print_slip_for_new_judge(
    organiser: httpx.AsyncClient, contest_id: int, name: str = "Cô Hoa"
) -> str:
    page = await _post(organiser, f"/admin/contests/{contest_id}/slips", {"name": name})
    assert page.status_code == 200, page.text[:2000]
    assert page.headers["cache-control"] == "no-store"
    return _code_of(page)


@pytest.fixture
async def drawing(
    organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> int:
    """The demo's drawing contest, by id (its organiser signed in)."""
    return await contest_id_of(sessionmaker, DRAWING)


@pytest.fixture
async def printed(organiser: httpx.AsyncClient, drawing: int) -> str:
    """The code of a slip the organiser printed for a judge of the drawing contest added by
    name, Cô Hoa."""
    return await _print_slip_for_new_judge(organiser, drawing)


async def _slip_sign_in(client: httpx.AsyncClient, code: str) -> httpx.Response:
    return await _post(client, "/judge/slip", {"code": code})


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_judge_added_by_name_signs_in_with_the_printed_code(
    organiser: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    drawing: int,
    printed: str,
) -> None:
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}", printed)
    async with sessionmaker() as session:
        judge = await session.scalar(select(User).where(User.name == "Cô Hoa"))
        assert judge is not None and judge.role == Role.JUDGE and judge.password_hash is None
        slip = await session.scalar(select(JudgeSlip).where(JudgeSlip.judge_id == judge.id))
        assert slip is not None
        # Only the code's HMAC is kept.
        assert printed.replace("-", "") not in slip.code_hash
        assert slip.code_hash == slips.code_hash(settings.secret_key, printed.replace("-", ""))
        assert timedelta(days=13) < slip.expires_at - utcnow() <= timedelta(days=14)
        actions = set((await session.scalars(select(AuditEvent.action))).all())
    assert {"user_created", "slip_issued"} <= actions
    listed = await organiser.get(f"/admin/contests/{drawing}/slips")
    assert f'data-judge="{judge.id}"' in listed.text
    assert vi("None: signs in with slips") in listed.text

    async with app_client(settings) as phone:
        # The slip's link fills the code in; typing it in small letters without the dash works.
        assert printed in (await phone.get(f"/judge/slip?code={printed}")).text
        signed_in = await _slip_sign_in(phone, printed.replace("-", "").lower())
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/judge"
        assert (await phone.get("/judge")).status_code == 200
        # A judge's session, no more: the organiser's pages stay closed.
        assert (await phone.get("/admin")).status_code == 403


@pytest.mark.parametrize("ending", ["revoked", "expired"])
async def test_a_slip_that_ends_ends_its_session_at_once_and_lets_nobody_in(
    organiser: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    ending: str,
    drawing: int,
    printed: str,
) -> None:
    async with app_client(settings) as phone:
        assert (await _slip_sign_in(phone, printed)).status_code == 303
        assert (await phone.get("/judge")).status_code == 200
        if ending == "revoked":
            async with sessionmaker() as session:
                slip_id = await session.scalar(select(JudgeSlip.id))
            revoked = await _post(
                organiser, f"/admin/contests/{drawing}/slips", {"revoke": str(slip_id)}
            )
            assert revoked.status_code == 303
        else:
            async with sessionmaker.begin() as session:
                await session.execute(
                    update(JudgeSlip).values(expires_at=utcnow() - timedelta(minutes=1))
                )
        assert (await phone.get("/judge")).status_code == 303  # back to signing in
        again = await _slip_sign_in(phone, printed)
        assert again.status_code == 400
        assert vi(REFUSED) in html.unescape(again.text)


async def test_unknown_codes_are_refused_and_too_many_tries_are_throttled(
    client: httpx.AsyncClient,
    demo: DemoReport,
    organiser: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    printed: str,
) -> None:
    users = await _count(sessionmaker, User)
    async with app_client(settings) as stranger:
        for guess in ["", "ABCDE-FGHJK", "x" * 40, "<script>"]:
            refused = await _slip_sign_in(stranger, guess)
            assert refused.status_code == 400
            assert vi(REFUSED) in html.unescape(refused.text)
            assert "<script>" not in refused.text
        for _ in range(slips.MAX_SLIP_FAILURES_PER_ADDRESS - 4):
            await _slip_sign_in(stranger, "ABCDE-FGHJK")
        # Now even the right code waits: guessing costs time, not only luck.
        throttled = await _slip_sign_in(stranger, printed)
        assert throttled.status_code == 429
        assert vi("Too many failed attempts. Please wait 15 minutes before trying again.") in (
            html.unescape(throttled.text)
        )
        assert (await stranger.get("/judge")).status_code == 303
    async with sessionmaker() as session:
        failures = await session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.email == slips.SLIP_ATTEMPT, ~LoginAttempt.succeeded)
        )
    assert failures == slips.MAX_SLIP_FAILURES_PER_ADDRESS
    assert await _count(sessionmaker, User) == users


@pytest.mark.parametrize(
    ("data", "status"),
    [({"name": ""}, 422), ({"name": "x" * 101}, 422), ({"judge": "abc"}, 404)],
)
async def test_bad_requests_on_the_slips_page_store_nothing(
    organiser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    data: dict[str, str],
    status: int,
) -> None:
    drawing = await contest_id_of(sessionmaker, DRAWING)
    users, slips_before = await _count(sessionmaker, User), await _count(sessionmaker, JudgeSlip)
    response = await _post(organiser, f"/admin/contests/{drawing}/slips", data)
    assert response.status_code == status
    if status == 422:
        assert vi("Enter the judge's name.") in html.unescape(response.text)
    assert (await _count(sessionmaker, User), await _count(sessionmaker, JudgeSlip)) == (
        users,
        slips_before,
    )


async def test_a_slip_is_only_for_a_judge_of_that_contest(
    organiser: httpx.AsyncClient,
    make_user: MakeUser,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    drawing = await contest_id_of(sessionmaker, DRAWING)
    storytelling = await contest_id_of(sessionmaker, STORY)
    judge = await make_user("gk@example.vn", Role.JUDGE, contests=[STORY])
    coordinator = await make_user("gv@example.vn", Role.COORDINATOR, units=["th-bach-sam"])
    for contest_id, user_id in [(drawing, judge.user.id), (storytelling, coordinator.user.id)]:
        refused = await _post(
            organiser, f"/admin/contests/{contest_id}/slips", {"judge": str(user_id)}
        )
        assert refused.status_code == 404
    assert await _count(sessionmaker, JudgeSlip) == 0
    # The judge's own contest gives them one.
    given = await _post(
        organiser, f"/admin/contests/{storytelling}/slips", {"judge": str(judge.user.id)}
    )
    assert given.status_code == 200 and _code_of(given)


async def test_the_code_field_asks_phones_for_capitals_and_no_spelling_fixes(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/judge/slip")).text
    field = re.search(r'<input id="f-code"[^>]*>', page)
    assert field is not None
    assert 'autocapitalize="characters"' in field.group(0)
    assert 'spellcheck="false"' in field.group(0) and "&#34;" not in field.group(0)
