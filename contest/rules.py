"""Who may do what to which object: the one answer to "may this user do this to this object?".

Routes declare who may reach them at all (``contest.access``: ``public`` or ``requires(role)``);
everything about a particular object is asked here, by every page, API endpoint, job and command
alike. Each rule is a ``may_*`` predicate over values already loaded (no I/O), with an
``ensure_*`` function beside it that loads what it needs (where it must) and raises a
``contest.errors.ContestError`` when the answer is no. A judge's or an organiser's object they
may not touch answers 404, exactly as one that does not exist, so its existence never leaks; an
entrant's wrong edit token and a coordinator's foreign unit answer 403, as they always have
(the receipt code alone is not secret, and a coordinator sees the units of the event).
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from contest.errors import ForbiddenError, NotFoundError
from contest.events.validation import InvalidError
from contest.i18n import gettext
from contest.models import (
    ApiToken,
    Assignment,
    AssignmentStatus,
    Comparison,
    Conflict,
    Contest,
    Entrant,
    Entry,
    EntryStatus,
    Job,
    JudgeSlip,
    RemarkRequest,
    Role,
    Round,
    Unit,
    User,
    user_units,
)
from contest.tokens import hash_token, normalize_receipt_code

_Query = TypeVar("_Query", bound="Select[*tuple[Any, ...]]")

# --- entrants and coordinators ------------------------------------------------------------
# An entrant has no account: the private link's edit token, with the receipt code, is what
# makes an entry theirs. A wrong token answers 403 (the receipt code alone is not secret: it
# shows the entry's status to anyone who has it), as it always has for clients of the API.


class EditTokenRefusedError(ForbiddenError):
    """The private link's edit token is not this entry's."""


class UnitRefusedError(ForbiddenError):
    """A coordinator named a unit that is not theirs."""


def may_hold_entry(entry: Entry, token: str | None) -> bool:
    """Whether ``token`` is this entry's edit token; only its hash is kept."""
    return bool(token) and hmac.compare_digest(hash_token(token or ""), entry.edit_token_hash)


def ensure_entry_holder(entry: Entry, token: str | None) -> None:
    """Reading the whole entry, editing, withdrawing, asking for re-marking, downloading the
    family's data: only with the entry's private link."""
    if not may_hold_entry(entry, token):
        raise EditTokenRefusedError(
            gettext(
                "This edit link is not valid for this entry. Use the link from your receipt, "
                "or ask the organisers."
            )
        )


async def entry_of_holder(session: AsyncSession, *, receipt_code: str, token: str | None) -> Entry:
    """The entry behind a receipt code, for the holder of its private link: 404 for a code
    that names no entry, 403 for a wrong token."""
    entry = await session.scalar(
        select(Entry).where(Entry.receipt_code == normalize_receipt_code(receipt_code))
    )
    if entry is None:
        raise NotFoundError(
            gettext("No entry has this receipt code. Please check the code and try again.")
        )
    ensure_entry_holder(entry, token)
    return entry


def may_submit_for_unit(user: User | None, unit: Unit, *, own_unit_ids: Iterable[int]) -> bool:
    """Anyone may enter for their own unit; signed in, an admin may submit for every unit and
    a coordinator for their own units and the classes inside them. (An organiser of some
    units: ``submittable_units``.)"""
    if user is None or user.role == Role.ADMIN:
        return True
    own = set(own_unit_ids)
    return unit.id in own or (unit.parent_id is not None and unit.parent_id in own)


async def submittable_units(
    session: AsyncSession, *, user: User | None, event_id: int
) -> list[Unit]:
    """The units of an event that ``user`` (None: an entrant) may submit entries for: an
    organiser of some units, those units and everything below them."""
    query = select(Unit).where(Unit.event_id == event_id).order_by(Unit.kind, Unit.name)
    if user is not None and await is_unit_organiser(session, user):
        query = query.where(Unit.id.in_(organiser_units(user.id)))
    units = list((await session.scalars(query)).all())
    if user is None or user.role == Role.ADMIN:
        return units
    loaded = await session.scalar(
        select(User).where(User.id == user.id).options(selectinload(User.units))
    )
    own = [unit.id for unit in (loaded.units if loaded else [])]
    return [u for u in units if may_submit_for_unit(user, u, own_unit_ids=own)]


def ensure_may_submit_for_unit(unit_code: str, allowed: Sequence[Unit]) -> None:
    """A coordinator's API submission names one of their units (403 otherwise). An empty code
    is left to the form's own check, which asks for a unit."""
    if unit_code and all(u.code != unit_code for u in allowed):
        raise UnitRefusedError(gettext("You may only submit entries for your own units."))


# --- signed-in users' own things ----------------------------------------------------------


def may_revoke_api_token(user: User, token: ApiToken | None) -> bool:
    return token is not None and token.user_id == user.id and token.revoked_at is None


def ensure_may_revoke_api_token(user: User, token: ApiToken | None) -> ApiToken:
    """Someone else's token, or one already revoked, answers as one that does not exist."""
    if token is None or not may_revoke_api_token(user, token):
        raise NotFoundError()
    return token


# --- judges and organisers --------------------------------------------------------------------
#
# A judge reaches an assignment or a re-marking task only when it is theirs; an organiser acts
# only on a contest that exists. Either refusal answers 404 like a missing object. Which judges
# may judge an entry at all (no entry of a unit they belong to or declared a conflict with, no
# entrant they declared a conflict with) is ``may_judge_entry`` over ``judge_conflicts``: the
# assignment's set-based computation and the re-marking's choice of judge both read it.


def _not_in_list() -> NotFoundError:
    return NotFoundError(gettext("This entry is not in your list."))


def may_see_assignment(judge: User, assignment: Assignment, entry: Entry) -> bool:
    """The judge's own assignment, not stepped back from, of an entry still in the contest."""
    return (
        assignment.judge_id == judge.id
        and assignment.status != AssignmentStatus.RECUSED
        and entry.status == EntryStatus.SUBMITTED
    )


async def ensure_judge_assignment(
    session: AsyncSession, *, assignment_id: int, judge: User
) -> tuple[Assignment, Entry, Round]:
    """The assignment with its entry and round if the judge may see it; NotFoundError else."""
    assignment = await session.get(Assignment, assignment_id)
    if assignment is None:
        raise _not_in_list()
    entry = await session.get(Entry, assignment.entry_id)
    round_ = await session.get(Round, assignment.round_id)
    if entry is None or round_ is None or not may_see_assignment(judge, assignment, entry):
        raise _not_in_list()
    return assignment, entry, round_


def may_compare(judge: User, comparison: Comparison) -> bool:
    """A pair of a comparative round is decided by the judge it was given to, and seen by
    nobody else."""
    return comparison.judge_id == judge.id


async def ensure_judge_comparison(
    session: AsyncSession, *, comparison_id: int, judge: User
) -> tuple[Comparison, Round]:
    comparison = await session.get(Comparison, comparison_id)
    round_ = await session.get(Round, comparison.round_id) if comparison is not None else None
    if comparison is None or round_ is None or not may_compare(judge, comparison):
        raise NotFoundError(gettext("This pair is not in your list."))
    return comparison, round_


def may_remark(judge: User, remark: RemarkRequest) -> bool:
    """A re-marking task is seen only by the judge the organiser handed it to."""
    return remark.judge_id is not None and remark.judge_id == judge.id


async def ensure_judge_remark(
    session: AsyncSession, *, remark_id: int, judge: User
) -> RemarkRequest:
    remark = await session.get(RemarkRequest, remark_id)
    if remark is None or not may_remark(judge, remark):
        raise NotFoundError(gettext("This re-marking request is not in your list."))
    return remark


@dataclass
class JudgeConflicts:
    """The units a judge belongs to or declared a conflict with, and the entrants declared."""

    units: set[int] = field(default_factory=set)
    entrants: set[int] = field(default_factory=set)


async def judge_conflicts(
    session: AsyncSession, *, judge_ids: Iterable[int] | Select[int]
) -> dict[int, JudgeConflicts]:
    """Every judge's conflicts, in two queries whatever the number of judges. ``judge_ids``:
    a few ids, or a query of them (a contest's judges: thousands of ids would otherwise go
    to the database as parameters). Every judge named has an entry, with or without
    conflicts."""
    ids: list[int] | Select[int]
    if isinstance(judge_ids, Select):
        ids, named = judge_ids, list(await session.scalars(judge_ids))
    else:
        ids = named = list(judge_ids)
    conflicts = {judge_id: JudgeConflicts() for judge_id in named}
    own = await session.execute(
        select(user_units.c.user_id, user_units.c.unit_id).where(user_units.c.user_id.in_(ids))
    )
    for judge_id, unit_id in own.all():
        conflicts[judge_id].units.add(unit_id)
    declared = await session.execute(
        select(Conflict.judge_id, Conflict.unit_id, Conflict.entrant_id).where(
            Conflict.judge_id.in_(ids)
        )
    )
    for judge_id, unit_id, entrant_id in declared.all():
        if unit_id is not None:
            conflicts[judge_id].units.add(unit_id)
        if entrant_id is not None:
            conflicts[judge_id].entrants.add(entrant_id)
    return conflicts


def may_judge_entry(
    conflicts: JudgeConflicts, *, entry_units: Collection[int], entrant_id: int
) -> bool:
    """``entry_units``: the entrant's unit and every unit above it (a conflict with a school
    covers its classes)."""
    return entrant_id not in conflicts.entrants and conflicts.units.isdisjoint(entry_units)


# --- organisers of a part of the event ---------------------------------------------------------
#
# An organiser with units (a province's, a ward's or a school's) acts for those units and
# everything below them; one without units (the national organiser, a ward's only organiser)
# for the whole event. The pages a unit's organiser may use at all are declared with
# ``requires(..., for_units=True)``; each of them narrows what it reads with the scope here, so
# that no list, search, export or count reaches another part of the event.


def organisers_own_units(user_id: int) -> Select[int]:
    """The ids of the units the organiser was given (not those below them)."""
    return select(user_units.c.unit_id.label("id")).where(user_units.c.user_id == user_id)


def organiser_units(user_id: int) -> Select[int]:
    """The ids of the organiser's units and every unit below them, as a query (a province holds
    thousands of units: as parameters they would grow with the data)."""
    tree = organisers_own_units(user_id).cte("organiser_units", recursive=True)
    tree = tree.union_all(select(Unit.id).join(tree, Unit.parent_id == tree.c.id))
    return select(tree.c.id)


@dataclass(frozen=True)
class OrganiserScope:
    """What an organiser acts for: the whole event, or their units' subtrees."""

    user_id: int
    for_units: bool
    # The units' ids, once ``loaded`` (for checks over a few values; queries use ``narrow``).
    unit_ids: frozenset[int] = frozenset()

    @functools.cached_property
    def units(self) -> Select[int]:
        """``organiser_units``, one query for the scope: a statement that narrows both the
        entries and the judges to it holds the units' tree once."""
        return organiser_units(self.user_id)

    async def loaded(self, session: AsyncSession) -> OrganiserScope:
        if not self.for_units or self.unit_ids:
            return self
        ids = frozenset(await session.scalars(organiser_units(self.user_id)))
        return OrganiserScope(self.user_id, self.for_units, ids)

    def narrow(self, query: _Query, unit_id: Any) -> _Query:
        """``query`` kept to rows whose ``unit_id`` (a column) is in the scope."""
        if not self.for_units:
            return query
        return query.where(unit_id.in_(self.units))


# Whoever acts for the whole event (a command, a job started by its organisers): nothing narrowed.
WHOLE_EVENT = OrganiserScope(0, False)

# The accounts an organiser of some units manages: the judges and coordinators of their units.
UNIT_STAFF = (Role.JUDGE, Role.COORDINATOR)


def may_manage_account(scope: OrganiserScope, role: Role, unit_ids: Collection[int]) -> bool:
    """``unit_ids``: the account's units; ``scope`` loaded (``OrganiserScope.loaded``). The
    whole event's organiser manages every account; one of some units only judges and
    coordinators with units, all of them theirs."""
    return not scope.for_units or (
        role in UNIT_STAFF and bool(unit_ids) and set(unit_ids) <= scope.unit_ids
    )


def managed_accounts(scope: OrganiserScope) -> ColumnElement[bool]:
    """The accounts ``may_manage_account`` allows, as a condition on users (for lists)."""
    if not scope.for_units:
        return true()
    mine = scope.units
    return and_(
        User.role.in_(UNIT_STAFF),
        User.id.in_(select(user_units.c.user_id).where(user_units.c.unit_id.in_(mine))),
        User.id.not_in(select(user_units.c.user_id).where(user_units.c.unit_id.not_in(mine))),
    )


async def ensure_may_manage_account(
    session: AsyncSession,
    scope: OrganiserScope,
    *,
    event_id: int,
    role: Role,
    unit_codes: Sequence[str],
) -> None:
    """An organiser of some units makes or changes only judges' and coordinators' accounts of
    their units: InvalidError naming the field otherwise (nothing is written)."""
    if not scope.for_units:
        return
    if role not in UNIT_STAFF:
        raise InvalidError({"role": gettext("You may add judges and coordinators only.")})
    ids = set(
        await session.scalars(
            select(Unit.id).where(Unit.event_id == event_id, Unit.code.in_(list(unit_codes)))
        )
    )
    if not may_manage_account(await scope.loaded(session), role, ids):
        raise InvalidError(
            {"units": gettext("Give one or more of your own units (or the units below them).")}
        )


# --- judging by an organiser of some units ----------------------------------------------------
#
# A level's contest holds the entries of many units (the province round every province's): each
# province's organiser assigns, follows and reassigns the entries of their units, with their
# own judges (those whose accounts they manage), and leaves everything else as it is. Rounds
# themselves (closing, the next round, the deadline) stay with the whole event's organisers.

# The key under which an assignment job started by an organiser of some units keeps whose
# units it acts for: it is part of the job's identity, so that two provinces' organisers
# starting assignment at once each get their own job.
SCOPE_PARAM = "for_units_of"


def entries_in_scope(scope: OrganiserScope) -> ColumnElement[bool]:
    """A condition on entries: the entrant's unit is in the scope (every entry for the whole
    event's organiser). A subquery, so that nothing grows with the data as parameters."""
    if not scope.for_units:
        return true()
    return Entry.entrant_id.in_(select(Entrant.id).where(Entrant.unit_id.in_(scope.units)))


def judges_in_scope(scope: OrganiserScope) -> ColumnElement[bool]:
    """A condition on users: the judges an organiser may give entries to, the accounts they
    manage (``managed_accounts``: for one of some units, judges whose units are all theirs)."""
    return managed_accounts(scope)


def job_params_of_scope(scope: OrganiserScope) -> dict[str, Any]:
    """What a job an organiser starts keeps of their scope (nothing for the whole event)."""
    return {SCOPE_PARAM: scope.user_id} if scope.for_units else {}


def scope_of_job(params: dict[str, Any]) -> OrganiserScope:
    """The scope a job acts for, from what ``job_params_of_scope`` kept."""
    user_id = params.get(SCOPE_PARAM)
    if isinstance(user_id, int):
        return OrganiserScope(user_id, True)
    return WHOLE_EVENT


async def ensure_entry_in_scope(
    session: AsyncSession, scope: OrganiserScope, *, entry_id: int
) -> None:
    """An organiser of some units acts on an entry of their units only: any other answers
    404, like one that does not exist. The whole event's organiser is not asked here."""
    if not scope.for_units:
        return
    found = await session.scalar(
        select(Entry.id).where(Entry.id == entry_id, entries_in_scope(scope))
    )
    if found is None:
        raise NotFoundError()


async def ensure_assignment_in_scope(
    session: AsyncSession, scope: OrganiserScope, *, assignment_id: int
) -> None:
    """An organiser of some units reassigns only the work on an entry of their units: any
    other assignment answers 404, like one that does not exist."""
    if not scope.for_units:
        return
    found = await session.scalar(
        select(Assignment.id)
        .join(Entry, Entry.id == Assignment.entry_id)
        .where(Assignment.id == assignment_id, entries_in_scope(scope))
    )
    if found is None:
        raise NotFoundError()


async def entry_organisers_scope(session: AsyncSession, *, entry_id: int) -> OrganiserScope:
    """Whose judges an entry's work goes to when no organiser is asking (a judge stepped back
    from it): where an organiser holds the entry's unit or a unit above it, the outermost such
    organiser's (a province's entry stays with the province's judges); otherwise the whole
    event's. The chain is a few units deep: a query a unit."""
    unit_id = await session.scalar(
        select(Entrant.unit_id)
        .join(Entry, Entry.entrant_id == Entrant.id)
        .where(Entry.id == entry_id)
    )
    chain: list[int] = []
    while unit_id is not None and unit_id not in chain:
        chain.append(unit_id)
        unit_id = await session.scalar(select(Unit.parent_id).where(Unit.id == unit_id))
    for held in reversed(chain):
        organiser = await session.scalar(
            select(User.id)
            .join(user_units, user_units.c.user_id == User.id)
            .where(user_units.c.unit_id == held, User.role == Role.ADMIN, User.is_active)
            .order_by(User.id)
            .limit(1)
        )
        if organiser is not None:
            return OrganiserScope(organiser, True)
    return WHOLE_EVENT


async def is_unit_organiser(session: AsyncSession, user: User) -> bool:
    """An organiser who holds units acts only for them."""
    if user.role != Role.ADMIN:
        return False
    held = await session.scalar(
        select(user_units.c.unit_id).where(user_units.c.user_id == user.id).limit(1)
    )
    return held is not None


async def organiser_scope(session: AsyncSession, user: User) -> OrganiserScope:
    return OrganiserScope(user.id, await is_unit_organiser(session, user))


def may_run_judging(user: User, contest: Contest | None) -> bool:
    """An organiser acts on a contest that exists."""
    return contest is not None and user.role == Role.ADMIN


async def ensure_contest_for_organiser(
    session: AsyncSession, *, user: User, contest_id: int | None = None, slug: str | None = None
) -> Contest:
    """The contest an organiser's action names (by id in the pages, by slug in the API: the
    latest contest of that slug); NotFoundError when there is none."""
    contest: Contest | None
    if contest_id is not None:
        contest = await session.get(Contest, contest_id)
    else:
        contest = await session.scalar(
            select(Contest).where(Contest.slug == slug).order_by(Contest.id.desc()).limit(1)
        )
    if contest is None or not may_run_judging(user, contest):
        raise NotFoundError()
    return contest


def may_sign_in_with_slip(user: User | None, slip: JudgeSlip | None, now: datetime) -> bool:
    """A slip lets in the one active judge it was made for, until it expires or is revoked."""
    return (
        user is not None
        and slip is not None
        and slip.judge_id == user.id
        and user.is_active
        and user.role == Role.JUDGE
        and slip.revoked_at is None
        and slip.expires_at > now
    )


def may_follow_job(user: User, job: Job) -> bool:
    """Besides its contest's organisers, whoever started a job may follow it (a coordinator
    their own import); nobody else."""
    return job.created_by_id is not None and job.created_by_id == user.id


async def ensure_job_for_follower(session: AsyncSession, *, user: User, job_id: int) -> Job:
    """A job its contest's organisers may read, or its own starter (``may_follow_job``); to
    anyone else it does not exist."""
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFoundError()
    if user.role == Role.ADMIN and not await is_unit_organiser(session, user):
        return await _job_of_organisers(session, user=user, job=job)
    if not may_follow_job(user, job):
        raise NotFoundError()
    return job


async def ensure_job_for_organiser(session: AsyncSession, *, user: User, job_id: int) -> Job:
    """A background job is seen and retried by the organisers of its contest (every organiser
    for a job of the whole event), and by an organiser of some units when they started it
    (their units' assignment); anyone else is told it does not exist. A job about one entry
    (its files' processing) belongs to the entry's contest."""
    job = await session.get(Job, job_id)
    if job is None or user.role != Role.ADMIN:
        raise NotFoundError()
    if await is_unit_organiser(session, user):
        if not may_follow_job(user, job):
            raise NotFoundError()
        return job
    return await _job_of_organisers(session, user=user, job=job)


async def _job_of_organisers(session: AsyncSession, *, user: User, job: Job) -> Job:
    """``job`` if its contest (or the entry's, for a file's processing) is this organiser's of
    the whole event; NotFoundError otherwise."""
    contest_id = job.contest_id
    if contest_id is None and "entry_id" in job.params:
        contest_id = await session.scalar(
            select(Entry.contest_id).where(Entry.id == job.params["entry_id"])
        )
        if contest_id is None:
            raise NotFoundError()
    if contest_id is not None:
        await ensure_contest_for_organiser(session, user=user, contest_id=contest_id)
    return job
