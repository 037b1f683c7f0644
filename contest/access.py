"""Who may use each route. Deny by default: an endpoint without a declaration fails start-up.

``public`` opens a route to everyone (an entrant's receipt code and edit token are checked
inside, against the entry); ``requires(*roles)`` lets in only signed-in users with one of the
roles. Checks on particular objects (a judge's own assignments, a coordinator's own units) live
in the services.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from contest.i18n import gettext
from contest.models import Role, User

ACCESS_ATTRIBUTE = "__contest_access__"
ANYONE = "anyone"

Endpoint = Callable[[Request], Awaitable[Response]]
_T = TypeVar("_T")


def public(endpoint: _T) -> _T:
    """Open to everyone, signed in or not."""
    setattr(endpoint, ACCESS_ATTRIBUTE, frozenset({ANYONE}))
    return endpoint


def requires(*roles: Role) -> Callable[[Endpoint], Endpoint]:
    """Only signed-in, active users holding one of these roles."""
    if not roles:
        raise ValueError("requires() needs at least one role")

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            from contest.accounts.services import authenticate_request

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
            if user.role not in roles:
                raise HTTPException(403, gettext("Your account may not use this page."))
            return await endpoint(request)

        setattr(guarded, ACCESS_ATTRIBUTE, frozenset(roles))
        return guarded

    return decorate


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
