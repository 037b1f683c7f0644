"""Ids in paths and forms that no 64-bit database integer can hold name nothing (404/4xx),
they never reach a query (where they would overflow into a server error)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.routing import Route

from contest.access import iter_endpoints
from contest.app import create_app
from contest.db import MAX_ROW_ID
from contest.demo import DemoReport
from contest.models import Role
from contest.settings import Settings
from judging.routes import _row_id
from tests.support import Account, app_client, csrf_from, sign_in

TOO_BIG = str(MAX_ROW_ID + 1)  # INTEGER columns are 32-bit on PostgreSQL


async def test_no_route_takes_an_id_too_big_for_the_database(
    settings: Settings, demo: DemoReport, make_user: Callable[..., Awaitable[Account]]
) -> None:
    app = create_app(settings)
    with_ids = [
        (path, route)
        for path, route, _ in iter_endpoints(app.routes)
        if isinstance(route, Route) and ":int}" in path
    ]
    assert len(with_ids) > 10
    admin = await make_user("admin@example.vn", Role.ADMIN)
    async with app_client(settings) as client:
        await sign_in(client, admin.user.email, admin.password)
        csrf = await csrf_from(client, "/admin/units")
        for path, route in with_ids:
            url = re.sub(r"{(\w+):int}", TOO_BIG, re.sub(r"{(\w+):str}", "x", path))
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                response = await client.request(
                    method, url, headers={"X-CSRF-Token": csrf}, data={"csrf_token": csrf}
                )
                assert response.status_code == 404, f"{method} {url}: {response.status_code}"
            fits = re.sub(r"{(\w+):int}", str(MAX_ROW_ID), re.sub(r"{(\w+):str}", "x", path))
            assert route.path_regex.match(fits.removeprefix("/api/v1")) or route.path_regex.match(
                fits
            ), path


def test_ids_in_judging_forms_and_bodies_too_big_for_the_database() -> None:
    assert _row_id("12") == 12
    assert _row_id(12) == 12
    assert _row_id(MAX_ROW_ID) == MAX_ROW_ID
    assert _row_id(str(MAX_ROW_ID)) == MAX_ROW_ID
    for wrong in (
        MAX_ROW_ID + 1,
        2**63,
        TOO_BIG,
        "99999999999999999999",
        -1,
        0,
        "0",
        "",
        " ",
        "1e3",
        "١٢",
        True,
        None,
        1.5,
        "12a",
    ):
        assert _row_id(wrong) is None, wrong
