"""An entry's files are processed by a background job after the request returned: the entry
shows "processing" until the job ends, judges never see an unprocessed file, the job may run
again (a killed worker, a retry) without adding anything twice, and a job that fails leaves
the entry flagged for the organiser with its error, nothing removed, and a retry."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.app import JOB_KINDS
from contest.db import utcnow
from contest.demo import DemoReport
from contest.intake import services
from contest.jobs.worker import execute_job
from contest.models import (
    Asset,
    AssetRole,
    Contest,
    FileState,
    Job,
    JobStatus,
)
from contest.settings import Settings
from storage import Storage, StorageUnavailableError
from tests.intake import files
from tests.intake.support import (
    assigned_judge,
    counts,
    entrant_fields,
    entry_assets,
    entry_by_code,
    form,
    post_form,
)
from tests.support import DRAWING, app_client, csrf_from, sign_in, vi

API = "/api/v1"
RunJobs = Callable[[], Awaitable[int]]


class Killed(BaseException):
    """The worker's process ending in the middle of a job (not an error the job sees)."""


async def _submit(app: httpx.AsyncClient, data: bytes, name: str = "tranh.png") -> dict[str, Any]:
    made = await post_form(
        app, f"{API}/contests/{DRAWING}/entries", form(entrant_fields(), [(name, data)])
    )
    assert made.status_code == 201, made.text
    answer: dict[str, Any] = made.json()
    return answer


async def _objects(store: Storage, original: Asset) -> list[str]:
    return sorted(await store.list_keys(original.storage_key.rsplit("/", 1)[0] + "/"))


async def test_a_drawing_shows_processing_then_gets_its_previews_once(
    app: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    intake_settings: Settings,
    run_jobs: RunJobs,
) -> None:
    photo = files.photo_jpeg(orientation=6)
    made = await _submit(app, photo, "anh.jpg")
    code, token = made["entry"]["receipt_code"], made["edit_token"]

    # The request returned once the bytes were stored, hashed and recorded.
    assert made["entry"]["files_state"] == "processing"
    (sent,) = made["entry"]["files"]
    assert (sent["state"], sent["size"], sent["width"]) == ("processing", len(photo), None)
    entry = await entry_by_code(sessionmaker, code)
    (original,) = await entry_assets(sessionmaker, entry.id)
    assert original.state == FileState.PROCESSING and original.size == len(photo)
    assert await _objects(store, original) == [original.storage_key]
    receipt = await app.get(f"/entries/{code}", params={"token": token})
    assert 'id="files-state"' in receipt.text
    assert vi(
        "Being processed: the file is safely received and is being prepared for the "
        "judges. This takes a few minutes."
    ) in html.unescape(receipt.text)
    listed = await admin.get(f"/admin/contests/{entry.contest_id}/entries")
    assert f'data-entry="{entry.id}"' in listed.text
    row = listed.text.split(f'data-entry="{entry.id}"')[1].split("</tr>")[0]
    assert 'data-files="processing"' in row and vi("Processing") in row
    async with sessionmaker() as session:
        job = await session.get(Job, entry.files_job_id)
    assert job is not None and job.kind == "process_entry" and job.status == JobStatus.QUEUED

    assert await run_jobs() == 1

    entry = await entry_by_code(sessionmaker, code)
    assert entry.files_state == FileState.READY
    stored = await entry_assets(sessionmaker, entry.id)
    assert [a.role for a in stored] == [AssetRole.ORIGINAL, AssetRole.PREVIEW, AssetRole.THUMBNAIL]
    assert {a.state for a in stored} == {FileState.READY}
    assert (stored[0].width, stored[0].height) == (160, 320)  # upright
    keys = sorted(a.storage_key for a in stored)
    assert await _objects(store, original) == keys
    receipt = await app.get(f"/entries/{code}", params={"token": token})
    assert 'id="files-state"' not in receipt.text
    row = (await admin.get(f"/admin/contests/{entry.contest_id}/entries")).text
    assert 'data-files="ready"' in row.split(f'data-entry="{entry.id}"')[1].split("</tr>")[0]

    # Run again on the same files, as a retry or a message delivered twice would: nothing new.
    before = await counts(sessionmaker, store)
    await services.process_entry_files(
        sessionmaker=sessionmaker, storage=store, entry_id=entry.id, asset_ids=[original.id]
    )
    async with sessionmaker() as session:
        await session.execute(
            update(Asset).where(Asset.id == original.id).values(state=FileState.PROCESSING)
        )
        await session.commit()
    await services.process_entry_files(
        sessionmaker=sessionmaker, storage=store, entry_id=entry.id, asset_ids=[original.id]
    )
    assert await counts(sessionmaker, store) == before
    assert sorted(a.storage_key for a in await entry_assets(sessionmaker, entry.id)) == keys
    assert (await entry_by_code(sessionmaker, code)).files_state == FileState.READY


async def test_a_killed_workers_job_is_claimed_again_and_adds_nothing_twice(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    intake_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = await _submit(app, files.drawing_png((900, 600)))
    entry = await entry_by_code(sessionmaker, made["entry"]["receipt_code"])
    (original,) = await entry_assets(sessionmaker, entry.id)
    assert entry.files_job_id is not None
    put_stream = type(store).put_stream

    async def dies_at_the_thumbnail(self: Storage, key: str, *args: Any, **kwargs: Any) -> Any:
        if key.endswith("/thumbnail.jpg"):
            raise Killed
        return await put_stream(self, key, *args, **kwargs)

    monkeypatch.setattr(type(store), "put_stream", dies_at_the_thumbnail)
    with pytest.raises(Killed):
        await execute_job(intake_settings, entry.files_job_id, JOB_KINDS, worker="dies")
    monkeypatch.undo()
    # Half done: the preview stored, the thumbnail's row written before its object.
    half = await entry_assets(sessionmaker, entry.id)
    assert [a.role for a in half] == [AssetRole.ORIGINAL, AssetRole.PREVIEW, AssetRole.THUMBNAIL]
    assert half[0].state == FileState.PROCESSING
    assert len(await _objects(store, original)) == 2
    async with sessionmaker() as session:
        job = await session.get(Job, entry.files_job_id)
        assert job is not None and job.status == JobStatus.RUNNING
        # Its heartbeat stopped with the worker.
        job.heartbeat_at = utcnow() - timedelta(minutes=5)
        await session.commit()

    assert await execute_job(intake_settings, entry.files_job_id, JOB_KINDS, worker="next")

    stored = await entry_assets(sessionmaker, entry.id)
    assert [a.role for a in stored] == [AssetRole.ORIGINAL, AssetRole.PREVIEW, AssetRole.THUMBNAIL]
    assert [a.id for a in stored] == [a.id for a in half]  # the rows found, not added again
    assert {a.state for a in stored} == {FileState.READY}
    assert await _objects(store, original) == sorted(a.storage_key for a in stored)
    async with sessionmaker() as session:
        job = await session.get(Job, entry.files_job_id)
        assert job is not None and (job.status, job.attempts) == (JobStatus.DONE, 2)
    assert (await entry_by_code(sessionmaker, entry.receipt_code)).files_state == FileState.READY


async def test_a_judge_never_sees_an_unprocessed_file(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    intake_settings: Settings,
    seeded: DemoReport,
    run_jobs: RunJobs,
) -> None:
    made = await _submit(app, files.photo_jpeg())
    entry = await entry_by_code(sessionmaker, made["entry"]["receipt_code"])
    (original,) = await entry_assets(sessionmaker, entry.id)
    upload = original.storage_key.split("/")[1]
    async with sessionmaker() as session:
        assignment, user = await assigned_judge(
            session, contest_id=entry.contest_id, entry_id=entry.id
        )
    assignment_id, email = assignment.id, user.email
    async with app_client(intake_settings) as judge:
        await sign_in(judge, email, seeded.password)

        page = await judge.get(f"/judge/assignments/{assignment_id}")
        assert page.status_code == 200
        assert 'data-file="preparing"' in page.text
        assert vi(
            "This file is still being prepared. It will be shown here in a few minutes: "
            "please come back to it later."
        ) in html.unescape(page.text)
        # No link to any of its files, whatever the storage: nothing to open.
        assert upload not in page.text and "/files/" not in page.text
        read = await judge.get(f"{API}/judge/assignments/{assignment_id}")
        assert read.json()["files"] == [
            {"viewer": "preparing", "url": None, "size": original.size, "text": None}
        ]

        assert await run_jobs() == 1

        page = await judge.get(f"/judge/assignments/{assignment_id}")
        assert 'data-file="preparing"' not in page.text
        links = [
            link.replace("&amp;", "&")
            for link in re.findall(r'<img src="([^"]+)"', page.text)
            if upload in link or "/files/" in link
        ]
        assert len(links) == 1 and "original" not in links[0]  # the preview, never the photo
        (viewed,) = (await judge.get(f"{API}/judge/assignments/{assignment_id}")).json()["files"]
        assert viewed["viewer"] == "image" and viewed["url"]


async def test_a_failed_processing_job_flags_the_entry_keeps_everything_and_can_be_retried(
    app: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    run_jobs: RunJobs,
) -> None:
    healthy = await _submit(app, files.drawing_png())
    # Sniffed as a PNG, with a sound header, but cut short: only decoding finds it out.
    damaged = files.drawing_png((600, 400))
    made = await _submit(app, damaged[: len(damaged) // 2])
    assert made["entry"]["files_state"] == "processing"
    assert await run_jobs() == 2
    failed = await entry_by_code(sessionmaker, made["entry"]["receipt_code"])
    healthy_entry = await entry_by_code(sessionmaker, healthy["entry"]["receipt_code"])
    error = vi("This image could not be opened; it may be damaged. Please send it again.")

    assert failed.files_state == FileState.FAILED
    assert healthy_entry.files_state == FileState.READY
    (original,) = await entry_assets(sessionmaker, failed.id)  # nothing removed, nothing made
    assert original.state == FileState.FAILED
    assert await _objects(store, original) == [original.storage_key]
    async with sessionmaker() as session:
        job = await session.get(Job, failed.files_job_id)
        assert job is not None and (job.status, job.error) == (JobStatus.FAILED, error)
        contest = await session.get(Contest, failed.contest_id)
        assert contest is not None

    # The organiser's list, narrowed to the failed ones, shows it with the job's error.
    page = await admin.get(f"/admin/contests/{contest.id}/entries", params={"files": "failed"})
    assert page.status_code == 200
    assert f'data-entry="{failed.id}"' in page.text
    assert f'data-entry="{healthy_entry.id}"' not in page.text
    row = page.text.split(f'data-entry="{failed.id}"')[1].split("</tr>")[0]
    assert error in html.unescape(row) and vi("Processing failed") in row
    assert f"/admin/jobs/{failed.files_job_id}" in row
    listed = await admin.get(f"{API}/contests/{DRAWING}/entries", params={"files": "failed"})
    assert listed.status_code == 200
    assert [
        (e["receipt_code"], e["files_state"], e["files_error"], e["files_job"])
        for e in listed.json()["entries"]
    ] == [(failed.receipt_code, "failed", error, failed.files_job_id)]
    everyone = await admin.get(f"{API}/contests/{DRAWING}/entries")
    assert {failed.receipt_code, healthy_entry.receipt_code} <= {
        e["receipt_code"] for e in everyone.json()["entries"]
    }
    refused = await admin.get(f"{API}/contests/{DRAWING}/entries", params={"files": "lost"})
    assert refused.status_code == 400

    # Retried, the same damaged file fails the same way: still flagged, still kept.
    job_page = f"/admin/jobs/{failed.files_job_id}"
    shown = await admin.get(job_page)
    assert shown.status_code == 200 and error in html.unescape(shown.text)
    csrf = await csrf_from(admin, job_page)
    retried = await admin.post(f"{job_page}/retry", data={"csrf_token": csrf})
    assert retried.status_code == 303
    assert await run_jobs() == 1
    assert (await entry_by_code(sessionmaker, failed.receipt_code)).files_state == FileState.FAILED
    assert await _objects(store, original) == [original.storage_key]


async def test_a_job_failed_on_storage_succeeds_when_retried(
    app: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    run_jobs: RunJobs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = await _submit(app, files.drawing_png())
    entry = await entry_by_code(sessionmaker, made["entry"]["receipt_code"])

    async def unavailable(self: Storage, key: str) -> AsyncIterator[bytes]:
        raise StorageUnavailableError("down")

    monkeypatch.setattr(type(store), "get_stream", unavailable)
    assert await run_jobs() == 1
    monkeypatch.undo()
    assert (await entry_by_code(sessionmaker, entry.receipt_code)).files_state == FileState.FAILED
    listed = await admin.get(f"{API}/contests/{DRAWING}/entries", params={"files": "failed"})
    (flagged,) = listed.json()["entries"]
    assert flagged["receipt_code"] == entry.receipt_code
    assert flagged["files_error"] == vi(
        "The file store cannot be reached right now. Nothing was saved; "
        "please try again in a few minutes."
    )

    csrf = await csrf_from(admin, f"/admin/jobs/{entry.files_job_id}")
    retried = await admin.post(
        f"{API}/jobs/{entry.files_job_id}/retry", headers={"X-CSRF-Token": csrf}
    )
    assert retried.status_code == 202, retried.text
    assert await run_jobs() == 1

    assert (await entry_by_code(sessionmaker, entry.receipt_code)).files_state == FileState.READY
    roles = [a.role for a in await entry_assets(sessionmaker, entry.id)]
    assert roles == [AssetRole.ORIGINAL, AssetRole.PREVIEW, AssetRole.THUMBNAIL]
    listed = await admin.get(f"{API}/contests/{DRAWING}/entries", params={"files": "failed"})
    assert listed.json()["entries"] == []


async def test_an_edits_new_file_gets_a_job_of_its_own(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    run_jobs: RunJobs,
) -> None:
    made = await _submit(app, files.drawing_png())
    code, token = made["entry"]["receipt_code"], made["edit_token"]
    entry = await entry_by_code(sessionmaker, code)
    first = entry.files_job_id
    (replaced,) = await entry_assets(sessionmaker, entry.id)
    multipart = form({}, [("moi.webp", files.drawing_webp())])
    edited = await app.patch(
        f"{API}/entries/{code}",
        content=multipart.body(),
        headers={"X-Edit-Token": token, "Content-Type": multipart.content_type},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["files_state"] == "processing"
    entry = await entry_by_code(sessionmaker, code)
    assert entry.files_job_id not in (None, first)

    assert await run_jobs() == 2  # the replaced file's job finds nothing of its own to do

    entry = await entry_by_code(sessionmaker, code)
    assert entry.files_state == FileState.READY
    stored = await entry_assets(sessionmaker, entry.id)
    assert [(a.role, a.state) for a in stored] == [
        (AssetRole.ORIGINAL, FileState.READY),
        (AssetRole.PREVIEW, FileState.READY),
        (AssetRole.THUMBNAIL, FileState.READY),
    ]
    assert stored[0].content_type == "image/webp"
    assert await _objects(store, replaced) == []  # the replaced file got no previews
    assert await _objects(store, stored[0]) == sorted(a.storage_key for a in stored)
