"""Pages and API of the privacy notice, access to what is held, and the organiser's erasure."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from contest import labels, rules
from contest.access import (
    client_ip,
    current_user,
    public,
    request_sessionmaker,
    request_storage,
    requires,
)
from contest.db import utcnow
from contest.files import links as files_links
from contest.forms import read_form
from contest.i18n import gettext, ngettext
from contest.intake import services as intake
from contest.intake.uploads import receipt_url_for
from contest.models import AssetRole, Entrant, Role
from contest.privacy import services
from contest.privacy.interfaces import PrivacyError
from contest.results.gallery import gallery_cache
from contest.templating import render
from contest.tokens import EDIT_TOKEN_HEADER
from storage import StorageError

# How many due entries the organiser's page lists before saying "and N more".
PLAN_SHOWN = 50


# --- the notice -----------------------------------------------------------------------------


@public
async def notice(request: Request) -> Response:
    """The privacy notice, in plain words, for families, schools and the authorities."""
    async with request_sessionmaker(request)() as session:
        facts = await services.notice_facts(session)
    return render(request, "privacy/notice.html", {"facts": facts})


# --- access: a copy of what is held ---------------------------------------------------------


async def _archive_response(request: Request, token: str | None) -> Response:
    """The ZIP of an entry's data and original files, for the holder of its private link;
    the same refusals as the intake's (404 unknown code, 403 wrong token)."""
    async with request_sessionmaker(request)() as session:
        view = await intake.load_entry(session, receipt_code=request.path_params["code"])
        rules.ensure_entry_holder(view.entry, token)
        try:
            spool = await services.write_access_archive(
                session, storage=request_storage(request), view=view
            )
        except (StorageError, FileNotFoundError):
            raise HTTPException(
                503,
                gettext("The files cannot be read right now. Please try again in a few minutes."),
            ) from None
    filename = f"{view.entry.receipt_code}-data.zip"
    return StreamingResponse(
        services.iter_file(spool),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@public
async def entry_data(request: Request) -> Response:
    return await _archive_response(request, request.query_params.get("token"))


@public
async def entry_data_page(request: Request) -> Response:
    """What the ZIP holds, as a page: a chat app's browser may not download files, but it opens
    pages and links (the original files open from here one by one)."""
    token = request.query_params.get("token")
    storage = request_storage(request)
    async with request_sessionmaker(request)() as session:
        view = await intake.load_entry(session, receipt_code=request.path_params["code"])
        rules.ensure_entry_holder(view.entry, token)
        record = await services.entry_record(session, view=view)
    originals = [a for a in view.entry.assets if a.role == AssetRole.ORIGINAL]
    links = [
        await files_links.download_link(storage, a.storage_key, filename=a.original_filename)
        for a in originals
    ]
    query = urlencode({"token": token})
    response = render(
        request,
        "privacy/my_data.html",
        {
            "record": record,
            "files": list(zip(originals, links, strict=False)),
            "labels": labels,
            "archive": f"{request.url_for('entry_data', code=view.entry.receipt_code)}?{query}",
            "receipt": receipt_url_for(request, view.entry, token or ""),
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@public
async def api_entry_data(request: Request) -> Response:
    """Download everything held about an entry: a ZIP with `entry.json` and the original files.
    ---
    summary: Download an entry's data
    operationId: downloadEntryData
    description: >-
      The entrant's and guardian's details, the entry, its files' details, the published
      result and feedback, and the entry's history, as `entry.json`, with the original files
      under `files/`. Needs the receipt code and the edit token.
    responses:
      "200":
        description: The archive.
        content:
          application/zip:
            schema: {type: string, format: binary}
      "403": {$ref: "#/components/responses/WrongEditToken"}
      "404": {$ref: "#/components/responses/EntryNotFound"}
      "503": {$ref: "#/components/responses/StorageDown"}
    """
    return await _archive_response(request, request.headers.get(EDIT_TOKEN_HEADER))


# --- withdrawing the name's consent --------------------------------------------------------


async def _withdraw_name(request: Request, token: str | None) -> intake.EntryView:
    """The one withdrawal, for the holder of the private link (404 unknown code, 403 wrong
    token), whatever the deadline."""
    async with request_sessionmaker(request)() as session:
        view = await intake.load_entry(session, receipt_code=request.path_params["code"])
    rules.ensure_entry_holder(view.entry, token)
    await services.withdraw_name_consent(
        sessionmaker=request_sessionmaker(request),
        view=view,
        gallery=gallery_cache(request),
        client_ip=client_ip(request),
    )
    return view


@public
async def withdraw_name(request: Request) -> Response:
    token = request.query_params.get("token")
    await read_form(request)
    view = await _withdraw_name(request, token)
    assert token is not None
    return RedirectResponse(
        receipt_url_for(request, view.entry, token, name_withdrawn="1"), status_code=303
    )


@public
async def api_withdraw_name(request: Request) -> Response:
    """Withdraw the consent to show the entrant's name in public, at any time.
    ---
    summary: Withdraw the consent to show the name
    operationId: withdrawNameConsent
    description: >-
      From now on the name is not shown: the winners' gallery, the public results, certificate
      verification, the results exports and certificates made afterwards say "An entrant".
      The guardian's choice and the child's own consent are both withdrawn. Needs the receipt
      code and the edit token; sending it again changes nothing.
    responses:
      "200":
        description: The consent now in force.
        content:
          application/json:
            schema:
              type: object
              required: [receipt_code, consent, name_withdrawn_at]
              properties:
                receipt_code: {type: string}
                consent: {type: string, enum: [hidden]}
                name_withdrawn_at: {type: string, format: date-time}
      "403": {$ref: "#/components/responses/WrongEditToken"}
      "404": {$ref: "#/components/responses/EntryNotFound"}
    """
    view = await _withdraw_name(request, request.headers.get(EDIT_TOKEN_HEADER))
    async with request_sessionmaker(request)() as session:
        entrant = await session.get_one(Entrant, view.entrant.id)
    assert entrant.name_withdrawn_at is not None
    return JSONResponse(
        {
            "receipt_code": view.entry.receipt_code,
            "consent": entrant.consent.value,
            "name_withdrawn_at": entrant.name_withdrawn_at.isoformat(),
        }
    )


# --- the organiser's erasure page -----------------------------------------------------------


async def _erase_page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    async with request_sessionmaker(request)() as session:
        facts = await services.notice_facts(session)
        plan = await services.retention_plan(session, now=utcnow())
        erasures = await services.recent_erasures(session)
        codes = await services.erased_codes(
            session, entry_ids=[int(e.object_id) for e in erasures if e.object_id.isdecimal()]
        )
    context: dict[str, Any] = {
        "facts": facts,
        "plan": plan[:PLAN_SHOWN],
        "plan_total": len(plan),
        "erasures": erasures,
        "codes": codes,
        "values": values or {},
        "errors": errors or {},
        "message": request.session.pop("privacy_message", None),
    }
    return render(request, "admin/privacy.html", context, status_code=status_code)


@requires(Role.ADMIN)
async def admin_privacy(request: Request) -> Response:
    """Erase an entrant's personal data and files on request, with a reason."""
    if request.method == "GET":
        return await _erase_page(request)
    form = await read_form(request)
    values = {"receipt_code": form.get("receipt_code", ""), "reason": form.get("reason", "")}
    errors: dict[str, str] = {}
    if not values["receipt_code"]:
        errors["receipt_code"] = gettext("Enter the entry's receipt code.")
    try:
        reason = services.check_reason(values["reason"], required=True)
    except PrivacyError as exc:
        errors["reason"] = exc.message
    if errors:
        return await _erase_page(request, values=values, errors=errors, status_code=422)
    try:
        report = await services.erase_entrant(
            sessionmaker=request_sessionmaker(request),
            storage=request_storage(request),
            receipt_code=values["receipt_code"],
            reason=reason,
            actor=current_user(request),
            client_ip=client_ip(request),
        )
    except PrivacyError as exc:
        return await _erase_page(
            request,
            values=values,
            errors={"receipt_code": exc.message},
            status_code=exc.status_code,
        )
    if report.already:
        message = gettext("Entry %(code)s was already erased.", code=report.receipt_code)
    else:
        message = ngettext(
            "Erased the personal data of entry %(code)s and %(num)d file.",
            "Erased the personal data of entry %(code)s and %(num)d files.",
            report.files_deleted,
            code=report.receipt_code,
        )
    if report.files_left:
        message += " " + gettext(
            "%(count)s files could not be deleted now: erase the entry again later.",
            count=report.files_left,
        )
    request.session["privacy_message"] = message
    return RedirectResponse(request.url_for("admin_privacy"), status_code=303)


routes: list[BaseRoute] = [
    Route("/privacy", notice, name="privacy"),
    Route("/entries/{code:str}/my-data.zip", entry_data),
    Route("/entries/{code:str}/my-data", entry_data_page),
    Route("/entries/{code:str}/name/withdraw", withdraw_name, methods=["POST"]),
    Route("/admin/privacy", admin_privacy, methods=["GET", "POST"]),
]
api_routes: list[BaseRoute] = [
    Route("/entries/{code:str}/my-data", api_entry_data),
    Route("/entries/{code:str}/name/withdraw", api_withdraw_name, methods=["POST"]),
]
