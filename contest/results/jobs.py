"""The results' background jobs: computing, publishing, and the files (results, certificates,
the event report) written into storage for the organiser to download."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession

from contest.i18n import N_
from contest.jobs.kinds import JobContext, JobKind, Run, store_export
from contest.results import certificates, exports, services
from contest.results.downloads import ExportInfo


async def _compute(ctx: JobContext) -> dict[str, Any]:
    assert ctx.job.contest_id is not None
    async with ctx.sessionmaker.begin() as session:
        report = await services.compute_results(
            session, contest_id=ctx.job.contest_id, actor=ctx.actor, progress=ctx.progress
        )
    return {"entries": report.entries, "prizes": report.prizes}


async def _publish(ctx: JobContext) -> dict[str, Any]:
    assert ctx.job.contest_id is not None
    async with ctx.sessionmaker.begin() as session:
        count = await services.publish_results(
            session, contest_id=ctx.job.contest_id, actor=ctx.actor, progress=ctx.progress
        )
    return {"published": count}


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
    return await exports.write_results_export(
        session,
        contest_id=ctx.job.contest_id or 0,
        fmt=str(ctx.job.params.get("format", "xlsx")),
        out=out,
        locale=ctx.settings.locale,
        progress=ctx.progress,
    )


async def _certificates_file(session: AsyncSession, ctx: JobContext, out: BinaryIO) -> ExportInfo:
    return await certificates.write_certificates(
        session,
        base_url=ctx.settings.base_url,
        out=out,
        contest_id=ctx.job.contest_id,
        locale=ctx.settings.locale,
        progress=ctx.progress,
    )


async def _report_file(session: AsyncSession, ctx: JobContext, out: BinaryIO) -> ExportInfo:
    return await exports.write_report_export(
        session,
        event_id=int(ctx.job.params["event"]),
        fmt=str(ctx.job.params.get("format", "xlsx")),
        out=out,
        locale=ctx.settings.locale,
        progress=ctx.progress,
    )


KINDS = [
    JobKind("results_compute", N_("Computing the results"), _compute, "admin_results"),
    JobKind("results_publish", N_("Publishing the results"), _publish, "admin_results"),
    JobKind("export_results", N_("Results export"), _export(_results_file), "admin_results"),
    JobKind(
        "export_certificates", N_("Certificates"), _export(_certificates_file), "admin_results"
    ),
    JobKind("export_report", N_("Event report"), _export(_report_file), "admin_report"),
]
