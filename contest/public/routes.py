from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from contest import i18n, labels
from contest.access import public
from contest.db import utcnow
from contest.events import services
from contest.events.interfaces import ContestNotFoundError
from contest.events.media import division_rules
from contest.files.links import logo_link
from contest.i18n import gettext
from contest.middleware import LOCALE_COOKIE
from contest.models import Contest
from contest.settings import SUPPORTED_LOCALES
from contest.templating import render
from contest.urls import same_site_path

ONE_YEAR = 365 * 24 * 3600
ONE_DAY = 24 * 3600
# Browsers ask for /favicon.ico on their own, whatever the page links.
FAVICON = Path(__file__).parent.parent / "static" / "favicon.ico"


@public
async def home(request: Request) -> Response:
    now = utcnow()
    async with request.state.sessionmaker() as session:
        event = await services.find_current_event(session)
        if event is None:
            return render(request, "public/empty.html")
    contests = [
        {"contest": c, "phase": services.contest_phase(c, now)}
        for c in services.public_contests(event)
    ]
    logo_url = await logo_link(request.state.storage, event.logo_key) if event.logo_key else None
    return render(
        request,
        "public/home.html",
        {
            "event": event,
            "contests": contests,
            "now": now,
            "labels": labels,
            "i18n": i18n,
            "logo_url": logo_url,
        },
    )


async def public_contest(session: AsyncSession, request: Request) -> Contest:
    """The public contest the path's slug names, for a page or the API; 404 when there is none."""
    try:
        return await services.get_public_contest(session, slug=request.path_params["slug"])
    except ContestNotFoundError:
        raise HTTPException(404) from None


@public
async def contest_detail(request: Request) -> Response:
    now = utcnow()
    async with request.state.sessionmaker() as session:
        contest = await public_contest(session, request)
    event = contest.event
    # The card a shared link to the contest shows: its title, summary and the event's logo.
    card: dict[str, Any] = {
        "title": contest.title,
        "description": contest.summary or gettext(labels.CONTEST_KIND_HINTS[contest.kind]),
        "url": str(request.url_for("contest", slug=contest.slug)),
        "image": None,
    }
    if event.logo_key:
        logo = await logo_link(request.state.storage, event.logo_key)
        card["image"] = {
            "url": urljoin(str(request.base_url), logo),
            "alt": gettext("Logo of %(organizer)s", organizer=event.organizer),
        }
    return render(
        request,
        "public/contest.html",
        {
            "contest": contest,
            "event": event,
            "card": card,
            "phase": services.contest_phase(contest, now),
            "division_rules": division_rules(contest),
            "now": now,
            "labels": labels,
            "i18n": i18n,
        },
    )


@public
async def set_language(request: Request) -> Response:
    locale = request.path_params["locale"]
    if locale not in SUPPORTED_LOCALES:
        raise HTTPException(404)
    response = RedirectResponse(same_site_path(request.query_params.get("next")), status_code=303)
    response.set_cookie(
        LOCALE_COOKIE,
        locale,
        max_age=ONE_YEAR,
        httponly=True,
        samesite="lax",
        secure=request.state.settings.secure_cookies,
    )
    return response


@public
async def favicon(request: Request) -> Response:
    return FileResponse(
        FAVICON, media_type="image/x-icon", headers={"Cache-Control": f"public, max-age={ONE_DAY}"}
    )


routes = [
    Route("/", home),
    Route("/favicon.ico", favicon),
    Route("/contests/{slug:str}", contest_detail, name="contest"),
    Route("/lang/{locale:str}", set_language),
]
