"""A job's page (its progress bar, error and outcome) and the same under /api/v1/jobs.

The page updates itself from the JSON without a reload (``static/jobs.js``); without script it
says how far the job had got when it was loaded and offers to look again.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import rules
from contest.access import current_user, organiser_scope, requires
from contest.errors import NotFoundError
from contest.forms import read_form, verify_csrf
from contest.i18n import gettext
from contest.jobs import services
from contest.models import Job, JobStatus, Role
from contest.templating import render

SCHEMAS: dict[str, Any] = {
    "Job": {
        "type": "object",
        "required": ["id", "kind", "status", "progress"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string"},
            "label": {"type": "string"},
            "status": {"type": "string", "enum": [s.value for s in JobStatus]},
            "contest": {"type": ["integer", "null"]},
            "progress": {
                "type": "object",
                "required": ["done", "total"],
                "properties": {
                    "done": {"type": "integer", "minimum": 0},
                    "total": {"type": "integer", "minimum": 0},
                },
            },
            "attempts": {"type": "integer", "minimum": 0},
            "error": {"type": ["string", "null"], "description": "Why it failed, to be read."},
            "result": {
                "type": ["object", "null"],
                "description": "What the job did (its summary), or the file it made.",
            },
            "download": {"type": ["string", "null"], "description": "The file it made."},
            "created_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
        },
    }
}


def job_label(request: Request, job: Job) -> str:
    kind = request.state.jobs.kinds.get(job.kind)
    return gettext(kind.label) if kind else job.kind


def job_json(request: Request, job: Job) -> dict[str, Any]:
    made_file = job.status == JobStatus.DONE and bool((job.result or {}).get("file"))
    return {
        "id": job.id,
        "kind": job.kind,
        "label": job_label(request, job),
        "status": job.status.value,
        "contest": job.contest_id,
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "attempts": job.attempts,
        "error": job.error,
        "result": job.result,
        "download": str(request.url_for("admin_job_download", job_id=job.id))
        if made_file
        else None,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def accepted(request: Request, job: Job) -> JSONResponse:
    """The answer of an API call that started a job: 202, where to follow it, and the job."""
    location = str(request.url_for("api_job", job_id=job.id))
    return JSONResponse(job_json(request, job), status_code=202, headers={"Location": location})


def to_job_page(request: Request, job: Job) -> Response:
    return RedirectResponse(request.url_for("admin_job", job_id=job.id), status_code=303)


async def _job(request: Request) -> Job:
    async with request.state.sessionmaker() as session:
        return await rules.ensure_job_for_organiser(
            session, user=current_user(request), job_id=request.path_params["job_id"]
        )


# An organiser of some units follows (and retries) the jobs they started: their units'
# assignment (contest.rules.ensure_job_for_organiser).
@requires(Role.ADMIN, for_units=True)
async def job_page(request: Request) -> Response:
    job = await _job(request)
    # The console is drawn for whom it is: an organiser of some units sees their pages only.
    await organiser_scope(request)
    kind = request.state.jobs.kinds.get(job.kind)
    if kind is None:
        back = request.url_for("admin")
    elif job.contest_id is not None:
        back = request.url_for(kind.back, contest_id=job.contest_id)
    else:
        back = request.url_for(kind.back)
    return render(
        request,
        "admin/job.html",
        {
            "job": job,
            "label": job_label(request, job),
            "data": job_json(request, job),
            "back": back,
        },
    )


async def _retry(request: Request) -> Job:
    job = await _job(request)
    async with request.state.sessionmaker.begin() as session:
        job = await services.retry_job(session, job_id=job.id, actor=current_user(request))
    request.state.jobs.push(job.id)
    return job


@requires(Role.ADMIN, for_units=True)
async def retry(request: Request) -> Response:
    await read_form(request)
    return to_job_page(request, await _retry(request))


@requires(Role.ADMIN)
async def download(request: Request) -> Response:
    """The file a finished export job made, from storage (a signed link to it)."""
    job = await _job(request)
    result = job.result or {}
    if job.status != JobStatus.DONE or not result.get("file"):
        raise NotFoundError(gettext("This job made no file to download."))
    url = await request.state.storage.read_url(result["file"], filename=result.get("filename"))
    return RedirectResponse(url, status_code=303)


@requires(Role.ADMIN, Role.COORDINATOR, for_units=True)
async def api_job(request: Request) -> Response:
    """A background job: its status, progress, error or outcome. Read by its contest's
    organisers, and by whoever started it (a coordinator's import).
    ---
    summary: Read a job
    operationId: readJob
    responses:
      "200":
        description: The job.
        json: {$ref: "#/components/schemas/Job"}
    """
    async with request.state.sessionmaker() as session:
        job = await rules.ensure_job_for_follower(
            session, user=current_user(request), job_id=request.path_params["job_id"]
        )
    return JSONResponse(job_json(request, job))


@requires(Role.ADMIN, for_units=True)
async def api_retry(request: Request) -> Response:
    """Try a failed job again.
    ---
    summary: Retry a job
    operationId: retryJob
    responses:
      "202":
        description: Queued again.
        json: {$ref: "#/components/schemas/Job"}
      "409": {$ref: "#/components/responses/409"}
    """
    verify_csrf(request, None)
    return accepted(request, await _retry(request))


routes: list[BaseRoute] = [
    Route("/admin/jobs/{job_id:int}", job_page, name="admin_job"),
    Route("/admin/jobs/{job_id:int}/retry", retry, methods=["POST"], name="admin_job_retry"),
    Route("/admin/jobs/{job_id:int}/download", download, name="admin_job_download"),
]

api_routes: list[BaseRoute] = [
    Route("/jobs/{job_id:int}", api_job, methods=["GET"]),
    Route("/jobs/{job_id:int}/retry", api_retry, methods=["POST"], name="api_job_retry"),
]


async def jobs_context(request: Request, session: Any, *, contest_id: int) -> dict[str, Any]:
    """What the pages that start jobs need to show the contest's latest ones (admin/_jobs.html):
    an organiser of some units', the ones they started."""
    scope = await organiser_scope(request)
    started_by = current_user(request).id if scope.for_units else None
    return {
        "jobs": await services.recent_jobs(session, contest_id=contest_id, started_by=started_by),
        "job_label": lambda job: job_label(request, job),
    }
