"""The queue that wakes workers, on Huey: a small, maintained task queue with a SQLite store
(nothing to install or run beside the app) and a Redis store (for many worker hosts).

Only job ids travel through the queue; the job's row holds everything else, so a message that
is lost or delivered twice costs nothing: a worker runs a job only after claiming its row.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any
from urllib.parse import urlsplit

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.jobs import services, worker
from contest.jobs.kinds import Kinds
from contest.models import Job, User
from contest.settings import Settings

logger = logging.getLogger(__name__)


def queue_name(settings: Settings) -> str:
    """One queue per database: platforms (or test runs) sharing a Redis never take each
    other's jobs."""
    digest = hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]
    return f"contest-jobs-{digest}"


def _huey(settings: Settings) -> Huey:
    url = settings.job_queue_url
    name = queue_name(settings)
    if urlsplit(url).scheme in ("redis", "rediss"):
        return RedisHuey(name, url=url, results=False, utc=True)
    return SqliteHuey(name, filename=url.removeprefix("sqlite:///"), results=False, utc=True)


class JobQueue:
    def __init__(self, settings: Settings, kinds: Kinds) -> None:
        self.settings = settings
        self.kinds = kinds
        self.huey = _huey(settings)
        self._run = self.huey.task(name="run_job")(self._run_job)
        self.huey.periodic_task(crontab(minute="*"), name="push_again")(self._push_again)
        # Each worker thread keeps its database engine and storage between jobs; it lets go
        # of them when it stops.
        self.huey.on_shutdown("close_thread_runner")(worker.close_thread_runner)

    def push(self, job_id: int) -> None:
        """Tell a worker about a job. A queue that cannot be reached loses nothing: the job
        stays queued in its row and is pushed again by the next worker's minute check."""
        try:
            self._run(job_id)
        except Exception:
            logger.exception("job %s could not be queued; it will be pushed again", job_id)

    def _run_job(self, job_id: int) -> None:
        worker.run_job_sync(self.settings, job_id, self.kinds)

    def _push_again(self) -> None:
        pushed = worker.push_again(self.settings, self.push)
        if pushed:
            logger.info("pushed %s job(s) again", pushed)

    def consumer(self, *, workers: int = 1) -> Consumer:
        # SIGTERM (systemd's stop, a deploy) lets the running job finish; SIGINT stops at once.
        return self.huey.create_consumer(
            workers=workers,
            worker_type="thread",
            periodic=True,
            graceful_signal="TERM",
            # An idle worker looks at the queue at least once a second: an organiser's job
            # starts at once, not after a long back-off.
            max_delay=1.0,
        )


async def start_job(
    sessionmaker: async_sessionmaker[AsyncSession],
    queue: JobQueue | None,
    *,
    kind: str,
    contest_id: int | None,
    params: dict[str, Any] | None = None,
    actor: User | None,
) -> Job:
    """Record the job in a unit of work of its own (a worker must find the row committed), then
    tell the queue. The same work asked for twice gives the job already under way."""
    async with sessionmaker.begin() as session:
        job, created = await services.create_job(
            session, kind=kind, contest_id=contest_id, params=params, actor=actor
        )
    if created and queue is not None:
        await asyncio.to_thread(queue.push, job.id)
    return job
