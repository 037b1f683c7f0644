"""The public winners' gallery, and the organiser's results page (compute, review, publish)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import labels
from contest.access import current_user, public, requires
from contest.events import services as events
from contest.events.interfaces import ContestNotFoundError
from contest.forms import read_form
from contest.i18n import N_, get_locale, gettext
from contest.models import Asset, AssetRole, Contest, Prize, Role
from contest.results import services
from contest.results.certificates import public_name
from contest.results.services import ResultsError
from contest.templating import render

# Links in the gallery stay valid long after the page may be cached.
GALLERY_LINK_SECONDS = 24 * 3600
GALLERY_MAX_AGE = 300

ERRORS = {
    "published": N_("The results are already published and can no longer change here."),
    "no_round": N_("Judging has not started for this contest."),
    "no_scores": N_("No entry has a submitted score yet."),
    "not_computed": N_("Compute the results first."),
    "no_reason": N_("Write the reason for this change."),
    "no_contest": N_("Page not found"),
}


def _error(exc: ResultsError) -> HTTPException:
    code = str(exc)
    status = 404 if code == "no_contest" else 422 if code == "no_reason" else 409
    return HTTPException(status, gettext(ERRORS.get(code, ERRORS["not_computed"])))


@public
async def gallery(request: Request) -> Response:
    async with request.state.sessionmaker() as session:
        try:
            contest = await events.get_public_contest(session, slug=request.path_params["slug"])
        except ContestNotFoundError:
            raise HTTPException(404) from None
        rows = services.winners(
            await services.results_of(session, contest_id=contest.id, published_only=True)
        )
        if not rows:
            # Before publication there is nothing to show, and nothing says there will be.
            raise HTTPException(404)
        published = max(r.result.published_at for r in rows if r.result.published_at)
        etag = '"{}"'.format(
            hashlib.sha256(
                f"{contest.id}:{published.isoformat()}:{len(rows)}:{get_locale()}".encode()
            ).hexdigest()[:32]
        )
        cache = {
            "ETag": etag,
            "Cache-Control": f"public, max-age={GALLERY_MAX_AGE}",
            "Vary": "Cookie",
        }
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=cache)
        assets = (
            await session.scalars(
                select(Asset).where(
                    Asset.entry_id.in_([r.entry.id for r in rows]),
                    Asset.role.in_((AssetRole.THUMBNAIL, AssetRole.PREVIEW, AssetRole.ORIGINAL)),
                )
            )
        ).all()
    by_entry: dict[int, dict[str, Asset]] = defaultdict(dict)
    for asset in assets:
        by_entry[asset.entry_id].setdefault(asset.role.value, asset)
    storage = request.state.storage
    divisions: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        media = by_entry.get(row.entry.id, {})
        item: dict[str, Any] = {
            "row": row,
            "name": public_name(row.entrant),
            "prize": labels.PRIZES[Prize(row.result.prize)] if row.result.prize else "",
            "thumbnail": None,
            "preview": None,
            "player": None,
        }
        if "thumbnail" in media:
            item["thumbnail"] = await storage.read_url(
                media["thumbnail"].storage_key,
                expires_in=GALLERY_LINK_SECONDS,
                content_type="image/jpeg",
            )
        if "preview" in media:
            item["preview"] = await storage.read_url(
                media["preview"].storage_key,
                expires_in=GALLERY_LINK_SECONDS,
                content_type="image/jpeg",
            )
        original = media.get("original")
        if original and original.content_type.startswith(("audio/", "video/")):
            item["player"] = {
                "kind": original.content_type.split("/")[0],
                "url": await storage.read_url(
                    original.storage_key,
                    expires_in=GALLERY_LINK_SECONDS,
                    content_type=original.content_type,
                ),
            }
        division = row.division.name if row.division else ""
        divisions.setdefault(division, []).append(item)
    response = render(
        request,
        "results/gallery.html",
        {"contest": contest, "event": contest.event, "divisions": divisions, "labels": labels},
    )
    response.headers.update(cache)
    return response


@requires(Role.ADMIN)
async def results_page(request: Request) -> Response:
    async with request.state.sessionmaker() as session:
        contest = await session.get(Contest, request.path_params["contest_id"])
        if contest is None:
            raise HTTPException(404)
        rows = await services.results_of(session, contest_id=contest.id, published_only=False)
        published = await services.is_published(session, contest_id=contest.id)
    return render(
        request,
        "results/console.html",
        {
            "contest": contest,
            "rows": rows,
            "published": published,
            "labels": labels,
            "prizes": list(Prize),
            "message": request.session.pop("results_message", None),
        },
    )


@requires(Role.ADMIN)
async def results_action(request: Request) -> Response:
    """Compute, override a prize (with a reason) or publish; each audited."""
    form = await read_form(request)
    action = form.get("action", "")
    contest_id = request.path_params["contest_id"]
    actor = current_user(request)
    async with request.state.sessionmaker() as session:
        contest = await session.get(Contest, contest_id)
        if contest is None:
            raise HTTPException(404)
        try:
            if action == "compute":
                report = await services.compute_results(session, contest_id=contest_id, actor=actor)
                message = gettext("Ranked %(count)s entries.", count=report.entries)
            elif action == "override":
                try:
                    result_id = int(form.get("result", ""))
                    prize = Prize(form["prize"]) if form.get("prize") else None
                except (ValueError, KeyError):
                    raise HTTPException(422, gettext("Choose one of the options.")) from None
                await services.override_prize(
                    session,
                    result_id=result_id,
                    prize=prize,
                    reason=form.get("reason", ""),
                    actor=actor,
                )
                message = gettext("The prize was changed.")
            elif action == "publish":
                count = await services.publish_results(session, contest_id=contest_id, actor=actor)
                message = gettext("Published %(count)s results.", count=count)
            else:
                raise HTTPException(422, gettext("Choose one of the options."))
        except ResultsError as exc:
            raise _error(exc) from None
        await session.commit()
    request.session["results_message"] = message
    return RedirectResponse(
        request.url_for("admin_results", contest_id=contest_id), status_code=303
    )


routes: list[BaseRoute] = [
    Route("/contests/{slug:str}/winners", gallery, name="gallery"),
    Route("/admin/contests/{contest_id:int}/results", results_page, name="admin_results"),
    Route(
        "/admin/contests/{contest_id:int}/results",
        results_action,
        methods=["POST"],
        name="admin_results_action",
    ),
]
