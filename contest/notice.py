"""The privacy notice every submission agrees to: its wording's version, the field that carries
the agreement, and the values that say yes. Intake checks it; privacy shows and exports it.

It also holds the rule for a name in public (Law 91/2025/QH15, Decree 356/2025/NĐ-CP): the
guardian chooses for a minor, and a child aged 7 or over must agree too, in a field of their own
(a withdrawal makes the choice hidden). ``name_consent`` is the one place that decides it."""

from __future__ import annotations

from typing import Protocol

from contest.models import Consent

# The privacy notice's wording. Change it whenever the notice says something new: each entrant
# keeps the version they (or their guardian) agreed to.
AGREEMENT_VERSION = "2026-12"
# The submission field (form, API, bulk CSV column) that carries the agreement.
AGREEMENT_FIELD = "agreement"
# The submission field (form, API, bulk CSV column) that carries a child's own consent to their
# name being shown.
CHILD_CONSENT_FIELD = "child_consent"
# From this age a child's own consent is asked beside the guardian's (Decree 356/2025/NĐ-CP).
CHILD_CONSENT_AGE = 7
# What a ticked box, an API client or a spreadsheet cell may send to say "agreed".
AGREEING_VALUES = frozenset({"1", "x", "yes", "y", "true", "on", "agreed", "co", "có", "đồng ý"})


def agreed(value: str | None) -> bool:
    """Whether a submitted agreement value says yes."""
    return (value or "").strip().casefold() in AGREEING_VALUES


def needs_child_consent(*, age: int | None, is_minor: bool) -> bool:
    """Whether showing this entrant's name needs the child's own consent too."""
    return is_minor and age is not None and age >= CHILD_CONSENT_AGE


class NamedPerson(Protocol):
    @property
    def consent(self) -> Consent: ...
    @property
    def age(self) -> int | None: ...
    @property
    def is_minor(self) -> bool: ...
    @property
    def child_consent_at(self) -> object: ...


def name_consent(entrant: NamedPerson) -> Consent:
    """How the entrant's name may appear in public now: as chosen, except hidden for a child of
    7 to 17 whose own consent is not recorded (entrants stored before it was asked, too)."""
    missing_child = entrant.child_consent_at is None and needs_child_consent(
        age=entrant.age, is_minor=entrant.is_minor
    )
    if missing_child:
        return Consent.HIDDEN
    return Consent(entrant.consent)
