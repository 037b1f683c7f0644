"""What each kind of job does. Every kind calls the service functions that the pages, the API
and the command line call; a job only adds that it runs in a worker, reports its progress and
keeps what it produced (a summary, or a file in storage with its name).

A kind runs its work in one unit of work, so a worker killed half-way leaves nothing of it: the
job is claimed again and runs from the start, with no duplicate rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.i18n import N_
from contest.models import Job, User
from contest.progress import Progress
from contest.results.downloads import ExportInfo
from contest.settings import Settings
from storage import Storage

EXPORT_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class JobContext:
    job: Job
    actor: User | None
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: Storage
    progress: Progress


Run = Callable[[JobContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str  # translated at display time
    run: Run
    # Where the organiser goes back to from the job's page.
    back: str


async def _assign(ctx: JobContext) -> dict[str, Any]:
    from judging import services

    assert ctx.job.contest_id is not None
    async with ctx.sessionmaker.begin() as session:
        report = await services.run_assignment(
            session, contest_id=ctx.job.contest_id, actor=ctx.actor, progress=ctx.progress
        )
    shortfalls = sorted(report.shortfalls.items())
    return {
        "round": report.round_number,
        "entries": report.entries,
        "judges": report.judges,
        "new_assignments": report.new_assignments,
        "shortfall_count": len(shortfalls),
        # The first ones, for the page; the whole list is the progress page's export.
        "shortfalls": [
            {"entry": entry_id, "missing": missing, "reason": reason, "eligible": eligible}
            for entry_id, (missing, reason, eligible) in shortfalls[:200]
        ],
    }


async def _compute(ctx: JobContext) -> dict[str, Any]:
    from contest.results import services

    assert ctx.job.contest_id is not None
    async with ctx.sessionmaker.begin() as session:
        report = await services.compute_results(
            session, contest_id=ctx.job.contest_id, actor=ctx.actor, progress=ctx.progress
        )
    return {"entries": report.entries, "prizes": report.prizes}


async def _publish(ctx: JobContext) -> dict[str, Any]:
    from contest.results import services

    assert ctx.job.contest_id is not None
    async with ctx.sessionmaker.begin() as session:
        count = await services.publish_results(
            session, contest_id=ctx.job.contest_id, actor=ctx.actor, progress=ctx.progress
        )
    return {"published": count}


async def _file_chunks(file: BinaryIO) -> AsyncIterator[bytes]:
    while chunk := file.read(EXPORT_CHUNK):
        yield chunk


async def store_export(
    ctx: JobContext,
    write: Callable[[BinaryIO], Awaitable[tuple[str, str]]],
) -> dict[str, Any]:
    """Write an export into a temporary file, then into storage under the job's own key; the
    organiser downloads it from the job's page. ``write`` returns (file name, media type)."""
    with tempfile.TemporaryFile(dir=ctx.settings.data_dir) as file:
        filename, media_type = await write(file)
        file.seek(0)
        key = f"exports/job-{ctx.job.id}/{Path(filename).name}"
        stored = await ctx.storage.put_stream(key, _file_chunks(file), content_type=media_type)
    return {"file": key, "filename": filename, "media_type": media_type, "size": stored.size}


def _export(
    write: Callable[[AsyncSession, JobContext, BinaryIO], Awaitable[ExportInfo]],
) -> Run:
    """A kind that writes one of the results' files (a writer of contest.results) and keeps it."""

    async def run(ctx: JobContext) -> dict[str, Any]:
        async def into(file: BinaryIO) -> tuple[str, str]:
            async with ctx.sessionmaker() as session:
                info = await write(session, ctx, file)
            return info.filename, info.media_type

        return await store_export(ctx, into)

    return run


async def _results_file(session: AsyncSession, ctx: JobContext, out: BinaryIO) -> ExportInfo:
    from contest.results import exports

    return await exports.write_results_export(
        session,
        contest_id=ctx.job.contest_id or 0,
        fmt=str(ctx.job.params.get("format", "xlsx")),
        out=out,
        locale=ctx.settings.locale,
        progress=ctx.progress,
    )


async def _certificates_file(session: AsyncSession, ctx: JobContext, out: BinaryIO) -> ExportInfo:
    from contest.results import certificates

    return await certificates.write_certificates(
        session,
        base_url=ctx.settings.base_url,
        out=out,
        contest_id=ctx.job.contest_id,
        locale=ctx.settings.locale,
        progress=ctx.progress,
    )


async def _report_file(session: AsyncSession, ctx: JobContext, out: BinaryIO) -> ExportInfo:
    from contest.results import exports

    return await exports.write_report_export(
        session,
        event_id=int(ctx.job.params["event"]),
        fmt=str(ctx.job.params.get("format", "xlsx")),
        out=out,
        locale=ctx.settings.locale,
        progress=ctx.progress,
    )


KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind("assign", N_("Assignment of judges"), _assign, "admin_judging"),
        JobKind("results_compute", N_("Computing the results"), _compute, "admin_results"),
        JobKind("results_publish", N_("Publishing the results"), _publish, "admin_results"),
        JobKind("export_results", N_("Results export"), _export(_results_file), "admin_results"),
        JobKind(
            "export_certificates", N_("Certificates"), _export(_certificates_file), "admin_results"
        ),
        JobKind("export_report", N_("Event report"), _export(_report_file), "admin_report"),
    )
}
