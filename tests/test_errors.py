"""The one error style (contest.errors): an error that always says the same is read in the
language of the moment it is raised, and a message given where it is raised comes first."""

from __future__ import annotations

from contest.i18n import use_locale
from judging.interfaces import RoundClosedError

CLOSED = "Judging of this round is closed: scores can no longer be changed."


def test_a_fixed_message_is_translated_when_the_error_is_raised() -> None:
    with use_locale("vi"):
        in_vietnamese = RoundClosedError()
    with use_locale("en"):
        in_english = RoundClosedError()
    assert in_english.message == str(in_english) == CLOSED
    assert (
        in_vietnamese.message
        == str(in_vietnamese)
        == "Vòng chấm đã kết thúc: không thể sửa điểm nữa."
    )
    assert in_vietnamese.status_code == in_english.status_code == 409
    assert in_vietnamese.fields == {}


def test_a_message_given_where_the_error_is_raised_comes_first() -> None:
    with use_locale("en"):
        error = RoundClosedError("Only this round.")
    assert error.message == str(error) == "Only this round."
