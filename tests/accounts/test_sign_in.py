from __future__ import annotations

import dataclasses
from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.accounts import services
from contest.accounts.interfaces import MAX_FAILURES_PER_ACCOUNT
from contest.db import utcnow
from contest.demo import DemoReport
from contest.models import ApiToken, AuditEvent, LoginAttempt, Role, User
from contest.settings import Settings
from tests.support import MakeUser, app_client, csrf_from, sign_in


async def count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_sign_in_and_out(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    judge = await make_user("lan@example.vn", Role.JUDGE)
    assert (await client.get("/account")).status_code == 303  # to the sign-in page

    response = await sign_in(client, "LAN@example.vn ", judge.password)
    # A judge lands on the queue, where the work is.
    assert response.headers["location"] == "/judge"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie

    page = await client.get("/account")
    assert page.status_code == 200
    assert "lan@example.vn" in page.text

    token = await csrf_from(client, "/account")
    out = await client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert (await client.get("/account")).status_code == 303


async def test_wrong_password_is_refused_in_the_visitors_language(
    client: httpx.AsyncClient, make_user: MakeUser, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await make_user("lan@example.vn", Role.JUDGE)
    token = await csrf_from(client, "/login")
    response = await client.post(
        "/login", data={"email": "lan@example.vn", "password": "nope", "csrf_token": token}
    )
    assert response.status_code == 400
    assert "Email hoặc mật khẩu không đúng." in response.text
    async with sessionmaker() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert actions == ["login_failed"]


async def test_form_post_without_a_valid_csrf_token_is_403_and_changes_nothing(
    client: httpx.AsyncClient, make_user: MakeUser, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    judge = await make_user("lan@example.vn", Role.JUDGE)
    for data in (
        {"email": "lan@example.vn", "password": judge.password},
        {"email": "lan@example.vn", "password": judge.password, "csrf_token": "forged"},
    ):
        response = await client.post("/login", data=data)
        assert response.status_code == 403
        assert "Biểu mẫu đã hết hạn" in response.text
    assert await count(sessionmaker, LoginAttempt) == 0
    assert (await client.get("/account")).status_code == 303

    # Signed in, a token-less post to make an API token makes none.
    await sign_in(client, "lan@example.vn", judge.password)
    response = await client.post("/account/tokens", data={"name": "script"})
    assert response.status_code == 403
    assert await count(sessionmaker, ApiToken) == 0


async def test_the_n_plus_first_failure_is_429_across_two_app_processes(
    settings: Settings, make_user: MakeUser, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    judge = await make_user("lan@example.vn", Role.JUDGE)
    # Two apps, as two processes would be: separate engines and state, one database.
    other = dataclasses.replace(settings)
    async with app_client(settings) as first, app_client(other) as second:
        for attempt in range(MAX_FAILURES_PER_ACCOUNT):
            client = first if attempt % 2 == 0 else second
            token = await csrf_from(client, "/login")
            response = await client.post(
                "/login",
                data={
                    "email": "lan@example.vn",
                    "password": f"wrong{attempt}",
                    "csrf_token": token,
                },
            )
            assert response.status_code == 400
        for client in (first, second):
            token = await csrf_from(client, "/login")
            # Even the right password is held back once the account is throttled.
            response = await client.post(
                "/login",
                data={"email": "lan@example.vn", "password": judge.password, "csrf_token": token},
            )
            assert response.status_code == 429
            assert "Vui lòng chờ 15 phút" in response.text
    assert await count(sessionmaker, LoginAttempt) == MAX_FAILURES_PER_ACCOUNT


async def test_throttle_window_passes(
    sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> None:
    judge = await make_user("lan@example.vn", Role.JUDGE)
    long_ago = utcnow() - timedelta(hours=1)
    async with sessionmaker() as session:
        for _ in range(MAX_FAILURES_PER_ACCOUNT + 3):
            session.add(
                LoginAttempt(
                    at=long_ago, email="lan@example.vn", client_ip="1.2.3.4", succeeded=False
                )
            )
        await session.commit()
        user = await services.sign_in(
            session, email="lan@example.vn", password=judge.password, client_ip="1.2.3.4"
        )
    assert user.id == judge.user.id


async def test_api_token_works_until_revoked(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    coordinator = await make_user("ha@example.vn", Role.COORDINATOR)
    await sign_in(client, "ha@example.vn", coordinator.password)
    token = await csrf_from(client, "/account")
    made = await client.post("/account/tokens", data={"name": "import", "csrf_token": token})
    assert made.status_code == 200
    plain = made.text.split("data-new-token>")[1].split("<")[0]
    assert plain.startswith("ctk_")
    async with sessionmaker() as session:
        stored = (await session.scalars(select(ApiToken))).one()
    assert stored.token_hash != plain and plain not in stored.token_hash
    assert plain not in (await client.get("/account")).text  # shown once

    bearer = {"Authorization": f"Bearer {plain}"}
    # An integration: no cookies, another process.
    async with app_client(settings) as integration:
        me = await integration.get("/api/v1/me", headers=bearer)
        assert me.status_code == 200
        assert me.json()["email"] == "ha@example.vn"

        revoke = await client.post(
            f"/account/tokens/{stored.id}/revoke", data={"csrf_token": token}
        )
        assert revoke.status_code == 303

        denied = await integration.get("/api/v1/me", headers=bearer)
        assert denied.status_code == 401
        message = denied.json()["error"]["message"]
        assert message == "Mã truy cập API không hợp lệ hoặc đã bị thu hồi."
        forged = await integration.get("/api/v1/me", headers={"Authorization": "Bearer ctk_x"})
        assert forged.status_code == 401
        assert (await integration.get("/api/v1/me")).status_code == 401


async def test_a_deactivated_users_session_is_logged_out(
    client: httpx.AsyncClient, make_user: MakeUser, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    judge = await make_user("lan@example.vn", Role.JUDGE)
    await sign_in(client, "lan@example.vn", judge.password)
    assert (await client.get("/account")).status_code == 200

    async with sessionmaker() as session:
        user = await session.get(User, judge.user.id)
        assert user is not None
        await services.set_active(session, user=user, active=False, actor=None)
        await session.commit()

    response = await client.get("/account")
    assert response.status_code == 303
    assert response.headers["location"].startswith("http://testserver/login")
    # And a sign-in with the right password no longer works.
    token = await csrf_from(client, "/login")
    again = await client.post(
        "/login", data={"email": "lan@example.vn", "password": judge.password, "csrf_token": token}
    )
    assert again.status_code == 400


async def test_each_role_lands_where_its_work_is(
    settings: Settings, make_user: MakeUser, demo: DemoReport
) -> None:
    landings = {Role.JUDGE: "/judge", Role.COORDINATOR: "/coordinator", Role.ADMIN: "/admin"}
    for role, landing in landings.items():
        account = await make_user(f"{role.value}@example.vn", role, units=["th-bach-sam"])
        async with app_client(settings) as client:
            response = await sign_in(client, account.user.email, account.password)
            assert response.headers["location"] == landing
            page = await client.get(landing)
            assert page.status_code == 200, (role, page.status_code)
            if role == Role.COORDINATOR:
                # The coordinator's units, with each open contest's two ways to send entries.
                assert "Trường Tiểu học Bạch Sam" in page.text
                assert "/coordinator/contests/" in page.text and "/import" in page.text
            # The account page stays one click away.
            assert (await client.get("/account")).status_code == 200
