"""A judge who does not show up: their unfinished work given to the other judges in one step.

Each unfinished assignment of theirs in the open round goes to the judge with the least work in
the round who may judge the entry (no conflict, not already on it), through the same
``services.reassign`` as one reassignment by hand, so each move is checked and audited alike.
What no judge may take stays with them and is counted.

Like every service, this takes the caller's session and never commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contest import rules
from contest.errors import ConflictError, NotFoundError
from contest.i18n import gettext
from contest.models import (
    Assignment,
    AssignmentStatus,
    Entrant,
    Entry,
    RoundStatus,
    User,
    contest_judges,
)
from judging import services
from judging.loads import LeastLoaded

UNFINISHED = (AssignmentStatus.ASSIGNED, AssignmentStatus.DRAFT)


@dataclass(frozen=True)
class HandOver:
    moved: int
    kept: int


def _free_for(
    conflicts: dict[int, rules.JudgeConflicts], units: set[int], entrant_id: int, taken: set[int]
) -> Callable[[int], bool]:
    """Who may take an entry: a judge not on it already and free of conflicts with it."""

    def free(judge: int) -> bool:
        return judge not in taken and rules.may_judge_entry(
            conflicts[judge], entry_units=units, entrant_id=entrant_id
        )

    return free


async def hand_over(
    session: AsyncSession, *, contest_id: int, judge_id: int, actor: User | None
) -> HandOver:
    round_ = await services.current_round(session, contest_id=contest_id)
    if round_ is None or round_.status != RoundStatus.OPEN:
        raise ConflictError(gettext("Judging of this round is closed."))
    named = await session.scalar(
        select(contest_judges.c.user_id).where(
            contest_judges.c.contest_id == contest_id, contest_judges.c.user_id == judge_id
        )
    )
    if named is None:
        raise NotFoundError(gettext("This judge is not a judge of this contest."))
    # The others who may take work: active judges of the contest (the one leaving may not be).
    judges = list(await session.scalars(services._active_judge_ids(contest_id)))
    others = [j for j in judges if j != judge_id]
    load_of = dict(
        (
            await session.execute(
                select(Assignment.judge_id, func.count())
                .where(
                    Assignment.round_id == round_.id,
                    Assignment.status != AssignmentStatus.RECUSED,
                )
                .group_by(Assignment.judge_id)
            )
        ).all()
    )
    work = (
        await session.execute(
            select(Assignment.id, Assignment.entry_id, Entrant.id, Entrant.unit_id)
            .join(Entry, Entry.id == Assignment.entry_id)
            .join(Entrant, Entrant.id == Entry.entrant_id)
            .where(
                Assignment.round_id == round_.id,
                Assignment.judge_id == judge_id,
                Assignment.status.in_(UNFINISHED),
            )
            .order_by(Assignment.id)
        )
    ).all()
    if not work:
        return HandOver(0, 0)
    on_entry: dict[int, set[int]] = {}
    for entry_id, other in (
        await session.execute(
            select(Assignment.entry_id, Assignment.judge_id).where(
                Assignment.round_id == round_.id,
                Assignment.entry_id.in_([w[1] for w in work]),
            )
        )
    ).all():
        on_entry.setdefault(entry_id, set()).add(other)
    conflicts = await rules.judge_conflicts(session, judge_ids=others)
    chains: dict[int | None, set[int]] = {}
    moved = kept = 0
    loads = LeastLoaded((j, int(load_of.get(j, 0))) for j in others)
    for assignment_id, entry_id, entrant_id, unit_id in work:
        if unit_id not in chains:
            chains[unit_id] = await services.unit_chain(session, unit_id)
        units, taken = chains[unit_id], on_entry.setdefault(entry_id, set())
        chosen = loads.take(_free_for(conflicts, units, entrant_id, taken))
        if chosen is None:
            kept += 1
            continue
        await services.reassign(session, assignment_id=assignment_id, judge_id=chosen, actor=actor)
        taken.add(chosen)
        moved += 1
    return HandOver(moved, kept)
