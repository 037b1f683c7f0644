"""The application factory: what ``uvicorn asgi:app`` serves."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from contest import api, error_pages, health
from contest.access import check_declarations, public
from contest.accounts.routes import api_routes as account_api_routes
from contest.accounts.routes import routes as account_routes
from contest.admin.routes import api_routes as admin_api_routes
from contest.admin.routes import routes as admin_routes
from contest.db import create_engine, create_sessionmaker
from contest.errors import ContestError
from contest.intake.bulk import KINDS as bulk_job_kinds
from contest.intake.config import ContestConfigCache
from contest.intake.forward_page import api_routes as forward_api_routes
from contest.intake.forward_page import routes as forward_routes
from contest.intake.jobs import KINDS as intake_job_kinds
from contest.intake.routes import SCHEMAS as intake_schemas
from contest.intake.routes import api_routes as intake_api_routes
from contest.intake.routes import routes as intake_routes
from contest.intake.unit_page import routes as unit_page_routes
from contest.jobs.kinds import JobKind
from contest.jobs.queue import JobQueue
from contest.jobs.routes import SCHEMAS as job_schemas
from contest.jobs.routes import api_routes as job_api_routes
from contest.jobs.routes import routes as job_routes
from contest.middleware import LocaleMiddleware, MethodsMiddleware, SecurityHeadersMiddleware
from contest.privacy.jobs import KINDS as privacy_job_kinds
from contest.privacy.routes import api_routes as privacy_api_routes
from contest.privacy.routes import routes as privacy_routes
from contest.public.routes import routes as public_routes
from contest.results.api import SCHEMAS as results_schemas
from contest.results.api import api_routes as results_public_api_routes
from contest.results.console import routes as results_console_routes
from contest.results.gallery import routes as results_routes
from contest.results.gallery_memory import GalleryFromMemory
from contest.results.jobs import KINDS as results_job_kinds
from contest.results.remarking import SCHEMAS as remarking_schemas
from contest.results.remarking import api_routes as remarking_api_routes
from contest.results.remarking import routes as remarking_routes
from contest.results.routes import api_routes as results_api_routes
from contest.results.routes import routes as results_export_routes
from contest.settings import Settings
from contest.templating import create_templates
from contest.vote.routes import routes as vote_routes
from judging.comparing_routes import API_SCHEMAS as comparing_schemas
from judging.comparing_routes import api_routes as comparing_api_routes
from judging.comparing_routes import routes as comparing_routes
from judging.jobs import KINDS as judging_job_kinds
from judging.judges_routes import routes as judges_routes
from judging.paper_routes import routes as paper_routes
from judging.routes import api_routes as judging_api_routes
from judging.routes import routes as judging_routes
from storage import FILES_MOUNT_PATH, LocalStorage, storage_from_url

logger = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
SESSION_COOKIE = "contest_session"
SESSION_MAX_AGE = 14 * 24 * 3600
# Every kind of background job, from the domains that own them.
JOB_KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        *judging_job_kinds,
        *results_job_kinds,
        *privacy_job_kinds,
        *intake_job_kinds,
        *bulk_job_kinds,
    )
}


@public
async def _local_files(scope: Scope, receive: Receive, send: Send) -> None:
    """Signed links to files in the local folder are served by the storage's own small app;
    with S3 the links point at the bucket and nothing is served here. The signature is the
    permission, checked by the storage."""
    files_app: ASGIApp | None = scope["state"]["files_app"]
    if files_app is None:
        raise HTTPException(404)
    await files_app(scope, receive, send)


def _api_routes() -> list[BaseRoute]:
    return [
        *api.routes,
        *account_api_routes,
        *admin_api_routes,
        *intake_api_routes,
        *forward_api_routes,
        *judging_api_routes,
        *comparing_api_routes,
        *results_api_routes,
        *results_public_api_routes,
        *remarking_api_routes,
        *privacy_api_routes,
        *job_api_routes,
    ]


def _routes(api_routes: list[BaseRoute]) -> list[BaseRoute]:
    return [
        # The winners' gallery is the page under the heaviest public load: matched first.
        *results_routes,
        *results_console_routes,
        *public_routes,
        *account_routes,
        *admin_routes,
        *judging_routes,
        *comparing_routes,
        *paper_routes,
        *vote_routes,
        *judges_routes,
        *results_export_routes,
        *remarking_routes,
        *privacy_routes,
        *intake_routes,
        *unit_page_routes,
        *forward_routes,
        *job_routes,
        *health.routes,
        Mount(
            api.API_PREFIX,
            routes=[Route("/openapi.json", api.openapi, name="openapi"), *api_routes],
        ),
        Mount("/static", app=public(StaticFiles(directory=STATIC_DIR)), name="static"),
        Mount(FILES_MOUNT_PATH, app=_local_files, name="files"),
    ]


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    """The database dropped the connection or is restarting: a 503 the client may retry (the
    transaction was rolled back), not a 500 as for a bug."""
    logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return error_pages.error_response(request, 503)


class ContestApp(Starlette):
    """Starlette with the security headers outermost: error pages (500s from the server-error
    handler included) carry them too."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeadersMiddleware(super().build_middleware_stack())


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        engine = create_engine(settings.database_url)
        storage = storage_from_url(
            settings.storage_url,
            secret_key=settings.secret_key,
            # Unset, links to local files are root-relative: they follow whatever address and
            # port the page was reached at, and stay within the pages' own origin ('self').
            base_url=settings.base_url if settings.base_url_configured else "",
        )
        try:
            yield {
                "settings": settings,
                "engine": engine,
                "sessionmaker": create_sessionmaker(engine),
                "storage": storage,
                "files_app": storage.asgi_app() if isinstance(storage, LocalStorage) else None,
                "templates": create_templates(),
                # Pages and the API only put jobs on the queue; workers run them.
                "jobs": JobQueue(settings, JOB_KINDS),
                # What submissions read of each contest, checked against its version per request.
                "contest_configs": ContestConfigCache(),
            }
        finally:
            await storage.aclose()
            await engine.dispose()

    api_routes = _api_routes()
    routes = _routes(api_routes)
    check_declarations(routes)
    app = ContestApp(
        routes=routes,
        middleware=[
            Middleware(LocaleMiddleware, default=settings.locale),
            # The gallery's fresh copies are answered here, ahead of sessions and routing.
            Middleware(GalleryFromMemory),
            Middleware(MethodsMiddleware, routes=routes),
            Middleware(
                SessionMiddleware,
                secret_key=settings.secret_key,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_MAX_AGE,
                same_site="lax",
                https_only=settings.secure_cookies,
            ),
        ],
        exception_handlers={
            HTTPException: error_pages.http_exception,
            ContestError: error_pages.contest_error,
            OperationalError: _database_unavailable,
            InterfaceError: _database_unavailable,
            Exception: error_pages.server_error,
        },
        lifespan=lifespan,
    )
    app.state.api_routes = [Mount(api.API_PREFIX, routes=api_routes)]
    app.state.api_schemas = {
        **intake_schemas,
        **remarking_schemas,
        **results_schemas,
        **job_schemas,
        **comparing_schemas,
    }
    return app
