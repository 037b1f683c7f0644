"""``contest export results|report|certificates``: the organisers' files, from the command line.

Each function opens the database, writes the file whole (to a temporary name, then renamed, so
that an interrupted run leaves no half file) and returns one line saying what it wrote. Long
runs draw a progress bar on standard error.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from contest.db import run_with_session
from contest.events.services import get_event
from contest.i18n import gettext, use_locale
from contest.models import Contest, Event, Unit
from contest.results import exports
from contest.results.certificates import Certificate, certificates_for, render_certificates
from contest.settings import Settings

Named = TypeVar("Named", Contest, Unit)

RESULT_FORMATS = ("xlsx", "csv")
REPORT_FORMATS = ("xlsx", "pdf", "html")
STDOUT = "-"


class ExportCommandError(Exception):
    """The export cannot be made; the message says why, for the person at the terminal."""


class ProgressBar:
    """``label [#######.............] 12/40`` on one line, redrawn as the work advances."""

    def __init__(self, stream: TextIO | None, label: str, *, width: int = 30) -> None:
        self.stream = stream
        self.label = label
        self.width = width
        self._drawn = -1

    def __call__(self, done: int, total: int) -> None:
        if self.stream is None or total <= 0:
            return
        filled = self.width * done // total
        # Redraw only when the bar grows, so that a log file gets a few lines, not thousands.
        if filled == self._drawn and done != total:
            return
        self._drawn = filled
        bar = "#" * filled + "." * (self.width - filled)
        end = "\n" if done >= total else ""
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total}{end}")
        self.stream.flush()


def _write(path: str | Path, data: bytes) -> str:
    """Write the whole file or nothing; ``-`` writes to standard output."""
    if str(path) == STDOUT:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return gettext("standard output")
    target = Path(path)
    try:
        # Readable by its owner only, like the data it holds (children's names).
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".export-")
    except OSError as exc:
        raise ExportCommandError(
            gettext("Cannot write %(path)s: %(reason)s", path=str(path), reason=exc.strerror)
        ) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, target)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ExportCommandError(
                gettext("Cannot write %(path)s: %(reason)s", path=str(path), reason=exc.strerror)
            ) from None
        raise
    return str(target)


async def _in_newest_event(
    session: AsyncSession, model: type[Named], name: InstrumentedAttribute[str], value: str
) -> Named | None:
    """The row with this name, in the newest event that has one (names repeat across years)."""
    found: Named | None = await session.scalar(
        select(model)
        .join(Event, Event.id == model.event_id)
        .where(name == value)
        .order_by(Event.starts_on.desc(), Event.id.desc())
        .limit(1)
    )
    return found


async def _contest_by_slug(session: AsyncSession, slug: str) -> Contest:
    contest = await _in_newest_event(session, Contest, Contest.slug, slug)
    if contest is None:
        raise ExportCommandError(gettext("There is no contest %(slug)s.", slug=slug))
    return contest


async def _unit_by_code(session: AsyncSession, code: str) -> Unit:
    unit = await _in_newest_event(session, Unit, Unit.code, code)
    if unit is None:
        raise ExportCommandError(gettext("There is no unit %(code)s.", code=code))
    return unit


def export_results(
    settings: Settings,
    contest_slug: str,
    path: str | Path,
    fmt: str,
    *,
    progress: TextIO | None = sys.stderr,
) -> str:
    """A contest's results as XLSX or CSV (a draft before publication)."""
    with use_locale(settings.locale):
        if fmt not in RESULT_FORMATS:
            raise ExportCommandError(gettext("Choose one of the formats: xlsx, csv."))
        bar = ProgressBar(progress, gettext("Results"))

        async def load(session: AsyncSession) -> exports.ContestResults:
            contest = await _contest_by_slug(session, contest_slug)
            return await exports.load_contest_results(session, contest_id=contest.id)

        bar(0, 2)
        results = run_with_session(settings.database_url, load)
        bar(1, 2)
        writer = exports.results_xlsx if fmt == "xlsx" else exports.results_csv
        written = _write(path, writer(results))
        bar(2, 2)
        rows = sum(len(d.lines) for d in results.divisions)
        message = gettext(
            "Results written to %(path)s (rows: %(count)s).", count=rows, path=written
        )
        return message if results.published else f"{message} ({gettext('draft')})"


def export_report(
    settings: Settings, path: str | Path, fmt: str, *, progress: TextIO | None = sys.stderr
) -> str:
    """The event report (the newest event) as XLSX, PDF or a standalone HTML page."""
    with use_locale(settings.locale):
        if fmt not in REPORT_FORMATS:
            raise ExportCommandError(gettext("Choose one of the formats: xlsx, pdf, html."))
        bar = ProgressBar(progress, gettext("Report"))

        async def load(session: AsyncSession) -> exports.EventReport:
            event = await get_event(session)
            if event is None:
                raise ExportCommandError(
                    gettext("There is no event yet. Create it first, or load an event file.")
                )
            return await exports.load_event_report(session, event_id=event.id)

        bar(0, 2)
        report = run_with_session(settings.database_url, load)
        bar(1, 2)
        if fmt == "html":
            data = exports.report_html(report).encode()
        elif fmt == "pdf":
            data = exports.report_pdf(report)
        else:
            data = exports.report_xlsx(report)
        written = _write(path, data)
        bar(2, 2)
        return gettext(
            "Report written to %(path)s (entries: %(entries)s).",
            entries=report.entries,
            path=written,
        )


def export_certificates(
    settings: Settings,
    *,
    contest_slug: str | None = None,
    unit_code: str | None = None,
    path: str | Path,
    progress: TextIO | None = sys.stderr,
) -> str:
    """One PDF with a page per published winner: of a contest, or of a unit (a school with its
    classes) across the event's contests."""
    with use_locale(settings.locale):
        if (contest_slug is None) == (unit_code is None):
            raise ExportCommandError(gettext("Give either a contest or a unit."))

        async def load(session: AsyncSession) -> list[Certificate]:
            if contest_slug is not None:
                contest = await _contest_by_slug(session, contest_slug)
                return await certificates_for(
                    session, base_url=settings.base_url, contest_id=contest.id
                )
            assert unit_code is not None
            unit = await _unit_by_code(session, unit_code)
            return await certificates_for(session, base_url=settings.base_url, unit_id=unit.id)

        certificates = run_with_session(settings.database_url, load)
        if not certificates:
            raise ExportCommandError(gettext("There are no published prize winners here yet."))
        data = render_certificates(
            certificates, progress=ProgressBar(progress, gettext("Certificates"))
        )
        written = _write(path, data)
        return gettext(
            "Certificates written to %(path)s (pages: %(count)s).",
            count=len(certificates),
            path=written,
        )
