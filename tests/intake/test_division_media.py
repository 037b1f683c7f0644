"""A division's own media rules at intake, on the form, the API (with a direct upload) and a
coordinator's bulk rows: the kinds it takes (415 otherwise, naming them), its word limit and
the length of its videos (422, naming the limit and what was sent), and nothing stored for
a refusal (no entrant, no entry, no file row, no object). The pages say the rules first."""

from __future__ import annotations

import html as html_text
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.models import Contest, Division, Entry
from contest.settings import Settings
from storage import Storage
from tests.intake import files
from tests.intake.conftest import LOCAL_ONLY
from tests.intake.support import (
    API,
    ApiRefused,
    Refused,
    api_submit,
    counts,
    entrant_fields,
    entry_by_code,
    form,
    receipt_of,
    submit_page,
    too_many_words,
)
from tests.intake.test_api import upload_to_slot
from tests.intake.test_coordinator import CSV_HEADER, _import, _row_kinds, _row_text, _zip
from tests.support import STORY, WRITING, vi

# The usual entrant (10 years old, grade 5) is in the primary division, "Tiểu học".
PRIMARY = "Tiểu học"
VIDEOS = "MP4, WebM, MOV"
VIDEO_RULE = {"accepts": ["video"], "min_seconds": 300, "max_seconds": 600}
WRITING_RULE = {"accepts": ["typed", "image"], "max_words": 50}
TEENAGER = {"age": "13", "grade": "8", "unit": "thcs-bach-sam-8c"}


@pytest.fixture(autouse=True)
async def rules(seeded: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """The storytelling contest also takes photos, but its primary division only videos of
    5 to 10 minutes; the writing contest also takes scans, and its primary division typed
    text of at most 50 words or a scan of a handwritten page. The other divisions keep their
    contest's rules."""
    async with sessionmaker() as session:
        for slug, extra, media in (
            (STORY, ["jpeg"], VIDEO_RULE),
            (WRITING, ["jpeg", "png"], WRITING_RULE),
        ):
            contest = await session.scalar(select(Contest).where(Contest.slug == slug))
            assert contest is not None
            contest.allowed_types = [*contest.allowed_types, *extra]
            await session.execute(
                update(Division)
                .where(Division.contest_id == contest.id, Division.key == "tieu-hoc")
                .values(media=media)
            )
        await session.commit()


def refused_kind(types: str = VIDEOS) -> str:
    """The primary division's refusal of a kind of file its rule does not take."""
    return vi(
        "This kind of file is not accepted in the division %(division)s. Please send one of: "
        "%(types)s.",
        division=PRIMARY,
        types=types,
    )


def wrong_length(length: str) -> str:
    return vi(
        "The video is %(length)s long; the division %(division)s takes videos of %(range)s.",
        length=length,
        division=PRIMARY,
        range=vi("%(low)s to %(high)s", low="5:00", high="10:00"),
    )


def unreadable_length() -> str:
    return vi(
        "The length of this video could not be read from the file, so it cannot be checked "
        "against the division's %(range)s. Please save it again (as MP4 from a phone's camera, "
        "for example) and send it.",
        range=vi("%(low)s to %(high)s", low="5:00", high="10:00"),
    )


# --- the form -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [("tranh.jpg", files.photo_jpeg()), ("ke.mp3", files.mp3()), ("ke.wav", files.wav())],
)
async def test_a_video_only_division_given_a_drawing_or_a_recording_refuses_it(
    refused: Refused, name: str, data: bytes
) -> None:
    await refused(STORY, [(name, data)], status=415, alert=refused_kind())


async def test_the_other_divisions_keep_their_contests_rules(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    teenager = entrant_fields(**TEENAGER)
    code, _ = receipt_of(await submit_page(app, STORY, teenager, [("t.jpg", files.photo_jpeg())]))
    assert (await entry_by_code(sessionmaker, code)).division_id is not None
    # A video of any length, even one whose length cannot be read.
    receipt_of(await submit_page(app, STORY, teenager, [("k.mp4", files.video_mp4(20))]))
    receipt_of(await submit_page(app, STORY, teenager, [("k.mp4", files.mp4())]))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("ke.mp4", files.video_mp4(300)),
        ("ke.mp4", files.video_mp4(431.4, moov_at_end=True, media_bytes=200_000)),
        ("ke.mov", files.video_mp4(600, brand=b"qt  ")),
        ("ke.webm", files.video_webm(599.6)),
    ],
)
async def test_a_video_within_the_divisions_lengths_is_kept(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    name: str,
    data: bytes,
) -> None:
    before = await counts(sessionmaker, store)
    code, _ = receipt_of(await submit_page(app, STORY, entrant_fields(), [(name, data)]))
    after = await counts(sessionmaker, store)
    assert (after.entries, after.assets, after.objects) == (
        before.entries + 1,
        before.assets + 1,
        before.objects + 1,
    )
    entry = await entry_by_code(sessionmaker, code)
    async with sessionmaker() as session:
        division = await session.get(Division, entry.division_id)
    assert division is not None and division.media == VIDEO_RULE


@pytest.mark.parametrize(
    ("name", "data", "length"),
    [
        ("ngan.mp4", files.video_mp4(299.4), "4:59"),
        ("dai.mp4", files.video_mp4(600.6, moov_at_end=True), "10:01"),
        ("dai.mov", files.video_mp4(3725, brand=b"qt  ", version=1), "1:02:05"),
        ("ngan.webm", files.video_webm(12), "0:12"),
    ],
)
async def test_a_video_shorter_or_longer_than_allowed_is_refused(
    refused: Refused, name: str, data: bytes, length: str
) -> None:
    response = await refused(STORY, [(name, data)], status=422, alert=wrong_length(length))
    # What was typed is kept in the form.
    assert "Nguyễn Văn Bình" in response.text


@LOCAL_ONLY
@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("khong-muc-luc.mp4", files.mp4()),
        ("khong-thoi-luong.webm", files.video_webm(None)),
        ("cat-do.mp4", files.video_mp4(400)[:60]),
    ],
)
async def test_a_video_whose_length_cannot_be_read_is_refused_clearly(
    refused: Refused, name: str, data: bytes
) -> None:
    await refused(STORY, [(name, data)], status=422, alert=unreadable_length())


@LOCAL_ONLY
async def test_typed_text_counts_against_the_divisions_lower_limit(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], refused: Refused
) -> None:
    await refused(
        WRITING,
        fields=entrant_fields(body_text="chữ " * 51),
        status=422,
        alert=too_many_words(51, 50),
    )
    code, _ = receipt_of(await submit_page(app, WRITING, entrant_fields(body_text="chữ " * 50)))
    assert (await entry_by_code(sessionmaker, code)).word_count == 50
    # A secondary pupil keeps the contest's own limit of 1500.
    teenager = entrant_fields(body_text="chữ " * 51, **TEENAGER)
    receipt_of(await submit_page(app, WRITING, teenager))


@LOCAL_ONLY
async def test_a_division_of_typed_or_handwritten_essays_refuses_other_files(
    app: httpx.AsyncClient, refused: Refused
) -> None:
    receipt_of(
        await submit_page(app, WRITING, entrant_fields(), [("trang.jpg", files.photo_jpeg())])
    )
    await refused(
        WRITING,
        [("bai.pdf", files.pdf())],
        status=415,
        alert=refused_kind(vi("typed text") + ", JPEG, PNG"),
    )


@LOCAL_ONLY
async def test_a_division_without_typed_text_refuses_it(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    refused: Refused,
) -> None:
    async with sessionmaker() as session:
        await session.execute(
            update(Division).where(Division.key == "tieu-hoc").values(media={"accepts": ["image"]})
        )
        await session.commit()
    await refused(
        WRITING,
        fields=entrant_fields(body_text="Một bài văn."),
        status=422,
        alert=vi(
            "The division %(division)s does not take typed text. Please send one of: %(types)s.",
            division=PRIMARY,
            types="JPEG, PNG",
        ),
    )


# --- the API and a direct upload ----------------------------------------------------------


async def test_the_api_refuses_as_the_form_does(
    app: httpx.AsyncClient, api_refused: ApiRefused
) -> None:
    photo = [("t.jpg", files.photo_jpeg())]
    drawing = await api_refused(STORY, entrant_fields(), photo, status=415)
    assert drawing["message"] == refused_kind()

    long = await api_refused(STORY, entrant_fields(), [("k.mp4", files.video_mp4(601))], status=422)
    assert long["fields"]["file"] == wrong_length("10:01")

    words = await api_refused(WRITING, entrant_fields(body_text="một " * 60), status=422)
    assert words["fields"]["body_text"] == too_many_words(60, 50)
    made = await api_submit(app, STORY, entrant_fields(), [("k.mp4", files.video_mp4(420))])
    assert made.status_code == 201, made.text


async def _direct(app: httpx.AsyncClient, store: Storage, data: bytes, declared: str) -> str:
    slot = await app.post(
        f"{API}/contests/{STORY}/uploads",
        json={"content_type": declared, "size": len(data), "filename": "ke"},
    )
    assert slot.status_code == 201, slot.text
    sent = await upload_to_slot(app, store, slot.json(), data)
    assert sent.status_code in (200, 201, 204), sent.text
    return str(slot.json()["upload_id"])


@pytest.mark.parametrize(
    ("data", "declared", "status", "message"),
    [
        (files.video_mp4(200, moov_at_end=True), "video/mp4", 422, lambda: wrong_length("3:20")),
        (files.video_webm(None), "video/webm", 422, unreadable_length),
        (files.photo_jpeg(), "image/jpeg", 415, refused_kind),
    ],
)
async def test_a_direct_upload_is_held_to_the_divisions_rules_and_removed(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    data: bytes,
    declared: str,
    status: int,
    message: Any,
) -> None:
    before = await counts(sessionmaker, store)
    upload_id = await _direct(app, store, data, declared)
    made = await api_submit(app, STORY, entrant_fields(), extra=[("upload_id", upload_id)])
    assert made.status_code == status, made.text
    error = made.json()["error"]
    assert message() in (error["message"], error.get("fields", {}).get("file"))
    # The uploaded object and its row are gone: nothing was kept.
    assert await counts(sessionmaker, store) == before


async def test_a_direct_upload_of_the_right_length_counts(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], store: Storage
) -> None:
    upload_id = await _direct(app, store, files.video_mp4(333, moov_at_end=True), "video/mp4")
    made = await api_submit(app, STORY, entrant_fields(), extra=[("upload_id", upload_id)])
    assert made.status_code == 201, made.text


# --- bulk rows ----------------------------------------------------------------------------


@LOCAL_ONLY
@pytest.mark.usefixtures("coordinator")
async def test_bulk_rows_are_held_to_their_divisions_rules(
    intake_settings: Settings,
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
) -> None:
    row = "{name},10,5,th-bach-sam-5a,Mẹ,0912345678,initials,{title},Hoàng tử bé,{file},yes,yes\n"
    csv_text = CSV_HEADER + "".join(
        row.format(name=f"Em {n}", title=title, file=file)
        for n, (title, file) in enumerate(
            [
                ("Đúng", "dung.mp4"),
                ("Tranh", "tranh.jpg"),
                ("Ngắn", "ngan.mp4"),
                ("Không đọc được", "hong.webm"),
            ]
        )
    )
    archive = _zip(
        {
            "dung.mp4": files.video_mp4(330),
            "tranh.jpg": files.photo_jpeg(),
            "ngan.mp4": files.video_mp4(60, moov_at_end=True),
            "hong.webm": files.video_webm(None),
        }
    )
    before = await counts(sessionmaker, store)
    response = await _import(app, intake_settings, STORY, csv_text, archive)
    assert response.status_code == 200, response.text[:2000]
    page = response.text
    assert _row_kinds(page) == {"2": "accepted", "3": "refused", "4": "refused", "5": "refused"}
    text = {n: _row_text(page, n) for n in "345"}
    assert refused_kind() in text["3"]
    assert wrong_length("1:00") in text["4"]
    assert unreadable_length() in text["5"]
    # Only the good row's entry and file were kept.
    after = await counts(sessionmaker, store)
    assert (after.entries, after.assets) == (before.entries + 1, before.assets + 1)
    assert after.objects == before.objects + 1
    async with sessionmaker() as session:
        titles = (
            await session.scalars(
                select(Entry.title).where(Entry.title.in_(["Đúng", "Tranh", "Ngắn"]))
            )
        ).all()
    assert titles == ["Đúng"]


@LOCAL_ONLY
@pytest.mark.usefixtures("coordinator")
async def test_a_bulk_row_of_typed_text_over_the_divisions_limit_is_refused(
    intake_settings: Settings, app: httpx.AsyncClient
) -> None:
    csv_text = (
        "full_name;age;grade;unit;guardian_name;guardian_phone;consent;title;book;text;agreement\n"
        "Hà Anh;10;5;th-bach-sam-5a;Hà Bố;0912000000;initials;Bài dài;Hoàng tử bé;"
        f"{'chữ ' * 70};có\n"
    )
    response = await _import(app, intake_settings, WRITING, csv_text, None)
    assert 'class="refused" data-row="2"' in response.text
    assert too_many_words(70, 50) in html_text.unescape(response.text)


# --- an edit ------------------------------------------------------------------------------


@LOCAL_ONLY
async def test_an_edit_is_held_to_the_entrys_division(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], store: Storage
) -> None:
    made = await api_submit(app, STORY, entrant_fields(), [("k.mp4", files.video_mp4(400))])
    assert made.status_code == 201, made.text
    code, token = made.json()["entry"]["receipt_code"], made.json()["edit_token"]
    before = await counts(sessionmaker, store)
    headers = {"X-Edit-Token": token}
    for data, status in ((files.photo_jpeg(), 415), (files.video_mp4(30), 422)):
        body = form({"title": "Mới"}, [("moi.bin", data)])
        refused = await app.patch(
            f"{API}/entries/{code}",
            content=body.body(),
            headers={"Content-Type": body.content_type, **headers},
        )
        assert refused.status_code == status, refused.text
    assert await counts(sessionmaker, store) == before


# --- the pages say the rules first ---------------------------------------------------------


@LOCAL_ONLY
async def test_the_form_and_the_contest_page_show_each_divisions_rules(
    app: httpx.AsyncClient,
) -> None:
    for path in (f"/contests/{STORY}/submit", f"/contests/{STORY}"):
        page = html_text.unescape((await app.get(path)).text)
        primary = page.split('data-division="tieu-hoc"')[1].split("</li>")[0]
        assert vi("Send: %(types)s", types=VIDEOS) in primary
        assert (
            vi("Videos of %(range)s", range=vi("%(low)s to %(high)s", low="5:00", high="10:00"))
            in primary
        )
        secondary = page.split('data-division="thcs"')[1].split("</li>")[0]
        assert vi("Send: %(types)s", types=VIDEOS).split(":")[0] not in secondary
    writing = html_text.unescape((await app.get(f"/contests/{WRITING}/submit")).text)
    primary = writing.split('data-division="tieu-hoc"')[1].split("</li>")[0]
    assert vi("Send: %(types)s", types=vi("typed text") + ", JPEG, PNG") in primary
    assert vi("At most %(words)s words", words="50") in primary

    detail = (await app.get(f"{API}/contests/{STORY}")).json()
    policies = {d["key"]: d["media_policy"] for d in detail["divisions"]}
    assert policies["tieu-hoc"] == {
        "allowed_types": ["mp4", "webm", "mov"],
        "typed_text": False,
        "max_words": None,
        "min_seconds": 300,
        "max_seconds": 600,
    }
    assert policies["thcs"]["allowed_types"] == [
        "mp3",
        "m4a",
        "wav",
        "ogg",
        "mp4",
        "webm",
        "mov",
        "jpeg",
    ]


@LOCAL_ONLY
async def test_the_receipt_says_the_divisions_rules_for_a_new_file(
    app: httpx.AsyncClient,
) -> None:
    code, token = receipt_of(
        await submit_page(app, STORY, entrant_fields(), [("k.mp4", files.video_mp4(400))])
    )
    page = html_text.unescape((await app.get(f"/entries/{code}", params={"token": token})).text)
    division = page.split('id="entry-division">')[1].split("</dd>")[0]
    assert division.startswith(PRIMARY)
    assert vi("Send: %(types)s", types=VIDEOS) in division
    assert vi("Accepted files: %(types)s", types=VIDEOS) in page
    accept = re.search(r'id="f-file" name="file" type="file" accept="([^"]*)"', page)
    assert accept is not None
    assert ".mp4" in accept.group(1) and ".jpg" not in accept.group(1)
