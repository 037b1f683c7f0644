"""The organisers' files: a contest's results (XLSX, CSV) and the event report for the ward
People's Committee and the education office (XLSX, printable HTML, PDF).

Each file is built in two steps: a loader reads the database into plain data, and a pure
function writes the file from it (so that large files can be written off the event loop).
Exports are the organisers' own: results may be exported before publication, and then say that
they are a draft.
"""

from __future__ import annotations

import io
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape

from openpyxl import Workbook  # type: ignore[import-untyped, unused-ignore]
from openpyxl.chart import BarChart, Reference  # type: ignore[import-untyped, unused-ignore]
from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped, unused-ignore]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped, unused-ignore]
from reportlab.graphics.charts.barcharts import (  # type: ignore[import-untyped, unused-ignore]
    HorizontalBarChart,
)
from reportlab.graphics.shapes import Drawing  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib import colors  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.units import cm  # type: ignore[import-untyped, unused-ignore]
from reportlab.platypus import (  # type: ignore[import-untyped, unused-ignore]
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from contest import labels
from contest.db import utcnow
from contest.errors import NotFoundError
from contest.events.services import event_contests
from contest.i18n import format_date, get_locale, gettext, use_locale
from contest.models import (
    Assignment,
    AssignmentStatus,
    Contest,
    Division,
    Entrant,
    Entry,
    EntryStatus,
    Event,
    Prize,
    Result,
    Round,
    UnitKind,
    User,
    contest_judges,
)
from contest.results.certificates import FONT, FONT_BOLD, UnitTree, register_fonts
from contest.results.services import results_of
from contest.spreadsheets import CsvWriter, append_row
from contest.templating import create_templates
from judging.scoring import unit_standings

# Sheet names in Excel: at most 31 characters, none of these.
SHEET_NAME_LIMIT = 31
SHEET_NAME_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})
# Tree order puts schools first, then the learning centre, then residential groups.
KIND_ORDER = {
    UnitKind.SCHOOL: 0,
    UnitKind.LEARNING_CENTRE: 1,
    UnitKind.RESIDENTIAL_GROUP: 2,
    UnitKind.CLASS: 3,
}
NO_UNIT = 0


class ExportNotFoundError(NotFoundError):
    """The contest or event to export does not exist."""

    def __init__(self, object_id: int) -> None:
        super().__init__()
        self.args = (object_id,)


# --- a contest's results ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResultLine:
    rank: int
    receipt_code: str
    full_name: str
    unit: str
    school: str
    age: int | None
    grade: int | None
    book: str
    title: str
    final_score: float
    raw_score: float | None
    judges: int
    prize: Prize | None


@dataclass
class DivisionResults:
    name: str
    lines: list[ResultLine] = field(default_factory=list)

    def prize_counts(self) -> dict[Prize, int]:
        counted = Counter(line.prize for line in self.lines if line.prize is not None)
        return {prize: counted.get(prize, 0) for prize in Prize}


@dataclass
class ContestResults:
    slug: str
    contest: str
    event: str
    organizer: str
    published_at: datetime | None  # None: not published, the file is a draft
    divisions: list[DivisionResults]
    exported_at: datetime

    @property
    def published(self) -> bool:
        return self.published_at is not None

    def title(self) -> str:
        title = gettext("Results: %(contest)s", contest=self.contest)
        if not self.published:
            title += " — " + gettext("DRAFT, preliminary results not yet published")
        return title

    def filename(self, extension: str) -> str:
        return f"{self.slug}-{'results' if self.published else 'draft-results'}.{extension}"


def _book(entry: Entry) -> str:
    return f"{entry.book_title} – {entry.book_author}" if entry.book_author else entry.book_title


async def load_contest_results(session: AsyncSession, *, contest_id: int) -> ContestResults:
    contest = await session.get(Contest, contest_id)
    if contest is None:
        raise ExportNotFoundError(contest_id)
    event = await session.get(Event, contest.event_id)
    assert event is not None
    tree = await UnitTree.load(session, event_id=event.id)
    divisions = (
        await session.scalars(
            select(Division).where(Division.contest_id == contest.id).order_by(Division.position)
        )
    ).all()
    groups: dict[int | None, DivisionResults] = {d.id: DivisionResults(d.name) for d in divisions}
    rows = await results_of(session, contest_id=contest.id, published_only=False)
    published = [r.result.published_at for r in rows]
    for row in rows:
        group = groups.get(row.result.division_id)
        if group is None:
            group = groups.setdefault(None, DivisionResults(gettext("No division")))
        school = tree.school(row.entrant.unit_id)
        group.lines.append(
            ResultLine(
                rank=row.result.rank,
                receipt_code=row.entry.receipt_code,
                full_name=row.entrant.full_name,
                unit=row.unit.name if row.unit else "",
                school=school.name if school else "",
                age=row.entrant.age,
                grade=row.entrant.grade,
                book=_book(row.entry),
                title=row.entry.title,
                final_score=round(row.result.final_score, 2),
                raw_score=None if row.result.raw_score is None else round(row.result.raw_score, 2),
                judges=row.result.judges,
                prize=Prize(row.result.prize) if row.result.prize else None,
            )
        )
    for group in groups.values():
        group.lines.sort(key=lambda line: (line.rank, line.receipt_code))
    return ContestResults(
        slug=contest.slug,
        contest=contest.title,
        event=event.name,
        organizer=event.organizer,
        published_at=(
            max(p for p in published if p is not None)
            if published and all(p is not None for p in published)
            else None
        ),
        divisions=list(groups.values()),
        exported_at=utcnow(),
    )


def result_headers() -> list[str]:
    return [
        gettext("Rank"),
        gettext("Receipt code"),
        gettext("Full name"),
        gettext("Unit"),
        gettext("School"),
        gettext("Age"),
        gettext("Grade"),
        gettext("Book"),
        gettext("Title of the entry"),
        gettext("Final score"),
        gettext("Mean of the judges' totals"),
        gettext("Judges"),
        gettext("Prize"),
    ]


def _prize_label(prize: Prize | None) -> str:
    return gettext(labels.PRIZES[prize]) if prize is not None else ""


def _result_cells(line: ResultLine) -> list[Any]:
    return [
        line.rank,
        line.receipt_code,
        line.full_name,
        line.unit,
        line.school,
        line.age,
        line.grade,
        line.book,
        line.title,
        line.final_score,
        line.raw_score,
        line.judges,
        _prize_label(line.prize),
    ]


def _totals_rows(division: DivisionResults) -> list[list[Any]]:
    """Below each division: the number of entries, then the number of prizes of each tier (a
    label in the rank column, the count beside it)."""
    rows: list[list[Any]] = [[gettext("Total entries"), len(division.lines)]]
    rows += [[_prize_label(prize), count] for prize, count in division.prize_counts().items()]
    return rows


def _sheet_title(name: str, taken: set[str]) -> str:
    base = (name.translate(SHEET_NAME_FORBIDDEN).strip() or "-")[:SHEET_NAME_LIMIT]
    title, number = base, 2
    while title.lower() in taken:
        suffix = f" ({number})"
        title, number = base[: SHEET_NAME_LIMIT - len(suffix)] + suffix, number + 1
    taken.add(title.lower())
    return title


def _headed_sheet(workbook: Any, name: str, heading: tuple[str, str], headers: list[str]) -> Any:
    """A new sheet that opens with its title, a subtitle, a blank row and the bold column
    headers on row 4, so that the data starts on row 5."""
    title, subtitle = heading
    sheet = workbook.create_sheet(name)
    append_row(sheet, [title])
    sheet["A1"].font = TITLE_FONT
    append_row(sheet, [subtitle])
    append_row(sheet, [])
    append_row(sheet, headers)
    for cell in sheet[4]:
        cell.font = BOLD
    return sheet


def _fit_columns(sheet: Any, widths: Sequence[int]) -> None:
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


RESULT_WIDTHS = (8, 12, 26, 14, 30, 6, 6, 30, 34, 10, 12, 8, 18)
BOLD = Font(bold=True)
TITLE_FONT = Font(bold=True, size=14)


def results_xlsx(results: ContestResults, *, locale: str | None = None) -> bytes:
    """One sheet per division: a title (saying DRAFT before publication), the rows in rank
    order, then the totals."""
    with use_locale(locale or get_locale()):
        workbook = Workbook()
        default_sheet = workbook.sheetnames[0]
        workbook.properties.title = results.title()
        workbook.properties.creator = results.organizer
        taken: set[str] = {default_sheet.lower()}
        headers = result_headers()
        for division in results.divisions:
            sheet = _headed_sheet(
                workbook,
                _sheet_title(division.name, taken),
                (f"{results.title()} · {division.name}", _published_line(results)),
                headers,
            )
            sheet.freeze_panes = "A5"
            for line in division.lines:
                append_row(sheet, _result_cells(line))
                sheet.cell(sheet.max_row, 10).number_format = "0.00"
                sheet.cell(sheet.max_row, 11).number_format = "0.00"
            append_row(sheet, [])
            for row in _totals_rows(division):
                append_row(sheet, row)
                sheet.cell(sheet.max_row, 1).font = BOLD
            _fit_columns(sheet, RESULT_WIDTHS)
        if not results.divisions:
            append_row(workbook.create_sheet(gettext("Results")), [results.title()])
        del workbook[default_sheet]
        return _save(workbook)


def _published_line(results: ContestResults) -> str:
    if results.published_at is None:
        return gettext(
            "%(event)s · exported on %(date)s, before publication",
            event=results.event,
            date=format_date(results.exported_at),
        )
    return gettext(
        "%(event)s · published on %(date)s",
        event=results.event,
        date=format_date(results.published_at),
    )


def results_csv(results: ContestResults, *, locale: str | None = None) -> bytes:
    """One table for the whole contest with a division column; UTF-8 with a byte order mark,
    so that Excel reads the Vietnamese letters."""
    with use_locale(locale or get_locale()):
        buffer = io.StringIO()
        writer = CsvWriter(buffer, lineterminator="\r\n")
        writer.writerow([gettext("Division"), *result_headers()])
        for division in results.divisions:
            for line in division.lines:
                writer.writerow([division.name, *_result_cells(line)])
            for row in _totals_rows(division):
                writer.writerow([division.name, *row])
    return buffer.getvalue().encode("utf-8-sig")


def _save(workbook: Any) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- the event report -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportColumn:
    contest: str
    division: str


@dataclass
class UnitEntries:
    """Entries of one unit (as the entrants gave it), per contest × division."""

    unit: str
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass
class Participation:
    unit: str
    kind: str
    entries: int
    entrants: int
    share: int = 0  # percent of the largest unit's entries, for the bar chart


@dataclass
class UnitPrizes:
    unit: str
    entries: int
    tiers: dict[Prize, int]
    points: int

    @property
    def total(self) -> int:
        return sum(self.tiers.values())


@dataclass
class ContestSummary:
    title: str
    kind: str
    entries: int
    prizes: int
    published_at: datetime | None


@dataclass
class JudgeLoad:
    name: str
    email: str
    assigned: int = 0
    submitted: int = 0
    recused: int = 0


@dataclass
class ReportHeading:
    """What heads the report: the event, its contests and the totals. The console page shows
    this with a page of units (contest.results.summary); the files add the full tables."""

    event: str
    organizer: str
    theme: str
    starts_on: date
    ends_on: date
    generated_at: datetime
    contests: list[ContestSummary]
    entrants: int

    @property
    def entries(self) -> int:
        return sum(c.entries for c in self.contests)

    @property
    def prizes_awarded(self) -> int:
        return sum(c.prizes for c in self.contests)

    @property
    def unpublished(self) -> list[str]:
        return [c.title for c in self.contests if c.published_at is None]

    def title(self) -> str:
        return gettext("Report on the %(event)s", event=self.event)


@dataclass(kw_only=True)
class EventReport(ReportHeading):
    columns: list[ReportColumn]
    by_unit: list[UnitEntries]
    participation: list[Participation]
    prizes: list[UnitPrizes]
    judges: list[JudgeLoad]

    @property
    def entries(self) -> int:
        return sum(row.total for row in self.by_unit)

    @property
    def column_totals(self) -> list[int]:
        return [sum(row.counts[i] for row in self.by_unit) for i in range(len(self.columns))]

    @property
    def prize_totals(self) -> dict[Prize, int]:
        return {p: sum(row.tiers[p] for row in self.prizes) for p in Prize}


def event_heading(event: Event) -> dict[str, Any]:
    """The event's part of a ReportHeading, as of now."""
    return {
        "event": event.name,
        "organizer": event.organizer,
        "theme": event.theme,
        "starts_on": event.starts_on,
        "ends_on": event.ends_on,
        "generated_at": utcnow(),
    }


async def load_event_report(session: AsyncSession, *, event_id: int) -> EventReport:
    """Counts over submitted entries only; prizes from published results only."""
    event = await session.get(Event, event_id)
    if event is None:
        raise ExportNotFoundError(event_id)
    tree = await UnitTree.load(session, event_id=event.id)
    contests = await event_contests(session, event_id=event.id)
    contest_ids = [c.id for c in contests]
    divisions = (
        await session.scalars(
            select(Division)
            .where(Division.contest_id.in_(contest_ids))
            .order_by(Division.position, Division.id)
        )
    ).all()
    entries = (
        await session.execute(
            select(
                Entry.id,
                Entry.contest_id,
                Entry.division_id,
                Entrant.id.label("entrant_id"),
                Entrant.unit_id,
            )
            .join(Entrant, Entrant.id == Entry.entrant_id)
            .where(Entry.contest_id.in_(contest_ids), Entry.status == EntryStatus.SUBMITTED)
        )
    ).all()
    results = (
        await session.execute(
            select(Result.entry_id, Result.contest_id, Result.prize, Result.published_at)
            .join(Entry, Entry.id == Result.entry_id)
            .where(
                Result.contest_id.in_(contest_ids),
                Result.published_at.is_not(None),
                Entry.status == EntryStatus.SUBMITTED,
            )
        )
    ).all()

    # Columns: each contest's divisions in order, and "no division" where entries lack one.
    columns: list[ReportColumn] = []
    column_of: dict[tuple[int, int | None], int] = {}
    titles = {c.id: c.title for c in contests}
    division_names = {d.id: d.name for d in divisions}
    used = {(e.contest_id, e.division_id) for e in entries}

    def add_column(contest_id: int, division_id: int | None) -> None:
        column_of[(contest_id, division_id)] = len(columns)
        name = division_names.get(division_id) if division_id is not None else None
        columns.append(ReportColumn(titles[contest_id], name or gettext("No division")))

    for contest in contests:
        for division in divisions:
            if division.contest_id == contest.id:
                add_column(contest.id, division.id)
        if (contest.id, None) in used:
            add_column(contest.id, None)
    for contest_id, division_id in sorted(used - column_of.keys(), key=lambda k: (k[0], k[1] or 0)):
        add_column(contest_id, division_id)

    # Entries by the entrant's own unit, in tree order; entries without a unit last.
    counts: dict[int, list[int]] = defaultdict(lambda: [0] * len(columns))
    for entry in entries:
        unit_key = entry.unit_id if entry.unit_id in tree.units else NO_UNIT
        counts[unit_key][column_of[(entry.contest_id, entry.division_id)]] += 1
    by_unit = [
        UnitEntries(tree.label(unit.id), counts[unit.id])
        for unit, _depth in tree.in_tree_order()
        if unit.id in counts
    ]
    if NO_UNIT in counts:
        by_unit.append(UnitEntries(gettext("No unit given"), counts[NO_UNIT]))

    # Participation and prizes by top-level unit (a school with its classes, a residential
    # group, the learning centre).
    def root_of(unit_id: int | None) -> int:
        root = tree.root(unit_id)
        return root.id if root else NO_UNIT

    entry_root = {e.id: root_of(e.unit_id) for e in entries}
    per_root_entries = Counter(entry_root.values())
    per_root_entrants: dict[int, set[int]] = defaultdict(set)
    for entry in entries:
        per_root_entrants[entry_root[entry.id]].add(entry.entrant_id)
    roots = sorted(
        (unit for unit in tree.units.values() if tree.root(unit.id) is unit),
        key=lambda u: (KIND_ORDER.get(u.kind, 9), u.name, u.id),
    )

    def unit_name(root_id: int) -> str:
        return tree.units[root_id].name if root_id in tree.units else gettext("No unit given")

    participation = [
        Participation(
            unit.name,
            gettext(labels.UNIT_KINDS[unit.kind]),
            per_root_entries.get(unit.id, 0),
            len(per_root_entrants.get(unit.id, ())),
        )
        for unit in roots
    ]
    if NO_UNIT in per_root_entries:
        participation.append(
            Participation(
                gettext("No unit given"),
                "",
                per_root_entries[NO_UNIT],
                len(per_root_entrants[NO_UNIT]),
            )
        )
    largest = max((p.entries for p in participation), default=0)
    for item in participation:
        item.share = round(100 * item.entries / largest) if largest else 0

    awards = {
        r.entry_id: Prize(r.prize).value
        for r in results
        if r.prize is not None and r.entry_id in entry_root
    }
    tiers: dict[int, Counter[Prize]] = defaultdict(Counter)
    for entry_id, prize in awards.items():
        tiers[entry_root[entry_id]][Prize(prize)] += 1
    prizes = [
        UnitPrizes(
            unit_name(standing.unit_id),
            standing.entries,
            {prize: tiers[standing.unit_id].get(prize, 0) for prize in Prize},
            standing.prize_points,
        )
        for standing in unit_standings(entry_root, awards)
    ]

    published_at = {r.contest_id: r.published_at for r in results}
    entries_per_contest = Counter(e.contest_id for e in entries)
    prizes_per_contest = Counter(r.contest_id for r in results if r.prize is not None)
    summaries = [
        ContestSummary(
            contest.title,
            gettext(labels.CONTEST_KINDS[contest.kind]),
            entries_per_contest.get(contest.id, 0),
            prizes_per_contest.get(contest.id, 0),
            published_at.get(contest.id),
        )
        for contest in contests
    ]
    return EventReport(
        **event_heading(event),
        contests=summaries,
        columns=columns,
        by_unit=by_unit,
        participation=participation,
        prizes=prizes,
        judges=await _judge_loads(session, contest_ids),
        entrants=len({e.entrant_id for e in entries}),
    )


async def _judge_loads(session: AsyncSession, contest_ids: list[int]) -> list[JudgeLoad]:
    """Every judge of the event's contests: assignments (recusals apart) and submitted scores,
    over submitted entries, in every round."""
    judge_ids = union(
        select(contest_judges.c.user_id).where(contest_judges.c.contest_id.in_(contest_ids)),
        select(Assignment.judge_id)
        .join(Round, Round.id == Assignment.round_id)
        .where(Round.contest_id.in_(contest_ids)),
    )
    judges = (
        await session.execute(select(User.id, User.name, User.email).where(User.id.in_(judge_ids)))
    ).all()
    loads = {user_id: JudgeLoad(name, email) for user_id, name, email in judges}
    rows = (
        await session.execute(
            select(Assignment.judge_id, Assignment.status, func.count())
            .join(Round, Round.id == Assignment.round_id)
            .join(Entry, Entry.id == Assignment.entry_id)
            .where(Round.contest_id.in_(contest_ids), Entry.status == EntryStatus.SUBMITTED)
            .group_by(Assignment.judge_id, Assignment.status)
        )
    ).all()
    for judge_id, status, count in rows:
        load = loads.get(judge_id)
        if load is None:
            continue
        if status == AssignmentStatus.RECUSED:
            load.recused += count
        else:
            load.assigned += count
            if status == AssignmentStatus.SUBMITTED:
                load.submitted += count
    return sorted(loads.values(), key=lambda j: (j.name, j.email))


def _report_sections(report: EventReport) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The report's tables as headers and rows, shared by the XLSX and PDF writers."""
    prize_headers = [gettext(labels.PRIZES[p]) for p in Prize]
    return {
        "summary": (
            [
                gettext("Contest"),
                gettext("Kind"),
                gettext("Entries"),
                gettext("Prizes"),
                gettext("Results published"),
            ],
            [
                [
                    c.title,
                    c.kind,
                    c.entries,
                    c.prizes,
                    format_date(c.published_at) if c.published_at else gettext("not yet"),
                ]
                for c in report.contests
            ]
            + [[gettext("Totals"), "", report.entries, sum(report.prize_totals.values()), ""]],
        ),
        "by_unit": (
            [
                gettext("Unit"),
                *(f"{c.contest} · {c.division}" for c in report.columns),
                gettext("Totals"),
            ],
            [[row.unit, *row.counts, row.total] for row in report.by_unit]
            + [[gettext("Totals"), *report.column_totals, report.entries]],
        ),
        "participation": (
            [gettext("Unit"), gettext("Kind"), gettext("Entries"), gettext("Entrants")],
            [[p.unit, p.kind, p.entries, p.entrants] for p in report.participation]
            + [
                [
                    gettext("Totals"),
                    "",
                    sum(p.entries for p in report.participation),
                    report.entrants,
                ]
            ],
        ),
        "prizes": (
            [
                gettext("Unit"),
                gettext("Entries"),
                *prize_headers,
                gettext("Prizes"),
                gettext("Prize points"),
            ],
            [
                [p.unit, p.entries, *(p.tiers[t] for t in Prize), p.total, p.points]
                for p in report.prizes
            ]
            + [
                [
                    gettext("Totals"),
                    sum(p.entries for p in report.prizes),
                    *report.prize_totals.values(),
                    sum(report.prize_totals.values()),
                    sum(p.points for p in report.prizes),
                ]
            ],
        ),
        "judges": (
            [
                gettext("Judge"),
                gettext("Email"),
                gettext("Assigned"),
                gettext("Scores submitted"),
                gettext("Recused"),
            ],
            [[j.name, j.email, j.assigned, j.submitted, j.recused] for j in report.judges],
        ),
    }


def section_titles() -> dict[str, str]:
    return {
        "summary": gettext("Contests"),
        "by_unit": gettext("Entries by unit, contest and division"),
        "participation": gettext("Participation by school and residential group"),
        "prizes": gettext("Prizes by unit"),
        "judges": gettext("Judges' workload"),
    }


def report_xlsx(report: EventReport, *, locale: str | None = None) -> bytes:
    with use_locale(locale or get_locale()):
        workbook = Workbook()
        default_sheet = workbook.sheetnames[0]
        workbook.properties.title = report.title()
        workbook.properties.creator = report.organizer
        titles = section_titles()
        taken: set[str] = {default_sheet.lower()}
        for key, (headers, rows) in _report_sections(report).items():
            sheet = _headed_sheet(
                workbook,
                _sheet_title(titles[key], taken),
                (titles[key], _report_subtitle(report)),
                headers,
            )
            for cell in sheet[4]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            for row in rows:
                append_row(sheet, row)
            if rows and key != "judges":
                for cell in sheet[sheet.max_row]:
                    cell.font = BOLD
            sheet.freeze_panes = "B5"
            _fit_columns(sheet, [40] + [14] * (len(headers) - 1))
            if key == "participation" and report.participation:
                chart = BarChart()
                chart.type = "bar"
                chart.title = gettext("Entries by school and residential group")
                chart.legend = None
                last = 4 + len(report.participation)
                chart.add_data(
                    Reference(sheet, min_col=3, min_row=4, max_row=last), titles_from_data=True
                )
                chart.set_categories(Reference(sheet, min_col=1, min_row=5, max_row=last))
                chart.height = max(7.5, 0.8 * len(report.participation))
                sheet.add_chart(chart, "G4")
        del workbook[default_sheet]
        return _save(workbook)


def _report_subtitle(report: ReportHeading) -> str:
    return gettext(
        "%(organizer)s · %(start)s – %(end)s · as of %(date)s",
        organizer=report.organizer,
        start=format_date(report.starts_on),
        end=format_date(report.ends_on),
        date=format_date(report.generated_at),
    )


# --- the report as a PDF ----------------------------------------------------------------------


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=12.5)
    return {
        "body": base,
        "title": ParagraphStyle("title", base, fontName=FONT_BOLD, fontSize=16, leading=20),
        "heading": ParagraphStyle(
            "heading", base, fontName=FONT_BOLD, fontSize=12, leading=15, spaceBefore=10
        ),
        "cell": ParagraphStyle("cell", base, fontSize=8.5, leading=10.5),
        "head": ParagraphStyle("head", base, fontName=FONT_BOLD, fontSize=8.5, leading=10.5),
    }


def _table(headers: list[str], rows: list[list[Any]], width: float, total_row: bool) -> Table:
    styles = _styles()
    data = [[Paragraph(escape(str(h)), styles["head"]) for h in headers]]
    data += [
        [Paragraph(escape("" if v is None else str(v)), styles["cell"]) for v in row]
        for row in rows
    ]
    first = min(width * 0.34, 7 * cm) if len(headers) > 2 else width / 2
    rest = (width - first) / max(1, len(headers) - 1)
    table = Table(data, colWidths=[first] + [rest] * (len(headers) - 1), repeatRows=1)
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b9b2a3")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#ece6d8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if total_row and rows:
        commands.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f4f1ea")))
    table.setStyle(TableStyle(commands))
    return table


def participation_chart(report: EventReport, width: float) -> Drawing:
    """Entries per school and residential group, as horizontal bars."""
    items = report.participation
    label_width = 190
    bar_height = 16
    height = max(60, bar_height * len(items) + 40)
    drawing = Drawing(width, height)
    chart = HorizontalBarChart()
    chart.x, chart.y = label_width, 20
    chart.width, chart.height = int(width) - label_width - 20, height - 30
    # Bars read top to bottom in the table's order.
    chart.data = [[p.entries for p in reversed(items)] or [0]]
    chart.categoryAxis.categoryNames = [_short(p.unit) for p in reversed(items)] or [""]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 8
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 8
    # Whole numbers on the axis, about five steps.
    largest = max((p.entries for p in items), default=0)
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueStep = max(1, math.ceil(largest / 5))
    chart.valueAxis.valueMax = max(1, math.ceil(largest / chart.valueAxis.valueStep)) * (
        chart.valueAxis.valueStep
    )
    chart.valueAxis.labelTextFormat = "%d"
    chart.bars[0].fillColor = colors.HexColor("#0b5c8a")
    chart.bars[0].strokeColor = None
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = FONT
    chart.barLabels.fontSize = 7
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    drawing.add(chart)
    return drawing


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def report_pdf(report: EventReport, *, locale: str | None = None) -> bytes:
    register_fonts()
    buffer = io.BytesIO()
    with use_locale(locale or get_locale()):
        styles = _styles()
        page = landscape(A4)
        document = SimpleDocTemplate(
            buffer,
            pagesize=page,
            leftMargin=1.5 * cm,
            rightMargin=1.5 * cm,
            topMargin=1.5 * cm,
            bottomMargin=1.5 * cm,
            title=report.title(),
            author=report.organizer,
            invariant=True,
        )
        width = page[0] - 3 * cm
        titles = section_titles()
        sections = _report_sections(report)
        story: list[Any] = [
            Paragraph(escape(report.organizer.upper()), styles["heading"]),
            Paragraph(escape(report.title()), styles["title"]),
            Paragraph(escape(_report_subtitle(report)), styles["body"]),
            Paragraph(escape(gettext("Theme: %(theme)s", theme=report.theme)), styles["body"]),
            Spacer(1, 6),
            Paragraph(escape(_headline(report)), styles["body"]),
        ]
        if report.unpublished:
            story.append(Paragraph(escape(_unpublished_note(report)), styles["body"]))
        for key in ("summary", "by_unit", "participation", "prizes", "judges"):
            headers, rows = sections[key]
            heading = Paragraph(escape(titles[key]), styles["heading"])
            table = _table(headers, rows, width, total_row=key != "judges")
            if key == "participation" and report.participation:
                # The heading stays with its chart, on the page where the chart starts.
                story.append(KeepTogether([heading, participation_chart(report, width)]))
                story += [Spacer(1, 6), table]
            else:
                story += [heading, table]
        document.build(story)
    return buffer.getvalue()


def _headline(report: ReportHeading) -> str:
    return gettext(
        "%(entries)s entries from %(entrants)s entrants in %(contests)s contests; "
        "%(prizes)s prizes awarded.",
        entries=report.entries,
        entrants=report.entrants,
        contests=len(report.contests),
        prizes=report.prizes_awarded,
    )


def _unpublished_note(report: ReportHeading) -> str:
    return gettext(
        "Results not yet published (prizes not counted): %(contests)s",
        contests=", ".join(report.unpublished),
    )


def heading_context(report: ReportHeading) -> dict[str, Any]:
    """What templates/results/_report_header.html shows."""
    return {
        "report": report,
        "subtitle": _report_subtitle(report),
        "headline": _headline(report),
        "unpublished_note": _unpublished_note(report) if report.unpublished else "",
    }


def report_context(report: EventReport) -> dict[str, Any]:
    """What the report's HTML templates show."""
    return {
        **heading_context(report),
        "sections": _report_sections(report),
        "titles": section_titles(),
        "prize_labels": [gettext(labels.PRIZES[p]) for p in Prize],
    }


def bar_chart_css() -> str:
    """Widths for the HTML bar chart as classes (w-0 … w-100), since inline styles are not
    allowed by the pages' content security policy."""
    widths = " ".join(f".bar.w-{n}{{width:{n}%}}" for n in range(101))
    return (
        ".report table{font-size:.9rem}"
        ".report td.num,.report th.num{text-align:right}"
        ".report tr.total td,.report tr.total th{font-weight:700;border-top:2px solid #1b1f24}"
        ".chart{list-style:none;padding:0;margin:0 0 1rem}"
        ".chart li{display:grid;grid-template-columns:minmax(8rem,16rem) 1fr;gap:.5rem;"
        "align-items:center;margin:.2rem 0}"
        ".bar-track{display:flex;align-items:center;gap:.4rem}"
        ".bar{display:inline-block;height:1rem;background:#0b5c8a;min-width:2px;"
        "print-color-adjust:exact;-webkit-print-color-adjust:exact}"
        ".scroll{overflow-x:auto}"
        "@media print{.admin-nav,.site-header,.site-footer,.no-print{display:none}"
        "main{max-width:none;padding:0}.report h2{break-after:avoid}"
        ".report table{break-inside:auto}.report tr{break-inside:avoid}}"
        f"{widths}"
    )


def report_html(report: EventReport, *, locale: str | None = None) -> str:
    """The report as one standalone HTML file (the console page without the console)."""
    with use_locale(locale or get_locale()):
        template = create_templates().env.get_template("results/report_document.html")
        return template.render(**report_context(report), css=bar_chart_css())
