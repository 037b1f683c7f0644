"""Results: computed from the final round's scores, reviewed, then published in one step.

Before publication nothing of the results is visible outside the console: every public reader
goes through ``published_results``, which returns nothing until ``published_at`` is set.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contest import audit
from contest.db import utcnow
from contest.errors import CodedError
from contest.i18n import N_
from contest.models import (
    ComparativeResults,
    Contest,
    ContestStatus,
    Division,
    Entrant,
    Entry,
    Event,
    Prize,
    Result,
    RoundKind,
    Unit,
    User,
)
from contest.pagination import Page, PageRequest, paginate, where_given
from contest.progress import Progress, no_progress
from contest.results import compute
from contest.tokens import RECEIPT_ALPHABET
from judging import comparing
from judging.services import contest_criteria, current_round

# Each refusal: its status and what the organiser reads.
ERRORS: dict[str, tuple[int, str]] = {
    "published": (409, N_("The results are already published and can no longer change here.")),
    "no_round": (409, N_("Judging has not started for this contest.")),
    "no_scores": (409, N_("No entry has a submitted score yet.")),
    "not_computed": (409, N_("Compute the results first.")),
    "no_reason": (422, N_("Write the reason for this change.")),
    "no_contest": (404, N_("Page not found")),
    "undecided": (
        409,
        N_("The comparative final still has pairs to decide: compute the results when all are."),
    ),
}


class ResultsError(CodedError):
    """ "published", "no_round", "no_scores", "not_computed", "no_reason", "no_contest",
    "undecided"."""

    errors = ERRORS


@dataclass
class ComputeReport:
    entries: int
    prizes: dict[str, int]


def new_serial_code(year: int) -> str:
    code = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(8))
    return f"{year}-{code[:4]}-{code[4:]}"


async def _contest(session: AsyncSession, contest_id: int) -> Contest:
    contest = await session.get(Contest, contest_id)
    if contest is None:
        raise ResultsError("no_contest")
    return contest


async def is_published(session: AsyncSession, *, contest_id: int) -> bool:
    found = await session.scalar(
        select(Result.id)
        .where(Result.contest_id == contest_id, Result.published_at.is_not(None))
        .limit(1)
    )
    return found is not None


async def is_forwarded(session: AsyncSession, *, contest_id: int) -> bool:
    """Whether the contest forwarded entries to the next level's contest: its published
    results are then frozen (contest.intake.forwarding)."""
    found = await session.scalar(
        select(Entry.id)
        .where(Entry.forwarded_from_id.in_(select(Entry.id).where(Entry.contest_id == contest_id)))
        .limit(1)
    )
    return found is not None


async def has_results(session: AsyncSession, *, contest_id: int) -> bool:
    """Whether the results were computed (published or not)."""
    found = await session.scalar(select(Result.id).where(Result.contest_id == contest_id).limit(1))
    return found is not None


async def compute_results(
    session: AsyncSession,
    *,
    contest_id: int,
    actor: User | None,
    progress: Progress = no_progress,
) -> ComputeReport:
    """Rank each division from the final round's scores and award prizes by the contest's
    scheme. Recomputing replaces the preview (in the caller's unit of work: a run stopped
    half-way leaves the previous one) but keeps prizes an organiser overrode. ``progress``
    follows the entries being scored. How: contest.results.compute."""
    contest = await _contest(session, contest_id)
    if await is_published(session, contest_id=contest_id):
        raise ResultsError("published")
    round_ = await current_round(session, contest_id=contest_id)
    if round_ is None:
        raise ResultsError("no_round")
    # A comparative final ranks the shortlist cut on the rubric round before it.
    final = round_ if round_.kind == RoundKind.COMPARATIVE else None
    if final is not None:
        if await comparing.open_pairs(session, round_=final):
            raise ResultsError("undecided")
        round_ = await comparing.scored_round(session, final=final)
        if round_ is None:
            raise ResultsError("no_scores")
    criteria = await contest_criteria(session, contest_id=contest_id)
    entries = await compute.gather_totals(session, round_=round_, criteria=criteria)
    if not entries:
        await compute.drop_work_tables(session)
        raise ResultsError("no_scores")
    overrides = {
        r.entry_id: (r.prize, r.override_reason)
        for r in (
            await session.scalars(
                select(Result).where(
                    Result.contest_id == contest_id, Result.override_reason.is_not(None)
                )
            )
        ).all()
    }
    await compute.score_entries(
        session, contest=contest, criteria=criteria, entries=entries, progress=progress
    )
    mode = comparing.results_mode(final) if final is not None else None
    if final is not None:
        strengths = await comparing.final_strengths(session, round_=final)
        await compute.set_compared(session, strengths=strengths)
    entries = await compute.rank_into_results(
        session,
        contest_id=contest_id,
        entries=entries,
        now=utcnow(),
        final=final,
        mode=mode or ComparativeResults.RANK,
    )
    scheme = contest.prize_scheme or {}
    if scheme.get("method") != "threshold":
        await compute.award_by_count(session, contest_id=contest_id, tiers=scheme.get("tiers", {}))
    elif mode == ComparativeResults.RANK:
        await compute.award_thresholds_in_order(session, contest_id=contest_id)
    await compute.set_prizes(session, contest_id=contest_id, prizes=overrides)
    await compute.drop_work_tables(session)
    tally = await compute.prize_tally(session, contest_id=contest_id)
    audit.record(
        session,
        "results_computed",
        contest,
        actor=actor,
        after={
            "entries": entries,
            "prizes": tally,
            "round": round_.number if final is None else final.number,
            **({"comparative": mode.value} if mode is not None else {}),
        },
    )
    return ComputeReport(entries=entries, prizes=tally)


async def override_prize(
    session: AsyncSession,
    *,
    result_id: int,
    prize: Prize | None,
    reason: str,
    actor: User | None,
) -> Result:
    result = await session.get(Result, result_id)
    if result is None:
        raise ResultsError("not_computed")
    if result.published_at is not None:
        raise ResultsError("published")
    if not reason.strip():
        raise ResultsError("no_reason")
    before = {"prize": result.prize.value if result.prize else None}
    result.prize = prize
    result.override_reason = reason.strip()
    audit.record(
        session,
        "prize_overridden",
        result,
        actor=actor,
        before=before,
        after={"prize": prize.value if prize else None, "reason": result.override_reason},
    )
    await session.flush()
    return result


async def publish_results(
    session: AsyncSession,
    *,
    contest_id: int,
    actor: User | None,
    now: datetime | None = None,
    progress: Progress = no_progress,
) -> int:
    """Publish the computed results in one step (the caller's commit makes it atomic): every
    row gets the same publication time (one UPDATE), every winner a certificate serial (in
    batches, which ``progress`` follows)."""
    now = now or utcnow()
    contest = await _contest(session, contest_id)
    if await is_published(session, contest_id=contest_id):
        raise ResultsError("published")
    count = int(
        await session.scalar(select(func.count(Result.id)).where(Result.contest_id == contest_id))
        or 0
    )
    if not count:
        raise ResultsError("not_computed")
    event = await session.get(Event, contest.event_id)
    assert event is not None
    await session.execute(
        update(Result).where(Result.contest_id == contest_id).values(published_at=now)
    )
    winners = list(
        await session.scalars(
            select(Result.id)
            .where(Result.contest_id == contest_id, Result.prize.is_not(None))
            .order_by(Result.id)
        )
    )
    await progress(0, len(winners))
    for start in range(0, len(winners), SERIAL_BATCH):
        batch = winners[start : start + SERIAL_BATCH]
        serials = await _new_serials(session, len(batch), year=event.starts_on.year)
        await session.execute(
            update(Result),
            [
                {"id": result_id, "certificate_serial": serial}
                for result_id, serial in zip(batch, serials, strict=True)
            ],
        )
        await progress(start + len(batch), len(winners))
    before = contest.status.value
    contest.status = ContestStatus.PUBLISHED
    audit.record(
        session,
        "results_published",
        contest,
        actor=actor,
        before={"status": before},
        after={"status": contest.status.value, "results": count},
    )
    await session.flush()
    return count


# Serials checked against those already given, and stored, this many at a time.
SERIAL_BATCH = 5_000


async def _new_serials(session: AsyncSession, count: int, *, year: int) -> list[str]:
    """``count`` distinct serials no result holds yet: drawn, then asked of the database in
    one query for the batch (not every serial ever given, which grows with every contest);
    any already taken is drawn again."""
    serials: set[str] = set()
    while len(serials) < count:
        fresh = {new_serial_code(year) for _ in range(count - len(serials))} - serials
        taken = set(
            await session.scalars(
                select(Result.certificate_serial).where(Result.certificate_serial.in_(fresh))
            )
        )
        serials |= fresh - taken
    return sorted(serials)


@dataclass
class ResultRow:
    result: Result
    entry: Entry
    entrant: Entrant
    unit: Unit | None
    division: Division | None


def _results_query(contest_id: int, *, published_only: bool) -> Select[*tuple[Any, ...]]:
    query = (
        select(Result, Entry, Entrant, Unit, Division)
        .join(Entry, Entry.id == Result.entry_id)
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .outerjoin(Unit, Unit.id == Entrant.unit_id)
        .outerjoin(Division, Division.id == Result.division_id)
        .where(Result.contest_id == contest_id)
        .order_by(Division.position, Result.rank, Result.entry_id)
    )
    if published_only:
        query = query.where(Result.published_at.is_not(None))
    return query


async def results_of(
    session: AsyncSession, *, contest_id: int, published_only: bool
) -> list[ResultRow]:
    """The contest's results in division and rank order; public readers pass published_only."""
    rows = (await session.execute(_results_query(contest_id, published_only=published_only))).all()
    return [ResultRow(r, e, p, u, d) for r, e, p, u, d in rows]


@dataclass(frozen=True)
class ResultFilters:
    """What the organisers' results console is narrowed to; None is "any"."""

    division_id: int | None = None
    prize: Prize | None = None
    receipt_code: str | None = None


async def results_page(
    session: AsyncSession, *, contest_id: int, filters: ResultFilters, page: PageRequest
) -> Page[ResultRow]:
    """A page of the contest's results (published or not) in division and rank order."""
    query = where_given(
        _results_query(contest_id, published_only=False),
        (Result.division_id, filters.division_id),
        (Result.prize, filters.prize),
        (Entry.receipt_code, filters.receipt_code),
    )
    if filters.division_id is not None:
        # Within one division rank order is read from an index, not sorted.
        query = query.order_by(None).order_by(Result.rank, Result.entry_id)
    found = await paginate(session, query, page)
    return found.replace([ResultRow(*row) for row in found.items])


# A prize's place on the ladder (contest.models.Prize, best first): how winners are listed.
PRIZE_ORDER = {prize: position for position, prize in enumerate(Prize)}


def winners(rows: Sequence[ResultRow]) -> list[ResultRow]:
    order = PRIZE_ORDER
    chosen = [r for r in rows if r.result.prize is not None]
    return sorted(
        chosen,
        key=lambda r: (
            r.division.position if r.division else 0,
            order[r.result.prize] if r.result.prize else 9,
            r.result.rank,
        ),
    )


async def ensure_may_start(session: AsyncSession, *, contest_id: int, action: str) -> Contest:
    """The quick refusals of computing or publishing, checked before the work is queued so
    that the organiser hears them at once: published already, judging not started, a
    comparative final with pairs to decide, nothing computed to publish. The work itself
    checks again when it runs."""
    contest = await _contest(session, contest_id)
    if await is_published(session, contest_id=contest_id):
        raise ResultsError("published")
    if action == "publish":
        if not await has_results(session, contest_id=contest_id):
            raise ResultsError("not_computed")
        return contest
    round_ = await current_round(session, contest_id=contest_id)
    if round_ is None:
        raise ResultsError("no_round")
    if round_.kind == RoundKind.COMPARATIVE and await comparing.open_pairs(session, round_=round_):
        raise ResultsError("undecided")
    return contest
