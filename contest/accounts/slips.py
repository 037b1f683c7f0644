"""Sign-in slips: how a judge who will not manage an account signs in.

An organiser adds such a judge by name alone and gives them a slip: a short code printed on
paper (and the same as a link), for that one judge, expiring after ``SLIP_LIFETIME`` unless
revoked earlier. Signing in with it opens a session that lasts only while the slip holds: a
revoked or expired slip ends it at the next request (``rules.may_sign_in_with_slip``, asked
by ``contest.access`` at every request of such a session). The judge then does what any judge
does: their own work and nothing else.

Codes are 10 characters from an alphabet without look-alikes (no 0/O, no 1/I), 50 bits; only
an HMAC of the code under the app's secret is kept, so a copy of the database gives nobody a
way in. Failed attempts are throttled per address through the same table as passwords.

Like every service, these take the caller's session and never commit; a failed attempt is
recorded and then the error raised, and the caller commits the record before answering.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contest import audit, rules
from contest.accounts.interfaces import THROTTLE_WINDOW, LoginThrottledError
from contest.accounts.services import count_attempts
from contest.db import utcnow
from contest.errors import ContestError, InvalidError, NotFoundError
from contest.i18n import N_, gettext, normalize_text
from contest.models import Contest, JudgeSlip, LoginAttempt, Role, User, contest_judges
from contest.pagination import Page, PageRequest, paginate

SLIP_LIFETIME = timedelta(days=14)
CODE_LENGTH = 10
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# What the attempts table records in place of an email for a slip's attempt.
SLIP_ATTEMPT = "judge-slip"
MAX_SLIP_FAILURES_PER_ADDRESS = 10
NAME_MAX = 100
# Judges without an account still need a unique address on their row; this domain is
# reserved and never delivers (RFC 2606).
_NO_MAIL_DOMAIN = "judges.invalid"


class SlipRefusedError(ContestError):
    status_code = 400

    default_message = N_(
        "This code is not valid, has expired or was revoked. Ask the organisers for a new slip."
    )


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def show_code(code: str) -> str:
    """As printed: two groups of five."""
    return f"{code[:5]}-{code[5:]}"


def normalize_code(raw: str) -> str:
    """What a judge typed, read kindly: case, spaces and dashes do not matter."""
    return "".join(ch for ch in raw.upper() if ch not in " -\t")


def code_hash(secret_key: str, code: str) -> str:
    return hmac.new(secret_key.encode(), f"slip:{code}".encode(), hashlib.sha256).hexdigest()


def has_account(user: User) -> bool:
    """Whether the judge signs in with an email and password (or may, once invited)."""
    return not user.email.endswith("@" + _NO_MAIL_DOMAIN)


async def add_judge_without_account(
    session: AsyncSession, *, contest: Contest, name: str, actor: User
) -> User:
    """A judge of ``contest`` known by name only, who will sign in with slips."""
    name = normalize_text(name).strip()
    if not name or len(name) > NAME_MAX:
        raise InvalidError(
            gettext("Enter the judge's name (at most %(count)s characters).", count=NAME_MAX),
            fields={"name": gettext("Enter the judge's name.")},
        )
    judge = User(email=f"slip-{uuid.uuid4().hex}@{_NO_MAIL_DOMAIN}", name=name, role=Role.JUDGE)
    session.add(judge)
    await session.flush()
    await session.execute(contest_judges.insert().values(contest_id=contest.id, user_id=judge.id))
    audit.record(
        session,
        "user_created",
        judge,
        actor=actor,
        after={"name": name, "role": Role.JUDGE.value, "contest": contest.id, "slips": True},
    )
    return judge


async def ensure_contest_judge(session: AsyncSession, *, contest: Contest, judge_id: int) -> User:
    """A judge of the contest, active; to anyone asking about another user, none exists."""
    judge = await session.scalar(
        select(User)
        .join(contest_judges, contest_judges.c.user_id == User.id)
        .where(
            User.id == judge_id,
            User.role == Role.JUDGE,
            User.is_active,
            contest_judges.c.contest_id == contest.id,
        )
    )
    if judge is None:
        raise NotFoundError(gettext("This judge is not a judge of this contest."))
    return judge


async def issue_slip(
    session: AsyncSession,
    *,
    secret_key: str,
    judge: User,
    actor: User,
    lifetime: timedelta = SLIP_LIFETIME,
    now: datetime | None = None,
) -> tuple[JudgeSlip, str]:
    """A new slip for the judge and its code, shown once (only its HMAC is kept)."""
    now = now or utcnow()
    code = new_code()
    slip = JudgeSlip(
        judge_id=judge.id,
        code_hash=code_hash(secret_key, code),
        created_by_id=actor.id,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(slip)
    await session.flush()
    audit.record(
        session,
        "slip_issued",
        slip,
        actor=actor,
        after={"judge": judge.id, "expires_at": slip.expires_at.isoformat()},
    )
    return slip, code


async def revoke_slip(
    session: AsyncSession,
    *,
    contest: Contest,
    slip_id: int,
    actor: User,
    now: datetime | None = None,
) -> JudgeSlip:
    """End a slip at once, and with it every session opened with it."""
    slip = await session.get(JudgeSlip, slip_id)
    if slip is None:
        raise NotFoundError()
    await ensure_contest_judge(session, contest=contest, judge_id=slip.judge_id)
    if slip.revoked_at is None:
        slip.revoked_at = now or utcnow()
        audit.record(session, "slip_revoked", slip, actor=actor, after={"judge": slip.judge_id})
    return slip


async def sign_in_with_slip(
    session: AsyncSession,
    *,
    secret_key: str,
    code: str,
    client_ip: str,
    now: datetime | None = None,
) -> tuple[User, JudgeSlip]:
    """The judge a live slip names; SlipRefusedError for any other code, and
    LoginThrottledError after too many failures from the address."""
    now = now or utcnow()
    failures = await count_attempts(
        session, since=now - THROTTLE_WINDOW, email=SLIP_ATTEMPT, client_ip=client_ip
    )
    if failures >= MAX_SLIP_FAILURES_PER_ADDRESS:
        raise LoginThrottledError
    normalized = normalize_code(code)
    slip = None
    if len(normalized) == CODE_LENGTH:
        slip = await session.scalar(
            select(JudgeSlip).where(JudgeSlip.code_hash == code_hash(secret_key, normalized))
        )
    judge = await session.get(User, slip.judge_id) if slip is not None else None
    succeeded = rules.may_sign_in_with_slip(judge, slip, now)
    session.add(LoginAttempt(at=now, email=SLIP_ATTEMPT, client_ip=client_ip, succeeded=succeeded))
    audit.record(
        session,
        action="login" if succeeded else "login_failed",
        object_type="judge_slip",
        object_id=slip.id if slip is not None else "-",
        actor=judge if succeeded else None,
        actor_label=SLIP_ATTEMPT,
        client_ip=client_ip,
    )
    if not succeeded or slip is None or judge is None:
        raise SlipRefusedError()
    slip.last_used_at = now
    judge.last_login_at = now
    return judge, slip


@dataclass
class JudgeRow:
    judge: User
    has_account: bool
    live_slips: list[JudgeSlip]


async def contest_judges_page(
    session: AsyncSession, *, contest: Contest, page: PageRequest, now: datetime | None = None
) -> Page[JudgeRow]:
    """A page of the contest's judges, by name, each with their live slips."""
    now = now or utcnow()
    query = (
        select(User)
        .join(contest_judges, contest_judges.c.user_id == User.id)
        .where(contest_judges.c.contest_id == contest.id, User.role == Role.JUDGE)
        .order_by(User.name, User.id)
    )
    found = await paginate(session, query, page)
    judges: list[User] = [row[0] for row in found.items]
    slips = (
        await session.scalars(
            select(JudgeSlip)
            .where(
                JudgeSlip.judge_id.in_([j.id for j in judges]),
                JudgeSlip.revoked_at.is_(None),
                JudgeSlip.expires_at > now,
            )
            .order_by(JudgeSlip.id)
        )
    ).all()
    by_judge: dict[int, list[JudgeSlip]] = {}
    for slip in slips:
        by_judge.setdefault(slip.judge_id, []).append(slip)
    return found.replace([JudgeRow(j, has_account(j), by_judge.get(j.id, [])) for j in judges])
