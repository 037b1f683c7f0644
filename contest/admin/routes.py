"""The organiser console: the event, units, contests with their rubric, staff, conflicts, audit."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import labels, rules
from contest.access import current_user, organiser_scope, requires
from contest.accounts import services as accounts
from contest.accounts.interfaces import UserExistsError
from contest.admin import services
from contest.admin.services import CHILD_MODELS, ConflictingValueError
from contest.events import services as events
from contest.events.eventfile import dump_event
from contest.events.services import event_contests, event_json
from contest.events.validation import InvalidError, fields_of, validate
from contest.files.limits import IMPORT_MAX_CSV_BYTES, MAX_LOGO_BYTES
from contest.files.links import logo_link
from contest.forms import read_form, read_form_lists, read_one_file
from contest.i18n import N_, gettext
from contest.models import Contest, EntryStatus, Event, FileState, Role, Unit
from contest.pagination import (
    Page,
    PageRequest,
    choice_filter,
    flag_filter,
    id_filter,
    page_request,
    receipt_filter,
    search_text,
)
from contest.templating import render
from contest.urls import form_page, public_base_url
from storage import StorageError

ADMIN = Role.ADMIN
MAX_UPLOAD_FIELDS = 5
# The unit fields suggest this many units at a time.
UNIT_PICKER_SIZE = 20


def _refused(
    request: Request,
    template: str,
    context: dict[str, Any],
    form: Mapping[str, str],
    exc: InvalidError,
) -> Response:
    """The form's page again, with what was typed and what is wrong with it (422)."""
    context.update(values=form, errors=exc.errors)
    return render(request, template, context, status_code=422)


def _redirect(request: Request, name: str, **params: Any) -> Response:
    return RedirectResponse(request.url_for(name, **params), status_code=303)


async def _event_or_setup(session: AsyncSession) -> Event:
    event = await events.get_event(session)
    if event is None:
        raise HTTPException(
            404, gettext("There is no event yet. Create it first, or load an event file.")
        )
    return event


def _form_page(
    request: Request,
    *,
    title: str,
    entity: str,
    values: Mapping[str, Any],
    errors: Mapping[str, str] | None = None,
    choices: Mapping[str, list[tuple[str, str]]] | None = None,
    action: str,
    back: str,
    extra: Mapping[str, Any] | None = None,
    template: str = "admin/form.html",
) -> Response:
    return render(
        request,
        template,
        {
            "title": title,
            "fields": fields_of(entity),
            "values": values,
            "errors": errors or {},
            "choices": choices or {},
            "action": action,
            "back": back,
            **(extra or {}),
        },
        status_code=422 if errors else 200,
    )


# --- dashboard --------------------------------------------------------------------------------


@requires(ADMIN, for_units=True)
async def dashboard(request: Request) -> Response:
    scope = await organiser_scope(request)
    async with request.state.sessionmaker() as session:
        event = await events.get_event(session)
        contests: list[Contest] = []
        counts: dict[int, int] = {}
        if event is not None:
            contests = await event_contests(session, event_id=event.id)
            counts = await services.entry_counts(session, event=event, scope=scope)
    return render(
        request,
        "admin/dashboard.html",
        {"event": event, "contests": contests, "counts": counts, "labels": labels},
    )


# --- event ------------------------------------------------------------------------------------


@requires(ADMIN)
async def edit_event(request: Request) -> Response:
    async with request.state.sessionmaker() as session:
        event = await events.get_event(session)
        values: Mapping[str, Any] = (
            {
                **event_json(event),
                "description": event.description,
                "retention_months": event.retention_months or 0,
            }
            if event
            else {}
        )
        logo_url = (
            await logo_link(request.state.storage, event.logo_key, public=False)
            if event and event.logo_key
            else None
        )
        page: dict[str, Any] = {
            "title": gettext("The event"),
            "entity": "event",
            "action": str(request.url_for("admin_event")),
            "back": str(request.url_for("admin")),
            "extra": {"logo_form": event is not None, "logo_url": logo_url},
        }
        if request.method == "GET":
            return _form_page(request, values=values, **page)
        form = await read_form(request)
        try:
            await services.save_event(session, event=event, raw=form, actor=current_user(request))
        except InvalidError as exc:
            return _form_page(request, values=form, errors=exc.errors, **page)
        except ConflictingValueError as exc:
            return _form_page(request, values=form, errors={exc.field_name: exc.message}, **page)
        await session.commit()
    return _redirect(request, "admin")


async def _read_one_file(request: Request, *, field: str, max_bytes: int, missing: str) -> bytes:
    _values, data = await read_one_file(request, field=field, max_bytes=max_bytes, missing=missing)
    return data


@requires(ADMIN)
async def upload_logo(request: Request) -> Response:
    data = await _read_one_file(
        request, field="logo", max_bytes=MAX_LOGO_BYTES, missing=N_("Choose an image file.")
    )
    storage = request.state.storage
    async with request.state.sessionmaker() as session:
        event = await _event_or_setup(session)
        try:
            old = await services.set_event_logo(
                session, storage=storage, event=event, data=data, actor=current_user(request)
            )
        except StorageError:
            raise HTTPException(
                503,
                gettext(
                    "The file store cannot be reached right now. Nothing was saved; please "
                    "try again in a few minutes."
                ),
            ) from None
        try:
            await session.commit()
        except BaseException:
            if event.logo_key:
                await storage.delete(event.logo_key)
            raise
    if old:
        # The old logo is not needed once the new one is recorded.
        with contextlib.suppress(StorageError):
            await storage.delete(old)
    return _redirect(request, "admin_event")


@requires(ADMIN)
async def download_event_file(request: Request) -> Response:
    async with request.state.sessionmaker() as session:
        event = await _event_or_setup(session)
        text = await dump_event(session, slug=event.slug)
    return Response(
        text,
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{event.slug}.yaml"'},
    )


# --- units ------------------------------------------------------------------------------------


def _unit_filters(params: Mapping[str, str]) -> tuple[str, str | None]:
    """The units page's search text and the code of the unit whose units it lists."""
    return search_text(params), search_text(params, "parent") or None


async def _units_context(
    request: Request, session: AsyncSession, event: Event, **extra: Any
) -> dict[str, Any]:
    """What the units page shows: a page of units as its address filters them, the form to add
    one and the import."""
    params = request.query_params
    text, parent_code = _unit_filters(params)
    units = await services.list_units(
        session, event=event, page=page_request(params), text=text, parent_code=parent_code
    )
    parent = (
        await services.get_unit(session, event=event, code=parent_code) if parent_code else None
    )
    return {
        "units": units,
        "filters": {"q": text, "parent": parent_code or ""},
        "parent": parent,
        "parent_missing": (
            services.unknown_units_message([parent_code]) if parent_code and not parent else ""
        ),
        "fields": fields_of("unit"),
        "values": {"parent": parent_code or ""},
        "errors": {},
        "report": None,
        "labels": labels,
        **extra,
    }


@requires(ADMIN)
async def units_page(request: Request) -> Response:
    """The event's units a page at a time: the top-level ones, a unit's own, or those a search
    finds; and the form that adds one."""
    async with request.state.sessionmaker() as session:
        event = await _event_or_setup(session)
        context = await _units_context(request, session, event)
        if request.method == "POST":
            form = await read_form(request)
            try:
                await services.save_unit(
                    session, event=event, unit=None, raw=form, actor=current_user(request)
                )
            except InvalidError as exc:
                return _refused(request, "admin/units.html", context, form, exc)
            await session.commit()
            return _redirect(request, "admin_units")
    return render(request, "admin/units.html", context)


@requires(ADMIN)
async def edit_unit(request: Request) -> Response:
    async with request.state.sessionmaker() as session:
        event = await _event_or_setup(session)
        unit = await session.get(Unit, request.path_params["unit_id"])
        if unit is None or unit.event_id != event.id:
            raise HTTPException(404)
        parent = await session.get(Unit, unit.parent_id) if unit.parent_id else None
        page: dict[str, Any] = {
            "title": gettext("Unit: %(name)s", name=unit.name),
            "entity": "unit",
            "action": str(request.url_for("admin_unit", unit_id=unit.id)),
            "back": str(request.url_for("admin_units")),
        }
        if request.method == "GET":
            values = {"code": unit.code, "name": unit.name, "kind": unit.kind.value}
            parent_code = parent.code if parent else ""
            return _form_page(request, values={**values, "parent": parent_code}, **page)
        form = await read_form(request)
        try:
            await services.save_unit(
                session, event=event, unit=unit, raw=form, actor=current_user(request)
            )
        except InvalidError as exc:
            return _form_page(request, values=form, errors=exc.errors, **page)
        await session.commit()
    return _redirect(request, "admin_units")


@requires(ADMIN)
async def import_units(request: Request) -> Response:
    """Units from a small CSV file (code,name,kind,parent)."""
    data = await _read_one_file(
        request,
        field="file",
        max_bytes=IMPORT_MAX_CSV_BYTES,
        missing=N_("Choose a CSV file to import."),
    )
    async with request.state.sessionmaker() as session:
        event = await _event_or_setup(session)
        report = await services.import_units(
            session, event=event, data=data, actor=current_user(request)
        )
        await session.commit()
        context = await _units_context(request, session, event, report=report)
    return render(request, "admin/units.html", context)


@requires(ADMIN)
async def api_find_units(request: Request) -> Response:
    """The event's units whose code or name contains the text: the unit fields' suggestions.
    ---
    summary: Find units
    operationId: findUnits
    parameters:
      - name: q
        in: query
        description: Part of a unit's code or name; empty, the first top-level units by name.
        schema: {type: string, maxLength: 100}
    responses:
      "200":
        description: At most 20 units of the event, by name.
        json:
          type: object
          required: [units]
          properties:
            units:
              type: array
              maxItems: 20
              items:
                type: object
                required: [code, name, kind, label]
                properties:
                  code: {type: string}
                  name: {type: string}
                  kind:
                    type: string
                    enum: [school, class, residential_group, learning_centre]
                  parent: {type: [string, "null"], description: The code of the unit above.}
                  label: {type: string, description: The name and the unit above, to show.}
      "400": {$ref: "#/components/responses/400"}
    """
    text = search_text(request.query_params)
    async with request.state.sessionmaker() as session:
        event = await _event_or_setup(session)
        units = await services.list_units(
            session, event=event, page=PageRequest(1, UNIT_PICKER_SIZE), text=text, counted=False
        )
    return JSONResponse(
        {
            "units": [
                {
                    "code": unit.code,
                    "name": unit.name,
                    "kind": unit.kind.value,
                    "parent": unit.parent_code,
                    "label": " · ".join(n for n in (unit.name, unit.parent_name) if n),
                }
                for unit in units.items
            ]
        },
        headers={"Cache-Control": "no-store"},
    )


# --- contests ---------------------------------------------------------------------------------


@requires(ADMIN)
async def new_contest(request: Request) -> Response:
    async with request.state.sessionmaker() as session:
        event = await _event_or_setup(session)
        page: dict[str, Any] = {
            "title": gettext("New contest"),
            "entity": "contest",
            "action": str(request.url_for("admin_new_contest")),
            "back": str(request.url_for("admin")),
        }
        if request.method == "GET":
            defaults = {"status": "draft", "max_files": 1, "judges_per_entry": 3, "blind": True}
            return _form_page(request, values=defaults, **page)
        return await _save_contest_form(request, session, event=event, contest=None, page=page)


@requires(ADMIN)
async def edit_contest(request: Request) -> Response:
    async with request.state.sessionmaker() as session:
        contest = await services.get_contest(session, contest_id=request.path_params["contest_id"])
        if contest is None:
            raise HTTPException(404)
        event = await session.get(Event, contest.event_id)
        assert event is not None
        page: dict[str, Any] = {
            "title": contest.title,
            "entity": "contest",
            "action": str(request.url_for("admin_contest", contest_id=contest.id)),
            "back": str(request.url_for("admin")),
            "template": "admin/contest.html",
            "extra": {"contest": contest, "children": _children(contest)},
        }
        if request.method == "GET":
            return _form_page(
                request, values=await services.contest_form_values(session, contest), **page
            )
        return await _save_contest_form(request, session, event=event, contest=contest, page=page)


async def _save_contest_form(
    request: Request,
    session: AsyncSession,
    *,
    event: Event,
    contest: Contest | None,
    page: dict[str, Any],
) -> Response:
    """Create (no contest) or change a contest from the posted form; the form again on a refusal."""
    form, lists = await read_form_lists(request)
    raw = {**form, "allowed_types": lists.get("allowed_types", [])}
    try:
        saved = await services.save_contest(
            session, event=event, contest=contest, raw=raw, actor=current_user(request)
        )
    except InvalidError as exc:
        return _form_page(request, values=raw, errors=exc.errors, **page)
    except ConflictingValueError as exc:
        return _form_page(request, values=raw, errors={exc.field_name: exc.message}, **page)
    await session.commit()
    return _redirect(request, "admin_contest", contest_id=saved.id)


def _children(contest: Contest) -> list[dict[str, Any]]:
    return [
        {"part": "divisions", "title": gettext("Divisions"), "rows": contest.divisions,
         "entity": "division", "columns": ("key", "name", "min_age", "max_age")},
        {"part": "criteria", "title": gettext("Rubric"), "rows": contest.criteria,
         "entity": "criterion", "columns": ("key", "label", "max_points", "weight")},
        {"part": "books", "title": gettext("Suggested books"), "rows": contest.books,
         "entity": "book", "columns": ("title", "author")},
    ]  # fmt: skip


@requires(ADMIN)
async def contest_child(request: Request) -> Response:
    """Add (no child id) or edit a division, rubric row or book of a contest."""
    part = request.path_params["part"]
    if part not in CHILD_MODELS:
        raise HTTPException(404)
    entity, model = CHILD_MODELS[part]
    async with request.state.sessionmaker() as session:
        contest = await services.get_contest(session, contest_id=request.path_params["contest_id"])
        if contest is None:
            raise HTTPException(404)
        child_id = request.path_params.get("child_id")
        child = await session.get(model, child_id) if child_id is not None else None
        if child_id is not None and (child is None or child.contest_id != contest.id):
            raise HTTPException(404)
        action = (
            request.url_for(
                "admin_contest_child", contest_id=contest.id, part=part, child_id=child_id
            )
            if child_id is not None
            else request.url_for("admin_contest_new_child", contest_id=contest.id, part=part)
        )
        part_title = next(c["title"] for c in _children(contest) if c["part"] == part)
        page: dict[str, Any] = {
            "title": f"{contest.title} · {part_title}",
            "entity": entity,
            "action": str(action),
            "back": str(request.url_for("admin_contest", contest_id=contest.id)),
            "extra": {"deletable": child is not None},
        }
        if request.method == "GET":
            values = {f.name: getattr(child, f.name) for f in fields_of(entity)} if child else {}
            return _form_page(request, values=values, **page)
        fields, lists = await read_form_lists(request)
        multiple = [f.name for f in fields_of(entity) if f.widget == "multiselect"]
        form: dict[str, Any] = {**fields, **{name: lists.get(name, []) for name in multiple}}
        actor = current_user(request)
        if child is not None and form.get("delete"):
            names = [f.name for f in fields_of(entity)]
            await services.delete_record(
                session, obj=child, object_type=entity, names=names, actor=actor
            )
        else:
            try:
                await services.save_child(
                    session, contest=contest, part=part, child=child, raw=form, actor=actor
                )
            except InvalidError as exc:
                return _form_page(request, values=form, errors=exc.errors, **page)
            except ConflictingValueError as exc:
                errors = {exc.field_name: exc.message}
                return _form_page(request, values=form, errors=errors, **page)
        await session.commit()
    return _redirect(request, "admin_contest", contest_id=contest.id)


# --- staff ------------------------------------------------------------------------------------


async def _staff_choices(session: AsyncSession, event: Event) -> dict[str, list[tuple[str, str]]]:
    """The contests a judge may judge (units are typed as codes, with suggestions)."""
    contests = (
        await session.scalars(
            select(Contest).where(Contest.event_id == event.id).order_by(Contest.position)
        )
    ).all()
    return {"contests": [(c.slug, c.title) for c in contests]}


def _staff_form(form: Mapping[str, str], lists: Mapping[str, list[str]]) -> dict[str, Any]:
    """A staff form's fields: the unit codes as typed (separated by commas), the contests
    ticked."""
    units = ", ".join(lists.get("units", []))
    return {**form, "units": units, "contests": lists.get("contests", [])}


@requires(ADMIN, for_units=True)
async def users_page(request: Request) -> Response:
    params = request.query_params
    page = page_request(params)
    text = search_text(params)
    role = choice_filter(params, "role", Role)
    scope = await organiser_scope(request)
    async with request.state.sessionmaker() as session:
        event = await _event_or_setup(session)
        choices = await _staff_choices(session, event)
        users = await services.list_users(session, page=page, text=text, role=role, scope=scope)
        context: dict[str, Any] = {
            "users": users,
            "filters": {"q": text, "role": role},
            "roles": list(Role),
            "fields": [f for f in fields_of("user") if f.name != "active"],
            "values": {"role": "judge"},
            "errors": {},
            "choices": choices,
            "invite_link": None,
            "labels": labels,
        }
        if request.method == "GET":
            return render(request, "admin/users.html", context)
        form, lists = await read_form_lists(request)
        raw = _staff_form(form, lists)
        try:
            values = validate("user", {**raw, "active": True}, form=True)
            await services.check_unit_codes(
                session, event=event, codes=values["units"], field_name="units"
            )
            await rules.ensure_may_manage_account(
                session,
                scope,
                event_id=event.id,
                role=Role(values["role"]),
                unit_codes=values["units"],
            )
            slugs = set(values["contests"])
            contest_ids = [
                c.id
                for c in (
                    await session.scalars(
                        select(Contest).where(Contest.event_id == event.id, Contest.slug.in_(slugs))
                    )
                ).all()
            ]
            user, token = await accounts.invite_user(
                session,
                secret_key=request.state.settings.secret_key,
                email=values["email"],
                name=values["name"],
                role=values["role"],
                unit_codes=values["units"],
                contest_ids=contest_ids if values["role"] == Role.JUDGE else [],
                invited_by=current_user(request),
            )
        except InvalidError as exc:
            context.update(values=raw, errors=exc.errors)
            return render(request, "admin/users.html", context, status_code=422)
        except UserExistsError:
            context.update(
                values=raw,
                errors={
                    "email": gettext("This email already belongs to a user with another role.")
                },
            )
            return render(request, "admin/users.html", context, status_code=409)
        await session.commit()
        context.update(
            users=await services.list_users(session, page=page, text=text, role=role, scope=scope),
            invite_link=f"{public_base_url(request)}/invite/{token}",
            invited=user,
        )
    return render(request, "admin/users.html", context)


@requires(ADMIN, for_units=True)
async def edit_user(request: Request) -> Response:
    scope = await organiser_scope(request)
    async with request.state.sessionmaker() as session:
        event = await _event_or_setup(session)
        user = await services.get_user(session, user_id=request.path_params["user_id"])
        # An account an organiser of some units does not manage is, to them, none.
        held = {unit.id for unit in user.units} if user else set()
        if user is None or not rules.may_manage_account(
            await scope.loaded(session), user.role, held
        ):
            raise HTTPException(404)
        choices = await _staff_choices(session, event)
        fields = [f for f in fields_of("user") if f.name not in ("email", "role")]
        context: dict[str, Any] = {
            "title": f"{user.name} · {user.email}",
            "fields": fields,
            "choices": choices,
            "errors": {},
            "action": str(request.url_for("admin_user", user_id=user.id)),
            "back": str(request.url_for("admin_users")),
            "role_label": labels.ROLES[user.role],
        }
        if request.method == "GET":
            context["values"] = {
                "name": user.name,
                "units": [u.code for u in user.units],
                "contests": [c.slug for c in user.judged_contests],
                "active": user.is_active,
            }
            return render(request, "admin/form.html", context)
        form, lists = await read_form_lists(request)
        raw = _staff_form(form, lists)
        actor = current_user(request)
        if user.id == actor.id and not raw.get("active"):
            context.update(
                values=raw, errors={"active": gettext("You cannot deactivate your own account.")}
            )
            return render(request, "admin/form.html", context, status_code=422)
        try:
            await services.update_user(
                session, event=event, user=user, raw=raw, actor=actor, scope=scope
            )
        except InvalidError as exc:
            context.update(values=raw, errors=exc.errors)
            return render(request, "admin/form.html", context, status_code=422)
        await session.commit()
    return _redirect(request, "admin_users")


# --- conflicts --------------------------------------------------------------------------------


@requires(ADMIN)
async def conflicts_page(request: Request) -> Response:
    async with request.state.sessionmaker() as session:
        event = await _event_or_setup(session)
        context: dict[str, Any] = {
            "conflicts": await services.list_conflicts(session, event=event),
            "fields": fields_of("conflict"),
            "values": {},
            "errors": {},
            "choices": {},
        }
        if request.method == "POST":
            form = await read_form(request)
            actor = current_user(request)
            if form.get("remove"):
                try:
                    conflict_id = int(form["remove"])
                except ValueError:
                    raise HTTPException(400) from None
                if not await services.remove_conflict(
                    session, conflict_id=conflict_id, actor=actor
                ):
                    raise HTTPException(404)
            else:
                try:
                    await services.declare_conflict(session, event=event, raw=form, actor=actor)
                except InvalidError as exc:
                    return _refused(request, "admin/conflicts.html", context, form, exc)
            await session.commit()
            return _redirect(request, "admin_conflicts")
    return render(request, "admin/conflicts.html", context)


# --- entries ----------------------------------------------------------------------------------


def _entry_filters(params: Mapping[str, str]) -> services.EntryFilters:
    unit = search_text(params, "unit")
    return services.EntryFilters(
        unit_code=unit or None,
        division_id=id_filter(params, "division"),
        status=choice_filter(params, "status", EntryStatus),
        flagged=flag_filter(params, "flagged"),
        receipt_code=receipt_filter(params),
        files_state=choice_filter(params, "files", FileState),
    )


async def _contest_entries(
    request: Request, session: AsyncSession
) -> tuple[Contest, services.EntryFilters, Page[services.EntryRow]]:
    """The page of entries a request asks for, of the contest its path names (by id in the
    pages, by slug in the API)."""
    params = request.query_params
    page = page_request(params)
    filters = _entry_filters(params)
    contest = await rules.ensure_contest_for_organiser(
        session,
        user=current_user(request),
        contest_id=request.path_params.get("contest_id"),
        slug=request.path_params.get("slug"),
    )
    entries = await services.contest_entries(
        session,
        contest=contest,
        filters=filters,
        page=page,
        scope=await organiser_scope(request),
    )
    return contest, filters, entries


@requires(ADMIN, for_units=True)
async def entries_page(request: Request) -> Response:
    """A contest's entries, a page at a time, by unit, division, status, disagreement or
    receipt code."""
    async with request.state.sessionmaker() as session:
        contest, filters, entries = await _contest_entries(request, session)
        divisions = await events.contest_divisions(session, contest_id=contest.id)
    params = request.query_params
    return render(
        request,
        "admin/entries.html",
        {
            "contest": contest,
            "entries": entries,
            "divisions": divisions,
            "statuses": list(EntryStatus),
            "file_states": list(FileState),
            "filters": filters,
            "values": {name: params.get(name, "").strip() for name in ("unit", "receipt")},
            "labels": labels,
        },
    )


@requires(ADMIN, for_units=True)
async def api_entries(request: Request) -> Response:
    """A contest's entries, newest first, a page at a time.
    ---
    summary: List a contest's entries
    operationId: listEntries
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
      - name: page
        in: query
        description: >-
          Paging reaches the first 10,000 entries of a list (per_page × page); a page beyond
          them is empty: the filters narrow the list.
        schema: {type: integer, minimum: 1, maximum: 1000000}
      - {name: per_page, in: query, schema: {type: integer, minimum: 1, maximum: 200}}
      - name: unit
        in: query
        description: A unit's code; a school covers its classes.
        schema: {type: string, maxLength: 100}
      - {name: division, in: query, schema: {type: integer, minimum: 1, maximum: 2147483647}}
      - name: status
        in: query
        schema: {type: string, enum: [submitted, withdrawn, disqualified]}
      - name: files
        in: query
        description: Entries whose files are still processing, ready, or failed to be processed.
        schema: {type: string, enum: [processing, ready, failed]}
      - name: flagged
        in: query
        description: Only entries whose judges disagree.
        schema: {type: integer, enum: [0, 1]}
      - {name: receipt, in: query, schema: {type: string, maxLength: 100}}
    responses:
      "200":
        description: >-
          A page of entries; files_error is why their processing failed; forwarded, whether
          the entry came from a lower level's contest, with the score it carried if any.
        json: {type: object}
      "400": {$ref: "#/components/responses/400"}
    """
    async with request.state.sessionmaker() as session:
        _contest, _filters, entries = await _contest_entries(request, session)
    return JSONResponse(
        {
            "entries": [
                {
                    "id": e.id,
                    "receipt_code": e.receipt_code,
                    "title": e.title,
                    "status": e.status.value,
                    "submitted_at": e.created_at.isoformat(),
                    "unit": e.unit,
                    "division": e.division,
                    "files_state": e.files_state.value,
                    "files_error": e.files_error,
                    "files_job": e.files_job_id,
                    "forwarded": e.forwarded,
                    "forwarded_score": e.forwarded_score,
                }
                for e in entries.items
            ],
            **entries.json(),
        }
    )


# --- audit ------------------------------------------------------------------------------------


@requires(ADMIN)
async def audit_page(request: Request) -> Response:
    page = page_request(request.query_params)
    action = search_text(request.query_params, "action")
    object_type = search_text(request.query_params, "object")
    async with request.state.sessionmaker() as session:
        events = await services.list_audit_events(
            session, page=page, action=action, object_type=object_type
        )
        actions = await services.audit_actions(session)
    return render(
        request,
        "admin/audit.html",
        {"events": events, "action": action, "actions": actions},
    )


routes: list[BaseRoute] = [
    Route("/admin", dashboard, name="admin"),
    form_page("/admin/event", edit_event, "admin_event"),
    Route("/admin/event.yaml", download_event_file, name="admin_event_file"),
    Route("/admin/event/logo", upload_logo, methods=["POST"], name="admin_event_logo"),
    form_page("/admin/units", units_page, "admin_units"),
    Route("/admin/units/import", import_units, methods=["POST"], name="admin_units_import"),
    form_page("/admin/units/{unit_id:int}", edit_unit, "admin_unit"),
    form_page("/admin/contests/new", new_contest, "admin_new_contest"),
    form_page("/admin/contests/{contest_id:int}", edit_contest, "admin_contest"),
    form_page(
        "/admin/contests/{contest_id:int}/{part:str}/new", contest_child, "admin_contest_new_child"
    ),
    form_page(
        "/admin/contests/{contest_id:int}/{part:str}/{child_id:int}",
        contest_child,
        "admin_contest_child",
    ),
    form_page("/admin/users", users_page, "admin_users"),
    form_page("/admin/users/{user_id:int}", edit_user, "admin_user"),
    form_page("/admin/conflicts", conflicts_page, "admin_conflicts"),
    Route("/admin/contests/{contest_id:int}/entries", entries_page, name="admin_entries"),
    Route("/admin/audit", audit_page, name="admin_audit"),
]

api_routes: list[BaseRoute] = [
    Route("/units", api_find_units, methods=["GET"], name="api_find_units"),
    Route("/contests/{slug:str}/entries", api_entries, methods=["GET"], name="api_entries"),
]
