"""Judging on paper: a judge's blind sheets printed, then their scores typed back in by a
clerk, one sheet at a time or as a spreadsheet made for that judge.

A sheet names the entry only by its number (and a QR code of it), never the entrant or the
unit; it carries the rubric with a box per criterion. Whatever comes back goes through
``services.save_score`` like a judge's own form, with the clerk kept on the score
(``entered_by``) and as the audit's actor. A spreadsheet is imported whole or not at all:
every refused row is named with its reason and nothing is written.

Like every service, these take the caller's session and never commit.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import xlsxwriter  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.utils import simpleSplit  # type: ignore[import-untyped, unused-ignore]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contest.errors import ConflictError, InvalidError, NotFoundError
from contest.files.limits import MAX_SCORE_SHEET_BYTES, MAX_SCORE_SHEET_ROWS
from contest.i18n import format_number, gettext
from contest.models import (
    Assignment,
    AssignmentStatus,
    Contest,
    Criterion,
    Entry,
    EntryStatus,
    Round,
    RoundKind,
    RoundStatus,
    Score,
    User,
)
from contest.pdf import FONT, FONT_BOLD, qr_image, register_fonts
from judging import services
from judging.interfaces import ScoreInvalidError

# What a sheet's QR code says: the platform's mark, the assignment and the entry's number.
SHEET_MARK = "contest-sheet"
# The spreadsheet's own check that it comes back for the judge it was made for.
TEMPLATE_SHEET = "scores"
META_SHEET = "about"


@dataclass
class SheetRow:
    assignment_id: int
    entry_id: int
    title: str
    submitted: bool


@dataclass
class JudgeSheets:
    contest: Contest
    judge: User
    round: Round
    criteria: list[Criterion]
    rows: list[SheetRow]


async def judge_sheets(session: AsyncSession, *, contest: Contest, judge_id: int) -> JudgeSheets:
    """A judge's work in the contest's current rubric round, entry by entry."""
    known = await session.scalar(services._active_judge_ids(contest.id).where(User.id == judge_id))
    user = await session.get(User, judge_id) if known is not None else None
    if user is None:
        raise NotFoundError(gettext("This judge is not a judge of this contest."))
    round_ = await services.current_round(session, contest_id=contest.id)
    if round_ is None or round_.kind != RoundKind.RUBRIC:
        raise ConflictError(gettext("There is no rubric round to print sheets for."))
    found = await session.execute(
        select(Assignment.id, Entry.id, Entry.title, Assignment.status)
        .join(Entry, Entry.id == Assignment.entry_id)
        .where(
            Assignment.round_id == round_.id,
            Assignment.judge_id == judge_id,
            Assignment.status != AssignmentStatus.RECUSED,
            Entry.status == EntryStatus.SUBMITTED,
        )
        .order_by(Entry.id)
    )
    rows = [
        SheetRow(aid, eid, title, status == AssignmentStatus.SUBMITTED)
        for aid, eid, title, status in found.all()
    ]
    criteria = await services.contest_criteria(session, contest_id=contest.id)
    return JudgeSheets(contest, user, round_, criteria, rows)


# --- printed sheets -----------------------------------------------------------------------


def write_sheets_pdf(sheets: JudgeSheets, out: BinaryIO) -> None:
    """One A4 page per entry: its number and QR code, the rubric with a box per criterion,
    room for feedback. Nothing on it names the entrant or their unit."""
    register_fonts()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(gettext("Judging sheets"))
    width, height = A4
    margin = 50.0
    for row in sheets.rows:
        top = height - margin
        canvas.setFont(FONT_BOLD, 18)
        canvas.drawString(margin, top - 18, gettext("Entry no. %(number)s", number=row.entry_id))
        canvas.setFont(FONT, 10)
        canvas.drawString(margin, top - 36, sheets.contest.title)
        canvas.drawString(
            margin,
            top - 50,
            gettext(
                "Judge: %(name)s · round %(number)s",
                name=sheets.judge.name,
                number=sheets.round.number,
            ),
        )
        code = f"{SHEET_MARK}:{row.assignment_id}:{row.entry_id}"
        canvas.drawImage(qr_image(code), width - margin - 90, top - 90, 90, 90)
        y = top - 120
        canvas.setFont(FONT_BOLD, 11)
        canvas.drawString(margin, y, gettext("Criterion"))
        canvas.drawRightString(width - margin - 110, y, gettext("Out of"))
        canvas.drawString(width - margin - 90, y, gettext("Points"))
        y -= 10
        for criterion in sheets.criteria:
            lines = simpleSplit(criterion.label, FONT, 11, width - 2 * margin - 200) or [""]
            box = max(28.0, 14.0 * len(lines) + 8)
            y -= box
            canvas.setFont(FONT, 11)
            for n, line in enumerate(lines):
                canvas.drawString(margin, y + box - 16 - 14 * n, line)
            canvas.drawRightString(
                width - margin - 110, y + box - 16, format_number(criterion.max_points)
            )
            canvas.rect(width - margin - 90, y + 4, 90, box - 8)
            canvas.line(margin, y, width - margin, y)
        y -= 30
        canvas.setFont(FONT_BOLD, 11)
        canvas.drawString(margin, y, gettext("Feedback for the entrant (shown after the results)"))
        canvas.rect(margin, y - 150, width - 2 * margin, 140)
        canvas.setFont(FONT, 9)
        canvas.drawString(
            margin,
            margin,
            gettext("Write points in the boxes; half points are allowed. Do not write any name."),
        )
        canvas.showPage()
    if not sheets.rows:
        canvas.setFont(FONT, 12)
        canvas.drawString(margin, height - margin, gettext("This judge has no entries to judge."))
        canvas.showPage()
    canvas.save()


# --- a clerk types a sheet in -------------------------------------------------------------


async def enter_sheet(
    session: AsyncSession,
    *,
    sheets: JudgeSheets,
    entry_id: int,
    points: Mapping[str, object],
    feedback: str,
    clerk: User,
) -> Score:
    """One paper sheet typed in: the judge's score of that entry, submitted. Refused when the
    entry is not on the judge's sheets (404), already has this judge's score (409: a sheet
    typed twice), or the points break the rubric (422, per criterion)."""
    row = next((r for r in sheets.rows if r.entry_id == entry_id), None)
    if row is None:
        raise NotFoundError(
            gettext("Entry no. %(number)s is not on this judge's sheets.", number=entry_id)
        )
    if row.submitted:
        raise ConflictError(
            gettext("Entry no. %(number)s already has this judge's score.", number=entry_id)
        )
    if sheets.round.status != RoundStatus.OPEN:
        raise ConflictError(gettext("Judging of this round is closed."))
    return await services.save_score(
        session,
        assignment_id=row.assignment_id,
        judge=sheets.judge,
        points=points,
        comment="",
        feedback=feedback,
        submit=True,
        entered_by=clerk,
    )


# --- a spreadsheet per judge --------------------------------------------------------------


def write_template(sheets: JudgeSheets, out: BinaryIO) -> None:
    """The judge's spreadsheet: a row per entry (its number), a column per criterion with its
    maximum, cells that take only numbers within it; a second sheet says whose it is."""
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet(TEMPLATE_SHEET)
    head = book.add_format({"bold": True, "text_wrap": True})
    sheet.write(0, 0, gettext("Entry no."), head)
    for col, criterion in enumerate(sheets.criteria, start=1):
        sheet.write(
            0,
            col,
            gettext(
                "%(criterion)s (out of %(max)s)",
                criterion=criterion.label,
                max=format_number(criterion.max_points),
            ),
            head,
        )
        sheet.data_validation(
            1,
            col,
            max(1, len(sheets.rows)),
            col,
            {
                "validate": "decimal",
                "criteria": "between",
                "minimum": 0,
                "maximum": criterion.max_points,
                "error_message": gettext("Points from 0 to the criterion's maximum."),
            },
        )
    for n, row in enumerate(sheets.rows, start=1):
        sheet.write_number(n, 0, row.entry_id)
    sheet.set_column(0, 0, 12)
    sheet.set_column(1, len(sheets.criteria), 22)
    sheet.freeze_panes(1, 1)
    about = book.add_worksheet(META_SHEET)
    about.write(0, 0, "contest")
    about.write_number(0, 1, sheets.contest.id)
    about.write(1, 0, "judge")
    about.write_number(1, 1, sheets.judge.id)
    about.write(2, 0, "round")
    about.write_number(2, 1, sheets.round.id)
    about.hide()
    book.close()


@dataclass
class ImportRefusal:
    row: int
    reasons: list[str] = field(default_factory=list)


class SheetImportRefusedError(InvalidError):
    """Some rows cannot be taken: each named with its reasons; nothing was written."""

    def __init__(self, refusals: Sequence[ImportRefusal], message: str | None = None) -> None:
        super().__init__(
            message
            or gettext("Nothing was imported: correct these rows and send the spreadsheet again.")
        )
        self.refusals = list(refusals)


def _cell_number(value: Any) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _read_workbook(data: bytes) -> tuple[dict[str, Any], list[tuple[int, list[Any]]]]:
    from openpyxl import load_workbook  # type: ignore[import-untyped, unused-ignore]

    if len(data) > MAX_SCORE_SHEET_BYTES:
        raise SheetImportRefusedError(
            [], gettext("The spreadsheet is too large for one judge's scores.")
        )
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise SheetImportRefusedError(
            [], gettext("This file is not a spreadsheet made by the platform.")
        ) from None
    try:
        if TEMPLATE_SHEET not in book.sheetnames or META_SHEET not in book.sheetnames:
            raise SheetImportRefusedError(
                [], gettext("This file is not a spreadsheet made by the platform.")
            )
        meta = {
            str(r[0]): r[1]
            for r in book[META_SHEET].iter_rows(max_row=10, max_col=2, values_only=True)
            if r and r[0]
        }
        rows: list[tuple[int, list[Any]]] = []
        for number, values in enumerate(
            book[TEMPLATE_SHEET].iter_rows(min_row=2, values_only=True), start=2
        ):
            if len(rows) > MAX_SCORE_SHEET_ROWS:
                raise SheetImportRefusedError(
                    [], gettext("The spreadsheet has more rows than one judge's entries.")
                )
            cells = [_cell_number(v) for v in values]
            if any(v not in (None, "") for v in cells):
                rows.append((number, cells))
        return meta, rows
    finally:
        book.close()


async def import_template(
    session: AsyncSession, *, sheets: JudgeSheets, data: bytes, clerk: User
) -> int:
    """A judge's filled spreadsheet, taken whole: every row checked first (its entry on the
    judge's sheets, given once, not scored already, its points within the rubric), then all
    saved; any refusal raises SheetImportRefusedError and nothing is written. Rows with an
    entry number and no points at all are skipped (not yet judged). Returns how many
    scores were saved."""
    meta, rows = _read_workbook(data)
    if (meta.get("contest"), meta.get("judge"), meta.get("round")) != (
        sheets.contest.id,
        sheets.judge.id,
        sheets.round.id,
    ):
        raise SheetImportRefusedError(
            [],
            gettext(
                "This spreadsheet was made for another judge, contest or round: "
                "download this judge's own."
            ),
        )
    by_entry = {r.entry_id: r for r in sheets.rows}
    rubric = services.rubric_of(sheets.criteria)
    refusals: list[ImportRefusal] = []
    taken: dict[int, dict[str, object]] = {}
    for number, cells in rows:
        refusal = ImportRefusal(number)
        entry_id = cells[0] if cells else None
        points = {
            c.key: cells[i] if i < len(cells) else None
            for i, c in enumerate(sheets.criteria, start=1)
        }
        given = {k: v for k, v in points.items() if v not in (None, "")}
        if not isinstance(entry_id, int) or entry_id not in by_entry:
            refusal.reasons.append(
                gettext("Entry no. %(number)s is not on this judge's sheets.", number=entry_id)
            )
        elif entry_id in taken:
            refusal.reasons.append(gettext("Entry no. %(number)s is given twice.", number=entry_id))
        elif given and by_entry[entry_id].submitted:
            refusal.reasons.append(
                gettext("Entry no. %(number)s already has this judge's score.", number=entry_id)
            )
        if given:
            try:
                services.checked_points(rubric, points, complete=True)
            except ScoreInvalidError as exc:
                labels = {c.key: c.label for c in sheets.criteria}
                refusal.reasons.extend(
                    f"{labels.get(key, key)}: {message}" for key, message in exc.fields.items()
                )
        if refusal.reasons:
            refusals.append(refusal)
        elif given and isinstance(entry_id, int):
            taken[entry_id] = points
        elif isinstance(entry_id, int):
            taken.setdefault(entry_id, {})
    if refusals:
        raise SheetImportRefusedError(refusals)
    if sheets.round.status != RoundStatus.OPEN:
        raise ConflictError(gettext("Judging of this round is closed."))
    saved = 0
    for entry_id, points in taken.items():
        if not points:
            continue
        await services.save_score(
            session,
            assignment_id=by_entry[entry_id].assignment_id,
            judge=sheets.judge,
            points=points,
            comment="",
            feedback="",
            submit=True,
            entered_by=clerk,
        )
        saved += 1
    return saved
