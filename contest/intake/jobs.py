"""The intake domain's background job: processing an entry's new files once their bytes are
stored (``services.process_entry_files``). The entrant's request returns as soon as the
bytes are safe; this job scrubs what needs a seekable copy and makes a drawing's preview and
thumbnail, and until it ends the entry shows "processing" and judges see none of its files.
It may run again on the same files at any point (a killed worker's job claimed again, a
retry) without adding anything twice; a file it cannot process leaves the entry flagged
for the organiser, with this job's error, and nothing removed."""

from __future__ import annotations

from typing import Any

from contest.errors import ContestError
from contest.i18n import N_
from contest.intake import services
from contest.intake.interfaces import PROCESS_ENTRY
from contest.jobs.kinds import JobContext, JobKind


async def _process_entry(ctx: JobContext) -> dict[str, Any]:
    params = ctx.job.params
    outcome = await services.process_entry_files(
        sessionmaker=ctx.sessionmaker,
        storage=ctx.storage,
        entry_id=int(params["entry_id"]),
        # No progress: an entry has a file or two, and each report would cost the job's
        # heartbeat a connection of its own.
        asset_ids=[int(i) for i in params.get("assets", [])],
    )
    if outcome.error is not None:
        if isinstance(outcome.error, ContestError):
            raise outcome.error
        raise RuntimeError("a file of the entry could not be processed") from outcome.error
    return {"entry_id": params["entry_id"], "ready": outcome.ready}


KINDS = [JobKind(PROCESS_ENTRY, N_("Processing an entry's files"), _process_entry, "admin")]
