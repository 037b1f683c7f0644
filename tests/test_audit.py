"""The audit trail's names for the rows it records."""

from __future__ import annotations

import pytest

from contest import audit
from contest.models import ApiToken, Conflict, Entry, Event, RemarkRequest, User


@pytest.mark.parametrize(
    ("row", "name"),
    [
        (User(), "user"),
        (ApiToken(), "api_token"),
        (Conflict(), "conflict"),
        (Event(), "event"),
        (Entry(), "entry"),
        (RemarkRequest(), "remark_request"),
    ],
)
def test_a_row_is_named_as_the_audit_log_has_always_named_it(row: object, name: str) -> None:
    assert audit.object_type_of(row) == name
