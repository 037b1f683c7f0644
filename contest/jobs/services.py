"""The job rows: every change to a job is one of these functions.

Like every service they take the caller's session and never commit, with one difference in use:
the worker commits each step (claim, progress, outcome) at once, because the point of a job row
is that others see it while the work goes on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contest import audit
from contest.db import utcnow
from contest.errors import ConflictError, NotFoundError
from contest.i18n import gettext
from contest.models import Job, JobStatus, User

# A running job's worker touches its heartbeat this often; a job whose heartbeat is older than
# STALE_AFTER belongs to a worker that died, and is claimed again.
HEARTBEAT_SECONDS = 5.0
STALE_AFTER = timedelta(seconds=60)
# A queued job that no worker picked up in this long lost its queue message (a queue file
# removed, a Redis restarted): it is pushed again.
UNCLAIMED_AFTER = timedelta(minutes=5)

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


def active_key(kind: str, contest_id: int | None, params: dict[str, Any]) -> str:
    """One job of a kind at a time for the same thing: asking twice finds the first."""
    scope = ",".join(f"{k}={params[k]}" for k in sorted(params))
    return f"{kind}:{contest_id or '-'}:{scope}"[:120]


async def create_job(
    session: AsyncSession,
    *,
    kind: str,
    contest_id: int | None,
    params: dict[str, Any] | None = None,
    actor: User | None,
    fresh: bool = False,
) -> tuple[Job, bool]:
    """The job for this work: a new one (True), or the one already queued or running (False).
    ``fresh``: the work names rows made in the caller's transaction, so no job can hold its
    key yet and none is looked for (the unique key still stands guard)."""
    params = dict(params or {})
    key = active_key(kind, contest_id, params)
    if not fresh:
        existing = await session.scalar(select(Job).where(Job.active_key == key))
        if existing is not None:
            return existing, False
    job = Job(
        kind=kind,
        contest_id=contest_id,
        params=params,
        status=JobStatus.QUEUED,
        active_key=key,
        created_by_id=actor.id if actor else None,
        created_at=utcnow(),
    )
    session.add(job)
    await session.flush()
    audit.record(
        session,
        "job_queued",
        job,
        actor=actor,
        after={"kind": kind, "contest": contest_id, **params},
    )
    return job, True


async def get_job(session: AsyncSession, *, job_id: int) -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFoundError()
    return job


async def claim_job(session: AsyncSession, *, job_id: int, worker: str) -> bool:
    """Take the job for this worker: one UPDATE that only one worker can win, for a queued job
    or a running one whose worker stopped beating."""
    now = utcnow()
    claimed = await session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            or_(
                Job.status == JobStatus.QUEUED,
                (Job.status == JobStatus.RUNNING) & (Job.heartbeat_at < now - STALE_AFTER),
            ),
        )
        .values(
            status=JobStatus.RUNNING,
            worker=worker,
            attempts=Job.attempts + 1,
            started_at=now,
            heartbeat_at=now,
            error=None,
        )
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def _update_own(session: AsyncSession, *, job_id: int, worker: str, **values: Any) -> bool:
    """Change the job only while it is running for this worker: False when it is no longer
    theirs (judged dead and claimed by another), and nothing changes then."""
    changed = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.status == JobStatus.RUNNING)
        .values(heartbeat_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return changed.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def beat(
    session: AsyncSession,
    *,
    job_id: int,
    worker: str,
    done: int | None = None,
    total: int | None = None,
) -> bool:
    """Refresh the heartbeat, and the progress when given."""
    progress = {"progress_done": done, "progress_total": total}
    values = {name: value for name, value in progress.items() if value is not None}
    return await _update_own(session, job_id=job_id, worker=worker, **values)


async def finish_job(
    session: AsyncSession, *, job_id: int, worker: str, result: dict[str, Any]
) -> bool:
    return await _update_own(
        session,
        job_id=job_id,
        worker=worker,
        status=JobStatus.DONE,
        result=result,
        active_key=None,
        finished_at=utcnow(),
        progress_done=Job.progress_total,
    )


async def fail_job(session: AsyncSession, *, job_id: int, worker: str, error: str) -> bool:
    """The job ended with an error the organiser reads on its page; it may be retried."""
    return await _update_own(
        session,
        job_id=job_id,
        worker=worker,
        status=JobStatus.FAILED,
        error=error[:2000],
        active_key=None,
        finished_at=utcnow(),
    )


async def retry_job(session: AsyncSession, *, job_id: int, actor: User | None) -> Job:
    """Queue a failed job again, unless the same work is already under way."""
    job = await get_job(session, job_id=job_id)
    if job.status != JobStatus.FAILED:
        raise ConflictError(gettext("Only a job that failed can be tried again."))
    key = active_key(job.kind, job.contest_id, job.params)
    if await session.scalar(select(Job.id).where(Job.active_key == key)) is not None:
        raise ConflictError(gettext("The same work is already queued or running."))
    job.status = JobStatus.QUEUED
    job.active_key = key
    job.error = None
    job.progress_done = 0
    job.finished_at = None
    audit.record(session, action="job_retried", object_type="job", object_id=job.id, actor=actor)
    await session.flush()
    return job


async def jobs_to_push_again(session: AsyncSession, *, now: datetime | None = None) -> list[int]:
    """Jobs whose worker died (a stale heartbeat) or whose queue message was lost."""
    now = now or utcnow()
    found = await session.scalars(
        select(Job.id)
        .where(
            or_(
                (Job.status == JobStatus.RUNNING) & (Job.heartbeat_at < now - STALE_AFTER),
                (Job.status == JobStatus.QUEUED) & (Job.created_at < now - UNCLAIMED_AFTER),
            )
        )
        .order_by(Job.id)
        .limit(1000)
    )
    return list(found)


async def recent_jobs(
    session: AsyncSession, *, contest_id: int, started_by: int | None = None, limit: int = 5
) -> list[Job]:
    """The contest's latest jobs, newest first, for the organiser's pages; ``started_by``:
    only the ones this user started."""
    query = select(Job).where(Job.contest_id == contest_id)
    if started_by is not None:
        query = query.where(Job.created_by_id == started_by)
    found = await session.scalars(query.order_by(Job.id.desc()).limit(limit))
    return list(found)
