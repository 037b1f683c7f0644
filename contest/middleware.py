"""Plain ASGI middleware: the visitor's language, and the headers every response carries."""

from __future__ import annotations

from http.cookies import SimpleCookie

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contest import i18n
from contest.settings import SUPPORTED_LOCALES

LOCALE_COOKIE = "lang"

# Pages load nothing from elsewhere; media from an S3 bucket are added per deployment.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def pick_locale(scope: Scope, default: str) -> str:
    """A visitor's choice (cookie) wins; API clients may ask with Accept-Language."""
    headers = Headers(scope=scope)
    cookie = SimpleCookie(headers.get("cookie", ""))
    if LOCALE_COOKIE in cookie and cookie[LOCALE_COOKIE].value in SUPPORTED_LOCALES:
        return cookie[LOCALE_COOKIE].value
    if scope["path"].startswith("/api/"):
        for part in headers.get("accept-language", "").split(","):
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


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)
