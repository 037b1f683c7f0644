"""A coordinator's own page: their units, and for each contest how many entries the units sent
and where to send more. It is where a coordinator lands on signing in."""

from __future__ import annotations

import io

from sqlalchemy import func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from contest import labels, rules
from contest.access import current_user, requires
from contest.db import utcnow
from contest.events import services as events
from contest.events.interfaces import ContestNotFoundError
from contest.intake import paper_labels as labels_pdf
from contest.intake import services
from contest.models import Entrant, Entry, EntryStatus, Role
from contest.templating import render


@requires(Role.COORDINATOR)
async def coordinator_home(request: Request) -> Response:
    user = current_user(request)
    now = utcnow()
    async with request.state.sessionmaker() as session:
        event = await events.find_current_event(session)
        if event is None:
            return render(request, "public/empty.html")
        units = await rules.submittable_units(session, user=user, event_id=event.id)
        rows = await session.execute(
            select(Entry.contest_id, func.count(Entry.id))
            .join(Entrant, Entrant.id == Entry.entrant_id)
            .where(
                Entrant.unit_id.in_([u.id for u in units]),
                Entry.status == EntryStatus.SUBMITTED,
            )
            .group_by(Entry.contest_id)
        )
        counts: dict[int, int] = {contest_id: count for contest_id, count in rows}
    contests = [
        {"contest": c, "phase": events.contest_phase(c, now), "entries": counts.get(c.id, 0)}
        for c in events.public_contests(event)
    ]
    return render(
        request,
        "submit/coordinator.html",
        {"units": services.group_units(units), "contests": contests, "labels": labels},
    )


@requires(Role.COORDINATOR, Role.ADMIN, for_units=True)
async def paper_labels(request: Request) -> Response:
    """Labels for the paper entries of the coordinator's units in a contest (a PDF)."""
    user = current_user(request)
    async with request.state.sessionmaker() as session:
        try:
            contest = await events.get_public_contest(session, slug=request.path_params["slug"])
        except ContestNotFoundError:
            raise HTTPException(404) from None
        units = await rules.submittable_units(session, user=user, event_id=contest.event_id)
        found = await labels_pdf.unit_labels(session, contest_id=contest.id, units=units)
    out = io.BytesIO()
    labels_pdf.write_labels(found, contest_title=contest.title, out=out)
    return Response(
        out.getvalue(),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="labels-{contest.slug}.pdf"'},
    )


routes: list[BaseRoute] = [
    Route("/coordinator", coordinator_home),
    Route("/coordinator/contests/{slug:str}/labels.pdf", paper_labels, name="coordinator_labels"),
]
