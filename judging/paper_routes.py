"""The organiser's pages for judging on paper: pick a judge, print their blind sheets or their
spreadsheet, type a sheet back in, or import the filled spreadsheet."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, BinaryIO

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import rules
from contest.access import current_user, requires
from contest.db import MAX_ROW_ID
from contest.errors import ContestError, InvalidError
from contest.files.limits import MAX_SCORE_SHEET_BYTES
from contest.forms import read_form, read_one_file
from contest.i18n import N_, gettext
from contest.models import Contest, Role
from contest.templating import render
from judging import paper, services
from judging.interfaces import ScoreInvalidError

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_FEEDBACK = 4000


async def _contest(request: Request, session: Any) -> Contest:
    return await rules.ensure_contest_for_organiser(
        session, user=current_user(request), contest_id=request.path_params["contest_id"]
    )


async def _judge_id(session: Any, contest: Contest, raw: str) -> int | None:
    """The judge a field names: their id, or their e-mail address (the picker's text)."""
    value = raw.strip()
    if not value:
        return None
    if value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_ROW_ID:
        return int(value)
    if "@" in value:
        found = await services.judge_id_by_email(session, email=value)
        if found is not None:
            return found
    raise InvalidError(gettext("No judge of this contest has this name or e-mail address."))


async def _sheets(request: Request, session: Any, raw: str) -> tuple[Contest, paper.JudgeSheets]:
    contest = await _contest(request, session)
    judge_id = await _judge_id(session, contest, raw)
    if judge_id is None:
        raise InvalidError(gettext("Choose a judge first."))
    return contest, await paper.judge_sheets(session, contest=contest, judge_id=judge_id)


async def _page(
    request: Request,
    *,
    judge: str,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    refusals: list[paper.ImportRefusal] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    async with request.state.sessionmaker() as session:
        contest = await _contest(request, session)
        sheets = None
        if judge.strip():
            try:
                _contest_again, sheets = await _sheets(request, session, judge)
            except ContestError as exc:
                message, status_code = exc.message, exc.status_code
        criteria = await services.contest_criteria(session, contest_id=contest.id)
    return render(
        request,
        "admin/paper.html",
        {
            "contest": contest,
            "judge": judge,
            "sheets": sheets,
            "criteria": criteria,
            "errors": errors or {},
            "values": values or {},
            "typed": {
                "points": {c.key: (values or {}).get(f"points.{c.key}", "") for c in criteria}
            },
            "refusals": refusals or [],
            "message": message,
            "saved": request.query_params.get("saved"),
            "imported": request.query_params.get("imported"),
        },
        status_code=status_code,
    )


@requires(Role.ADMIN)
async def paper_page(request: Request) -> Response:
    return await _page(request, judge=request.query_params.get("judge", "")[:254])


async def _judge_file(
    request: Request,
    write: Callable[[paper.JudgeSheets, BinaryIO], None],
    *,
    media_type: str,
    name: str,
    extension: str,
    disposition: str,
) -> Response:
    """One of a judge's files for paper judging, made from their sheets."""
    async with request.state.sessionmaker() as session:
        _contest_row, sheets = await _sheets(
            request, session, request.query_params.get("judge", "")
        )
    out = io.BytesIO()
    write(sheets, out)
    filename = f"{name}-{sheets.judge.id}.{extension}"
    return Response(
        out.getvalue(),
        media_type=media_type,
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
    )


@requires(Role.ADMIN)
async def sheets_pdf(request: Request) -> Response:
    return await _judge_file(
        request, paper.write_sheets_pdf, media_type="application/pdf", name="sheets",
        extension="pdf", disposition="inline",
    )  # fmt: skip


@requires(Role.ADMIN)
async def template_xlsx(request: Request) -> Response:
    return await _judge_file(
        request, paper.write_template, media_type=XLSX_TYPE, name="scores",
        extension="xlsx", disposition="attachment",
    )  # fmt: skip


def _entry_number(raw: str) -> int:
    value = raw.strip().lstrip("#")
    if value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_ROW_ID:
        return int(value)
    raise InvalidError(
        gettext("Type the entry's number as printed on the sheet."),
        fields={"entry": gettext("Type the entry's number as printed on the sheet.")},
    )


@requires(Role.ADMIN)
async def enter_sheet(request: Request) -> Response:
    """A clerk types one sheet in; the page comes back for the next, with the judge kept."""
    form = await read_form(request)
    judge = form.get("judge", "")[:254]
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    async with request.state.sessionmaker() as session:
        try:
            _contest_row, sheets = await _sheets(request, session, judge)
            entry_id = _entry_number(form.get("entry", ""))
            points = {c.key: form.get(f"points.{c.key}", "") for c in sheets.criteria}
            await paper.enter_sheet(
                session,
                sheets=sheets,
                entry_id=entry_id,
                points=points,
                feedback=form.get("feedback", "")[:MAX_FEEDBACK],
                clerk=current_user(request),
            )
        except ScoreInvalidError as exc:
            await session.rollback()
            return await _page(
                request, judge=judge, errors=exc.form_errors(), values=values,
                message=exc.message, status_code=422,
            )  # fmt: skip
        except ContestError as exc:
            await session.rollback()
            return await _page(
                request, judge=judge, errors=exc.fields, values=values,
                message=exc.message, status_code=exc.status_code,
            )  # fmt: skip
        await session.commit()
    target = request.url_for("admin_paper", contest_id=request.path_params["contest_id"])
    return RedirectResponse(
        target.include_query_params(judge=judge, saved=str(entry_id)), status_code=303
    )


@requires(Role.ADMIN)
async def import_sheet(request: Request) -> Response:
    """A judge's filled spreadsheet, imported whole or not at all."""
    values, data = await read_one_file(
        request,
        field="file",
        max_bytes=MAX_SCORE_SHEET_BYTES,
        missing=N_("Choose the judge's filled spreadsheet."),
    )
    judge = values.get("judge", "")[:254]
    async with request.state.sessionmaker() as session:
        try:
            _contest_row, sheets = await _sheets(request, session, judge)
            saved = await paper.import_template(
                session, sheets=sheets, data=data, clerk=current_user(request)
            )
        except paper.SheetImportRefusedError as exc:
            await session.rollback()
            return await _page(
                request, judge=judge, refusals=exc.refusals, message=exc.message, status_code=422
            )
        except ContestError as exc:
            await session.rollback()
            return await _page(
                request, judge=judge, message=exc.message, status_code=exc.status_code
            )
        await session.commit()
    target = request.url_for("admin_paper", contest_id=request.path_params["contest_id"])
    return RedirectResponse(
        target.include_query_params(judge=judge, imported=str(saved)), status_code=303
    )


routes: list[BaseRoute] = [
    Route("/admin/contests/{contest_id:int}/paper", paper_page, name="admin_paper"),
    Route("/admin/contests/{contest_id:int}/paper/sheets.pdf", sheets_pdf, name="admin_sheets_pdf"),
    Route(
        "/admin/contests/{contest_id:int}/paper/scores.xlsx", template_xlsx, name="admin_sheet_xlsx"
    ),
    Route(
        "/admin/contests/{contest_id:int}/paper/enter",
        enter_sheet,
        methods=["POST"],
        name="admin_paper_enter",
    ),
    Route(
        "/admin/contests/{contest_id:int}/paper/import",
        import_sheet,
        methods=["POST"],
        name="admin_paper_import",
    ),
]
