"""Plain ASGI middleware: the visitor's language, the headers every response carries, and the
methods every route takes without saying so."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from http.cookies import SimpleCookie
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contest import i18n
from contest.settings import SUPPORTED_LOCALES

LOCALE_COOKIE = "lang"

# Pages load nothing from elsewhere; when files live in an S3 bucket, its origin is added to
# the sources of images, media, frames and connections (see content_security_policy).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
REFERRER_POLICY = "same-origin"
# A year, once the site is served over https (never on plain http: browsers ignore it there).
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


@lru_cache(maxsize=8)
def content_security_policy(files_origin: str | None) -> str:
    """The pages' policy, letting them show, frame and upload to the files' own origin."""
    if not files_origin:
        return CONTENT_SECURITY_POLICY
    return (
        CONTENT_SECURITY_POLICY.replace(
            "img-src 'self' data: blob:", f"img-src 'self' data: blob: {files_origin}"
        ).replace("media-src 'self' blob:", f"media-src 'self' blob: {files_origin}")
        + f"; frame-src 'self' {files_origin}; connect-src 'self' {files_origin}"
    )


def pick_locale(scope: Scope, default: str) -> str:
    """A visitor's choice (cookie) wins; API clients may ask with Accept-Language."""
    cookie_header = accept_language = b""
    for name, value in scope["headers"]:
        if name == b"cookie":
            cookie_header = value
        elif name == b"accept-language":
            accept_language = value
    # Most requests carry no language cookie: the cookie parser runs only when one is there.
    if b"lang=" in cookie_header:
        cookie = SimpleCookie(cookie_header.decode("latin-1"))
        if LOCALE_COOKIE in cookie and cookie[LOCALE_COOKIE].value in SUPPORTED_LOCALES:
            return cookie[LOCALE_COOKIE].value
    if scope["path"].startswith("/api/"):
        for part in accept_language.decode("latin-1").split(","):
            tag = part.split(";")[0].strip().lower()[:2]
            if tag in SUPPORTED_LOCALES:
                return tag
    return default


class LocaleMiddleware:
    def __init__(self, app: ASGIApp, *, default: str) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            # Left set (not reset) so that the error handlers outside still speak it.
            i18n.set_locale(pick_locale(scope, self.default))
        await self.app(scope, receive, send)


def _files_origin(state: dict[str, Any]) -> str | None:
    storage = state.get("storage")
    origin: str | None = storage.browser_origin() if storage is not None else None
    return origin


def _is_https(state: dict[str, Any]) -> bool:
    settings = state.get("settings")
    return bool(settings is not None and settings.secure_cookies)


@lru_cache(maxsize=16)
def security_headers(files_origin: str | None, https: bool) -> tuple[tuple[bytes, bytes], ...]:
    """The headers every response carries, as raw pairs (made once per files origin)."""
    headers = [
        (b"content-security-policy", content_security_policy(files_origin).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", REFERRER_POLICY.encode()),
        (b"x-frame-options", b"DENY"),
    ]
    if https:
        headers.append((b"strict-transport-security", STRICT_TRANSPORT_SECURITY.encode()))
    return tuple(headers)


class SecurityHeadersMiddleware:
    """Security headers on every response, error pages included (it wraps the whole app).

    A response that set its own policy keeps it: the local storage's file responses carry a
    sandboxing policy of their own, and a few pages widen theirs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.get("state") or {}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _value in headers}
                headers.extend(
                    pair
                    for pair in security_headers(_files_origin(state), _is_https(state))
                    if pair[0] not in present
                )
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# What a route that names no methods takes.
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> set[str]:
    """Every method some route of this path takes, through mounts: a path is often served by
    several routes (an entry is read by one, edited by another)."""
    methods: set[str] = set()
    for route in routes:
        match, child_scope = route.matches({**scope, "method": "GET", "type": "http"})
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            inner = getattr(route.app, "routes", None)
            if inner is None:
                # A mounted app (static files, stored files) is read only.
                methods |= {"GET", "HEAD"}
            else:
                methods |= allowed_methods(inner, {**scope, **child_scope})
        elif isinstance(route, Route):
            methods |= route.methods or set(ALL_METHODS)
    return methods


class MethodsMiddleware:
    """One place for the methods every route takes without saying so (RFC 9110).

    HEAD is answered as GET without the body: many endpoints take GET and POST and branch on
    the method, and a HEAD must never reach the branch that writes. OPTIONS, and the Allow
    header of a 405, list every method the path takes, across all the routes that serve it.
    """

    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS":
            methods = allowed_methods(self.routes, scope)
            if methods:
                allow = ", ".join(sorted(methods | {"OPTIONS"}))
                await Response(status_code=204, headers={"Allow": allow})(scope, receive, send)
                return
        if method == "HEAD":
            scope = {**scope, "method": "GET"}
        # Routing writes into the scope it is given (root path, path parameters).
        asked = dict(scope)

        async def send_allowed(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allow = ", ".join(sorted(allowed_methods(self.routes, asked) | {"OPTIONS"}))
                message["headers"] = [
                    *((k, v) for k, v in message.get("headers", ()) if k.lower() != b"allow"),
                    (b"allow", allow.encode()),
                ]
            elif method == "HEAD" and message["type"] == "http.response.body":
                if message.get("more_body"):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(scope, receive, send_allowed)
