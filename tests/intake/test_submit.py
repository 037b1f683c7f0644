"""Submitting through the page, on the local folder and on S3: what is kept, and for every bad
input the status, the message in the visitor's language, and that no row and no object was
added (counted before and after)."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.i18n import format_datetime, format_size
from contest.models import Asset, AssetRole, Contest, Division, Entrant, Entry, EntryStatus
from storage import LocalStorage, S3Storage, Storage
from tests.intake import files
from tests.intake.conftest import DRAWING_LIMIT, LOCAL_ONLY
from tests.intake.support import (
    DRAWING_KINDS,
    Refused,
    StoredCheck,
    assert_alert,
    counting_body,
    entrant_fields,
    entry_assets,
    entry_by_code,
    form,
    kind_not_accepted,
    post_form,
    receipt_of,
    served,
    set_window,
    submit_drawing,
    submit_page,
    too_many_words,
)
from tests.support import DRAWING, STORY, WRITING, csrf_from, vi

SCRIPT = "<script>alert(1)</script>"


async def _drawing_form(app: httpx.AsyncClient) -> tuple[str, str]:
    """The drawing contest's entry form: its address, and its CSRF token for this client."""
    path = f"/contests/{DRAWING}/submit"
    return path, await csrf_from(app, path)


# --- what is kept -------------------------------------------------------------------------


async def test_a_drawing_is_kept_with_its_previews_and_a_receipt(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    one_entry_stored: StoredCheck,
) -> None:
    photo = files.photo_jpeg(orientation=6)

    async with one_entry_stored():
        response = await submit_page(app, DRAWING, entrant_fields(), [("Ảnh tranh.jpg", photo)])

        code, token = receipt_of(response)
        assert "0" not in code and "O" not in code and "1" not in code and "I" not in code
    entry = await entry_by_code(sessionmaker, code)
    assert entry.edit_token_hash != token and len(entry.edit_token_hash) == 64
    assets = {a.role: a for a in await entry_assets(sessionmaker, entry.id)}
    original = assets[AssetRole.ORIGINAL]
    assert original.sha256 == hashlib.sha256(photo).hexdigest()
    assert original.size == len(photo)
    assert original.content_type == "image/jpeg"
    assert original.original_filename == "Ảnh tranh.jpg"
    assert (original.width, original.height) == (160, 320)
    assert original.storage_key.startswith("entries/") and original.storage_key.endswith(
        "/original.jpg"
    )
    assert assets[AssetRole.PREVIEW].source_id == original.id
    for asset in assets.values():
        assert await store.exists(asset.storage_key)
    async with sessionmaker() as session:
        division = await session.get(Division, entry.division_id)
        entrant = await session.get(Entrant, entry.entrant_id)
    assert division is not None and division.key == "tieu-hoc"
    assert entrant is not None and entrant.guardian_phone == "0912345678" and entrant.is_minor

    page = await app.get(f"/entries/{code}", params={"token": token})
    assert page.status_code == 200
    assert code in page.text and "Hoa vàng trên cỏ xanh" in page.text
    assert page.headers["cache-control"] == "no-store"
    # Without the token, only the status shows: no name, no file.
    public = await app.get(f"/entries/{code}")
    assert public.status_code == 200
    assert code in public.text and "Nguyễn Minh Anh" not in public.text
    assert original.storage_key not in public.text


@LOCAL_ONLY
async def test_typed_text_counts_words_against_the_limit(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    nothing_stored: StoredCheck,
) -> None:
    text = "Cuốn sách em yêu nhất là Dế Mèn phiêu lưu ký. " * 10
    ok = await submit_page(app, WRITING, entrant_fields(body_text=text))
    code, _ = receipt_of(ok)
    entry = await entry_by_code(sessionmaker, code)
    assert entry.word_count == 110 and entry.body_text == text.strip()

    async with nothing_stored():
        over = await submit_page(app, WRITING, entrant_fields(body_text="chữ " * 1501))
        assert over.status_code == 422
        assert_alert(over, too_many_words(1501, 1500))
        # What was typed is kept in the form.
        assert "Nguyễn Văn Bình" in over.text and "chữ chữ" in over.text


@LOCAL_ONLY
async def test_a_writing_file_is_accepted_instead_of_typed_text(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    for name, data in (
        ("bai.docx", files.docx()),
        ("bai.pdf", files.pdf()),
        ("bai.txt", files.text_file()),
    ):
        code, _ = receipt_of(await submit_page(app, WRITING, entrant_fields(), [(name, data)]))
        entry = await entry_by_code(sessionmaker, code)
        assert entry.body_text is None
        assert len(await entry_assets(sessionmaker, entry.id)) == 1


@LOCAL_ONLY
async def test_storytelling_takes_audio_and_video(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    adult = entrant_fields(age="45", grade="", unit="tdp-1", guardian_name="", guardian_phone="")
    for name, data in (("ke.wav", files.wav()), ("ke.mp3", files.mp3()), ("ke.mp4", files.mp4())):
        code, _ = receipt_of(await submit_page(app, STORY, adult, [(name, data)]))
        entry = await entry_by_code(sessionmaker, code)
        (asset,) = await entry_assets(sessionmaker, entry.id)
        assert asset.content_type.split("/")[0] in ("audio", "video")


@LOCAL_ONLY
async def test_a_phone_heic_photo_is_accepted_with_previews(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: Callable[[], Awaitable[int]],
) -> None:
    code, _ = await submit_drawing(app, "IMG_0001.HEIC", files.photo_heic())
    assert await run_jobs() == 1
    roles = {
        a.role
        for a in await entry_assets(sessionmaker, (await entry_by_code(sessionmaker, code)).id)
    }
    assert roles == {AssetRole.ORIGINAL, AssetRole.PREVIEW, AssetRole.THUMBNAIL}


async def test_published_previews_carry_no_exif_and_are_upright(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
) -> None:
    from io import BytesIO

    from PIL import Image

    code, token = receipt_of(
        await submit_page(
            app, DRAWING, entrant_fields(), [("sideways.jpg", files.photo_jpeg(orientation=6))]
        )
    )
    entry = await entry_by_code(sessionmaker, code)
    page = await app.get(f"/entries/{code}", params={"token": token})
    for asset in await entry_assets(sessionmaker, entry.id):
        if asset.role == AssetRole.ORIGINAL:
            continue
        # Read back what the storage serves, as a browser would.
        url = await store.read_url(asset.storage_key, content_type="image/jpeg")
        response = await served(app, store, url)
        assert response.status_code == 200
        data = response.content
        assert b"Exif" not in data and b"PhoneMaker" not in data
        with Image.open(BytesIO(data)) as shown:
            assert dict(shown.getexif()) == {}
            assert shown.height > shown.width
            top = shown.convert("RGB").getpixel((shown.width // 2, 2))
            assert isinstance(top, tuple) and top[0] > 150 and top[2] < 100
        assert asset.storage_key.rsplit("/", 1)[0] in page.text or isinstance(store, S3Storage)


# --- bad inputs ---------------------------------------------------------------------------


async def test_an_oversize_file_is_refused_while_it_streams(
    app: httpx.AsyncClient,
    nothing_stored: StoredCheck,
    leftovers: Callable[[], list[str]],
) -> None:
    path, token = await _drawing_form(app)
    big = files.photo_jpeg() + b"\x00" * (DRAWING_LIMIT + 3 * 1024 * 1024)
    message = vi(
        "The file is larger than the limit of %(size)s. Please send a smaller file.",
        size=format_size(DRAWING_LIMIT),
    )

    async with nothing_stored():
        # Announced too large: refused before a byte of the body is read.
        pulled = [0]
        multipart = form(entrant_fields(), [("big.jpg", big)], csrf=token, key=uuid.uuid4().hex)
        content_type = multipart.content_type
        body = multipart.body()
        declared = await app.post(
            path,
            content=counting_body(body, pulled),
            headers={"Content-Type": content_type, "Content-Length": str(len(body))},
        )
        assert declared.status_code == 413
        assert pulled[0] == 0
        assert_alert(declared, message)

        # No length announced: counted as it flows, and reading stops past the limit.
        pulled = [0]
        streamed = await app.post(
            path, content=counting_body(body, pulled), headers={"Content-Type": content_type}
        )
        assert streamed.status_code == 413
        assert_alert(streamed, message)
        assert pulled[0] < len(body) - 1024 * 1024, (pulled[0], len(body))
        assert "Nguyễn Minh Anh" in streamed.text  # the form keeps what was typed

    assert leftovers() == []


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("tranh.jpg", files.exe()),
        ("tranh.png", files.elf()),
        ("tranh.jpg", b"#!/bin/sh\necho hi\n"),
        ("tranh.svg", files.svg()),
        ("tranh.jpg", files.svg()),
        ("tranh.html", files.html()),
        ("tranh.zip", files.plain_zip()),
        ("tranh.txt", files.text_file()),
        ("tranh.mp3", files.mp3()),
    ],
)
async def test_a_wrong_kind_of_file_is_refused(refused: Refused, name: str, data: bytes) -> None:
    await refused(DRAWING, [(name, data)], status=415, alert=kind_not_accepted(DRAWING_KINDS))


@LOCAL_ONLY
async def test_html_and_svg_are_refused_even_where_text_files_are_accepted(
    refused: Refused,
) -> None:
    # "Not accepted here", whatever the writing contest's list of kinds.
    refusal = kind_not_accepted("@").split("@")[0]
    for data in (files.html(), files.svg()):
        await refused(WRITING, [("bai.txt", data)], status=415, alert=refusal)


async def test_a_decompression_bomb_is_refused(
    refused: Refused, leftovers: Callable[[], list[str]]
) -> None:
    await refused(
        DRAWING,
        [("bomb.png", files.bomb_png())],
        status=422,
        alert=vi(
            "This image is too large to open (more than %(megapixels)s megapixels). "
            "Please send a smaller photo or scan.",
            megapixels=64,
        ),
    )
    assert leftovers() == []


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../../etc/passwd.png", "passwd.png"),
        ("..\\..\\boot.png", "boot.png"),
        ("tr\x00anh.png", "tranh.png"),
        ("tranh\u202egnp.exe", "tranhgnp.exe"),
        ("<img src=x onerror=alert(1)>.png", "<img src=x onerror=alert(1)>.png"),
        ("rất dài " * 60 + ".png", None),
    ],
)
async def test_odd_file_names_are_stored_safely_and_shown_escaped(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    sent: str,
    kept: str | None,
) -> None:
    code, token = await submit_drawing(app, sent)
    entry = await entry_by_code(sessionmaker, code)
    (original,) = [
        a for a in await entry_assets(sessionmaker, entry.id) if a.role == AssetRole.ORIGINAL
    ]
    # The key is ours; the client's name is only a label.
    assert original.storage_key.startswith("entries/")
    assert original.storage_key.endswith("/original.png")
    assert ".." not in original.storage_key
    name = original.original_filename
    assert name is not None
    assert "/" not in name and "\\" not in name and "\x00" not in name and "\u202e" not in name
    assert len(name) <= 180
    if kept is not None:
        assert name == kept
    else:
        assert name.endswith(".png") and name.startswith("rất dài")
    assert all(k.startswith("entries/") for k in await store.list_keys(""))
    page = await app.get(f"/entries/{code}", params={"token": token})
    assert "<img src=x" not in page.text
    if "<img" in sent:
        assert "&lt;img src=x onerror=alert(1)&gt;.png" in page.text


async def test_script_tags_in_every_text_field_are_shown_escaped(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fields = entrant_fields(
        full_name=f"Anh{SCRIPT}",
        guardian_name=f"Bình{SCRIPT}",
        title=f"Tựa{SCRIPT}",
        note=f"Ghi chú{SCRIPT}",
        book_title=f"Sách{SCRIPT}",
        book_author=f"Tác giả{SCRIPT}",
        body_text=f"Bài viết {SCRIPT}",
    )
    code, token = receipt_of(await submit_page(app, WRITING, fields))
    entry = await entry_by_code(sessionmaker, code)
    assert entry.title == f"Tựa{SCRIPT}"  # kept as typed, escaped when shown

    pages = [
        await app.get(f"/entries/{code}", params={"token": token}),
        await app.get(f"/entries/{code}"),
        # A refused form shows what was typed again.
        await submit_page(app, WRITING, {**fields, "consent": ""}),
    ]
    for page in pages:
        assert page.status_code in (200, 422)
        assert SCRIPT not in page.text
    assert pages[0].text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 7
    assert pages[2].text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 7


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"guardian_name": ""},
            "guardian_name",
            "Entrants under 18 need a parent or guardian: enter their name.",
        ),
        (
            {"guardian_phone": ""},
            "guardian_phone",
            "Entrants under 18 need a parent or guardian: enter their phone number.",
        ),
        ({"consent": ""}, "consent", "Choose how the name may appear in public."),
        ({"consent": "everyone"}, "consent", "Choose how the name may appear in public."),
        ({"full_name": "  "}, "full_name", "Enter the entrant's full name."),
        ({"unit": "nowhere"}, "unit", "Choose the school and class, or the residential group."),
        ({"book": "", "book_title": ""}, "book", None),
        (
            {"guardian_phone": "call me"},
            "guardian_phone",
            "Enter a phone number such as 0912 345 678.",
        ),
    ],
)
async def test_missing_or_wrong_fields_are_refused_with_422(
    refused: Refused, overrides: dict[str, str], field: str, message: str | None
) -> None:
    response = await refused(
        DRAWING,
        [("tranh.png", files.drawing_png())],
        fields=entrant_fields(**overrides),
        status=422,
        alert=vi(message) if message else None,
    )
    assert f'id="f-{field}-error"' in response.text


@LOCAL_ONLY
async def test_an_adult_needs_no_guardian_but_still_a_consent_choice(
    app: httpx.AsyncClient,
) -> None:
    adult = entrant_fields(age="45", grade="", unit="tdp-1", guardian_name="", guardian_phone="")
    receipt_of(await submit_page(app, DRAWING, adult, [("t.png", files.drawing_png())]))
    refused = await submit_page(
        app, DRAWING, {**adult, "consent": ""}, [("t.png", files.drawing_png())]
    )
    assert refused.status_code == 422


@pytest.mark.parametrize("when", ["before", "after"])
async def test_outside_the_window_nothing_is_stored(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    nothing_stored: StoredCheck,
    when: str,
) -> None:
    path, token = await _drawing_form(app)
    if when == "before":
        await set_window(
            sessionmaker, DRAWING, opens_in=timedelta(hours=2), closes_in=timedelta(days=3)
        )
    else:
        await set_window(
            sessionmaker, DRAWING, opens_in=timedelta(days=-3), closes_in=timedelta(minutes=-1)
        )
    async with sessionmaker() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == DRAWING))
    assert contest is not None

    body = form(
        entrant_fields(), [("t.png", files.drawing_png())], csrf=token, key=uuid.uuid4().hex
    )
    async with nothing_stored():
        response = await post_form(app, path, body)
        assert response.status_code == 403
    if when == "before":
        expected = vi(
            "Entries for this contest open at %(time)s. Nothing was sent; please come back then.",
            time=format_datetime(contest.opens_at),
        )
    else:
        expected = vi(
            "Entries for this contest closed at %(time)s. Nothing was sent.",
            time=format_datetime(contest.closes_at),
        )
    assert_alert(response, expected)
    assert (await app.get(path)).status_code == 403


async def test_the_same_submission_twice_makes_one_entry(
    app: httpx.AsyncClient,
    one_entry_stored: StoredCheck,
    leftovers: Callable[[], list[str]],
) -> None:
    path, token = await _drawing_form(app)
    key = uuid.uuid4().hex
    body = form(entrant_fields(), [("t.png", files.drawing_png())], csrf=token, key=key)

    async with one_entry_stored():
        first = await post_form(app, path, body)
        again = await post_form(app, path, body)
        # A double click: both requests in flight at once.
        raced = await asyncio.gather(*(post_form(app, path, body) for _ in range(3)))

        assert receipt_of(first) == receipt_of(again)
        assert all(receipt_of(r) == receipt_of(first) for r in raced)
    assert leftovers() == []

    # A new key is a new entry.
    other = form(
        entrant_fields(), [("t.png", files.drawing_png())], csrf=token, key=uuid.uuid4().hex
    )
    assert receipt_of(await post_form(app, path, other)) != receipt_of(first)


@pytest.mark.parametrize(
    "damage", ["truncated", "no-closing", "garbage", "no-boundary", "not-multipart"]
)
async def test_a_truncated_or_malformed_body_is_refused_with_400(
    app: httpx.AsyncClient,
    nothing_stored: StoredCheck,
    damage: str,
    leftovers: Callable[[], list[str]],
) -> None:
    path, token = await _drawing_form(app)
    multipart = form(
        entrant_fields(),
        [("t.png", files.drawing_png(size=(900, 900)))],
        csrf=token,
        key=uuid.uuid4().hex,
    )
    body = multipart.body()
    content_type = multipart.content_type
    if damage == "truncated":
        body = body[: len(body) * 2 // 3]
    elif damage == "no-closing":
        body = body[: body.rindex(b"--" + multipart.boundary.encode())]
    elif damage == "garbage":
        body = body[:200] + b"\r\n--" + multipart.boundary.encode() + b"\x00\x00garbage" * 50
    elif damage == "no-boundary":
        content_type = "multipart/form-data"
    else:
        content_type = "application/json"

    async with nothing_stored():
        response = await app.post(path, content=body, headers={"Content-Type": content_type})
        assert response.status_code == 400
    assert_alert(
        response,
        vi(
            "The form arrived incomplete or damaged, perhaps because the connection dropped. "
            "Nothing was saved; please send it again."
        ),
    )
    assert leftovers() == []


async def test_storage_unreachable_answers_503_and_writes_nothing(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    request: pytest.FixtureRequest,
) -> None:
    path, token = await _drawing_form(app)
    before = await counts_rows(sessionmaker)
    if isinstance(store, LocalStorage):
        shutil.rmtree(store.root)  # an unmounted volume
    else:
        s3: Any = request.getfixturevalue("s3_client")
        for key in await store.list_keys(""):
            await store.delete(key)
        s3.delete_bucket(Bucket=store.bucket)  # a bucket gone, or S3 refusing

    body = form(
        entrant_fields(), [("t.png", files.drawing_png())], csrf=token, key=uuid.uuid4().hex
    )
    response = await post_form(app, path, body)

    assert response.status_code == 503
    assert_alert(
        response,
        vi(
            "The file store cannot be reached right now. Nothing was saved; "
            "please try again in a few minutes."
        ),
    )
    assert await counts_rows(sessionmaker) == before
    if isinstance(store, LocalStorage):
        assert not store.root.exists()
    else:
        s3.create_bucket(Bucket=store.bucket)  # for the fixture's teardown
        assert await store.list_keys("") == []


async def counts_rows(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> tuple[int, int, int, int]:
    """Rows only, for when the storage itself is gone (the demo's files went with it)."""
    from sqlalchemy import func

    async with sessionmaker() as session:
        entrants = await session.scalar(select(func.count()).select_from(Entrant)) or 0
        entries = await session.scalar(select(func.count()).select_from(Entry)) or 0
        assets = await session.scalar(
            select(func.count()).select_from(Asset).where(Asset.entry_id.is_(None))
        )
    total = await session_count(sessionmaker)
    return entrants, entries, assets or 0, total


async def session_count(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    from sqlalchemy import func

    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(Asset)) or 0


@LOCAL_ONLY
async def test_a_submission_without_the_csrf_field_is_refused(
    app: httpx.AsyncClient, nothing_stored: StoredCheck
) -> None:
    await csrf_from(app, f"/contests/{DRAWING}/submit")
    body = form(
        entrant_fields(), [("t.png", files.drawing_png())], csrf="forged", key=uuid.uuid4().hex
    )
    async with nothing_stored():
        response = await post_form(app, f"/contests/{DRAWING}/submit", body)
        assert response.status_code == 403


# --- receipt, edit, withdraw --------------------------------------------------------------


async def test_the_edit_link_changes_the_entry_until_the_deadline(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
) -> None:
    code, token = await submit_drawing(app)
    entry = await entry_by_code(sessionmaker, code)
    old = {a.storage_key for a in await entry_assets(sessionmaker, entry.id)}
    receipt = f"/entries/{code}?token={token}"
    csrf = await csrf_from(app, receipt)
    edit = form(
        {"title": "Tựa mới", "book": "other", "book_title": "Hoàng tử bé", "consent": "hidden"},
        [("new.jpg", files.photo_jpeg())],
        csrf=csrf,
    )
    saved = await post_form(app, f"/entries/{code}/edit?token={token}", edit)
    assert saved.status_code == 303 and "saved=1" in saved.headers["location"]

    entry = await entry_by_code(sessionmaker, code)
    assert entry.title == "Tựa mới" and entry.book_title == "Hoàng tử bé"
    new = await entry_assets(sessionmaker, entry.id)
    assert {a.content_type for a in new if a.role == AssetRole.ORIGINAL} == {"image/jpeg"}
    assert not old & {a.storage_key for a in new}
    for key in old:
        assert not await store.exists(key)  # replaced files are gone
    page = await app.get(receipt + "&saved=1")
    assert "Tựa mới" in page.text

    # After the deadline the link still reads, but no longer edits.
    await set_window(
        sessionmaker, DRAWING, opens_in=timedelta(days=-3), closes_in=timedelta(minutes=-1)
    )
    late = await post_form(
        app, f"/entries/{code}/edit?token={token}", form({"title": "Muộn"}, csrf=csrf)
    )
    assert late.status_code == 403
    async with sessionmaker() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == DRAWING))
    assert contest is not None
    assert_alert(
        late,
        vi(
            "The deadline (%(time)s) has passed: the entry can no longer be changed.",
            time=format_datetime(contest.closes_at),
        ),
    )
    assert (await entry_by_code(sessionmaker, code)).title == "Tựa mới"
    readable = await app.get(receipt)
    assert readable.status_code == 200 and 'id="lock-message"' in readable.text


async def test_a_forged_token_or_unknown_code_is_refused(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    code, token = await submit_drawing(app)
    other_code, other_token = await submit_drawing(app)
    csrf = await csrf_from(app, f"/entries/{code}?token={token}")
    message = vi(
        "This edit link is not valid for this entry. Use the link from your receipt, "
        "or ask the organisers."
    )
    for bad in ("forged", token[:-1] + ("A" if token[-1] != "A" else "B"), other_token):
        page = await app.get(f"/entries/{code}", params={"token": bad})
        assert page.status_code == 403
        assert_alert(page, message)
        edit = await post_form(
            app, f"/entries/{code}/edit?token={bad}", form({"title": "X"}, csrf=csrf)
        )
        assert edit.status_code == 403
        gone = await app.post(f"/entries/{code}/withdraw?token={bad}", data={"csrf_token": csrf})
        assert gone.status_code == 403
    missing = await app.get("/entries/ZZZZ-ZZZZ", params={"token": token})
    assert missing.status_code == 404
    assert_alert(
        missing, vi("No entry has this receipt code. Please check the code and try again.")
    )
    entry = await entry_by_code(sessionmaker, code)
    assert entry.title == "Hoa vàng trên cỏ xanh" and entry.status == EntryStatus.SUBMITTED
    assert other_code != code


@LOCAL_ONLY
async def test_an_entrant_can_withdraw_until_the_deadline(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    code, token = await submit_drawing(app)
    csrf = await csrf_from(app, f"/entries/{code}?token={token}")
    done = await app.post(f"/entries/{code}/withdraw?token={token}", data={"csrf_token": csrf})
    assert done.status_code == 303
    assert (await entry_by_code(sessionmaker, code)).status == EntryStatus.WITHDRAWN
    page = await app.get(f"/entries/{code}", params={"token": token})
    assert vi("Withdrawn") in page.text
    again = await post_form(
        app, f"/entries/{code}/edit?token={token}", form({"title": "X"}, csrf=csrf)
    )
    assert again.status_code == 403


@LOCAL_ONLY
async def test_receipt_lookup_normalises_the_code(app: httpx.AsyncClient) -> None:
    found = await app.get("/entries", params={"code": " demv w7k3 "})
    assert found.status_code == 303 and found.headers["location"].endswith("/entries/DEMV-W7K3")
    assert (await app.get("/entries")).status_code == 200


@LOCAL_ONLY
@pytest.mark.parametrize("typed", ["a/b", "ABCD/EFGH", "../..", "a?b#c", "DEMV W7K3/", "mã số"])
async def test_a_receipt_code_typed_wrong_is_a_clear_404(
    app: httpx.AsyncClient, typed: str
) -> None:
    answer = await app.get("/entries", params={"code": typed})
    assert answer.status_code == 404
    assert vi("No entry has this receipt code. Please check the code and try again.") in answer.text
    # The form is shown again with what was typed, to correct it.
    assert 'name="code"' in answer.text


@LOCAL_ONLY
async def test_the_contest_page_links_to_the_form(app: httpx.AsyncClient) -> None:
    page = await app.get(f"/contests/{DRAWING}")
    assert f"/contests/{DRAWING}/submit" in page.text
    form_page = await app.get(f"/contests/{DRAWING}/submit")
    assert 'name="idempotency_key"' in form_page.text
    assert form_page.text.index('name="csrf_token"') < form_page.text.index('type="file"')
    assert 'accept=".jpg,.png,.webp,.heic,.pdf' in form_page.text
