"""Entry intake: submission forms, uploads, receipts, edits and withdrawals; pages and API."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import labels, rules
from contest.access import (
    authenticate_request,
    client_ip,
    current_user,
    public,
    request_sessionmaker,
    request_storage,
    requires,
)
from contest.db import utcnow
from contest.errors import ContestError
from contest.events.interfaces import ContestNotFoundError
from contest.events.media import division_rules, division_word_limits, rules_text
from contest.events.services import get_public_contest
from contest.files import keys, links
from contest.files.kinds import (
    FILE_KINDS,
    PREVIEW_TYPE,
    accepted_labels,
    kind_of_stored,
    kinds_accepted,
)
from contest.files.limits import FILENAME_MAX
from contest.forms import read_form, read_json_object, verify_csrf
from contest.i18n import N_, gettext
from contest.intake import bulk, services
from contest.intake.config import ContestConfigCache
from contest.intake.interfaces import (
    SUBMISSION_SCHEMA,
    EntryValidationError,
    IntakeError,
    MalformedUploadError,
)
from contest.intake.uploads import (
    FILE_FIELD,
    IDEMPOTENCY_HEADER,
    Submission,
    read_submission,
    receipt_url_for,
)
from contest.models import (
    AssetRole,
    Contest,
    ContestKind,
    Division,
    Entry,
    EntryStatus,
    FileState,
    JobStatus,
    Role,
    Unit,
    User,
)
from contest.notice import name_consent, needs_child_consent
from contest.results.outcome import published_outcome
from contest.templating import render
from contest.tokens import EDIT_TOKEN_HEADER, normalize_receipt_code
from contest.urls import form_page
from contest.vote.services import receipt_vote_code
from storage import Storage, StorageError

CONSENT_LABELS = labels.CONSENTS
STATUS_LABELS = {
    EntryStatus.SUBMITTED: N_("Received"),
    EntryStatus.WITHDRAWN: N_("Withdrawn"),
    EntryStatus.DISQUALIFIED: N_("Not admitted"),
}


# --- helpers ------------------------------------------------------------------------------


async def _contest(request: Request) -> Contest:
    async with request_sessionmaker(request)() as session:
        try:
            return await get_public_contest(session, slug=request.path_params["slug"])
        except ContestNotFoundError:
            raise HTTPException(404) from None


def _accept_attribute(contest: Contest, division: Division | None = None) -> str:
    """The file picker's hint of the kinds the contest (or the entry's division) takes."""
    accepts = division.accepts if division is not None else []
    kinds = [FILE_KINDS[t] for t in kinds_accepted(accepts, contest.allowed_types)]
    return ",".join(
        [f".{k.extension}" for k in kinds]
        + [k.content_type.split(";")[0] for k in kinds]
        + ([".jpeg"] if any(k.name == "jpeg" for k in kinds) else [])
    )


def _script_words() -> dict[str, str]:
    return {
        "uploading": gettext("Sending… %(percent)s%%"),
        "processing": gettext("Received. Checking the file…"),
        "offline": gettext(
            "The connection dropped and your entry was not sent. What you typed is kept: "
            "check your connection and press Send again."
        ),
        "failed": gettext("The entry was not accepted. Please read the messages below."),
        "too_large": gettext("This file is larger than the limit of %(size)s."),
        "words": gettext("%(count)s / %(limit)s words"),
        "words_over": gettext("Too many words: %(count)s / %(limit)s"),
    }


async def _form_context(
    request: Request,
    contest: Contest,
    *,
    units: Sequence[Unit],
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    action: str,
    coordinator: bool = False,
) -> dict[str, Any]:
    values = dict(values or {})
    values.setdefault("idempotency_key", services.new_idempotency_key())
    # With S3 the browser sends the file straight to the bucket (the pages' security policy
    # lets them reach its origin).
    origin = request_storage(request).browser_origin()
    return {
        "contest": contest,
        "event": contest.event,
        "labels": labels,
        "unit_groups": services.group_units(units),
        "values": values,
        "errors": errors or {},
        "message": message,
        "action": action,
        "coordinator": coordinator,
        "accept": _accept_attribute(contest),
        "accepted": accepted_labels(contest.allowed_types),
        "division_rules": division_rules(contest),
        "division_words": division_word_limits(contest),
        "consent_labels": CONSENT_LABELS,
        "direct_upload": origin is not None,
        "slot_url": str(request.url_for("api_upload_slot", slug=contest.slug)),
        "script_words": _script_words(),
        "is_writing": contest.kind == ContestKind.WRITING,
    }


async def _render_form(
    request: Request,
    contest: Contest,
    *,
    units: Sequence[Unit],
    status_code: int = 200,
    coordinator: bool = False,
    **context: Any,
) -> Response:
    action = str(
        request.url_for("coordinator_submit" if coordinator else "submit_entry", slug=contest.slug)
    )
    ctx = await _form_context(
        request, contest, units=units, action=action, coordinator=coordinator, **context
    )
    return render(request, "submit/form.html", ctx, status_code=status_code)


def _closed_page(request: Request, contest: Contest, message: str) -> Response:
    return render(
        request,
        "submit/closed.html",
        {"contest": contest, "event": contest.event, "message": message},
        status_code=403,
    )


async def _send(
    request: Request,
    contest: Contest,
    submission: Submission,
    *,
    units: Sequence[Unit],
    user: User | None,
    check_unit: bool = False,
) -> services.Submitted:
    """What was read, handed to the one submission operation."""
    return await services.submit_entry(
        sessionmaker=request_sessionmaker(request),
        storage=request_storage(request),
        contest=contest,
        units=units,
        fields=submission.fields,
        uploads=submission.uploads,
        upload_ids=submission.upload_ids,
        idempotency_key=submission.idempotency_key,
        secret_key=request.state.settings.secret_key,
        submitted_by=user,
        client_ip=client_ip(request),
        check_unit=check_unit,
        jobs=request.state.jobs,
    )


def _replay_token(request: Request, entry: Entry) -> str:
    return services.replay_token(request.state.settings.secret_key, entry)


def _find_replay(
    request: Request, contest: Contest, found: tuple[str, Entry | None] | None = None
) -> Any:
    """Finds the entry an earlier request made with an idempotency key; ``found`` is what a
    lookup already made in this request answered for its key."""

    async def find(key: str) -> Entry | None:
        if found is not None and found[0] == key:
            return found[1]
        async with request_sessionmaker(request)() as session:
            return await services.find_replay(session, contest_id=contest.id, idempotency_key=key)

    return find


def _form_errors(exc: ContestError) -> dict[str, str]:
    if isinstance(exc, EntryValidationError):
        return exc.errors
    return {FILE_FIELD: exc.message}


# --- entrant pages ------------------------------------------------------------------------


async def _units(request: Request, contest: Contest, user: User | None) -> list[Unit]:
    async with request_sessionmaker(request)() as session:
        return await rules.submittable_units(session, user=user, event_id=contest.event_id)


async def _submission_start(
    request: Request, *, user: User | None, replay_key: str | None = None
) -> tuple[Contest, list[Unit], tuple[str, Entry | None] | None]:
    """In one session: the contest (as this process keeps it, checked against the
    configuration's version: contest.intake.config), the units ``user`` may submit for and,
    with ``replay_key``, the entry an earlier request made with that idempotency key."""
    configs: ContestConfigCache = request.state.contest_configs
    async with request_sessionmaker(request)() as session:
        try:
            config = await configs.get(session, slug=request.path_params["slug"])
        except ContestNotFoundError:
            raise HTTPException(404) from None
        contest = config.contest
        units = (
            config.entrant_units
            if user is None
            else await rules.submittable_units(session, user=user, event_id=contest.event_id)
        )
        found = None
        if replay_key:
            found = (
                replay_key,
                await services.find_replay(
                    session, contest_id=contest.id, idempotency_key=replay_key
                ),
            )
    return contest, units, found


async def _submit(request: Request, *, user: User | None) -> Response:
    contest, units, _found = await _submission_start(request, user=user)
    coordinator = user is not None
    try:
        services.check_window(contest, utcnow())
    except IntakeError as exc:
        return _closed_page(request, contest, exc.message)
    if request.method == "GET":
        return await _render_form(request, contest, units=units, coordinator=coordinator)

    submission = Submission()
    try:
        await _read_new_entry(request, contest, submission, check_csrf=True)
        if submission.replay is not None:
            token = _replay_token(request, submission.replay)
            return RedirectResponse(
                receipt_url_for(request, submission.replay, token), status_code=303
            )
        result = await _send(request, contest, submission, units=units, user=user)
    except ContestError as exc:
        return await _render_form(
            request,
            contest,
            units=units,
            coordinator=coordinator,
            status_code=exc.status_code,
            values=submission.fields,
            errors=_form_errors(exc),
            message=exc.message
            if not isinstance(exc, EntryValidationError)
            else gettext("Some information needs correcting. Nothing was saved yet."),
        )
    return RedirectResponse(
        receipt_url_for(request, result.entry, result.edit_token), status_code=303
    )


@public
async def submit_entry(request: Request) -> Response:
    return await _submit(request, user=None)


@requires(Role.COORDINATOR, Role.ADMIN, for_units=True)
async def coordinator_submit(request: Request) -> Response:
    return await _submit(request, user=current_user(request))


async def _open(
    request: Request, token: str | None, *, for_change: bool = False
) -> services.EntryView:
    """The entry the path names, for the holder of its private link (contest.rules)."""
    async with request_sessionmaker(request)() as session:
        return await services.open_entry(
            session,
            receipt_code=request.path_params["code"],
            token=token,
            for_change=for_change,
            now=utcnow(),
        )


async def _file_links(storage: Storage, view: services.EntryView) -> list[dict[str, Any]]:
    files = []
    for original in view.originals:
        derived = view.derived.get(original.id, {})
        kind = kind_of_stored(original.content_type)
        inline = original.content_type.split("/")[0] in ("audio", "video")
        item: dict[str, Any] = {
            "asset": original,
            "label": kind.label if kind else "",
            "download": await links.download_link(
                storage, original.storage_key, filename=original.original_filename or None
            ),
            "media": await links.inline_link(
                storage, original.storage_key, content_type=original.content_type
            )
            if inline
            else None,
            "media_kind": original.content_type.split("/")[0] if inline else None,
            "preview": None,
            "thumbnail": None,
        }
        for role in (AssetRole.PREVIEW, AssetRole.THUMBNAIL):
            asset = derived.get(role.value)
            if asset is not None:
                item[role.value] = await links.inline_link(
                    storage, asset.storage_key, content_type=PREVIEW_TYPE
                )
        files.append(item)
    return files


async def _receipt_page(
    request: Request,
    view: services.EntryView,
    *,
    token: str | None,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
) -> Response:
    now = utcnow()
    lock: str | None = None
    try:
        services.check_editable(view, now)
    except IntakeError as exc:
        lock = exc.message
    storage = request_storage(request)
    try:
        files = await _file_links(storage, view) if token else []
    except StorageError:
        files = []
    entry = view.entry
    current = {
        "title": entry.title,
        "note": entry.note,
        "book": str(entry.book_id) if entry.book_id else ("other" if entry.book_title else ""),
        "book_title": entry.book_title if not entry.book_id else "",
        "book_author": entry.book_author if not entry.book_id else "",
        "body_text": entry.body_text or "",
        "consent": view.entrant.consent.value,
    }
    query = {"token": token} if token else {}
    origin = storage.browser_origin()
    outcome = None
    vote_code = None
    if token:
        async with request_sessionmaker(request)() as session:
            outcome = await published_outcome(session, entry_id=entry.id)
            vote_code = await receipt_vote_code(
                session, entry=entry, secret_key=request.state.settings.secret_key
            )
    response = render(
        request,
        "submit/receipt.html",
        {
            "view": view,
            "entry": entry,
            "contest": view.contest,
            "event": view.contest.event,
            "token": token,
            "vote_code": vote_code,
            "files": files,
            "lock": lock,
            "saved": request.query_params.get("saved") == "1",
            "status_label": STATUS_LABELS[entry.status],
            "values": {**current, **(values or {})},
            "errors": errors or {},
            "message": message,
            "consent_labels": CONSENT_LABELS,
            "name_shown": name_consent(view.entrant),
            "name_withdrawn": request.query_params.get("name_withdrawn") == "1",
            "child_consent_asked": view.entrant.child_consent_at is None
            and needs_child_consent(age=view.entrant.age, is_minor=view.entrant.is_minor),
            "withdraw_name_action": str(request.url_for("withdraw_name", code=entry.receipt_code))
            + ("?" + urlencode(query) if query else ""),
            "labels": labels,
            "accept": _accept_attribute(view.contest, view.division),
            "accepted": accepted_labels(
                kinds_accepted(
                    view.division.accepts if view.division else [], view.contest.allowed_types
                )
            ),
            "division_rules": rules_text(view.contest, view.division) if view.division else [],
            "is_writing": view.contest.kind == ContestKind.WRITING,
            "edit_action": str(request.url_for("edit_entry", code=entry.receipt_code))
            + ("?" + urlencode(query) if query else ""),
            "withdraw_action": str(request.url_for("withdraw_entry", code=entry.receipt_code))
            + ("?" + urlencode(query) if query else ""),
            "receipt_link": receipt_url_for(request, entry, token) if token else None,
            "data_link": str(request.url_for("entry_data", code=entry.receipt_code))
            + "?"
            + urlencode({"token": token})
            if token
            else None,
            "data_page": str(request.url_for("entry_data_page", code=entry.receipt_code))
            + "?"
            + urlencode({"token": token})
            if token
            else None,
            "direct_upload": origin is not None,
            "slot_url": str(request.url_for("api_upload_slot", slug=view.contest.slug)),
            "script_words": _script_words(),
            "outcome": outcome,
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@public
async def receipt(request: Request) -> Response:
    """The receipt: anyone with the code sees the status; the edit link shows and edits all."""
    token = request.query_params.get("token")
    if token is None:
        async with request_sessionmaker(request)() as session:
            view = await services.load_entry(session, receipt_code=request.path_params["code"])
    else:
        view = await _open(request, token)
    return await _receipt_page(request, view, token=token)


@public
async def find_receipt(request: Request) -> Response:
    """A form to look up an entry by its receipt code."""
    code = request.query_params.get("code", "").strip()
    if code:
        normalized = normalize_receipt_code(code)
        # A code is letters and digits: anything else (a slash, a question mark) names no
        # entry and could not even be put in the receipt's address.
        if normalized.replace("-", "").isalnum() and normalized.isascii():
            return RedirectResponse(
                str(request.url_for("receipt", code=normalized)), status_code=303
            )
        message = gettext("No entry has this receipt code. Please check the code and try again.")
        return render(
            request, "submit/find.html", {"code": code, "error": message}, status_code=404
        )
    return render(request, "submit/find.html", {"code": "", "error": None})


async def _read_new_entry(
    request: Request,
    contest: Contest,
    submission: Submission,
    *,
    check_csrf: bool,
    before_files: Callable[[Mapping[str, str]], None] | None = None,
    found: tuple[str, Entry | None] | None = None,
) -> None:
    """A new entry, posted as a form (the page's or the API's multipart); a retry of one
    already made is found by its idempotency key (``found``: already looked up)."""
    await read_submission(
        request,
        submission,
        contest=contest,
        sessionmaker=request_sessionmaker(request),
        storage=request_storage(request),
        check_csrf=check_csrf,
        find_replay=_find_replay(request, contest, found),
        before_files=before_files,
    )


async def _read_entry_form(
    request: Request, view: services.EntryView, submission: Submission, *, check_csrf: bool
) -> None:
    """A change to an existing entry, posted as a form (the page's or the API's multipart)."""
    await read_submission(
        request,
        submission,
        contest=view.contest,
        sessionmaker=request_sessionmaker(request),
        storage=request_storage(request),
        check_csrf=check_csrf,
    )


async def _edit(request: Request, view: services.EntryView, submission: Submission) -> None:
    """What was read, handed to the one edit operation."""
    await services.edit_entry(
        sessionmaker=request_sessionmaker(request),
        storage=request_storage(request),
        view=view,
        fields=submission.fields,
        uploads=submission.uploads,
        upload_ids=submission.upload_ids,
        client_ip=client_ip(request),
        jobs=request.state.jobs,
    )


@public
async def edit_entry(request: Request) -> Response:
    token = request.query_params.get("token")
    view = await _open(request, token, for_change=True)
    submission = Submission()
    try:
        await _read_entry_form(request, view, submission, check_csrf=True)
        await _edit(request, view, submission)
    except ContestError as exc:
        return await _receipt_page(
            request,
            view,
            token=token,
            status_code=exc.status_code,
            values=submission.fields,
            errors=_form_errors(exc),
            message=exc.message,
        )
    assert token is not None
    return RedirectResponse(receipt_url_for(request, view.entry, token, saved="1"), status_code=303)


@public
async def withdraw_entry(request: Request) -> Response:
    token = request.query_params.get("token")
    view = await _open(request, token, for_change=True)
    await read_form(request)
    async with request_sessionmaker(request).begin() as session:
        await services.withdraw_entry(session, entry_id=view.entry.id, client_ip=client_ip(request))
    assert token is not None
    return RedirectResponse(receipt_url_for(request, view.entry, token), status_code=303)


# --- coordinators: bulk import ------------------------------------------------------------


async def _import_context(request: Request, contest: Contest, user: User) -> dict[str, Any]:
    return {
        "contest": contest,
        "event": contest.event,
        "units": await _units(request, contest, user),
        "job": None,
        "report": None,
        "message": None,
        "columns": list(bulk.COLUMNS),
    }


@requires(Role.COORDINATOR, Role.ADMIN, for_units=True)
async def coordinator_import(request: Request) -> Response:
    """The import form; a sent import is kept and its rows left to a job, followed on the
    import's own page."""
    contest = await _contest(request)
    user = current_user(request)
    try:
        services.check_window(contest, utcnow())
    except IntakeError as exc:
        return _closed_page(request, contest, exc.message)
    if request.method == "GET":
        return render(request, "submit/import.html", await _import_context(request, contest, user))
    try:
        job = await bulk.receive_import(
            request,
            contest=contest,
            user=user,
            sessionmaker=request_sessionmaker(request),
            storage=request_storage(request),
            queue=request.state.jobs,
        )
    except ContestError as exc:
        context = await _import_context(request, contest, user)
        context["message"] = exc.message
        return render(request, "submit/import.html", context, status_code=exc.status_code)
    url = request.url_for("coordinator_import_job", slug=contest.slug, job_id=job.id)
    return RedirectResponse(url, status_code=303)


@requires(Role.COORDINATOR, Role.ADMIN, for_units=True)
async def coordinator_import_job(request: Request) -> Response:
    """An import's progress while its job runs, then its report: each row accepted (with its
    entry's private link) or refused with its reasons."""
    contest = await _contest(request)
    user = current_user(request)
    async with request_sessionmaker(request)() as session:
        job = await rules.ensure_job_for_follower(
            session, user=user, job_id=request.path_params["job_id"]
        )
    if job.kind != bulk.IMPORT_KIND or job.contest_id != contest.id:
        raise HTTPException(404)
    context = await _import_context(request, contest, user)
    report = bulk.report_of(job.result) if job.status == JobStatus.DONE else None
    secret = request.state.settings.secret_key
    context.update(
        job=job,
        report=report,
        edit_url=lambda row: receipt_url_for(
            request,
            row.receipt_code,
            services.edit_token_for(secret, contest_id=contest.id, idempotency_key=row.key),
        ),
    )
    return render(request, "submit/import.html", context)


# --- JSON API -----------------------------------------------------------------------------

ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["receipt_code", "status", "contest", "title", "submitted_at"],
    "properties": {
        "receipt_code": {"type": "string", "examples": ["DEMV-W7K3"]},
        "status": {"type": "string", "enum": [s.value for s in EntryStatus]},
        "contest": {"type": "string"},
        "title": {"type": "string"},
        "note": {"type": "string"},
        "book": {
            "type": "object",
            "properties": {
                "id": {"type": ["integer", "null"]},
                "title": {"type": "string"},
                "author": {"type": "string"},
            },
        },
        "division": {"type": ["string", "null"]},
        "body_text": {"type": ["string", "null"]},
        "word_count": {"type": ["integer", "null"]},
        "submitted_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "editable_until": {"type": "string", "format": "date-time"},
        "editable": {"type": "boolean"},
        "entrant": {
            "type": "object",
            "properties": {
                "full_name": {"type": "string"},
                "age": {"type": ["integer", "null"]},
                "grade": {"type": ["integer", "null"]},
                "unit": {"type": ["string", "null"]},
                "consent": {"type": "string", "enum": ["full_name", "initials", "hidden"]},
                "child_consent": {
                    "type": "boolean",
                    "description": "The child (aged 7 to 17) agreed for themself to their "
                    "name being shown; until then it is not shown.",
                },
            },
        },
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "upload_id": {"type": "string"},
                    "content_type": {"type": "string"},
                    "size": {"type": "integer"},
                    "sha256": {"type": "string"},
                    "filename": {"type": ["string", "null"]},
                    "width": {"type": ["integer", "null"]},
                    "height": {"type": ["integer", "null"]},
                    "state": {
                        "type": "string",
                        "enum": [s.value for s in FileState],
                        "description": "processing until the file's digest, cleaning and "
                        "previews are done in the background; failed when it could not be.",
                    },
                },
            },
        },
        "files_state": {
            "type": "string",
            "enum": [s.value for s in FileState],
            "description": "The entry's files as a whole: processing, ready, or failed (the "
            "organisers are told).",
        },
    },
}
RECEIPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["entry", "edit_token", "receipt_url"],
    "properties": {
        "entry": {"$ref": "#/components/schemas/Entry"},
        "edit_token": {
            "type": "string",
            "description": "Keep it secret: with the receipt code it reads, edits and "
            "withdraws the entry. Only its hash is stored.",
        },
        "receipt_url": {"type": "string", "description": "The private edit link (a page)."},
    },
}
UPLOAD_SLOT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["upload_id", "url", "fields", "max_size", "expires_at"],
    "properties": {
        "upload_id": {"type": "string"},
        "url": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        "max_size": {"type": "integer"},
        "expires_at": {"type": "string", "format": "date-time"},
    },
}
SCHEMAS = {
    "Entry": ENTRY_SCHEMA,
    "Receipt": RECEIPT_SCHEMA,
    "UploadSlot": UPLOAD_SLOT_SCHEMA,
    "EntrySubmission": SUBMISSION_SCHEMA,
}


def entry_json(view: services.EntryView, *, full: bool) -> dict[str, Any]:
    entry, contest = view.entry, view.contest
    data: dict[str, Any] = {
        "receipt_code": entry.receipt_code,
        "status": entry.status.value,
        "contest": contest.slug,
        "title": entry.title,
        "submitted_at": entry.created_at.isoformat(),
        "updated_at": entry.updated_at.isoformat(),
        "editable_until": contest.closes_at.isoformat(),
    }
    if not full:
        return data
    try:
        services.check_editable(view, utcnow())
        editable = True
    except IntakeError:
        editable = False
    data.update(
        note=entry.note,
        book={"id": entry.book_id, "title": entry.book_title, "author": entry.book_author},
        division=view.division.key if view.division else None,
        body_text=entry.body_text,
        word_count=entry.word_count,
        editable=editable,
        entrant={
            "full_name": view.entrant.full_name,
            "age": view.entrant.age,
            "grade": view.entrant.grade,
            "unit": view.unit.code if view.unit else None,
            "consent": view.entrant.consent.value,
            "child_consent": view.entrant.child_consent_at is not None,
        },
        files=[
            {
                "upload_id": keys.upload_id_of(a.storage_key),
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "filename": a.original_filename,
                "width": a.width,
                "height": a.height,
                "state": a.state.value,
            }
            for a in view.originals
        ],
        files_state=entry.files_state.value,
    )
    return data


async def _api_user(request: Request) -> User | None:
    """An API caller may be a coordinator (token or cookie); entrants are anonymous."""
    user = await authenticate_request(request)
    if user is None:
        return None
    if not getattr(request.state, "via_token", False):
        verify_csrf(request, None)
    return user if user.role in (Role.COORDINATOR, Role.ADMIN) else None


async def _entry_json(request: Request, view: services.EntryView) -> JSONResponse:
    """The entry as it is now, after a change."""
    async with request_sessionmaker(request)() as session:
        view = await services.load_entry(session, receipt_code=view.entry.receipt_code)
    return JSONResponse(entry_json(view, full=True))


async def _receipt_json(
    request: Request, entry: Entry, token: str, *, status_code: int, contest: Contest
) -> JSONResponse:
    async with request_sessionmaker(request)() as session:
        view = await services.load_entry(session, receipt_code=entry.receipt_code, contest=contest)
    return _receipt_answer(request, view, token, status_code=status_code)


def _receipt_answer(
    request: Request, view: services.EntryView, token: str, *, status_code: int
) -> JSONResponse:
    return JSONResponse(
        {
            "entry": entry_json(view, full=True),
            "edit_token": token,
            "receipt_url": receipt_url_for(request, view.entry, token),
        },
        status_code=status_code,
    )


@public
async def api_submit_entry(request: Request) -> Response:
    """Submit an entry as multipart/form-data, files streamed; the answer holds the receipt.
    ---
    summary: Submit an entry
    operationId: submitEntry
    description: >-
      Text fields first, then each file as a part named `file` (or, after a direct upload,
      its `upload_id`). Fields: full_name, age, grade, unit (unit code), guardian_name and
      guardian_phone (required under 18), consent (full_name | initials | hidden),
      child_consent (`yes`: the child's own consent, needed from 7 to 17 to show a name), title,
      note, book (a book id from the contest, or `other` with book_title and book_author),
      body_text (writing). The type is decided from the bytes, the size limit is enforced as
      they arrive. Send an `Idempotency-Key` header (16-64 characters, e.g. a UUID) so that a
      retry returns the same entry instead of a second one. Coordinators authenticate with a
      bearer token and may only submit for their units.
    parameters: [{$ref: "#/shared/IdempotencyKey"}]
    requestBody: {$ref: "#/shared/EntrySubmission"}
    responses:
      "201": {$ref: "#/components/responses/ReceiptMade"}
      "200": {$ref: "#/components/responses/ReceiptReplayed"}
      "400":
        description: Malformed or truncated body.
        json: {$ref: "#/components/schemas/Error"}
      "403": {$ref: "#/components/responses/ContestNotOpen"}
      "404":
        description: No such contest.
        json: {$ref: "#/components/schemas/Error"}
      "413": {$ref: "#/components/responses/FileTooLarge"}
      "415": {$ref: "#/components/responses/FileKindRefused"}
      "422":
        description: Fields need correcting (see `fields`), or an image cannot be opened.
        json: {$ref: "#/components/schemas/Error"}
      "503":
        description: Storage unreachable; nothing was kept.
        json: {$ref: "#/components/schemas/Error"}
    """
    if await _api_user(request) is not None:
        # A coordinator's or an admin's call is the endpoint that declares them.
        return await api_coordinator_submit_entry(request)
    return await _api_submit(request, user=None)


@requires(Role.COORDINATOR, Role.ADMIN, for_units=True)
async def api_coordinator_submit_entry(request: Request) -> Response:
    """Submit an entry for one of the caller's units, as multipart/form-data.
    ---
    summary: Submit an entry for one of my units
    operationId: submitUnitEntry
    description: >-
      The same request and answers as `POST /contests/{slug}/entries` (which hands a
      coordinator's or an admin's call here), for a coordinator's units and the classes
      inside them (an admin's: every unit). A unit that is not the caller's is refused (403)
      before any file is stored. Authenticate with a bearer token, or the session cookie
      with the `X-CSRF-Token` header.
    parameters: [{$ref: "#/shared/IdempotencyKey"}]
    requestBody: {$ref: "#/shared/EntrySubmission"}
    responses:
      "201": {$ref: "#/components/responses/ReceiptMade"}
      "200": {$ref: "#/components/responses/ReceiptReplayed"}
      "403":
        description: >-
          Not a coordinator's or an admin's account, not one of the caller's units, the
          CSRF token is missing, or the contest is not open for entries.
        json: {$ref: "#/components/schemas/Error"}
      "413": {$ref: "#/components/responses/413"}
      "415": {$ref: "#/components/responses/415"}
      "503": {$ref: "#/components/responses/503"}
    """
    user = current_user(request)
    if not getattr(request.state, "via_token", False):
        verify_csrf(request, None)
    return await _api_submit(request, user=user)


async def _api_submit(request: Request, *, user: User | None) -> Response:
    try:
        replay_key = services.check_idempotency_key(request.headers.get(IDEMPOTENCY_HEADER))
    except MalformedUploadError:
        replay_key = None  # refused where the body's reading checks it, in its turn
    contest, units, found = await _submission_start(request, user=user, replay_key=replay_key)
    services.check_window(contest, utcnow())
    submission = Submission()
    await _read_new_entry(
        request,
        contest,
        submission,
        found=found,
        check_csrf=False,
        # A coordinator's unit is theirs before any file of the entry is stored.
        before_files=(
            (lambda fields: rules.ensure_may_submit_for_unit(fields.get("unit", ""), units))
            if user is not None
            else None
        ),
    )
    if submission.replay is not None:
        token = _replay_token(request, submission.replay)
        return await _receipt_json(
            request, submission.replay, token, status_code=200, contest=contest
        )
    result = await _send(
        request, contest, submission, units=units, user=user, check_unit=user is not None
    )
    if result.view is not None:
        return _receipt_answer(request, result.view, result.edit_token, status_code=201)
    return await _receipt_json(
        request,
        result.entry,
        result.edit_token,
        status_code=200 if result.replayed else 201,
        contest=contest,
    )


@public
async def api_upload_slot(request: Request) -> Response:
    """Ask for a direct-upload slot: a presigned form to send one file straight to storage.
    ---
    summary: Request a direct-upload slot
    operationId: requestUploadSlot
    description: >-
      POST the returned `fields` and then the file (as the last field, named `file`) to
      `url` as multipart/form-data. Then submit the entry (or an edit) with the slot's
      `upload_id` instead of a file part. The file counts only after the app has checked
      it: present, within the size limit, and its bytes of the announced kind; otherwise it
      is deleted and the submission answers 413, 415 or 422. Slots never used are swept.
    requestBody:
      json:
        type: object
        required: [content_type, size]
        properties:
          content_type:
            type: string
            description: One of the contest's `media_policy.allowed_types`.
            enum:
              - image/jpeg
              - image/png
              - image/webp
              - image/heic
              - application/pdf
              - application/vnd.openxmlformats-officedocument.wordprocessingml.document
              - "text/plain; charset=utf-8"
              - audio/mpeg
              - audio/mp4
              - audio/ogg
              - audio/wav
              - video/mp4
              - video/quicktime
              - video/webm
          size:
            type: integer
            minimum: 1
            description: In bytes, at most the contest's `media_policy.max_file_size`.
          filename: {type: string, maxLength: 180}
    responses:
      "201":
        description: The slot.
        json: {$ref: "#/components/schemas/UploadSlot"}
      "403": {$ref: "#/components/responses/ContestNotOpen"}
      "413":
        description: The announced size is over the limit.
        json: {$ref: "#/components/schemas/Error"}
      "415":
        description: The announced kind is not accepted.
        json: {$ref: "#/components/schemas/Error"}
      "422":
        description: The request needs correcting.
        json: {$ref: "#/components/schemas/Error"}
      "503": {$ref: "#/components/responses/StorageDown"}
    """
    contest = await _contest(request)
    data = await read_json_object(request, empty_is_object=True)
    content_type, size = data.get("content_type"), data.get("size")
    filename = data.get("filename")
    if isinstance(size, float) and size.is_integer():
        size = int(size)  # JSON has one kind of number: 7.0 is the integer 7
    services.check_window(contest, utcnow())
    if "filename" in data and not (isinstance(filename, str) and len(filename) <= FILENAME_MAX):
        message = gettext("Use at most %(count)s characters.", count=FILENAME_MAX)
        raise EntryValidationError({"filename": message}, message)
    if (
        not isinstance(content_type, str)
        or not isinstance(size, int)
        or isinstance(size, bool)
        or size < 1
    ):
        raise EntryValidationError(
            {
                "size": gettext("Give the file's size in bytes and its type."),
            },
            gettext("Give the file's size in bytes and its type."),
        )
    slot = await services.create_upload_slot(
        sessionmaker=request_sessionmaker(request),
        storage=request_storage(request),
        contest=contest,
        content_type=content_type,
        size=size,
        filename=filename if isinstance(filename, str) else None,
    )
    return JSONResponse(
        {
            "upload_id": slot.upload_id,
            "url": slot.url,
            "fields": slot.fields,
            "max_size": slot.max_size,
            "expires_at": slot.expires_at,
        },
        status_code=201,
    )


@public
async def api_read_entry(request: Request) -> Response:
    """Read an entry with its receipt code and edit token.
    ---
    summary: Read an entry
    operationId: readEntry
    responses:
      "200":
        description: The entry.
        json: {$ref: "#/components/schemas/Entry"}
      "403": {$ref: "#/components/responses/WrongEditToken"}
      "404": {$ref: "#/components/responses/EntryNotFound"}
    """
    view = await _open(request, request.headers.get(EDIT_TOKEN_HEADER))
    return JSONResponse(entry_json(view, full=True))


@public
async def api_edit_entry(request: Request) -> Response:
    """Change an entry until the deadline; fields not sent keep their values.
    ---
    summary: Edit an entry
    operationId: editEntry
    description: >-
      JSON with any of title, note, book, book_title, book_author, body_text, consent,
      child_consent (`yes`, needed from 7 to 17 when the name is to be shown anew); or
      multipart/form-data with the same fields and a `file` part (or an `upload_id`) that
      replaces the entry's file.
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            properties:
              title: {type: string}
              note: {type: string}
              book: {type: string}
              book_title: {type: string}
              book_author: {type: string}
              body_text: {type: string}
              consent: {type: string, enum: [full_name, initials, hidden]}
              child_consent: {type: string, enum: ["yes"]}
        multipart/form-data:
          schema:
            type: object
            properties:
              title: {type: string}
              file: {type: string, format: binary}
              upload_id: {type: string}
    responses:
      "200":
        description: The entry as saved.
        json: {$ref: "#/components/schemas/Entry"}
      "403":
        description: Wrong edit token, deadline passed or entry withdrawn.
        json: {$ref: "#/components/schemas/Error"}
      "404": {$ref: "#/components/responses/EntryNotFound"}
      "413": {$ref: "#/components/responses/FileTooLarge"}
      "415": {$ref: "#/components/responses/FileKindRefused"}
      "422":
        description: Fields need correcting (see `fields`).
        json: {$ref: "#/components/schemas/Error"}
    """
    submission = Submission()
    view = await _open(request, request.headers.get(EDIT_TOKEN_HEADER), for_change=True)
    if request.headers.get("content-type", "").startswith("application/json"):
        data = await read_json_object(request, empty_is_object=True)
        submission.fields = {
            k: str(v) for k, v in data.items() if isinstance(v, str | int) and k != "upload_id"
        }
        upload_id = data.get("upload_id")
        if isinstance(upload_id, str):
            submission.upload_ids.append(upload_id)
    else:
        await _read_entry_form(request, view, submission, check_csrf=False)
    await _edit(request, view, submission)
    return await _entry_json(request, view)


@public
async def api_withdraw_entry(request: Request) -> Response:
    """Withdraw an entry until the deadline; its files are removed by the next sweep.
    ---
    summary: Withdraw an entry
    operationId: withdrawEntry
    responses:
      "200":
        description: The entry, now withdrawn.
        json: {$ref: "#/components/schemas/Entry"}
      "403":
        description: Wrong edit token, deadline passed or already withdrawn.
        json: {$ref: "#/components/schemas/Error"}
      "404": {$ref: "#/components/responses/EntryNotFound"}
    """
    view = await _open(request, request.headers.get(EDIT_TOKEN_HEADER), for_change=True)
    async with request_sessionmaker(request).begin() as session:
        await services.withdraw_entry(session, entry_id=view.entry.id, client_ip=client_ip(request))
    return await _entry_json(request, view)


routes: list[BaseRoute] = [
    Route("/contests/{slug:str}/submit", submit_entry, methods=["GET", "POST"]),
    Route("/entries", find_receipt, methods=["GET"]),
    Route("/entries/{code:str}", receipt, methods=["GET"]),
    Route("/entries/{code:str}/edit", edit_entry, methods=["POST"]),
    Route("/entries/{code:str}/withdraw", withdraw_entry, methods=["POST"]),
    Route("/coordinator/contests/{slug:str}/submit", coordinator_submit, methods=["GET", "POST"]),
    form_page("/coordinator/contests/{slug:str}/import", coordinator_import, "coordinator_import"),
    Route(
        "/coordinator/contests/{slug:str}/import/{job_id:int}",
        coordinator_import_job,
        name="coordinator_import_job",
    ),
]

api_routes: list[BaseRoute] = [
    Route("/contests/{slug:str}/entries", api_submit_entry, methods=["POST"]),
    Route(
        "/coordinator/contests/{slug:str}/entries", api_coordinator_submit_entry, methods=["POST"]
    ),
    Route("/contests/{slug:str}/uploads", api_upload_slot, methods=["POST"]),
    Route("/entries/{code:str}", api_read_entry, methods=["GET"]),
    Route("/entries/{code:str}", api_edit_entry, methods=["PATCH"]),
    Route("/entries/{code:str}/withdraw", api_withdraw_entry, methods=["POST"]),
]
