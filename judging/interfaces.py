from __future__ import annotations

from dataclasses import dataclass, field

# Entries whose judges' totals differ by more than this share of the rubric's maximum are
# flagged for another look.
DISAGREEMENT_SHARE = 0.3


class AssignmentNotFoundError(Exception):
    """Not assigned to this judge (or does not exist): the judge sees a 404 either way."""


class RoundClosedError(Exception):
    pass


class ContestNotJudgeableError(Exception):
    pass


@dataclass
class AssignmentReport:
    round_number: int
    entries: int
    judges: int
    new_assignments: int
    # Entry id → (missing judges, reason code, eligible judges).
    shortfalls: dict[int, tuple[int, str, int]] = field(default_factory=dict)


@dataclass
class JudgeProgress:
    judge_id: int
    name: str
    assigned: int = 0
    done: int = 0
    drafts: int = 0
    overdue: int = 0


@dataclass
class ContestProgress:
    round_number: int | None
    round_open: bool
    entries: int
    assigned: int
    done: int
    judges: list[JudgeProgress]
    flagged: list[tuple[int, list[float]]]  # (entry id, judges' totals)
