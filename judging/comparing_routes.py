"""The comparative final's pages: a judge's pairs side by side, the organiser's opening of the
round and its standing (the ranking, its reliability, the judges' infit), and what it does to
the results; and the same under /api/v1 (a judge's next pair and their pick, the standing,
the choice for the results)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import rules
from contest.access import current_user, requires
from contest.db import MAX_ROW_ID
from contest.errors import ContestError
from contest.forms import read_form, read_json_object, verify_csrf
from contest.models import Role, RoundKind
from contest.templating import render
from judging import comparing, services
from judging.files import entry_files


def _entry_id(raw: str | None) -> int:
    value = (raw or "").strip()
    if value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_ROW_ID:
        return int(value)
    return 0  # no entry has it: refused as "not one of the two"


async def _pair_page(
    request: Request, pair: comparing.PairView | None, *, message: str | None, status: int
) -> Response:
    context: dict[str, Any] = {"pair": pair, "message": message}
    if pair is not None:
        context["left_files"] = await entry_files(request, pair.left.assets)
        context["right_files"] = await entry_files(request, pair.right.assets)
    return render(request, "judge/compare.html", context, status_code=status)


@requires(Role.JUDGE)
async def compare(request: Request) -> Response:
    """The judge's next pair: two entries side by side and a button under each."""
    async with request.state.sessionmaker() as session:
        pair = await comparing.next_pair(session, judge=current_user(request))
        return await _pair_page(request, pair, message=None, status=200)


@requires(Role.JUDGE)
async def decide(request: Request) -> Response:
    judge = current_user(request)
    form = await read_form(request)
    async with request.state.sessionmaker() as session:
        try:
            await comparing.decide(
                session,
                comparison_id=request.path_params["comparison_id"],
                judge=judge,
                winner_entry_id=_entry_id(form.get("winner")),
            )
        except ContestError as exc:
            await session.rollback()
            pair = await comparing.next_pair(session, judge=judge)
            return await _pair_page(request, pair, message=exc.message, status=exc.status_code)
        await session.commit()
    return RedirectResponse(request.url_for("judge_compare"), status_code=303)


@requires(Role.ADMIN)
async def open_final(request: Request) -> Response:
    """Close the round and open a comparative final with the best N of each division, its
    pairs planned and given out at once."""
    form = await read_form(request)
    user = current_user(request)
    async with request.state.sessionmaker.begin() as session:
        contest = await rules.ensure_contest_for_organiser(
            session, user=user, contest_id=request.path_params["contest_id"]
        )
        per_entry = comparing.check_per_entry(form.get("per_entry", ""))
        count = comparing.check_shortlist(form.get("count", ""))
        await services.shortlist(
            session,
            contest_id=contest.id,
            top_per_division=count,
            actor=user,
            kind=RoundKind.COMPARATIVE,
        )
        await comparing.plan_round(session, contest_id=contest.id, per_entry=per_entry, actor=user)
    return RedirectResponse(
        request.url_for("admin_comparative", contest_id=contest.id), status_code=303
    )


@requires(Role.ADMIN)
async def choose_results(request: Request) -> Response:
    """What the finished final does to the results: rank the shortlist or break ties."""
    form = await read_form(request)
    user = current_user(request)
    async with request.state.sessionmaker.begin() as session:
        contest = await rules.ensure_contest_for_organiser(
            session, user=user, contest_id=request.path_params["contest_id"]
        )
        await comparing.choose_results(
            session, contest_id=contest.id, mode=form.get("mode", ""), actor=user
        )
    return RedirectResponse(
        request.url_for("admin_comparative", contest_id=contest.id), status_code=303
    )


@requires(Role.ADMIN)
async def standing_page(request: Request) -> Response:
    async with request.state.sessionmaker() as session:
        contest = await rules.ensure_contest_for_organiser(
            session, user=current_user(request), contest_id=request.path_params["contest_id"]
        )
        standing = await comparing.standing(session, contest_id=contest.id)
    return render(
        request,
        "admin/comparative.html",
        {
            "contest": contest,
            "standing": standing,
            "warning": comparing.INFIT_WARNING,
            "mode": comparing.results_mode(standing.round).value,
        },
    )


# --- /api/v1 ------------------------------------------------------------------------------


async def _side_json(request: Request, side: comparing.Side) -> dict[str, Any]:
    """An entry of a pair as its judge sees it: the work, nothing that names the entrant."""
    entry = side.entry
    return {
        "id": entry.id,
        "title": entry.title,
        "book_title": entry.book_title,
        "book_author": entry.book_author,
        "text": entry.body_text,
        "files": [
            {"viewer": f["viewer"], "url": f["url"], "size": f["size"], "text": f["text"]}
            for f in await entry_files(request, side.assets)
        ],
    }


async def _json_field(request: Request, name: str) -> object:
    """One field of a write's JSON body (None when absent), after its CSRF check."""
    verify_csrf(request, None)
    return (await read_json_object(request)).get(name)


@requires(Role.JUDGE)
async def api_next_pair(request: Request) -> Response:
    """The signed-in judge's next pair to compare, blind, as on the comparison page.
    ---
    summary: My next pair
    operationId: readMyNextPair
    responses:
      "200":
        description: >-
          The pair (null once every pair of mine in an open round is decided) and how many
          of mine are decided.
        json: {$ref: "#/components/schemas/NextPair"}
    """
    judge = current_user(request)
    async with request.state.sessionmaker() as session:
        pair = await comparing.next_pair(session, judge=judge)
        if pair is None:
            done, total = await comparing.judge_counts(session, judge=judge)
            return JSONResponse({"pair": None, "done": done, "total": total})
        return JSONResponse(
            {
                "pair": {
                    "id": pair.comparison.id,
                    "contest": pair.contest.slug,
                    "left": await _side_json(request, pair.left),
                    "right": await _side_json(request, pair.right),
                },
                "done": pair.done,
                "total": pair.total,
            }
        )


@requires(Role.JUDGE)
async def api_decide(request: Request) -> Response:
    """Pick the better entry of one of my pairs. The same pick sent again stands; another
    pick after it is refused.
    ---
    summary: Decide my pair
    operationId: decideMyPair
    requestBody:
      json:
        type: object
        required: [winner]
        properties:
          winner: {type: integer, description: "The id of the better of the two entries."}
    responses:
      "200":
        description: The pick, stored.
        json:
          type: object
          required: [id, winner]
          properties:
            id: {type: integer}
            winner: {type: integer}
      "409": {$ref: "#/components/responses/409"}
    """
    winner = await _json_field(request, "winner")
    async with request.state.sessionmaker.begin() as session:
        comparison = await comparing.decide(
            session,
            comparison_id=request.path_params["comparison_id"],
            judge=current_user(request),
            # Anything but a row id is no entry of the pair: refused as such.
            winner_entry_id=winner
            if isinstance(winner, int) and not isinstance(winner, bool)
            else 0,
        )
        return JSONResponse({"id": comparison.id, "winner": comparison.winner_entry_id})


async def _organised(request: Request, session: Any) -> int:
    contest = await rules.ensure_contest_for_organiser(
        session, user=current_user(request), slug=request.path_params["slug"]
    )
    return contest.id


@requires(Role.ADMIN)
async def api_standing(request: Request) -> Response:
    """The comparative final's standing: the ranking with each entry's strength and standard
    error, the scale's reliability, each judge's infit, and what the final does to
    the results.
    ---
    summary: Comparative final standing
    operationId: readComparativeStanding
    responses:
      "200":
        description: The standing so far.
        json: {$ref: "#/components/schemas/ComparativeStanding"}
      "409": {$ref: "#/components/responses/409"}
    """
    async with request.state.sessionmaker() as session:
        standing = await comparing.standing(session, contest_id=await _organised(request, session))
    return JSONResponse(
        {
            "round": standing.round.number,
            "open": standing.round.status.value == "open",
            "results": comparing.results_mode(standing.round).value,
            "planned": standing.planned,
            "decided": standing.decided,
            "entries": standing.entries,
            "reliability": standing.reliability,
            "ranking": [
                {
                    "rank": row.rank,
                    "entry": row.entry_id,
                    "receipt_code": row.receipt_code,
                    "title": row.title,
                    "strength": row.strength,
                    "standard_error": row.standard_error,
                    "comparisons": row.comparisons,
                }
                for row in standing.ranking
            ],
            "judges": [
                {
                    "id": judge.judge_id,
                    "name": judge.name,
                    "decided": judge.decided,
                    "planned": judge.planned,
                    "infit": judge.infit,
                    "inconsistent": judge.inconsistent,
                }
                for judge in standing.judges
            ],
        }
    )


@requires(Role.ADMIN)
async def api_choose_results(request: Request) -> Response:
    """What the finished final does to the results: `rank` (its order ranks the shortlist and
    gives its prizes) or `ties` (the rubric order stands; its order only separates entries
    tied on the rubric score).
    ---
    summary: Choose the final's effect on the results
    operationId: chooseComparativeResults
    requestBody:
      json:
        type: object
        required: [mode]
        properties:
          mode: {type: string, enum: [rank, ties]}
    responses:
      "200":
        description: The choice, stored.
        json:
          type: object
          required: [results]
          properties:
            results: {type: string, enum: [rank, ties]}
      "409": {$ref: "#/components/responses/409"}
    """
    mode = await _json_field(request, "mode")
    async with request.state.sessionmaker.begin() as session:
        round_ = await comparing.choose_results(
            session,
            contest_id=await _organised(request, session),
            mode=mode if isinstance(mode, str) else "",
            actor=current_user(request),
        )
        return JSONResponse({"results": comparing.results_mode(round_).value})


def _fields(**types: str | list[str]) -> dict[str, Any]:
    """An object schema of plain typed fields."""
    return {"type": "object", "properties": {name: {"type": t} for name, t in types.items()}}


API_SCHEMAS: dict[str, Any] = {
    "PairEntry": {
        "type": "object",
        "required": ["id", "title", "files"],
        "description": "An entry of a pair, blind: nothing names the entrant.",
        "properties": {
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "book_title": {"type": ["string", "null"]},
            "book_author": {"type": ["string", "null"]},
            "text": {"type": ["string", "null"]},
            "files": {"type": "array", "items": {"type": "object"}},
        },
    },
    "NextPair": {
        "type": "object",
        "required": ["pair", "done", "total"],
        "properties": {
            "pair": {
                "type": ["object", "null"],
                "required": ["id", "contest", "left", "right"],
                "properties": {
                    "id": {"type": "integer"},
                    "contest": {"type": "string"},
                    "left": {"$ref": "#/components/schemas/PairEntry"},
                    "right": {"$ref": "#/components/schemas/PairEntry"},
                },
            },
            "done": {"type": "integer", "minimum": 0},
            "total": {"type": "integer", "minimum": 0},
        },
    },
    "ComparativeStanding": {
        "type": "object",
        "required": ["round", "results", "planned", "decided", "reliability", "ranking", "judges"],
        "properties": {
            "round": {"type": "integer"},
            "open": {"type": "boolean"},
            "results": {"type": "string", "enum": ["rank", "ties"]},
            "planned": {"type": "integer"},
            "decided": {"type": "integer"},
            "entries": {"type": "integer"},
            "reliability": {
                "type": ["number", "null"],
                "description": (
                    "The scale's reliability: the share of the strengths' spread that is not "
                    "measurement error; null before any pair is decided."
                ),
            },
            "ranking": {
                "type": "array",
                "description": "The strongest entries first (the first 50).",
                "items": _fields(
                    rank="integer",
                    entry="integer",
                    receipt_code="string",
                    title="string",
                    strength="number",
                    standard_error="number",
                    comparisons="integer",
                ),
            },
            "judges": {
                "type": "array",
                "items": _fields(
                    id="integer",
                    name="string",
                    decided="integer",
                    planned="integer",
                    infit=["number", "null"],
                    inconsistent="boolean",
                ),
            },
        },
    },
}

api_routes: list[BaseRoute] = [
    Route("/judge/comparisons/next", api_next_pair, methods=["GET"], name="api_judge_next_pair"),
    Route(
        "/judge/comparisons/{comparison_id:int}",
        api_decide,
        methods=["POST"],
        name="api_judge_decide",
    ),
    Route("/contests/{slug:str}/comparative", api_standing, methods=["GET"]),
    Route("/contests/{slug:str}/comparative/results", api_choose_results, methods=["PUT"]),
]


routes: list[BaseRoute] = [
    Route("/judge/compare", compare, name="judge_compare"),
    Route(
        "/judge/compare/{comparison_id:int}",
        decide,
        methods=["POST"],
        name="judge_compare_decide",
    ),
    Route(
        "/admin/contests/{contest_id:int}/comparative",
        standing_page,
        name="admin_comparative",
    ),
    Route(
        "/admin/contests/{contest_id:int}/comparative/open",
        open_final,
        methods=["POST"],
        name="admin_comparative_open",
    ),
    Route(
        "/admin/contests/{contest_id:int}/comparative/results",
        choose_results,
        methods=["POST"],
        name="admin_comparative_results",
    ),
]
