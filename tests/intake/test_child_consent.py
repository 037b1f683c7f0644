"""A child's name in public needs the guardian's choice and, from age 7, the child's own consent
(Law 91/2025/QH15, Decree 356/2025/NĐ-CP): refused with 422 and nothing kept on the form and the
API without it; not needed for a hidden name, under 7, or for an adult; asked again when an edit
would show a name anew."""

from __future__ import annotations

import re

import httpx
import pytest
from markupsafe import escape
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.models import Consent, Entrant, Entry
from tests.intake import files
from tests.intake.conftest import LOCAL_ONLY
from tests.intake.support import (
    CHILD_REFUSAL,
    ApiRefused,
    StoredCheck,
    api_submit,
    entrant_by_code,
    entrant_fields,
    entrant_fields_without,
    form,
    post_form,
    receipt_of,
    submit_page,
)
from tests.support import DRAWING, csrf_from, vi

API = "/api/v1"


def _without_child(**overrides: str) -> dict[str, str]:
    return entrant_fields_without("child_consent", **overrides)


@LOCAL_ONLY
async def test_the_form_asks_the_child_in_a_box_of_its_own_never_ticked(
    app: httpx.AsyncClient,
) -> None:
    page = await app.get(f"/contests/{DRAWING}/submit")

    assert page.status_code == 200
    box = re.search(r'<input type="checkbox" id="f-child_consent"[^>]*>', page.text)
    assert box is not None, page.text[:3000]
    assert "checked" not in box.group(0)
    assert 'name="child_consent"' in box.group(0)
    assert (
        str(
            escape(
                vi(
                    "I am the child. I say yes: my name may be shown if my entry wins. "
                    "I can change my mind later."
                )
            )
        )
        in page.text
    )
    # None of the name choices is made beforehand either.
    assert not re.search(r'<input type="radio" name="consent"[^>]*checked', page.text)


@pytest.mark.parametrize("consent", ["full_name", "initials"])
async def test_without_the_childs_part_the_form_answers_422_and_keeps_nothing(
    app: httpx.AsyncClient, nothing_stored: StoredCheck, consent: str
) -> None:
    async with nothing_stored():
        response = await submit_page(
            app, DRAWING, _without_child(consent=consent), [("t.png", files.drawing_png())]
        )

        assert response.status_code == 422
        assert response.headers["content-language"] == "vi"
        assert 'id="f-child_consent-error"' in response.text
        assert str(escape(vi(CHILD_REFUSAL))) in response.text
        # What was typed stays, so only the child's box needs ticking.
        assert 'value="Nguyễn Minh Anh"' in response.text


async def test_without_the_childs_part_the_api_answers_422_and_keeps_nothing(
    api_refused: ApiRefused,
) -> None:
    drawing = [("t.png", files.drawing_png())]
    refused = await api_refused(DRAWING, _without_child(), drawing, status=422)
    assert refused["fields"] == {"child_consent": vi(CHILD_REFUSAL)}
    # Only a yes is a consent.
    refused_no = await api_refused(DRAWING, entrant_fields(child_consent="no"), drawing, status=422)
    assert "child_consent" in refused_no["fields"]


@LOCAL_ONLY
async def test_with_both_parts_the_childs_consent_is_kept_with_its_time(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    code, _token = receipt_of(
        await submit_page(app, DRAWING, entrant_fields(), [("t.png", files.drawing_png())])
    )
    made = await api_submit(
        app, DRAWING, entrant_fields(child_consent="yes"), [("t.png", files.drawing_png())]
    )
    assert made.status_code == 201, made.text
    assert made.json()["entry"]["entrant"]["child_consent"] is True

    for receipt in (code, made.json()["entry"]["receipt_code"]):
        entrant = await entrant_by_code(sessionmaker, receipt)
        assert entrant.consent == Consent.INITIALS
        assert entrant.child_consent_at is not None


@LOCAL_ONLY
@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"consent": "hidden"}, "no name is shown"),
        ({"age": "6", "grade": "1", "consent": "full_name"}, "under 7 the guardian decides"),
        (
            {
                "age": "45",
                "grade": "",
                "unit": "tdp-1",
                "guardian_name": "",
                "guardian_phone": "",
                "consent": "full_name",
            },
            "an adult consents for themself",
        ),
    ],
)
async def test_no_childs_part_is_needed_when(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    overrides: dict[str, str],
    why: str,
) -> None:
    page = await submit_page(
        app, DRAWING, _without_child(**overrides), [("t.png", files.drawing_png())]
    )
    code, _token = receipt_of(page)
    api = await api_submit(
        app, DRAWING, _without_child(**overrides), [("t.png", files.drawing_png())]
    )
    assert api.status_code == 201, (why, api.text)

    entrant = await entrant_by_code(sessionmaker, code)
    assert entrant.consent == Consent(overrides["consent"]), why
    assert entrant.child_consent_at is None


@LOCAL_ONLY
async def test_an_edit_that_would_show_a_childs_name_anew_asks_the_child(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    code, token = receipt_of(
        await submit_page(
            app, DRAWING, _without_child(consent="hidden"), [("t.png", files.drawing_png())]
        )
    )
    headers = {"X-Edit-Token": token}
    refused = await app.patch(
        f"{API}/entries/{code}", json={"consent": "full_name"}, headers=headers
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == {"child_consent": vi(CHILD_REFUSAL)}
    assert (await entrant_by_code(sessionmaker, code)).consent == Consent.HIDDEN

    receipt = f"/entries/{code}?token={token}"
    page = await app.get(receipt)
    assert 'id="f-child_consent"' in page.text
    csrf = await csrf_from(app, receipt)
    fields = {
        "title": "Hoa vàng",
        "book": "other",
        "book_title": "Hoàng tử bé",
        "consent": "initials",
    }
    edited = await post_form(
        app, f"/entries/{code}/edit?token={token}", form(fields, [], csrf=csrf)
    )
    assert edited.status_code == 422
    assert str(escape(vi(CHILD_REFUSAL))) in edited.text
    assert (await entrant_by_code(sessionmaker, code)).consent == Consent.HIDDEN

    saved = await app.patch(
        f"{API}/entries/{code}",
        json={"consent": "full_name", "child_consent": "yes"},
        headers=headers,
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["entrant"]["consent"] == "full_name"
    assert saved.json()["entrant"]["child_consent"] is True
    entrant = await entrant_by_code(sessionmaker, code)
    assert entrant.consent == Consent.FULL_NAME and entrant.child_consent_at is not None
    # Once the child agreed, other changes need not ask again.
    again = await app.patch(f"{API}/entries/{code}", json={"title": "Tựa mới"}, headers=headers)
    assert again.status_code == 200, again.text


@LOCAL_ONLY
async def test_a_child_stored_before_the_childs_consent_was_asked_is_not_named(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Entrants of 7 to 17 kept without the child's consent read as hidden until it is given;
    editing something else keeps it so, and the child's box gives it."""
    code, token = receipt_of(
        await submit_page(
            app, DRAWING, entrant_fields(consent="full_name"), [("t.png", files.drawing_png())]
        )
    )
    async with sessionmaker() as session:
        entry = await session.scalar(select(Entry).where(Entry.receipt_code == code))
        assert entry is not None
        await session.execute(
            update(Entrant).where(Entrant.id == entry.entrant_id).values(child_consent_at=None)
        )
        await session.commit()
    page = await app.get(f"/entries/{code}?token={token}")
    assert vi("not shown until the child agrees") in page.text
    assert 'id="f-child_consent"' in page.text

    headers = {"X-Edit-Token": token}
    kept = await app.patch(f"{API}/entries/{code}", json={"title": "Tựa khác"}, headers=headers)
    assert kept.status_code == 200, kept.text
    assert (await entrant_by_code(sessionmaker, code)).child_consent_at is None
    given = await app.patch(f"{API}/entries/{code}", json={"child_consent": True}, headers=headers)
    assert given.status_code == 200, given.text
    assert given.json()["entrant"]["child_consent"] is True
    page = await app.get(f"/entries/{code}?token={token}")
    assert vi("not shown until the child agrees") not in page.text
    assert 'id="f-child_consent"' not in page.text
