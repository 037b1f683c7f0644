"""A comparative final: the round's entries compared in pairs by the judges, ranked by a
Bradley-Terry fit (``judging.comparative`` holds the arithmetic).

The organiser opens it as a shortlist of the round before (``services.shortlist`` with the
comparative kind): the best N of each division go on. ``plan_round`` then fixes every pair in
advance, ``per_entry`` for each entry, most between entries close on the round before's
scores, each to a judge free of conflicts with both entries. A judge decides their pairs one
at a time (``decide``); the organiser reads the standing (``standing``): the ranking with each
entry's standard error, the scale's reliability and each judge's infit. Once every
pair is decided, the final ranks the shortlist in the results, or only breaks its ties
(``choose_results``; contest.results.compute does the ranking).

Like every service, these take the caller's session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contest import audit, rules
from contest.db import insert_rows, utcnow
from contest.errors import ConflictError, InvalidError
from contest.i18n import N_, gettext
from contest.models import (
    Asset,
    ComparativeResults,
    Comparison,
    Contest,
    Entrant,
    Entry,
    EntryStatus,
    Round,
    RoundKind,
    RoundStatus,
    Unit,
    User,
)
from judging import comparative
from judging.services import (
    MAX_SHORTLIST,
    _active_judge_ids,
    _in_round,
    current_round,
    entry_assets,
    round_scores,
)

# Comparisons per entry the organiser may ask for.
MIN_PER_ENTRY, MAX_PER_ENTRY = 2, 40
DEFAULT_PER_ENTRY = 10
# Shown in the standing: the strongest entries (the whole order is in the results).
STANDING_TOP = 50
INFIT_WARNING = comparative.INFIT_WARNING


class NotComparativeError(ConflictError):
    default_message = N_("The current round is not a comparative round.")


def _comparative_round(round_: Round | None) -> Round:
    if round_ is None or round_.kind != RoundKind.COMPARATIVE:
        raise NotComparativeError()
    return round_


async def _entry_units(session: AsyncSession, event_id: int) -> dict[int, set[int]]:
    """Each unit with every unit above it: a conflict with a school covers its classes."""
    rows = await session.execute(select(Unit.id, Unit.parent_id).where(Unit.event_id == event_id))
    parents: dict[int, int | None] = {unit_id: parent_id for unit_id, parent_id in rows.all()}
    chains: dict[int, set[int]] = {}
    for unit_id in parents:
        chain: set[int] = set()
        current: int | None = unit_id
        while current is not None and current not in chain:
            chain.add(current)
            current = parents.get(current)
        chains[unit_id] = chain
    return chains


async def scored_round(session: AsyncSession, *, final: Round) -> Round | None:
    """The rubric round a comparative final's shortlist was cut on: the last rubric round
    before it."""
    found: Round | None = await session.scalar(
        select(Round)
        .where(
            Round.contest_id == final.contest_id,
            Round.number < final.number,
            Round.kind == RoundKind.RUBRIC,
        )
        .order_by(Round.number.desc())
        .limit(1)
    )
    return found


async def plan_round(
    session: AsyncSession,
    *,
    contest_id: int,
    per_entry: int = DEFAULT_PER_ENTRY,
    actor: User | None,
    seed: int | None = None,
) -> int:
    """Fix the open comparative round's pairs and give them out; returns how many. Refused
    when the round is not comparative or not open, already planned, has fewer than two
    entries, or a pair has no judge free of conflicts."""
    if not MIN_PER_ENTRY <= per_entry <= MAX_PER_ENTRY:
        raise InvalidError(
            gettext(
                "Give %(low)s to %(high)s comparisons per entry.",
                low=MIN_PER_ENTRY,
                high=MAX_PER_ENTRY,
            )
        )
    contest = await session.get(Contest, contest_id)
    round_ = _comparative_round(await current_round(session, contest_id=contest_id))
    if contest is None or round_.status != RoundStatus.OPEN:
        raise ConflictError(gettext("Judging of this round is closed."))
    planned = await session.scalar(
        select(func.count()).select_from(Comparison).where(Comparison.round_id == round_.id)
    )
    if planned:
        raise ConflictError(gettext("The pairs of this round are already given out."))
    rows = (
        await session.execute(
            _in_round(
                select(Entry.id, Entrant.id, Entrant.unit_id).join(
                    Entrant, Entrant.id == Entry.entrant_id
                ),
                round_,
            ).order_by(Entry.id)
        )
    ).all()
    if len(rows) < 2:
        raise ConflictError(gettext("A comparative round needs at least two entries."))
    judge_ids = list(await session.scalars(_active_judge_ids(contest_id).order_by(User.id)))
    if not judge_ids:
        raise ConflictError(gettext("The contest has no judges yet."))
    conflicts = await rules.judge_conflicts(session, judge_ids=judge_ids)
    chains = await _entry_units(session, contest.event_id)
    owners = {entry_id: (entrant_id, unit_id) for entry_id, entrant_id, unit_id in rows}

    def may_judge(judge: int, entry: int) -> bool:
        entrant_id, unit_id = owners[entry]
        units = chains.get(unit_id, set()) if unit_id is not None else set()
        return rules.may_judge_entry(conflicts[judge], entry_units=units, entrant_id=entrant_id)

    # Pairs of near equals on the round before's scores tell the most (bench/fairness.py).
    before = await scored_round(session, final=round_)
    prior = (
        {
            entry_id: score.final
            for entry_id, score in (
                await round_scores(session, contest=contest, round_=before)
            ).items()
            if entry_id in owners
        }
        if before is not None
        else {}
    )
    pairs = comparative.plan_pairs(
        list(owners),
        per_entry=per_entry,
        seed=round_.id if seed is None else seed,
        prior=prior or None,
    )
    try:
        shared = comparative.share_pairs(pairs, judge_ids, may_judge=may_judge)
    except ValueError:
        raise ConflictError(
            gettext("Some pairs have no judge free of conflicts with both entries.")
        ) from None
    now = utcnow()
    await insert_rows(
        session,
        Comparison,
        ("round_id", "judge_id", "left_entry_id", "right_entry_id", "winner_entry_id",
         "decided_at", "created_at"),
        ((round_.id, judge, left, right, None, None, now) for judge, left, right in shared),
        total=len(shared),
    )  # fmt: skip
    audit.record(
        session,
        "comparisons_planned",
        round_,
        actor=actor,
        after={"pairs": len(shared), "per_entry": per_entry, "entries": len(owners)},
    )
    return len(shared)


# --- the judge's side ---------------------------------------------------------------------


@dataclass
class Side:
    entry: Entry
    assets: list[Asset]


@dataclass
class PairView:
    comparison: Comparison
    contest: Contest
    left: Side
    right: Side
    done: int
    total: int


async def _side(session: AsyncSession, entry_id: int) -> Side:
    entry = await session.get(Entry, entry_id)
    assert entry is not None
    return Side(entry, await entry_assets(session, entry_id=entry_id))


async def judge_counts(session: AsyncSession, *, judge: User) -> tuple[int, int]:
    """The judge's comparisons in open rounds: (decided, all)."""
    row = (
        await session.execute(
            select(func.count(Comparison.decided_at), func.count())
            .select_from(Comparison)
            .join(Round, Round.id == Comparison.round_id)
            .where(Comparison.judge_id == judge.id, Round.status == RoundStatus.OPEN)
        )
    ).one()
    return int(row[0]), int(row[1])


async def next_pair(session: AsyncSession, *, judge: User) -> PairView | None:
    """The judge's next pair to decide in an open round (both entries still in the contest),
    or None when they have decided all of theirs."""
    left_entry, right_entry = Entry.__table__.alias("l"), Entry.__table__.alias("r")
    comparison = await session.scalar(
        select(Comparison)
        .join(Round, Round.id == Comparison.round_id)
        .join(left_entry, left_entry.c.id == Comparison.left_entry_id)
        .join(right_entry, right_entry.c.id == Comparison.right_entry_id)
        .where(
            Comparison.judge_id == judge.id,
            Comparison.decided_at.is_(None),
            Round.status == RoundStatus.OPEN,
            left_entry.c.status == EntryStatus.SUBMITTED,
            right_entry.c.status == EntryStatus.SUBMITTED,
        )
        .order_by(Comparison.id)
        .limit(1)
    )
    if comparison is None:
        return None
    round_ = await session.get(Round, comparison.round_id)
    assert round_ is not None
    contest = await session.get(Contest, round_.contest_id)
    assert contest is not None
    done, total = await judge_counts(session, judge=judge)
    return PairView(
        comparison,
        contest,
        await _side(session, comparison.left_entry_id),
        await _side(session, comparison.right_entry_id),
        done,
        total,
    )


async def decide(
    session: AsyncSession, *, comparison_id: int, judge: User, winner_entry_id: int
) -> Comparison:
    """The judge's pick of the better entry of their pair. The same pick sent again is
    accepted as it stands; another pick after the first is refused (409), as is a pick of
    an entry outside the pair (422) or in a closed round (409)."""
    comparison, round_ = await rules.ensure_judge_comparison(
        session, comparison_id=comparison_id, judge=judge
    )
    if winner_entry_id not in (comparison.left_entry_id, comparison.right_entry_id):
        raise InvalidError(gettext("Choose one of the two entries shown."))
    if comparison.winner_entry_id is not None:
        if comparison.winner_entry_id == winner_entry_id:
            return comparison
        raise ConflictError(gettext("You have already chosen in this pair."))
    if round_.status != RoundStatus.OPEN:
        raise ConflictError(gettext("Judging of this round is closed."))
    comparison.winner_entry_id = winner_entry_id
    comparison.decided_at = utcnow()
    audit.record(
        session,
        "comparison_decided",
        comparison,
        actor=judge,
        after={"winner": winner_entry_id},
    )
    await session.flush()
    return comparison


# --- the organiser's side -----------------------------------------------------------------


@dataclass
class Ranked:
    rank: int
    entry_id: int
    receipt_code: str
    title: str
    strength: float
    standard_error: float
    comparisons: int


@dataclass
class JudgeFit:
    judge_id: int
    name: str
    decided: int
    planned: int
    infit: float | None

    @property
    def inconsistent(self) -> bool:
        return self.infit is not None and self.infit > comparative.INFIT_WARNING


@dataclass
class Standing:
    round: Round
    planned: int
    decided: int
    entries: int
    reliability: float | None
    ranking: list[Ranked]
    judges: list[JudgeFit]


async def _decided(session: AsyncSession, round_: Round) -> list[comparative.Comparison]:
    rows = (
        await session.execute(
            select(Comparison.judge_id, Comparison.winner_entry_id, Comparison.left_entry_id,
                   Comparison.right_entry_id)
            .where(Comparison.round_id == round_.id, Comparison.decided_at.is_not(None))
        )
    ).all()  # fmt: skip
    return [
        comparative.Comparison(judge, winner, right if winner == left else left)
        for judge, winner, left, right in rows
        if winner is not None
    ]


async def standing(session: AsyncSession, *, contest_id: int) -> Standing:
    """The comparative round's ranking so far, its reliability and each judge's infit."""
    round_ = _comparative_round(await current_round(session, contest_id=contest_id))
    made = await _decided(session, round_)
    entry_rows = (
        await session.execute(
            _in_round(select(Entry.id, Entry.receipt_code, Entry.title), round_).order_by(Entry.id)
        )
    ).all()
    judge_rows = (
        await session.execute(
            select(User.id, User.name, func.count(Comparison.decided_at), func.count())
            .join(Comparison, Comparison.judge_id == User.id)
            .where(Comparison.round_id == round_.id)
            .group_by(User.id, User.name)
            .order_by(User.name, User.id)
        )
    ).all()
    planned = sum(int(r[3]) for r in judge_rows)
    fit = comparative.fit(made, entries=[r[0] for r in entry_rows]) if entry_rows else None
    ranking: list[Ranked] = []
    if fit is not None:
        names = {r[0]: (r[1], r[2]) for r in entry_rows}
        for position, entry_id in enumerate(fit.ranking()[:STANDING_TOP], start=1):
            code, title = names[entry_id]
            ranking.append(
                Ranked(
                    position,
                    entry_id,
                    code,
                    title,
                    fit.strength[entry_id],
                    fit.standard_error[entry_id],
                    fit.comparisons[entry_id],
                )
            )
    judges = [
        JudgeFit(
            judge_id,
            name,
            int(decided),
            int(total),
            fit.judge_infit.get(judge_id) if fit is not None else None,
        )
        for judge_id, name, decided, total in judge_rows
    ]
    return Standing(
        round_,
        planned,
        len(made),
        len(entry_rows),
        fit.reliability if fit is not None and made else None,
        ranking,
        judges,
    )


# --- the results ---------------------------------------------------------------------------


def results_mode(round_: Round) -> ComparativeResults:
    """What the final does to the results; ranking the shortlist until the organiser chooses."""
    return round_.comparative_results or ComparativeResults.RANK


async def choose_results(
    session: AsyncSession, *, contest_id: int, mode: str, actor: User | None
) -> Round:
    """The organiser's choice of what the current comparative round does to the results:
    "rank" (its order ranks the shortlist and gives the prizes) or "ties" (the rubric order
    stands; its order only separates entries tied on the rubric score). Refused (409) when
    the current round is not comparative, (422) for any other mode."""
    round_ = _comparative_round(await current_round(session, contest_id=contest_id))
    try:
        chosen = ComparativeResults(mode.strip())
    except ValueError:
        raise InvalidError(
            gettext("Choose whether the final ranks the shortlist or only breaks ties.")
        ) from None
    before = results_mode(round_)
    round_.comparative_results = chosen
    audit.record(
        session,
        "comparative_results_chosen",
        round_,
        actor=actor,
        before={"mode": before.value},
        after={"mode": chosen.value},
    )
    await session.flush()
    return round_


async def open_pairs(session: AsyncSession, *, round_: Round) -> int:
    """The round's pairs still to decide whose two entries are still in the contest (a pair
    with a withdrawn entry is never shown, so never waits)."""
    left_entry, right_entry = Entry.__table__.alias("l"), Entry.__table__.alias("r")
    count = await session.scalar(
        select(func.count())
        .select_from(Comparison)
        .join(left_entry, left_entry.c.id == Comparison.left_entry_id)
        .join(right_entry, right_entry.c.id == Comparison.right_entry_id)
        .where(
            Comparison.round_id == round_.id,
            Comparison.decided_at.is_(None),
            left_entry.c.status == EntryStatus.SUBMITTED,
            right_entry.c.status == EntryStatus.SUBMITTED,
        )
    )
    return int(count or 0)


async def final_strengths(session: AsyncSession, *, round_: Round) -> dict[int, float]:
    """Each entry of the comparative round with its Bradley-Terry strength (an entry never
    compared sits at 0, the middle of the scale)."""
    entries = list(await session.scalars(_in_round(select(Entry.id), round_).order_by(Entry.id)))
    if not entries:
        return {}
    return comparative.fit(await _decided(session, round_), entries=entries).strength


def check_per_entry(raw: str) -> int:
    """The organiser's "comparisons per entry" field."""
    value = raw.strip()
    if not (value.isascii() and value.isdigit()) or not (
        MIN_PER_ENTRY <= int(value) <= MAX_PER_ENTRY
    ):
        raise InvalidError(
            gettext(
                "Give %(low)s to %(high)s comparisons per entry.",
                low=MIN_PER_ENTRY,
                high=MAX_PER_ENTRY,
            )
        )
    return int(value)


def check_shortlist(raw: str) -> int:
    """The organiser's "how many of each division go on" field."""
    value = raw.strip()
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_SHORTLIST:
        raise InvalidError(gettext("Give a number of entries from 1 to 10,000."))
    return int(value)
