"""Comparative judgement: judges see two entries side by side and pick the better; a
Bradley-Terry model turns the picks into a scale.

Pure functions over entry and judge ids (numpy and the standard library only), as
``judging.scoring`` is for the rubric:

- ``plan_pairs``: which pairs are compared, chosen before any judgement (non-adaptive): in each
  of ``per_entry`` rounds the entries are shuffled and paired off, so every entry is compared
  about ``per_entry`` times and no pair comes twice while another choice exists. Given the
  entries' scores from the round before (``prior``), most rounds pair entries whose scores are
  close instead (a comparison of near equals tells the most), and the rest stay random, which
  keeps the comparison graph connected and the scale anchored across its whole range.
- ``share_pairs``: the pairs given out to judges, each to the least-loaded judge allowed to see
  both entries (a conflict of interest excludes a judge from a pair), loads within one.
- ``fit``: each entry's strength (logits, mean 0), its standard error, the reliability of
  the whole scale (the share of the strengths' spread that is not measurement error, reckoned
  for strengths drawn in by the prior below: 0.8 and over is the usual bar for a ranking to be
  trusted), and each judge's infit
  (their picks' squared surprises over what the model expected: about 1 for a consistent judge,
  well over 1 for one who picks against the consensus or at random).

The fit is the minorise-maximise algorithm of Hunter (2004) with a weak prior: every entry
also draws half a win and half a loss against an entry of strength 0, so an entry that won (or
lost) every comparison still gets a finite strength and standard error.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from judging.loads import LeastLoaded

# The prior's weight: half a win and half a loss against a virtual entry of strength 0.
PRIOR_GAMES = 1.0
# A judge whose infit is above this is shown to the organiser as inconsistent.
INFIT_WARNING = 1.3
# With prior scores: the share of rounds still paired at random (at least one).
RANDOM_SHARE = 0.5
# With prior scores: how far, in standard deviations of the scores, each round's order is
# shaken before near neighbours are paired (so that rounds do not repeat the same pairs). A
# whole standard deviation, not half: partners still close but not the very nearest tie the
# scale together over longer reaches, so the fitted order is truer (bench/fairness.py: its
# squared correlation with the true quality 0.820 against 0.811 at 10 comparisons per entry,
# 0.654 against 0.595 at 5) and the errors, reckoned entry by entry, no longer overstate the
# reliability of a scale made of short chains (reported 0.820 at 10 and 0.653 at 5; 0.828 and
# 0.659 with half a standard deviation).
PRIOR_JITTER = 1.0


@dataclass(frozen=True, slots=True)
class Comparison:
    """One judgement of a pair: which judge chose which entry over which."""

    judge: int
    winner: int
    loser: int


@dataclass(frozen=True)
class Fit:
    strength: dict[int, float]
    standard_error: dict[int, float]
    comparisons: dict[int, int]
    reliability: float
    judge_infit: dict[int, float]
    iterations: int

    def ranking(self) -> list[int]:
        """Entries from the strongest down; equal strengths keep the lower id first."""
        return sorted(self.strength, key=lambda entry: (-self.strength[entry], entry))


def plan_pairs(
    entries: Sequence[int],
    *,
    per_entry: int,
    seed: int = 0,
    prior: Mapping[int, float] | None = None,
) -> list[tuple[int, int]]:
    """The pairs to compare, fixed in advance: ``per_entry`` rounds, each pairing off all the
    entries, so that each is compared exactly ``per_entry`` times. With an odd count one entry
    sits each round out, a different one each time, and the two who sat out two rounds in a
    row meet each other; when ``per_entry`` is odd too, the last to sit out meets a random
    other, the one entry compared once more than the rest (the count cannot be even).

    Without ``prior`` each round is a random pairing: each entry is paired with the next one
    in the shuffled order that it has not met yet; a pair comes twice only when an entry has
    met every other one. With ``prior`` (a score per entry from the round before; entries
    without one count as the median; scores all equal count as none), RANDOM_SHARE of the
    rounds are such random pairings and the others pair near neighbours in the order of the
    scores, shaken each round (PRIOR_JITTER): each entry meets the nearest below it
    that it has not met yet."""
    items = list(dict.fromkeys(entries))
    if len(items) < 2:
        raise ValueError("comparative judgement needs at least two entries")
    if per_entry < 1:
        raise ValueError("each entry needs at least one comparison")
    rng = random.Random(seed)  # noqa: S311 - a plan, not a secret
    met: Counter[frozenset[int]] = Counter()
    pairs: list[tuple[int, int]] = []
    local_rounds = 0
    scores: dict[int, float] = {}
    spread = 0.0
    if prior is not None:
        known = sorted(float(prior[e]) for e in items if e in prior)
        middle = known[len(known) // 2] if known else 0.0
        scores = {e: float(prior.get(e, middle)) for e in items}
        spread = float(np.std(list(scores.values())))
        random_rounds = max(1, round(per_entry * RANDOM_SHARE))
        # Scores all equal say nothing about who is close: every round stays random.
        local_rounds = max(0, per_entry - random_rounds) if spread > 0 else 0
    # With an odd count: who sits each round out, in turn.
    resting_order = items[:] if len(items) % 2 else []
    rng.shuffle(resting_order)
    resting: int | None = None
    for number in range(per_entry):
        round_start = len(pairs)
        before, resting = (
            resting,
            (resting_order[number % len(resting_order)] if resting_order else None),
        )
        members = [e for e in items if e != resting]
        if number < local_rounds:
            shaken = {e: scores[e] + rng.gauss(0.0, PRIOR_JITTER * spread) for e in members}
            _pair_neighbours(pairs, met, sorted(members, key=lambda e: -shaken[e]))
        else:
            _pair_randomly(pairs, met, members, rng)
        if resting is not None and before is not None and number % 2:
            _pair_anew(pairs, met, round_start, before, resting)
        elif resting is not None and number == per_entry - 1:
            _pair_spare(pairs, met, items, resting, rng)
    return pairs


def _pair_randomly(
    pairs: list[tuple[int, int]],
    met: Counter[frozenset[int]],
    members: Sequence[int],
    rng: random.Random,
) -> None:
    """One random round of an even count: in a shuffled order, each entry meets the next one
    that it has not met; where it has met all of them, it swaps partners with a pair of the
    round."""
    round_start = len(pairs)
    waiting = list(members)
    rng.shuffle(waiting)
    while len(waiting) >= 2:
        first = waiting.pop()
        # From the end, so that taking the partner out is cheap.
        at = next(
            (i for i in range(len(waiting) - 1, -1, -1) if not met[frozenset((first, waiting[i]))]),
            None,
        )
        if at is not None:
            second = waiting.pop(at)
            met[frozenset((first, second))] += 1
            pairs.append((first, second))
            continue
        second = waiting.pop()
        _pair_anew(pairs, met, round_start, first, second)


def _pair_spare(
    pairs: list[tuple[int, int]],
    met: Counter[frozenset[int]],
    items: Sequence[int],
    spare: int,
    rng: random.Random,
) -> None:
    """The entry who sat out the last round of an odd count meets a random other (one it has
    not met, while there is one)."""
    others = [e for e in items if e != spare and not met[frozenset((spare, e))]]
    partner = rng.choice(others or [e for e in items if e != spare])
    met[frozenset((spare, partner))] += 1
    pairs.append((spare, partner))


def _pair_neighbours(
    pairs: list[tuple[int, int]], met: Counter[frozenset[int]], ordered: list[int]
) -> None:
    """One round of near neighbours of an even count: down the order, each entry not yet
    paired meets the nearest below it not yet paired that it has not met; where it has met all
    of them (the end of the order), it swaps partners with a pair of the round, as random
    rounds do."""
    start = len(pairs)
    taken: set[int] = set()
    for position, first in enumerate(ordered):
        if first in taken:
            continue
        nearest: int | None = None
        second: int | None = None
        for other in ordered[position + 1 :]:
            if other in taken:
                continue
            if nearest is None:
                nearest = other
            if not met[frozenset((first, other))]:
                second = other
                break
        if nearest is None:
            raise ValueError("a round of near neighbours needs an even count")
        if second is None:
            taken.update((first, nearest))
            _pair_anew(pairs, met, start, first, nearest)
            continue
        taken.update((first, second))
        met[frozenset((first, second))] += 1
        pairs.append((first, second))


def _pair_anew(
    pairs: list[tuple[int, int]], met: Counter[frozenset[int]], start: int, a: int, b: int
) -> None:
    """Pair ``a`` and ``b``: as they are when they have not met, else swap partners with a
    pair made earlier in the round (from ``start``) when that makes two new pairs, else let
    them meet again."""
    if not met[frozenset((a, b))]:
        met[frozenset((a, b))] += 1
        pairs.append((a, b))
        return
    for j in range(start, len(pairs)):
        c, d = pairs[j]
        for x, y in ((c, d), (d, c)):
            if not met[frozenset((a, x))] and not met[frozenset((b, y))]:
                met[frozenset((c, d))] -= 1
                met.update((frozenset((a, x)), frozenset((b, y))))
                pairs[j] = (a, x)
                pairs.append((b, y))
                return
    met[frozenset((a, b))] += 1
    pairs.append((a, b))


def _both(
    may_judge: Callable[[int, int], bool] | None, left: int, right: int
) -> Callable[[int], bool]:
    def allowed(judge: int) -> bool:
        return may_judge is None or (may_judge(judge, left) and may_judge(judge, right))

    return allowed


def share_pairs(
    pairs: Iterable[tuple[int, int]],
    judges: Sequence[int],
    *,
    may_judge: Callable[[int, int], bool] | None = None,
) -> list[tuple[int, int, int]]:
    """(judge, left, right) for each pair: the least-loaded judge free to see both entries
    (``may_judge(judge, entry)``; everyone when None), the lowest id among equals. A pair
    that no judge may see raises ValueError."""
    if not judges:
        raise ValueError("comparative judgement needs at least one judge")
    loads = LeastLoaded((judge, 0) for judge in sorted(set(judges)))
    shared: list[tuple[int, int, int]] = []
    for left, right in pairs:
        judge = loads.take(_both(may_judge, left, right))
        if judge is None:
            raise ValueError(f"no judge may compare entries {left} and {right}")
        shared.append((judge, left, right))
    return shared


def _reliability(strength: np.ndarray, error: np.ndarray) -> float:
    """The share of the strengths' spread that is not measurement error.

    The strengths come from a fit with a prior, which draws each one towards the middle by as
    much as it is uncertain: their spread is already that of the true strengths less what the
    error took away, not the true spread plus the error, as it is for maximum likelihood. So the
    reliability is the strengths' variance over that variance plus the mean error variance (the
    expected-a-posteriori reliability of item response theory). The separation formula of
    maximum likelihood, (variance - mean error variance) / variance, would take the error off
    twice: on the simulated panel of bench/fairness.py, pairs at random, it says 0.42 at 5
    comparisons per entry and 0.74 at 10 where the strengths' squared correlation with the true
    quality is 0.67 and 0.81; this one says 0.63 and 0.79."""
    spread = float(np.var(strength))
    if spread <= 0:
        return 0.0
    return spread / (spread + float(np.mean(error**2)))


def fit(
    comparisons: Sequence[Comparison],
    *,
    entries: Iterable[int] = (),
    tolerance: float = 1e-9,
    max_iterations: int = 5000,
) -> Fit:
    """The Bradley-Terry scale of the entries compared (and of ``entries`` never compared,
    who sit at 0 with the prior's error alone)."""
    for c in comparisons:
        if c.winner == c.loser:
            raise ValueError(f"entry {c.winner} cannot be compared with itself")
    ids = sorted(set(entries) | {c.winner for c in comparisons} | {c.loser for c in comparisons})
    if not ids:
        raise ValueError("nothing to fit")
    index = {entry: i for i, entry in enumerate(ids)}
    n = len(ids)
    winner = np.fromiter((index[c.winner] for c in comparisons), dtype=np.int64)
    loser = np.fromiter((index[c.loser] for c in comparisons), dtype=np.int64)
    wins = np.bincount(winner, minlength=n) + PRIOR_GAMES / 2
    # Strengths as p = exp(theta); the virtual opponent has p = 1.
    p = np.ones(n)
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - the count is reported
        per_game = 1.0 / (p[winner] + p[loser])
        games = (
            np.bincount(winner, per_game, n)
            + np.bincount(loser, per_game, n)
            + PRIOR_GAMES / (p + 1.0)
        )
        updated = wins / games
        change = float(np.max(np.abs(np.log(updated) - np.log(p))))
        p = updated
        if change < tolerance:
            break
    theta = np.log(p)
    theta -= theta.mean()
    # Information: each game's p(1 - p) for both of its entries, and the prior's.
    chance = 1.0 / (1.0 + np.exp(theta[loser] - theta[winner]))  # P(the winner wins)
    variance = chance * (1.0 - chance)
    prior = 1.0 / (1.0 + np.exp(-theta))
    information = (
        np.bincount(winner, variance, n)
        + np.bincount(loser, variance, n)
        + PRIOR_GAMES * prior * (1.0 - prior)
    )
    error = 1.0 / np.sqrt(information)
    reliability = _reliability(theta, error)
    judge_ids = np.fromiter((c.judge for c in comparisons), dtype=np.int64)
    infit: dict[int, float] = {}
    for judge in sorted(set(judge_ids.tolist())):
        mine = judge_ids == judge
        infit[judge] = float(np.sum((1.0 - chance[mine]) ** 2) / np.sum(variance[mine]))
    counts = np.bincount(winner, minlength=n) + np.bincount(loser, minlength=n)
    return Fit(
        strength={entry: float(theta[i]) for entry, i in index.items()},
        standard_error={entry: float(error[i]) for entry, i in index.items()},
        comparisons={entry: int(counts[i]) for entry, i in index.items()},
        reliability=reliability,
        judge_infit=infit,
        iterations=iterations,
    )
