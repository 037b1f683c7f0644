"""``contest export results|report|certificates``: the organisers' files, from the command line.

Each function opens the database and streams the file from the export's writer straight into
the output's folder (under a temporary name, renamed once whole, so that an interrupted run
leaves no half file), and returns one line saying what it wrote. The writer's progress draws a
bar on standard error.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from contest.db import run_with_session
from contest.errors import ContestError
from contest.events.services import get_event
from contest.i18n import gettext, use_locale
from contest.models import Contest, Event, Unit
from contest.results import exports
from contest.results.certificates import write_certificates
from contest.results.downloads import ExportInfo
from contest.settings import Settings

Named = TypeVar("Named", Contest, Unit)

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

    async def progress(self, done: int, total: int) -> None:
        """The bar as a writer's ``progress`` callback."""
        self(done, total)


@contextmanager
def _output(path: str | Path) -> Iterator[BinaryIO]:
    """A file to stream the export into, which becomes ``path`` only once it is whole (a
    temporary name in the same folder, renamed), or nothing; ``-`` is standard output."""
    if str(path) == STDOUT:
        with tempfile.TemporaryFile() as spool:
            yield spool
            spool.seek(0)
            shutil.copyfileobj(spool, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        return
    target = Path(path)
    try:
        # Readable by its owner only, like the data it holds (children's names).
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".export-")
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
        os.replace(temporary, target)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _cannot_write(path, exc) from None
        raise


def _cannot_write(path: str | Path, exc: OSError) -> ExportCommandError:
    return ExportCommandError(
        gettext("Cannot write %(path)s: %(reason)s", path=str(path), reason=exc.strerror)
    )


def _written(path: str | Path) -> str:
    return gettext("standard output") if str(path) == STDOUT else str(Path(path))


def _run_export(
    settings: Settings,
    path: str | Path,
    write: Callable[[AsyncSession, BinaryIO], Awaitable[ExportInfo]],
) -> ExportInfo:
    """Open the database and the output, and stream the export from one into the other. A
    refusal of the writer's (nothing to export, a bad format) is the command's error."""

    async def work(session: AsyncSession) -> ExportInfo:
        with _output(path) as out:
            return await write(session, out)

    try:
        return run_with_session(settings.database_url, work)
    except ContestError as exc:
        raise ExportCommandError(exc.message) from None


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
        bar = ProgressBar(progress, gettext("Results"))

        async def write(session: AsyncSession, out: BinaryIO) -> ExportInfo:
            contest = await _contest_by_slug(session, contest_slug)
            return await exports.write_results_export(
                session, contest_id=contest.id, fmt=fmt, out=out, progress=bar.progress
            )

        info = _run_export(settings, path, write)
        message = gettext(
            "Results written to %(path)s (rows: %(count)s).", count=info.rows, path=_written(path)
        )
        return f"{message} ({gettext('draft')})" if info.draft else message


def export_report(
    settings: Settings, path: str | Path, fmt: str, *, progress: TextIO | None = sys.stderr
) -> str:
    """The event report (the newest event) as XLSX, PDF or a standalone HTML page."""
    with use_locale(settings.locale):
        bar = ProgressBar(progress, gettext("Report"))

        async def write(session: AsyncSession, out: BinaryIO) -> ExportInfo:
            event = await get_event(session)
            if event is None:
                raise ExportCommandError(
                    gettext("There is no event yet. Create it first, or load an event file.")
                )
            return await exports.write_report_export(
                session, event_id=event.id, fmt=fmt, out=out, progress=bar.progress
            )

        info = _run_export(settings, path, write)
        return gettext(
            "Report written to %(path)s (entries: %(entries)s).",
            entries=info.rows,
            path=_written(path),
        )


def export_certificates(
    settings: Settings,
    *,
    contest_slug: str | None = None,
    unit_code: str | None = None,
    path: str | Path,
    progress: TextIO | None = sys.stderr,
) -> str:
    """The certificates of published winners, of a contest or of a unit (a school with its
    classes) across the event's contests: one PDF with a page each, or for more than a batch a
    ZIP of such PDFs."""
    with use_locale(settings.locale):
        if (contest_slug is None) == (unit_code is None):
            raise ExportCommandError(gettext("Give either a contest or a unit."))
        bar = ProgressBar(progress, gettext("Certificates"))

        async def write(session: AsyncSession, out: BinaryIO) -> ExportInfo:
            if contest_slug is not None:
                contest = await _contest_by_slug(session, contest_slug)
                return await write_certificates(
                    session,
                    base_url=settings.base_url,
                    out=out,
                    contest_id=contest.id,
                    progress=bar.progress,
                )
            assert unit_code is not None
            unit = await _unit_by_code(session, unit_code)
            return await write_certificates(
                session, base_url=settings.base_url, out=out, unit_id=unit.id, progress=bar.progress
            )

        info = _run_export(settings, path, write)
        return gettext(
            "Certificates written to %(path)s (pages: %(count)s).",
            count=info.rows,
            path=_written(path),
        )
