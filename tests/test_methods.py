"""The methods every route takes without declaring them: HEAD as GET, OPTIONS, and the Allow
header of a 405, for every path the router holds."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Route

from contest.access import access_of, iter_endpoints
from contest.app import create_app
from contest.settings import Settings
from tests.test_authorization import (
    Persona,
    expected_allowed,
    path_values,
    personas,
)

__all__ = ["personas"]


def _url(path: str, values: dict[str, object]) -> str:
    for name in re.findall(r"{(\w+)(?::\w+)?}", path):
        path = re.sub("{" + name + r"(?::\w+)?}", str(values.get(name, 1)), path)
    return path


async def test_head_answers_as_get_on_every_route_that_also_takes_post(
    personas: list[Persona],
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    values = await path_values(sessionmaker)
    routes = [
        (path, endpoint)
        for path, route, endpoint in iter_endpoints(create_app(settings).routes)
        if isinstance(route, Route) and {"GET", "POST"} <= (route.methods or set())
    ]
    assert len(routes) >= 14
    wrong = []
    for path, endpoint in routes:
        url = _url(path, values)
        for persona in personas:
            if not expected_allowed(access_of(endpoint) or frozenset(), persona):
                continue
            got = await persona.client.get(url)
            head = await persona.client.head(url)
            if head.status_code != got.status_code or head.content:
                wrong.append(f"HEAD {url} as {persona.name}: {head.status_code} {got.status_code}")
            elif head.headers.get("location") != got.headers.get("location"):
                wrong.append(f"HEAD {url} as {persona.name} goes elsewhere than GET")
    assert wrong == [], "\n".join(wrong)


async def test_head_of_the_sign_in_page_is_its_get(client: httpx.AsyncClient) -> None:
    head = await client.head("/login")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"].startswith("text/html")


async def test_options_lists_every_method_of_a_path_served_by_several_routes(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.options("/api/v1/entries/ABCD-EFGH")
    assert answer.status_code == 204
    allowed = {m.strip() for m in answer.headers["allow"].split(",")}
    assert {"GET", "HEAD", "PATCH", "OPTIONS"} <= allowed
    assert "POST" not in allowed and "DELETE" not in allowed
    assert (await client.options("/no/such/page")).status_code == 404


async def test_a_405_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    refused = await client.delete("/api/v1/entries/ABCD-EFGH")
    assert refused.status_code == 405
    allowed = {m.strip() for m in refused.headers["allow"].split(",")}
    assert {"GET", "PATCH"} <= allowed
    assert refused.json()["error"]["status"] == 405
    posted = await client.post("/api/v1/contests")
    assert posted.status_code == 405
    assert {m.strip() for m in posted.headers["allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}
