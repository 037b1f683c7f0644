"""The audience vote's pages: the public's ballot (one per receipt's code), and the organiser's
settings, counts and fraud flags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from contest import rules
from contest.access import client_ip, current_user, public, requires
from contest.db import MAX_ROW_ID
from contest.errors import ContestError, InvalidError
from contest.events.interfaces import ContestNotFoundError
from contest.events.services import get_public_contest
from contest.events.validation import local_datetime
from contest.files.links import gallery_link
from contest.forms import read_form
from contest.i18n import gettext
from contest.models import Asset, AssetRole, Contest, Entrant, Entry, Role
from contest.results.certificates import public_name
from contest.templating import render
from contest.urls import form_page
from contest.vote import services


@dataclass
class Candidate:
    entry_id: int
    title: str
    name: str
    thumbnail: str | None
    ballots: int | None


async def _candidates(
    request: Request, session: Any, contest: Contest, standing: services.Standing, *, shown: bool
) -> list[Candidate]:
    """The winners one may vote for, as the public sees them (names as consented), with their
    counts when they may be shown."""
    ids = [t.entry_id for t in standing.tallies]
    counts = {t.entry_id: t.ballots for t in standing.tallies}
    rows = (
        await session.execute(
            select(Entry.id, Entry.title, Entrant)
            .join(Entrant, Entrant.id == Entry.entrant_id)
            .where(Entry.id.in_(ids))
        )
    ).all()
    thumbs = dict(
        (
            await session.execute(
                select(Asset.entry_id, Asset.storage_key).where(
                    Asset.entry_id.in_(ids), Asset.role == AssetRole.THUMBNAIL
                )
            )
        ).all()
    )
    found = {row[0]: row for row in rows}
    made = []
    for entry_id in ids:
        _id, title, entrant = found[entry_id]
        key = thumbs.get(entry_id)
        made.append(
            Candidate(
                entry_id,
                title,
                public_name(entrant),
                await gallery_link(request.state.storage, key, content_type="image/jpeg")
                if key
                else None,
                counts[entry_id] if shown else None,
            )
        )
    return made


async def _vote_page(
    request: Request,
    *,
    message: str | None = None,
    voted: bool = False,
    code: str = "",
    status_code: int = 200,
) -> Response:
    async with request.state.sessionmaker() as session:
        try:
            contest = await get_public_contest(session, slug=request.path_params["slug"])
        except ContestNotFoundError:
            raise HTTPException(404) from None
        standing = await services.standing(session, contest_id=contest.id)
        if standing.vote is None:
            raise HTTPException(404)
        shown = not (standing.open and standing.vote.counts_hidden)
        candidates = await _candidates(request, session, contest, standing, shown=shown)
    return render(
        request,
        "public/vote.html",
        {
            "contest": contest,
            "event": contest.event,
            "standing": standing,
            "candidates": candidates,
            "counts_shown": shown,
            "leaders": set(standing.leaders) if not standing.open else set(),
            "message": message,
            "voted": voted,
            "code": code,
        },
        status_code=status_code,
    )


@public
async def vote_page(request: Request) -> Response:
    """The audience prize's ballot: the published winners, one vote per receipt's code."""
    if request.method == "GET":
        return await _vote_page(request, voted=request.query_params.get("voted") == "1")
    form = await read_form(request)
    code = form.get("code", "")[:40]
    raw_entry = form.get("entry", "").strip()
    entry_id = int(raw_entry) if raw_entry.isascii() and raw_entry.isdigit() else 0
    async with request.state.sessionmaker() as session:
        try:
            contest = await get_public_contest(session, slug=request.path_params["slug"])
        except ContestNotFoundError:
            raise HTTPException(404) from None
        try:
            if not 1 <= entry_id <= MAX_ROW_ID:
                raise InvalidError(gettext("Choose one of the entries shown."))
            await services.cast_ballot(
                session,
                contest=contest,
                code=code,
                entry_id=entry_id,
                secret_key=request.state.settings.secret_key,
                client_ip=client_ip(request),
            )
        except ContestError as exc:
            # The attempt is kept, refusal or not: it is what the limit per address counts.
            await session.commit()
            return await _vote_page(
                request, message=exc.message, code=code, status_code=exc.status_code
            )
        await session.commit()
    target = request.url_for("audience_vote", slug=request.path_params["slug"])
    return RedirectResponse(target.include_query_params(voted="1"), status_code=303)


@requires(Role.ADMIN)
async def vote_settings(request: Request) -> Response:
    """The organiser opens the audience vote, sees its counts and what looks like fraud."""
    user = current_user(request)
    errors: dict[str, str] = {}
    message = None
    status_code = 200
    async with request.state.sessionmaker() as session:
        contest = await rules.ensure_contest_for_organiser(
            session, user=user, contest_id=request.path_params["contest_id"]
        )
        if request.method == "POST":
            form = await read_form(request)
            try:
                try:
                    opens_at = local_datetime(form.get("opens_at", ""))
                    closes_at = local_datetime(form.get("closes_at", ""))
                except ValueError:
                    raise InvalidError(
                        gettext("Enter a date and time such as 17:00 07/10/2024."),
                        fields={
                            "opens_at": gettext("Enter a date and time such as 17:00 07/10/2024.")
                        },
                    ) from None
                await services.set_vote(
                    session,
                    contest=contest,
                    opens_at=opens_at,
                    closes_at=closes_at,
                    counts_hidden=form.get("counts_hidden") == "1",
                    actor=user,
                )
                await session.commit()
                return RedirectResponse(
                    request.url_for("admin_vote", contest_id=contest.id), status_code=303
                )
            except ContestError as exc:
                await session.rollback()
                errors, message, status_code = exc.fields, exc.message, exc.status_code
                contest = await rules.ensure_contest_for_organiser(
                    session, user=user, contest_id=request.path_params["contest_id"]
                )
        standing = await services.standing(session, contest_id=contest.id)
        candidates = await _candidates(request, session, contest, standing, shown=True)
    return render(
        request,
        "admin/vote.html",
        {
            "contest": contest,
            "standing": standing,
            "candidates": candidates,
            "errors": errors,
            "message": message,
        },
        status_code=status_code,
    )


routes: list[BaseRoute] = [
    form_page("/contests/{slug:str}/vote", vote_page, "audience_vote"),
    form_page("/admin/contests/{contest_id:int}/vote", vote_settings, "admin_vote"),
]
