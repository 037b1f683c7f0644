"""Plain ASGI middleware: the visitor's language, and the headers every response carries."""

from __future__ import annotations

from functools import lru_cache
from http.cookies import SimpleCookie
from typing import Any

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
