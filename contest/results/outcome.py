"""What an entrant learns of their entry after publication: the prize, the judges' feedback and
the state of a re-marking request. Read by the receipt page and the family's data copy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contest.models import Assignment, AssignmentStatus, Entry, EntryStatus, Prize, Result, Score
from contest.results import remarks


@dataclass
class Outcome:
    """What an entrant learns after publication: the prize (if any) and the judges' feedback."""

    prize: Prize | None
    rank: int
    feedback: list[str]
    # Until when the entrant may still ask for re-marking (None once asked or too late), and
    # the state of a request already filed (a label's msgid).
    remark_until: datetime | None = None
    remark_status: str | None = None


async def published_outcome(session: AsyncSession, *, entry_id: int) -> Outcome | None:
    result = await session.scalar(
        select(Result).where(Result.entry_id == entry_id, Result.published_at.is_not(None))
    )
    if result is None:
        return None
    feedback = (
        await session.scalars(
            select(Score.feedback_to_entrant)
            .join(Assignment, Assignment.id == Score.assignment_id)
            .where(
                Assignment.entry_id == entry_id,
                Assignment.status == AssignmentStatus.SUBMITTED,
                Score.feedback_to_entrant != "",
            )
            .order_by(Score.id)
        )
    ).all()
    entry = await session.get(Entry, entry_id)
    assert entry is not None
    state = await remarks.entrant_remark(session, entry=entry)
    outcome = Outcome(prize=result.prize, rank=result.rank, feedback=list(feedback))
    if state is not None and state.request is not None:
        outcome.remark_status = remarks.STATUS_LABELS[state.request.status]
        if state.request.status in remarks.DECIDED and state.request.feedback:
            outcome.feedback.append(state.request.feedback)
    elif state is not None and state.may_ask and entry.status == EntryStatus.SUBMITTED:
        outcome.remark_until = state.until
    return outcome
