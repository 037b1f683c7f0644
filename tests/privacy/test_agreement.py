"""The privacy notice, and the agreement every submission path asks for before keeping anything."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import utcnow
from contest.models import Entrant, Entry, Event, Role
from contest.notice import AGREEMENT_VERSION
from tests.intake import files
from tests.intake.conftest import LOCAL_ONLY
from tests.intake.support import (
    ApiRefused,
    StoredCheck,
    api_submit,
    entrant_fields,
    entrant_fields_without,
    submit_drawing,
    submit_page,
)
from tests.support import DRAWING, WRITING, Account, sign_in, vi

MINOR_REFUSAL = (
    "A parent or guardian must read the privacy notice and agree to it before a "
    "child's entry can be sent."
)
ADULT_REFUSAL = "Please read the privacy notice and tick that you agree to it."


def _without_agreement(**overrides: str) -> dict[str, str]:
    return entrant_fields_without("agreement", **overrides)


async def test_the_notice_states_the_events_retention_and_its_wording_version(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        await session.execute(update(Event).values(retention_months=7))
        await session.commit()

    page = await app.get("/privacy")

    assert page.status_code == 200
    text = page.text
    assert re.search(r'<p id="retention">\s*7 ', text), text[:3000]
    assert AGREEMENT_VERSION in text
    assert "UBND phường Bạch Sam" in text  # who is responsible
    english = await app.get("/privacy", headers={"Accept-Language": "en"})
    assert english.status_code == 200

    async with sessionmaker() as session:
        await session.execute(update(Event).values(retention_months=None))
        await session.commit()
    kept = await app.get("/privacy")
    assert (
        vi(
            "The organisers keep the entries until they erase them. "
            "A family may ask for erasure at any time."
        )
        in kept.text
    )


async def test_every_submission_form_and_every_page_links_the_notice(
    app: httpx.AsyncClient, make_user: Callable[..., Awaitable[Account]]
) -> None:
    for path in ("/", f"/contests/{DRAWING}/submit", "/privacy"):
        page = await app.get(path)
        assert page.status_code == 200
        assert 'href="http://testserver/privacy"' in page.text or 'href="/privacy"' in page.text
    form_page = await app.get(f"/contests/{DRAWING}/submit")
    assert 'name="agreement"' in form_page.text and 'id="privacy-notice-link"' in form_page.text
    account = await make_user("gv@example.vn", Role.COORDINATOR, units=["th-bach-sam"])
    await sign_in(app, account.user.email, account.password)
    for path in (
        f"/coordinator/contests/{DRAWING}/submit",
        f"/coordinator/contests/{DRAWING}/import",
    ):
        page = await app.get(path)
        assert page.status_code == 200 and "/privacy" in page.text
    assert "agreement" in (await app.get(f"/coordinator/contests/{DRAWING}/import")).text


async def test_without_the_agreement_the_form_answers_422_and_keeps_nothing(
    app: httpx.AsyncClient,
    nothing_stored: StoredCheck,
    leftovers: Callable[[], list[str]],
) -> None:
    async with nothing_stored():
        response = await submit_page(
            app, DRAWING, _without_agreement(), [("tranh.jpg", files.photo_jpeg())]
        )

        assert response.status_code == 422
        assert vi(MINOR_REFUSAL).replace("'", "&#39;") in response.text
        # What was typed is still there, so only the box needs ticking.
        assert 'value="Nguyễn Minh Anh"' in response.text
    assert leftovers() == []


async def test_an_adult_agrees_for_themself_and_the_api_asks_the_same(
    api_refused: ApiRefused,
) -> None:
    adult = _without_agreement(
        age="45", grade="", unit="tdp-1", guardian_name="", guardian_phone=""
    )

    error = await api_refused(WRITING, {**adult, "body_text": "Một bài viết ngắn."}, status=422)
    assert error["fields"] == {"agreement": vi(ADULT_REFUSAL)}
    refused_minor = await api_refused(
        DRAWING, _without_agreement(), [("tranh.png", files.drawing_png())], status=422
    )
    assert refused_minor["fields"] == {"agreement": vi(MINOR_REFUSAL)}
    # "yes" from a box or a client, anything else is not an agreement.
    await api_refused(
        WRITING, {**adult, "agreement": "no", "body_text": "Một bài viết ngắn."}, status=422
    )


@LOCAL_ONLY
async def test_the_agreement_is_kept_with_its_time_and_wording_version(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    started = utcnow()
    code, _token = await submit_drawing(app, "tranh.png")
    made = await api_submit(
        app, WRITING, {**entrant_fields(agreement="đồng ý"), "body_text": "Bài viết."}
    )
    assert made.status_code == 201, made.text

    async with sessionmaker() as session:
        entrants = (
            await session.scalars(
                select(Entrant)
                .join(Entry, Entry.entrant_id == Entrant.id)
                .where(Entry.receipt_code.in_([code, made.json()["entry"]["receipt_code"]]))
            )
        ).all()
    assert len(entrants) == 2
    for entrant in entrants:
        assert entrant.agreement_version == AGREEMENT_VERSION
        assert entrant.agreed_at is not None
        assert started - timedelta(seconds=1) <= entrant.agreed_at <= utcnow()
