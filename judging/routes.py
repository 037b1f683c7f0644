"""Judges' pages (queue, blind entry view, rubric form) and the organiser's judging pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import rules
from contest.access import current_user, organiser_scope, requires
from contest.db import MAX_ROW_ID
from contest.errors import InvalidError
from contest.events.validation import local_datetime
from contest.forms import read_form, read_json_object, verify_csrf
from contest.i18n import gettext, normalize_text
from contest.jobs.queue import start_job
from contest.jobs.routes import accepted, jobs_context, to_job_page
from contest.models import Contest, Job, Role, Round
from contest.pagination import id_filter, page_request, receipt_filter, search_text
from contest.templating import render
from contest.urls import form_page
from judging import comparing, services
from judging.files import entry_files
from judging.interfaces import ScoreInvalidError

MAX_COMMENT = 4000


async def _own_assignment(request: Request) -> None:
    """404 unless the assignment is the signed-in judge's: asked before the body is read."""
    async with request.state.sessionmaker() as session:
        await rules.ensure_judge_assignment(
            session,
            assignment_id=request.path_params["assignment_id"],
            judge=current_user(request),
        )


# --- judges -----------------------------------------------------------------------------------


@requires(Role.JUDGE)
async def queue(request: Request) -> Response:
    judge = current_user(request)
    async with request.state.sessionmaker() as session:
        items = await services.judge_queue(session, judge=judge)
        comparisons = await comparing.judge_counts(session, judge=judge)
    return render(request, "judge/queue.html", {"queue": items, "comparisons": comparisons})


async def _files(request: Request, view: services.JudgeView) -> list[dict[str, Any]]:
    return await entry_files(request, view.assets)


async def _entry_page(
    request: Request,
    view: services.JudgeView,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    saved: str | None = None,
) -> Response:
    score = view.score
    if values is None:
        values = {
            "points": dict(score.points) if score else {},
            "comment": score.comment_to_organizers if score else "",
            "feedback": score.feedback_to_entrant if score else "",
        }
    return render(
        request,
        "judge/entry.html",
        {
            "view": view,
            "files": await _files(request, view),
            "values": values,
            "errors": errors or {},
            "saved": saved,
            "editable": view.round.status.value == "open",
        },
        status_code=status_code,
    )


@requires(Role.JUDGE)
async def entry(request: Request) -> Response:
    judge = current_user(request)
    assignment_id = request.path_params["assignment_id"]
    async with request.state.sessionmaker.begin() as session:
        view = await services.judge_view(session, assignment_id=assignment_id, judge=judge)
        if request.method == "GET":
            saved = request.query_params.get("saved")
            return await _entry_page(request, view, saved=saved)

        form = await read_form(request)
        points = {c.key: form.get(f"points.{c.key}", "") for c in view.criteria}
        comment = form.get("comment", "")[:MAX_COMMENT]
        feedback = form.get("feedback", "")[:MAX_COMMENT]
        action = form.get("action", "save")
        try:
            await services.save_score(
                session,
                assignment_id=assignment_id,
                judge=judge,
                points=points,
                comment=comment,
                feedback=feedback,
                submit=action in ("submit", "submit_next"),
            )
        except ScoreInvalidError as exc:
            values = {"points": points, "comment": comment, "feedback": feedback}
            return await _entry_page(
                request, view, values=values, errors=exc.form_errors(), status_code=422
            )
        next_id = view.next_assignment_id
    if action == "submit_next" and next_id is not None:
        return RedirectResponse(request.url_for("judge_entry", assignment_id=next_id), 303)
    target = request.url_for("judge_entry", assignment_id=assignment_id)
    return RedirectResponse(target.include_query_params(saved=action), status_code=303)


@requires(Role.JUDGE)
async def autosave(request: Request) -> Response:
    """The draft, saved by the page's script while the judge types (JSON, same rules)."""
    return await _score_from_json(request, may_submit=False)


async def _score_from_json(request: Request, *, may_submit: bool) -> Response:
    """Save a score sent as JSON: the page's autosave (drafts only) and the API."""
    verify_csrf(request, None)
    await _own_assignment(request)
    body = await read_json_object(request)
    points = body.get("points", {})
    if not isinstance(points, dict):
        raise HTTPException(400, gettext("The request body must be a JSON object."))
    # Each field as its description types it: a wrong type is refused, never read as text.
    texts_ok = all(
        isinstance(body.get(name, ""), str) and len(body.get(name, "")) <= MAX_COMMENT
        for name in ("comment", "feedback")
    )
    if not texts_ok or not isinstance(body.get("submit", False), bool):
        raise InvalidError(gettext("Some information needs correcting"))
    async with request.state.sessionmaker.begin() as session:
        score = await services.save_score(
            session,
            assignment_id=request.path_params["assignment_id"],
            judge=current_user(request),
            points=points,
            comment=normalize_text(str(body.get("comment", "")))[:MAX_COMMENT],
            feedback=normalize_text(str(body.get("feedback", "")))[:MAX_COMMENT],
            submit=may_submit and bool(body.get("submit", False)),
        )
        return JSONResponse({"score": _score_json(score)})


@requires(Role.JUDGE)
async def recuse(request: Request) -> Response:
    # Whose entry it is comes before what the form says.
    await _own_assignment(request)
    form = await read_form(request)
    reason = form.get("reason", "")
    if not reason:
        raise HTTPException(422, gettext("Say briefly why you step back from this entry."))
    async with request.state.sessionmaker.begin() as session:
        await services.recuse(
            session,
            assignment_id=request.path_params["assignment_id"],
            judge=current_user(request),
            reason=reason[:MAX_COMMENT],
        )
    return RedirectResponse(request.url_for("judge_queue"), status_code=303)


# --- organisers -------------------------------------------------------------------------------
#
# Each action is one service call, shared by its page and its API twin; the handlers parse, ask
# contest.rules for the contest, call it inside one unit of work, and render. An organiser of
# some units judges their units' entries with their own judges (the page, progress, the judge
# picker, assignment, reassignment, another judge): each call takes their scope. The round's
# own actions (close, next round, deadline) stay the whole event's organisers'.


def _to_judging(request: Request, contest_id: int) -> Response:
    return RedirectResponse(
        request.url_for("admin_judging", contest_id=contest_id), status_code=303
    )


async def _contest(request: Request, session: AsyncSession) -> Contest:
    """The contest a page or an API call names: by id under /admin, by slug under /api."""
    params = request.path_params
    return await rules.ensure_contest_for_organiser(
        session,
        user=current_user(request),
        contest_id=params.get("contest_id"),
        slug=params.get("slug"),
    )


@requires(Role.ADMIN, for_units=True)
async def judging_page(request: Request) -> Response:
    params = request.query_params
    unfinished_page = page_request(params)
    judges_page = page_request(params, name="judges_page")
    judge_id = id_filter(params, "judge")
    receipt_code = receipt_filter(params)
    scope = await organiser_scope(request)
    async with request.state.sessionmaker() as session:
        contest = await _contest(request, session)
        progress = await services.contest_progress(
            session, contest_id=contest.id, judges_page=judges_page, scope=scope
        )
        unfinished = await services.unfinished_assignments(
            session,
            contest_id=contest.id,
            page=unfinished_page,
            judge_id=judge_id,
            receipt_code=receipt_code,
            scope=scope,
        )
        round_ = await services.current_round(session, contest_id=contest.id)
        jobs = await jobs_context(request, session, contest_id=contest.id)
    return render(
        request,
        "admin/judging.html",
        {
            "contest": contest,
            "progress": progress,
            "unfinished": unfinished,
            "filters": {"judge": judge_id or "", "receipt": params.get("receipt", "").strip()},
            "round": round_,
            **jobs,
        },
    )


async def _start_assignment(request: Request) -> Job:
    async with request.state.sessionmaker() as session:
        contest = await _contest(request, session)
    return await start_job(
        request.state.sessionmaker,
        request.state.jobs,
        kind="assign",
        contest_id=contest.id,
        # An organiser of some units' run is a job of its own, for their units.
        params=rules.job_params_of_scope(await organiser_scope(request)),
        actor=current_user(request),
    )


@requires(Role.ADMIN, for_units=True)
async def run_assignment(request: Request) -> Response:
    """Assignment runs as a job: the organiser follows it on the job's page."""
    await read_form(request)
    return to_job_page(request, await _start_assignment(request))


async def _add_judge(request: Request, entry_id: int) -> tuple[int, int]:
    async with request.state.sessionmaker.begin() as session:
        contest = await _contest(request, session)
        added = await services.add_judge(
            session,
            contest_id=contest.id,
            entry_id=entry_id,
            actor=current_user(request),
            scope=await organiser_scope(request),
        )
    return contest.id, added


@requires(Role.ADMIN, for_units=True)
async def add_judge(request: Request) -> Response:
    form = await read_form(request)
    entry_id = _row_id(form.get("entry"))
    if entry_id is None:
        raise HTTPException(400)
    contest_id, _added = await _add_judge(request, entry_id)
    return _to_judging(request, contest_id)


async def _change_round(
    request: Request, *, close: bool, top_per_division: int | None, per_unit: int | None
) -> tuple[int, Round]:
    """Close the open round, or close it and open the next with a shortlist."""
    async with request.state.sessionmaker.begin() as session:
        contest = await _contest(request, session)
        actor = current_user(request)
        if close:
            round_ = await services.close_round(session, contest_id=contest.id, actor=actor)
        else:
            round_ = await services.shortlist(
                session,
                contest_id=contest.id,
                top_per_division=top_per_division,
                per_unit=per_unit,
                actor=actor,
            )
    return contest.id, round_


@requires(Role.ADMIN)
async def close_round(request: Request) -> Response:
    await read_form(request)
    contest_id, _round = await _change_round(
        request, close=True, top_per_division=None, per_unit=None
    )
    return _to_judging(request, contest_id)


def _shortlist_refused() -> InvalidError:
    return InvalidError(gettext("Give a number of entries from 1 to 10,000."))


@requires(Role.ADMIN)
async def next_round(request: Request) -> Response:
    """Close this round and open the next with a shortlist (per division, or per unit)."""
    form = await read_form(request)
    rule = form.get("rule", "division")
    if rule not in ("division", "unit"):
        raise _shortlist_refused()
    try:
        count = int(form.get("count", ""))
    except ValueError:
        raise _shortlist_refused() from None
    contest_id, _round = await _change_round(
        request,
        close=False,
        top_per_division=count if rule == "division" else None,
        per_unit=count if rule == "unit" else None,
    )
    return _to_judging(request, contest_id)


@requires(Role.ADMIN)
async def round_deadline(request: Request) -> Response:
    form = await read_form(request)
    raw = form.get("closes_at", "")
    try:
        closes_at = local_datetime(raw) if raw else None
    except ValueError:
        raise HTTPException(
            422, gettext("Enter a date and time such as 17:00 07/10/2024.")
        ) from None
    async with request.state.sessionmaker.begin() as session:
        contest = await _contest(request, session)
        await services.set_round_deadline(
            session, contest_id=contest.id, closes_at=closes_at, actor=current_user(request)
        )
    return _to_judging(request, contest.id)


async def _reassign(request: Request, judge_id: int) -> int:
    """Returns the contest's id."""
    async with request.state.sessionmaker.begin() as session:
        contest_id: int = await services.reassign(
            session,
            assignment_id=request.path_params["assignment_id"],
            judge_id=judge_id,
            actor=current_user(request),
            scope=await organiser_scope(request),
        )
    return contest_id


async def _assignment_in_scope(request: Request) -> None:
    """404 for an organiser of some units unless the assignment is on their units' entry:
    asked before the body is read, as a judge's own assignment is."""
    scope = await organiser_scope(request)
    async with request.state.sessionmaker() as session:
        await rules.ensure_assignment_in_scope(
            session, scope, assignment_id=request.path_params["assignment_id"]
        )


async def _judge_named(request: Request, value: str) -> int:
    """The judge a reassignment form names: by id, or by e-mail address (the picker's text;
    an organiser of some units names their own judges only)."""
    judge_id = _row_id(value)
    if judge_id is None and "@" in value:
        async with request.state.sessionmaker() as session:
            judge_id = await services.judge_id_by_email(
                session, email=value, scope=await organiser_scope(request)
            )
        if judge_id is None:
            raise InvalidError(gettext("No judge has this e-mail address."))
    if judge_id is None:
        raise InvalidError(gettext("Choose one of the options."))
    return judge_id


@requires(Role.ADMIN, for_units=True)
async def reassign(request: Request) -> Response:
    await _assignment_in_scope(request)
    form = await read_form(request)
    judge_id = await _judge_named(request, form.get("judge", ""))
    return _to_judging(request, await _reassign(request, judge_id))


# --- the JSON API -----------------------------------------------------------------------------

SCORE_SCHEMA = {
    "type": "object",
    "properties": {
        "points": {"type": "object", "additionalProperties": {"type": ["number", "string"]}},
        "comment": {"type": "string"},
        "feedback": {"type": "string"},
        "submit": {"type": "boolean"},
    },
}


def _score_json(score: Any) -> dict[str, Any] | None:
    if score is None:
        return None
    return {
        "points": score.points,
        "total": score.total,
        "comment": score.comment_to_organizers,
        "feedback": score.feedback_to_entrant,
        "submitted": score.submitted_at is not None,
    }


@requires(Role.JUDGE)
async def api_assignments(request: Request) -> Response:
    """The signed-in judge's assignments.
    ---
    summary: List my assignments
    operationId: listMyAssignments
    responses:
      "200":
        description: To do, drafts and done, without anything that names the entrant.
        json:
          type: object
          required: [assignments]
          properties:
            assignments:
              type: array
              items:
                type: object
                properties:
                  id: {type: integer}
                  entry: {type: integer}
                  contest: {type: string}
                  title: {type: string}
                  status: {type: string, enum: [assigned, draft, submitted]}
                  total: {type: [number, "null"]}
    """
    async with request.state.sessionmaker() as session:
        queue_items = await services.judge_queue(session, judge=current_user(request))
    return JSONResponse(
        {
            "assignments": [
                {
                    "id": item.assignment_id,
                    "entry": item.entry_id,
                    "contest": item.contest_title,
                    "title": item.entry_title,
                    "status": item.status.value,
                    "total": item.total,
                }
                for key in ("todo", "drafts", "done")
                for item in queue_items[key]
            ]
        }
    )


@requires(Role.JUDGE)
async def api_assignment(request: Request) -> Response:
    """One assigned entry, blind: the work, the rubric and my score so far.
    ---
    summary: Read an assignment
    operationId: readMyAssignment
    responses:
      "200":
        description: The entry as the judge sees it.
        json: {type: object}
    """
    async with request.state.sessionmaker() as session:
        view = await services.judge_view(
            session,
            assignment_id=request.path_params["assignment_id"],
            judge=current_user(request),
        )
        files = await _files(request, view)
    return JSONResponse(
        {
            "id": view.assignment.id,
            "entry": {
                "id": view.entry.id,
                "title": view.entry.title,
                "book_title": view.entry.book_title,
                "book_author": view.entry.book_author,
                "text": view.entry.body_text,
            },
            "contest": view.contest.slug,
            "round": {"number": view.round.number, "open": view.round.status.value == "open"},
            "files": [
                {"viewer": f["viewer"], "url": f["url"], "size": f["size"], "text": f["text"]}
                for f in files
            ],
            "criteria": [
                {"key": c.key, "label": c.label, "max_points": c.max_points, "weight": c.weight}
                for c in view.criteria
            ],
            "status": view.assignment.status.value,
            "score": _score_json(view.score),
        }
    )


@requires(Role.JUDGE)
async def api_score(request: Request) -> Response:
    """Save a draft score, or submit it (every criterion then required).
    ---
    summary: Save my score
    operationId: saveMyScore
    requestBody:
      json:
        type: object
        properties:
          points:
            type: object
            description: Points per criterion key, each from 0 to the criterion's maximum.
            additionalProperties: {type: [number, string]}
          comment: {type: string, maxLength: 4000}
          feedback: {type: string, maxLength: 4000}
          submit: {type: boolean}
    responses:
      "200": {description: Saved., json: {type: object}}
      "409": {$ref: "#/components/responses/409"}
    """
    return await _score_from_json(request, may_submit=True)


@requires(Role.ADMIN, for_units=True)
async def api_run_assignment(request: Request) -> Response:
    """Assign the open round's entries to judges; a rerun only fills gaps. An organiser of some
    units assigns their units' entries to their own judges, and nothing else.
    ---
    summary: Run assignment
    operationId: runAssignment
    responses:
      "202":
        description: >-
          Assignment runs as a job; follow it at the Location given. When it is done, its
          result says what was assigned, and which entries lack judges and why.
        json: {$ref: "#/components/schemas/Job"}
      "409": {$ref: "#/components/responses/409"}
    """
    verify_csrf(request, None)
    return accepted(request, await _start_assignment(request))


@requires(Role.ADMIN, for_units=True)
async def api_progress(request: Request) -> Response:
    """Judging progress of a contest, per judge (a page at a time, by name), with the first
    entries whose judges disagree; an organiser of some units', of their units' entries and
    their own judges.
    ---
    summary: Judging progress
    operationId: readProgress
    parameters:
      - name: page
        in: query
        description: The page of judges, from 1; past the last page, the last page.
        schema: {type: integer, minimum: 1, maximum: 1000000}
      - name: per_page
        in: query
        description: Judges a page (50 unless given).
        schema: {type: integer, minimum: 1, maximum: 200}
    responses:
      "200": {description: The progress., json: {type: object}}
      "400": {$ref: "#/components/responses/400"}
    """
    judges_page = page_request(request.query_params)
    scope = await organiser_scope(request)
    async with request.state.sessionmaker() as session:
        contest = await _contest(request, session)
        progress = await services.contest_progress(
            session, contest_id=contest.id, judges_page=judges_page, scope=scope
        )
    assert progress.judges_page is not None
    return JSONResponse(
        {
            "round": progress.round_number,
            "round_open": progress.round_open,
            "entries": progress.entries,
            "assigned": progress.assigned,
            "done": progress.done,
            "judges": [
                {
                    "id": j.judge_id,
                    "name": j.name,
                    "assigned": j.assigned,
                    "done": j.done,
                    "drafts": j.drafts,
                    "overdue": j.overdue,
                }
                for j in progress.judges
            ],
            "judges_page": progress.judges_page.json(),
            "flagged": [{"entry": e, "totals": t} for e, t in progress.flagged],
            "flagged_more": progress.flagged_more,
        }
    )


@requires(Role.ADMIN, for_units=True)
async def api_judges(request: Request) -> Response:
    """The contest's judges whose name or e-mail address contains the text: the reassignment
    picker's suggestions (an organiser of some units: their own judges).
    ---
    summary: Find judges of a contest
    operationId: findJudges
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
      - name: q
        in: query
        description: Part of a judge's name or e-mail address; empty, the first judges by name.
        schema: {type: string, maxLength: 100}
    responses:
      "200":
        description: At most 20 active judges of the contest, by name.
        json:
          type: object
          required: [judges]
          properties:
            judges:
              type: array
              maxItems: 20
              items:
                type: object
                required: [id, name, email]
                properties:
                  id: {type: integer}
                  name: {type: string}
                  email: {type: string}
      "400": {$ref: "#/components/responses/400"}
    """
    text = search_text(request.query_params)
    scope = await organiser_scope(request)
    async with request.state.sessionmaker() as session:
        contest = await _contest(request, session)
        judges = await services.search_judges(
            session, contest_id=contest.id, text=text, scope=scope
        )
    return JSONResponse(
        {"judges": [{"id": j.id, "name": j.name, "email": j.email} for j in judges]},
        headers={"Cache-Control": "no-store"},
    )


def _row_id(value: object) -> int | None:
    """An id sent in a form or a JSON body, or None when it cannot name a row."""
    if isinstance(value, float) and value.is_integer():
        # JSON has one kind of number: 7.0 is the integer 7.
        value = int(value)
    if isinstance(value, str):
        value = value.strip()
        if not (value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ROW_ID))):
            return None
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ROW_ID:
        return value
    return None


@requires(Role.ADMIN)
async def api_round_action(request: Request) -> Response:
    """Close the open round, or open the next one with a shortlist.
    ---
    summary: Close a round or open the next
    operationId: changeRound
    requestBody:
      json:
        description: >-
          Close the round, or open the next with the best `top_per_division` entries of
          each division, or the best `per_unit` of each unit (one of the two).
        oneOf:
          - type: object
            required: [action]
            properties: {action: {type: string, enum: [close]}}
            additionalProperties: false
          - type: object
            required: [action, top_per_division]
            properties:
              action: {type: string, enum: [next]}
              top_per_division: {type: integer, minimum: 1, maximum: 10000}
            additionalProperties: false
          - type: object
            required: [action, per_unit]
            properties:
              action: {type: string, enum: [next]}
              per_unit: {type: integer, minimum: 1, maximum: 10000}
            additionalProperties: false
    responses:
      "200":
        description: The round now current.
        json: {type: object}
      "409": {$ref: "#/components/responses/409"}
    """
    verify_csrf(request, None)
    body = await read_json_object(request)
    action = body.get("action")
    # Exactly the shapes the description states: a number out of range, a number where none
    # belongs (per_unit with close) or a field it does not know is refused, never ignored.
    numbers = {"top_per_division", "per_unit"} & set(body)
    if action not in ("close", "next") or set(body) - {"action", *numbers}:
        raise InvalidError(gettext("Choose one of the options."))
    if (action == "close" and numbers) or (action == "next" and len(numbers) != 1):
        raise _shortlist_refused()
    for name in numbers:
        value = body[name]
        if isinstance(value, float) and value.is_integer():
            value = body[name] = int(value)  # JSON has one kind of number: 7.0 is 7
        if not (isinstance(value, int) and not isinstance(value, bool)):
            raise _shortlist_refused()
        if not 1 <= value <= services.MAX_SHORTLIST:
            raise _shortlist_refused()
    _contest_id, round_ = await _change_round(
        request,
        close=action == "close",
        top_per_division=body.get("top_per_division"),
        per_unit=body.get("per_unit"),
    )
    return JSONResponse({"round": round_.number, "status": round_.status.value})


@requires(Role.ADMIN, for_units=True)
async def api_add_judge(request: Request) -> Response:
    """One more judge for an entry whose judges disagree.
    ---
    summary: Add a judge to an entry
    operationId: addJudge
    responses:
      "200":
        description: How many judges were added (0 when nobody eligible is left).
        json: {type: object}
      "404": {$ref: "#/components/responses/404"}
      "409": {$ref: "#/components/responses/409"}
    """
    verify_csrf(request, None)
    _contest_id, added = await _add_judge(request, request.path_params["entry_id"])
    return JSONResponse({"added": added})


@requires(Role.ADMIN, for_units=True)
async def api_reassign(request: Request) -> Response:
    """Give an unfinished assignment to another eligible judge (an organiser of some units:
    the work on their units' entries, to one of their own judges).
    ---
    summary: Reassign
    operationId: reassign
    requestBody:
      json:
        type: object
        required: [judge]
        properties:
          judge: {type: integer, minimum: 1, maximum: 2147483647}
    responses:
      "200": {description: Reassigned., json: {type: object}}
      "404": {$ref: "#/components/responses/404"}
      "409": {$ref: "#/components/responses/409"}
    """
    verify_csrf(request, None)
    await _assignment_in_scope(request)
    body = await read_json_object(request)
    judge_id = _row_id(body.get("judge"))
    if judge_id is None:
        raise HTTPException(400, gettext("Choose one of the options."))
    await _reassign(request, judge_id)
    return JSONResponse({"assignment": request.path_params["assignment_id"], "judge": judge_id})


api_routes: list[BaseRoute] = [
    Route("/contests/{slug:str}/rounds", api_round_action, methods=["POST"], name="api_rounds"),
    Route("/contests/{slug:str}/entries/{entry_id:int}/judges", api_add_judge, methods=["POST"]),
    Route("/assignments/{assignment_id:int}/reassign", api_reassign, methods=["POST"]),
    Route("/judge/assignments", api_assignments, methods=["GET"], name="api_judge_assignments"),
    Route(
        "/judge/assignments/{assignment_id:int}",
        api_assignment,
        methods=["GET"],
        name="api_judge_assignment",
    ),
    Route(
        "/judge/assignments/{assignment_id:int}/score",
        api_score,
        methods=["PUT"],
        name="api_judge_score",
    ),
    Route("/contests/{slug:str}/assignment", api_run_assignment, methods=["POST"]),
    Route("/contests/{slug:str}/progress", api_progress, methods=["GET"]),
    Route("/contests/{slug:str}/judges", api_judges, methods=["GET"], name="api_contest_judges"),
]

routes: list[BaseRoute] = [
    Route("/judge", queue, name="judge_queue"),
    form_page("/judge/assignments/{assignment_id:int}", entry, "judge_entry"),
    Route(
        "/judge/assignments/{assignment_id:int}/draft",
        autosave,
        methods=["POST"],
        name="judge_autosave",
    ),
    Route(
        "/judge/assignments/{assignment_id:int}/recuse",
        recuse,
        methods=["POST"],
        name="judge_recuse",
    ),
    Route("/admin/contests/{contest_id:int}/judging", judging_page, name="admin_judging"),
    Route(
        "/admin/contests/{contest_id:int}/judging/assign",
        run_assignment,
        methods=["POST"],
        name="admin_run_assignment",
    ),
    Route(
        "/admin/contests/{contest_id:int}/judging/add-judge",
        add_judge,
        methods=["POST"],
        name="admin_add_judge",
    ),
    Route(
        "/admin/contests/{contest_id:int}/judging/close",
        close_round,
        methods=["POST"],
        name="admin_close_round",
    ),
    Route(
        "/admin/contests/{contest_id:int}/judging/next-round",
        next_round,
        methods=["POST"],
        name="admin_next_round",
    ),
    Route(
        "/admin/contests/{contest_id:int}/judging/deadline",
        round_deadline,
        methods=["POST"],
        name="admin_round_deadline",
    ),
    Route(
        "/admin/assignments/{assignment_id:int}/reassign",
        reassign,
        methods=["POST"],
        name="admin_reassign",
    ),
]
