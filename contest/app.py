"""The application factory: what ``uvicorn asgi:app`` serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from contest import errors, health
from contest.db import create_engine, create_sessionmaker
from contest.middleware import LocaleMiddleware, SecurityHeadersMiddleware
from contest.public.routes import routes as public_routes
from contest.settings import Settings
from contest.templating import create_templates
from storage import FILES_MOUNT_PATH, LocalStorage, storage_from_url

STATIC_DIR = Path(__file__).parent / "static"


async def _local_files(scope: Scope, receive: Receive, send: Send) -> None:
    """Signed links to files in the local folder are served by the storage's own small app;
    with S3 the links point at the bucket and nothing is served here."""
    files_app: ASGIApp | None = scope["state"]["files_app"]
    if files_app is None:
        raise HTTPException(404)
    await files_app(scope, receive, send)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        engine = create_engine(settings.database_url)
        storage = storage_from_url(
            settings.storage_url, secret_key=settings.secret_key, base_url=settings.base_url
        )
        try:
            yield {
                "settings": settings,
                "engine": engine,
                "sessionmaker": create_sessionmaker(engine),
                "storage": storage,
                "files_app": storage.asgi_app() if isinstance(storage, LocalStorage) else None,
                "templates": create_templates(),
            }
        finally:
            await storage.aclose()
            await engine.dispose()

    return Starlette(
        routes=[
            *public_routes,
            *health.routes,
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
            Mount(FILES_MOUNT_PATH, app=_local_files, name="files"),
        ],
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(LocaleMiddleware, default=settings.locale),
        ],
        exception_handlers={HTTPException: errors.http_exception, Exception: errors.server_error},
        lifespan=lifespan,
    )
