"""The privacy notice every submission agrees to: its wording's version, the field that carries
the agreement, and the values that say yes. Intake checks it; privacy shows and exports it."""

from __future__ import annotations

# The privacy notice's wording. Change it whenever the notice says something new: each entrant
# keeps the version they (or their guardian) agreed to.
AGREEMENT_VERSION = "2026-11"
# The submission field (form, API, bulk CSV column) that carries the agreement.
AGREEMENT_FIELD = "agreement"
# What a ticked box, an API client or a spreadsheet cell may send to say "agreed".
AGREEING_VALUES = frozenset({"1", "x", "yes", "y", "true", "on", "agreed", "co", "có", "đồng ý"})


def agreed(value: str | None) -> bool:
    """Whether a submitted agreement value says yes."""
    return (value or "").strip().casefold() in AGREEING_VALUES
