"""A copy of everything held about an entry, for the holder of its private link."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.models import Asset, Entry, Prize
from contest.notice import AGREEMENT_VERSION
from tests.intake import files
from tests.intake.conftest import LOCAL_ONLY
from tests.intake.support import API, api_submit, entrant_fields
from tests.privacy.support import (
    FILENAME,
    GUARDIAN,
    NAME,
    NOTE,
    PHONE_STORED,
    TITLE,
    personal_fields,
)
from tests.results.support import Row, make_results
from tests.support import DRAWING


async def submitted(app: httpx.AsyncClient) -> tuple[str, str]:
    """A drawing entry sent through the API: its receipt code and edit token."""
    made = await api_submit(app, DRAWING, personal_fields(), [(FILENAME, files.drawing_png())])
    return made.json()["entry"]["receipt_code"], made.json()["edit_token"]


async def test_the_archive_holds_exactly_the_entrys_data_and_original_files(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: Callable[[], Awaitable[int]],
) -> None:
    photo = files.photo_jpeg()
    made = await api_submit(app, DRAWING, personal_fields(), [(FILENAME, photo)])
    assert made.status_code == 201, made.text
    code, token = made.json()["entry"]["receipt_code"], made.json()["edit_token"]
    # Another family's entry, which must not show up in this one's copy.
    other = await api_submit(
        app, DRAWING, entrant_fields(full_name="Trần Văn Khác"), [("khac.png", files.drawing_png())]
    )
    assert other.status_code == 201
    assert await run_jobs() == 2

    response = await app.get(f"/entries/{code}/my-data.zip", params={"token": token})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["cache-control"] == "no-store"
    assert f'filename="{code}-data.zip"' in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["entry.json", f"files/1-{FILENAME}"]
    assert archive.read(f"files/1-{FILENAME}") == photo
    record = json.loads(archive.read("entry.json"))
    assert record["entrant"]["full_name"] == NAME
    assert record["entrant"]["guardian_name"] == GUARDIAN
    assert record["entrant"]["guardian_phone"] == PHONE_STORED
    assert record["entrant"]["agreement_version"] == AGREEMENT_VERSION
    assert record["entrant"]["agreed_at"]
    assert record["entry"]["receipt_code"] == code
    assert (record["entry"]["title"], record["entry"]["note"]) == (TITLE, NOTE)
    assert record["result"] is None  # nothing published yet
    assert [h["action"] for h in record["history"]] == ["entry.submit"]
    async with sessionmaker() as session:
        entry = await session.scalar(select(Entry).where(Entry.receipt_code == code))
        assert entry is not None
        assets = (await session.scalars(select(Asset).where(Asset.entry_id == entry.id))).all()
    # Every stored file is described (the original and its two previews), only the original's
    # bytes are in the archive.
    assert sorted(f["sha256"] for f in record["files"]) == sorted(a.sha256 for a in assets)
    assert len(record["files"]) == 3
    original = next(f for f in record["files"] if f["role"] == "original")
    assert original["sha256"] == hashlib.sha256(photo).hexdigest()
    assert original["in_archive"] == f"files/1-{FILENAME}"
    assert "Trần Văn Khác" not in response.content.decode("utf-8", "replace")

    # The same from the API, with the token in its header.
    api = await app.get(f"{API}/entries/{code}/my-data", headers={"X-Edit-Token": token})
    assert api.status_code == 200
    assert sorted(zipfile.ZipFile(io.BytesIO(api.content)).namelist()) == sorted(archive.namelist())


async def test_the_archive_is_refused_without_the_right_token(
    app: httpx.AsyncClient,
) -> None:
    code, token = await submitted(app)

    for params in ({}, {"token": "not-the-token"}, {"token": token[:-1]}):
        page = await app.get(f"/entries/{code}/my-data.zip", params=params)
        assert page.status_code == 403
        assert NAME not in page.text
    for headers in ({}, {"X-Edit-Token": "not-the-token"}):
        api = await app.get(f"{API}/entries/{code}/my-data", headers=headers)
        assert api.status_code == 403 and api.json()["error"]["status"] == 403
    unknown = await app.get("/entries/ZZZZ-ZZZZ/my-data.zip", params={"token": token})
    assert unknown.status_code == 404
    missing = await app.get(f"{API}/entries/ZZZZ-ZZZZ/my-data", headers={"X-Edit-Token": token})
    assert missing.status_code == 404


@LOCAL_ONLY
async def test_the_receipt_links_the_archive_for_the_token_holder_only(
    app: httpx.AsyncClient,
) -> None:
    code, token = await submitted(app)

    private = await app.get(f"/entries/{code}", params={"token": token})
    public = await app.get(f"/entries/{code}")

    assert (
        'id="data-link"' in private.text and f"/entries/{code}/my-data.zip?token=" in private.text
    )
    assert f"/entries/{code}/my-data?token=" in private.text
    assert 'id="data-link"' not in public.text and "my-data" not in public.text


@LOCAL_ONLY
async def test_the_data_is_also_a_page_that_any_browser_opens(app: httpx.AsyncClient) -> None:
    code, token = await submitted(app)
    other = await api_submit(
        app, DRAWING, entrant_fields(full_name="Trần Văn Khác"), [("khac.png", files.drawing_png())]
    )
    assert other.status_code == 201

    page = await app.get(f"/entries/{code}/my-data", params={"token": token})

    # A page, not a download: it opens inside a chat app's browser too.
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "content-disposition" not in page.headers
    assert page.headers["cache-control"] == "no-store"
    for held in (NAME, GUARDIAN, PHONE_STORED, TITLE, NOTE, FILENAME, code):
        assert held in page.text, held
    assert "Trần Văn Khác" not in page.text
    # The original file opens from a link; the ZIP is offered beside it.
    assert "/files/entries/" in page.text
    assert f"/entries/{code}/my-data.zip?token=" in page.text

    for params in ({}, {"token": "not-the-token"}):
        refused = await app.get(f"/entries/{code}/my-data", params=params)
        assert refused.status_code == 403 and NAME not in refused.text
    unknown = await app.get("/entries/ZZZZ-ZZZZ/my-data", params={"token": token})
    assert unknown.status_code == 404


@LOCAL_ONLY
async def test_after_publication_the_archive_holds_the_result_and_the_feedback(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    code, token = await submitted(app)
    await make_results(sessionmaker, [Row(code, 1, 9.5, Prize.FIRST)])

    response = await app.get(f"/entries/{code}/my-data.zip", params={"token": token})

    record = json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("entry.json"))
    assert record["result"] == {"rank": 1, "prize": "first", "feedback": []}
