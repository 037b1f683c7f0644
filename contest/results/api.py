"""The results under /api/v1: organisers compute and publish them, as on the results console;
anyone reads a published contest's winners, named only as each entrant consented (as in the
winners' gallery)."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from contest import labels, rules
from contest.access import current_user, public, requires
from contest.forms import verify_csrf
from contest.i18n import gettext
from contest.jobs.queue import start_job
from contest.jobs.routes import accepted
from contest.models import Job, Prize, Role
from contest.results import services
from contest.results.gallery import load_gallery

PRIZE_VALUES = [prize.value for prize in Prize]

SCHEMAS: dict[str, Any] = {
    "ComputedResults": {
        "type": "object",
        "required": ["entries", "prizes"],
        "properties": {
            "entries": {"type": "integer", "minimum": 0, "description": "Entries ranked."},
            "prizes": {
                "type": "object",
                "description": "How many of each prize were awarded.",
                "propertyNames": {"enum": PRIZE_VALUES},
                "additionalProperties": {"type": "integer", "minimum": 0},
            },
        },
    },
    "PublishedResults": {
        "type": "object",
        "required": ["published"],
        "properties": {"published": {"type": "integer", "minimum": 0}},
    },
    "PublicResults": {
        "type": "object",
        "required": ["contest", "title", "event", "winners"],
        "properties": {
            "contest": {"type": "string"},
            "title": {"type": "string"},
            "event": {"type": "string"},
            "winners": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["division", "prize", "prize_label", "rank", "erased", "name"],
                    "properties": {
                        "division": {"type": ["string", "null"]},
                        "prize": {"type": "string", "enum": PRIZE_VALUES},
                        "prize_label": {"type": "string"},
                        "rank": {"type": "integer", "minimum": 1},
                        "erased": {
                            "type": "boolean",
                            "description": "The entrant's data was erased: only the prize "
                            "and division remain.",
                        },
                        "name": {
                            "type": ["string", "null"],
                            "description": "As the entrant consented: the full name, the "
                            "initials, or a word for an entrant who chose no name.",
                        },
                        "unit": {"type": ["string", "null"]},
                        "title": {"type": ["string", "null"]},
                        "book_title": {"type": ["string", "null"]},
                        "book_author": {"type": ["string", "null"]},
                    },
                },
            },
        },
    },
}


async def start_results_job(request: Request, action: str, contest_id: int | None = None) -> Job:
    """Compute or publish as a job, after the quick refusals (contest.results.services): the
    results console and the API both start them here."""
    user = current_user(request)
    async with request.state.sessionmaker() as session:
        contest = await rules.ensure_contest_for_organiser(
            session, user=user, contest_id=contest_id, slug=request.path_params.get("slug")
        )
        await services.ensure_may_start(session, contest_id=contest.id, action=action)
    return await start_job(
        request.state.sessionmaker,
        request.state.jobs,
        kind=f"results_{action}",
        contest_id=contest.id,
        actor=user,
    )


@requires(Role.ADMIN)
async def api_compute_results(request: Request) -> Response:
    """Rank each division and award prizes: a preview only organisers see, as the results
    console's *Compute*. Recomputing keeps the prizes an organiser changed with a reason.
    ---
    summary: Compute results
    operationId: computeResults
    responses:
      "202":
        description: >-
          Computing runs as a job; follow it at the Location given. Its result, when done,
          says how many entries were ranked and the prizes awarded (ComputedResults).
        json: {$ref: "#/components/schemas/Job"}
      "409": {$ref: "#/components/responses/409"}
    """
    verify_csrf(request, None)
    return accepted(request, await start_results_job(request, "compute"))


@requires(Role.ADMIN)
async def api_publish_results(request: Request) -> Response:
    """Publish the computed results in one step, as the results console's *Publish*: winners
    get their certificates' serials, entrants see their results, the gallery opens.
    ---
    summary: Publish results
    operationId: publishResults
    responses:
      "202":
        description: >-
          Publication runs as a job, in one step; follow it at the Location given. Its result,
          when done, says how many results were published (PublishedResults).
        json: {$ref: "#/components/schemas/Job"}
      "409": {$ref: "#/components/responses/409"}
    """
    verify_csrf(request, None)
    return accepted(request, await start_results_job(request, "publish"))


@public
async def api_public_results(request: Request) -> Response:
    """A published contest's winners by division, named only as each entrant consented (the
    winners' gallery's data). Before publication, and for no such contest, the answer is 404.
    ---
    summary: Read a contest's published results
    operationId: readPublicResults
    responses:
      "200":
        description: The winners, division by division, prize by prize.
        json: {$ref: "#/components/schemas/PublicResults"}
    """
    async with request.state.engine.connect() as connection:
        gallery = await load_gallery(connection, slug=request.path_params["slug"])
    if gallery is None:
        raise HTTPException(404, gettext("There are no published prize winners here yet."))
    winners = []
    for winner in gallery.winners:
        item: dict[str, Any] = {
            "division": winner.division[1] if winner.division else None,
            "prize": winner.prize.value,
            "prize_label": gettext(labels.PRIZES[winner.prize]),
            "rank": winner.rank,
            "erased": winner.erased,
            "name": None,
        }
        if not winner.erased:
            item.update(
                name=winner.public_name(),
                unit=winner.unit,
                title=winner.title,
                book_title=winner.book_title or None,
                book_author=winner.book_author or None,
            )
        winners.append(item)
    return JSONResponse(
        {
            "contest": gallery.slug,
            "title": gallery.title,
            "event": gallery.event_name,
            "winners": winners,
        }
    )


api_routes: list[BaseRoute] = [
    Route("/contests/{slug:str}/results", api_public_results, methods=["GET"]),
    Route("/contests/{slug:str}/results/compute", api_compute_results, methods=["POST"]),
    Route("/contests/{slug:str}/results/publish", api_publish_results, methods=["POST"]),
]
