"""Work given out one piece at a time: each piece to the least-loaded judge who may take it.

Pure, like ``judging.assignment`` (which places a whole round at once): for the pairs of a
comparative final and for the work of a judge who did not come.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable


class LeastLoaded:
    """Judges by their load; the lowest id first among equal loads."""

    def __init__(self, loads: Iterable[tuple[int, int]]) -> None:
        self._heap = [(load, judge) for judge, load in loads]
        heapq.heapify(self._heap)

    def take(self, allowed: Callable[[int], bool]) -> int | None:
        """The least-loaded judge ``allowed`` lets take the piece, now one piece heavier; None
        when nobody may."""
        held: list[tuple[int, int]] = []
        chosen = None
        while self._heap:
            load, judge = heapq.heappop(self._heap)
            if allowed(judge):
                chosen = (load + 1, judge)
                break
            held.append((load, judge))
        for item in held:
            heapq.heappush(self._heap, item)
        if chosen is None:
            return None
        heapq.heappush(self._heap, chosen)
        return chosen[1]
