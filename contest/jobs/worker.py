"""Running one job: claim its row, keep its heartbeat, run its kind, record how it ended.

The heartbeat runs in a thread of its own with its own connection, so that a kind busy on the
CPU (the assignment algorithm, an XLSX being written) still shows it is alive; a worker that
dies stops beating, and after ``STALE_AFTER`` its job is claimed again by another.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import create_engine, create_sessionmaker
from contest.errors import ContestError
from contest.i18n import gettext, use_locale
from contest.jobs import services
from contest.jobs.kinds import JobContext, Kinds
from contest.models import Job, JobStatus, User
from contest.settings import Settings
from storage import Storage, storage_from_url

logger = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class _Heartbeat:
    """Writes the job's progress and heartbeat from a thread of its own."""

    def __init__(self, settings: Settings, job_id: int, worker: str) -> None:
        self.settings = settings
        self.job_id = job_id
        self.worker = worker
        self.done: int | None = None
        self.total: int | None = None
        self.lost = False
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job_id}-beat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._changed.set()
        self._thread.join()

    async def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        self._changed.set()

    def _run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        engine = create_engine(self.settings.database_url)
        sessionmaker = create_sessionmaker(engine)
        try:
            while not self._stop.is_set():
                # Progress at most once a second; a bare heartbeat every HEARTBEAT_SECONDS.
                await asyncio.to_thread(self._changed.wait, services.HEARTBEAT_SECONDS)
                self._changed.clear()
                if self._stop.is_set():
                    break
                async with sessionmaker.begin() as session:
                    mine = await services.beat(
                        session,
                        job_id=self.job_id,
                        worker=self.worker,
                        done=self.done,
                        total=self.total,
                    )
                if not mine:
                    self.lost = True
                    break
                await asyncio.sleep(1.0)
        except Exception:  # the job goes on; a missing beat only makes it look slow
            logger.exception("heartbeat of job %s failed", self.job_id)
        finally:
            await engine.dispose()


async def execute_job(
    settings: Settings, job_id: int, kinds: Kinds, *, worker: str | None = None
) -> bool:
    """Run the job if this worker can claim it; False when another has it or it is over.
    Opens a database engine and a storage for this one job (see ``run_job_sync`` for a
    worker thread's, kept from one job to the next)."""
    engine = create_engine(settings.database_url)
    storage = _open_storage(settings)
    try:
        return await _execute(
            settings,
            job_id,
            kinds,
            worker=worker,
            sessionmaker=create_sessionmaker(engine),
            storage=storage,
        )
    finally:
        await storage.aclose()
        await engine.dispose()


def _open_storage(settings: Settings) -> Storage:
    return storage_from_url(
        settings.storage_url, secret_key=settings.secret_key, base_url=settings.base_url
    )


async def _execute(
    settings: Settings,
    job_id: int,
    kinds: Kinds,
    *,
    worker: str | None,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
) -> bool:
    worker = worker or worker_name()
    async with sessionmaker.begin() as session:
        if not await services.claim_job(session, job_id=job_id, worker=worker):
            return False
    async with sessionmaker() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        actor = await session.get(User, job.created_by_id) if job.created_by_id else None
        session.expunge_all()
    kind = kinds.get(job.kind)
    with _Heartbeat(settings, job_id, worker) as heartbeat, use_locale(settings.locale):
        error: str | None = None
        result: dict[str, Any] = {}
        try:
            if kind is None:
                raise ContestError(gettext("This kind of job is unknown here."))
            context = JobContext(
                job=job,
                actor=actor,
                settings=settings,
                sessionmaker=sessionmaker,
                storage=storage,
                progress=heartbeat.progress,
            )
            result = await kind.run(context)
        except ContestError as exc:
            error = exc.message
        except Exception:
            logger.exception("job %s (%s) failed", job_id, job.kind)
            error = gettext(
                "The job stopped on an unexpected error. Nothing of it was kept; "
                "try it again, and tell the administrator if it fails again."
            )
    async with sessionmaker.begin() as session:
        if heartbeat.done is not None:
            await services.beat(
                session,
                job_id=job_id,
                worker=worker,
                done=heartbeat.done,
                total=heartbeat.total,
            )
        if error is None:
            await services.finish_job(session, job_id=job_id, worker=worker, result=result)
        else:
            await services.fail_job(session, job_id=job_id, worker=worker, error=error)
    return True


class _ThreadRunner:
    """A worker thread's event loop, database engine and storage, kept from one job to the
    next: one job per entry (1.7 million a year at national size) must not each pay for a
    new loop, new database connections and a new storage client."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runner = asyncio.Runner()
        self.engine = create_engine(settings.database_url)
        self.sessionmaker = create_sessionmaker(self.engine)
        self.storage = _open_storage(settings)

    def run(self, job_id: int, kinds: Kinds) -> bool:
        return self.runner.run(
            _execute(
                self.settings,
                job_id,
                kinds,
                worker=None,
                sessionmaker=self.sessionmaker,
                storage=self.storage,
            )
        )

    def close(self) -> None:
        async def dispose() -> None:
            await self.storage.aclose()
            await self.engine.dispose()

        try:
            self.runner.run(dispose())
        finally:
            self.runner.close()


_threads = threading.local()


async def run_queued(settings: Settings, kinds: Kinds) -> int:
    """Run, here and now, every job that is queued (or whose worker died): for the command
    line's waiting mode and for tests. Returns how many ran."""
    ran = 0
    while True:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                query = select(Job.id).where(Job.status == JobStatus.QUEUED).order_by(Job.id)
                ids = list(await session.scalars(query.limit(100)))
        finally:
            await engine.dispose()
        if not ids:
            return ran
        for job_id in ids:
            ran += await execute_job(settings, job_id, kinds)


def run_job_sync(settings: Settings, job_id: int, kinds: Kinds) -> bool:
    """For the queue's worker threads, which are not in an event loop: each thread keeps its
    loop, engine and storage for the jobs that follow (``_ThreadRunner``)."""
    runner: _ThreadRunner | None = getattr(_threads, "runner", None)
    if runner is not None and runner.settings != settings:
        runner.close()
        runner = None
    if runner is None:
        runner = _threads.runner = _ThreadRunner(settings)
    return runner.run(job_id, kinds)


def close_thread_runner() -> None:
    """Dispose of this thread's engine and storage (a worker thread that stops)."""
    runner: _ThreadRunner | None = getattr(_threads, "runner", None)
    if runner is not None:
        _threads.runner = None
        runner.close()


def push_again(settings: Settings, push: Callable[[int], None]) -> int:
    """Give the queue again the jobs whose worker died or whose message was lost."""

    async def find() -> list[int]:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                return await services.jobs_to_push_again(session)
        finally:
            await engine.dispose()

    ids = asyncio.run(find())
    for job_id in ids:
        push(job_id)
    return len(ids)
