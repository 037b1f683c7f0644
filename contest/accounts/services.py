"""Signing in, invitations, API tokens, deactivation.

Every function here works in the caller's session and never commits: the route, command or
job that calls it owns the unit of work. Reading a request (its cookie, its bearer token, its
address) is the web layer's part, in ``contest.access``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contest import audit, rules
from contest.accounts.interfaces import (
    INVITATION_LIFETIME,
    MAX_FAILURES_PER_ACCOUNT,
    MAX_FAILURES_PER_ADDRESS,
    MIN_PASSWORD_LENGTH,
    THROTTLE_WINDOW,
    InvalidInvitationError,
    InvalidPasswordError,
    LoginFailedError,
    LoginThrottledError,
    UserExistsError,
)
from contest.accounts.passwords import hash_password, verify_password
from contest.db import utcnow
from contest.i18n import gettext
from contest.models import ApiToken, Contest, Invitation, LoginAttempt, Role, Unit, User
from contest.tokens import TOKEN_PREFIX, hash_token

# Verified against when the email is unknown, so both paths cost one argon2 check.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def normalize_email(email: str) -> str:
    return email.strip().lower()


# --- signing in ---------------------------------------------------------------------------


async def count_attempts(
    session: AsyncSession,
    *,
    since: datetime,
    email: str | None = None,
    client_ip: str | None = None,
    failed_only: bool = True,
) -> int:
    """How many sign-in attempts were recorded since ``since`` for an account (or a kind of
    attempt, by its ``email`` mark) and from an address, the failed ones only by default: the
    throttles of every sign-in count with this."""
    query = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.at >= since)
    if email is not None:
        query = query.where(LoginAttempt.email == email)
    if client_ip is not None:
        query = query.where(LoginAttempt.client_ip == client_ip)
    if failed_only:
        query = query.where(~LoginAttempt.succeeded)
    return await session.scalar(query) or 0


async def sign_in(
    session: AsyncSession, *, email: str, password: str, client_ip: str, now: datetime | None = None
) -> User:
    """Check a password, with throttling per account and per address kept in the database.

    A failed attempt is recorded and then LoginFailedError raised: the caller commits the
    record before answering (see ``contest.accounts.routes.login``)."""
    now = now or utcnow()
    email = normalize_email(email)
    since = now - THROTTLE_WINDOW
    failures_for_account = await count_attempts(session, since=since, email=email)
    failures_from_address = await count_attempts(session, since=since, client_ip=client_ip)
    if (
        failures_for_account >= MAX_FAILURES_PER_ACCOUNT
        or failures_from_address >= MAX_FAILURES_PER_ADDRESS
    ):
        raise LoginThrottledError

    user = await session.scalar(select(User).where(User.email == email))
    password_ok = verify_password(
        user.password_hash if user and user.password_hash else _DUMMY_HASH, password
    )
    succeeded = bool(user and user.password_hash and user.is_active and password_ok)
    session.add(LoginAttempt(at=now, email=email, client_ip=client_ip, succeeded=succeeded))
    audit.record(
        session,
        action="login" if succeeded else "login_failed",
        object_type="user",
        object_id=user.id if user else email,
        actor=user if succeeded else None,
        actor_label=email,
        client_ip=client_ip,
    )
    if not succeeded or user is None:
        raise LoginFailedError
    user.last_login_at = now
    return user


# --- invitations --------------------------------------------------------------------------


def _invitation_serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="contest.invitation")


async def invite_user(
    session: AsyncSession,
    *,
    secret_key: str,
    email: str,
    name: str,
    role: Role,
    unit_codes: Sequence[str] = (),
    contest_ids: Sequence[int] = (),
    invited_by: User | None = None,
    actor_label: str = "",
    now: datetime | None = None,
) -> tuple[User, str]:
    """Create a user (or find one again, for a new password) and an invitation token."""
    now = now or utcnow()
    email = normalize_email(email)
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name, role=role)
        session.add(user)
        await session.flush()
        await session.refresh(user, ["units", "judged_contests"])
        if unit_codes:
            units = (await session.scalars(select(Unit).where(Unit.code.in_(unit_codes)))).all()
            user.units.extend(units)
        if contest_ids:
            contests = (
                await session.scalars(select(Contest).where(Contest.id.in_(contest_ids)))
            ).all()
            user.judged_contests.extend(contests)
        audit.record(
            session,
            "user_created",
            user,
            actor=invited_by,
            actor_label=actor_label,
            after={"email": email, "name": name, "role": role.value, "units": list(unit_codes)},
        )
    elif user.role != role:
        raise UserExistsError(email)
    invitation = Invitation(
        user_id=user.id,
        nonce=secrets.token_urlsafe(32),
        created_by_id=invited_by.id if invited_by else None,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    session.add(invitation)
    await session.flush()
    audit.record(
        session,
        "user_invited",
        user,
        actor=invited_by,
        actor_label=actor_label,
        after={"invitation": invitation.id, "expires_at": invitation.expires_at.isoformat()},
    )
    token = _invitation_serializer(secret_key).dumps({"i": invitation.id, "n": invitation.nonce})
    return user, token


async def find_invitation(
    session: AsyncSession, *, secret_key: str, token: str, now: datetime | None = None
) -> tuple[Invitation, User]:
    """The open invitation behind a token; tampered, used or expired ones are refused."""
    now = now or utcnow()
    try:
        data = _invitation_serializer(secret_key).loads(token)
        invitation_id, nonce = int(data["i"]), str(data["n"])
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvalidInvitationError("tampered") from exc
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None or not secrets.compare_digest(invitation.nonce, nonce):
        raise InvalidInvitationError("unknown")
    if invitation.used_at is not None:
        raise InvalidInvitationError("used")
    if invitation.expires_at <= now:
        raise InvalidInvitationError("expired")
    user = await session.get(User, invitation.user_id)
    if user is None or not user.is_active:
        raise InvalidInvitationError("inactive")
    return invitation, user


async def accept_invitation(
    session: AsyncSession,
    *,
    secret_key: str,
    token: str,
    password: str,
    now: datetime | None = None,
) -> User:
    now = now or utcnow()
    invitation, user = await find_invitation(session, secret_key=secret_key, token=token, now=now)
    check_password_rules(password)
    user.password_hash = hash_password(password)
    # Sessions signed in with an old password end.
    user.session_version += 1
    invitation.used_at = now
    audit.record(session, "password_set", user, actor=user)
    return user


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidPasswordError(
            gettext(
                "Choose a password of at least %(count)s characters.", count=MIN_PASSWORD_LENGTH
            )
        )
    if len(set(password)) < 4:
        raise InvalidPasswordError(gettext("This password is too easy to guess."))


async def set_password(session: AsyncSession, *, user: User, password: str) -> None:
    check_password_rules(password)
    user.password_hash = hash_password(password)
    user.session_version += 1
    audit.record(session, action="password_set", row=user)


# --- users --------------------------------------------------------------------------------


async def set_active(
    session: AsyncSession, *, user: User, active: bool, actor: User | None
) -> None:
    if user.is_active == active:
        return
    user.is_active = active
    if not active:
        # Ends every session at its next request, and every API token with the account.
        user.session_version += 1
    audit.record(
        session,
        "user_activated" if active else "user_deactivated",
        user,
        actor=actor,
        before={"is_active": not active},
        after={"is_active": active},
    )


# --- API tokens ---------------------------------------------------------------------------


async def create_api_token(session: AsyncSession, *, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token; the plain value is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=hash_token(plain),
        prefix=plain[: len(TOKEN_PREFIX) + 6],
    )
    session.add(token)
    await session.flush()
    audit.record(
        session,
        "api_token_created",
        token,
        actor=user,
        after={"name": name, "prefix": token.prefix},
    )
    return token, plain


async def revoke_api_token(
    session: AsyncSession, *, user: User, token_id: int, now: datetime | None = None
) -> ApiToken:
    """Revoke one of the user's own tokens (NotFoundError for any other, see contest.rules)."""
    token = rules.ensure_may_revoke_api_token(user, await session.get(ApiToken, token_id))
    token.revoked_at = now or utcnow()
    audit.record(
        session,
        "api_token_revoked",
        token,
        actor=user,
        before={"revoked": False},
        after={"revoked": True},
    )
    return token


async def list_api_tokens(session: AsyncSession, *, user: User) -> Sequence[ApiToken]:
    return (
        await session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    ).all()


# Writing last_used_at on every call would make each API request a write.
