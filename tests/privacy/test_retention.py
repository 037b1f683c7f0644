"""Retention: ``contest retention apply`` erases what its dry run lists, and keeps winners; the
event's setting in the console and the event file."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
import yaml
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.cli import main
from contest.db import utcnow
from contest.events.eventfile import EventFileError, dump_event, load_event
from contest.models import Asset, Contest, Entrant, Entry, Event, Prize, Role
from contest.privacy import services
from contest.settings import Settings
from storage import Storage
from tests.intake import files
from tests.intake.conftest import LOCAL_ONLY
from tests.intake.support import api_submit, entrant_fields
from tests.privacy.support import point_command_at
from tests.results.support import PUBLISHED_AT, Row, make_results
from tests.support import DRAWING, STORY, WRITING, Account, csrf_from, sign_in


async def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = await asyncio.to_thread(main, args)
    return code, capsys.readouterr().out.strip().splitlines()


async def _codes_where(
    sessionmaker: async_sessionmaker[AsyncSession], *conditions: object
) -> set[str]:
    async with sessionmaker() as session:
        return set(
            (
                await session.scalars(
                    select(Entry.receipt_code).join(Contest).where(*conditions)  # type: ignore[arg-type]
                )
            ).all()
        )


async def test_apply_erases_exactly_what_the_dry_run_lists_and_keeps_winners(
    app: httpx.AsyncClient,
    intake_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    made = {}
    for name, slug, upload in (
        ("Người Thắng", DRAWING, [("a.png", files.drawing_png())]),
        ("Người Không Giải", DRAWING, [("b.jpg", files.photo_jpeg())]),
        ("Người Viết", WRITING, []),
        ("Người Kể", STORY, [("c.wav", files.wav())]),
    ):
        fields = entrant_fields(full_name=name)
        if slug == WRITING:
            fields["body_text"] = "Một bài viết ngắn."
        response = await api_submit(app, slug, fields, upload)
        assert response.status_code == 201, response.text
        made[name] = response.json()["entry"]["receipt_code"]
    # The drawing contest was published more than a year ago; the writing contest closed more
    # than a year ago and was never published; storytelling is still open.
    await make_results(
        sessionmaker,
        [Row(made["Người Thắng"], 1, 9.0, Prize.FIRST), Row(made["Người Không Giải"], 2, 7.0)],
    )
    async with sessionmaker() as session:
        await session.execute(
            update(Contest)
            .where(Contest.slug == WRITING)
            .values(
                opens_at=utcnow() - timedelta(days=500), closes_at=utcnow() - timedelta(days=400)
            )
        )
        await session.commit()
    due = await _codes_where(
        sessionmaker,
        Contest.slug.in_([DRAWING, WRITING]),
        Entry.receipt_code != made["Người Thắng"],
    )
    kept = await _codes_where(sessionmaker, Entry.receipt_code.not_in(due))
    assert made["Người Không Giải"] in due and made["Người Viết"] in due and "DEMD-R8P4" in due
    assert {made["Người Thắng"], made["Người Kể"], "DEMS-T9Q5"} <= kept
    async with sessionmaker() as session:
        kept_keys = set(
            (
                await session.scalars(
                    select(Asset.storage_key).join(Entry).where(Entry.receipt_code.in_(kept))
                )
            ).all()
        )
    point_command_at(intake_settings, monkeypatch)

    status, listed = await _run(["retention", "apply", "--dry-run"], capsys)

    assert status == 0
    assert {line.split("\t")[0] for line in listed[:-1]} == due
    assert listed[-1] == f"Would erase {len(due)} entries."
    async with sessionmaker() as session:
        assert (
            await session.scalars(select(Entry).where(Entry.erased_at.is_not(None)))
        ).all() == []

    status, applied = await _run(["retention", "apply"], capsys)

    assert status == 0
    assert applied[:-1] == listed[:-1]
    assert applied[-1].startswith(f"Erased {len(due)} entries;")
    async with sessionmaker() as session:
        rows = (await session.execute(select(Entry, Entrant).join(Entrant))).all()
        keys = set((await session.scalars(select(Asset.storage_key))).all())
    erased = {entry.receipt_code for entry, _ in rows if entry.erased_at is not None}
    assert erased == due
    names = {entry.receipt_code: entrant.full_name for entry, entrant in rows}
    assert names[made["Người Thắng"]] == "Người Thắng" and names[made["Người Kể"]] == "Người Kể"
    assert {names[code] for code in due} == {""}
    # The winners' and the open contest's files are all there, and nothing else is.
    assert keys == kept_keys
    assert set(await store.list_keys("entries/")) == kept_keys

    status, again = await _run(["retention", "apply", "--dry-run"], capsys)
    assert again == ["Would erase 0 entries."]


@LOCAL_ONLY
async def test_the_clock_starts_at_publication_and_an_event_may_keep_everything(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    made = await api_submit(app, DRAWING, entrant_fields(), [("b.png", files.drawing_png())])
    code = made.json()["entry"]["receipt_code"]
    await make_results(sessionmaker, [Row(code, 3, 5.0)])
    due_at = services.add_months(PUBLISHED_AT, 12)

    async with sessionmaker() as session:
        before = await services.retention_plan(session, now=due_at - timedelta(seconds=1))
        at = await services.retention_plan(session, now=due_at)
        await session.execute(update(Event).values(retention_months=None))
        await session.commit()
        kept = await services.retention_plan(session, now=due_at + timedelta(days=3650))

    assert code not in {i.receipt_code for i in before}
    item = next(i for i in at if i.receipt_code == code)
    assert (item.clock_started, item.due, item.contest_slug) == (PUBLISHED_AT, due_at, DRAWING)
    assert kept == []
    # The 31st of January becomes the last day of February, whatever the year.
    assert services.add_months(PUBLISHED_AT.replace(month=1, day=31), 1).day == 29
    assert services.add_months(PUBLISHED_AT.replace(year=2025, month=1, day=31), 13).day == 28


async def _dumped(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    async with sessionmaker() as session:
        return await dump_event(session)


@LOCAL_ONLY
async def test_the_console_and_the_event_file_carry_the_retention(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: Callable[..., Awaitable[Account]],
) -> None:
    document = yaml.safe_load(await _dumped(sessionmaker))
    assert document["event"]["retention_months"] == 12
    account = await make_user("btc@example.vn", Role.ADMIN)
    await sign_in(app, account.user.email, account.password)
    page = await app.get("/admin/event")
    assert 'name="retention_months"' in page.text and 'value="12"' in page.text
    form = {key: str(value) for key, value in document["event"].items()}

    for typed, stored in (("6", 6), ("0", None)):
        saved = await app.post(
            "/admin/event",
            data={
                **form,
                "retention_months": typed,
                "csrf_token": await csrf_from(app, "/admin/event"),
            },
        )
        assert saved.status_code == 303, saved.text[:2000]
        async with sessionmaker() as session:
            assert await session.scalar(select(Event.retention_months)) == stored
    refused = await app.post(
        "/admin/event",
        data={**form, "retention_months": "-3", "csrf_token": await csrf_from(app, "/admin/event")},
    )
    assert refused.status_code == 422
    assert yaml.safe_load(await _dumped(sessionmaker))["event"]["retention_months"] == 0

    # The intake fixtures' limits are below a megabyte, which an event file cannot say.
    for contest in document["contests"]:
        contest["max_file_size_mb"] = max(1, contest["max_file_size_mb"])
    for value, expected in ((0, None), (24, 24)):
        document["event"]["slug"] = f"nam-sau-{value}"
        document["event"]["retention_months"] = value
        async with sessionmaker() as session:
            event = await load_event(session, text=yaml.safe_dump(document, allow_unicode=True))
            await session.commit()
        assert event.retention_months == expected
    del document["event"]["retention_months"]
    document["event"]["slug"] = "mac-dinh"
    async with sessionmaker() as session:
        event = await load_event(session, text=yaml.safe_dump(document, allow_unicode=True))
    assert event.retention_months == 12
    document["event"]["retention_months"] = -1
    document["event"]["slug"] = "sai"
    async with sessionmaker() as session:
        with pytest.raises(EventFileError, match="retention_months"):
            await load_event(session, text=yaml.safe_dump(document, allow_unicode=True))
