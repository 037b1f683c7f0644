"""A division's media rules on the organisers' console: set and read back on its form, and a
rule its contest makes impossible refused with 422 and the reason, storing nothing."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.models import AuditEvent, Division
from tests.admin.test_console import count, organiser, post
from tests.support import STORY, Account, contest_id_of, vi

__all__ = ["organiser"]  # the fixture, used by name

DIVISION = {"key": "lop-1-2", "name": "Lớp 1–2", "min_age": "6", "max_age": "7"}


async def test_an_organiser_sets_a_divisions_rules_on_its_form(
    client: httpx.AsyncClient, organiser: Account, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    contest_id = await contest_id_of(sessionmaker, STORY)
    rules = {"accepts": ["video"], "min_seconds": "300", "max_seconds": "600"}
    added = await post(client, f"/admin/contests/{contest_id}/divisions/new", {**DIVISION, **rules})
    assert added.status_code == 303, added.text[:2000]
    async with sessionmaker() as session:
        division = await session.scalar(
            select(Division).where(Division.contest_id == contest_id, Division.key == "lop-1-2")
        )
        audit = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "division_created")
        )
    assert division is not None
    assert division.media == {"accepts": ["video"], "min_seconds": 300, "max_seconds": 600}
    assert audit is not None and audit.after is not None
    assert audit.after["accepts"] == ["video"] and audit.after["max_seconds"] == 600

    form = await client.get(f"/admin/contests/{contest_id}/divisions/{division.id}")
    assert 'name="accepts" value="video" checked' in form.text
    assert 'name="accepts" value="audio" checked' not in form.text
    assert 'value="600"' in form.text

    # Ticking nothing gives the division its contest's rules again.
    cleared = await post(
        client, f"/admin/contests/{contest_id}/divisions/{division.id}", {**DIVISION}
    )
    assert cleared.status_code == 303
    async with sessionmaker() as session:
        again = await session.get(Division, division.id)
    assert again is not None and again.media == {}


@pytest.mark.parametrize(
    ("rules", "field", "message"),
    [
        (
            {"accepts": ["pdf"]},
            "accepts",
            vi(
                "%(name)s is not among the contest's accepted files (%(types)s).",
                name="pdf",
                types="MP3, M4A, WAV, OGG, MP4, WebM, MOV",
            ),
        ),
        ({"max_words": "100"}, "max_words", vi("Only a writing contest takes typed text.")),
        (
            {"accepts": ["audio"], "max_seconds": "60"},
            "max_seconds",
            vi("A length applies to videos, and this division accepts none."),
        ),
        (
            {"min_seconds": "600", "max_seconds": "300"},
            "max_seconds",
            vi("The longest video cannot be shorter than the shortest."),
        ),
    ],
    ids=["kind-outside-contest", "words-outside-writing", "length-without-video", "backwards"],
)
async def test_an_impossible_rule_is_refused_on_the_form(
    client: httpx.AsyncClient,
    organiser: Account,
    sessionmaker: async_sessionmaker[AsyncSession],
    rules: dict[str, object],
    field: str,
    message: str,
) -> None:
    contest_id = await contest_id_of(sessionmaker, STORY)
    divisions, audits = await count(sessionmaker, Division), await count(sessionmaker, AuditEvent)
    response = await post(
        client, f"/admin/contests/{contest_id}/divisions/new", {**DIVISION, **rules}
    )
    assert response.status_code == 422
    assert f'id="f-{field}-error"' in response.text
    assert message in response.text.replace("&#39;", "'")
    assert await count(sessionmaker, Division) == divisions
    assert await count(sessionmaker, AuditEvent) == audits
