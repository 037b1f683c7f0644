"""Scores from rubric points: pure functions over plain data.

A judge's total for an entry is computed here and nowhere else: the weighted sum of the points
given per criterion, rescaled so that full marks on every criterion give the rubric's total of
maximum points (weights shift importance between criteria, not the scale).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

# Points are given in half steps on paper rubrics; finer steps are noise.
POINT_STEP = 0.5


@dataclass(frozen=True, slots=True)
class RubricRow:
    key: str
    max_points: float
    weight: float = 1.0


class PointsError(ValueError):
    """Criterion key → a code of what is wrong: "required", "not_a_number", "out_of_range",
    "step", "unknown"."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(problems)
        self.problems = problems


def rubric_total(rubric: Sequence[RubricRow]) -> float:
    return sum(row.max_points for row in rubric)


def check_points(
    rubric: Sequence[RubricRow], points: Mapping[str, object], *, complete: bool
) -> dict[str, float]:
    """Clean points per criterion; every criterion is required when ``complete`` (on submit)."""
    problems: dict[str, str] = {}
    clean: dict[str, float] = {}
    known = {row.key for row in rubric}
    for key in points:
        if key not in known:
            problems[key] = "unknown"
    for row in rubric:
        raw = points.get(row.key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if complete:
                problems[row.key] = "required"
            continue
        try:
            value = float(str(raw).strip().replace(",", ".")) if not isinstance(raw, bool) else None
        except ValueError:
            value = None
        if value is None or not math.isfinite(value):
            problems[row.key] = "not_a_number"
        elif not 0 <= value <= row.max_points:
            problems[row.key] = "out_of_range"
        elif abs(value / POINT_STEP - round(value / POINT_STEP)) > 1e-9:
            problems[row.key] = "step"
        else:
            clean[row.key] = value
    if problems:
        raise PointsError(problems)
    return clean


def weighted_total(rubric: Sequence[RubricRow], points: Mapping[str, float]) -> float:
    """The one place a judge's total is computed (see the module's docstring)."""
    total_max = rubric_total(rubric)
    weighted_max = sum(row.max_points * row.weight for row in rubric)
    if total_max <= 0 or weighted_max <= 0:
        return 0.0
    weighted = sum(points.get(row.key, 0.0) * row.weight for row in rubric)
    return round(weighted * total_max / weighted_max, 4)


def spread(totals: Sequence[float]) -> float:
    """How far apart the judges of one entry are: highest total minus lowest."""
    return max(totals) - min(totals) if len(totals) > 1 else 0.0


# --- from judges' totals to a ranking ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JudgeTotal:
    entry_id: int
    judge_id: int
    total: float
    # Points on the rubric's first criterion: the second tie-break (see ``rank``).
    first_criterion: float = 0.0


@dataclass(frozen=True, slots=True)
class EntryScore:
    entry_id: int
    final: float  # the aggregated score, in the rubric's points
    raw_mean: float  # the plain mean of the judges' totals, shown beside it
    judges: int
    first_criterion: float


AGGREGATIONS = ("mean", "median", "trimmed_mean", "normalised")
# How many entries a judge must score before their leniency counts at half weight.
DEFAULT_SHRINKAGE = 5.0


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


@dataclass(frozen=True, slots=True)
class Moments:
    """Totals summed up: how many, their mean, and the sum of their squared deviations from
    that mean (what a judge's leniency and spread are estimated from; a database can add
    these up as well as Python)."""

    count: int
    mean: float
    squares: float

    @property
    def sd(self) -> float:
        return float((self.squares / self.count) ** 0.5)


def moments(values: Sequence[float]) -> Moments:
    mean = _mean(values)
    return Moments(len(values), mean, sum((v - mean) ** 2 for v in values))


@dataclass(frozen=True, slots=True)
class Normalisation:
    """The panel's mean and each judge's (offset, scale), shrunk toward (0, 1)."""

    grand_mean: float
    adjustments: Mapping[int, tuple[float, float]]

    def adjusted(self, judge_id: int, total: float) -> float:
        offset, scale = self.adjustments[judge_id]
        return self.grand_mean + (total - self.grand_mean - offset) / scale


def normalisation(
    grand: Moments, judges: Mapping[int, Moments], shrinkage: float = DEFAULT_SHRINKAGE
) -> Normalisation:
    """The normalised method's adjustments from the moments of every total of the round
    (``grand``) and of each judge's totals."""
    grand_sd = grand.sd
    adjustments = {}
    for judge_id, own in judges.items():
        n = own.count
        sd = own.sd
        # A judge seen on few entries tells little about their leniency: their offset and
        # spread are pulled toward the panel's (offset 0, scale 1) in proportion.
        weight = n / (n + shrinkage)
        offset = (own.mean - grand.mean) * weight
        scale = 1.0 if grand_sd == 0 or sd == 0 else (sd / grand_sd) * weight + (1 - weight)
        adjustments[judge_id] = (offset, scale)
    return Normalisation(grand.mean, adjustments)


def entry_score(
    entry_id: int,
    totals: Sequence[float],
    firsts: Sequence[float],
    *,
    method: str,
    max_total: float,
    judges: Sequence[int] = (),
    normalised: Normalisation | None = None,
) -> EntryScore:
    """One entry's final score from its judges' totals (and each total's judge and points on
    the first criterion, in the same order), by ``method`` (see ``aggregate``); the normalised
    method needs the round's ``normalised`` adjustments."""
    if method == "mean":
        final = _mean(totals)
    elif method == "median":
        final = _median(totals)
    elif method == "trimmed_mean":
        final = _mean(sorted(totals)[1:-1]) if len(totals) >= 3 else _mean(totals)
    elif method == "normalised":
        if normalised is None:
            raise ValueError("the normalised method needs the round's adjustments")
        final = _mean([normalised.adjusted(j, t) for j, t in zip(judges, totals, strict=True)])
    else:
        raise ValueError(f"unknown aggregation {method!r}")
    return EntryScore(
        entry_id=entry_id,
        final=round(min(max(final, 0.0), max_total), 4),
        raw_mean=round(_mean(totals), 4),
        judges=len(totals),
        first_criterion=round(_mean(firsts), 4),
    )


def aggregate(
    totals: Sequence[JudgeTotal],
    *,
    method: str,
    max_total: float,
    shrinkage: float = DEFAULT_SHRINKAGE,
) -> dict[int, EntryScore]:
    """Each entry's final score from its judges' totals, by the contest's method.

    - mean, median: of the judges' totals;
    - trimmed_mean: the highest and the lowest total dropped when there are at least three;
    - normalised: each judge's leniency (mean offset from the panel) and spread are estimated
      over everything the judge scored, shrunk toward the panel's for judges with few entries,
      and taken out: x' = grand_mean + (x - grand_mean - offset) / scale; the entry's final
      score is the mean of its adjusted totals, kept within 0 and the rubric's maximum.
    """
    if method not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {method!r}")
    if not totals:
        return {}
    by_entry: dict[int, list[JudgeTotal]] = {}
    for t in totals:
        by_entry.setdefault(t.entry_id, []).append(t)
    normalised = None
    if method == "normalised":
        by_judge: dict[int, list[float]] = {}
        for t in totals:
            by_judge.setdefault(t.judge_id, []).append(t.total)
        normalised = normalisation(
            moments([t.total for t in totals]),
            {judge_id: moments(values) for judge_id, values in by_judge.items()},
            shrinkage,
        )
    return {
        entry_id: entry_score(
            entry_id,
            [r.total for r in rows],
            [r.first_criterion for r in rows],
            judges=[r.judge_id for r in rows],
            method=method,
            max_total=max_total,
            normalised=normalised,
        )
        for entry_id, rows in by_entry.items()
    }


@dataclass(frozen=True, slots=True)
class Ranked:
    entry_id: int
    rank: int
    score: EntryScore


def rank_key(score: EntryScore) -> tuple[float, float, float]:
    """What the tie rule compares (see ``rank``), best highest."""
    return (round(score.final, 2), round(score.raw_mean, 2), round(score.first_criterion, 2))


def rank(scores: Sequence[EntryScore]) -> list[Ranked]:
    """Rank one division, best first.

    The tie rule: entries are ordered by final score rounded to two decimals; where equal, by
    the plain mean of the judges' totals; where still equal, by the mean points on the rubric's
    first criterion (organisers put the weightiest criterion first). Entries equal on all three
    share a rank, and the next rank is skipped (1, 2, 2, 4).
    """
    ordered = sorted(scores, key=lambda s: (tuple(-v for v in rank_key(s)), s.entry_id))
    ranked: list[Ranked] = []
    for position, score in enumerate(ordered, start=1):
        if ranked and rank_key(ranked[-1].score) == rank_key(score):
            ranked.append(Ranked(score.entry_id, ranked[-1].rank, score))
        else:
            ranked.append(Ranked(score.entry_id, position, score))
    return ranked


# The prize ladder, best first, as contest.models.Prize spells it (this module stays free of the
# app; tests/test_layers.py checks the two agree).
PRIZE_ORDER = ("first", "second", "third", "honourable")


class Placed(Protocol):
    """An entry's place in its division's ranking (a ``Ranked``, or a row read back)."""

    @property
    def entry_id(self) -> int: ...

    @property
    def rank(self) -> int: ...


def prizes_by_count(ranked: Sequence[Placed], tiers: Mapping[str, int]) -> dict[int, str]:
    """Tiers filled in rank order with the given number of prizes each.

    Entries that share a rank share its tier, even past the tier's count: a tie is never split
    by chance. A tier with a count of 0 stays empty.
    """
    awards: dict[int, str] = {}
    index = 0
    for tier in PRIZE_ORDER:
        count = int(tiers.get(tier, 0))
        given = 0
        while index < len(ranked) and given < count:
            current_rank = ranked[index].rank
            while index < len(ranked) and ranked[index].rank == current_rank:
                awards[ranked[index].entry_id] = tier
                index += 1
                given += 1
    return awards


def ranks_for_count(tiers: Mapping[str, int]) -> int:
    """How many of a division's best ranks ``prizes_by_count`` can reach: each tier takes
    whole ranks, at most one per prize it has, so the entries of the first this many distinct
    ranks decide every prize, and those below them win none."""
    return sum(max(0, int(tiers.get(tier, 0))) for tier in PRIZE_ORDER)


def prize_by_threshold(final: float, thresholds: Mapping[str, float]) -> str | None:
    """The best tier whose minimum final score is reached; None when no tier's is."""
    for tier in PRIZE_ORDER:
        minimum = thresholds.get(tier)
        if minimum is not None and final >= float(minimum):
            return tier
    return None


def prizes_by_threshold(
    ranked: Sequence[Ranked], thresholds: Mapping[str, float]
) -> dict[int, str]:
    """The best tier whose minimum final score the entry reaches; tiers without a minimum, or
    that nobody reaches, stay empty."""
    awards: dict[int, str] = {}
    for item in ranked:
        tier = prize_by_threshold(item.score.final, thresholds)
        if tier is not None:
            awards[item.entry_id] = tier
    return awards


@dataclass(frozen=True, slots=True)
class UnitStanding:
    """A unit's place in the units' table: its entries, their prizes and the prize points."""

    unit_id: int
    entries: int
    prizes: int
    prize_points: int  # first 4, second 3, third 2, honourable 1


PRIZE_POINTS = {tier: len(PRIZE_ORDER) - i for i, tier in enumerate(PRIZE_ORDER)}


def unit_standings(entry_units: Mapping[int, int], awards: Mapping[int, str]) -> list[UnitStanding]:
    """Collective results per unit (usually per school): entries sent, prizes won, and prize
    points; sorted by prize points, then prizes, then entries."""
    entries: dict[int, int] = {}
    tiers: dict[int, dict[str, int]] = {}
    for entry_id, unit_id in entry_units.items():
        entries[unit_id] = entries.get(unit_id, 0) + 1
        if entry_id in awards:
            won = tiers.setdefault(unit_id, {})
            won[awards[entry_id]] = won.get(awards[entry_id], 0) + 1
    return unit_standings_of_counts(entries, tiers)


def unit_standings_of_counts(
    entries: Mapping[int, int], tiers: Mapping[int, Mapping[str, int]]
) -> list[UnitStanding]:
    """``unit_standings`` from counts already made (by the database): entries per unit, and
    prizes per unit and tier. Only units with entries stand."""
    standings = []
    for unit_id, sent in entries.items():
        won = tiers.get(unit_id, {})
        points = sum(PRIZE_POINTS[tier] * count for tier, count in won.items())
        standings.append(UnitStanding(unit_id, sent, sum(won.values()), points))
    return sorted(standings, key=lambda s: (-s.prize_points, -s.prizes, -s.entries, s.unit_id))


# --- many entries at once ----------------------------------------------------------------------
#
# ``entry_scores`` gives, for a batch of entries, exactly what ``entry_score``, ``rank_key`` and
# ``prize_by_threshold`` give each of them, computed over arrays: the same IEEE operations in
# the same order (Python's ``sum`` adds left to right, and from 3.12 on with Neumaier's
# compensation, which is repeated here), and Python's correctly rounded ``round``.


@dataclass(frozen=True, slots=True)
class EntryScores:
    """The scores of a batch of entries, one element an entry, in the batch's order."""

    entry_ids: npt.NDArray[np.int64]
    final: npt.NDArray[np.float64]
    raw_mean: npt.NDArray[np.float64]
    judges: npt.NDArray[np.int64]
    first_criterion: npt.NDArray[np.float64]

    def rank_keys(self) -> tuple[npt.NDArray[np.float64], ...]:
        """``rank_key`` of each."""
        return (
            round_half_even(self.final, 2),
            round_half_even(self.raw_mean, 2),
            round_half_even(self.first_criterion, 2),
        )

    def prizes(self, thresholds: Mapping[str, float]) -> list[str | None]:
        """``prize_by_threshold`` of each final score."""
        prize = np.full(len(self.final), -1, dtype=np.int64)
        for position in range(len(PRIZE_ORDER) - 1, -1, -1):
            minimum = thresholds.get(PRIZE_ORDER[position])
            if minimum is not None:
                prize[self.final >= float(minimum)] = position
        names: list[str | None] = [*PRIZE_ORDER, None]
        return [names[p] for p in prize.tolist()]


# A product x·10ⁿ this close to a half may be rounded the wrong way by the multiplication's
# own error (far more than the few ulps that error is): those are left to Python's round().
_HALF_MARGIN = 1e-7


def round_half_even(values: npt.NDArray[np.float64], digits: int) -> npt.NDArray[np.float64]:
    """``round(v, digits)`` of each value, exactly as Python gives it: the nearest of the
    decimals with ``digits`` places to the value (half to even), as a float. Away from a half,
    rint of the product is that decimal's numerator, and dividing it by 10ⁿ (both exact) gives
    the float nearest to the decimal, as Python's round does."""
    scale = 10.0**digits
    scaled = values * scale
    rounded: npt.NDArray[np.float64] = np.rint(scaled) / scale
    margin = np.maximum(_HALF_MARGIN, np.abs(scaled) * 1e-13)
    near_half = np.abs(scaled - np.floor(scaled) - 0.5) < margin
    for index in np.flatnonzero(near_half | ~np.isfinite(scaled)).tolist():
        rounded[index] = round(float(values[index]), digits)
    return rounded


_COMPENSATED_SUM = sys.version_info >= (3, 12)


def _row_sums(columns: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Python's ``sum`` of each row, left to right (the start, integer 0, plus the first)."""
    result: npt.NDArray[np.float64] = columns[:, 0] + 0.0
    if not _COMPENSATED_SUM:
        for j in range(1, columns.shape[1]):
            result = result + columns[:, j]
        return result
    compensation = np.zeros_like(result)
    for j in range(1, columns.shape[1]):
        x = columns[:, j]
        t = result + x
        compensation += np.where(np.abs(result) >= np.abs(x), (result - t) + x, (x - t) + result)
        result = t
    # Python adds a non-zero, finite compensation only.
    add = (compensation != 0) & np.isfinite(compensation)
    return np.where(add, result + compensation, result)


def _row_means(columns: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    means: npt.NDArray[np.float64] = _row_sums(columns) / float(columns.shape[1])
    return means


def entry_scores(
    entry_ids: npt.NDArray[np.int64],
    totals: npt.NDArray[np.float64],
    firsts: npt.NDArray[np.float64],
    *,
    method: str,
    max_total: float,
    judges: npt.NDArray[np.int64] | None = None,
    normalised: Normalisation | None = None,
) -> EntryScores:
    """``entry_score`` of each entry of a batch, given as one row per total: each entry's
    rows consecutive and in the order ``entry_score`` would take them (``judges``, the judge of
    each total, for the normalised method). Entries come out in the order of their rows."""
    if method not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {method!r}")
    if method == "normalised" and (normalised is None or judges is None):
        raise ValueError("the normalised method needs the round's adjustments")
    rows = len(entry_ids)
    starts = np.flatnonzero(np.r_[True, entry_ids[1:] != entry_ids[:-1]]) if rows else np.r_[0][:0]
    counts = np.diff(np.r_[starts, rows])
    final = np.empty(len(starts))
    raw_mean = np.empty(len(starts))
    first_criterion = np.empty(len(starts))
    values = totals
    if method == "normalised":
        assert normalised is not None and judges is not None
        known = np.array(sorted(normalised.adjustments), dtype=np.int64)
        offsets = np.array([normalised.adjustments[j][0] for j in known.tolist()])
        scales = np.array([normalised.adjustments[j][1] for j in known.tolist()])
        at = np.searchsorted(known, judges)
        if len(judges) and (
            np.any(at >= len(known)) or np.any(known[np.minimum(at, len(known) - 1)] != judges)
        ):
            raise KeyError("a judge without the round's adjustment")
        grand = normalised.grand_mean
        values = grand + ((totals - grand) - offsets[at]) / scales[at]
    for count in np.unique(counts).tolist():
        which = np.flatnonzero(counts == count)
        where = starts[which][:, None] + np.arange(count)
        own = totals[where]
        if method == "mean" or method == "normalised":
            final[which] = _row_means(values[where])
        elif method == "median":
            ordered = np.sort(own, axis=1)
            middle = count // 2
            final[which] = (
                ordered[:, middle]
                if count % 2
                else (ordered[:, middle - 1] + ordered[:, middle]) / 2
            )
        elif count >= 3:
            final[which] = _row_means(np.sort(own, axis=1)[:, 1:-1])
        else:
            final[which] = _row_means(own)
        raw_mean[which] = _row_means(own)
        first_criterion[which] = _row_means(firsts[where])
    # min(max(final, 0.0), max_total) as Python's min and max choose.
    kept = np.where(final < 0.0, 0.0, final)
    kept = np.where(max_total < kept, max_total, kept)
    return EntryScores(
        entry_ids=entry_ids[starts].astype(np.int64),
        final=round_half_even(kept, 4),
        raw_mean=round_half_even(raw_mean, 4),
        judges=counts.astype(np.int64),
        first_criterion=round_half_even(first_criterion, 4),
    )
