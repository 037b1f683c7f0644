"""Judging's background job: assignment, as the organiser's page, the API and
``contest assign`` start it (an organiser of some units' job, for their units)."""

from __future__ import annotations

from typing import Any

from contest import rules
from contest.i18n import N_
from contest.jobs.kinds import JobContext, JobKind
from judging import services


async def _assign(ctx: JobContext) -> dict[str, Any]:
    assert ctx.job.contest_id is not None
    async with ctx.sessionmaker.begin() as session:
        report = await services.run_assignment(
            session,
            contest_id=ctx.job.contest_id,
            actor=ctx.actor,
            progress=ctx.progress,
            # An organiser of some units' run: their units' entries and their judges only.
            scope=rules.scope_of_job(ctx.job.params),
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


KINDS = [JobKind("assign", N_("Assignment of judges"), _assign, "admin_judging")]
