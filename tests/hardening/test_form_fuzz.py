"""Hypothesis against the HTML forms: the sign-in form, the public submission form and a
console form. Whatever arrives, never a server error; without the form's CSRF token nothing
is done (403), with it the form answers as a form does (redirect or a page asking for
corrections)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from contest.accounts.passwords import hash_password
from contest.demo import DemoReport
from contest.intake.interfaces import SUBMISSION_SCHEMA
from contest.models import Entry, Role, Unit, User
from contest.settings import Settings
from tests.hardening.inthread import AppInThread
from tests.support import sign_in

EXAMPLES = 25
PASSWORD = "correct horse battery"
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
REFUSED_FOR_CSRF: list[bool] = []
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# Text as people and attackers type it: any Unicode (controls, surrogates escaped by the
# encoder, right-to-left marks), long runs, markup and SQL fragments.
hostile = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "",
            " ",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "\x00",
            "a" * 70_000,
            "Nguyễn Văn A",
            "Nguye\u0302\u0303n",
            "\u202egnp.exe",
            "../../etc/passwd",
            "%00",
            "{{7*7}}",
            "-1",
            "99999999999999999999999",
            "1e400",
            "NaN",
        ]
    ),
)
csrf_choice = st.sampled_from(["valid", "missing", "wrong", "other session"])


def _csrf_for(choice: str, valid: str, other: str) -> dict[str, str]:
    return {
        "valid": {"csrf_token": valid},
        "missing": {},
        "wrong": {"csrf_token": "x" * 43},
        "other session": {"csrf_token": other},
    }[choice]


def _encodable(text: str) -> str:
    """Lone surrogates cannot be put in a request (a browser never sends them)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _assert_form_answer(response: Any, choice: str, allowed: set[int]) -> None:
    assert response.status_code < 500, response.text[:500]
    if choice != "valid":
        # Refused: for the token (403), or earlier for a body that is not a readable form.
        assert response.status_code in (400, 403), (choice, response.status_code)
        REFUSED_FOR_CSRF.append(response.status_code == 403)
    else:
        assert response.status_code in allowed, (response.status_code, response.text[:300])


@pytest.fixture
def app(settings: Settings, demo: DemoReport) -> Any:
    with AppInThread(settings) as running:
        yield running


def _token(app: AppInThread, client: Any, path: str) -> str:
    found = CSRF.search(app.run(client.get(path)).text)
    assert found, path
    return found.group(1)


def test_the_sign_in_form(app: AppInThread) -> None:
    visitor, other = app.client(), app.client()
    valid, other_token = _token(app, visitor, "/login"), _token(app, other, "/login")

    @FUZZ
    @given(email=hostile, password=hostile, next_=hostile, choice=csrf_choice)
    def attempt(email: str, password: str, next_: str, choice: str) -> None:
        data = {"email": email, "password": password, "next": next_}
        data.update(_csrf_for(choice, valid, other_token))
        response = app.run(visitor.post("/login", data=data))
        # 400: not right; 429: throttled (the fuzzing fails often from one address);
        # 400 also for a body that is not a readable form.
        _assert_form_answer(response, choice, {400, 429})

    REFUSED_FOR_CSRF.clear()
    attempt()
    # The fuzzing reached the CSRF check itself, not only the form reader.
    assert REFUSED_FOR_CSRF.count(True) >= 3, REFUSED_FOR_CSRF


def test_the_public_submission_form(app: AppInThread) -> None:
    visitor, other = app.client(), app.client()
    path = "/contests/viet-ve-cuon-sach-em-yeu/submit"
    valid, other_token = _token(app, visitor, path), _token(app, other, path)

    async def entries() -> int:
        async with app.sessionmaker() as session:
            return int(await session.scalar(select(func.count()).select_from(Entry)) or 0)

    # Every text field the submission states; the file goes in its own part below.
    field_names = [
        *(name for name in SUBMISSION_SCHEMA["properties"] if name not in ("file", "upload_id")),
        "idempotency_key",
    ]

    @FUZZ
    @given(
        values=st.fixed_dictionaries({}, optional=dict.fromkeys(field_names, hostile)),
        file=st.one_of(st.none(), st.binary(max_size=2048)),
        filename=hostile,
        choice=csrf_choice,
    )
    def attempt(values: dict[str, str], file: bytes | None, filename: str, choice: str) -> None:
        before = app.run(entries())
        # As the browser sends the form: the CSRF field first, multipart, an empty file part
        # when no file was chosen.
        data = {**_csrf_for(choice, valid, other_token), **values}
        data = {k: _encodable(v) for k, v in data.items()}
        part = (_encodable(filename), file, "application/octet-stream") if file else ("", b"")
        response = app.run(visitor.post(path, data=data, files={"file": part}))
        _assert_form_answer(response, choice, {303, 400, 413, 415, 422})
        if choice != "valid":
            assert app.run(entries()) == before

    REFUSED_FOR_CSRF.clear()
    attempt()
    # The fuzzing reached the CSRF check itself, not only the form reader.
    assert REFUSED_FOR_CSRF.count(True) >= 3, REFUSED_FOR_CSRF


def test_a_console_form(app: AppInThread) -> None:
    async def make_admin() -> None:
        async with app.sessionmaker() as session:
            session.add(
                User(
                    email="admin@example.vn",
                    name="admin",
                    role=Role.ADMIN,
                    password_hash=hash_password(PASSWORD),
                )
            )
            await session.commit()

    app.run(make_admin())
    organiser, other = app.client(), app.client()
    app.run(sign_in(organiser, "admin@example.vn", PASSWORD))
    valid, other_token = _token(app, organiser, "/admin/units"), _token(app, other, "/login")

    async def units() -> int:
        async with app.sessionmaker() as session:
            return int(await session.scalar(select(func.count()).select_from(Unit)) or 0)

    @FUZZ
    @given(
        values=st.fixed_dictionaries(
            {}, optional=dict.fromkeys(["code", "name", "kind", "parent", "sort_order"], hostile)
        ),
        choice=csrf_choice,
    )
    def attempt(values: dict[str, str], choice: str) -> None:
        before = app.run(units())
        data = {k: _encodable(v) for k, v in values.items()}
        data.update(_csrf_for(choice, valid, other_token))
        response = app.run(organiser.post("/admin/units", data=data))
        _assert_form_answer(response, choice, {303, 400, 422})
        if choice != "valid":
            assert app.run(units()) == before

    REFUSED_FOR_CSRF.clear()
    attempt()
    # The fuzzing reached the CSRF check itself, not only the form reader.
    assert REFUSED_FOR_CSRF.count(True) >= 3, REFUSED_FOR_CSRF
