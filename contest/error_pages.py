"""Error responses in the visitor's language, in one place: a page for people, JSON for the API.
Domain errors (``contest.errors.ContestError``) and Starlette's HTTP exceptions both end here."""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contest.errors import ContestError
from contest.i18n import N_, gettext
from contest.templating import render

logger = logging.getLogger(__name__)

TITLES = {
    400: N_("The request could not be read"),
    403: N_("You may not do this"),
    404: N_("Page not found"),
    405: N_("This action is not allowed here"),
    409: N_("This conflicts with what is already there"),
    413: N_("The file is too large"),
    415: N_("This kind of file is not accepted"),
    422: N_("Some information needs correcting"),
    429: N_("Too many attempts"),
    500: N_("Something went wrong on our side"),
    503: N_("The service is busy or under maintenance"),
}

MESSAGES = {
    404: N_("The page you asked for does not exist or has moved."),
    500: N_("The error has been recorded. Please try again in a few minutes."),
    503: N_("Please try again in a few minutes. Nothing you sent was kept half-way."),
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/healthz"


def error_response(
    request: Request,
    status_code: int,
    message: str | None = None,
    *,
    fields: dict[str, str] | None = None,
) -> Response:
    title = gettext(TITLES.get(status_code, TITLES[500]))
    detail = message or (gettext(MESSAGES[status_code]) if status_code in MESSAGES else title)
    if wants_json(request):
        error: dict[str, object] = {"status": status_code, "title": title, "message": detail}
        if fields:
            error["fields"] = fields
        return JSONResponse({"error": error}, status_code=status_code)
    context = {"status_code": status_code, "title": title, "message": detail}
    return render(request, "public/error.html", context, status_code=status_code)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # Starlette's own details ("Not Found") are English; ours are already translated.
    message = exc.detail if exc.detail and exc.detail != _default_detail(exc.status_code) else None
    response = error_response(request, exc.status_code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def contest_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ContestError)
    return error_response(request, exc.status_code, exc.message or None, fields=exc.fields)


async def server_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(request, 500)


def _default_detail(status_code: int) -> str:
    return HTTPStatus(status_code).phrase
