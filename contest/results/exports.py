"""The organisers' files: a contest's results (XLSX, CSV) and the event report for the ward
People's Committee and the education office (XLSX, printable HTML, PDF).

Each file is written into a binary file the caller gives (a temporary file of a download or
of a job, or the command line's output), by one entry point per file: ``write_results_export``,
``write_report_export`` (and ``certificates.write_certificates``). They take the caller's
session, never commit, and report ``progress`` as (rows written, rows in all).

A contest's results are streamed: one ordered query read a batch at a time
(``EXPORT_BATCH`` rows), each batch written as it comes, off the event loop: into an XLSX by
xlsxwriter in its constant-memory mode (a sheet's rows go to a temporary file as they are
written), or into a CSV by the csv module; so memory stays flat at any size. The event
report is counted by the database (grouped by unit, contest and division), so it grows with
the units, not the entries.

Exports are the organisers' own: results may be exported before publication, and then say that
they are a draft.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, BinaryIO, Protocol
from xml.sax.saxutils import escape

import xlsxwriter  # type: ignore[import-untyped, unused-ignore]
from reportlab.graphics.charts.barcharts import (  # type: ignore[import-untyped, unused-ignore]
    HorizontalBarChart,
)
from reportlab.graphics.shapes import Drawing  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib import colors  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.units import cm  # type: ignore[import-untyped, unused-ignore]
from reportlab.lib.utils import simpleSplit  # type: ignore[import-untyped, unused-ignore]
from reportlab.pdfbase.pdfmetrics import (  # type: ignore[import-untyped, unused-ignore]
    stringWidth,
)
from reportlab.platypus import (  # type: ignore[import-untyped, unused-ignore]
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from sqlalchemy import Executable, and_, distinct, func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from contest import labels, xlsx
from contest.db import utcnow
from contest.errors import InvalidError, NotFoundError
from contest.events.services import event_contests
from contest.i18n import N_, format_date, get_locale, gettext, use_locale
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
from contest.pdf import FONT, FONT_BOLD, register_fonts
from contest.progress import Progress, no_progress
from contest.results.certificates import UnitTree, public_name
from contest.results.downloads import MEDIA_TYPES, ExportInfo
from contest.rules import OrganiserScope, organisers_own_units
from contest.spreadsheets import CsvWriter, write_xlsx_row
from contest.templating import create_templates
from contest.xlsx import StreamedBook, StreamedSheet
from judging.scoring import unit_standings_of_counts

# Sheet names in Excel: at most 31 characters, none of these.
SHEET_NAME_LIMIT = 31
SHEET_NAME_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})
# Tree order puts provinces, wards and schools first, then the learning centre, then
# residential groups.
KIND_ORDER = {
    UnitKind.PROVINCE: 0,
    UnitKind.WARD: 0,
    UnitKind.SCHOOL: 0,
    UnitKind.LEARNING_CENTRE: 1,
    UnitKind.RESIDENTIAL_GROUP: 2,
    UnitKind.CLASS: 3,
}
NO_UNIT = 0

RESULT_FORMATS = ("xlsx", "csv")
REPORT_FORMATS = ("xlsx", "pdf", "html")
FORMAT_CHOICES = {
    RESULT_FORMATS: N_("Choose one of the formats: xlsx, csv."),
    REPORT_FORMATS: N_("Choose one of the formats: xlsx, pdf, html."),
}
# Excel's rows per sheet; a division longer than that goes on in a next sheet.
SHEET_ROW_LIMIT = 1_048_576
# Result rows read from the database, and written, at a time.
EXPORT_BATCH = 5_000


class ExportNotFoundError(NotFoundError):
    """The contest or event to export does not exist."""

    def __init__(self, object_id: int) -> None:
        super().__init__()
        self.args = (object_id,)


# --- a contest's results ----------------------------------------------------------------------


class ExportFormatError(InvalidError):
    """A format this export does not come in."""


def check_format(fmt: str, formats: tuple[str, ...]) -> None:
    if fmt not in formats:
        raise ExportFormatError(gettext(FORMAT_CHOICES[formats]))


@dataclass
class ContestResults:
    """Everything of a contest's results file but its rows, which are streamed."""

    slug: str
    contest: str
    event_id: int
    event: str
    organizer: str
    published_at: datetime | None  # None: not published, the file is a draft
    divisions: list[tuple[int, str]]  # (id, name) in the contest's order
    rows: int
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


async def load_contest_results(session: AsyncSession, *, contest_id: int) -> ContestResults:
    """The file's heading from three small queries: the contest, its divisions, and one
    aggregate over its results (how many, and whether every one is published)."""
    contest = await session.get(Contest, contest_id)
    if contest is None:
        raise ExportNotFoundError(contest_id)
    event = await session.get(Event, contest.event_id)
    assert event is not None
    divisions = (
        await session.execute(
            select(Division.id, Division.name)
            .where(Division.contest_id == contest.id)
            .order_by(Division.position, Division.id)
        )
    ).all()
    rows, published, newest = (
        await session.execute(
            select(func.count(), func.count(Result.published_at), func.max(Result.published_at))
            .join(Entry, Entry.id == Result.entry_id)
            .where(Result.contest_id == contest.id)
        )
    ).one()
    return ContestResults(
        slug=contest.slug,
        contest=contest.title,
        event_id=event.id,
        event=event.name,
        organizer=event.organizer,
        published_at=newest if rows and published == rows else None,
        divisions=[(d.id, d.name) for d in divisions],
        rows=rows,
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
        # What the public may be told (the winners' page, a press release): the name as
        # consented, which a withdrawal changes at once.
        gettext("Name in public"),
    ]


def _prize_label(prize: Prize | None) -> str:
    return gettext(labels.PRIZES[prize]) if prize is not None else ""


def _result_lines(contest_id: int, scope: OrganiserScope | None) -> Executable:
    """Every result of the contest (in the organiser's scope) with what its row shows, in the
    file's order: the contest's divisions in their order (results outside them last), then
    rank, then receipt code. One statement, so one snapshot of the results however long the
    reading takes."""
    in_contest = and_(Division.id == Result.division_id, Division.contest_id == contest_id)
    query = (
        select(
            Division.id.label("division_id"),
            Result.rank,
            Entry.receipt_code,
            Entrant.full_name,
            Entrant.consent,
            Entrant.is_minor,
            Entrant.child_consent_at,
            Entrant.unit_id,
            Entrant.age,
            Entrant.grade,
            Entry.book_title,
            Entry.book_author,
            Entry.title,
            Result.final_score,
            Result.raw_score,
            Result.judges,
            Result.prize,
        )
        .join(Entry, Entry.id == Result.entry_id)
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .outerjoin(Division, in_contest)
        .where(Result.contest_id == contest_id)
        .order_by(
            Division.id.is_(None), Division.position, Division.id, Result.rank, Entry.receipt_code
        )
        .execution_options(yield_per=EXPORT_BATCH)
    )
    return scope.narrow(query, Entrant.unit_id) if scope else query


@dataclass(frozen=True, slots=True)
class ResultLine:
    division_id: int | None
    prize: Prize | None
    cells: list[Any]


class _Places:
    """A unit's name and its school's, looked up once per unit."""

    def __init__(self, tree: UnitTree) -> None:
        self.tree = tree
        self.known: dict[int | None, tuple[str, str]] = {}

    def __call__(self, unit_id: int | None) -> tuple[str, str]:
        found = self.known.get(unit_id)
        if found is None:
            unit = self.tree.units.get(unit_id) if unit_id is not None else None
            school = self.tree.school(unit_id)
            found = self.known[unit_id] = (
                unit.name if unit else "",
                school.name if school else "",
            )
        return found


def _result_line(row: Any, places: _Places) -> ResultLine:
    unit, school = places(row.unit_id)
    prize = Prize(row.prize) if row.prize else None
    book = f"{row.book_title} – {row.book_author}" if row.book_author else row.book_title
    return ResultLine(
        row.division_id,
        prize,
        [
            row.rank,
            row.receipt_code,
            row.full_name,
            unit,
            school,
            row.age,
            row.grade,
            book,
            row.title,
            round(row.final_score, 2),
            None if row.raw_score is None else round(row.raw_score, 2),
            row.judges,
            _prize_label(prize),
            public_name(row),
        ],
    )


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


class _ResultsSink(Protocol):
    def division(self, name: str) -> None: ...
    def line(self, cells: list[Any]) -> None: ...
    def totals(self, rows: list[list[Any]]) -> None: ...
    def close(self) -> None: ...


class _Divisions:
    """Walks the contest's divisions as the ordered rows arrive: a division without results
    still gets its heading and its totals (zeros), results outside every division come last
    under "No division"."""

    def __init__(self, results: ContestResults, sink: _ResultsSink) -> None:
        self.sink = sink
        self.waiting = list(results.divisions)
        self.current: int | None = None
        self.open = False
        self.entries = 0
        self.prizes: Counter[Prize] = Counter()

    def _start(self, division_id: int | None) -> None:
        self._finish_until(division_id)
        if division_id is None:
            name = gettext("No division")
        else:
            # The rows come in the divisions' order: this one is next.
            name = self.waiting.pop(0)[1] if self.waiting else ""
        self.sink.division(name)
        self.current, self.open = division_id, True
        self.entries, self.prizes = 0, Counter()

    def _finish_until(self, division_id: int | None) -> None:
        """Close the open division, then write every empty division before ``division_id``
        (all of them for None)."""
        self._close()
        while self.waiting and self.waiting[0][0] != division_id:
            self.sink.division(self.waiting.pop(0)[1])
            self.open = True
            self.entries, self.prizes = 0, Counter()
            self._close()

    def _close(self) -> None:
        if not self.open:
            return
        rows: list[list[Any]] = [[gettext("Total entries"), self.entries]]
        rows += [[_prize_label(prize), self.prizes.get(prize, 0)] for prize in Prize]
        self.sink.totals(rows)
        self.open = False

    def add(self, lines: Sequence[ResultLine]) -> None:
        for line in lines:
            if not self.open or line.division_id != self.current:
                self._start(line.division_id)
            self.sink.line(line.cells)
            self.entries += 1
            if line.prize is not None:
                self.prizes[line.prize] += 1

    def finish(self) -> None:
        self._finish_until(None)
        self.sink.close()


RESULT_WIDTHS = (8, 12, 26, 14, 30, 6, 6, 30, 34, 10, 12, 8, 18, 26)
# The final score and the mean of the judges' totals (columns J and K) show two decimals.
RESULT_STYLES = (xlsx.PLAIN,) * 9 + (xlsx.SCORE, xlsx.SCORE)
# Rows above a sheet's data (title, subtitle, a blank row, the headers) and below it (a blank
# row, the number of entries, one row per prize).
HEAD_ROWS = 4
TAIL_ROWS = 2 + len(Prize)


class _XlsxResults:
    """One sheet per division; a division longer than a sheet goes on in a next sheet with
    the same heading. Rows go into the file as they are written (contest.xlsx)."""

    def __init__(self, out: BinaryIO, results: ContestResults) -> None:
        self.book = StreamedBook(
            out, title=results.title(), author=results.organizer, created=results.exported_at
        )
        self.results = results
        self.headers = result_headers()
        self.taken: set[str] = set()
        self.name = ""
        self.sheet: StreamedSheet | None = None
        self.row = 0
        self.pending: list[list[Any]] = []

    def division(self, name: str) -> None:
        self._flush()
        self.name = name
        self._new_sheet()

    def _new_sheet(self) -> None:
        self.sheet = self.book.add_sheet(
            _sheet_title(self.name, self.taken), widths=RESULT_WIDTHS, freeze_rows=HEAD_ROWS
        )
        self.sheet.row(0, [f"{self.results.title()} · {self.name}"], (xlsx.TITLE,))
        self.sheet.row(1, [_published_line(self.results)])
        self.sheet.row(3, self.headers, (xlsx.BOLD,) * len(self.headers))
        self.row = HEAD_ROWS

    def line(self, cells: list[Any]) -> None:
        if self.row + len(self.pending) >= SHEET_ROW_LIMIT - TAIL_ROWS:
            self._flush()
            self._new_sheet()
        self.pending.append(cells)
        if len(self.pending) >= EXPORT_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            assert self.sheet is not None
            self.sheet.rows(self.row, self.pending, RESULT_STYLES)
            self.row += len(self.pending)
            self.pending = []

    def totals(self, rows: list[list[Any]]) -> None:
        self._flush()
        assert self.sheet is not None
        self.row += 1
        for cells in rows:
            self.sheet.row(self.row, cells, (xlsx.BOLD,))
            self.row += 1

    def close(self) -> None:
        self._flush()
        if self.sheet is None:
            sheet = self.book.add_sheet(_sheet_title(gettext("Results"), self.taken))
            sheet.row(0, [self.results.title()])
        self.book.close()


class _CsvResults:
    """One table for the whole contest with a division column; UTF-8 with a byte order mark,
    so that Excel reads the Vietnamese letters."""

    def __init__(self, out: BinaryIO) -> None:
        self.text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=False)
        self.writer = CsvWriter(self.text, lineterminator="\r\n")
        self.writer.writerow([gettext("Division"), *result_headers()])
        self.name = ""

    def division(self, name: str) -> None:
        self.name = name

    def line(self, cells: list[Any]) -> None:
        self.writer.writerow([self.name, *cells])

    def totals(self, rows: list[list[Any]]) -> None:
        for cells in rows:
            self.writer.writerow([self.name, *cells])

    def close(self) -> None:
        self.text.flush()
        # The caller's file stays open: the caller owns it.
        self.text.detach()


async def write_results_export(
    session: AsyncSession,
    *,
    contest_id: int,
    fmt: str,
    out: BinaryIO,
    locale: str | None = None,
    progress: Progress = no_progress,
    scope: OrganiserScope | None = None,
) -> ExportInfo:
    """A contest's results as XLSX or CSV (a draft before publication), written into ``out``
    as the rows are read, a batch at a time: memory stays flat however many there are.
    ``progress`` hears (rows written, rows in all) after every batch; ``scope`` keeps the rows
    of an organiser's units."""
    check_format(fmt, RESULT_FORMATS)
    with use_locale(locale or get_locale()):
        results = await load_contest_results(session, contest_id=contest_id)
        places = _Places(await UnitTree.load(session, event_id=results.event_id))
        sink: _ResultsSink = _XlsxResults(out, results) if fmt == "xlsx" else _CsvResults(out)
        divisions = _Divisions(results, sink)
        done = 0
        # Plain rows on the session's connection: no ORM bookkeeping per row.
        connection = await session.connection()
        stream = await connection.stream(_result_lines(contest_id, scope))
        writing: asyncio.Future[None] | None = None
        async for rows in stream.partitions(EXPORT_BATCH):
            lines = [_result_line(row, places) for row in rows]
            if writing is not None:
                await writing
                await progress(done, max(done, results.rows))
            # Writing is CPU work: off the event loop, so that a server keeps answering, and
            # while the next batch is read.
            writing = asyncio.ensure_future(asyncio.to_thread(divisions.add, lines))
            done += len(lines)
        if writing is not None:
            await writing
            await progress(done, max(done, results.rows))
        await asyncio.to_thread(divisions.finish)
    return ExportInfo(results.filename(fmt), MEDIA_TYPES[fmt], done, draft=not results.published)


def _sheet_title(name: str, taken: set[str]) -> str:
    base = (name.translate(SHEET_NAME_FORBIDDEN).strip() or "-")[:SHEET_NAME_LIMIT]
    title, number = base, 2
    while title.lower() in taken:
        suffix = f" ({number})"
        title, number = base[: SHEET_NAME_LIMIT - len(suffix)] + suffix, number + 1
    taken.add(title.lower())
    return title


class XlsxBook:
    """A workbook written to the caller's file row by row (xlsxwriter's constant-memory
    mode: a sheet's rows go to a temporary file as they are written, and are zipped into
    ``out`` at ``close``), with the house's sheet heading and formats."""

    def __init__(self, out: BinaryIO, *, title: str, author: str) -> None:
        self.book = xlsxwriter.Workbook(out, {"constant_memory": True})
        self.book.set_properties({"title": title, "author": author})
        self.bold = self.book.add_format({"bold": True})
        self.title = self.book.add_format({"bold": True, "font_size": 14})
        self.head = self.book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
        self.taken: set[str] = set()

    def add_sheet(self, name: str) -> Any:
        return self.book.add_worksheet(_sheet_title(name, self.taken))

    def headed_sheet(
        self,
        name: str,
        heading: tuple[str, str],
        headers: list[str],
        *,
        widths: Sequence[int],
        freeze: tuple[int, int],
        wrap: bool = False,
    ) -> Any:
        """A new sheet that opens with its title, a subtitle, a blank row and the bold column
        headers on row 4, so that the data starts on row 5."""
        sheet = self.add_sheet(name)
        title, subtitle = heading
        write_xlsx_row(sheet, 0, [title], {0: self.title})
        write_xlsx_row(sheet, 1, [subtitle])
        style = self.head if wrap else self.bold
        write_xlsx_row(sheet, 3, headers, dict.fromkeys(range(len(headers)), style))
        for column, width in enumerate(widths):
            sheet.set_column(column, column, width)
        sheet.freeze_panes(*freeze)
        return sheet

    def close(self) -> None:
        self.book.close()


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
    """A judge's row in the report: the assignments given, scored and recused."""

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
    # For an organiser of some units: their names (the report counts only what is below them).
    units: str = ""

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
        if self.units:
            return gettext(
                "Report of %(units)s on the %(event)s", units=self.units, event=self.event
            )
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


async def load_event_report(
    session: AsyncSession, *, event_id: int, scope: OrganiserScope | None = None
) -> EventReport:
    """Counts over submitted entries only; prizes from published results only. Every number
    is counted by the database (grouped by unit, contest and division), so the work in Python
    grows with the units, never with the entries. For an organiser of some units (``scope``):
    their units' entries only, rolled up by the units just below theirs, without the judges'
    workload (judges are the national organisers')."""
    event = await session.get(Event, event_id)
    if event is None:
        raise ExportNotFoundError(event_id)
    tree = await UnitTree.load(session, event_id=event.id)
    for_units = scope is not None and scope.for_units
    own: set[int] = set()
    if scope is not None and for_units:
        own = set(await session.scalars(organisers_own_units(scope.user_id)))
    contests = await event_contests(session, event_id=event.id)
    contest_ids = [c.id for c in contests]
    divisions = (
        await session.scalars(
            select(Division)
            .where(Division.contest_id.in_(contest_ids))
            .order_by(Division.position, Division.id)
        )
    ).all()
    in_event = select(Contest.id).where(Contest.event_id == event.id).scalar_subquery()
    submitted = (
        select()
        .select_from(Entry)
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .where(Entry.contest_id.in_(in_event), Entry.status == EntryStatus.SUBMITTED)
    )
    if scope is not None and for_units:
        submitted = scope.narrow(submitted, Entrant.unit_id)
    cells = (
        await session.execute(
            submitted.add_columns(
                Entrant.unit_id, Entry.contest_id, Entry.division_id, func.count()
            ).group_by(Entrant.unit_id, Entry.contest_id, Entry.division_id)
        )
    ).all()
    # An entrant has one unit, so entrants add up from unit to top-level unit.
    entrants_per_unit = (
        await session.execute(
            submitted.add_columns(Entrant.unit_id, func.count(distinct(Entry.entrant_id))).group_by(
                Entrant.unit_id
            )
        )
    ).all()
    entrants = (
        await session.scalar(submitted.add_columns(func.count(distinct(Entry.entrant_id))))
    ) or 0
    published = submitted.join(Result, Result.entry_id == Entry.id).where(
        Result.published_at.is_not(None)
    )
    prize_cells = (
        await session.execute(
            published.add_columns(Entrant.unit_id, Result.prize, func.count())
            .where(Result.prize.is_not(None))
            .group_by(Entrant.unit_id, Result.prize)
        )
    ).all()
    publications = (
        await session.execute(
            published.add_columns(
                Result.contest_id, func.max(Result.published_at), func.count(Result.prize)
            ).group_by(Result.contest_id)
        )
    ).all()

    # Columns: each contest's divisions in order, and "no division" where entries lack one.
    columns: list[ReportColumn] = []
    column_of: dict[tuple[int, int | None], int] = {}
    titles = {c.id: c.title for c in contests}
    division_names = {d.id: d.name for d in divisions}
    used = {(cell.contest_id, cell.division_id) for cell in cells}

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

    def unit_key(unit_id: int | None) -> int:
        return unit_id if unit_id is not None and unit_id in tree.units else NO_UNIT

    def root_of(unit_id: int | None) -> int:
        root = tree.below(unit_id, own) if for_units else tree.root(unit_id)
        return root.id if root else NO_UNIT

    # Entries by the entrant's own unit, in tree order; entries without a unit last.
    counts: dict[int, list[int]] = defaultdict(lambda: [0] * len(columns))
    per_root_entries: Counter[int] = Counter()
    entries_per_contest: Counter[int] = Counter()
    for unit_id, contest_id, division_id, count in cells:
        counts[unit_key(unit_id)][column_of[(contest_id, division_id)]] += count
        per_root_entries[root_of(unit_id)] += count
        entries_per_contest[contest_id] += count
    by_unit = [
        UnitEntries(tree.label(unit.id), counts[unit.id])
        for unit, _depth in tree.in_tree_order()
        if unit.id in counts
    ]
    if NO_UNIT in counts:
        by_unit.append(UnitEntries(gettext("No unit given"), counts[NO_UNIT]))

    # Participation and prizes by top-level unit (a school with its classes, a residential
    # group, the learning centre).
    per_root_entrants: Counter[int] = Counter()
    for unit_id, count in entrants_per_unit:
        per_root_entrants[root_of(unit_id)] += count
    if for_units:
        rows = {u for u in tree.units.values() if u.parent_id in own}
        rows |= {tree.units[root] for root in per_root_entries if root in tree.units}
    else:
        rows = {unit for unit in tree.units.values() if tree.root(unit.id) is unit}
    roots = sorted(rows, key=lambda u: (KIND_ORDER.get(u.kind, 9), u.name, u.id))

    def unit_name(root_id: int) -> str:
        return tree.units[root_id].name if root_id in tree.units else gettext("No unit given")

    participation = [
        Participation(
            unit.name,
            gettext(labels.UNIT_KINDS[unit.kind]),
            per_root_entries.get(unit.id, 0),
            per_root_entrants.get(unit.id, 0),
        )
        for unit in roots
    ]
    if NO_UNIT in per_root_entries:
        participation.append(
            Participation(
                gettext("No unit given"),
                "",
                per_root_entries[NO_UNIT],
                per_root_entrants[NO_UNIT],
            )
        )
    largest = max((p.entries for p in participation), default=0)
    for item in participation:
        item.share = round(100 * item.entries / largest) if largest else 0

    tiers: dict[int, Counter[Prize]] = defaultdict(Counter)
    for unit_id, prize, count in prize_cells:
        tiers[root_of(unit_id)][Prize(prize)] += count
    prizes = [
        UnitPrizes(
            unit_name(standing.unit_id),
            standing.entries,
            {prize: tiers[standing.unit_id].get(prize, 0) for prize in Prize},
            standing.prize_points,
        )
        for standing in unit_standings_of_counts(
            per_root_entries,
            {root: {p.value: n for p, n in won.items()} for root, won in tiers.items()},
        )
    ]

    published_at = {contest_id: newest for contest_id, newest, _prizes in publications}
    prizes_per_contest = {contest_id: count for contest_id, _newest, count in publications}
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
        judges=[] if for_units else await _judge_loads(session, contest_ids),
        entrants=entrants,
        units=", ".join(sorted(tree.units[u].name for u in own if u in tree.units))
        if for_units
        else "",
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


def _report_xlsx(report: EventReport, out: BinaryIO) -> None:
    """One sheet per table of the report, every unit's row in full (the page shows a part)."""
    book = XlsxBook(out, title=report.title(), author=report.organizer)
    titles = section_titles()
    for key, (headers, rows) in _report_sections(report).items():
        sheet = book.headed_sheet(
            titles[key],
            (titles[key], _report_subtitle(report)),
            headers,
            widths=[40] + [14] * (len(headers) - 1),
            freeze=(HEAD_ROWS, 1),
            wrap=True,
        )
        for number, row in enumerate(rows):
            last = key != "judges" and number == len(rows) - 1
            styles = dict.fromkeys(range(len(row)), book.bold) if last else None
            write_xlsx_row(sheet, HEAD_ROWS + number, row, styles)
        if key == "participation" and report.participation:
            chart = book.book.add_chart({"type": "bar"})
            last_row = HEAD_ROWS + len(report.participation) - 1
            chart.add_series(
                {
                    "name": [sheet.name, HEAD_ROWS - 1, 2],
                    "categories": [sheet.name, HEAD_ROWS, 0, last_row, 0],
                    "values": [sheet.name, HEAD_ROWS, 2, last_row, 2],
                }
            )
            chart.set_title({"name": gettext("Entries by school and residential group")})
            chart.set_legend({"none": True})
            # 7.5 cm, or 0.8 cm a unit, at 96 pixels an inch.
            chart.set_size({"height": round(max(7.5, 0.8 * len(report.participation)) * 37.8)})
            sheet.insert_chart("G4", chart)
    book.close()


def _report_filename(report: EventReport, extension: str) -> str:
    return f"report-{report.generated_at:%Y%m%d}.{extension}"


def _report_bytes(report: EventReport, fmt: str, out: BinaryIO) -> None:
    if fmt == "xlsx":
        _report_xlsx(report, out)
    elif fmt == "pdf":
        report_pdf(report, out)
    else:
        out.write(report_html(report).encode())


async def write_report_export(
    session: AsyncSession,
    *,
    event_id: int,
    fmt: str,
    out: BinaryIO,
    locale: str | None = None,
    progress: Progress = no_progress,
    scope: OrganiserScope | None = None,
) -> ExportInfo:
    """The event report as XLSX, PDF or a standalone HTML page, written into ``out``. The
    report is counted by the database first (step 1 of 2), then written (step 2). ``scope``:
    an organiser of some units' report (``load_event_report``)."""
    check_format(fmt, REPORT_FORMATS)
    with use_locale(locale or get_locale()):
        await progress(0, 2)
        report = await load_event_report(session, event_id=event_id, scope=scope)
        await progress(1, 2)
        await asyncio.to_thread(_report_bytes, report, fmt, out)
        await progress(2, 2)
    return ExportInfo(_report_filename(report, fmt), MEDIA_TYPES[fmt], report.entries)


def _report_subtitle(report: ReportHeading) -> str:
    """Who reports, over what dates, as of when: a unit's report names its units first."""
    subtitle = gettext(
        "%(organizer)s · %(start)s – %(end)s · as of %(date)s",
        organizer=report.organizer,
        start=format_date(report.starts_on),
        end=format_date(report.ends_on),
        date=format_date(report.generated_at),
    )
    return f"{report.units} · {subtitle}" if report.units else subtitle


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


# A table of the PDF goes in pieces of this many rows, each with its column headers: reportlab
# lays a long table out again from its split point on every page, so one table of thousands of
# rows costs the square of its pages.
PDF_TABLE_ROWS = 30
# Lines of one cell at most (the rest cut with "…"), so that no row is ever taller than a page.
PDF_CELL_LINES = 6
PDF_CELL_SIZE, PDF_CELL_LEADING = 8.5, 10.5
PDF_CELL_PADDING = 3
# The participation chart shows the units with the most entries, however many there are; the
# table under it lists them all.
PDF_CHART_UNITS = 20


def _cell_lines(value: Any, font: str, width: float) -> str:
    """A cell's text wrapped to its column, as plain lines (a table of plain strings lays out
    in a fraction of the time of one of paragraphs)."""
    text = "" if value is None else " ".join(str(value).split())
    if stringWidth(text, font, PDF_CELL_SIZE) <= width:
        return text
    lines = simpleSplit(text, font, PDF_CELL_SIZE, width)
    if len(lines) > PDF_CELL_LINES:
        lines = lines[:PDF_CELL_LINES]
        lines[-1] = lines[-1][:-1] + "…"
    return "\n".join(lines)


def _tables(
    headers: list[str], rows: list[list[Any]], width: float, total_row: bool
) -> list[Table]:
    """One of the report's tables, in pieces of PDF_TABLE_ROWS rows that each start with the
    headers (and repeat them if a piece goes on over a page)."""
    first = min(width * 0.34, 7 * cm) if len(headers) > 2 else width / 2
    rest = (width - first) / max(1, len(headers) - 1)
    widths = [first] + [rest] * (len(headers) - 1)
    inner = [w - 2 * PDF_CELL_PADDING for w in widths]
    head = [_cell_lines(h, FONT_BOLD, w) for h, w in zip(headers, inner, strict=True)]
    base: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), FONT, PDF_CELL_SIZE, PDF_CELL_LEADING),
        ("FONT", (0, 0), (-1, 0), FONT_BOLD, PDF_CELL_SIZE, PDF_CELL_LEADING),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b9b2a3")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#ece6d8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), PDF_CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), PDF_CELL_PADDING),
    ]
    tables: list[Table] = []
    for start in range(0, max(1, len(rows)), PDF_TABLE_ROWS):
        piece = rows[start : start + PDF_TABLE_ROWS]
        data = [head] + [
            [_cell_lines(v, FONT, w) for v, w in zip(row, inner, strict=True)] for row in piece
        ]
        commands = list(base)
        if total_row and piece and start + len(piece) == len(rows):
            commands.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f4f1ea")))
        tables.append(Table(data, colWidths=widths, repeatRows=1, style=TableStyle(commands)))
    return tables


def participation_chart(report: EventReport, width: float) -> Drawing:
    """Entries per school and residential group, as horizontal bars: the PDF_CHART_UNITS
    units with the most entries, in the table's order."""
    items = report.participation
    if len(items) > PDF_CHART_UNITS:
        shown = {id(p) for p in sorted(items, key=lambda p: -p.entries)[:PDF_CHART_UNITS]}
        items = [p for p in items if id(p) in shown]
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


def report_pdf(report: EventReport, out: BinaryIO, *, locale: str | None = None) -> None:
    """The report as a PDF for print, written into ``out``: every table in full, over as many
    pages as it takes."""
    register_fonts()
    with use_locale(locale or get_locale()):
        styles = _styles()
        page = landscape(A4)
        document = SimpleDocTemplate(
            out,
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
            tables = _tables(headers, rows, width, total_row=key != "judges")
            if key == "participation" and report.participation:
                chart: list[Any] = [heading]
                if len(report.participation) > PDF_CHART_UNITS:
                    note = gettext(
                        "The %(count)s units with the most entries; the table lists every unit.",
                        count=PDF_CHART_UNITS,
                    )
                    chart.append(Paragraph(escape(note), styles["body"]))
                # The heading stays with its chart, on the page where the chart starts.
                story.append(KeepTogether([*chart, participation_chart(report, width)]))
                story += [Spacer(1, 6), *tables]
            else:
                story += [heading, *tables]
        document.build(story)


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
