"""Re-marking requests (phúc khảo) after publication.

The path: the entrant asks from the receipt page within the contest's ``remark_days`` after
publication (days counted in Vietnam's calendar, to the end of the last day); the organiser
hands the entry to a judge who did not score it and has no conflict with it; that judge scores
it on the same rubric; the organiser decides, with a written note, whether the published prize
stands or changes. Every step is audited.

The re-marked total stays beside the published figures rather than replacing them: a single
judge's total is on the rubric's scale, the published score may be normalised, and the decision
is about the prize. Services own the transaction's content; callers commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contest import audit, rules
from contest.db import utcnow
from contest.errors import CodedError
from contest.i18n import LOCAL_TZ, N_, local_time, normalize_text
from contest.models import (
    Asset,
    Assignment,
    Contest,
    Criterion,
    Entrant,
    Entry,
    EntryStatus,
    Event,
    Prize,
    RemarkRequest,
    RemarkStatus,
    Result,
    User,
)
from contest.results.services import is_forwarded, new_serial_code
from judging.scoring import weighted_total
from judging.services import (
    checked_points,
    contest_criteria,
    contest_judges_of,
    entry_assets,
    rubric_of,
    unit_chain,
)

MAX_REASON = 2000
MAX_FEEDBACK = 4000

STATUS_LABELS = {
    RemarkStatus.REQUESTED: N_("received, waiting for a judge"),
    RemarkStatus.ASSIGNED: N_("being re-marked by another judge"),
    RemarkStatus.RESCORED: N_("re-marked, waiting for the organisers' decision"),
    RemarkStatus.UPHELD: N_("decided: the result stands"),
    RemarkStatus.CHANGED: N_("decided: the result was changed"),
}
OPEN = (RemarkStatus.REQUESTED, RemarkStatus.ASSIGNED, RemarkStatus.RESCORED)
DECIDED = (RemarkStatus.UPHELD, RemarkStatus.CHANGED)


# Each refusal: its status and what the visitor reads.
ERRORS: dict[str, tuple[int, str]] = {
    "not_published": (404, N_("This entry has no published result yet.")),
    "withdrawn": (409, N_("A withdrawn entry cannot be re-marked.")),
    "exists": (409, N_("A re-marking request was already sent for this entry.")),
    "window_closed": (409, N_("The time to ask for re-marking has passed.")),
    "no_reason": (422, N_("Say briefly why you ask for re-marking.")),
    "reason_too_long": (422, N_("Please keep the reason under 2,000 characters.")),
    "not_found": (404, N_("This re-marking request is not in your list.")),
    "not_assignable": (409, N_("This request was already re-marked.")),
    "judge_not_eligible": (
        422,
        N_("Choose a judge who did not score this entry and has no conflict with it."),
    ),
    "decided": (409, N_("The organisers already decided on this request.")),
    "not_rescored": (409, N_("The entry must be re-marked before a decision.")),
    "no_note": (422, N_("Write the reason for the decision.")),
    "frozen": (
        409,
        N_(
            "This contest's entries were forwarded to the next level: its results are frozen "
            "and can no longer change. The result stands."
        ),
    ),
}


class RemarkError(CodedError):
    """A refusal of the re-marking path, by the codes above."""

    errors = ERRORS


def window_end(published_at: datetime, days: int) -> datetime:
    """The last moment to ask: the end of the ``days``-th day after publication, in Vietnam."""
    last_day = local_time(published_at).date() + timedelta(days=days)
    return datetime.combine(last_day, time(23, 59, 59), tzinfo=LOCAL_TZ)


async def published_result(session: AsyncSession, *, entry_id: int) -> Result | None:
    return await session.scalar(
        select(Result).where(Result.entry_id == entry_id, Result.published_at.is_not(None))
    )


async def request_for_entry(session: AsyncSession, *, entry_id: int) -> RemarkRequest | None:
    return await session.scalar(select(RemarkRequest).where(RemarkRequest.entry_id == entry_id))


@dataclass
class EntrantRemark:
    """What the entrant sees: whether and until when they may ask, and their request."""

    result: Result
    until: datetime
    request: RemarkRequest | None

    @property
    def may_ask(self) -> bool:
        return self.request is None and utcnow() <= self.until


async def entrant_remark(session: AsyncSession, *, entry: Entry) -> EntrantRemark | None:
    """None before publication (nothing of the results shows before then)."""
    result = await published_result(session, entry_id=entry.id)
    if result is None or result.published_at is None:
        return None
    contest = await session.get(Contest, entry.contest_id)
    assert contest is not None
    return EntrantRemark(
        result=result,
        until=window_end(result.published_at, contest.remark_days),
        request=await request_for_entry(session, entry_id=entry.id),
    )


async def request_remark(
    session: AsyncSession, *, entry: Entry, reason: str, now: datetime | None = None
) -> RemarkRequest:
    """File the entrant's request. Raises RemarkError: not_published, withdrawn, exists,
    window_closed, no_reason, reason_too_long."""
    now = now or utcnow()
    state = await entrant_remark(session, entry=entry)
    if state is None:
        raise RemarkError("not_published")
    if entry.status != EntryStatus.SUBMITTED:
        raise RemarkError("withdrawn")
    if state.request is not None:
        raise RemarkError("exists")
    if now > state.until:
        raise RemarkError("window_closed")
    reason = normalize_text(reason)
    if not reason:
        raise RemarkError("no_reason")
    if len(reason) > MAX_REASON:
        raise RemarkError("reason_too_long")
    remark = RemarkRequest(
        entry_id=entry.id,
        contest_id=entry.contest_id,
        reason=reason,
        status=RemarkStatus.REQUESTED,
        previous_score=state.result.final_score,
        previous_prize=state.result.prize,
        created_at=now,
    )
    session.add(remark)
    await session.flush()
    # The reason is the entrant's own words and may name people: it stays on the request,
    # which erasure removes with the entry, and out of the audit log.
    audit.record(
        session,
        "remark_requested",
        remark,
        actor_label="entrant",
        after={
            "entry": entry.id,
            "status": remark.status.value,
            "prize": remark.previous_prize.value if remark.previous_prize else None,
        },
    )
    return remark


async def get_remark(session: AsyncSession, remark_id: int) -> RemarkRequest:
    remark = await session.get(RemarkRequest, remark_id)
    if remark is None:
        raise RemarkError("not_found")
    return remark


async def contest_remarks(session: AsyncSession, *, contest_id: int) -> list[RemarkRequest]:
    query = select(RemarkRequest).where(RemarkRequest.contest_id == contest_id)
    return list(await session.scalars(query.order_by(RemarkRequest.created_at, RemarkRequest.id)))


async def eligible_judges(session: AsyncSession, *, remark: RemarkRequest) -> list[User]:
    """The contest's active judges who never had the entry and may judge it (contest.rules)."""
    entry = await session.get(Entry, remark.entry_id)
    assert entry is not None
    entrant = await session.get(Entrant, entry.entrant_id)
    assert entrant is not None
    chain = await unit_chain(session, entrant.unit_id)
    had_it = set(
        await session.scalars(select(Assignment.judge_id).where(Assignment.entry_id == entry.id))
    )
    judges = [j for j in await contest_judges_of(session, contest_id=remark.contest_id)]
    conflicts = await rules.judge_conflicts(session, judge_ids=[j.id for j in judges])
    return [
        judge
        for judge in judges
        if judge.id not in had_it
        and rules.may_judge_entry(conflicts[judge.id], entry_units=chain, entrant_id=entrant.id)
    ]


async def assign_remark(
    session: AsyncSession, *, remark_id: int, judge_id: int, actor: User
) -> RemarkRequest:
    """Hand the entry to a judge (or to another one before it is re-scored)."""
    remark = await get_remark(session, remark_id)
    if remark.status not in (RemarkStatus.REQUESTED, RemarkStatus.ASSIGNED):
        raise RemarkError("not_assignable")
    if judge_id not in {j.id for j in await eligible_judges(session, remark=remark)}:
        raise RemarkError("judge_not_eligible")
    before = {"status": remark.status.value, "judge": remark.judge_id}
    remark.judge_id = judge_id
    remark.status = RemarkStatus.ASSIGNED
    audit.record(
        session,
        "remark_assigned",
        remark,
        actor=actor,
        before=before,
        after={"status": remark.status.value, "judge": judge_id},
    )
    await session.flush()
    return remark


@dataclass
class RemarkJudgeView:
    """What the re-marking judge sees: the work and the rubric, never who made it, nor the
    published score (the judge marks afresh)."""

    remark: RemarkRequest
    contest: Contest
    entry: Entry
    criteria: list[Criterion]
    assets: list[Asset]

    @property
    def editable(self) -> bool:
        return self.remark.status in (RemarkStatus.ASSIGNED, RemarkStatus.RESCORED)


async def judge_remarks(session: AsyncSession, *, judge: User) -> list[tuple[RemarkRequest, str]]:
    rows = (
        await session.execute(
            select(RemarkRequest, Contest.title)
            .join(Contest, Contest.id == RemarkRequest.contest_id)
            .where(RemarkRequest.judge_id == judge.id)
            .order_by(RemarkRequest.id)
        )
    ).all()
    return [(remark, title) for remark, title in rows]


async def remark_judge_view(
    session: AsyncSession, *, remark_id: int, judge: User
) -> RemarkJudgeView:
    remark = await rules.ensure_judge_remark(session, remark_id=remark_id, judge=judge)
    entry = await session.get(Entry, remark.entry_id)
    contest = await session.get(Contest, remark.contest_id)
    assert entry is not None and contest is not None
    criteria = await contest_criteria(session, contest_id=contest.id)
    assets = await entry_assets(session, entry_id=entry.id)
    return RemarkJudgeView(remark, contest, entry, criteria, assets)


async def save_rescore(
    session: AsyncSession,
    *,
    remark_id: int,
    judge: User,
    points: Mapping[str, object],
    feedback: str,
) -> RemarkRequest:
    """The judge's complete scoring; may be changed until the organiser decides.

    Raises contest.rules' NotFoundError, RemarkError ("decided") or ScoreInvalidError."""
    view = await remark_judge_view(session, remark_id=remark_id, judge=judge)
    if not view.editable:
        raise RemarkError("decided")
    rubric = rubric_of(view.criteria)
    clean = checked_points(rubric, points, complete=True)
    remark = view.remark
    before = {"status": remark.status.value, "points": remark.points, "total": remark.total}
    remark.points = clean
    remark.total = weighted_total(rubric, clean)
    remark.feedback = normalize_text(feedback)[:MAX_FEEDBACK]
    remark.status = RemarkStatus.RESCORED
    remark.rescored_at = utcnow()
    audit.record(
        session,
        "remark_rescored",
        remark,
        actor=judge,
        before=before,
        after={"status": remark.status.value, "points": remark.points, "total": remark.total},
    )
    await session.flush()
    return remark


async def _new_serial(session: AsyncSession, contest_id: int) -> str:
    year = await session.scalar(
        select(Event.starts_on)
        .join(Contest, Contest.event_id == Event.id)
        .where(Contest.id == contest_id)
    )
    assert year is not None
    while True:
        serial = new_serial_code(year.year)
        taken = await session.scalar(
            select(Result.id).where(Result.certificate_serial == serial).limit(1)
        )
        if taken is None:
            return serial


async def decide_remark(
    session: AsyncSession,
    *,
    remark_id: int,
    prize: Prize | None,
    note: str,
    actor: User,
    now: datetime | None = None,
) -> RemarkRequest:
    """The organiser's decision: the prize after re-marking (the same one upholds the result).

    A new winner gets a certificate serial; a prize taken away takes the serial with it, so the
    verification page no longer confirms that certificate. Once the contest forwarded entries
    to the next level its results are frozen: only upholding is left. Raises RemarkError
    (not_found, not_rescored, no_note, frozen)."""
    remark = await get_remark(session, remark_id)
    if remark.status != RemarkStatus.RESCORED:
        raise RemarkError("not_rescored")
    note = normalize_text(note)
    if not note:
        raise RemarkError("no_note")
    result = await published_result(session, entry_id=remark.entry_id)
    if result is None:
        raise RemarkError("not_published")
    if prize != result.prize and await is_forwarded(session, contest_id=result.contest_id):
        raise RemarkError("frozen")
    before = {
        "status": remark.status.value,
        "prize": result.prize.value if result.prize else None,
        "serial": result.certificate_serial,
    }
    remark.new_prize = prize
    remark.decision_note = note
    remark.decided_by_id = actor.id
    remark.decided_at = now or utcnow()
    if prize == result.prize:
        remark.status = RemarkStatus.UPHELD
    else:
        remark.status = RemarkStatus.CHANGED
        result.prize = prize
        result.override_reason = note
        if prize is None:
            result.certificate_serial = None
        elif result.certificate_serial is None:
            result.certificate_serial = await _new_serial(session, result.contest_id)
    audit.record(
        session,
        "remark_decided",
        remark,
        actor=actor,
        before=before,
        after={
            "status": remark.status.value,
            "prize": result.prize.value if result.prize else None,
            "serial": result.certificate_serial,
            "note": note,
        },
    )
    await session.flush()
    return remark
