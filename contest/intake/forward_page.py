"""Forwarding a contest's best entries to the next level's contest: the organiser's page and
its API twin, both through ``contest.intake.forwarding.forward_entries``. An organiser of some
units forwards for their units (a province's organiser, their province's best)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import rules
from contest.access import current_user, organiser_scope, request_storage, requires
from contest.errors import ContestError, InvalidError
from contest.forms import read_form_lists, read_json_object, verify_csrf
from contest.i18n import gettext
from contest.intake import forwarding
from contest.models import Contest, Entrant, Role, Unit
from contest.templating import render
from contest.urls import form_page

ADMIN = Role.ADMIN
# The most receipt codes one request may name (a province's quota times its divisions is
# far fewer).
MAX_NAMED = 1000
RECEIPT_MAX = 32


async def _contest(
    request: Request, *, contest_id: int | None = None, slug: str | None = None
) -> Contest:
    async with request.state.sessionmaker() as session:
        return await rules.ensure_contest_for_organiser(
            session, user=current_user(request), contest_id=contest_id, slug=slug
        )


async def _preview(request: Request, contest_id: int) -> dict[str, Any]:
    """The page's content: the contest, where it forwards, and what would go (the best of
    each unit and division still within the quota), or why nothing can."""
    scope = await organiser_scope(request)
    async with request.state.sessionmaker() as session:
        contest = await rules.ensure_contest_for_organiser(
            session, user=current_user(request), contest_id=contest_id
        )
        target = await forwarding.forward_target(session, contest)
        rows: list[dict[str, Any]] = []
        refusal = None
        try:
            plan = await forwarding.plan_forwarding(
                session, source_id=contest.id, receipt_codes=None, scope=scope
            )
        except ContestError as exc:
            refusal = exc.message
        else:
            names = await _names(session, plan)
            rows = [
                {
                    "code": c.entry.receipt_code,
                    "title": c.entry.title,
                    "entrant": names["entrants"].get(c.entry.entrant_id, ""),
                    "unit": names["units"].get(c.root_id or 0, "—"),
                    "division": names["divisions"].get(c.division_key or "", "—"),
                    "rank": c.result.rank,
                    "score": c.result.final_score,
                }
                for c in plan.chosen
            ]
    return {"contest": contest, "target": target, "rows": rows, "refusal": refusal}


async def _names(session: Any, plan: forwarding.Plan) -> dict[str, dict[Any, str]]:
    units = {c.root_id for c in plan.chosen if c.root_id is not None}
    entrants = {c.entry.entrant_id for c in plan.chosen}
    return {
        "units": dict(
            (await session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(units)))).all()
        ),
        "entrants": dict(
            (
                await session.execute(
                    select(Entrant.id, Entrant.full_name).where(Entrant.id.in_(entrants))
                )
            ).all()
        ),
        "divisions": {key: division.name for key, division in plan.divisions.items()},
    }


async def _forward(
    request: Request, contest: Contest, *, codes: list[str] | None, with_scores: bool
) -> forwarding.ForwardReport:
    return await forwarding.forward_entries(
        request.state.sessionmaker,
        request_storage(request),
        source_id=contest.id,
        receipt_codes=codes,
        scope=await organiser_scope(request),
        with_scores=with_scores,
        actor=current_user(request),
    )


@requires(ADMIN, for_units=True)
async def forward_page(request: Request) -> Response:
    """The best entries of each unit and division within the quota, ticked; the organiser
    keeps or unticks them, chooses whether the scores go along, and forwards."""
    contest_id = request.path_params["contest_id"]
    message, status_code = None, 200
    if request.method == "POST":
        form, lists = await read_form_lists(request)
        codes = [c[:RECEIPT_MAX] for c in lists.get("entry", [])][:MAX_NAMED]
        contest = await _contest(request, contest_id=contest_id)
        try:
            report = await _forward(
                request, contest, codes=codes, with_scores=form.get("with_scores") == "1"
            )
        except ContestError as exc:
            message, status_code = exc.message, exc.status_code
        else:
            target = request.url_for("admin_forward", contest_id=contest_id)
            return RedirectResponse(
                target.include_query_params(forwarded=len(report.forwarded)), status_code=303
            )
    context = await _preview(request, contest_id)
    forwarded = request.query_params.get("forwarded", "")
    if message is None and forwarded.isascii() and forwarded.isdigit() and context["target"]:
        message = gettext(
            "%(count)s entries were forwarded to %(contest)s.",
            count=forwarded,
            contest=context["target"].title,
        )
    return render(
        request,
        "admin/forward.html",
        {**context, "message": message, "failed": status_code != 200},
        status_code=status_code,
    )


@requires(ADMIN, for_units=True)
async def api_forward(request: Request) -> Response:
    """Forward entries to the next level's contest: the ones named, or the best of each unit
    and division within the quota. An organiser of some units forwards for their units.
    ---
    summary: Forward entries to the next level
    operationId: forwardEntries
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
    requestBody:
      json:
        type: object
        properties:
          entries:
            type: array
            description: Receipt codes; left out, the best of each unit and division go.
            maxItems: 1000
            items: {type: string, maxLength: 32}
          with_scores: {type: boolean, description: Carry each entry's final score along.}
        additionalProperties: false
    responses:
      "200":
        description: >-
          What was forwarded: each entry's receipt code here and in the next level's contest.
        json: {type: object}
      "404": {$ref: "#/components/responses/404"}
      "409": {$ref: "#/components/responses/409"}
      "422": {$ref: "#/components/responses/422"}
    """
    verify_csrf(request, None)
    body = await read_json_object(request, empty_is_object=True)
    codes = body.get("entries")
    with_scores = body.get("with_scores", False)
    if (
        set(body) - {"entries", "with_scores"}
        or not isinstance(with_scores, bool)
        or not (
            codes is None
            or (
                isinstance(codes, list)
                and len(codes) <= MAX_NAMED
                and all(isinstance(c, str) and len(c) <= RECEIPT_MAX for c in codes)
            )
        )
    ):
        raise InvalidError(
            gettext("Send the entries as a list of receipt codes and with_scores as true or false.")
        )
    contest = await _contest(request, slug=request.path_params["slug"])
    report = await _forward(request, contest, codes=codes, with_scores=with_scores)
    return JSONResponse(
        {
            "target": report.target.slug,
            "forwarded": [
                {"from": source, "receipt_code": code} for source, code in report.forwarded
            ],
        }
    )


routes: list[BaseRoute] = [
    form_page("/admin/contests/{contest_id:int}/forward", forward_page, "admin_forward"),
]

api_routes: list[BaseRoute] = [
    Route("/contests/{slug:str}/forward", api_forward, methods=["POST"], name="api_forward"),
]
