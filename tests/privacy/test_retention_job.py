"""Retention as a job: progress stored on the job, a dry run that erases nothing, a run
stopped half-way taken up by the next one with nothing erased twice, files an earlier run left
deleted, and bad parameters failing the job with nothing erased; on the local folder and S3."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.app import JOB_KINDS
from contest.cli import main
from contest.db import utcnow
from contest.jobs.queue import start_job
from contest.jobs.worker import execute_job
from contest.models import Asset, AuditEvent, Contest, Entry, Job, JobStatus, Prize, Role
from contest.privacy import services
from contest.privacy.jobs import retention_params
from contest.settings import Settings
from storage import Storage
from tests.intake import files
from tests.intake.support import api_submit, entrant_fields
from tests.privacy.support import point_command_at
from tests.results.support import Row, make_results
from tests.support import DRAWING, Account, sign_in, vi

ENTRANTS = 4


async def _due(app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]) -> set[str]:
    """ENTRANTS drawings with files in the drawing contest, published long ago without a
    prize (a winner's entry is kept): the receipt codes retention erases."""
    made = []
    for number in range(ENTRANTS + 1):
        fields = entrant_fields(full_name=f"Người Vẽ {number}")
        response = await api_submit(app, DRAWING, fields, [("a.png", files.drawing_png())])
        assert response.status_code == 201, response.text
        made.append(response.json()["entry"]["receipt_code"])
    await make_results(
        sessionmaker,
        [Row(made[0], 1, 9.0, Prize.FIRST)]
        + [Row(code, rank, 5.0) for rank, code in enumerate(made[1:], start=2)],
    )
    async with sessionmaker() as session:
        due = set(
            (
                await session.scalars(
                    select(Entry.receipt_code)
                    .join(Contest)
                    .where(Contest.slug == DRAWING, Entry.receipt_code != made[0])
                )
            ).all()
        )
    assert set(made[1:]) <= due
    return due


async def _erased(sessionmaker: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessionmaker() as session:
        return set(
            (
                await session.scalars(
                    select(Entry.receipt_code).where(Entry.erased_at.is_not(None))
                )
            ).all()
        )


async def _files_of(sessionmaker: async_sessionmaker[AsyncSession], codes: set[str]) -> list[str]:
    async with sessionmaker() as session:
        return list(
            (
                await session.scalars(
                    select(Asset.storage_key).join(Entry).where(Entry.receipt_code.in_(codes))
                )
            ).all()
        )


async def _erasures(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        found = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "entry.erase")
        )
    return int(found or 0)


@dataclasses.dataclass
class Retention:
    """What each test starts from: the entries retention erases (``_due``), their files' keys,
    and the parts a run uses."""

    due: set[str]
    keys: list[str]
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    store: Storage

    async def run(self, params: dict[str, object]) -> Job:
        """A retention job started and run to its end by this process, as a worker would."""
        job = await start_job(
            self.sessionmaker, None, kind="retention", contest_id=None, params=params, actor=None
        )
        assert await execute_job(self.settings, job.id, JOB_KINDS)
        async with self.sessionmaker() as session:
            row = await session.get(Job, job.id)
        assert row is not None
        return row


@pytest.fixture
async def retention(
    app: httpx.AsyncClient,
    intake_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
) -> Retention:
    due = await _due(app, sessionmaker)
    keys = await _files_of(sessionmaker, due)
    return Retention(due, keys, intake_settings, sessionmaker, store)


async def test_a_dry_run_job_lists_and_the_real_one_erases_with_progress(
    retention: Retention,
) -> None:
    due, sessionmaker = retention.due, retention.sessionmaker
    keys = retention.keys
    assert keys

    dry = await retention.run(retention_params(dry_run=True))
    assert dry.status == JobStatus.DONE, dry.error
    assert dry.result is not None
    assert (dry.result["due"], dry.result["erased"], dry.result["files_deleted"]) == (
        len(due),
        0,
        0,
    )
    assert set(dry.result["sample"]) == due
    assert (dry.progress_done, dry.progress_total) == (len(due), len(due))
    assert await _erased(sessionmaker) == set()
    assert set(keys) <= set(await retention.store.list_keys("entries/"))

    job = await retention.run(retention_params(dry_run=False))
    assert job.status == JobStatus.DONE, job.error
    assert job.result is not None
    assert job.result["due"] == job.result["erased"] == len(due)
    assert job.result["files_deleted"] == len(keys) and job.result["files_left"] == 0
    assert (job.progress_done, job.progress_total) == (len(due), len(due))
    assert await _erased(sessionmaker) == due
    assert await _files_of(sessionmaker, due) == []
    assert not set(keys) & set(await retention.store.list_keys("entries/"))

    again = await retention.run(retention_params(dry_run=False))
    assert again.status == JobStatus.DONE and again.result is not None
    assert (again.result["due"], again.result["files_deleted"]) == (0, 0)
    assert await _erasures(sessionmaker) == len(due)


async def test_a_run_stopped_half_way_is_taken_up_and_nothing_is_erased_twice(
    retention: Retention,
) -> None:
    due, sessionmaker = retention.due, retention.sessionmaker
    keys = retention.keys
    calls: list[tuple[int, int]] = []

    async def killed_after_two(done: int, total: int) -> None:
        calls.append((done, total))
        if done == 2:
            raise KeyboardInterrupt("the worker was killed")

    with pytest.raises(KeyboardInterrupt):
        await services.apply_retention(
            sessionmaker=sessionmaker,
            storage=retention.store,
            now=utcnow(),
            dry_run=False,
            progress=killed_after_two,
        )
    assert calls == [(0, len(due)), (1, len(due)), (2, len(due))]
    first = await _erased(sessionmaker)
    assert len(first) == 2 and first < due

    # One more erased in rows only, as if the worker died before its files went.
    (half,) = sorted(due - first)[:1]
    async with sessionmaker.begin() as session:
        await services.erase_personal_data(session, receipt_code=half, reason="test")
    left_behind = await _files_of(sessionmaker, {half})
    assert left_behind

    job = await retention.run(retention_params(dry_run=False))
    assert job.status == JobStatus.DONE, job.error
    assert job.result is not None
    assert job.result["due"] == len(due) - 3 and job.result["leftovers"] == 1
    assert job.result["files_left"] == 0
    assert job.progress_done == job.progress_total == len(due) - 2
    assert await _erased(sessionmaker) == due
    assert await _files_of(sessionmaker, due) == []
    assert not set(keys) & set(await retention.store.list_keys("entries/"))
    # Each entrant erased (and audited) once.
    assert await _erasures(sessionmaker) == len(due)


async def test_bad_parameters_fail_the_job_with_nothing_erased(retention: Retention) -> None:
    due, sessionmaker = retention.due, retention.sessionmaker
    job = await retention.run({"dry_run": False, "now": "yesterday"})
    assert job.status == JobStatus.FAILED and job.error
    assert await _erased(sessionmaker) == set()
    assert len(await _files_of(sessionmaker, due)) >= len(due)


@pytest.mark.parametrize("args", [["--dry-run", "--no-wait"], ["--now"], ["--wait"]])
def test_the_command_refuses_bad_options(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["retention", "apply", *args])
    assert stopped.value.code == 2
    assert "error" in capsys.readouterr().err


async def test_the_command_can_leave_the_run_to_a_worker(
    retention: Retention,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    due, sessionmaker = retention.due, retention.sessionmaker
    point_command_at(retention.settings, monkeypatch)
    code = await asyncio.to_thread(main, ["retention", "apply", "--no-wait"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert {line.split("\t")[0] for line in lines[:-1]} == due
    async with sessionmaker() as session:
        job = await session.scalar(select(Job).where(Job.kind == "retention"))
    assert job is not None and job.status == JobStatus.QUEUED
    assert lines[-1] == f"Job {job.id} queued (retention); a worker runs it."
    assert await _erased(sessionmaker) == set()
    assert await execute_job(retention.settings, job.id, JOB_KINDS)
    assert await _erased(sessionmaker) == due


async def test_the_jobs_page_shows_the_runs_progress_and_outcome(
    retention: Retention,
    app: httpx.AsyncClient,
    make_user: Callable[..., Awaitable[Account]],
) -> None:
    due = retention.due
    account = await make_user("btc@example.vn", Role.ADMIN)
    await sign_in(app, account.user.email, account.password)
    dry = await retention.run(retention_params(dry_run=True))
    page = await app.get(f"/admin/jobs/{dry.id}")
    assert page.status_code == 200
    assert vi("%(count)s entries are due for erasure; nothing was erased.", count=len(due)) in (
        page.text
    )
    job = await retention.run(retention_params(dry_run=False))
    page = await app.get(f"/admin/jobs/{job.id}")
    assert job.result is not None
    outcome = vi(
        "Erased %(count)s entries; %(files)s stored files deleted.",
        count=len(due),
        files=job.result["files_deleted"],
    )
    assert outcome in page.text
    assert f"{len(due)} / {len(due)}" in page.text
    assert 'href="http://testserver/admin/privacy"' in page.text
    status = await app.get(f"/api/v1/jobs/{job.id}")
    assert status.status_code == 200
    assert status.json()["progress"] == {"done": len(due), "total": len(due)}
