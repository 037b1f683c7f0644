"""Security headers on every page the app serves, and files never shown inline with a type a
browser would run.

The routes come from the app itself (as in tests/test_authorization.py), so a page added later
is covered the day it is added.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.routing import Route

from contest.access import iter_endpoints, public
from contest.app import create_app
from contest.demo import DemoReport
from contest.models import Contest, Entry, Role, Unit
from contest.settings import Settings
from storage import Storage, storage_from_url
from tests.support import Account, app_client, sign_in

REQUIRED = ("content-security-policy", "x-content-type-options", "referrer-policy")


def assert_page_headers(response: httpx.Response, where: str) -> None:
    missing = [name for name in REQUIRED if name not in response.headers]
    assert not missing, f"{where}: {response.status_code} without {missing}"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors" in policy, f"{where}: no frame-ancestors in {policy!r}"
    assert "default-src" in policy, f"{where}: no default-src in {policy!r}"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, where
    assert response.headers["x-content-type-options"] == "nosniff", where
    assert response.headers["referrer-policy"] in ("same-origin", "no-referrer"), where


async def _values(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    async with sessionmaker() as session:
        contest = await session.scalar(select(Contest).order_by(Contest.id))
        unit = await session.scalar(select(Unit).order_by(Unit.id))
        entry = await session.scalar(select(Entry).order_by(Entry.id))
    assert contest and unit and entry
    return {
        "slug": contest.slug,
        "contest_id": str(contest.id),
        "unit_id": str(unit.id),
        "code": entry.receipt_code,
        "locale": "en",
        "key": "entries/x/original.png",
    }


async def test_every_get_route_sends_the_security_headers(
    settings: Settings,
    demo: DemoReport,
    make_user: Callable[..., Awaitable[Account]],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    admin = await make_user("admin@example.vn", Role.ADMIN)
    values = await _values(sessionmaker)
    app = create_app(settings)
    paths = []
    for path, route, _endpoint in iter_endpoints(app.routes):
        methods = route.methods or {"GET"} if isinstance(route, Route) else {"GET"}
        if "GET" not in methods or path == "/logout":
            continue
        url = re.sub(r"{(\w+)(?::\w+)?}", lambda m: values.get(m.group(1), "1"), path)
        paths.append(url)
    assert len(paths) > 30
    statuses: set[int] = set()
    async with app_client(settings) as anonymous, app_client(settings) as signed_in:
        await sign_in(signed_in, admin.user.email, admin.password)
        for url in paths:
            for who, client in (("anonymous", anonymous), ("admin", signed_in)):
                response = await client.get(url)
                statuses.add(response.status_code)
                assert_page_headers(response, f"GET {url} as {who}")
                if response.headers.get("content-type", "").startswith("text/html"):
                    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
                    assert response.headers["x-frame-options"] == "DENY"
        # Pages that do not exist, methods not allowed, the API's errors: the same headers.
        for method, url in [
            ("GET", "/no-such-page"),
            ("DELETE", "/login"),
            ("GET", "/api/v1/no-such-thing"),
            ("POST", "/api/v1/contests/no-such/entries"),
        ]:
            response = await anonymous.request(method, url)
            statuses.add(response.status_code)
            assert_page_headers(response, f"{method} {url}")
    # The walk saw pages, redirects, refusals and missing things, not only one kind of answer.
    assert {200, 303, 404} <= statuses


async def test_a_server_error_page_carries_the_headers_too(settings: Settings) -> None:
    @public
    async def broken(request: Request) -> Any:
        raise RuntimeError("a bug")

    app = create_app(settings)
    app.router.routes.append(Route("/broken", broken))
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            await app({**scope, "state": dict(state or {})}, receive, send)

        transport = httpx.ASGITransport(app=with_state, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            response = await c.get("/broken")
    assert response.status_code == 500
    assert_page_headers(response, "GET /broken (500)")


async def test_https_deployments_send_hsts(settings: Settings) -> None:
    async with app_client(settings) as plain:
        assert "strict-transport-security" not in (await plain.get("/")).headers
    secure = dataclasses.replace(settings, base_url="https://contest.example.vn")
    async with app_client(secure) as c:
        response = await c.get("/")
    assert response.headers["strict-transport-security"].startswith("max-age=")


# --- files -------------------------------------------------------------------------------

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)
HOSTILE_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
)
HOSTILE_HTML = b"<html><script>fetch('/api/v1/me').then(r=>r.text()).then(alert)</script></html>"


async def _chunks(data: bytes) -> Any:
    yield data


async def _get(client: httpx.AsyncClient, url: str) -> httpx.Response:
    parts = urlsplit(url)
    return await client.get(f"{parts.path}?{parts.query}")


async def test_local_files_are_sandboxed_and_never_run_as_html_or_svg(
    client: httpx.AsyncClient, storage: Storage
) -> None:
    await storage.put_stream("entries/t/original.png", _chunks(PNG))
    await storage.put_stream("entries/t/hostile.svg", _chunks(HOSTILE_SVG))
    await storage.put_stream("entries/t/hostile.html", _chunks(HOSTILE_HTML))

    shown = await _get(
        client, await storage.read_url("entries/t/original.png", content_type="image/png")
    )
    assert shown.status_code == 200 and shown.content == PNG
    assert shown.headers["content-type"] == "image/png"
    assert shown.headers["content-disposition"] == "inline"
    assert shown.headers["x-content-type-options"] == "nosniff"
    policy = shown.headers["content-security-policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy
    # App pages may frame a file (the judges' PDF viewer); nobody else may.
    assert "frame-ancestors 'self'" in policy
    assert shown.headers["x-frame-options"] == "SAMEORIGIN"

    for key, asked in [
        ("entries/t/hostile.svg", "image/svg+xml"),
        ("entries/t/hostile.html", "text/html"),
        ("entries/t/hostile.html", "application/xhtml+xml"),
        ("entries/t/hostile.html", "text/xml"),
        ("entries/t/hostile.html", None),
    ]:
        response = await _get(client, await storage.read_url(key, content_type=asked))
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream", asked
        assert response.headers["content-disposition"].startswith("attachment"), asked
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in response.headers["content-security-policy"]

    # Refusals of the file endpoint carry the headers too.
    for response in [
        await client.get("/files/entries/t/original.png"),
        await client.get("/files/entries/t/missing.png?e=1&s=x"),
    ]:
        assert response.status_code == 403
        assert_page_headers(response, "refused file link")


async def test_s3_links_never_ask_the_bucket_for_html_or_svg(
    s3_endpoint: str, s3_bucket: str, s3_client: Any
) -> None:
    storage = storage_from_url(
        f"s3://{s3_bucket}?endpoint_url={s3_endpoint}&region=us-east-1",
        secret_key="k",
        base_url="http://testserver",
    )
    try:
        await storage.put_stream("entries/t/hostile.svg", _chunks(HOSTILE_SVG))
        await storage.put_stream("entries/t/original.png", _chunks(PNG))
        async with httpx.AsyncClient() as web:
            svg = await web.get(
                await storage.read_url("entries/t/hostile.svg", content_type="image/svg+xml")
            )
            png = await web.get(
                await storage.read_url("entries/t/original.png", content_type="image/png")
            )
    finally:
        await storage.aclose()
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "application/octet-stream"
    assert svg.headers["content-disposition"].startswith("attachment")
    assert png.headers["content-type"] == "image/png"
    assert png.headers["content-disposition"] == "inline"


async def test_pages_may_show_files_from_the_bucket_and_nothing_else(
    settings: Settings, s3_endpoint: str, s3_bucket: str
) -> None:
    s3 = dataclasses.replace(
        settings, storage_url=f"s3://{s3_bucket}?endpoint_url={s3_endpoint}&region=us-east-1"
    )
    async with app_client(s3) as c:
        policy = (await c.get("/login")).headers["content-security-policy"]
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
    )
    for name in ("img-src", "media-src", "frame-src", "connect-src"):
        assert s3_endpoint in directives[name], name
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
