"""Aggregation, ranking and prizes on examples worked by hand (figures in the comments)."""

from __future__ import annotations

import pytest

from judging.scoring import (
    EntryScore,
    JudgeTotal,
    aggregate,
    prizes_by_count,
    prizes_by_threshold,
    rank,
    unit_standings,
)

# Judge 1 is lenient, judge 2 harsh; both scored entries 1 and 2 (out of 10).
#   grand mean 6; judge means 7 and 5, each with spread (sd) 1; panel sd √2.
PAIR = [
    JudgeTotal(1, 1, 8.0),
    JudgeTotal(2, 1, 6.0),
    JudgeTotal(1, 2, 6.0),
    JudgeTotal(2, 2, 4.0),
]


def finals(scores: dict[int, EntryScore]) -> dict[int, float]:
    return {entry_id: round(s.final, 4) for entry_id, s in scores.items()}


def test_mean_median_and_trimmed_mean() -> None:
    totals = [JudgeTotal(1, j, t) for j, t in enumerate([6.0, 9.0, 7.0, 8.0])]
    totals += [JudgeTotal(2, j, t) for j, t in enumerate([6.0, 9.0])]
    totals += [JudgeTotal(3, j, t) for j, t in enumerate([6.0, 9.0, 7.0])]
    assert finals(aggregate(totals, method="mean", max_total=10)) == {1: 7.5, 2: 7.5, 3: 7.3333}
    # Median of 6 7 8 9 is 7.5; of 6 9 is 7.5; of 6 7 9 is 7.
    assert finals(aggregate(totals, method="median", max_total=10)) == {1: 7.5, 2: 7.5, 3: 7.0}
    # Trimmed: 7 and 8 remain of four; two totals are kept as they are; 7 remains of three.
    assert finals(aggregate(totals, method="trimmed_mean", max_total=10)) == {
        1: 7.5,
        2: 7.5,
        3: 7.0,
    }


def test_normalised_without_shrinkage_takes_out_leniency_and_spread() -> None:
    # offsets ±1, scales 1/√2 = 0.7071:
    #   entry 1: 6 + (8 - 6 - 1)/0.7071 = 7.4142 from judge 1, 6 + (6 - 6 + 1)/0.7071 = 7.4142
    #   entry 2: 6 + (6 - 6 - 1)/0.7071 = 4.5858, 6 + (4 - 6 + 1)/0.7071 = 4.5858
    scores = aggregate(PAIR, method="normalised", max_total=10, shrinkage=0)
    assert finals(scores) == {1: 7.4142, 2: 4.5858}
    assert scores[1].raw_mean == 7.0 and scores[2].raw_mean == 5.0


def test_normalised_with_shrinkage_for_judges_seen_on_few_entries() -> None:
    # shrinkage 2, each judge scored 2 entries: weight 2/(2+2) = 0.5
    #   offsets ±0.5; scale 0.7071 × 0.5 + 0.5 = 0.85355
    #   entry 1: 6 + 1.5/0.85355 = 7.7574 and 6 + 0.5/0.85355 = 6.5858 → 7.1716
    #   entry 2: 6 − 0.5/0.85355 = 5.4142 and 6 − 1.5/0.85355 = 4.2426 → 4.8284
    scores = aggregate(PAIR, method="normalised", max_total=10, shrinkage=2)
    assert finals(scores) == {1: 7.1716, 2: 4.8284}


def test_normalised_scores_stay_within_the_rubric() -> None:
    totals = [JudgeTotal(1, 1, 10.0), JudgeTotal(2, 1, 1.0), JudgeTotal(1, 2, 9.0)]
    totals += [JudgeTotal(2, 2, 0.0), JudgeTotal(3, 2, 0.5), JudgeTotal(3, 3, 10.0)]
    for value in finals(aggregate(totals, method="normalised", max_total=10, shrinkage=0)).values():
        assert 0 <= value <= 10


def test_unknown_method_and_empty_input() -> None:
    with pytest.raises(ValueError):
        aggregate(PAIR, method="best_of", max_total=10)
    assert aggregate([], method="mean", max_total=10) == {}


def score(entry_id: int, final: float, raw: float | None = None, first: float = 0) -> EntryScore:
    return EntryScore(entry_id, final, final if raw is None else raw, 3, first)


def test_the_tie_rule() -> None:
    ranked = rank(
        [
            score(1, 8.0, 8.0, first=3),
            score(2, 8.0, 7.9, first=4),  # same final, lower raw mean: after 1 and 3
            score(3, 8.004, 8.0, first=3),  # equal to 1 at two decimals on all three keys
            score(4, 8.0, 8.0, first=3.5),  # higher first criterion: ahead of 1 and 3
            score(5, 6.0),
        ]
    )
    assert [(r.entry_id, r.rank) for r in ranked] == [(4, 1), (1, 2), (3, 2), (2, 4), (5, 5)]


def test_prizes_by_count_share_ties_and_leave_empty_tiers_empty() -> None:
    ranked = rank([score(1, 9), score(2, 9), score(3, 8), score(4, 7), score(5, 6)])
    awards = prizes_by_count(ranked, {"first": 1, "second": 1, "third": 1, "honourable": 0})
    # 1 and 2 share first place, so both take the first prize; 3 second, 4 third, 5 nothing.
    assert awards == {1: "first", 2: "first", 3: "second", 4: "third"}
    assert prizes_by_count(ranked, {"first": 0, "second": 0, "third": 2}) == {
        1: "third",
        2: "third",
    }


def test_prizes_by_threshold() -> None:
    ranked = rank([score(1, 9.5), score(2, 8), score(3, 6.5), score(4, 5)])
    awards = prizes_by_threshold(ranked, {"first": 9, "second": 7.5, "third": 6})
    assert awards == {1: "first", 2: "second", 3: "third"}
    # Nobody reaches 9.8: the first prize stays empty.
    assert prizes_by_threshold(ranked, {"first": 9.8, "second": 9})[1] == "second"
    assert 2 not in prizes_by_threshold(ranked, {"first": 9.8, "second": 9})


def test_unit_standings() -> None:
    entry_units = {1: 10, 2: 10, 3: 20, 4: 20, 5: 20, 6: 30}
    awards = {1: "first", 3: "second", 4: "honourable", 6: "third"}
    standings = unit_standings(entry_units, awards)
    # Units 10 and 20 have 4 prize points each; 20 won more prizes, so it comes first.
    assert [(s.unit_id, s.entries, s.prizes, s.prize_points) for s in standings] == [
        (20, 3, 2, 4),
        (10, 2, 1, 4),
        (30, 1, 1, 2),
    ]
