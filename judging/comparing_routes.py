"""The comparative final's pages: a judge's pairs side by side, the organiser's opening of the
round and its standing (the ranking, its reliability, the judges' infit)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import rules
from contest.access import current_user, requires
from contest.db import MAX_ROW_ID
from contest.errors import ContestError
from contest.forms import read_form
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
