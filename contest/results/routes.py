"""Certificates, their public verification, and the organisers' exports and event report."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from contest import labels
from contest.access import public, requires
from contest.events.services import event_contests, get_event
from contest.i18n import get_locale, gettext, local_time
from contest.middleware import CONTENT_SECURITY_POLICY
from contest.models import Contest, Event, Result, Role, Unit
from contest.pagination import page_request
from contest.results import exports, summary
from contest.results.certificates import (
    Verification,
    certificates_for,
    render_certificates,
    verify_certificate,
)
from contest.templating import render
from contest.urls import public_base_url

ADMIN = Role.ADMIN
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
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
Row = TypeVar("Row", Contest, Unit, Result)


def _download(data: bytes, *, media_type: str, filename: str) -> Response:
    safe = UNSAFE_FILENAME.sub("-", filename).strip("-") or "export"
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{safe}"', **PRIVATE},
    )


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
        content:
          application/json:
            schema:
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


async def _certificates_pdf(request: Request, *, filename: str, **which: int) -> Response:
    async with request.state.sessionmaker() as session:
        certificates = await certificates_for(session, base_url=public_base_url(request), **which)
    if not certificates:
        raise _not_found(gettext("There are no published prize winners here yet."))
    data = await run_in_threadpool(render_certificates, certificates, locale=get_locale())
    return _download(data, media_type="application/pdf", filename=filename)


async def _path_row(request: Request, model: type[Row], param: str) -> tuple[Row, int]:
    """The row the path's id names, with that id; 404 when there is none."""
    row_id: int = request.path_params[param]
    async with request.state.sessionmaker() as session:
        row = await session.get(model, row_id)
    if row is None:
        raise _not_found()
    return row, row_id


@requires(ADMIN)
async def contest_certificates(request: Request) -> Response:
    contest, contest_id = await _path_row(request, Contest, "contest_id")
    return await _certificates_pdf(
        request, filename=f"{contest.slug}-certificates.pdf", contest_id=contest_id
    )


@requires(ADMIN)
async def unit_certificates(request: Request) -> Response:
    unit, unit_id = await _path_row(request, Unit, "unit_id")
    return await _certificates_pdf(
        request, filename=f"{unit.code}-certificates.pdf", unit_id=unit_id
    )


@requires(ADMIN)
async def result_certificate(request: Request) -> Response:
    result, result_id = await _path_row(request, Result, "result_id")
    serial = result.certificate_serial or str(result_id)
    return await _certificates_pdf(
        request, filename=f"certificate-{serial}.pdf", result_id=result_id
    )


# --- results exports (console) ----------------------------------------------------------------


async def _contest_results(request: Request) -> exports.ContestResults:
    async with request.state.sessionmaker() as session:
        return await exports.load_contest_results(
            session, contest_id=request.path_params["contest_id"]
        )


@requires(ADMIN)
async def results_xlsx(request: Request) -> Response:
    results = await _contest_results(request)
    data = await run_in_threadpool(exports.results_xlsx, results, locale=get_locale())
    return _download(data, media_type=XLSX, filename=results.filename("xlsx"))


@requires(ADMIN)
async def results_csv(request: Request) -> Response:
    results = await _contest_results(request)
    data = await run_in_threadpool(exports.results_csv, results, locale=get_locale())
    return _download(data, media_type="text/csv; charset=utf-8", filename=results.filename("csv"))


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


@requires(ADMIN)
async def report_page(request: Request) -> Response:
    """The report's totals and a page of its units; the full detail is in the downloads."""
    page = page_request(request.query_params)
    async with request.state.sessionmaker() as session:
        event = await _the_event(session)
        heading = await summary.report_heading(session, event_id=event.id)
        units = await summary.unit_page(session, event_id=event.id, page=page)
        links = await _download_links(session, event)
    response = render(
        request,
        "results/report.html",
        {**summary.report_page_context(heading, units), **links, "css": REPORT_CSS},
    )
    response.headers["Content-Security-Policy"] = REPORT_CSP
    response.headers.update(PRIVATE)
    return response


def _report_filename(report: exports.EventReport, extension: str) -> str:
    return f"report-{report.generated_at:%Y%m%d}.{extension}"


@requires(ADMIN)
async def report_xlsx(request: Request) -> Response:
    report, _links = await _event_report(request)
    data = await run_in_threadpool(exports.report_xlsx, report, locale=get_locale())
    return _download(data, media_type=XLSX, filename=_report_filename(report, "xlsx"))


@requires(ADMIN)
async def report_pdf(request: Request) -> Response:
    report, _links = await _event_report(request)
    data = await run_in_threadpool(exports.report_pdf, report, locale=get_locale())
    return _download(data, media_type="application/pdf", filename=_report_filename(report, "pdf"))


routes: list[BaseRoute] = [
    Route("/verify/{serial:str}", verify_page, name="verify_certificate"),
    Route(
        "/admin/contests/{contest_id:int}/export/results.xlsx",
        results_xlsx,
        name="admin_export_results_xlsx",
    ),
    Route(
        "/admin/contests/{contest_id:int}/export/results.csv",
        results_csv,
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
    Route("/admin/report.xlsx", report_xlsx, name="admin_report_xlsx"),
    Route("/admin/report.pdf", report_pdf, name="admin_report_pdf"),
]

api_routes: list[BaseRoute] = [
    Route("/verify/{serial:str}", api_verify, methods=["GET"], name="api_verify_certificate"),
]
