"""The audience vote: an optional public prize, opened by the organiser once the results are
published, kept apart from the official scores, ranks and prizes (nothing here writes them).

Who votes: the holder of a receipt of the contest. Each entry's receipt page shows a vote code
(``vote_code``: the entry's number and an HMAC of it under the app's secret) while the vote is
open; a code votes once (its digest is unique per contest, so a second vote is refused even
from two requests at once), for any published winner. No puzzle CAPTCHA: attempts from one
address are limited (``MAX_ATTEMPTS_PER_ADDRESS`` an hour), and the organiser sees what looks
like fraud: a burst of ballots for one entry, or many ballots from one address. While the vote
runs its counts may be hidden from the public.

Like every service, these take the caller's session and never commit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contest import audit
from contest.accounts.services import count_attempts
from contest.db import utcnow
from contest.errors import ConflictError, ContestError, InvalidError
from contest.i18n import N_, gettext
from contest.models import (
    AudienceVote,
    Ballot,
    Contest,
    Entry,
    EntryStatus,
    LoginAttempt,
    Result,
    User,
)

ATTEMPT = "audience-vote"
MAX_ATTEMPTS_PER_ADDRESS = 20
ATTEMPT_WINDOW = timedelta(hours=1)
# What the organiser is shown as suspect.
BURST_WINDOW = timedelta(minutes=10)
BURST_BALLOTS = 10
BALLOTS_PER_ADDRESS = 5
MAX_VOTE_DAYS = 60


class VoteThrottledError(ContestError):
    status_code = 429

    default_message = N_("Too many attempts from this connection. Please try again in an hour.")


def vote_code(secret_key: str, *, contest_id: int, entry_id: int) -> str:
    """The code a receipt shows: its entry's number and 6 letters of an HMAC of it."""
    digest = hmac.new(
        secret_key.encode(), f"vote:{contest_id}:{entry_id}".encode(), hashlib.sha256
    ).digest()
    return f"{entry_id}-{base64.b32encode(digest).decode()[:6]}"


def _voter_hash(secret_key: str, contest_id: int, entry_id: int) -> str:
    return hmac.new(
        secret_key.encode(), f"ballot:{contest_id}:{entry_id}".encode(), hashlib.sha256
    ).hexdigest()


def is_open(vote: AudienceVote | None, now: datetime) -> bool:
    return vote is not None and vote.opens_at <= now < vote.closes_at


async def get_vote(session: AsyncSession, *, contest_id: int) -> AudienceVote | None:
    return await session.get(AudienceVote, contest_id)


async def has_published_results(session: AsyncSession, *, contest_id: int) -> bool:
    found = await session.scalar(
        select(Result.id).where(Result.contest_id == contest_id, Result.published_at.is_not(None))
    )
    return found is not None


async def set_vote(
    session: AsyncSession,
    *,
    contest: Contest,
    opens_at: datetime,
    closes_at: datetime,
    counts_hidden: bool,
    actor: User,
) -> AudienceVote:
    """Open (or move) the contest's audience vote. Refused before the results are published
    (the vote comes after judging) and for a period that ends before it starts or lasts more
    than MAX_VOTE_DAYS."""
    if not await has_published_results(session, contest_id=contest.id):
        raise ConflictError(gettext("Publish the results first: the audience vote comes after."))
    if closes_at <= opens_at or closes_at - opens_at > timedelta(days=MAX_VOTE_DAYS):
        raise InvalidError(
            gettext(
                "The vote must close after it opens, within %(days)s days.", days=MAX_VOTE_DAYS
            ),
            fields={"closes_at": gettext("Choose a closing time after the opening time.")},
        )
    vote = await get_vote(session, contest_id=contest.id)
    before = (
        {"opens_at": vote.opens_at.isoformat(), "closes_at": vote.closes_at.isoformat()}
        if vote
        else None
    )
    if vote is None:
        vote = AudienceVote(contest_id=contest.id, opens_at=opens_at, closes_at=closes_at)
        session.add(vote)
    vote.opens_at, vote.closes_at, vote.counts_hidden = opens_at, closes_at, counts_hidden
    await session.flush()
    audit.record(
        session,
        "audience_vote_set",
        contest,
        actor=actor,
        before=before,
        after={
            "opens_at": opens_at.isoformat(),
            "closes_at": closes_at.isoformat(),
            "counts_hidden": counts_hidden,
        },
    )
    return vote


async def candidates(session: AsyncSession, *, contest_id: int) -> list[int]:
    """The entries one may vote for: the contest's published winners still in it."""
    return list(
        await session.scalars(
            select(Result.entry_id)
            .join(Entry, Entry.id == Result.entry_id)
            .where(
                Result.contest_id == contest_id,
                Result.published_at.is_not(None),
                Result.prize.is_not(None),
                Entry.status == EntryStatus.SUBMITTED,
                Entry.erased_at.is_(None),
            )
            .order_by(Result.entry_id)
        )
    )


def _parse_code(raw: str) -> tuple[int, str] | None:
    text = raw.strip().upper().replace(" ", "")
    number, _, check = text.partition("-")
    if not (number.isascii() and number.isdigit() and len(number) <= 10 and len(check) == 6):
        return None
    return int(number), check


async def cast_ballot(
    session: AsyncSession,
    *,
    contest: Contest,
    code: str,
    entry_id: int,
    secret_key: str,
    client_ip: str,
    now: datetime | None = None,
) -> Ballot:
    """One ballot. Refused: the vote not open (409), too many attempts from the address (429),
    a code that is not a receipt's of this contest (422), a candidate that is not one (422), a
    code that voted already (409). A refused attempt is recorded for the throttle; the caller
    commits it."""
    now = now or utcnow()
    vote = await get_vote(session, contest_id=contest.id)
    if not is_open(vote, now):
        raise ConflictError(gettext("The audience vote is not open."))
    attempts = await count_attempts(
        session,
        since=now - ATTEMPT_WINDOW,
        email=ATTEMPT,
        client_ip=client_ip,
        failed_only=False,
    )
    if attempts >= MAX_ATTEMPTS_PER_ADDRESS:
        raise VoteThrottledError()
    attempt = LoginAttempt(at=now, email=ATTEMPT, client_ip=client_ip, succeeded=False)
    session.add(attempt)
    parsed = _parse_code(code)
    holder = None
    if parsed is not None and hmac.compare_digest(
        vote_code(secret_key, contest_id=contest.id, entry_id=parsed[0]),
        f"{parsed[0]}-{parsed[1]}",
    ):
        holder = await session.scalar(
            select(Entry.id).where(Entry.id == parsed[0], Entry.contest_id == contest.id)
        )
    if holder is None:
        raise InvalidError(
            gettext("This vote code is not right. Copy it from the entry's receipt."),
            fields={"code": gettext("This vote code is not right.")},
        )
    if entry_id not in await candidates(session, contest_id=contest.id):
        raise InvalidError(gettext("Choose one of the entries shown."))
    voter = _voter_hash(secret_key, contest.id, holder)
    if await session.scalar(
        select(Ballot.id).where(Ballot.contest_id == contest.id, Ballot.voter_hash == voter)
    ):
        raise ConflictError(gettext("This code has voted already: one vote per receipt."))
    ballot = Ballot(
        contest_id=contest.id,
        entry_id=entry_id,
        voter_hash=voter,
        client_ip=client_ip,
        cast_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(ballot)
    except IntegrityError:
        # The same code in two requests at once: the database keeps one.
        raise ConflictError(gettext("This code has voted already: one vote per receipt.")) from None
    attempt.succeeded = True
    return ballot


@dataclass
class Tally:
    entry_id: int
    ballots: int


@dataclass
class Standing:
    vote: AudienceVote | None
    open: bool
    tallies: list[Tally]
    suspect_entries: list[int]
    suspect_addresses: list[tuple[str, int]]

    @property
    def leaders(self) -> list[int]:
        """The audience prize: the entries with the most ballots (all of them, when tied)."""
        top = max((t.ballots for t in self.tallies), default=0)
        return [t.entry_id for t in self.tallies if top and t.ballots == top]


async def standing(
    session: AsyncSession, *, contest_id: int, now: datetime | None = None
) -> Standing:
    now = now or utcnow()
    vote = await get_vote(session, contest_id=contest_id)
    counts = dict(
        (
            await session.execute(
                select(Ballot.entry_id, func.count())
                .where(Ballot.contest_id == contest_id)
                .group_by(Ballot.entry_id)
            )
        ).all()
    )
    tallies = sorted(
        (Tally(e, int(counts.get(e, 0))) for e in await candidates(session, contest_id=contest_id)),
        key=lambda t: (-t.ballots, t.entry_id),
    )
    cast = (
        await session.execute(
            select(Ballot.entry_id, Ballot.cast_at)
            .where(Ballot.contest_id == contest_id)
            .order_by(Ballot.entry_id, Ballot.cast_at)
        )
    ).all()
    suspect: set[int] = set()
    times: dict[int, list[datetime]] = {}
    for entry_id, at in cast:
        times.setdefault(entry_id, []).append(at)
    for entry_id, moments in times.items():
        start = 0
        for end, moment in enumerate(moments):
            while moment - moments[start] > BURST_WINDOW:
                start += 1
            if end - start + 1 >= BURST_BALLOTS:
                suspect.add(entry_id)
                break
    addresses = (
        await session.execute(
            select(Ballot.client_ip, func.count())
            .where(Ballot.contest_id == contest_id)
            .group_by(Ballot.client_ip)
            .having(func.count() >= BALLOTS_PER_ADDRESS)
            .order_by(func.count().desc())
        )
    ).all()
    return Standing(
        vote,
        is_open(vote, now),
        tallies,
        sorted(suspect),
        [(ip, int(n)) for ip, n in addresses],
    )


async def receipt_vote_code(
    session: AsyncSession, *, entry: Entry, secret_key: str, now: datetime | None = None
) -> str | None:
    """The code an entry's receipt shows while its contest's vote is open."""
    vote = await get_vote(session, contest_id=entry.contest_id)
    if not is_open(vote, now or utcnow()):
        return None
    return vote_code(secret_key, contest_id=entry.contest_id, entry_id=entry.id)
