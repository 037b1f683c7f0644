"""Judging: running assignment, recusal, scoring, progress, rounds.

Services take the caller's session and never commit: the route, command or job that calls them
owns the unit of work, so a refusal half-way leaves nothing written. Who may touch which
assignment is asked of ``contest.rules``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Select, case, exists, false, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from contest import audit, rules, tallies
from contest.db import BULK_BATCH, hold_write_lock, insert_rows, utcnow
from contest.errors import InvalidError
from contest.events.services import contest_parts
from contest.i18n import gettext
from contest.models import (
    Asset,
    Assignment,
    AssignmentStatus,
    Conflict,
    Contest,
    Criterion,
    Entrant,
    Entry,
    EntryStatus,
    Role,
    Round,
    RoundKind,
    RoundStatus,
    Score,
    Unit,
    User,
    contest_judges,
    round_entries,
)
from contest.pagination import Page, PageRequest, paginate, where_given
from contest.progress import Progress, no_progress
from contest.rules import WHOLE_EVENT, OrganiserScope
from judging.assignment import AssignmentProblem, assign
from judging.interfaces import (
    DISAGREEMENT_SHARE,
    AssignmentReport,
    ContestNotJudgeableError,
    ContestProgress,
    JudgeProgress,
    ReassignRefusedError,
    RoundClosedError,
    ScoreInvalidError,
)
from judging.scoring import (
    EntryScore,
    JudgeTotal,
    PointsError,
    RubricRow,
    aggregate,
    check_points,
    rank,
    rubric_total,
    weighted_total,
)

ACTIVE = (AssignmentStatus.ASSIGNED, AssignmentStatus.DRAFT, AssignmentStatus.SUBMITTED)
UNFINISHED = (AssignmentStatus.ASSIGNED, AssignmentStatus.DRAFT)
MAX_SHORTLIST = 10_000
# The judging page names this many disagreements; the entries list filters all of them.
FLAGGED_ON_PROGRESS = 50
# The reassignment picker suggests this many judges at a time.
JUDGE_PICKER_SIZE = 20


# --- rounds -----------------------------------------------------------------------------------


async def current_round(session: AsyncSession, *, contest_id: int) -> Round | None:
    found: Round | None = await session.scalar(
        select(Round).where(Round.contest_id == contest_id).order_by(Round.number.desc()).limit(1)
    )
    return found


async def _round_for_assignment(session: AsyncSession, contest: Contest) -> Round:
    """The open round, locked until the caller's transaction ends: runs of one round take
    turns (a province's and the whole event's, say), so that each reads what the one before
    stored and no entry gets more judges than it needs."""
    round_ = await session.scalar(
        select(Round)
        .where(Round.contest_id == contest.id)
        .order_by(Round.number.desc())
        .limit(1)
        .with_for_update()
    )
    if round_ is None:
        round_ = Round(contest_id=contest.id, number=1, status=RoundStatus.OPEN)
        session.add(round_)
        await session.flush()
    if round_.status != RoundStatus.OPEN:
        raise RoundClosedError()
    return round_


def _in_round(query: Select[*tuple[Any, ...]], round_: Round) -> Select[*tuple[Any, ...]]:
    """The query (over Entry) narrowed to the entries this round judges."""
    query = query.where(
        Entry.contest_id == round_.contest_id, Entry.status == EntryStatus.SUBMITTED
    )
    if round_.number > 1:
        query = query.join(round_entries, round_entries.c.entry_id == Entry.id).where(
            round_entries.c.round_id == round_.id
        )
    return query


async def _int_array(
    session: AsyncSession, query: Select[*tuple[Any, ...]], width: int
) -> np.ndarray:
    """A query's integer columns as one array, streamed in batches: at national size a list
    of row objects would take gigabytes where the array takes 8 bytes a value."""
    chunks = [np.empty((0, width), dtype=np.int64)]
    # On the Core connection: the ORM's row processing would double the time of the read.
    connection = await session.connection()
    result = await connection.stream(query.execution_options(yield_per=BULK_BATCH))
    async for partition in result.partitions():
        chunks.append(np.array([tuple(row) for row in partition], dtype=np.int64))
    return np.concatenate(chunks).reshape(-1, width)


async def _subtrees(session: AsyncSession, event_id: int) -> dict[int, list[int]]:
    """Each unit with every unit below it (a school with its classes)."""
    rows = (
        await session.execute(select(Unit.id, Unit.parent_id).where(Unit.event_id == event_id))
    ).all()
    children: dict[int | None, list[int]] = defaultdict(list)
    for unit_id, parent_id in rows:
        children[parent_id].append(unit_id)
    result: dict[int, list[int]] = {}
    for unit_id, _parent in rows:
        stack, seen = [unit_id], []
        while stack:
            current = stack.pop()
            seen.append(current)
            stack.extend(children.get(current, []))
        result[unit_id] = seen
    return result


@dataclass
class _Judges:
    ids: list[int]
    capacity: list[int]
    names: dict[int, str]


def _active_judge_ids(contest_id: int, scope: OrganiserScope = WHOLE_EVENT) -> Select[int]:
    """The ids of the contest's active judges (an organiser of some units: their own judges),
    as a query to use inside another."""
    query = (
        select(User.id)
        .join(contest_judges, contest_judges.c.user_id == User.id)
        .where(contest_judges.c.contest_id == contest_id, User.is_active)
    )
    return query.where(rules.judges_in_scope(scope)) if scope.for_units else query


async def _contest_judges(session: AsyncSession, contest_id: int, scope: OrganiserScope) -> _Judges:
    rows = (
        await session.execute(
            _active_judge_ids(contest_id, scope)
            .add_columns(User.name, contest_judges.c.capacity)
            .order_by(User.id)
        )
    ).all()
    return _Judges(
        ids=[r[0] for r in rows],
        capacity=[-1 if r[2] is None else int(r[2]) for r in rows],
        names={r[0]: r[1] for r in rows},
    )


async def contest_judges_of(session: AsyncSession, *, contest_id: int) -> list[User]:
    """The contest's active judges, by name."""
    return list(
        (
            await session.scalars(
                select(User)
                .join(contest_judges, contest_judges.c.user_id == User.id)
                .where(contest_judges.c.contest_id == contest_id, User.is_active)
                .order_by(User.name, User.id)
            )
        ).all()
    )


async def _problem(
    session: AsyncSession,
    contest: Contest,
    round_: Round,
    *,
    k: int,
    only_entries: Iterable[int] | None = None,
    seed: int,
    scope: OrganiserScope = WHOLE_EVENT,
) -> tuple[AssignmentProblem, int]:
    """The round's assignment as the algorithm reads it: for an organiser of some units, only
    the entries of their units and their own judges (every other entry and judge stays out
    of it, and so untouched)."""

    # Everything that grows with the entries is read as arrays straight from the query, and
    # narrowed in SQL: no list of ids ever goes back to the database as parameters.
    def in_round(query: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
        query = _in_round(query, round_)
        if only_entries is not None:
            query = query.where(Entry.id.in_(list(only_entries)))
        if scope.for_units:
            query = query.where(rules.entries_in_scope(scope))
        return query

    entries = await _int_array(
        session,
        in_round(
            select(Entry.id, func.coalesce(Entrant.unit_id, -1))
            .join(Entrant, Entrant.id == Entry.entrant_id)
            .order_by(Entry.id)
        ),
        2,
    )
    judges = await _contest_judges(session, contest.id, scope)
    judge_ids = _active_judge_ids(contest.id, scope)
    subtrees = await _subtrees(session, contest.event_id)

    # rules.may_judge_entry as pairs the algorithm reads in bulk: a conflict with a unit is one
    # with every unit below it, a conflict with an entrant one with each of their entries.
    unit_pairs: set[tuple[int, int]] = set()
    conflicts = await rules.judge_conflicts(session, judge_ids=judge_ids)
    for judge_id, conflict in conflicts.items():
        for unit_id in conflict.units:
            unit_pairs.update((judge_id, u) for u in subtrees.get(unit_id, [unit_id]))
    entrant_pairs = await _int_array(
        session,
        in_round(
            select(Conflict.judge_id, Entry.id)
            .join(Entry, Entry.entrant_id == Conflict.entrant_id)
            .where(Conflict.judge_id.in_(judge_ids))
        ),
        2,
    )
    this_round = select(Assignment.entry_id, Assignment.judge_id).where(
        Assignment.round_id == round_.id
    )
    recused_pairs = select(Assignment.judge_id, Assignment.entry_id).where(
        Assignment.round_id == round_.id, Assignment.status == AssignmentStatus.RECUSED
    )
    if scope.for_units:
        # What the scope's entries already have (from any judge) and what the scope's judges
        # already carry (of any entry: their loads and capacities count it).
        in_scope = select(Entry.id).where(
            Entry.contest_id == contest.id, rules.entries_in_scope(scope)
        )
        this_round = this_round.where(
            Assignment.entry_id.in_(in_scope) | Assignment.judge_id.in_(judge_ids)
        )
        recused_pairs = recused_pairs.where(Assignment.entry_id.in_(in_scope))
    # A judge who stepped back from an entry is never given it again.
    recused = await _int_array(session, recused_pairs, 2)
    existing = await _int_array(
        session, this_round.where(Assignment.status != AssignmentStatus.RECUSED), 2
    )
    entry_pairs = np.concatenate([entrant_pairs, recused])
    problem = AssignmentProblem(
        entry_ids=np.ascontiguousarray(entries[:, 0]),
        entry_units=np.ascontiguousarray(entries[:, 1]),
        judge_ids=np.array(judges.ids, dtype=np.int64),
        judge_capacity=np.array(judges.capacity, dtype=np.int64),
        k=k,
        unit_conflicts=np.array(sorted(unit_pairs), dtype=np.int64).reshape(-1, 2),
        entry_conflicts=np.unique(entry_pairs, axis=0) if len(entry_pairs) else entry_pairs,
        existing=existing,
        seed=seed,
    )
    return problem, len(judges.ids)


async def _insert_assignments(
    session: AsyncSession, round_: Round, pairs: np.ndarray, progress: Progress = no_progress
) -> int:
    now = utcnow()

    def rows() -> Iterator[tuple[object, ...]]:
        # A slice at a time: Python tuples of every pair at once would take gigabytes.
        for start in range(0, len(pairs), BULK_BATCH):
            for entry_id, judge_id in pairs[start : start + BULK_BATCH].tolist():
                yield (round_.id, entry_id, judge_id, AssignmentStatus.ASSIGNED.value, now)

    return await insert_rows(
        session,
        Assignment,
        ("round_id", "entry_id", "judge_id", "status", "created_at"),
        rows(),
        total=len(pairs),
        progress=progress,
    )


async def run_assignment(
    session: AsyncSession,
    *,
    contest_id: int,
    actor: User | None,
    seed: int | None = None,
    progress: Progress = no_progress,
    scope: OrganiserScope = WHOLE_EVENT,
) -> AssignmentReport:
    """Give every entry of the open round its K judges; a rerun only fills gaps (whatever is
    stored of an earlier run counts as assigned, and the unique (round, entry, judge) keeps a
    pair from being stored twice). ``progress`` follows the new assignments being stored.
    For an organiser of some units (``scope``): only their units' entries, only to their own
    judges; every other entry and assignment is left as it is."""
    await hold_write_lock(session)
    contest = await session.get(Contest, contest_id)
    if contest is None:
        raise ContestNotJudgeableError()
    round_ = await _round_for_assignment(session, contest)
    problem, judge_count = await _problem(
        session,
        contest,
        round_,
        k=contest.judges_per_entry,
        seed=seed if seed is not None else contest.id * 1000 + round_.number,
        scope=scope,
    )
    result = assign(problem)
    added = await _insert_assignments(session, round_, result.new_pairs, progress)
    report = AssignmentReport(
        round_number=round_.number,
        entries=len(problem.entry_ids),
        judges=judge_count,
        new_assignments=added,
        shortfalls={s.entry_id: (s.missing, s.reason, s.eligible) for s in result.shortfalls},
    )
    audit.record(
        session,
        "assignment_run",
        contest,
        actor=actor,
        after={
            "round": round_.number,
            "new_assignments": added,
            "entries_short": len(report.shortfalls),
            **rules.job_params_of_scope(scope),
        },
    )
    return report


async def add_judge(
    session: AsyncSession,
    *,
    contest_id: int,
    entry_id: int,
    actor: User | None,
    scope: OrganiserScope = WHOLE_EVENT,
) -> int:
    """One more judge for one entry (after a disagreement); returns how many were added. An
    organiser of some units adds one of their own judges to an entry of their units (any
    other entry: NotFoundError)."""
    contest = await session.get(Contest, contest_id)
    if contest is None:
        raise ContestNotJudgeableError()
    await rules.ensure_entry_in_scope(session, scope, entry_id=entry_id)
    round_ = await _round_for_assignment(session, contest)
    current = await session.scalar(
        select(func.count())
        .select_from(Assignment)
        .where(
            Assignment.round_id == round_.id,
            Assignment.entry_id == entry_id,
            Assignment.status.in_(ACTIVE),
        )
    )
    problem, _ = await _problem(
        session,
        contest,
        round_,
        k=int(current or 0) + 1,
        only_entries=[entry_id],
        seed=contest.id * 1000 + round_.number + entry_id,
        scope=scope,
    )
    added = await _insert_assignments(session, round_, assign(problem).new_pairs)
    audit.record(
        session,
        action="judge_added",
        object_type="entry",
        object_id=entry_id,
        actor=actor,
        after={"added": added},
    )
    return added


# --- the judge's side -------------------------------------------------------------------------


@dataclass
class QueueItem:
    assignment_id: int
    entry_id: int
    contest_title: str
    entry_title: str
    status: AssignmentStatus
    total: float | None


async def judge_queue(session: AsyncSession, *, judge: User) -> dict[str, list[QueueItem]]:
    rows = (
        await session.execute(
            select(Assignment, Entry.title, Contest.title, Score.total)
            .join(Entry, Entry.id == Assignment.entry_id)
            .join(Contest, Contest.id == Entry.contest_id)
            .outerjoin(Score, Score.assignment_id == Assignment.id)
            .where(
                Assignment.judge_id == judge.id,
                Assignment.status.in_(ACTIVE),
                Entry.status == EntryStatus.SUBMITTED,
            )
            .order_by(Contest.position, Assignment.id)
        )
    ).all()
    queue: dict[str, list[QueueItem]] = {"todo": [], "drafts": [], "done": []}
    for assignment, entry_title, contest_title, total in rows:
        item = QueueItem(
            assignment.id, assignment.entry_id, contest_title, entry_title, assignment.status, total
        )
        key = {
            AssignmentStatus.ASSIGNED: "todo",
            AssignmentStatus.DRAFT: "drafts",
            AssignmentStatus.SUBMITTED: "done",
        }[assignment.status]
        queue[key].append(item)
    return queue


@dataclass
class JudgeView:
    """What a judge may see of an assigned entry: the work, never who made it."""

    assignment: Assignment
    round: Round
    contest: Contest
    entry: Entry
    criteria: list[Criterion]
    score: Score | None
    assets: list[Asset]
    next_assignment_id: int | None


async def contest_criteria(session: AsyncSession, *, contest_id: int) -> list[Criterion]:
    """The contest's rubric, in the organisers' order."""
    return await contest_parts(session, Criterion, contest_id=contest_id)


async def entry_assets(session: AsyncSession, *, entry_id: int) -> list[Asset]:
    """The entry's files, in the order they were stored."""
    return list(
        (
            await session.scalars(
                select(Asset).where(Asset.entry_id == entry_id).order_by(Asset.id)
            )
        ).all()
    )


async def judge_view(session: AsyncSession, *, assignment_id: int, judge: User) -> JudgeView:
    """The assignment as its judge sees it; contest.rules' NotFoundError when it is not theirs."""
    assignment, entry, round_ = await rules.ensure_judge_assignment(
        session, assignment_id=assignment_id, judge=judge
    )
    contest = await session.get(Contest, entry.contest_id)
    assert contest is not None
    criteria = await contest_criteria(session, contest_id=contest.id)
    score = await session.scalar(select(Score).where(Score.assignment_id == assignment.id))
    assets = await entry_assets(session, entry_id=entry.id)
    next_id = await session.scalar(
        select(Assignment.id)
        .join(Entry, Entry.id == Assignment.entry_id)
        .where(
            Assignment.judge_id == judge.id,
            Assignment.id != assignment.id,
            Assignment.status.in_((AssignmentStatus.ASSIGNED, AssignmentStatus.DRAFT)),
            Entry.status == EntryStatus.SUBMITTED,
        )
        .order_by(Assignment.id)
        .limit(1)
    )
    return JudgeView(assignment, round_, contest, entry, criteria, score, assets, next_id)


def rubric_of(criteria: Sequence[Criterion]) -> list[RubricRow]:
    return [RubricRow(c.key, c.max_points, c.weight) for c in criteria]


def checked_points(
    rubric: Sequence[RubricRow], points: Mapping[str, object], *, complete: bool
) -> dict[str, float]:
    """judging.scoring.check_points, its refusal as the visitor reads it (ScoreInvalidError)."""
    try:
        return check_points(rubric, points, complete=complete)
    except PointsError as exc:
        raise ScoreInvalidError(exc.problems) from None


def _audited_score(score: Score, assignment: Assignment) -> dict[str, Any]:
    """What the audit log keeps of a score, before a save and after it."""
    return {
        "points": score.points,
        "total": score.total,
        "comment": score.comment_to_organizers,
        "feedback": score.feedback_to_entrant,
        "status": assignment.status.value,
        "entered_by": score.entered_by_id,
    }


async def save_score(
    session: AsyncSession,
    *,
    assignment_id: int,
    judge: User,
    points: Mapping[str, object],
    comment: str,
    feedback: str,
    submit: bool,
    entered_by: User | None = None,
) -> Score:
    """Save a draft (any subset of criteria) or submit (all criteria); audited before → after.
    ``entered_by``: the clerk who typed the judge's paper sheet in, kept on the score and as
    the audit's actor.

    Raises contest.errors.NotFoundError (not the judge's), RoundClosedError or
    ScoreInvalidError (its fields say which criteria).
    """
    view = await judge_view(session, assignment_id=assignment_id, judge=judge)
    if view.round.status != RoundStatus.OPEN:
        raise RoundClosedError()
    rubric = rubric_of(view.criteria)
    clean = checked_points(rubric, points, complete=submit)
    score = view.score
    before = _audited_score(score, view.assignment) if score else None
    if score is None:
        score = Score(assignment_id=view.assignment.id)
        session.add(score)
    score.points = clean
    score.total = weighted_total(rubric, clean) if submit else None
    score.comment_to_organizers = comment
    score.feedback_to_entrant = feedback
    score.submitted_at = utcnow() if submit else None
    score.entered_by_id = entered_by.id if entered_by is not None else None
    view.assignment.status = AssignmentStatus.SUBMITTED if submit else AssignmentStatus.DRAFT
    await session.flush()
    after = _audited_score(score, view.assignment)
    if before != after:
        audit.record(
            session,
            action="score_submitted" if submit else "score_saved",
            object_type="assignment",
            object_id=view.assignment.id,
            actor=entered_by or judge,
            before=before,
            after=after,
        )
    return score


async def recuse(session: AsyncSession, *, assignment_id: int, judge: User, reason: str) -> int:
    """The judge steps back from an entry; it goes to another judge (of the entry's province,
    where the province has organisers of its own: ``rules.entry_organisers_scope``). Returns
    judges added."""
    view = await judge_view(session, assignment_id=assignment_id, judge=judge)
    if view.round.status != RoundStatus.OPEN:
        raise RoundClosedError()
    view.assignment.status = AssignmentStatus.RECUSED
    view.assignment.recusal_reason = reason
    await session.flush()
    audit.record(
        session,
        "recused",
        view.assignment,
        actor=judge,
        after={"reason": reason},
    )
    problem, _ = await _problem(
        session,
        view.contest,
        view.round,
        k=view.contest.judges_per_entry,
        only_entries=[view.entry.id],
        seed=view.contest.id * 1000 + view.round.number + view.assignment.id,
        # A province's entry goes to another of the province's judges.
        scope=await rules.entry_organisers_scope(session, entry_id=view.entry.id),
    )
    return await _insert_assignments(session, view.round, assign(problem).new_pairs)


# --- the organiser's side ---------------------------------------------------------------------


def judges_disagree(round_id: int, maximum: float) -> ColumnElement[bool]:
    """Whether the enclosing query's entry has judges' submitted totals in the round further
    apart than DISAGREEMENT_SHARE of the rubric's maximum (judging.scoring.spread, in SQL).
    Asked entry by entry (a correlated EXISTS), so that a page of them stops early."""
    return exists(
        select(Assignment.entry_id)
        .join(Score, Score.assignment_id == Assignment.id)
        .where(
            Assignment.round_id == round_id,
            Assignment.entry_id == Entry.id,
            Assignment.status == AssignmentStatus.SUBMITTED,
            Score.total.is_not(None),
        )
        .group_by(Assignment.entry_id)
        .having(
            func.count(Score.total) > 1,
            func.max(Score.total) - func.min(Score.total) > DISAGREEMENT_SHARE * maximum,
        )
    )


async def rubric_maximum(session: AsyncSession, *, contest_id: int) -> float:
    return rubric_total(rubric_of(await contest_criteria(session, contest_id=contest_id)))


async def _entry_count(
    session: AsyncSession, contest_id: int, round_: Round | None, scope: OrganiserScope
) -> int:
    """The entries the round judges: every submitted entry (a tally; an organiser of some
    units', the tally by unit summed over theirs), or a later round's shortlist (at most
    MAX_SHORTLIST a group, counted)."""
    if round_ is not None and round_.number > 1:
        query = _in_round(select(func.count(Entry.id)), round_)
        return int(await session.scalar(query.where(rules.entries_in_scope(scope))) or 0)
    if scope.for_units:
        return await tallies.unit_entry_count(
            session, contest_id=contest_id, units=scope.units, status=EntryStatus.SUBMITTED
        )
    counts = await tallies.entry_counts(
        session, contest_ids=[contest_id], status=EntryStatus.SUBMITTED
    )
    return counts.get(contest_id, 0)


async def _round_totals(
    session: AsyncSession,
    round_: Round,
    judge_ids: Sequence[int] | None = None,
    scope: OrganiserScope = WHOLE_EVENT,
) -> Counter[tuple[int | None, AssignmentStatus]]:
    """The round's active assignments of submitted entries, counted by (judge, status) for
    these judges (from the index of each judge's work), or by (None, status) for the whole
    round (its tally; an organiser of some units', the tally by unit summed over theirs);
    less those of entries withdrawn or disqualified since (few, found from them; none to
    look for when the contest's tallies have none)."""
    active = (Assignment.round_id == round_.id) & Assignment.status.in_(ACTIVE)
    keys: list[Any] = [Assignment.status]
    if judge_ids is not None:
        active = active & Assignment.judge_id.in_(list(judge_ids))
        keys = [Assignment.judge_id, Assignment.status]

    async def counted(*where: ColumnElement[bool]) -> Counter[tuple[int | None, AssignmentStatus]]:
        query = select(*keys, func.count()).where(active, *where).group_by(*keys)
        if judge_ids is not None and scope.for_units:
            # The judges' work (a few hundred rows a judge) asked row by row: the entry's
            # unit, by key, in a set of the scope's units made once (IS TRUE keeps it a
            # condition: as a join the planner would gather the whole entries table).
            unit = (
                select(Entrant.unit_id)
                .join(Entry, Entry.entrant_id == Entrant.id)
                .where(Entry.id == Assignment.entry_id)
                .scalar_subquery()
            )
            query = query.where(unit.in_(scope.units).is_(true()))
        found: Counter[tuple[int | None, AssignmentStatus]] = Counter()
        for *key, count in await session.execute(query):
            found[(key[0], key[1]) if judge_ids is not None else (None, key[0])] += count
        return found

    counts: Counter[tuple[int | None, AssignmentStatus]] = Counter()
    if judge_ids is None:
        units = scope.units if scope.for_units else None
        tallied = await tallies.round_counts(
            session, round_id=round_.id, statuses=ACTIVE, units=units
        )
        counts.update({(None, status): count for status, count in tallied.items()})
    else:
        counts = await counted()
    others = [s for s in EntryStatus if s != EntryStatus.SUBMITTED]
    withdrawn = 0
    for status in others:  # the contest's tallies: a few rows
        found = await tallies.entry_counts(session, contest_ids=[round_.contest_id], status=status)
        withdrawn += found.get(round_.contest_id, 0)
    if not withdrawn:
        return counts
    not_submitted = select(Entry.id).where(
        Entry.contest_id == round_.contest_id, Entry.status.in_(others)
    )
    if scope.for_units:
        not_submitted = scope.narrow(
            not_submitted.join(Entrant, Entrant.id == Entry.entrant_id), Entrant.unit_id
        )
    counts.subtract(await counted(Assignment.entry_id.in_(not_submitted)))
    return counts


def _entrant_unit_in_scope(scope: OrganiserScope) -> ColumnElement[bool]:
    """For a query over entries read a few at a time (a page): whether the entry's entrant's
    unit, read by key, is in a set of the scope's units made once. As a condition of its
    own it is a join, for which the planner gathers every entrant of the scope or scans the
    scope's units again for every entry; inside a CASE or under IS TRUE it stays this."""
    unit = select(Entrant.unit_id).where(Entrant.id == Entry.entrant_id).scalar_subquery()
    return unit.in_(scope.units)


def _progress_judges(
    contest_id: int, round_: Round | None, scope: OrganiserScope
) -> Select[int, str]:
    """The contest's active judges and any judge with work in the round, by name: read in name
    order from the judges' index, each asked whether they belong (an index probe or two), so
    that a page stops after its rows. An organiser of some units: their own judges."""

    def probe(*where: ColumnElement[bool]) -> ColumnElement[bool]:
        # A scalar subquery with LIMIT is probed row by row; an EXISTS would be planned as a
        # hash of every member, built at each request.
        return select(literal(1)).where(*where).limit(1).scalar_subquery().is_not(None)

    member = probe(contest_judges.c.contest_id == contest_id, contest_judges.c.user_id == User.id)
    chosen = member & User.is_active
    if round_ is not None:
        working = probe(
            Assignment.judge_id == User.id,
            Assignment.round_id == round_.id,
            Assignment.status.in_(ACTIVE),
        )
        chosen = chosen | working
    if scope.for_units:
        chosen = chosen & rules.judges_in_scope(scope)
    return (
        select(User.id, User.name)
        .where(User.role == Role.JUDGE, chosen)
        .order_by(User.role, User.name, User.id)
    )


async def contest_progress(
    session: AsyncSession,
    *,
    contest_id: int,
    now: datetime | None = None,
    judges_page: PageRequest | None = None,
    scope: OrganiserScope = WHOLE_EVENT,
) -> ContestProgress:
    """The current round's progress from counts in the database: totals, one page of judges
    (``judges_page``, by name) and the first page of entries whose judges disagree. For an
    organiser of some units (``scope``): their units' entries and their own judges."""
    now = now or utcnow()
    contest = await session.get(Contest, contest_id)
    if contest is None:
        raise ContestNotJudgeableError()
    round_ = await current_round(session, contest_id=contest_id)
    page = await paginate(
        session,
        _progress_judges(contest_id, round_, scope),
        judges_page or PageRequest(),
        counted=False,
    )
    per_judge = {j: JudgeProgress(judge_id=j, name=name) for j, name in page.items}
    judges = page.replace(list(per_judge.values()))
    entries = await _entry_count(session, contest_id, round_, scope)
    if round_ is None:
        return ContestProgress(None, False, entries, 0, 0, judges.items, [], judges)
    late = round_.closes_at is not None and now > round_.closes_at
    totals = await _round_totals(session, round_, scope=scope)
    judged = await _round_totals(session, round_, list(per_judge), scope)
    for (judge_id, status), count in judged.items():
        progress = per_judge[judge_id or 0]
        progress.assigned += count
        if status == AssignmentStatus.SUBMITTED:
            progress.done += count
        elif status == AssignmentStatus.DRAFT:
            progress.drafts += count
    for progress in per_judge.values():
        progress.overdue = progress.assigned - progress.done if late else 0
    disagree = judges_disagree(round_.id, await rubric_maximum(session, contest_id=contest_id))
    if scope.for_units:
        # Entries are read in order until a page of them disagree: whether one is the scope's
        # is asked first, and only then whether its judges disagree (a lookup of its scores).
        # A CASE keeps that order; as two conditions the planner would ask the costlier first.
        disagree = case((_entrant_unit_in_scope(scope), disagree), else_=false())
    flagged_query = select(Entry.id).where(
        Entry.contest_id == contest_id, Entry.status == EntryStatus.SUBMITTED, disagree
    )
    flagged = list(
        await session.scalars(flagged_query.order_by(Entry.id).limit(FLAGGED_ON_PROGRESS + 1))
    )
    return ContestProgress(
        round_.number,
        round_.status == RoundStatus.OPEN,
        entries,
        totals.total(),
        totals[(None, AssignmentStatus.SUBMITTED)],
        judges.items,
        await _judges_totals(session, round_.id, flagged[:FLAGGED_ON_PROGRESS]),
        judges,
        len(flagged) > FLAGGED_ON_PROGRESS,
    )


async def _judges_totals(
    session: AsyncSession, round_id: int, entry_ids: Sequence[int]
) -> list[tuple[int, list[float]]]:
    """(entry, its judges' submitted totals, lowest first) for a page of entries."""
    if not entry_ids:
        return []
    rows = await session.execute(
        select(Assignment.entry_id, Score.total)
        .join(Score, Score.assignment_id == Assignment.id)
        .where(
            Assignment.round_id == round_id,
            Assignment.status == AssignmentStatus.SUBMITTED,
            Assignment.entry_id.in_(list(entry_ids)),
            Score.total.is_not(None),
        )
    )
    totals: dict[int, list[float]] = {entry_id: [] for entry_id in entry_ids}
    for entry_id, total in rows.all():
        totals[entry_id].append(float(total or 0.0))
    return [(entry_id, sorted(values)) for entry_id, values in totals.items()]


async def close_round(session: AsyncSession, *, contest_id: int, actor: User | None) -> Round:
    round_ = await current_round(session, contest_id=contest_id)
    if round_ is None or round_.status != RoundStatus.OPEN:
        raise RoundClosedError()
    round_.status = RoundStatus.CLOSED
    audit.record(
        session,
        action="round_closed",
        object_type="contest",
        object_id=contest_id,
        actor=actor,
        before={"round": round_.number, "status": "open"},
        after={"round": round_.number, "status": "closed"},
    )
    await session.flush()
    return round_


async def reassign(
    session: AsyncSession,
    *,
    assignment_id: int,
    judge_id: int,
    actor: User | None,
    scope: OrganiserScope = WHOLE_EVENT,
) -> int:
    """Move an unfinished assignment to another eligible judge of the contest (the organiser's
    decision); returns the contest's id. Raises ReassignRefusedError, and nothing changes,
    when the assignment is finished or missing or the judge may not judge the entry. An
    organiser of some units (``scope``) moves the work on their units' entries only (any
    other: NotFoundError) and only to their own judges (another is refused as one who is not
    the contest's judge)."""
    await rules.ensure_assignment_in_scope(session, scope, assignment_id=assignment_id)
    assignment = await session.get(Assignment, assignment_id)
    if assignment is None or assignment.status not in (
        AssignmentStatus.ASSIGNED,
        AssignmentStatus.DRAFT,
    ):
        raise ReassignRefusedError()
    round_ = await session.get(Round, assignment.round_id)
    assert round_ is not None
    is_judge = await session.scalar(
        _active_judge_ids(round_.contest_id, scope).where(User.id == judge_id)
    )
    contest = await session.get(Contest, round_.contest_id)
    entry = await session.get(Entry, assignment.entry_id)
    assert contest is not None and entry is not None
    entrant = await session.get(Entrant, entry.entrant_id)
    assert entrant is not None
    conflicts = await rules.judge_conflicts(session, judge_ids=[judge_id])
    if not rules.may_judge_entry(
        conflicts[judge_id],
        entry_units=await unit_chain(session, entrant.unit_id),
        entrant_id=entrant.id,
    ):
        raise ReassignRefusedError()
    taken = await session.scalar(
        select(Assignment.id).where(
            Assignment.round_id == round_.id,
            Assignment.entry_id == assignment.entry_id,
            Assignment.judge_id == judge_id,
        )
    )
    if is_judge is None or taken is not None:
        raise ReassignRefusedError()
    before = {"judge": assignment.judge_id}
    old_score = await session.scalar(select(Score).where(Score.assignment_id == assignment.id))
    if old_score is not None:
        await session.delete(old_score)
    assignment.judge_id = judge_id
    assignment.status = AssignmentStatus.ASSIGNED
    audit.record(
        session,
        "reassigned",
        assignment,
        actor=actor,
        before=before,
        after={"judge": judge_id},
    )
    await session.flush()
    return contest.id


async def unit_chain(session: AsyncSession, unit_id: int | None) -> set[int]:
    """The unit and every unit above it: what a conflict with any unit covers of an entrant."""
    chain: set[int] = set()
    while unit_id is not None and unit_id not in chain:
        chain.add(unit_id)
        unit_id = await session.scalar(select(Unit.parent_id).where(Unit.id == unit_id))
    return chain


# --- later rounds -----------------------------------------------------------------------------


def round_totals(round_: Round, criteria: Sequence[Criterion]) -> Select[*tuple[Any, ...]]:
    """Every submitted total of the round's entries still in the contest, one row per score:
    the assignment, entry, entry's division, judge, total and points on the first criterion
    (what the aggregation reads; see judging.scoring)."""
    # The first criterion's points are read out of the JSON by the database: decoding every
    # score's points in Python costs more than the rest of the aggregation.
    first = (
        func.coalesce(Score.points[criteria[0].key].as_float(), 0.0) if criteria else literal(0.0)
    )
    return (
        select(
            Assignment.id,
            Assignment.entry_id,
            Entry.division_id,
            Assignment.judge_id,
            Score.total,
            first,
        )
        .join(Score, Score.assignment_id == Assignment.id)
        .join(Entry, Entry.id == Assignment.entry_id)
        .where(
            Assignment.round_id == round_.id,
            Assignment.status == AssignmentStatus.SUBMITTED,
            Entry.status == EntryStatus.SUBMITTED,
            Score.total.is_not(None),
        )
    )


async def round_scores(
    session: AsyncSession, *, contest: Contest, round_: Round
) -> dict[int, EntryScore]:
    """The round's aggregated score per entry, by the contest's method."""
    criteria = await contest_criteria(session, contest_id=contest.id)
    connection = await session.connection()
    result = await connection.stream(
        round_totals(round_, criteria).execution_options(yield_per=BULK_BATCH)
    )
    totals = [
        JudgeTotal(entry_id, judge_id, float(total), float(first_points))
        async for partition in result.partitions()
        for _id, entry_id, _division, judge_id, total, first_points in partition
    ]
    return aggregate(
        totals,
        method=contest.aggregation.value,
        max_total=rubric_total(rubric_of(criteria)),
    )


async def shortlist(
    session: AsyncSession,
    *,
    contest_id: int,
    top_per_division: int | None = None,
    per_unit: int | None = None,
    actor: User | None,
    kind: RoundKind = RoundKind.RUBRIC,
) -> Round:
    """Close the current round and open the next with a shortlist: the best N of each division,
    or the best N of each unit (the school → ward → district path). Ties at the cut go
    through together. The next round is scored on the rubric, or with ``kind`` comparative
    judged in pairs (``judging.comparing``). Raises InvalidError unless exactly one of the
    two is a count from 1 to MAX_SHORTLIST, ContestNotJudgeableError before a first round."""
    given = [v for v in (top_per_division, per_unit) if v is not None]
    if len(given) != 1 or not 1 <= given[0] <= MAX_SHORTLIST:
        raise InvalidError(gettext("Give a number of entries from 1 to 10,000."))
    contest = await session.get(Contest, contest_id)
    round_ = await current_round(session, contest_id=contest_id)
    if contest is None or round_ is None:
        raise ContestNotJudgeableError()
    if round_.status == RoundStatus.OPEN:
        await close_round(session, contest_id=contest_id, actor=actor)
    scores = await round_scores(session, contest=contest, round_=round_)
    groups: dict[object, list[EntryScore]] = defaultdict(list)
    grouping = Entry.division_id if top_per_division is not None else Entrant.unit_id
    rows = await session.stream(
        _in_round(
            select(Entry.id, grouping).join(Entrant, Entrant.id == Entry.entrant_id), round_
        ).execution_options(yield_per=BULK_BATCH)
    )
    async for partition in rows.partitions():
        for entry_id, key in partition:
            if entry_id in scores:
                groups[key].append(scores[entry_id])
    limit = top_per_division if top_per_division is not None else per_unit
    assert limit is not None
    chosen: list[int] = []
    for group in groups.values():
        ranked = rank(group)
        cut = ranked[limit - 1].rank if len(ranked) >= limit else None
        chosen.extend(r.entry_id for r in ranked if cut is None or r.rank <= cut)
    next_round = Round(
        contest_id=contest_id, number=round_.number + 1, status=RoundStatus.OPEN, kind=kind
    )
    session.add(next_round)
    await session.flush()
    await insert_rows(
        session,
        round_entries,
        ("round_id", "entry_id"),
        ((next_round.id, entry_id) for entry_id in sorted(chosen)),
        total=len(chosen),
    )
    audit.record(
        session,
        action="round_opened",
        object_type="contest",
        object_id=contest_id,
        actor=actor,
        after={
            "round": next_round.number,
            "shortlisted": len(chosen),
            "rule": {"top_per_division": top_per_division, "per_unit": per_unit},
            "kind": kind.value,
        },
    )
    return next_round


async def set_round_deadline(
    session: AsyncSession, *, contest_id: int, closes_at: datetime | None, actor: User | None
) -> Round:
    round_ = await current_round(session, contest_id=contest_id)
    if round_ is None or round_.status != RoundStatus.OPEN:
        raise RoundClosedError()
    before = round_.closes_at.isoformat() if round_.closes_at else None
    round_.closes_at = closes_at
    audit.record(
        session,
        action="round_deadline_set",
        object_type="contest",
        object_id=contest_id,
        actor=actor,
        before={"closes_at": before},
        after={"closes_at": closes_at.isoformat() if closes_at else None},
    )
    await session.flush()
    return round_


@dataclass
class UnfinishedAssignment:
    assignment_id: int
    entry_id: int
    receipt_code: str
    judge_id: int
    judge_name: str
    status: AssignmentStatus


async def unfinished_assignments(
    session: AsyncSession,
    *,
    contest_id: int,
    page: PageRequest | None = None,
    judge_id: int | None = None,
    receipt_code: str | None = None,
    scope: OrganiserScope = WHOLE_EVENT,
) -> Page[UnfinishedAssignment]:
    """The open round's unfinished work, a page at a time, oldest first, optionally of one
    judge or one entry (by receipt code); an organiser of some units', on their units'
    entries."""
    page = page or PageRequest()
    round_ = await current_round(session, contest_id=contest_id)
    if round_ is None or round_.status != RoundStatus.OPEN:
        return Page([], 1, page.size, 0)
    query = (
        select(
            Assignment.id,
            Assignment.entry_id,
            Entry.receipt_code,
            User.id,
            User.name,
            Assignment.status,
        )
        .join(User, User.id == Assignment.judge_id)
        .join(Entry, Entry.id == Assignment.entry_id)
        .where(
            Assignment.round_id == round_.id,
            Assignment.status.in_(UNFINISHED),
        )
        # The oldest first: read from the primary key, where by judge it would be sorted whole.
        .order_by(Assignment.id)
    )
    query = where_given(query, (Assignment.judge_id, judge_id), (Entry.receipt_code, receipt_code))
    if scope.for_units:
        # Read in order until a page is the scope's.
        query = query.where(_entrant_unit_in_scope(scope).is_(true()))
    total = None
    if receipt_code is None and judge_id is None:
        # The round's unfinished work is a tally (by unit for an organiser of some units); one
        # judge's is counted (a few hundred rows).
        units = scope.units if scope.for_units else None
        counts = await tallies.round_counts(
            session, round_id=round_.id, statuses=UNFINISHED, units=units
        )
        total = sum(counts.values())
    found = await paginate(session, query, page, total=total)
    return found.replace([UnfinishedAssignment(*row) for row in found.items])


async def search_judges(
    session: AsyncSession,
    *,
    contest_id: int,
    text: str,
    limit: int = JUDGE_PICKER_SIZE,
    scope: OrganiserScope = WHOLE_EVENT,
) -> list[User]:
    """The contest's active judges whose name or e-mail address contains ``text``, by name
    (an organiser of some units: their own judges)."""
    query = (
        select(User)
        .join(contest_judges, contest_judges.c.user_id == User.id)
        .where(contest_judges.c.contest_id == contest_id, User.is_active)
        .order_by(User.name, User.id)
        .limit(limit)
    )
    if scope.for_units:
        query = query.where(rules.judges_in_scope(scope))
    if text:
        query = query.where(named_like(text))
    return list((await session.scalars(query)).all())


def named_like(text: str) -> ColumnElement[bool]:
    """A user whose name or e-mail address contains ``text`` (any case, wildcards literal)."""
    return User.name.icontains(text, autoescape=True) | User.email.icontains(text, autoescape=True)


async def judge_id_by_email(
    session: AsyncSession, *, email: str, scope: OrganiserScope = WHOLE_EVENT
) -> int | None:
    """The judge an organiser names by e-mail address (the picker's plain-text answer); an
    organiser of some units names only their own judges (another is nobody to them)."""
    query = select(User.id).where(
        func.lower(User.email) == email.strip().lower(), User.role == Role.JUDGE
    )
    if scope.for_units:
        query = query.where(rules.judges_in_scope(scope))
    found: int | None = await session.scalar(query)
    return found
