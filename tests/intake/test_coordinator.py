"""Coordinators submit for their own units: one by one, and in bulk from a CSV plus a ZIP."""

from __future__ import annotations

import html as html_text
import io
import re
import uuid
import zipfile
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.accounts.services import create_api_token
from contest.models import Entrant, Entry, Role, Unit, User
from storage import Storage
from tests.intake import files
from tests.intake.conftest import LOCAL_ONLY
from tests.intake.support import (
    DRAWING,
    WRITING,
    StoredCheck,
    counts,
    entrant_fields,
    form,
    post_form,
    vi,
)
from tests.support import csrf_from, sign_in

MakeUser = Callable[..., Awaitable[Any]]


async def _signed_in(client: httpx.AsyncClient, make_user: MakeUser, units: list[str]) -> Any:
    account = await make_user(
        f"gv{uuid.uuid4().hex[:6]}@bachsam.demo", Role.COORDINATOR, units=units
    )
    await sign_in(client, account.user.email, account.password)
    return account


async def _coordinator_submit(
    client: httpx.AsyncClient, slug: str, fields: dict[str, str], uploads: list[tuple[str, bytes]]
) -> httpx.Response:
    path = f"/coordinator/contests/{slug}/submit"
    token = await csrf_from(client, path)
    return await post_form(client, path, form(fields, uploads, csrf=token, key=uuid.uuid4().hex))


@LOCAL_ONLY
async def test_a_coordinator_submits_for_the_classes_of_their_school(
    app: httpx.AsyncClient,
    make_user: MakeUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    nothing_stored: StoredCheck,
) -> None:
    account = await _signed_in(app, make_user, ["th-bach-sam"])
    page = await app.get(f"/coordinator/contests/{DRAWING}/submit")
    assert page.status_code == 200
    assert 'value="th-bach-sam-5a"' in page.text and 'value="tdp-1"' not in page.text

    made = await _coordinator_submit(
        app, DRAWING, entrant_fields(unit="th-bach-sam-5a"), [("t.png", files.drawing_png())]
    )
    assert made.status_code == 303
    async with sessionmaker() as session:
        entry = (
            await session.scalars(select(Entry).where(Entry.submitted_by_id == account.user.id))
        ).one()
        entrant = await session.get(Entrant, entry.entrant_id)
        unit = await session.get(Unit, entrant.unit_id if entrant else None)
    assert unit is not None and unit.code == "th-bach-sam-5a"

    async with nothing_stored():
        elsewhere = await _coordinator_submit(
            app, DRAWING, entrant_fields(unit="tdp-1"), [("t.png", files.drawing_png())]
        )
        assert elsewhere.status_code == 422
        assert 'id="f-unit-error"' in elsewhere.text


@LOCAL_ONLY
async def test_a_class_teacher_may_not_submit_for_another_class(
    app: httpx.AsyncClient, make_user: MakeUser, nothing_stored: StoredCheck
) -> None:
    await _signed_in(app, make_user, ["th-bach-sam-5a"])
    async with nothing_stored():
        refused = await _coordinator_submit(
            app, DRAWING, entrant_fields(unit="th-bach-sam-4b"), [("t.png", files.drawing_png())]
        )
        assert refused.status_code == 422


@LOCAL_ONLY
async def test_coordinator_pages_are_for_coordinators(
    app: httpx.AsyncClient, make_user: MakeUser
) -> None:
    anonymous = await app.get(f"/coordinator/contests/{DRAWING}/import")
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
    judge = await make_user("gk@bachsam.demo", Role.JUDGE)
    await sign_in(app, judge.user.email, judge.password)
    assert (await app.get(f"/coordinator/contests/{DRAWING}/submit")).status_code == 403


@LOCAL_ONLY
async def test_a_coordinator_uses_the_api_with_csrf_and_only_for_their_units(
    app: httpx.AsyncClient, make_user: MakeUser, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    account = await _signed_in(app, make_user, ["th-bach-sam-5a"])
    csrf = await csrf_from(app, f"/coordinator/contests/{DRAWING}/submit")
    path = f"/api/v1/contests/{DRAWING}/entries"
    body = form(entrant_fields(), [("t.png", files.drawing_png())])
    assert (await post_form(app, path, body)).status_code == 403  # cookie without the header
    made = await post_form(app, path, body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    other = form(entrant_fields(unit="tdp-1"), [("t.png", files.drawing_png())])
    refused = await post_form(app, path, other, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == vi(
        "You may only submit entries for your own units."
    )
    async with sessionmaker() as session:
        entry = await session.scalar(
            select(Entry).where(Entry.receipt_code == made.json()["entry"]["receipt_code"])
        )
    assert entry is not None and entry.submitted_by_id == account.user.id


async def _bearer(sessionmaker: async_sessionmaker[AsyncSession], account: Any) -> dict[str, str]:
    async with sessionmaker() as session:
        user = await session.get(User, account.user.id)
        assert user is not None
        _token, plain = await create_api_token(session, user=user, name="tests")
        await session.commit()
    return {"Authorization": f"Bearer {plain}"}


@pytest.mark.parametrize(
    "path",
    [f"/api/v1/contests/{DRAWING}/entries", f"/api/v1/coordinator/contests/{DRAWING}/entries"],
)
async def test_a_coordinator_api_submission_for_another_unit_stores_nothing(
    app: httpx.AsyncClient,
    make_user: MakeUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    nothing_stored: StoredCheck,
    run_jobs: Callable[[], Awaitable[int]],
    path: str,
) -> None:
    account = await make_user(
        f"gv{uuid.uuid4().hex[:6]}@bachsam.demo", Role.COORDINATOR, units=["th-bach-sam-5a"]
    )
    headers = await _bearer(sessionmaker, account)
    message = vi("You may only submit entries for your own units.")

    async with nothing_stored() as before:
        # A drawing would be stored with its preview and thumbnail, three objects and rows.
        drawing = form(entrant_fields(unit="tdp-1"), [("t.png", files.drawing_png())])
        refused = await post_form(app, path, drawing, headers=headers)
        # A page of HTML would be refused (415) once its first bytes were read: the unit is
        # refused before that.
        page = form(entrant_fields(unit="tdp-1"), [("t.png", b"<html><script></script></html>")])
        early = await post_form(app, path, page, headers=headers)
        # The unit after the file: the file is read, then removed with its row.
        fields = {k: v for k, v in entrant_fields().items() if k != "unit"}
        late = form(fields, [("t.png", files.drawing_png())])
        closing = b"--" + late.boundary.encode() + b"--\r\n"
        unit_part = (
            f'--{late.boundary}\r\nContent-Disposition: form-data; name="unit"\r\n\r\ntdp-1\r\n'
        ).encode()
        body = late.body()
        assert body.endswith(closing)
        after_file = await app.post(
            path,
            content=body[: -len(closing)] + unit_part + closing,
            headers={"Content-Type": late.content_type, **headers},
        )

        for response in (refused, early, after_file):
            assert response.status_code == 403, response.text
            assert response.json()["error"] == {
                "status": 403,
                "title": vi("You may not do this"),
                "message": message,
            }

    made = await post_form(
        app, path, form(entrant_fields(), [("t.png", files.drawing_png())]), headers=headers
    )
    assert made.status_code == 201, made.text
    assert (await counts(sessionmaker, store)).objects == before.objects + 1
    assert await run_jobs() == 1
    assert (await counts(sessionmaker, store)).objects == before.objects + 3


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


CSV_HEADER = (
    "full_name,age,grade,unit,guardian_name,guardian_phone,consent,title,book,file,agreement\n"
)


async def _import(
    client: httpx.AsyncClient, slug: str, csv_text: str, archive: bytes | None
) -> httpx.Response:
    path = f"/coordinator/contests/{slug}/import"
    token = await csrf_from(client, path)
    uploads = [("csv", "hoc-sinh.csv", ("\ufeff" + csv_text).encode(), "text/csv")]
    if archive is not None:
        uploads.append(("zip", "tranh.zip", archive, "application/zip"))
    body = form({}, csrf=token)
    body.files = uploads
    return await post_form(client, path, body)


async def test_a_bulk_import_reports_each_row_and_never_lets_a_bad_row_block_the_good(
    app: httpx.AsyncClient,
    make_user: MakeUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    nothing_stored: StoredCheck,
    run_jobs: Callable[[], Awaitable[int]],
) -> None:
    account = await _signed_in(app, make_user, ["th-bach-sam"])
    csv_text = CSV_HEADER + "".join(
        [
            "Lê Văn An,10,5,th-bach-sam-5a,Lê Văn Ba,0912345678,full_name,"
            "Ngôi nhà,Dế Mèn phiêu lưu ký,an.png,yes\n",
            "Trần Thị Bé,9,4,th-bach-sam-4b,Trần Văn Cả,0987654321,initials,"
            "Cánh đồng,Sách khác,thu-muc/be.jpg,yes\n",
            "Phạm Khuyết,10,5,th-bach-sam-5a,,,initials,Không giám hộ,Hoàng tử bé,an.png,yes\n",
            "Ngô Lạc,10,5,tdp-1,Ngô Cha,0911111111,hidden,Sai đơn vị,Hoàng tử bé,an.png,yes\n",
            "Đỗ Thiếu,10,5,th-bach-sam-5a,Đỗ Mẹ,0922222222,hidden,"
            "Thiếu tệp,Hoàng tử bé,khong-co.png,yes\n",
            "Vũ Độc,10,5,th-bach-sam-5a,Vũ Bố,0933333333,hidden,Tệp lạ,Hoàng tử bé,virus.png,yes\n",
            "<script>alert(1)</script>,10,5,th-bach-sam-5a,Mẹ,0944444444,,"
            "Không chọn,Hoàng tử bé,an.png,yes\n",
            "Lý Chưa Hỏi,10,5,th-bach-sam-5a,Lý Mẹ,0955555555,hidden,"
            "Chưa đồng ý,Hoàng tử bé,an.png,\n",
        ]
    )
    archive = _zip(
        {
            "an.png": files.drawing_png(),
            "thu-muc/be.jpg": files.photo_jpeg(),
            "../../virus.png": files.exe(),
        }
    )
    before = await counts(sessionmaker, store)

    response = await _import(app, DRAWING, csv_text, archive)

    assert response.status_code == 200, response.text[:2000]
    html = response.text
    rows = {
        n: kind for kind, n in re.findall(r'<tr class="(accepted|refused)" data-row="(\d+)"', html)
    }
    assert rows == {
        "2": "accepted",
        "3": "accepted",
        "4": "refused",
        "5": "refused",
        "6": "refused",
        "7": "refused",
        "8": "refused",
        "9": "refused",
    }
    refused_text = {n: html.split(f'data-row="{n}"')[1].split("</tr>")[0] for n in "456789"}
    assert (vi("Entrants under 18 need a parent or guardian: enter their name.")) in refused_text[
        "4"
    ]
    assert vi("Choose the school and class, or the residential group.") in refused_text["5"]
    assert vi("No file named %(name)s in the ZIP.", name="khong-co.png") in refused_text["6"]
    assert (
        vi(
            "This kind of file is not accepted here. Please send one of: %(types)s.",
            types="JPEG, PNG, WebP, HEIC, PDF",
        )
        in refused_text["7"]
    )
    assert vi("Choose how the name may appear in public.") in refused_text["8"]
    assert vi(
        "A parent or guardian must read the privacy notice and agree to it before a "
        "child's entry can be sent."
    ) in html_text.unescape(refused_text["9"])
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html

    after = await counts(sessionmaker, store)
    assert (after.entrants, after.entries) == (before.entrants + 2, before.entries + 2)
    assert after.objects == before.objects + 2
    assert await run_jobs() == 2
    after = await counts(sessionmaker, store)
    assert after.objects == before.objects + 2 * 3
    async with sessionmaker() as session:
        made = (
            await session.scalars(select(Entry).where(Entry.submitted_by_id == account.user.id))
        ).all()
    assert sorted(e.title for e in made) == ["Cánh đồng", "Ngôi nhà"]

    # The same import again makes nothing new and says so.
    async with nothing_stored():
        again = await _import(app, DRAWING, csv_text, archive)
        assert again.status_code == 200
        assert again.text.count(vi("already imported")) == 2


@LOCAL_ONLY
async def test_a_bulk_import_of_typed_texts_needs_no_zip(
    app: httpx.AsyncClient, make_user: MakeUser, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _signed_in(app, make_user, ["thcs-bach-sam"])
    csv_text = (
        "full_name;age;grade;unit;guardian_name;guardian_phone;consent;title;book;text;agreement\n"
        "Hà Anh;12;6;thcs-bach-sam-6a;Hà Bố;0912000000;initials;Bài một;Hoàng tử bé;Một hai ba;"
        "có\n"
    )
    response = await _import(app, WRITING, csv_text, None)
    assert response.status_code == 200
    assert 'class="accepted" data-row="2"' in response.text
    async with sessionmaker() as session:
        entry = await session.scalar(select(Entry).where(Entry.title == "Bài một"))
    assert entry is not None and entry.word_count == 3 and entry.book_id is not None


@LOCAL_ONLY
@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("name,age\nAn,10\n", "The CSV file lacks these columns: %(columns)s."),
        ("", "Choose the CSV file of entrants."),
    ],
)
async def test_a_bulk_import_without_the_needed_columns_is_refused_whole(
    app: httpx.AsyncClient,
    make_user: MakeUser,
    nothing_stored: StoredCheck,
    csv_text: str,
    message: str,
) -> None:
    await _signed_in(app, make_user, ["th-bach-sam"])
    async with nothing_stored():
        response = await _import(app, DRAWING, csv_text, None)
        assert response.status_code == 422
        expected = vi(message, columns="full_name, unit, consent, title")
        assert expected.split(":")[0] in response.text
