"""The privacy domain's background job: a retention run, as ``contest retention apply``
starts it. It runs ``services.apply_retention``, which commits each entrant's erasure on its
own: a run stopped half-way keeps what it erased, and the job claimed again after a worker
died (or retried after a failure) takes up the rest, erasing nothing twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contest.db import utcnow
from contest.i18n import N_
from contest.jobs.kinds import JobContext, JobKind
from contest.privacy import services

# Entries of a dry run kept in the job's result for its page (the command line prints all).
SAMPLE = 200


def retention_params(*, dry_run: bool, now: datetime | None = None) -> dict[str, Any]:
    """The job's parameters; ``now`` (for tests and the command line's clock) as ISO text."""
    params: dict[str, Any] = {"dry_run": dry_run}
    if now is not None:
        params["now"] = now.isoformat()
    return params


async def _retention(ctx: JobContext) -> dict[str, Any]:
    dry_run = bool(ctx.job.params.get("dry_run", False))
    now = ctx.job.params.get("now")
    run = await services.apply_retention(
        sessionmaker=ctx.sessionmaker,
        storage=ctx.storage,
        now=datetime.fromisoformat(now) if now else utcnow(),
        dry_run=dry_run,
        progress=ctx.progress,
    )
    return {
        "dry_run": dry_run,
        "due": len(run.items),
        "erased": sum(1 for r in run.reports if not r.already),
        "leftovers": run.leftovers,
        "files_deleted": run.files_deleted,
        "files_left": run.files_left,
        "sample": [item.receipt_code for item in run.items[:SAMPLE]],
    }


KINDS = [
    JobKind("retention", N_("Retention: erasing expired entries"), _retention, "admin_privacy")
]
