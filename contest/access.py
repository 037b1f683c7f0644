"""Who is asking, and who may use each route. Deny by default: an endpoint without a
declaration fails start-up.

``public`` opens a route to everyone (an entrant's receipt code and edit token are checked
inside, against the entry); ``requires(*roles)`` lets in only signed-in users with one of the
roles. Checks on particular objects (a judge's own assignments, a coordinator's own units, an
entrant's own entry) are asked of ``contest.rules``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from contest import rules
from contest.db import utcnow
from contest.i18n import gettext
from contest.models import ApiToken, JudgeSlip, Role, User
from contest.tokens import TOKEN_PREFIX, hash_token
from storage import Storage

ACCESS_ATTRIBUTE = "__contest_access__"
ANYONE = "anyone"
# Declared by the pages an organiser of some units (not of the whole event) may use.
UNIT_ORGANISER = "unit_organiser"
SESSION_USER = "uid"
SESSION_VERSION = "sv"
# The slip a judge without an account signed in with: the session holds while the slip does.
SESSION_SLIP = "slip"
_UNKNOWN = object()

Endpoint = Callable[[Request], Awaitable[Response]]
_T = TypeVar("_T")


def public(endpoint: _T) -> _T:
    """Open to everyone, signed in or not."""
    setattr(endpoint, ACCESS_ATTRIBUTE, frozenset({ANYONE}))
    return endpoint


def requires(*roles: Role, for_units: bool = False) -> Callable[[Endpoint], Endpoint]:
    """Only signed-in, active users holding one of these roles. An organiser who holds units
    (``contest.rules.is_unit_organiser``) is let in only with ``for_units``: the page then
    narrows what it shows to their units (``contest.rules.OrganiserScope``)."""
    if not roles:
        raise ValueError("requires() needs at least one role")
    declared = frozenset(roles) | ({UNIT_ORGANISER} if for_units else set())

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            user = await authenticate_request(request)
            if user is None:
                if _is_api(request):
                    raise HTTPException(
                        401,
                        gettext("Sign in, or send an API token, to use this."),
                        headers={"WWW-Authenticate": "Bearer"},
                    )
                return RedirectResponse(
                    request.url_for("login").include_query_params(next=_path_of(request)),
                    status_code=303,
                )
            if user.role not in roles or (
                not for_units and (await organiser_scope(request)).for_units
            ):
                raise HTTPException(403, gettext("Your account may not use this page."))
            return await endpoint(request)

        setattr(guarded, ACCESS_ATTRIBUTE, declared)
        return guarded

    return decorate


# --- who is asking ------------------------------------------------------------------------


# An API token's last use is written at most this often, not on every request.
_LAST_USED_PRECISION = timedelta(minutes=5)


async def user_for_session(
    session: AsyncSession, *, user_id: object, session_version: object, slip_id: object = None
) -> User | None:
    """The user a session cookie names, while still active and signed in: a deactivated
    user, or one whose sessions were ended, is nobody; so is a judge whose session came from
    a slip that has since expired or been revoked."""
    user = await session.get(User, user_id)
    if user is None or not user.is_active or user.session_version != session_version:
        return None
    if slip_id is not None:
        slip = await session.get(JudgeSlip, slip_id) if isinstance(slip_id, int) else None
        if not rules.may_sign_in_with_slip(user, slip, utcnow()):
            return None
    return user


async def user_for_api_token(session: AsyncSession, *, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    found = await session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )
    if found is None:
        return None
    user = await session.get(User, found.user_id)
    if user is None or not user.is_active:
        return None
    now = utcnow()
    if found.last_used_at is None or now - found.last_used_at > _LAST_USED_PRECISION:
        found.last_used_at = now
    return user


async def authenticate_request(request: Request) -> User | None:
    """The user behind a request: a bearer token, else the session cookie; cached per request."""
    cached: User | object | None = getattr(request.state, "user", _UNKNOWN)
    if cached is not _UNKNOWN:
        return cached  # type: ignore[return-value]
    user: User | None = None
    authorization = request.headers.get("authorization", "")
    async with request.state.sessionmaker.begin() as session:
        if authorization.lower().startswith("bearer "):
            user = await user_for_api_token(session, token=authorization[7:].strip())
            if user is None:
                raise HTTPException(
                    401,
                    gettext("The API token is not valid or has been revoked."),
                    headers={"WWW-Authenticate": "Bearer"},
                )
            request.state.via_token = True
        elif (user_id := request.session.get(SESSION_USER)) is not None:
            user = await user_for_session(
                session,
                user_id=user_id,
                session_version=request.session.get(SESSION_VERSION),
                slip_id=request.session.get(SESSION_SLIP),
            )
            if user is None:
                request.session.pop(SESSION_USER, None)
                request.session.pop(SESSION_VERSION, None)
                request.session.pop(SESSION_SLIP, None)
    request.state.user = user
    return user


async def organiser_scope(request: Request) -> rules.OrganiserScope:
    """What the signed-in user acts for (``contest.rules.OrganiserScope``); cached per request."""
    scope: rules.OrganiserScope | None = getattr(request.state, "organiser_scope", None)
    if scope is None:
        user = current_user(request)
        async with request.state.sessionmaker() as session:
            scope = await rules.organiser_scope(session, user)
        request.state.organiser_scope = scope
    return scope


def start_session(request: Request, user: User, *, slip_id: int | None = None) -> None:
    """Sign the browser in; with ``slip_id``, only for as long as that slip holds."""
    # A fresh CSRF secret with every sign-in: one planted before it is useless after.
    request.session.clear()
    request.session[SESSION_USER] = user.id
    request.session[SESSION_VERSION] = user.session_version
    if slip_id is not None:
        request.session[SESSION_SLIP] = slip_id


def end_session(request: Request) -> None:
    request.session.clear()


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def request_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """The database sessions the app opened for every request, typed."""
    maker: async_sessionmaker[AsyncSession] = request.state.sessionmaker
    return maker


def request_storage(request: Request) -> Storage:
    """The file storage the app opened for every request, typed."""
    storage: Storage = request.state.storage
    return storage


def current_user(request: Request) -> User:
    """The user that ``requires`` let in."""
    user: User | None = getattr(request.state, "user", None)
    if user is None:
        raise RuntimeError("current_user() outside a requires() route")
    return user


def access_of(endpoint: Any) -> frozenset[str] | None:
    declared: frozenset[str] | None = getattr(endpoint, ACCESS_ATTRIBUTE, None)
    return declared


def iter_endpoints(routes: Iterable[BaseRoute], prefix: str = "") -> Iterable[tuple[str, Any, Any]]:
    """Every (path, route, endpoint) the router holds, through mounts."""
    for route in routes:
        if isinstance(route, Mount):
            if access_of(route.app) is not None:
                yield prefix + route.path, route, route.app
            else:
                yield from iter_endpoints(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            yield prefix + route.path, route, route.endpoint


def check_declarations(routes: Iterable[BaseRoute]) -> None:
    missing = [path for path, _route, endpoint in iter_endpoints(routes) if not access_of(endpoint)]
    if missing:
        raise RuntimeError(f"routes without an access declaration: {', '.join(missing)}")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _path_of(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")
