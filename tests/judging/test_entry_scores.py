"""scoring.entry_scores (a batch of entries over arrays) against scoring.entry_score, rank_key
and prize_by_threshold (one entry at a time), exactly: the same floats, not close ones.

The generated totals are of the kinds that tell a different order of additions or a different
rounding apart: weighted totals with four decimals, half points, eighths and thirty-seconds
(exact halves at two and four decimals, where Python rounds to even), judges on one to five
entries' totals (missing scores and recusals leave fewer than the panel), equal totals (ties),
totals above the rubric's maximum and below zero once normalised.
"""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np
import pytest

from judging.scoring import (
    AGGREGATIONS,
    EntryScore,
    entry_score,
    entry_scores,
    moments,
    normalisation,
    prize_by_threshold,
    rank_key,
    round_half_even,
)

MAX_TOTAL = 20.0
THRESHOLDS = {"first": 15.0, "second": 12.25, "honourable": 8.0}


def _total(draw: random.Random) -> float:
    kind = draw.randrange(5)
    if kind == 0:
        return draw.randrange(0, 41) / 2
    if kind == 1:
        return round(draw.uniform(0, MAX_TOTAL), 4)
    if kind == 2:
        return draw.randrange(0, 641) / 32
    if kind == 3:
        return draw.randrange(0, 161) / 8
    return 12.5  # many equal totals: ties


def _rows(seed: int, entries: int) -> list[tuple[int, int, float, float]]:
    """(entry, judge, total, first criterion's points), each entry's rows together."""
    draw = random.Random(seed)
    rows = []
    for number in range(entries):
        entry_id = 7 + number * 3
        for judge_id in draw.sample(range(1, 60), draw.choice((1, 2, 3, 3, 3, 4, 5))):
            rows.append((entry_id, judge_id, _total(draw), draw.randrange(0, 11) / 2))
    return rows


@pytest.mark.parametrize("method", AGGREGATIONS)
def test_a_batch_scores_every_entry_as_one_at_a_time_does(method: str) -> None:
    rows = _rows(seed=len(method), entries=6_000)
    by_judge: dict[int, list[float]] = defaultdict(list)
    by_entry: dict[int, list[tuple[int, int, float, float]]] = defaultdict(list)
    for row in rows:
        by_judge[row[1]].append(row[2])
        by_entry[row[0]].append(row)
    normalised = normalisation(
        moments([row[2] for row in rows]), {j: moments(v) for j, v in by_judge.items()}
    )
    columns = list(zip(*rows, strict=True))
    batch = entry_scores(
        np.array(columns[0]),
        np.array(columns[2]),
        np.array(columns[3]),
        judges=np.array(columns[1]),
        method=method,
        max_total=MAX_TOTAL,
        normalised=normalised,
    )
    keys = batch.rank_keys()
    prizes = batch.prizes(THRESHOLDS)
    got = [
        (
            EntryScore(
                int(batch.entry_ids[i]),
                float(batch.final[i]),
                float(batch.raw_mean[i]),
                int(batch.judges[i]),
                float(batch.first_criterion[i]),
            ),
            tuple(float(key[i]) for key in keys),
            prizes[i],
        )
        for i in range(len(batch.entry_ids))
    ]
    expected = []
    for entry_id, own in by_entry.items():
        score = entry_score(
            entry_id,
            [row[2] for row in own],
            [row[3] for row in own],
            judges=[row[1] for row in own],
            method=method,
            max_total=MAX_TOTAL,
            normalised=normalised,
        )
        expected.append((score, rank_key(score), prize_by_threshold(score.final, THRESHOLDS)))
    assert got == expected
    # What makes the comparison worth making: shared keys, finals at both ends, every
    # number of judges, finals with more decimals than the key keeps, every prize and none.
    assert len({key for _, key, _ in expected}) < len(expected)
    assert {s.judges for s, _, _ in expected} == {1, 2, 3, 4, 5}
    assert any(s.final == 0.0 for s, _, _ in expected) or method != "normalised"
    assert any(round(s.final * 100) != s.final * 100 for s, _, _ in expected)
    assert any(prize is None for _, _, prize in expected)
    assert {prize for _, _, prize in expected} >= {"first", "second", "honourable"}


def test_rounding_is_pythons_exactly_also_at_exact_halves() -> None:
    draw = random.Random(5)
    values = [
        *(draw.uniform(-1, 100) for _ in range(20_000)),
        *(n / 8 for n in range(1_000)),  # 0.125, 0.375, …: exact halves at two decimals
        *(n / 32 for n in range(4_000)),  # 0.03125, …: exact halves at four decimals
        *(round(draw.uniform(0, 100), 4) + 0.00005 for _ in range(20_000)),
        *(n / 200 for n in range(20_000)),  # 0.005, 0.015, …: near halves, not exact
    ]
    for digits in (2, 4):
        got = round_half_even(np.array(values), digits).tolist()
        assert got == [round(v, digits) for v in values]
    assert round_half_even(np.array([0.125, 0.375]), 2).tolist() == [0.12, 0.38]


def test_no_entries_give_no_scores() -> None:
    empty = np.array([], dtype=np.int64)
    batch = entry_scores(
        empty, np.array([], dtype=np.float64), np.array([]), method="mean", max_total=10.0
    )
    assert len(batch.entry_ids) == 0 and batch.prizes(THRESHOLDS) == []


def test_the_normalised_method_needs_every_judges_adjustment() -> None:
    normalised = normalisation(moments([1.0, 2.0]), {1: moments([1.0, 2.0])})
    with pytest.raises(KeyError):
        entry_scores(
            np.array([1, 1]),
            np.array([1.0, 2.0]),
            np.array([0.0, 0.0]),
            judges=np.array([1, 2]),
            method="normalised",
            max_total=10.0,
            normalised=normalised,
        )
    with pytest.raises(ValueError):
        entry_scores(
            np.array([1]), np.array([1.0]), np.array([0.0]), method="normalised", max_total=10.0
        )
