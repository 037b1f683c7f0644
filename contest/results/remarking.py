"""Re-marking requests (phúc khảo): the entrant's page and API, the re-marking judge's page, the
organiser's list and decision page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import labels, rules
from contest.access import current_user, public, requires
from contest.errors import InvalidError, NotFoundError
from contest.forms import optional_choice, read_form, read_json_object
from contest.i18n import format_date, gettext
from contest.models import (
    Assignment,
    AssignmentStatus,
    Contest,
    Entry,
    Prize,
    RemarkRequest,
    RemarkStatus,
    Role,
    Score,
    User,
)
from contest.results import remarks
from contest.results.remarks import RemarkError
from contest.templating import render
from contest.tokens import EDIT_TOKEN_HEADER
from contest.urls import form_page
from judging.files import entry_files
from judging.interfaces import ScoreInvalidError


async def _entrant_entry(request: Request, token: str | None) -> Entry:
    """The entry behind the receipt code, if the edit token is its own (404/403 otherwise)."""
    async with request.state.sessionmaker() as session:
        return await rules.entry_of_holder(
            session, receipt_code=request.path_params["code"], token=token
        )


# --- the entrant ------------------------------------------------------------------------------


@public
async def entrant_page(request: Request) -> Response:
    """The entrant asks for re-marking, then follows the request here."""
    token = request.query_params.get("token")
    entry = await _entrant_entry(request, token)
    errors: dict[str, str] = {}
    values = {"reason": ""}
    status_code = 200
    if request.method == "POST":
        form = await read_form(request)
        values["reason"] = form.get("reason", "")
        try:
            async with request.state.sessionmaker.begin() as session:
                await remarks.request_remark(session, entry=entry, reason=values["reason"])
        except RemarkError as exc:
            if exc.status_code != 422:
                raise
            errors["reason"] = exc.message
            status_code = 422
        if not errors:
            return RedirectResponse(
                str(request.url_for("remark_request", code=entry.receipt_code))
                + "?"
                + urlencode({"token": token or "", "sent": "1"}),
                status_code=303,
            )
    async with request.state.sessionmaker() as session:
        state = await remarks.entrant_remark(session, entry=entry)
        if state is None:
            raise RemarkError("not_published")
        contest = await session.get(Contest, entry.contest_id)
    response = render(
        request,
        "results/remark_entrant.html",
        {
            "entry": entry,
            "contest": contest,
            "state": state,
            "token": token,
            "labels": labels,
            "status_labels": remarks.STATUS_LABELS,
            "decided": remarks.DECIDED,
            "values": values,
            "errors": errors,
            "sent": request.query_params.get("sent") == "1",
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def remark_json(state: remarks.EntrantRemark) -> dict[str, Any]:
    remark = state.request
    data: dict[str, Any] = {
        "published_prize": state.result.prize.value if state.result.prize else None,
        "may_ask_until": state.until.isoformat(),
        "may_ask": state.may_ask,
        "request": None,
    }
    if remark is not None:
        decided = remark.status in remarks.DECIDED
        data["request"] = {
            "status": remark.status.value,
            "reason": remark.reason,
            "requested_at": remark.created_at.isoformat(),
            "decided_at": remark.decided_at.isoformat() if remark.decided_at else None,
            "prize": (remark.new_prize.value if remark.new_prize else None) if decided else None,
            "decision_note": remark.decision_note if decided else None,
            "feedback": remark.feedback if decided else None,
        }
    return data


REMARK_SCHEMA = {
    "type": "object",
    "required": ["published_prize", "may_ask_until", "may_ask", "request"],
    "properties": {
        "published_prize": {"type": ["string", "null"], "enum": [*Prize, None]},
        "may_ask_until": {"type": "string", "format": "date-time"},
        "may_ask": {"type": "boolean"},
        "request": {
            "type": ["object", "null"],
            "required": ["status", "reason", "requested_at"],
            "properties": {
                "status": {"type": "string", "enum": list(RemarkStatus)},
                "reason": {"type": "string"},
                "requested_at": {"type": "string", "format": "date-time"},
                "decided_at": {"type": ["string", "null"], "format": "date-time"},
                "prize": {"type": ["string", "null"]},
                "decision_note": {"type": ["string", "null"]},
                "feedback": {"type": ["string", "null"]},
            },
        },
    },
}
SCHEMAS = {"Remark": REMARK_SCHEMA}


async def _api_state(request: Request, entry: Entry, status_code: int = 200) -> Response:
    async with request.state.sessionmaker() as session:
        state = await remarks.entrant_remark(session, entry=entry)
    if state is None:
        raise RemarkError("not_published")
    return JSONResponse(remark_json(state), status_code=status_code)


@public
async def api_read_remark(request: Request) -> Response:
    """Whether re-marking may be asked for an entry, and the request if there is one.
    ---
    summary: Read an entry's re-marking request
    operationId: readRemark
    responses:
      "200":
        description: The re-marking state.
        json: {$ref: "#/components/schemas/Remark"}
      "403": {$ref: "#/components/responses/403"}
    """
    entry = await _entrant_entry(request, request.headers.get(EDIT_TOKEN_HEADER))
    return await _api_state(request, entry)


@public
async def api_request_remark(request: Request) -> Response:
    """Ask for re-marking within the contest's days after publication.
    ---
    summary: Ask for re-marking
    operationId: requestRemark
    requestBody:
      json:
        type: object
        required: [reason]
        properties:
          reason: {type: string, maxLength: 2000}
    responses:
      "201":
        description: The request was filed.
        json: {$ref: "#/components/schemas/Remark"}
      "403": {$ref: "#/components/responses/403"}
      "409": {$ref: "#/components/responses/409"}
    """
    entry = await _entrant_entry(request, request.headers.get(EDIT_TOKEN_HEADER))
    reason = (await read_json_object(request)).get("reason")
    async with request.state.sessionmaker.begin() as session:
        await remarks.request_remark(
            session, entry=entry, reason=reason if isinstance(reason, str) else ""
        )
    return await _api_state(request, entry, status_code=201)


# --- the re-marking judge ---------------------------------------------------------------------


@requires(Role.JUDGE)
async def judge_list(request: Request) -> Response:
    async with request.state.sessionmaker() as session:
        items = await remarks.judge_remarks(session, judge=current_user(request))
    return render(
        request,
        "results/remark_judge_list.html",
        {"items": items, "status_labels": remarks.STATUS_LABELS},
    )


@requires(Role.JUDGE)
async def judge_page(request: Request) -> Response:
    """The entry, blind, with the rubric: the judge marks it afresh."""
    judge = current_user(request)
    remark_id = request.path_params["remark_id"]
    errors: dict[str, str] = {}
    async with request.state.sessionmaker.begin() as session:
        view = await remarks.remark_judge_view(session, remark_id=remark_id, judge=judge)
        values: dict[str, Any] = {"points": dict(view.remark.points), "feedback": ""}
        values["feedback"] = view.remark.feedback
        status_code = 200
        if request.method == "POST":
            form = await read_form(request)
            values = {
                "points": {c.key: form.get(f"points.{c.key}", "") for c in view.criteria},
                "feedback": form.get("feedback", ""),
            }
            try:
                await remarks.save_rescore(
                    session,
                    remark_id=remark_id,
                    judge=judge,
                    points=values["points"],
                    feedback=values["feedback"],
                )
                return RedirectResponse(
                    str(request.url_for("judge_remark", remark_id=remark_id)) + "?saved=1",
                    status_code=303,
                )
            except ScoreInvalidError as exc:
                errors = exc.form_errors()
                status_code = 422
        files = await entry_files(request, view.assets)
    return render(
        request,
        "results/remark_judge.html",
        {
            "view": view,
            "files": files,
            "values": values,
            "errors": errors,
            "saved": request.query_params.get("saved") == "1",
        },
        status_code=status_code,
    )


# --- the organiser ----------------------------------------------------------------------------


@requires(Role.ADMIN)
async def contest_list(request: Request) -> Response:
    async with request.state.sessionmaker() as session:
        contest = await rules.ensure_contest_for_organiser(
            session, user=current_user(request), contest_id=request.path_params["contest_id"]
        )
        rows = (
            await session.execute(
                select(RemarkRequest, Entry)
                .join(Entry, Entry.id == RemarkRequest.entry_id)
                .where(RemarkRequest.contest_id == contest.id)
                .order_by(RemarkRequest.created_at, RemarkRequest.id)
            )
        ).all()
    return render(
        request,
        "results/remark_list.html",
        {
            "contest": contest,
            "rows": rows,
            "status_labels": remarks.STATUS_LABELS,
            "labels": labels,
        },
    )


@requires(Role.ADMIN)
async def organiser_page(request: Request) -> Response:
    """Hand the entry to an eligible judge; once re-marked, decide with a written note."""
    remark_id = request.path_params["remark_id"]
    actor = current_user(request)
    errors: dict[str, str] = {}
    status_code = 200
    async with request.state.sessionmaker() as session:
        try:
            remark = await remarks.get_remark(session, remark_id)
        except RemarkError:
            raise NotFoundError() from None
        if request.method == "POST":
            form = await read_form(request)
            action = form.get("action", "")
            try:
                if action == "assign":
                    try:
                        judge_id = int(form.get("judge", ""))
                    except ValueError:
                        raise RemarkError("judge_not_eligible") from None
                    await remarks.assign_remark(
                        session, remark_id=remark_id, judge_id=judge_id, actor=actor
                    )
                elif action == "decide":
                    await remarks.decide_remark(
                        session,
                        remark_id=remark_id,
                        prize=optional_choice(Prize, form.get("prize", "")),
                        note=form.get("note", ""),
                        actor=actor,
                    )
                else:
                    raise InvalidError(gettext("Choose one of the options."))
                await session.commit()
                return RedirectResponse(
                    str(request.url_for("remark_detail", remark_id=remark_id)), status_code=303
                )
            except RemarkError as exc:
                await session.rollback()
                if exc.status_code != 422:
                    raise
                errors["judge" if action == "assign" else "note"] = exc.message
                status_code = 422
            remark = await remarks.get_remark(session, remark_id)
        context = await _organiser_context(session, remark)
    return render(
        request,
        "results/remark_detail.html",
        {**context, "errors": errors},
        status_code=status_code,
    )


async def _organiser_context(session: AsyncSession, remark: RemarkRequest) -> dict[str, Any]:
    entry = await session.get(Entry, remark.entry_id)
    contest = await session.get(Contest, remark.contest_id)
    result = await remarks.published_result(session, entry_id=remark.entry_id)
    original = (
        await session.execute(
            select(User.name, Score.total)
            .join(Assignment, Assignment.judge_id == User.id)
            .join(Score, Score.assignment_id == Assignment.id)
            .where(
                Assignment.entry_id == remark.entry_id,
                Assignment.status == AssignmentStatus.SUBMITTED,
            )
            .order_by(Assignment.id)
        )
    ).all()
    judge = await session.get(User, remark.judge_id) if remark.judge_id else None
    return {
        "remark": remark,
        "entry": entry,
        "contest": contest,
        "result": result,
        "original_scores": original,
        "judge": judge,
        "eligible": await remarks.eligible_judges(session, remark=remark)
        if remark.status in (RemarkStatus.REQUESTED, RemarkStatus.ASSIGNED)
        else [],
        "status_labels": remarks.STATUS_LABELS,
        "labels": labels,
        "prizes": list(Prize),
        "format_date": format_date,
    }


routes: list[BaseRoute] = [
    form_page("/entries/{code:str}/remark", entrant_page, "remark_request"),
    Route("/judge/remarks", judge_list, name="judge_remarks"),
    form_page("/judge/remarks/{remark_id:int}", judge_page, "judge_remark"),
    Route("/admin/contests/{contest_id:int}/remarks", contest_list, name="contest_remarks"),
    form_page("/admin/remarks/{remark_id:int}", organiser_page, "remark_detail"),
]
api_routes: list[BaseRoute] = [
    Route("/entries/{code:str}/remark", api_read_remark, methods=["GET"], name="api_remark"),
    Route("/entries/{code:str}/remark", api_request_remark, methods=["POST"]),
]
