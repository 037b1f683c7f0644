"""The organisers' results console: compute, review (a prize changed only with a reason) and
publish in one step. Each action is one call of contest.results.services; its refusals are
ResultsErrors answered by the one error handler."""

from __future__ import annotations

import dataclasses

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import labels, rules
from contest.access import current_user, requires
from contest.events.services import contest_divisions
from contest.forms import optional_choice, read_form
from contest.i18n import gettext
from contest.jobs.queue import start_job
from contest.jobs.routes import jobs_context, to_job_page
from contest.models import Job, Prize, Role
from contest.pagination import choice_filter, id_filter, page_request, receipt_filter
from contest.results import services
from contest.results.api import start_results_job
from contest.templating import render


@requires(Role.ADMIN)
async def results_page(request: Request) -> Response:
    """The results a page at a time, by division, prize or receipt code; the prize form on the
    rows of this page only."""
    params = request.query_params
    page = page_request(params)
    filters = services.ResultFilters(
        division_id=id_filter(params, "division"),
        prize=choice_filter(params, "prize", Prize),
        receipt_code=receipt_filter(params),
    )
    async with request.state.sessionmaker() as session:
        contest = await rules.ensure_contest_for_organiser(
            session, user=current_user(request), contest_id=request.path_params["contest_id"]
        )
        divisions = await contest_divisions(session, contest_id=contest.id)
        # One division at a time, the first by default (a receipt code looks in all): a page of
        # a division is read in rank order from an index, all divisions together sorted whole.
        if filters.division_id is None and filters.receipt_code is None and divisions:
            filters = dataclasses.replace(filters, division_id=divisions[0].id)
        rows = await services.results_page(
            session, contest_id=contest.id, filters=filters, page=page
        )
        published = await services.is_published(session, contest_id=contest.id)
        jobs = await jobs_context(request, session, contest_id=contest.id)
        computed = bool(rows.items) or await services.has_results(session, contest_id=contest.id)
    return render(
        request,
        "results/console.html",
        {
            "contest": contest,
            "rows": rows,
            "computed": computed,
            "published": published,
            "labels": labels,
            "prizes": list(Prize),
            "divisions": divisions,
            "filters": filters,
            "receipt": params.get("receipt", "").strip(),
            "message": request.session.pop("results_message", None),
            **jobs,
        },
    )


# The console's files, each written by a job into storage and downloaded from its page.
EXPORTS: dict[str, tuple[str, dict[str, str]]] = {
    "results_xlsx": ("export_results", {"format": "xlsx"}),
    "results_csv": ("export_results", {"format": "csv"}),
    "certificates": ("export_certificates", {}),
}


async def _start_export(request: Request, what: str) -> Job:
    choice = EXPORTS.get(what)
    if choice is None:
        raise HTTPException(422, gettext("Choose one of the options."))
    kind, params = choice
    actor = current_user(request)
    async with request.state.sessionmaker() as session:
        contest = await rules.ensure_contest_for_organiser(
            session, user=actor, contest_id=request.path_params["contest_id"]
        )
    return await start_job(
        request.state.sessionmaker,
        request.state.jobs,
        kind=kind,
        contest_id=contest.id,
        params=params,
        actor=actor,
    )


@requires(Role.ADMIN)
async def results_action(request: Request) -> Response:
    """Compute or publish (each a job), or override a prize with a reason; each audited."""
    form = await read_form(request)
    action = form.get("action", "")
    actor = current_user(request)
    if action == "export":
        return to_job_page(request, await _start_export(request, form.get("what", "")))
    if action in ("compute", "publish"):
        # Long at national size: a job, followed on its page.
        job = await start_results_job(request, action, request.path_params["contest_id"])
        return to_job_page(request, job)
    async with request.state.sessionmaker.begin() as session:
        contest = await rules.ensure_contest_for_organiser(
            session, user=actor, contest_id=request.path_params["contest_id"]
        )
        if action == "override":
            try:
                result_id = int(form.get("result", ""))
            except ValueError:
                raise HTTPException(422, gettext("Choose one of the options.")) from None
            await services.override_prize(
                session,
                result_id=result_id,
                prize=optional_choice(Prize, form.get("prize", "")),
                reason=form.get("reason", ""),
                actor=actor,
            )
            message = gettext("The prize was changed.")
        else:
            raise HTTPException(422, gettext("Choose one of the options."))
    request.session["results_message"] = message
    return RedirectResponse(
        request.url_for("admin_results", contest_id=contest.id), status_code=303
    )


# The console is read and acted on at one address.
CONSOLE_PATH = "/admin/contests/{contest_id:int}/results"

routes: list[BaseRoute] = [
    Route(CONSOLE_PATH, results_page, name="admin_results"),
    Route(CONSOLE_PATH, results_action, methods=["POST"], name="admin_results_action"),
]
