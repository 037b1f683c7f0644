from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from contest.errors import ConflictError, InvalidError, NotFoundError
from contest.i18n import N_, gettext
from contest.pagination import Page

# Entries whose judges' totals differ by more than this share of the rubric's maximum are
# flagged for another look.
DISAGREEMENT_SHARE = 0.3


class AssignmentNotFoundError(NotFoundError):
    """Not assigned to this judge (or does not exist): the judge sees a 404 either way."""

    default_message = N_("This entry is not in your list.")


class RoundClosedError(ConflictError):
    default_message = N_("Judging of this round is closed: scores can no longer be changed.")


class ContestNotJudgeableError(ConflictError):
    default_message = N_("There is no round to shortlist from yet.")


class ReassignRefusedError(ConflictError):
    """The organiser's reassignment cannot be made; nothing changed."""

    default_message = N_(
        "This assignment cannot go to that judge (finished, in conflict, "
        "or already judging the entry)."
    )


# What is wrong with a criterion's points, by judging.scoring.PointsError's codes.
POINT_MESSAGES = {
    "required": N_("Give points for this criterion before submitting."),
    "not_a_number": N_("Enter a number."),
    "out_of_range": N_("Enter points from 0 to the criterion's maximum."),
    "step": N_("Use whole or half points."),
    "unknown": N_("This criterion is not in the rubric."),
}


class ScoreInvalidError(InvalidError):
    """judging.scoring.PointsError as the visitor reads it: ``fields`` maps each criterion's
    key to what is wrong with its points (the API's shape); a form prefixes ``points.``."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__(
            gettext("Some points need correcting."),
            fields={key: gettext(POINT_MESSAGES[code]) for key, code in problems.items()},
        )

    def form_errors(self) -> dict[str, str]:
        return {f"points.{key}": message for key, message in self.fields.items()}


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
    """A judge's row on the progress page: assigned, done, drafts and overdue."""

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
    judges: list[JudgeProgress]  # the page of judges asked for
    flagged: list[tuple[int, list[float]]]  # (entry id, judges' totals): the first page
    judges_page: Page[JudgeProgress] | None = None
    flagged_more: bool = False  # more entries disagree than ``flagged`` holds
