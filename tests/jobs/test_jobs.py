"""Jobs in one process: claimed once, their failures shown and retried, their progress read
through the page and the API, refused to anyone but the contest's organisers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.app import JOB_KINDS
from contest.demo import DemoReport
from contest.jobs import services
from contest.jobs.worker import execute_job, run_queued
from contest.models import Assignment, AuditEvent, Job, JobStatus, Role
from contest.settings import Settings
from tests.support import (
    DRAWING,
    WRITING,
    MakeUser,
    contest_id_of,
    csrf_from,
    follow_job,
    score_all,
    sign_in,
    stored,
)


async def _queue(
    sessionmaker: async_sessionmaker[AsyncSession], kind: str, contest_id: int
) -> tuple[Job, bool]:
    async with sessionmaker.begin() as session:
        return await services.create_job(session, kind=kind, contest_id=contest_id, actor=None)


@pytest.fixture
async def drawing(demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """The demo's drawing contest, by id."""
    return await contest_id_of(sessionmaker, DRAWING)


@pytest.fixture
async def writing_assigned(
    demo: DemoReport,
    organiser: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> tuple[int, dict[str, Any]]:
    """The writing contest's assignment, run by the organiser from the judging page."""
    contest_id = await contest_id_of(sessionmaker, WRITING)
    judging = f"/admin/contests/{contest_id}/judging"
    token = await csrf_from(organiser, judging)
    started = await organiser.post(f"{judging}/assign", data={"csrf_token": token})
    assigned = await follow_job(organiser, settings, started)
    assert assigned["status"] == "done"
    return contest_id, assigned


async def _score_everything(
    sessionmaker: async_sessionmaker[AsyncSession], contest_id: int
) -> set[int]:
    """Every assigned entry scored at half marks; the entries."""
    async with sessionmaker() as session:
        entries = set(await session.scalars(select(Assignment.entry_id)))
    await score_all(sessionmaker, contest_id, {entry: 0.5 for entry in entries})
    return entries


async def test_two_workers_never_run_the_same_job_twice(
    drawing: int, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job, created = await _queue(sessionmaker, "assign", drawing)
    assert created
    # Asking again for the same work finds the job under way.
    again, created_again = await _queue(sessionmaker, "assign", drawing)
    assert again.id == job.id and not created_again

    ran = await asyncio.gather(
        execute_job(settings, job.id, JOB_KINDS, worker="worker-a"),
        execute_job(settings, job.id, JOB_KINDS, worker="worker-b"),
    )
    assert sorted(ran) == [False, True]
    done = await stored(sessionmaker, Job, job.id)
    assert done.status == JobStatus.DONE and done.attempts == 1 and done.active_key is None
    # A third delivery of the same message finds nothing to do.
    assert await execute_job(settings, job.id, JOB_KINDS, worker="worker-c") is False
    async with sessionmaker() as session:
        pairs = (await session.execute(select(Assignment.entry_id, Assignment.judge_id))).all()
        runs = await session.scalar(
            select(func.count()).where(AuditEvent.action == "assignment_run")
        )
    assert pairs and len(pairs) == len(set(pairs))
    assert runs == 1
    assert done.result is not None and done.result["new_assignments"] == len(pairs)


async def test_a_failed_job_shows_its_error_and_can_be_retried(
    writing_assigned: tuple[int, dict[str, Any]],
    organiser: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    contest_id, assigned = writing_assigned
    # Judging started, nothing scored: computing fails inside the job, with the reason.
    page = f"/admin/contests/{contest_id}/results"
    started = await organiser.post(
        page, data={"csrf_token": await csrf_from(organiser, page), "action": "compute"}
    )
    failed = await follow_job(organiser, settings, started)
    assert failed["status"] == "failed"
    assert failed["error"] == "Chưa có bài nào được gửi điểm."
    job_page = await organiser.get(started.headers["location"])
    assert job_page.status_code == 200
    assert "Chưa có bài nào được gửi điểm." in job_page.text
    assert "Thử lại" in job_page.text  # the retry button
    # The job's own list on the results console shows it too.
    assert "Chưa có bài nào được gửi điểm." in (await organiser.get(page)).text

    # Retrying a job that did not fail is refused and changes nothing.
    refused = await organiser.post(
        f"/api/v1/jobs/{assigned['id']}/retry",
        headers={"X-CSRF-Token": await csrf_from(organiser, page)},
    )
    assert refused.status_code == 409
    assert (await stored(sessionmaker, Job, assigned["id"])).status == JobStatus.DONE

    await _score_everything(sessionmaker, contest_id)
    retried = await organiser.post(
        f"/admin/jobs/{failed['id']}/retry",
        data={"csrf_token": await csrf_from(organiser, started.headers["location"])},
    )
    again = await follow_job(organiser, settings, retried)
    assert again["id"] == failed["id"]
    assert again["status"] == "done" and again["error"] is None and again["attempts"] == 2
    assert again["result"]["entries"] > 0


async def test_progress_is_visible_through_the_page_and_the_api(
    drawing: int, organiser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job, _ = await _queue(sessionmaker, "assign", drawing)
    # A worker half-way: claimed, 1,200 of 3,000 rows done.
    async with sessionmaker.begin() as session:
        assert await services.claim_job(session, job_id=job.id, worker="w")
        assert await services.beat(session, job_id=job.id, worker="w", done=1200, total=3000)
    read = (await organiser.get(f"/api/v1/jobs/{job.id}")).json()
    assert read["status"] == "running"
    assert read["progress"] == {"done": 1200, "total": 3000}
    page = await organiser.get(f"/admin/jobs/{job.id}")
    assert '<progress max="3000" value="1200"' in page.text
    assert f'/api/v1/jobs/{job.id}" data-status="running"' in page.text
    assert "/static/jobs.js" in page.text
    judging = await organiser.get(f"/admin/contests/{drawing}/judging")
    assert f'/admin/jobs/{job.id}">' in judging.text


async def test_jobs_are_the_organisers_alone(
    drawing: int,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    job, _ = await _queue(sessionmaker, "assign", drawing)
    assert (await client.get(f"/api/v1/jobs/{job.id}")).status_code == 401
    judge = await make_user("gk@example.vn", Role.JUDGE, contests=[DRAWING])
    await sign_in(client, judge.user.email, judge.password)
    assert (await client.get(f"/api/v1/jobs/{job.id}")).status_code == 403
    assert (await client.get(f"/admin/jobs/{job.id}")).status_code == 403
    # A coordinator follows their own imports, never an organiser's job.
    teacher = await make_user("gv@example.vn", Role.COORDINATOR, units=["th-bach-sam-5a"])
    await sign_in(client, teacher.user.email, teacher.password)
    assert (await client.get(f"/api/v1/jobs/{job.id}")).status_code == 404
    assert (await client.get(f"/admin/jobs/{job.id}")).status_code == 403
    admin = await make_user("btc@example.vn", Role.ADMIN)
    await sign_in(client, admin.user.email, admin.password)
    assert (await client.get(f"/api/v1/jobs/{job.id + 1000}")).status_code == 404
    assert (await client.get(f"/admin/jobs/{job.id + 1000}/download")).status_code == 404
    # A job that made no file has nothing to download.
    assert (await client.get(f"/admin/jobs/{job.id}/download")).status_code == 404


async def test_a_job_queued_twice_runs_once_and_run_queued_drains(
    drawing: int,
    client: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    first, _ = await _queue(sessionmaker, "assign", drawing)
    assert await run_queued(settings, JOB_KINDS) == 1
    assert await run_queued(settings, JOB_KINDS) == 0
    second, created = await _queue(sessionmaker, "assign", drawing)
    # The first one ended, so the same work may be asked for again: a new job, a rerun that
    # only fills gaps.
    assert created and second.id != first.id
    assert await run_queued(settings, JOB_KINDS) == 1
    rerun = await stored(sessionmaker, Job, second.id)
    assert rerun.result is not None and rerun.result["new_assignments"] == 0
    # The finished job's page says what it did.
    admin = await make_user("btc@example.vn", Role.ADMIN)
    await sign_in(client, admin.user.email, admin.password)
    page = await client.get(f"/admin/jobs/{first.id}")
    assert page.status_code == 200
    done = await stored(sessionmaker, Job, first.id)
    assert done.result is not None
    assert f"Đã phân công thêm {done.result['new_assignments']} lượt chấm" in page.text


async def test_an_export_job_keeps_its_file_for_the_organiser_to_download(
    writing_assigned: tuple[int, dict[str, Any]],
    organiser: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    contest_id, _assigned = writing_assigned
    entries = await _score_everything(sessionmaker, contest_id)
    page = f"/admin/contests/{contest_id}/results"
    token = await csrf_from(organiser, page)
    computed = await organiser.post(page, data={"csrf_token": token, "action": "compute"})
    assert (await follow_job(organiser, settings, computed))["status"] == "done"

    async with sessionmaker() as session:
        jobs_before = await session.scalar(select(func.count()).select_from(Job))
    refused = await organiser.post(
        page, data={"csrf_token": token, "action": "export", "what": "everything"}
    )
    assert refused.status_code == 422
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Job)) == jobs_before

    started = await organiser.post(
        page, data={"csrf_token": token, "action": "export", "what": "results_xlsx"}
    )
    job = await follow_job(organiser, settings, started)
    assert job["status"] == "done", job
    assert job["result"]["filename"].endswith(".xlsx")
    assert job["download"] and job["progress"]["done"] == job["progress"]["total"] == len(entries)
    link = await organiser.get(job["download"])
    assert link.status_code == 303
    stored = await organiser.get(link.headers["location"])
    assert stored.status_code == 200
    sheet = load_workbook(BytesIO(stored.content), read_only=True).worksheets[0]
    assert sheet.max_row is not None and sheet.max_row > len(entries)
    job_page = await organiser.get(started.headers["location"])
    assert f"/admin/jobs/{job['id']}/download" in job_page.text
