"""How far a long operation has got: the one callback shape jobs, commands and pages share.

A service that works through many rows takes ``progress`` and awaits it every batch with the
rows done and the rows in all; a job stores it on its row, the command line draws a bar.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Progress = Callable[[int, int], Awaitable[None]]


async def no_progress(done: int, total: int) -> None:
    """For callers that do not watch."""
