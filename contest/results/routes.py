"""Certificates, their public verification, and the organisers' exports and event report."""

from __future__ import annotations

import base64
import hashlib
import re
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from contest import labels
from contest.access import Endpoint, organiser_scope, public, requires
from contest.events.services import event_contests, get_event
from contest.files.limits import COPY_CHUNK
from contest.i18n import get_locale, gettext, local_time
from contest.middleware import CONTENT_SECURITY_POLICY
from contest.models import Event, Role
from contest.pagination import page_request
from contest.results import exports, summary
from contest.results.certificates import (
    Verification,
    verify_certificate,
    write_certificates,
)
from contest.results.downloads import ExportInfo
from contest.templating import render
from contest.urls import public_base_url

ADMIN = Role.ADMIN
# Exports carry children's names: never kept by a browser or proxy cache.
PRIVATE = {"Cache-Control": "no-store"}
REPORT_CSS = exports.bar_chart_css()
# The report page's bar widths come from one <style> block, allowed by its hash alone.
REPORT_CSP = (
    CONTENT_SECURITY_POLICY
    + "; style-src 'self' 'sha256-"
    + base64.b64encode(hashlib.sha256(REPORT_CSS.encode()).digest()).decode()
    + "'"
)
UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def _attachment(filename: str) -> dict[str, str]:
    safe = UNSAFE_FILENAME.sub("-", filename).strip("-") or "export"
    return {"Content-Disposition": f'attachment; filename="{safe}"', **PRIVATE}


async def _file_download(write: Callable[[BinaryIO], Awaitable[ExportInfo]]) -> Response:
    """A download of what ``write`` streams into a temporary file, sent from that file in
    chunks (the file goes when it is sent), so that neither side holds it in memory."""
    # Closed once sent, by ``chunks``.
    spool = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        info = await write(spool)
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        with spool:
            while chunk := spool.read(COPY_CHUNK):
                yield chunk

    headers = {**_attachment(info.filename), "Content-Length": str(size)}
    return StreamingResponse(chunks(), media_type=info.media_type, headers=headers)


def _not_found(message: str | None = None) -> HTTPException:
    return HTTPException(404, message)


# --- verification (public) --------------------------------------------------------------------


async def _verification(request: Request) -> Verification:
    """The certificate's verification; certificates.CertificateNotFoundError (404) otherwise."""
    async with request.state.sessionmaker() as session:
        return await verify_certificate(session, serial=request.path_params["serial"])


@public
async def verify_page(request: Request) -> Response:
    verification = await _verification(request)
    response = render(
        request,
        "results/verify.html",
        {"v": verification, "prize": gettext(labels.PRIZES[verification.prize])},
    )
    # Nobody should find a child's certificate by searching the web.
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@public
async def api_verify(request: Request) -> Response:
    """Whether a certificate is genuine: a published prize with this serial number.
    ---
    summary: Verify a certificate
    operationId: verifyCertificate
    parameters:
      - name: serial
        in: path
        required: true
        description: The serial number printed on the certificate, such as 2024-7KQ3-M9XA.
        schema: {type: string}
    responses:
      "200":
        description: >-
          The certificate is genuine. The name is shown only as the entrant consented (in
          full, as initials, or not at all).
        json:
          type: object
          required: [serial, genuine, name, prize, contest, event, published_on]
          properties:
            serial: {type: string}
            genuine: {type: boolean, const: true}
            name: {type: string}
            school: {type: string}
            contest: {type: string}
            division: {type: string}
            prize: {type: string, enum: [first, second, third, honourable]}
            prize_label: {type: string}
            event: {type: string}
            organizer: {type: string}
            published_on: {type: string, format: date}
    """
    v = await _verification(request)
    return JSONResponse(
        {
            "serial": v.serial,
            "genuine": True,
            "name": v.name,
            "school": v.school,
            "contest": v.contest,
            "division": v.division,
            "prize": v.prize.value,
            "prize_label": gettext(labels.PRIZES[v.prize]),
            "event": v.event,
            "organizer": v.organizer,
            "published_on": local_time(v.published_at).date().isoformat(),
        },
        headers={"X-Robots-Tag": "noindex"},
    )


# --- certificates (console) -------------------------------------------------------------------


async def _certificates(
    request: Request,
    *,
    contest_id: int | None = None,
    unit_id: int | None = None,
    result_id: int | None = None,
) -> Response:
    async with request.state.sessionmaker() as session:
        return await _file_download(
            lambda out: write_certificates(
                session,
                base_url=public_base_url(request),
                out=out,
                contest_id=contest_id,
                unit_id=unit_id,
                result_id=result_id,
                locale=get_locale(),
            )
        )


@requires(ADMIN)
async def contest_certificates(request: Request) -> Response:
    return await _certificates(request, contest_id=request.path_params["contest_id"])


@requires(ADMIN)
async def unit_certificates(request: Request) -> Response:
    return await _certificates(request, unit_id=request.path_params["unit_id"])


@requires(ADMIN)
async def result_certificate(request: Request) -> Response:
    return await _certificates(request, result_id=request.path_params["result_id"])


# --- results exports (console) ----------------------------------------------------------------


async def _results(request: Request, fmt: str) -> Response:
    """The results file; an organiser of some units gets their units' rows only."""
    scope = await organiser_scope(request)
    async with request.state.sessionmaker() as session:
        return await _file_download(
            lambda out: exports.write_results_export(
                session,
                contest_id=request.path_params["contest_id"],
                fmt=fmt,
                out=out,
                locale=get_locale(),
                scope=scope,
            )
        )


def _download(
    write: Callable[[Request, str], Awaitable[Response]], fmt: str, *, for_units: bool = False
) -> Endpoint:
    """The console's download of one file, in one of its formats."""

    async def download(request: Request) -> Response:
        return await write(request, fmt)

    return requires(ADMIN, for_units=for_units)(download)


# --- the event report (console) ---------------------------------------------------------------


async def _the_event(session: AsyncSession) -> Event:
    event = await get_event(session)
    if event is None:
        raise _not_found(gettext("There is no event yet. Create it first, or load an event file."))
    return event


async def _event_report(request: Request) -> tuple[exports.EventReport, dict[str, Any]]:
    async with request.state.sessionmaker() as session:
        event = await _the_event(session)
        report = await exports.load_event_report(session, event_id=event.id)
        links = await _download_links(session, event)
    return report, links


async def _download_links(session: AsyncSession, event: Event) -> dict[str, Any]:
    return {"contests": await event_contests(session, event_id=event.id)}


@requires(ADMIN, for_units=True)
async def report_page(request: Request) -> Response:
    """The report's totals and a page of its units; the full detail is in the downloads. An
    organiser of some units reads the report of their units (the roll-up of those below)."""
    page = page_request(request.query_params)
    scope = await organiser_scope(request)
    async with request.state.sessionmaker() as session:
        event = await _the_event(session)
        heading = await summary.report_heading(session, event_id=event.id, scope=scope)
        units = await summary.unit_page(session, event_id=event.id, page=page, scope=scope)
        links = await _download_links(session, event)
    response = render(
        request,
        "results/report.html",
        {**summary.report_page_context(heading, units), **links, "css": REPORT_CSS},
    )
    response.headers["Content-Security-Policy"] = REPORT_CSP
    response.headers.update(PRIVATE)
    return response


async def _report(request: Request, fmt: str) -> Response:
    """The report's file; an organiser of some units gets their units' report."""
    scope = await organiser_scope(request)
    async with request.state.sessionmaker() as session:
        event = await _the_event(session)
        return await _file_download(
            lambda out: exports.write_report_export(
                session, event_id=event.id, fmt=fmt, out=out, locale=get_locale(), scope=scope
            )
        )


routes: list[BaseRoute] = [
    Route("/verify/{serial:str}", verify_page, name="verify_certificate"),
    Route(
        "/admin/contests/{contest_id:int}/export/results.xlsx",
        _download(_results, "xlsx", for_units=True),
        name="admin_export_results_xlsx",
    ),
    Route(
        "/admin/contests/{contest_id:int}/export/results.csv",
        _download(_results, "csv", for_units=True),
        name="admin_export_results_csv",
    ),
    Route(
        "/admin/contests/{contest_id:int}/certificates.pdf",
        contest_certificates,
        name="admin_contest_certificates",
    ),
    Route(
        "/admin/units/{unit_id:int}/certificates.pdf",
        unit_certificates,
        name="admin_unit_certificates",
    ),
    Route(
        "/admin/results/{result_id:int}/certificate.pdf",
        result_certificate,
        name="admin_result_certificate",
    ),
    Route("/admin/report", report_page, name="admin_report"),
    Route(
        "/admin/report.xlsx", _download(_report, "xlsx", for_units=True), name="admin_report_xlsx"
    ),
    Route("/admin/report.pdf", _download(_report, "pdf", for_units=True), name="admin_report_pdf"),
]

api_routes: list[BaseRoute] = [
    Route("/verify/{serial:str}", api_verify, methods=["GET"], name="api_verify_certificate"),
]
