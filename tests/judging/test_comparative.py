"""Comparative judgement's pure parts: the pairs planned in advance, given out to judges, and
the Bradley-Terry fit with its errors, reliability and judges' infit."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from judging.comparative import INFIT_WARNING, Comparison, fit, plan_pairs, share_pairs


def test_every_entry_is_compared_as_often_as_planned_and_no_pair_comes_twice() -> None:
    entries = list(range(100, 160))
    pairs = plan_pairs(entries, per_entry=10, seed=3)
    assert len(pairs) == 60 * 10 // 2
    seen = Counter(entry for pair in pairs for entry in pair)
    assert set(seen) == set(entries) and set(seen.values()) == {10}
    assert all(a != b for a, b in pairs)
    assert len({frozenset(pair) for pair in pairs}) == len(pairs)
    # Fixed in advance: the same seed plans the same pairs.
    assert plan_pairs(entries, per_entry=10, seed=3) == pairs
    assert plan_pairs(entries, per_entry=10, seed=4) != pairs


@pytest.mark.parametrize("prior", [None, {e: float(e % 5) for e in range(301)}])
def test_an_odd_number_of_entries_still_gives_each_exactly_its_comparisons(
    prior: dict[int, float] | None,
) -> None:
    entries = list(range(301))
    pairs = plan_pairs(entries, per_entry=10, seed=1, prior=prior)
    # Each round one entry sits out, and the two who sat out two rounds in a row meet.
    seen = Counter(entry for pair in pairs for entry in pair)
    assert set(seen) == set(entries) and set(seen.values()) == {10}
    assert len(pairs) == 301 * 10 // 2
    assert len({frozenset(pair) for pair in pairs}) == len(pairs)
    assert _connected(entries, pairs)
    # An odd count of comparisons each cannot be even in total: one entry has one more.
    odd = Counter(entry for pair in plan_pairs(entries, per_entry=5, prior=prior) for entry in pair)
    assert sorted(Counter(odd.values()).items()) == [(5, 300), (6, 1)]
    small = Counter(entry for pair in plan_pairs(list(range(7)), per_entry=4) for entry in pair)
    assert set(small) == set(range(7)) and set(small.values()) == {4}


@pytest.mark.parametrize(
    ("entries", "per_entry"), [([1], 10), ([], 3), ([1, 2, 3], 0), ([1, 2], -1)]
)
def test_plans_that_cannot_be_made_are_refused(entries: list[int], per_entry: int) -> None:
    with pytest.raises(ValueError):
        plan_pairs(entries, per_entry=per_entry)


def _connected(entries: list[int], pairs: list[tuple[int, int]]) -> bool:
    links: dict[int, set[int]] = {e: set() for e in entries}
    for a, b in pairs:
        links[a].add(b)
        links[b].add(a)
    reached, todo = {entries[0]}, [entries[0]]
    while todo:
        for other in links[todo.pop()] - reached:
            reached.add(other)
            todo.append(other)
    return reached == set(entries)


def test_a_plan_informed_by_the_round_before_pairs_near_equals_and_stays_connected() -> None:
    rng = random.Random(5)
    entries = list(range(1, 301))
    prior = {entry: rng.gauss(6, 1.5) for entry in entries}
    # One entry without a score from the round before: placed at the median.
    del prior[17]
    informed = plan_pairs(entries, per_entry=10, seed=3, prior=prior)
    blind = plan_pairs(entries, per_entry=10, seed=3)
    assert len(informed) == len(blind) == 300 * 10 // 2
    seen = Counter(entry for pair in informed for entry in pair)
    assert set(seen) == set(entries) and set(seen.values()) == {10}
    assert all(a != b for a, b in informed)
    assert len({frozenset(pair) for pair in informed}) == len(informed)
    assert _connected(entries, informed)

    def gap(pairs: list[tuple[int, int]]) -> float:
        known = [(a, b) for a, b in pairs if a in prior and b in prior]
        return sum(abs(prior[a] - prior[b]) for a, b in known) / len(known)

    # The first half of the rounds pair neighbours in the order shaken by a standard deviation:
    # two entries side by side there differ by about 0.7 of a random pair's gap (sqrt(1/2) for
    # normal scores); the other rounds stay random, their gap within a few per cent of it.
    neighbours, rest = informed[: len(informed) // 2], informed[len(informed) // 2 :]
    assert 0.6 * gap(blind) < gap(neighbours) < 0.8 * gap(blind)
    assert abs(gap(rest) - gap(blind)) < 0.1 * gap(blind)
    assert plan_pairs(entries, per_entry=10, seed=3, prior=prior) == informed
    assert plan_pairs(entries, per_entry=10, seed=3, prior=None) == blind


def test_an_informed_plan_of_an_odd_count_gives_each_its_comparisons() -> None:
    entries = list(range(9))
    pairs = plan_pairs(entries, per_entry=4, seed=1, prior={e: float(e) for e in entries})
    seen = Counter(entry for pair in pairs for entry in pair)
    assert set(seen) == set(entries) and set(seen.values()) == {4}
    assert len(pairs) == 9 * 4 // 2
    assert _connected(entries, pairs)


def test_pairs_go_to_the_least_loaded_judge_free_of_conflicts() -> None:
    pairs = plan_pairs(list(range(40)), per_entry=6, seed=2)
    conflicts = {(7, entry) for entry in range(10)}  # judge 7 knows entries 0-9

    def may_judge(judge: int, entry: int) -> bool:
        return (judge, entry) not in conflicts

    shared = share_pairs(pairs, [5, 6, 7, 8], may_judge=may_judge)
    assert [(a, b) for _judge, a, b in shared] == pairs
    loads = Counter(judge for judge, _a, _b in shared)
    assert max(loads.values()) - min(loads.values()) <= 1
    assert not any((judge, a) in conflicts or (judge, b) in conflicts for judge, a, b in shared)
    with pytest.raises(ValueError, match="no judge may compare"):
        share_pairs([(1, 2)], [7], may_judge=may_judge)
    with pytest.raises(ValueError):
        share_pairs([(1, 2)], [])


def _simulate(
    quality: dict[int, float], per_entry: int, judges: dict[int, float], seed: int
) -> list[Comparison]:
    """Each judge sees the true difference plus noise of their own and picks the higher."""
    rng = random.Random(seed)
    planned = share_pairs(plan_pairs(list(quality), per_entry=per_entry, seed=seed), list(judges))
    made = []
    for judge, a, b in planned:
        margin = quality[a] - quality[b] + rng.gauss(0, judges[judge])
        made.append(Comparison(judge, a, b) if margin > 0 else Comparison(judge, b, a))
    return made


def test_the_fit_recovers_the_order_and_grows_surer_with_more_comparisons() -> None:
    rng = random.Random(11)
    quality = {entry: rng.gauss(0, 2) for entry in range(200)}
    judges = {judge: 1.0 for judge in range(10)}
    few = fit(_simulate(quality, 4, judges, seed=1))
    many = fit(_simulate(quality, 16, judges, seed=1))
    true_top = set(sorted(quality, key=quality.__getitem__, reverse=True)[:20])
    assert len(true_top & set(many.ranking()[:20])) >= 14
    assert many.reliability > 0.8 > few.reliability > 0
    assert sum(many.standard_error.values()) < sum(few.standard_error.values())
    assert set(many.comparisons.values()) == {16}
    assert abs(sum(many.strength.values())) < 1e-6


@pytest.mark.parametrize("per_entry", [4, 6, 10])
def test_the_reliability_is_near_the_strengths_squared_correlation_with_the_truth(
    per_entry: int,
) -> None:
    # The reliability of a scale is the share of its variance that the true strengths explain:
    # here, where the truth is known, the squared correlation of the fitted strengths with it.
    rng = random.Random(per_entry)
    quality = {entry: rng.gauss(0, 1.5) for entry in range(300)}
    result = fit(_simulate(quality, per_entry, dict.fromkeys(range(10), 1.0), seed=per_entry))
    entries = sorted(quality)
    truth = float(
        np.corrcoef([result.strength[e] for e in entries], [quality[e] for e in entries])[0, 1]
    )
    # Honest: never well above what the comparisons show, and not far below it either (the
    # separation formula of maximum likelihood said 0.25 at 4 per entry where this is 0.65).
    assert truth**2 - 0.1 < result.reliability < truth**2 + 0.03


def test_an_informed_plan_does_not_overstate_the_reliability() -> None:
    # Pairs of near equals make each comparison tell more, but a scale of short chains is less
    # sure over its whole length than its errors, reckoned entry by entry, say: the plan keeps
    # its partners far enough apart that the reliability stays near what the comparisons show.
    overstated = []
    for seed in range(10):
        rng = random.Random(seed)
        quality = {entry: rng.gauss(0, 1.5) for entry in range(300)}
        before = {entry: value + rng.gauss(0, 0.7) for entry, value in quality.items()}
        pairs = plan_pairs(list(quality), per_entry=5, seed=seed, prior=before)
        made = []
        for judge, a, b in share_pairs(pairs, list(range(10))):
            margin = quality[a] - quality[b] + rng.gauss(0, 1.0)
            made.append(Comparison(judge, a, b) if margin > 0 else Comparison(judge, b, a))
        result = fit(made)
        entries = sorted(quality)
        truth = np.corrcoef([result.strength[e] for e in entries], [quality[e] for e in entries])
        overstated.append(result.reliability - float(truth[0, 1]) ** 2)
    # Pairing the very nearest (half a standard deviation of shake) overstated it by 0.06.
    assert sum(overstated) / len(overstated) < 0.04


def test_a_judge_who_picks_at_random_shows_a_high_infit() -> None:
    rng = random.Random(5)
    quality = {entry: rng.gauss(0, 2) for entry in range(150)}
    judges = {judge: 0.5 for judge in range(6)}
    judges[99] = 1000.0  # as good as a coin
    result = fit(_simulate(quality, 12, judges, seed=2))
    careful = [value for judge, value in result.judge_infit.items() if judge != 99]
    assert result.judge_infit[99] > INFIT_WARNING
    assert max(careful) < result.judge_infit[99]
    assert all(value < INFIT_WARNING for value in careful)


def test_an_entry_that_won_every_time_gets_a_finite_strength() -> None:
    made = [Comparison(1, 0, other) for other in range(1, 6)]
    made += [Comparison(1, a, b) for a, b in [(1, 2), (2, 3), (3, 4), (4, 5)]]
    result = fit(made, entries=[0, 1, 2, 3, 4, 5, 6])
    assert result.ranking()[0] == 0
    assert all(abs(value) < 10 for value in result.strength.values())
    # Never compared: in the middle, with only the prior's information.
    assert result.comparisons[6] == 0 and abs(result.strength[6] - 0) < 2
    assert result.standard_error[6] == max(result.standard_error.values())


def test_bad_comparisons_are_refused() -> None:
    with pytest.raises(ValueError, match="itself"):
        fit([Comparison(1, 4, 4)])
    with pytest.raises(ValueError):
        fit([])


def test_scores_all_equal_inform_nothing() -> None:
    entries = list(range(20))
    flat = dict.fromkeys(entries, 10.0)
    assert plan_pairs(entries, per_entry=6, seed=2, prior=flat) == plan_pairs(
        entries, per_entry=6, seed=2
    )
