"""A division's media rules as they apply to an entry: what it takes, its word limit and the
length of its videos, on top of its contest's own; and the same said to people, for the
pages that tell an entrant before they send."""

from __future__ import annotations

from typing import Any

from contest.files.kinds import TYPED, division_accepts_label, kinds_accepted
from contest.i18n import format_duration_range, format_number, gettext
from contest.models import Contest, ContestKind, Division


def takes_typed_text(contest: Contest, division: Division | None) -> bool:
    """Whether an entry may be typed in: a writing contest's, unless its division's rules
    list what it accepts without typed text."""
    accepts = division.accepts if division is not None else []
    return contest.kind == ContestKind.WRITING and (not accepts or TYPED in accepts)


def word_limit(contest: Contest, division: Division | None) -> int | None:
    """The word limit of typed text: the contest's, or its division's when that is lower."""
    limits = [contest.max_words, division.max_words if division is not None else None]
    return min((n for n in limits if n), default=None)


def division_policy(contest: Contest, division: Division) -> dict[str, Any]:
    """The rules an entry to the division is checked against, for the API: the contest's
    where the division sets none."""
    return {
        "allowed_types": kinds_accepted(division.accepts, contest.allowed_types),
        "typed_text": takes_typed_text(contest, division),
        "max_words": word_limit(contest, division),
        "min_seconds": division.min_seconds,
        "max_seconds": division.max_seconds,
    }


def rules_text(contest: Contest, division: Division) -> list[str]:
    """What the division asks for beyond its contest, one sentence each (none without rules
    of its own)."""
    lines: list[str] = []
    if division.accepts:
        lines.append(
            gettext(
                "Send: %(types)s",
                types=division_accepts_label(division.accepts, contest.allowed_types),
            )
        )
    if division.max_words and takes_typed_text(contest, division):
        limit = word_limit(contest, division)
        lines.append(gettext("At most %(words)s words", words=format_number(limit or 0)))
    if division.min_seconds is not None or division.max_seconds is not None:
        lines.append(
            gettext(
                "Videos of %(range)s",
                range=format_duration_range(division.min_seconds, division.max_seconds),
            )
        )
    return lines


def division_rules(contest: Contest) -> dict[int, list[str]]:
    """``rules_text`` of each of the contest's divisions that has rules of its own."""
    return {d.id: lines for d in contest.divisions if (lines := rules_text(contest, d))}


def division_word_limits(contest: Contest) -> list[dict[str, int | None]]:
    """For the form's live word count: each division's ages and the word limit of its typed
    text (None where it takes none), so that the count follows the division the age or grade
    picks, as ``contest.intake.services.pick_division`` picks it on the server."""
    return [
        {
            "min_age": d.min_age,
            "max_age": d.max_age,
            "position": d.position,
            "words": word_limit(contest, d) if takes_typed_text(contest, d) else None,
        }
        for d in contest.divisions
    ]
