"""The organiser console's changes: every one validated, audited (before → after) and committed
by the caller's transaction."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Select, and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from contest import audit, tallies
from contest.events.eventfile import contest_settings
from contest.events.services import units_under
from contest.events.validation import (
    InvalidError,
    check_division_rules,
    prize_counts,
    prize_scheme,
    validate,
)
from contest.files import keys
from contest.files.images import make_derivatives
from contest.files.kinds import PREVIEW_TYPE
from contest.files.limits import ONE_MIB, SNIFF_BYTES
from contest.files.sniff import check_kind, sniff
from contest.i18n import gettext, ngettext
from contest.models import (
    AuditEvent,
    Book,
    Conflict,
    Contest,
    ContestKind,
    Criterion,
    Division,
    Entrant,
    Entry,
    EntryStatus,
    Event,
    FileState,
    Job,
    Role,
    Unit,
    UnitKind,
    User,
)
from contest.pagination import Page, PageRequest, paginate, where_given
from contest.rules import OrganiserScope, ensure_may_manage_account, managed_accounts
from judging.services import (
    current_round,
    judges_disagree,
    named_like,
    rubric_maximum,
    unit_chain,
)
from storage import Storage

CHILD_MODELS: dict[str, tuple[str, type[Division] | type[Criterion] | type[Book]]] = {
    "divisions": ("division", Division),
    "criteria": ("criterion", Criterion),
    "books": ("book", Book),
}


class ConflictingValueError(Exception):
    """A unique value is taken; the message names the field (translated)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.message = message


def _plain(value: Any) -> Any:
    """A JSON-able form of a value, for the audit trail."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        # One zone for every instant, so that an unchanged time compares equal.
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def snapshot(obj: Any, names: Sequence[str]) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in names}


async def _apply(
    session: AsyncSession,
    obj: Any,
    values: Mapping[str, Any],
    *,
    actor: User,
    object_type: str,
    created: bool,
) -> None:
    names = list(values)
    before = {} if created else snapshot(obj, names)
    for name, value in values.items():
        setattr(obj, name, value)
    if created:
        session.add(obj)
    await session.flush()
    if created and any(values[n] is None and getattr(obj, n) is not None for n in names):
        # A column default fills in a None on INSERT, where None was meant.
        for name in names:
            if values[name] is None:
                setattr(obj, name, None)
        await session.flush()
    after = snapshot(obj, names)
    # A new row is recorded whole; a changed one by the fields that changed, if any did.
    changed_before, changed_after = (None, after) if created else audit.changes(before, after)
    if changed_after or created:
        action = f"{object_type}_{'created' if created else 'updated'}"
        audit.record(session, action, obj, actor=actor, before=changed_before, after=changed_after)


async def delete_record(
    session: AsyncSession, *, obj: Any, object_type: str, names: Sequence[str], actor: User
) -> None:
    audit.record(session, f"{object_type}_deleted", obj, actor=actor, before=snapshot(obj, names))
    await session.delete(obj)
    await session.flush()


# --- event ------------------------------------------------------------------------------------


async def save_event(
    session: AsyncSession, *, event: Event | None, raw: Mapping[str, Any], actor: User
) -> Event:
    values = validate("event", raw, form=True)
    clash = await session.scalar(select(Event.id).where(Event.slug == values["slug"]))
    if clash is not None and (event is None or clash != event.id):
        raise ConflictingValueError("slug", gettext("Another event already uses this short name."))
    target = event or Event()
    await _apply(session, target, values, actor=actor, object_type="event", created=event is None)
    return target


# --- units ------------------------------------------------------------------------------------


@dataclass
class UnitLine:
    id: int
    code: str
    name: str
    kind: UnitKind
    parent_code: str | None
    parent_name: str | None
    has_children: bool


async def list_units(
    session: AsyncSession,
    *,
    event: Event,
    page: PageRequest,
    text: str = "",
    parent_code: str | None = None,
    counted: bool = True,
) -> Page[UnitLine]:
    """A page of the event's units by name: those below the unit of ``parent_code``, or
    whose code or name contains ``text`` (at any depth), or else the top-level ones (schools,
    residential groups, the learning centre). An unknown parent code matches nothing."""
    parent = aliased(Unit)
    child = aliased(Unit)
    # One probe of the parent index a row (an EXISTS would be planned as a scan of every unit).
    below = select(literal(True)).where(child.parent_id == Unit.id).limit(1).scalar_subquery()
    query = (
        select(
            Unit.id,
            Unit.code,
            Unit.name,
            Unit.kind,
            parent.code,
            parent.name,
            func.coalesce(below, False),
        )
        .outerjoin(parent, parent.id == Unit.parent_id)
        .where(Unit.event_id == event.id)
    )
    if parent_code is not None:
        query = query.where(Unit.parent_id == _unit_id(event, parent_code).scalar_subquery())
    elif not text:
        query = query.where(Unit.parent_id.is_(None))
    if text:
        pattern = "%" + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
        query = query.where(
            Unit.code.ilike(pattern, escape="/") | Unit.name.ilike(pattern, escape="/")
        ).order_by(Unit.name, Unit.id)
    else:
        # Siblings by name, read in order from the (event, parent, name) index.
        query = query.order_by(Unit.parent_id, Unit.name, Unit.id)
    found = await paginate(session, query, page, counted=counted)
    return found.replace([UnitLine(*row) for row in found.items])


def _unit_id(event: Event, code: str) -> Select[int]:
    return select(Unit.id).where(Unit.event_id == event.id, Unit.code == code)


async def get_unit(session: AsyncSession, *, event: Event, code: str) -> Unit | None:
    found: Unit | None = await session.scalar(
        select(Unit).where(Unit.event_id == event.id, Unit.code == code)
    )
    return found


async def check_unit_codes(
    session: AsyncSession, *, event: Event, codes: Sequence[str], field_name: str
) -> None:
    """InvalidError naming the codes (typed in a form) that no unit of the event has."""
    known = set(
        await session.scalars(
            select(Unit.code).where(Unit.event_id == event.id, Unit.code.in_(list(codes)))
        )
    )
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise InvalidError({field_name: unknown_units_message(unknown)})


def unknown_units_message(codes: Sequence[str]) -> str:
    return ngettext(
        "No unit has the code %(codes)s.",
        "No units have the codes %(codes)s.",
        len(codes),
        codes=", ".join(codes),
    )


async def _unit_values(
    session: AsyncSession, *, event: Event, raw: Mapping[str, Any], unit: Unit | None
) -> dict[str, Any]:
    values = validate("unit", raw, form=True)
    errors: dict[str, str] = {}
    clash = await session.scalar(
        select(Unit.id).where(Unit.event_id == event.id, Unit.code == values["code"])
    )
    if clash is not None and (unit is None or clash != unit.id):
        errors["code"] = gettext("Another unit already uses this code.")
    parent_code = values.pop("parent")
    values["parent_id"] = None
    if parent_code:
        parent = await get_unit(session, event=event, code=parent_code)
        if parent is None:
            errors["parent"] = unknown_units_message([parent_code])
        elif unit is not None and unit.id in await unit_chain(session, parent.id):
            errors["parent"] = gettext("A unit cannot belong to itself or to a unit below it.")
        else:
            values["parent_id"] = parent.id
    if errors:
        raise InvalidError(errors)
    return values


async def save_unit(
    session: AsyncSession,
    *,
    event: Event,
    unit: Unit | None,
    raw: Mapping[str, Any],
    actor: User,
) -> Unit:
    values = await _unit_values(session, event=event, raw=raw, unit=unit)
    target = unit or Unit(event_id=event.id)
    await _apply(session, target, values, actor=actor, object_type="unit", created=unit is None)
    return target


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


async def import_units(
    session: AsyncSession, *, event: Event, data: bytes, actor: User
) -> ImportReport:
    """Units from CSV (code,name,kind,parent); each good row is kept, each bad one reported."""
    report = ImportReport()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.refused.append((0, gettext("The file is not UTF-8 text. Save it as CSV UTF-8.")))
        return report
    reader = csv.DictReader(io.StringIO(text))
    missing = {"code", "name", "kind"} - set(reader.fieldnames or [])
    if missing:
        report.refused.append(
            (1, gettext("Missing columns: %(names)s", names=", ".join(sorted(missing))))
        )
        return report
    for row in reader:
        line = reader.line_num
        raw = {k: (v or "") for k, v in row.items() if k}
        try:
            async with session.begin_nested():
                await save_unit(session, event=event, unit=None, raw=raw, actor=actor)
        except InvalidError as exc:
            reasons = "; ".join(f"{name}: {message}" for name, message in exc.errors.items())
            report.refused.append((line, reasons))
            continue
        report.created.append(raw.get("code", ""))
    return report


# --- contests ---------------------------------------------------------------------------------


async def contest_form_values(session: AsyncSession, contest: Contest) -> dict[str, Any]:
    forwards_to = (
        await session.scalar(select(Contest.slug).where(Contest.id == contest.forwards_to_id))
        if contest.forwards_to_id is not None
        else None
    )
    return {
        # The form's datetime-local inputs read this format.
        **contest_settings(contest, time_format="%Y-%m-%dT%H:%M", forwards_to=forwards_to),
        "max_words": contest.max_words if contest.max_words is not None else "",
        "forward_quota": contest.forward_quota if contest.forward_quota is not None else "",
        **prize_counts(contest.prize_scheme),
    }


async def save_contest(
    session: AsyncSession,
    *,
    event: Event,
    contest: Contest | None,
    raw: Mapping[str, Any],
    actor: User,
) -> Contest:
    values = validate("contest", raw, form=True)
    clash = await session.scalar(
        select(Contest.id).where(Contest.event_id == event.id, Contest.slug == values["slug"])
    )
    if clash is not None and (contest is None or clash != contest.id):
        raise ConflictingValueError(
            "slug", gettext("Another contest already uses this short name.")
        )
    values["max_file_size"] = values.pop("max_file_size_mb") * ONE_MIB
    values["prize_scheme"] = prize_scheme(values)
    values["forwards_to_id"] = await _forward_target(
        session, event, values.pop("forwards_to"), values["kind"]
    )
    for key in [k for k in values if k.startswith("prizes_")]:
        del values[key]
    target = contest or Contest(event_id=event.id)
    await _apply(
        session, target, values, actor=actor, object_type="contest", created=contest is None
    )
    return target


async def _forward_target(
    session: AsyncSession, event: Event, slug: str | None, kind: ContestKind
) -> int | None:
    """The id of the event's contest of this short name, the next level's a contest forwards
    its best entries to: of the same kind, so that the entries' files fit it."""
    if not slug:
        return None
    found = (
        await session.execute(
            select(Contest.id, Contest.kind).where(
                Contest.event_id == event.id, Contest.slug == slug
            )
        )
    ).first()
    if found is None:
        raise InvalidError({"forwards_to": gettext("No contest has this short name.")})
    if found.kind != kind:
        raise InvalidError(
            {"forwards_to": gettext("The next level's contest must be of the same kind.")}
        )
    return int(found.id)


async def get_contest(session: AsyncSession, *, contest_id: int) -> Contest | None:
    found: Contest | None = await session.scalar(
        select(Contest)
        .where(Contest.id == contest_id)
        .options(
            selectinload(Contest.divisions),
            selectinload(Contest.criteria),
            selectinload(Contest.books),
        )
    )
    return found


async def save_child(
    session: AsyncSession,
    *,
    contest: Contest,
    part: str,
    child: Division | Criterion | Book | None,
    raw: Mapping[str, Any],
    actor: User,
) -> Division | Criterion | Book:
    entity, model = CHILD_MODELS[part]
    values = validate(entity, raw, form=True)
    if entity == "division":
        check_division_rules(
            values,
            {
                "kind": contest.kind,
                "allowed_types": contest.allowed_types,
                "max_words": contest.max_words,
            },
        )
    key = "title" if part == "books" else "key"
    clash = await session.scalar(
        select(model.id).where(model.contest_id == contest.id, getattr(model, key) == values[key])
    )
    if clash is not None and (child is None or clash != child.id):
        raise ConflictingValueError(key, gettext("Another row already uses this value."))
    target = child or model(contest_id=contest.id)
    await _apply(session, target, values, actor=actor, object_type=entity, created=child is None)
    return target


# --- users ------------------------------------------------------------------------------------


async def list_users(
    session: AsyncSession,
    *,
    page: PageRequest,
    text: str = "",
    role: Role | None = None,
    scope: OrganiserScope | None = None,
) -> Page[User]:
    """A page of the accounts by role and name, optionally of one role, or whose name or
    e-mail address contains ``text``; for an organiser of some units, those they manage
    (``contest.rules.managed_accounts``)."""
    query = (
        select(User)
        .order_by(User.role, User.name, User.id)
        .options(selectinload(User.units), selectinload(User.judged_contests))
    )
    if scope is not None:
        query = query.where(managed_accounts(scope))
    if text:
        query = query.where(named_like(text))
    found = await paginate(session, where_given(query, (User.role, role)), page)
    return found.replace([row[0] for row in found.items])


async def get_user(session: AsyncSession, *, user_id: int) -> User | None:
    found: User | None = await session.scalar(
        select(User)
        .where(User.id == user_id)
        .options(selectinload(User.units), selectinload(User.judged_contests))
    )
    return found


async def update_user(
    session: AsyncSession,
    *,
    event: Event,
    user: User,
    raw: Mapping[str, Any],
    actor: User,
    scope: OrganiserScope | None = None,
) -> User:
    """Name, units (coordinators' and judges' own), judged contests, active. An organiser of
    some units keeps the account within them (``contest.rules.ensure_may_manage_account``)."""
    from contest.accounts.services import set_active

    values = validate("user", {**raw, "email": user.email, "role": user.role.value}, form=True)
    await check_unit_codes(session, event=event, codes=values["units"], field_name="units")
    if scope is not None:
        await ensure_may_manage_account(
            session, scope, event_id=event.id, role=user.role, unit_codes=values["units"]
        )
    units = (
        await session.scalars(
            select(Unit).where(Unit.event_id == event.id, Unit.code.in_(values["units"]))
        )
    ).all()
    contests = (
        await session.scalars(
            select(Contest).where(
                Contest.event_id == event.id, Contest.slug.in_(values["contests"])
            )
        )
    ).all()
    before = {
        "name": user.name,
        "units": sorted(u.code for u in user.units),
        "contests": sorted(c.slug for c in user.judged_contests),
    }
    user.name = values["name"]
    # Units and contests of other events stay as they are.
    user.units = [u for u in user.units if u.event_id != event.id] + list(units)
    other_events = [c for c in user.judged_contests if c.event_id != event.id]
    # Only judges judge; the field is ignored for other roles.
    user.judged_contests = other_events + (list(contests) if user.role == Role.JUDGE else [])
    after = {
        "name": user.name,
        "units": sorted(u.code for u in user.units),
        "contests": sorted(c.slug for c in user.judged_contests),
    }
    changed_before, changed_after = audit.changes(before, after)
    if changed_after:
        audit.record(
            session, "user_updated", user, actor=actor, before=changed_before, after=changed_after
        )
    await set_active(session, user=user, active=values["active"], actor=actor)
    await session.flush()
    return user


# --- conflicts --------------------------------------------------------------------------------


async def list_conflicts(
    session: AsyncSession, *, event: Event
) -> list[tuple[Conflict, User, Unit]]:
    rows = await session.execute(
        select(Conflict, User, Unit)
        .join(User, Conflict.judge_id == User.id)
        .join(Unit, Conflict.unit_id == Unit.id)
        .where(Unit.event_id == event.id)
        .order_by(User.name, Unit.name)
    )
    return [(c, u, n) for c, u, n in rows.all()]


async def declare_conflict(
    session: AsyncSession, *, event: Event, raw: Mapping[str, Any], actor: User
) -> Conflict:
    values = validate("conflict", raw, form=True)
    errors: dict[str, str] = {}
    judge = await session.scalar(
        select(User).where(User.email == values["judge"], User.role == Role.JUDGE)
    )
    unit = await session.scalar(
        select(Unit).where(Unit.event_id == event.id, Unit.code == values["unit"])
    )
    if judge is None:
        errors["judge"] = gettext("No judge has this e-mail address.")
    if unit is None:
        errors["unit"] = unknown_units_message([values["unit"]])
    if errors or judge is None or unit is None:
        raise InvalidError(errors)
    conflict = Conflict(judge_id=judge.id, unit_id=unit.id, reason=values["reason"])
    session.add(conflict)
    await session.flush()
    audit.record(
        session,
        "conflict_declared",
        conflict,
        actor=actor,
        after={"judge": judge.email, "unit": unit.code, "reason": values["reason"]},
    )
    return conflict


# --- dashboard and audit ----------------------------------------------------------------------


async def entry_counts(
    session: AsyncSession, *, event: Event, scope: OrganiserScope | None = None
) -> dict[int, int]:
    """Entries per contest of the event, in any status: a tally, or for an organiser of some
    units a count over their units' entrants."""
    contest_ids = select(Contest.id).where(Contest.event_id == event.id)
    if scope is None or not scope.for_units:
        return await tallies.entry_counts(session, contest_ids=await session.scalars(contest_ids))
    query = (
        select(Entry.contest_id, func.count())
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .where(Entry.contest_id.in_(contest_ids))
        .group_by(Entry.contest_id)
    )
    rows = await session.execute(scope.narrow(query, Entrant.unit_id))
    return {contest_id: count for contest_id, count in rows.all()}


async def list_audit_events(
    session: AsyncSession, *, page: PageRequest, action: str = "", object_type: str = ""
) -> Page[AuditEvent]:
    """A page of the audit log, newest first; not counted (it grows with every score)."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action == action)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    found = await paginate(session, query, page, counted=False)
    return found.replace([row[0] for row in found.items])


async def audit_actions(session: AsyncSession) -> list[str]:
    """The actions the log holds, in order: one index probe per action (a recursive query)
    rather than a DISTINCT over every event."""
    found = select(func.min(AuditEvent.action).label("action")).cte("actions", recursive=True)
    after = (
        select(func.min(AuditEvent.action))
        .where(AuditEvent.action > found.c.action)
        .scalar_subquery()
    )
    found = found.union_all(select(after).where(found.c.action.is_not(None)))
    return [
        action for action in await session.scalars(select(found.c.action)) if action is not None
    ]


async def remove_conflict(session: AsyncSession, *, conflict_id: int, actor: User) -> bool:
    conflict = await session.get(Conflict, conflict_id)
    if conflict is None:
        return False
    await delete_record(
        session,
        obj=conflict,
        object_type="conflict",
        names=["judge_id", "unit_id", "reason"],
        actor=actor,
    )
    return True


# --- the event's logo -------------------------------------------------------------------------

LOGO_TYPES = ("jpeg", "png", "webp")


async def set_event_logo(
    session: AsyncSession, *, storage: Storage, event: Event, data: bytes, actor: User
) -> str | None:
    """Store the logo as a metadata-free JPEG; returns the key of the logo it replaces.

    Raises contest.files.interfaces' UnsupportedFileError (415) or UnreadableImageError (422).
    """
    check_kind(sniff(data[:SNIFF_BYTES]), LOGO_TYPES)
    # Decoding a photo takes a while: off the event loop, as the intake does for drawings.
    derived = await asyncio.to_thread(make_derivatives, io.BytesIO(data))
    key = keys.new_logo_key()

    async def chunks() -> AsyncIterator[bytes]:
        yield derived.preview

    await storage.put_stream(key, chunks(), content_type=PREVIEW_TYPE)
    old = event.logo_key
    event.logo_key = key
    audit.record(
        session, "event_logo_set", event, actor=actor, before={"logo": old}, after={"logo": key}
    )
    return old


# --- the entries list -------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryFilters:
    """What the organiser's entries list is narrowed to; None is "any"."""

    unit_code: str | None = None
    division_id: int | None = None
    status: EntryStatus | None = None
    flagged: bool = False
    receipt_code: str | None = None
    # Processing failed (or still running) for the entry's files: contest.intake.jobs.
    files_state: FileState | None = None


@dataclass
class EntryRow:
    id: int
    receipt_code: str
    title: str
    status: EntryStatus
    created_at: datetime
    entrant: str
    unit: str | None
    division: str | None
    files_state: FileState
    files_job_id: int | None
    # Why its processing job failed, when it did.
    files_error: str | None
    # Forwarded from a lower level's contest, and the score it carried (when it did).
    forwarded: bool = False
    forwarded_score: float | None = None


async def contest_entries(
    session: AsyncSession,
    *,
    contest: Contest,
    filters: EntryFilters,
    page: PageRequest,
    scope: OrganiserScope | None = None,
) -> Page[EntryRow]:
    """A page of the contest's entries, newest first, narrowed by the filters and the
    organiser's scope. Flagged entries are those whose judges disagree in the current round;
    an entry whose files failed to be processed carries its job's error."""
    query: Select[*tuple[Any, ...]] = (
        select(
            Entry.id,
            Entry.receipt_code,
            Entry.title,
            Entry.status,
            Entry.created_at,
            Entrant.full_name,
            Unit.name,
            Division.name,
            Entry.files_state,
            Entry.files_job_id,
            Job.error,
            Entry.forwarded_from_id.is_not(None),
            Entry.forwarded_score,
        )
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .outerjoin(Unit, Unit.id == Entrant.unit_id)
        .outerjoin(Division, Division.id == Entry.division_id)
        .outerjoin(Job, and_(Job.id == Entry.files_job_id, Entry.files_state == FileState.FAILED))
        .where(Entry.contest_id == contest.id)
        .order_by(Entry.id.desc())
    )
    if scope is not None:
        query = scope.narrow(query, Entrant.unit_id)
    if filters.unit_code is not None:
        unit_id = await session.scalar(
            select(Unit.id).where(Unit.event_id == contest.event_id, Unit.code == filters.unit_code)
        )
        units = await units_under(session, unit_ids=[unit_id] if unit_id else [])
        query = query.where(Entrant.unit_id.in_(list(units)))
    query = where_given(
        query,
        (Entry.division_id, filters.division_id),
        (Entry.status, filters.status),
        (Entry.receipt_code, filters.receipt_code),
        (Entry.files_state, filters.files_state),
    )
    if filters.flagged:
        round_ = await current_round(session, contest_id=contest.id)
        if round_ is None:
            return Page([], 1, page.size, 0)
        maximum = await rubric_maximum(session, contest_id=contest.id)
        query = query.where(judges_disagree(round_.id, maximum))
    # Disagreement is asked entry by entry: a page of them is quick, counting them all is not.
    found = await paginate(session, query, page, counted=not filters.flagged)
    return found.replace([EntryRow(*row) for row in found.items])
