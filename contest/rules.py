"""Who may do what to which object: the one answer to "may this user do this to this object?".

Routes declare who may reach them at all (``contest.access``: ``public`` or ``requires(role)``);
everything about a particular object is asked here, by every page, API endpoint, job and command
alike. Each rule is a ``may_*`` predicate over plain values already loaded (no I/O), or an
``ensure_*`` coroutine that loads what it needs and raises ``contest.errors.NotFoundError`` when
the answer is no: an object one may not touch answers exactly as one that does not exist, so its
existence never leaks.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from contest.errors import NotFoundError
from contest.i18n import gettext
from contest.intake.interfaces import InvalidEditTokenError, UnitNotAllowedError
from contest.models import ApiToken, Entry, Role, Unit, User
from contest.tokens import hash_token

# --- entrants and coordinators ------------------------------------------------------------
# An entrant has no account: the private link's edit token, with the receipt code, is what
# makes an entry theirs. A wrong token answers 403 (the receipt code alone is not secret: it
# shows the entry's status to anyone who has it), as it always has for clients of the API.


def may_hold_entry(entry: Entry, token: str | None) -> bool:
    """Whether ``token`` is this entry's edit token; only its hash is kept."""
    return bool(token) and hmac.compare_digest(hash_token(token or ""), entry.edit_token_hash)


def ensure_entry_holder(entry: Entry, token: str | None) -> None:
    """Reading the whole entry, editing, withdrawing, asking for re-marking, downloading the
    family's data: only with the entry's private link."""
    if not may_hold_entry(entry, token):
        raise InvalidEditTokenError(
            gettext(
                "This edit link is not valid for this entry. Use the link from your receipt, "
                "or ask the organisers."
            )
        )


def may_submit_for_unit(user: User | None, unit: Unit, *, own_unit_ids: Iterable[int]) -> bool:
    """Anyone may enter for their own unit; signed in, an admin may submit for every unit and
    a coordinator for their own units and the classes inside them."""
    if user is None or user.role == Role.ADMIN:
        return True
    own = set(own_unit_ids)
    return unit.id in own or (unit.parent_id is not None and unit.parent_id in own)


async def submittable_units(
    session: AsyncSession, *, user: User | None, event_id: int
) -> list[Unit]:
    """The units of an event that ``user`` (None: an entrant) may submit entries for."""
    units = list(
        (
            await session.scalars(
                select(Unit).where(Unit.event_id == event_id).order_by(Unit.kind, Unit.name)
            )
        ).all()
    )
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
        raise UnitNotAllowedError(gettext("You may only submit entries for your own units."))


# --- signed-in users' own things ----------------------------------------------------------


def may_revoke_api_token(user: User, token: ApiToken | None) -> bool:
    return token is not None and token.user_id == user.id and token.revoked_at is None


def ensure_may_revoke_api_token(user: User, token: ApiToken | None) -> ApiToken:
    """Someone else's token, or one already revoked, answers as one that does not exist."""
    if token is None or not may_revoke_api_token(user, token):
        raise NotFoundError()
    return token
