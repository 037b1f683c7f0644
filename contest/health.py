"""``/healthz``: does the app reach its database and its storage?"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from contest.access import public

# A load balancer's probe must get an answer quickly even when a part hangs.
CHECK_TIMEOUT_SECONDS = 5.0


@public
async def healthz(request: Request) -> JSONResponse:
    database, storage = await asyncio.gather(_check_database(request), _check_storage(request))
    healthy = database == "ok" and storage == "ok"
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", "database": database, "storage": storage},
        status_code=200 if healthy else 503,
        headers={"Cache-Control": "no-store"},
    )


async def _check_database(request: Request) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            async with request.state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure of the part is the answer, not an error of ours
        return f"unavailable: {type(exc).__name__}"
    return "ok"


async def _check_storage(request: Request) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await request.state.storage.check()
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


routes = [Route("/healthz", healthz)]
