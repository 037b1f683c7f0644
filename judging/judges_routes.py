"""The organiser's action on one judge of a contest: a judge who does not show up hands their
unfinished work to the others in one step."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import rules
from contest.access import current_user, requires
from contest.forms import read_form
from contest.models import Role
from judging import handover


@requires(Role.ADMIN)
async def hand_over(request: Request) -> Response:
    await read_form(request)
    user = current_user(request)
    async with request.state.sessionmaker.begin() as session:
        contest = await rules.ensure_contest_for_organiser(
            session, user=user, contest_id=request.path_params["contest_id"]
        )
        done = await handover.hand_over(
            session, contest_id=contest.id, judge_id=request.path_params["judge_id"], actor=user
        )
    target = request.url_for("admin_slips", contest_id=contest.id)
    return RedirectResponse(
        target.include_query_params(moved=done.moved, kept=done.kept), status_code=303
    )


routes: list[BaseRoute] = [
    Route(
        "/admin/contests/{contest_id:int}/judges/{judge_id:int}/hand-over",
        hand_over,
        methods=["POST"],
        name="admin_hand_over",
    ),
]
