from __future__ import annotations

import pytest

from judging.scoring import PointsError, RubricRow, check_points, spread, weighted_total

RUBRIC = [
    RubricRow("noi-dung", 4),
    RubricRow("sang-tao", 2),
    RubricRow("ngon-ngu", 2),
    RubricRow("lien-he", 2),
]


def test_equal_weights_give_the_plain_sum() -> None:
    points = {"noi-dung": 3.5, "sang-tao": 2, "ngon-ngu": 1.5, "lien-he": 1}
    assert weighted_total(RUBRIC, points) == 8.0


def test_weights_shift_importance_but_keep_the_scale() -> None:
    rubric = [RubricRow("a", 10, weight=2), RubricRow("b", 10, weight=1)]
    assert weighted_total(rubric, {"a": 10, "b": 10}) == 20.0
    assert weighted_total(rubric, {"a": 10, "b": 0}) == pytest.approx(13.3333, abs=1e-4)
    assert weighted_total(rubric, {"a": 0, "b": 10}) == pytest.approx(6.6667, abs=1e-4)


def test_points_are_checked_per_criterion() -> None:
    with pytest.raises(PointsError) as caught:
        check_points(
            RUBRIC,
            {"noi-dung": "4.5", "sang-tao": "abc", "ngon-ngu": "1.3", "khac": "1"},
            complete=True,
        )
    assert caught.value.problems == {
        "noi-dung": "out_of_range",
        "sang-tao": "not_a_number",
        "ngon-ngu": "step",
        "lien-he": "required",
        "khac": "unknown",
    }


def test_a_draft_may_leave_criteria_empty_and_commas_are_decimal_points() -> None:
    assert check_points(RUBRIC, {"noi-dung": "3,5", "sang-tao": ""}, complete=False) == {
        "noi-dung": 3.5
    }
    with pytest.raises(PointsError):
        check_points(RUBRIC, {"noi-dung": "-1"}, complete=False)
    with pytest.raises(PointsError):
        check_points(RUBRIC, {"noi-dung": "nan"}, complete=False)


def test_spread() -> None:
    assert spread([6.0, 9.5, 7.0]) == 3.5
    assert spread([7.0]) == 0.0
