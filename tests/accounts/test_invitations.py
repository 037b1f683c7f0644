from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.accounts import services
from contest.accounts.passwords import verify_password
from contest.db import utcnow
from contest.models import AuditEvent, Invitation, Role, User
from contest.settings import Settings
from tests.support import csrf_from, run_contest_cli

PASSWORD = "sách hay 2024!"


async def invite(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, **changes: object
) -> str:
    async with sessionmaker() as session:
        _user, token = await services.invite_user(
            session,
            secret_key=settings.secret_key,
            email="minh@example.vn",
            name="Trần Văn Minh",
            role=Role.JUDGE,
        )
        if changes:
            invitation = (await session.scalars(select(Invitation))).one()
            for name, value in changes.items():
                setattr(invitation, name, value)
        await session.commit()
    return token


async def accept(client: httpx.AsyncClient, token: str, password: str = PASSWORD) -> httpx.Response:
    csrf = await csrf_from(client, f"/invite/{token}")
    return await client.post(
        f"/invite/{token}", data={"password": password, "confirm": password, "csrf_token": csrf}
    )


async def test_invitation_sets_a_password_and_signs_in_once(
    client: httpx.AsyncClient, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    token = await invite(sessionmaker, settings)
    page = await client.get(f"/invite/{token}")
    assert page.status_code == 200
    assert "Chào mừng Trần Văn Minh" in page.text

    response = await accept(client, token)
    assert response.status_code == 303
    assert (await client.get("/account")).status_code == 200
    async with sessionmaker() as session:
        user = (await session.scalars(select(User))).one()
        actions = (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all()
    assert user.password_hash is not None and verify_password(user.password_hash, PASSWORD)
    assert actions == ["user_created", "user_invited", "password_set"]

    # Single use: the same link again is refused, with or without a form.
    client.cookies.clear()
    again = await client.get(f"/invite/{token}")
    assert again.status_code == 410
    assert "Đường dẫn mời không hợp lệ" in again.text


async def test_expired_invitation_is_refused(
    client: httpx.AsyncClient, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    token = await invite(sessionmaker, settings, expires_at=utcnow() - timedelta(seconds=1))
    response = await client.get(f"/invite/{token}")
    assert response.status_code == 410
    assert "đã hết hạn" in response.text
    post = await client.post(f"/invite/{token}", data={"password": PASSWORD, "confirm": PASSWORD})
    assert post.status_code == 410
    async with sessionmaker() as session:
        assert (await session.scalars(select(User))).one().password_hash is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature
        lambda t: "eyJpIjoxLCJuIjoieCJ9." + t.split(".")[-1],  # payload swapped
        lambda t: "not-a-token",
    ],
)
async def test_tampered_invitation_is_refused(
    client: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    tamper: object,
) -> None:
    token = await invite(sessionmaker, settings)
    forged = tamper(token)  # type: ignore[operator]
    response = await client.get(f"/invite/{forged}")
    assert response.status_code == 404
    async with sessionmaker() as session:
        assert (await session.scalars(select(Invitation))).one().used_at is None


async def test_mismatched_or_weak_password_keeps_the_invitation_open(
    client: httpx.AsyncClient, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    token = await invite(sessionmaker, settings)
    csrf = await csrf_from(client, f"/invite/{token}")
    mismatch = await client.post(
        f"/invite/{token}", data={"password": PASSWORD, "confirm": "khác", "csrf_token": csrf}
    )
    assert mismatch.status_code == 422
    assert "Hai mật khẩu không giống nhau." in mismatch.text
    weak = await accept(client, token, password="ngan")
    assert weak.status_code == 422
    assert "ít nhất 10 ký tự" in weak.text
    async with sessionmaker() as session:
        assert (await session.scalars(select(Invitation))).one().used_at is None


def test_user_create_prints_an_invitation_or_sets_a_password(settings: Settings) -> None:
    env = {
        "CONTEST_DATA_DIR": str(settings.data_dir),
        "CONTEST_DATABASE_URL": settings.database_url,
        "CONTEST_BASE_URL": "https://contest.example.vn",
        "CONTEST_SECRET_KEY": settings.secret_key,
    }
    command = ["user", "create"]
    invited = run_contest_cli(
        *command, "hoa@example.vn", "--role", "judge", "--name", "Lê Thị Hoa", env=env, timeout=60
    )
    assert invited.returncode == 0, invited.stderr
    assert invited.stdout.startswith(
        "Invitation for hoa@example.vn: https://contest.example.vn/invite/"
    )

    with_password = run_contest_cli(
        *command,
        "admin@example.vn",
        "--role",
        "admin",
        "--password-stdin",
        env=env,
        stdin="một mật khẩu dài\n",
        timeout=60,
    )
    assert with_password.returncode == 0, with_password.stderr
    assert "Password set for admin@example.vn" in with_password.stdout

    weak = run_contest_cli(
        *command,
        "x@example.vn",
        "--role",
        "admin",
        "--password-stdin",
        env=env,
        stdin="short\n",
        timeout=60,
    )
    assert weak.returncode != 0
    assert "Traceback" not in weak.stderr


async def test_a_new_invitation_resets_a_forgotten_password(
    client: httpx.AsyncClient, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = await invite(sessionmaker, settings)
    assert (await accept(client, first)).status_code == 303
    client.cookies.clear()
    # Forgotten: the organiser invites the same person again.
    second = await invite(sessionmaker, settings)
    assert second != first
    assert (await accept(client, second, password="mật khẩu mới 2025")).status_code == 303
    async with sessionmaker() as session:
        users = (await session.scalars(select(User))).all()
    assert len(users) == 1
    assert users[0].password_hash and verify_password(users[0].password_hash, "mật khẩu mới 2025")
    assert not verify_password(users[0].password_hash, PASSWORD)
