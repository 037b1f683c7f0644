"""The one error style: domain exceptions that carry their status and translated message, and
the one place that turns them (and Starlette's HTTP exceptions) into a response in the visitor's
language: a page for people, JSON for the API.

A service raises a subclass of ``ContestError``; a handler that wants to show the problem inside
its own page (a form re-rendered with its fields marked) catches it, and everything else reaches
``contest_error`` below, registered once in ``create_app``.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contest.i18n import N_, gettext
from contest.templating import render

logger = logging.getLogger(__name__)


class ContestError(Exception):
    """Base of every domain error. ``message`` is already in the visitor's language;
    ``fields`` maps a form field to what is wrong with it, for 422 answers."""

    status_code = 400

    def __init__(self, message: str = "", *, fields: dict[str, str] | None = None) -> None:
        self.fields = dict(fields or {})
        self.message = message or "; ".join(self.fields.values())
        super().__init__(self.message)


class NotFoundError(ContestError):
    """Absent, or not the asker's to see: the two answer alike, so nothing leaks."""

    status_code = 404


class ForbiddenError(ContestError):
    status_code = 403


class ConflictError(ContestError):
    status_code = 409


class InvalidError(ContestError):
    status_code = 422


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
