"""The JSON API: submit (multipart), direct-upload slots with verification, read, edit and
withdraw with the receipt code and edit token; all described in the OpenAPI document."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.i18n import format_size
from contest.models import Asset, AssetRole, Entry, EntryStatus
from storage import LocalStorage, Storage
from tests.intake import files
from tests.intake.conftest import DRAWING_LIMIT, LOCAL_ONLY
from tests.intake.support import (
    API,
    StoredCheck,
    api_submit,
    counts,
    entrant_fields,
    form,
    post_form,
)
from tests.support import DRAWING, WRITING, vi


async def upload_to_slot(
    client: httpx.AsyncClient, store: Storage, slot: dict[str, Any], data: bytes
) -> httpx.Response:
    """Send the file as a browser would: the slot's fields, then the file, to its URL."""
    multipart = form(list(slot["fields"].items()), [("upload.bin", data)])
    if isinstance(store, LocalStorage):
        return await post_form(client, slot["url"], multipart)
    async with httpx.AsyncClient() as plain:  # straight to the bucket, over HTTP
        return await post_form(plain, slot["url"], multipart)


async def test_submit_read_edit_withdraw_through_the_api(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    one_entry_stored: StoredCheck,
) -> None:
    photo = files.photo_jpeg()
    key = str(uuid.uuid4())

    async with one_entry_stored() as before:
        made = await api_submit(app, DRAWING, entrant_fields(), [("tranh.jpg", photo)], key=key)

        assert made.status_code == 201, made.text
        data = made.json()
        code, token = data["entry"]["receipt_code"], data["edit_token"]
        assert data["entry"]["files"][0]["sha256"] == hashlib.sha256(photo).hexdigest()
        assert data["entry"]["division"] == "tieu-hoc"
        assert data["receipt_url"].endswith(f"/entries/{code}?token={token}")

    # The same key again: the same entry, not a second one.
    again = await api_submit(app, DRAWING, entrant_fields(), [("tranh.jpg", photo)], key=key)
    assert again.status_code == 200
    assert again.json()["entry"]["receipt_code"] == code and again.json()["edit_token"] == token
    assert (await counts(sessionmaker, store)).entries == before.entries + 1

    headers = {"X-Edit-Token": token}
    read = await app.get(f"{API}/entries/{code}", headers=headers)
    assert read.status_code == 200 and read.json()["entrant"]["full_name"] == "Nguyễn Minh Anh"

    edited = await app.patch(
        f"{API}/entries/{code}", json={"title": "Tựa mới", "consent": "hidden"}, headers=headers
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Tựa mới"
    assert edited.json()["entrant"]["consent"] == "hidden"

    multipart = form({"note": "Ảnh mới"}, [("new.png", files.drawing_png())])
    replaced = await post_form(app, f"{API}/entries/{code}", multipart, headers=headers)
    assert replaced.status_code == 405  # PATCH, not POST
    replaced = await app.patch(
        f"{API}/entries/{code}",
        content=multipart.body(),
        headers={**headers, "Content-Type": multipart.content_type},
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["files"][0]["content_type"] == "image/png"
    assert replaced.json()["note"] == "Ảnh mới"

    withdrawn = await app.post(f"{API}/entries/{code}/withdraw", headers=headers)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    refused = await app.patch(f"{API}/entries/{code}", json={"title": "X"}, headers=headers)
    assert refused.status_code == 403


async def test_api_errors_are_json_in_the_visitors_language(
    app: httpx.AsyncClient, nothing_stored: StoredCheck
) -> None:
    async with nothing_stored():
        invalid = await api_submit(
            app,
            DRAWING,
            entrant_fields(guardian_name="", consent=""),
            [("t.png", files.drawing_png())],
        )
        assert invalid.status_code == 422
        error = invalid.json()["error"]
        assert error["status"] == 422
        assert error["fields"]["consent"] == vi("Choose how the name may appear in public.")
        assert error["fields"]["guardian_name"] == vi(
            "Entrants under 18 need a parent or guardian: enter their name."
        )

        wrong = await api_submit(app, DRAWING, entrant_fields(), [("t.jpg", files.exe())])
        assert wrong.status_code == 415
        assert wrong.json()["error"]["message"] == vi(
            "This kind of file is not accepted here. Please send one of: %(types)s.",
            types="JPEG, PNG, WebP, HEIC, PDF",
        )
        bomb = await api_submit(app, DRAWING, entrant_fields(), [("b.png", files.bomb_png())])
        assert bomb.status_code == 422

        forged = await app.get(f"{API}/entries/DEMD-R8P4", headers={"X-Edit-Token": "forged"})
        assert forged.status_code == 403
        assert forged.json()["error"]["message"] == vi(
            "This edit link is not valid for this entry. Use the link from your receipt, "
            "or ask the organisers."
        )
        missing = await app.get(f"{API}/entries/ZZZZ-ZZZZ", headers={"X-Edit-Token": "x"})
        assert missing.status_code == 404
        bad_key = await api_submit(app, DRAWING, entrant_fields(), key="short")
        assert bad_key.status_code == 400


async def test_a_direct_upload_counts_once_verified(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    one_entry_stored: StoredCheck,
) -> None:
    photo = files.photo_jpeg(orientation=6)
    async with one_entry_stored() as before:
        slot = await app.post(
            f"{API}/contests/{DRAWING}/uploads",
            json={"content_type": "image/jpeg", "size": len(photo), "filename": "ảnh.jpg"},
        )
        assert slot.status_code == 201, slot.text
        slot_data = slot.json()
        assert slot_data["max_size"] == DRAWING_LIMIT
        # An upload in flight: a row without an entry, no object yet.
        assert (await counts(sessionmaker, store)).assets == before.assets + 1

        sent = await upload_to_slot(app, store, slot_data, photo)
        assert sent.status_code in (200, 201, 204), sent.text

        made = await api_submit(
            app, DRAWING, entrant_fields(), extra=[("upload_id", slot_data["upload_id"])]
        )
        assert made.status_code == 201, made.text
        entry = made.json()["entry"]
        # Verified and counted at once; read back, hashed and previewed by its job.
        assert entry["files_state"] == "processing"
        assert entry["files"][0]["state"] == "processing"
        assert entry["files"][0]["size"] == len(photo)
        assert entry["files"][0]["filename"] == "ảnh.jpg"
    read = await app.get(
        f"{API}/entries/{entry['receipt_code']}",
        headers={"X-Edit-Token": made.json()["edit_token"]},
    )
    entry = read.json()
    assert entry["files_state"] == "ready" and entry["files"][0]["state"] == "ready"
    assert entry["files"][0]["sha256"] == hashlib.sha256(photo).hexdigest()
    assert (entry["files"][0]["width"], entry["files"][0]["height"]) == (160, 320)
    # A slot is used once.
    reused = await api_submit(
        app, DRAWING, entrant_fields(), extra=[("upload_id", slot_data["upload_id"])]
    )
    assert reused.status_code == 422


@pytest.mark.parametrize(
    ("declared", "data"),
    [
        ("image/png", files.photo_jpeg()),
        ("image/jpeg", files.exe()),
        ("image/jpeg", files.svg()),
        ("application/pdf", files.html()),
    ],
)
async def test_a_direct_upload_whose_bytes_do_not_match_is_refused_and_removed(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    nothing_stored: StoredCheck,
    declared: str,
    data: bytes,
) -> None:
    async with nothing_stored() as before:  # the object and its row are removed
        slot = (
            await app.post(
                f"{API}/contests/{DRAWING}/uploads",
                json={"content_type": declared, "size": len(data)},
            )
        ).json()
        assert (await upload_to_slot(app, store, slot, data)).status_code in (200, 201, 204)
        assert (await counts(sessionmaker, store)).objects == before.objects + 1

        made = await api_submit(
            app, DRAWING, entrant_fields(), extra=[("upload_id", slot["upload_id"])]
        )

        assert made.status_code == 415


async def test_a_direct_upload_over_the_limit_is_refused_and_removed(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    leftovers: Callable[[], list[str]],
) -> None:
    before = await counts(sessionmaker, store)
    too_big = await app.post(
        f"{API}/contests/{DRAWING}/uploads",
        json={"content_type": "image/png", "size": DRAWING_LIMIT + 1},
    )
    assert too_big.status_code == 413
    assert too_big.json()["error"]["message"] == vi(
        "The file is larger than the limit of %(size)s. Please send a smaller file.",
        size=format_size(DRAWING_LIMIT),
    )
    not_accepted = await app.post(
        f"{API}/contests/{DRAWING}/uploads", json={"content_type": "image/svg+xml", "size": 10}
    )
    assert not_accepted.status_code == 415

    # The announced size was small, but more arrived (S3 enforces its own range; moto does not).
    data = files.drawing_png() + b"\x00" * (DRAWING_LIMIT + 10)
    slot = (
        await app.post(
            f"{API}/contests/{DRAWING}/uploads", json={"content_type": "image/png", "size": 100}
        )
    ).json()
    sent = await upload_to_slot(app, store, slot, data)
    if isinstance(store, LocalStorage):
        assert sent.status_code == 413  # the local endpoint stops it while it streams
    else:
        assert sent.status_code in (200, 201, 204)  # moto enforces no size range
    made = await api_submit(
        app, DRAWING, entrant_fields(), extra=[("upload_id", slot["upload_id"])]
    )
    assert made.status_code == (422 if isinstance(store, LocalStorage) else 413)
    current = await counts(sessionmaker, store)
    assert (current.entrants, current.entries, current.objects) == (
        before.entrants,
        before.entries,
        before.objects,
    )
    # Only an unused slot's row may remain (never an object): the sweep takes it.
    assert current.assets - before.assets == (1 if isinstance(store, LocalStorage) else 0)
    assert leftovers() == []


async def test_a_slot_whose_file_never_arrived_is_reported(app: httpx.AsyncClient) -> None:
    slot = (
        await app.post(
            f"{API}/contests/{DRAWING}/uploads", json={"content_type": "image/png", "size": 10}
        )
    ).json()
    made = await api_submit(
        app, DRAWING, entrant_fields(), extra=[("upload_id", slot["upload_id"])]
    )
    assert made.status_code == 422
    assert made.json()["error"]["message"] == vi(
        "The file has not arrived yet. Please upload it again."
    )
    forged = await api_submit(app, DRAWING, entrant_fields(), extra=[("upload_id", "../../x")])
    assert forged.status_code == 422


@LOCAL_ONLY
async def test_typed_text_through_the_api(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    made = await api_submit(app, WRITING, entrant_fields(body_text="Một hai ba bốn năm"))
    assert made.status_code == 201
    async with sessionmaker() as session:
        entry = await session.scalar(
            select(Entry).where(Entry.receipt_code == made.json()["entry"]["receipt_code"])
        )
    assert entry is not None and entry.word_count == 5 and entry.status == EntryStatus.SUBMITTED


@LOCAL_ONLY
async def test_the_openapi_document_describes_the_intake(app: httpx.AsyncClient) -> None:
    document = (await app.get(f"{API}/openapi.json")).json()
    paths = document["paths"]
    assert paths["/contests/{slug}/entries"]["post"]["operationId"] == "submitEntry"
    assert paths["/contests/{slug}/uploads"]["post"]["operationId"] == "requestUploadSlot"
    assert paths["/entries/{code}"]["get"]["operationId"] == "readEntry"
    assert paths["/entries/{code}"]["patch"]["operationId"] == "editEntry"
    assert paths["/entries/{code}/withdraw"]["post"]["operationId"] == "withdrawEntry"
    schemas = document["components"]["schemas"]

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if "$ref" in node else []
            return found + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    assert {"Entry", "Receipt", "UploadSlot", "Error"} <= set(schemas)
    for ref in refs(document):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, ref
            node = node[part]


@LOCAL_ONLY
async def test_assets_of_an_api_entry_point_to_it(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: Callable[[], Awaitable[int]],
) -> None:
    made = await api_submit(app, DRAWING, entrant_fields(), [("t.webp", files.drawing_webp())])
    assert made.status_code == 201
    assert await run_jobs() == 1
    async with sessionmaker() as session:
        entry = await session.scalar(
            select(Entry).where(Entry.receipt_code == made.json()["entry"]["receipt_code"])
        )
        assert entry is not None
        assets = (await session.scalars(select(Asset).where(Asset.entry_id == entry.id))).all()
    assert {a.role for a in assets} == {AssetRole.ORIGINAL, AssetRole.PREVIEW, AssetRole.THUMBNAIL}
