from __future__ import annotations

import enum
from datetime import timedelta

# A deadline this close is announced as "closing soon".
CLOSING_SOON = timedelta(days=3)


class Phase(enum.StrEnum):
    """Where a contest's submission window stands at a given moment."""

    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSING_SOON = "closing_soon"
    CLOSED = "closed"


class ContestNotFoundError(Exception):
    pass
