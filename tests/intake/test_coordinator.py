"""Coordinators submit for their own units: one by one, and in bulk from a CSV plus a ZIP."""

from __future__ import annotations

import dataclasses
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
from contest.app import JOB_KINDS
from contest.intake import bulk
from contest.jobs.kinds import JobContext
from contest.jobs.worker import run_queued
from contest.models import Entrant, Entry, Job, JobStatus, Role, Unit, User
from contest.settings import Settings
from storage import Storage
from tests.intake import files
from tests.intake.conftest import LOCAL_ONLY
from tests.intake.support import (
    CHILD_REFUSAL,
    DRAWING_KINDS,
    Counts,
    StoredCheck,
    counts,
    entrant_fields,
    form,
    kind_not_accepted,
    post_form,
    signed_in_coordinator,
)
from tests.support import (
    DRAWING,
    WRITING,
    Account,
    MakeUser,
    csrf_from,
    entry_files,
    make_entries,
    sign_in,
    vi,
)


async def _coordinator_submit(
    client: httpx.AsyncClient, slug: str, fields: dict[str, str], uploads: list[tuple[str, bytes]]
) -> httpx.Response:
    path = f"/coordinator/contests/{slug}/submit"
    token = await csrf_from(client, path)
    return await post_form(client, path, form(fields, uploads, csrf=token, key=uuid.uuid4().hex))


@LOCAL_ONLY
async def test_a_coordinator_submits_for_the_classes_of_their_school(
    app: httpx.AsyncClient,
    coordinator: Account,
    sessionmaker: async_sessionmaker[AsyncSession],
    nothing_stored: StoredCheck,
) -> None:
    page = await app.get(f"/coordinator/contests/{DRAWING}/submit")
    assert page.status_code == 200
    assert 'value="th-bach-sam-5a"' in page.text and 'value="tdp-1"' not in page.text

    made = await _coordinator_submit(
        app, DRAWING, entrant_fields(unit="th-bach-sam-5a"), [("t.png", files.drawing_png())]
    )
    assert made.status_code == 303
    async with sessionmaker() as session:
        entry = (
            await session.scalars(select(Entry).where(Entry.submitted_by_id == coordinator.user.id))
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
    await signed_in_coordinator(app, make_user, ["th-bach-sam-5a"])
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
    account = await signed_in_coordinator(app, make_user, ["th-bach-sam-5a"])
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
    "full_name,age,grade,unit,guardian_name,guardian_phone,consent,title,book,file,agreement,"
    "child_consent\n"
)


async def _send_import(
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


async def _import(
    client: httpx.AsyncClient,
    settings: Settings,
    slug: str,
    csv_text: str,
    archive: bytes | None,
) -> httpx.Response:
    """Send an import; when it is taken in (303 to its page), run its job as a worker would
    and give the page with its report."""
    sent = await _send_import(client, slug, csv_text, archive)
    if sent.status_code != 303:
        return sent
    await run_queued(settings, JOB_KINDS)
    return await client.get(sent.headers["location"])


def _row_kinds(html: str) -> dict[str, str]:
    """The report's rows: their number, accepted or refused."""
    return {
        n: kind for kind, n in re.findall(r'<tr class="(accepted|refused)" data-row="(\d+)"', html)
    }


def _row_text(html: str, number: str) -> str:
    """What the report says of one row (its number in the CSV), as it reads."""
    return html_text.unescape(html.split(f'data-row="{number}"')[1].split("</tr>")[0])


async def test_a_bulk_import_reports_each_row_and_never_lets_a_bad_row_block_the_good(
    intake_settings: Settings,
    app: httpx.AsyncClient,
    coordinator: Account,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    nothing_stored: StoredCheck,
) -> None:
    csv_text = CSV_HEADER + "".join(
        [
            "Lê Văn An,10,5,th-bach-sam-5a,Lê Văn Ba,0912345678,full_name,"
            "Ngôi nhà,Dế Mèn phiêu lưu ký,an.png,yes,x\n",
            "Trần Thị Bé,9,4,th-bach-sam-4b,Trần Văn Cả,0987654321,initials,"
            "Cánh đồng,Sách khác,thu-muc/be.jpg,yes,x\n",
            "Phạm Khuyết,10,5,th-bach-sam-5a,,,initials,Không giám hộ,Hoàng tử bé,an.png,yes,x\n",
            "Ngô Lạc,10,5,tdp-1,Ngô Cha,0911111111,hidden,Sai đơn vị,Hoàng tử bé,an.png,yes,x\n",
            "Đỗ Thiếu,10,5,th-bach-sam-5a,Đỗ Mẹ,0922222222,hidden,"
            "Thiếu tệp,Hoàng tử bé,khong-co.png,yes,x\n",
            "Vũ Độc,10,5,th-bach-sam-5a,Vũ Bố,0933333333,hidden,"
            "Tệp lạ,Hoàng tử bé,virus.png,yes,x\n",
            "<script>alert(1)</script>,10,5,th-bach-sam-5a,Mẹ,0944444444,,"
            "Không chọn,Hoàng tử bé,an.png,yes,x\n",
            "Lý Chưa Hỏi,10,5,th-bach-sam-5a,Lý Mẹ,0955555555,hidden,"
            "Chưa đồng ý,Hoàng tử bé,an.png,,x\n",
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

    response = await _import(app, intake_settings, DRAWING, csv_text, archive)

    assert response.status_code == 200, response.text[:2000]
    html = response.text
    rows = _row_kinds(html)
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
    refused_text = {n: _row_text(html, n) for n in "456789"}
    assert (vi("Entrants under 18 need a parent or guardian: enter their name.")) in refused_text[
        "4"
    ]
    assert vi("Choose the school and class, or the residential group.") in refused_text["5"]
    assert vi("No file named %(name)s in the ZIP.", name="khong-co.png") in refused_text["6"]
    assert kind_not_accepted(DRAWING_KINDS) in refused_text["7"]
    assert vi("Choose how the name may appear in public.") in refused_text["8"]
    assert (
        vi(
            "A parent or guardian must read the privacy notice and agree to it before a "
            "child's entry can be sent."
        )
        in refused_text["9"]
    )
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html

    # The import's job ran, then each accepted entry's processing: originals and previews.
    after = await counts(sessionmaker, store)
    assert (after.entrants, after.entries) == (before.entrants + 2, before.entries + 2)
    assert after.objects == before.objects + 2 * 3
    async with sessionmaker() as session:
        made = (
            await session.scalars(select(Entry).where(Entry.submitted_by_id == coordinator.user.id))
        ).all()
    assert sorted(e.title for e in made) == ["Cánh đồng", "Ngôi nhà"]

    # The same import again makes nothing new and says so.
    async with nothing_stored():
        again = await _import(app, intake_settings, DRAWING, csv_text, archive)
        assert again.status_code == 200
        assert again.text.count(vi("already imported")) == 2


@LOCAL_ONLY
async def test_a_bulk_import_of_typed_texts_needs_no_zip(
    intake_settings: Settings,
    app: httpx.AsyncClient,
    make_user: MakeUser,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await signed_in_coordinator(app, make_user, ["thcs-bach-sam"])
    csv_text = (
        "full_name;age;grade;unit;guardian_name;guardian_phone;consent;title;book;text;agreement;"
        "child_consent\n"
        "Hà Anh;12;6;thcs-bach-sam-6a;Hà Bố;0912000000;initials;Bài một;Hoàng tử bé;Một hai ba;"
        "có;có\n"
    )
    response = await _import(app, intake_settings, WRITING, csv_text, None)
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
@pytest.mark.usefixtures("coordinator")
async def test_a_bulk_import_without_the_needed_columns_is_refused_whole(
    intake_settings: Settings,
    app: httpx.AsyncClient,
    nothing_stored: StoredCheck,
    csv_text: str,
    message: str,
) -> None:
    async with nothing_stored():
        response = await _import(app, intake_settings, DRAWING, csv_text, None)
        assert response.status_code == 422
        expected = vi(message, columns="full_name, unit, consent, title")
        assert expected.split(":")[0] in response.text


@LOCAL_ONLY
@pytest.mark.usefixtures("coordinator")
async def test_a_bulk_row_showing_a_childs_name_needs_the_childs_own_consent(
    intake_settings: Settings,
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
) -> None:
    page = await app.get(f"/coordinator/contests/{DRAWING}/import")
    hint = vi(
        "In the column child_consent, write yes when a child aged 7 to 17 has said yes themself "
        "to their name being shown; a row showing such a child's name (consent full_name or "
        "initials) without it is refused."
    )
    assert html_text.escape(hint, quote=True).replace("&#x27;", "&#39;") in page.text
    rows = [
        # A pupil of 10 whose name would be shown, without the child's own yes: refused.
        "Khúc Chưa Hỏi,10,5,th-bach-sam-5a,Khúc Mẹ,0912345678,full_name,Bài một,Hoàng tử bé,an.png,"
        "yes,\n",
        # No name shown: the child's yes is not needed.
        "Khúc Không Tên,10,5,th-bach-sam-5a,Khúc Bố,0912345679,hidden,Bài hai,Hoàng tử bé,an.png,"
        "yes,\n",
        # Under 7 the guardian's choice is enough.
        "Khúc Nhỏ,6,1,th-bach-sam-5a,Khúc Bà,0912345670,initials,Bài ba,Hoàng tử bé,an.png,yes,\n",
        # An adult consents for themself.
        "Khúc Người Lớn,30,,th-bach-sam-5a,,,full_name,Bài bốn,Hoàng tử bé,an.png,yes,\n",
        # Both parts.
        "Khúc Đồng Ý,9,4,th-bach-sam-5a,Khúc Cô,0912345671,initials,Bài năm,Hoàng tử bé,an.png,"
        "yes,có\n",
    ]
    before = await counts(sessionmaker, store)

    response = await _import(
        app,
        intake_settings,
        DRAWING,
        CSV_HEADER + "".join(rows),
        _zip({"an.png": files.drawing_png()}),
    )

    assert response.status_code == 200, response.text[:2000]
    html = response.text
    kinds = _row_kinds(html)
    assert kinds == {
        "2": "refused",
        "3": "accepted",
        "4": "accepted",
        "5": "accepted",
        "6": "accepted",
    }
    refused = _row_text(html, "2")
    assert vi(CHILD_REFUSAL) in refused
    assert vi("Child's own consent") in refused
    after = await counts(sessionmaker, store)
    assert (after.entrants, after.entries) == (before.entrants + 4, before.entries + 4)
    async with sessionmaker() as session:
        kept = dict(
            (
                await session.execute(
                    select(Entrant.full_name, Entrant.child_consent_at).where(
                        Entrant.full_name.like("Khúc %")
                    )
                )
            ).all()
        )
    assert "Khúc Chưa Hỏi" not in kept
    assert {name for name, at in kept.items() if at is not None} == {"Khúc Đồng Ý"}
    assert set(kept) == {"Khúc Không Tên", "Khúc Nhỏ", "Khúc Người Lớn", "Khúc Đồng Ý"}


# --- the import as a job ------------------------------------------------------------------

GOOD_ROWS = CSV_HEADER + "".join(
    f"Người Thứ {n},10,5,th-bach-sam-5a,Mẹ {n},091234567{n},initials,Tranh {n},"
    f"Hoàng tử bé,tranh-{n}.png,yes,x\n"
    for n in range(4)
)


def _good_archive() -> bytes:
    return _zip({f"tranh-{n}.png": files.drawing_png() for n in range(4)})


async def _jobs(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Job]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Job).order_by(Job.id))).all())


async def _made_by(sessionmaker: async_sessionmaker[AsyncSession], user: User) -> list[str]:
    async with sessionmaker() as session:
        found = await session.scalars(
            select(Entry.title).where(Entry.submitted_by_id == user.id).order_by(Entry.title)
        )
        return list(found.all())


@dataclasses.dataclass
class SentImport:
    """A coordinator's import of four good rows, sent and not yet run: who sent it, the
    counts before, the answer and its job."""

    account: Account
    before: Counts
    sent: httpx.Response
    job: Job


@pytest.fixture
async def sent_import(
    app: httpx.AsyncClient,
    coordinator: Account,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
) -> SentImport:
    before = await counts(sessionmaker, store)
    sent = await _send_import(app, DRAWING, GOOD_ROWS, _good_archive())
    assert sent.status_code == 303
    (job,) = await _jobs(sessionmaker)
    return SentImport(coordinator, before, sent, job)


async def test_an_import_is_taken_in_at_once_and_its_rows_are_left_to_a_job(
    intake_settings: Settings,
    app: httpx.AsyncClient,
    make_user: MakeUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    sent_import: SentImport,
) -> None:
    account, before, job = sent_import.account, sent_import.before, sent_import.job
    page_url = sent_import.sent.headers["location"]
    assert job.kind == "bulk_import" and job.status == JobStatus.QUEUED
    assert job.created_by_id == account.user.id
    # Nothing is made before the job runs; the CSV and the ZIP wait for it in storage.
    waiting = await counts(sessionmaker, store)
    assert (waiting.entries, waiting.assets) == (before.entries, before.assets)
    assert waiting.objects == before.objects + 2
    assert sorted(await store.list_keys("imports/")) == [job.params["csv"], job.params["zip"]]
    page = await app.get(page_url)
    assert page.status_code == 200
    assert vi("Waiting for a worker") in page.text and 'class="accepted"' not in page.text
    followed = await app.get(f"/api/v1/jobs/{job.id}")
    assert followed.status_code == 200 and followed.json()["status"] == "queued"

    # Another coordinator does not see it, by its page or the API.
    other = httpx.AsyncClient(transport=app._transport, base_url=str(app.base_url))
    async with other:
        await signed_in_coordinator(other, make_user, ["thcs-bach-sam"])
        assert (await other.get(f"/api/v1/jobs/{job.id}")).status_code == 404
        assert (await other.get(page_url)).status_code == 404

    # The import, then each of its four entries' processing.
    assert await run_queued(intake_settings, JOB_KINDS) == 1 + 4
    done = (await app.get(f"/api/v1/jobs/{job.id}")).json()
    assert done["status"] == "done"
    assert done["progress"] == {"done": 4, "total": 4}
    assert (done["result"]["accepted"], done["result"]["refused"]) == (4, 0)
    page = await app.get(page_url)
    assert page.text.count('class="accepted"') == 4
    assert vi("already imported") not in page.text
    # Each row's private link opens its entry.
    link = html_text.unescape(re.findall(r'<a href="([^"]+/entries/[^"]+)"', page.text)[0])
    assert (await app.get(link)).status_code == 200
    assert await _made_by(sessionmaker, account.user) == [f"Tranh {n}" for n in range(4)]
    after = await counts(sessionmaker, store)
    assert after.entries == before.entries + 4
    # The kept CSV and ZIP went with the run.
    assert await store.list_keys("imports/") == []
    assert after.objects == before.objects + 4 * 3


async def test_an_import_stopped_half_way_is_taken_up_with_no_entry_made_twice(
    intake_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    sent_import: SentImport,
) -> None:
    account, before, job = sent_import.account, sent_import.before, sent_import.job

    async def killed_after_two(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt("the worker was killed")

    context = JobContext(
        job=job,
        actor=account.user,
        settings=intake_settings,
        sessionmaker=sessionmaker,
        storage=store,
        progress=killed_after_two,
    )
    with pytest.raises(KeyboardInterrupt):
        await bulk.run_import(context)
    assert await _made_by(sessionmaker, account.user) == ["Tranh 0", "Tranh 1"]

    # The job was never finished: a worker takes it up and goes on from the third row (then
    # the four entries' files are processed).
    assert await run_queued(intake_settings, JOB_KINDS) == 1 + 4
    async with sessionmaker() as session:
        row = await session.get(Job, job.id)
    assert row is not None and row.status == JobStatus.DONE, row and row.error
    assert row.result is not None and row.result["accepted"] == 4
    # Rows this job made before it stopped are its own, not an earlier import's.
    assert [r["already"] for r in row.result["rows"]] == [False] * 4
    assert await _made_by(sessionmaker, account.user) == [f"Tranh {n}" for n in range(4)]
    after = await counts(sessionmaker, store)
    assert (after.entries, after.objects) == (before.entries + 4, before.objects + 4 * 3)


async def test_an_import_whose_kept_files_are_gone_fails_clearly_and_makes_nothing(
    intake_settings: Settings,
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    sent_import: SentImport,
) -> None:
    job = sent_import.job
    await store.delete(job.params["csv"])
    await store.delete(job.params["zip"])
    await run_queued(intake_settings, JOB_KINDS)
    assert await counts(sessionmaker, store) == sent_import.before
    page = await app.get(sent_import.sent.headers["location"])
    expected = vi("The files of this import are no longer kept. Please send the import again.")
    assert expected in html_text.unescape(page.text)
    assert vi("Failed") in page.text


@LOCAL_ONLY
@pytest.mark.parametrize(
    ("csv_bytes", "archive", "message"),
    [
        (GOOD_ROWS.encode("utf-16"), None, "The CSV file must be saved as UTF-8."),
        (GOOD_ROWS.encode(), b"PK\x03\x04 not really a zip", "The ZIP file could not be read."),
        (
            (
                CSV_HEADER + "An,10,5,th-bach-sam-5a,Mẹ,0912345678,initials,T,Sách,,yes,x\n" * 1001
            ).encode(),
            None,
            "Import at most %(count)s rows at a time.",
        ),
    ],
)
@pytest.mark.usefixtures("coordinator")
async def test_an_import_that_cannot_be_read_is_refused_at_once_with_no_job(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    nothing_stored: StoredCheck,
    csv_bytes: bytes,
    archive: bytes | None,
    message: str,
) -> None:
    path = f"/coordinator/contests/{DRAWING}/import"
    body = form({}, csrf=await csrf_from(app, path))
    body.files = [("csv", "hoc-sinh.csv", csv_bytes, "text/csv")]
    if archive is not None:
        body.files.append(("zip", "tranh.zip", archive, "application/zip"))
    async with nothing_stored():
        response = await post_form(app, path, body)
    assert response.status_code == 422
    assert vi(message, count="1.000") in html_text.unescape(response.text)
    assert await _jobs(sessionmaker) == []
    assert await store.list_keys("imports/") == []


# --- labels for paper entries -------------------------------------------------------------


@pytest.mark.usefixtures("coordinator")
async def test_a_coordinator_prints_labels_naming_only_their_units_entries(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from tests.results.support import pdf_pages, pdf_qr_codes

    ours = await make_entries(sessionmaker, DRAWING, ages=[9, 10], unit_code="th-bach-sam-3a")
    theirs = await make_entries(sessionmaker, DRAWING, ages=[12], unit_code="thcs-bach-sam-6a")
    response = await app.get(f"/coordinator/contests/{DRAWING}/labels.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    codes = [code for page in pdf_qr_codes(response.content) for code in page]
    numbers = {int(code.split(":")[1]) for code in codes}
    assert set(ours) <= numbers and not set(theirs) & numbers
    assert all(code.startswith("contest-entry:") for code in codes)
    text = "\n".join(pdf_pages(response.content))
    async with sessionmaker() as session:
        names = (await session.scalars(select(Entrant.full_name))).all()
    assert not any(name in text for name in names)
    assert vi("Entry no. %(number)s", number=ours[0]) in text


# --- scanned entries of several pages -------------------------------------------------------


@LOCAL_ONLY
async def test_a_folder_of_scans_in_the_zip_is_one_entry_with_its_pages_in_order(
    intake_settings: Settings,
    app: httpx.AsyncClient,
    make_user: MakeUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    nothing_stored: StoredCheck,
) -> None:
    from contest.models import Contest

    async with sessionmaker.begin() as session:
        writing = await session.scalar(select(Contest).where(Contest.slug == WRITING))
        assert writing is not None
        writing.allowed_types = ["pdf", "jpeg", "png"]
        writing.max_files = 3
    await signed_in_coordinator(app, make_user, ["thcs-bach-sam"])
    header = CSV_HEADER
    row = (
        "Hà Anh,12,6,thcs-bach-sam-6a,Hà Bố,0912000000,initials,{title},Hoàng tử bé,{file},yes,"
        "yes\n"
    )
    pages = {
        "truong-thcs/bai-ha-anh/trang-10.png": files.drawing_png((40, 30)),
        "truong-thcs/bai-ha-anh/trang-2.png": files.drawing_png((20, 30)),
        "truong-thcs/bai-ha-anh/trang-1.png": files.drawing_png((10, 30)),
        "truong-thcs/qua-dai/1.png": files.drawing_png(),
        "truong-thcs/qua-dai/2.png": files.drawing_png(),
        "truong-thcs/qua-dai/3.png": files.drawing_png(),
        "truong-thcs/qua-dai/4.png": files.drawing_png(),
    }
    csv_text = header + row.format(title="Ba trang", file="bai-ha-anh/")
    response = await _import(app, intake_settings, WRITING, csv_text, _zip(pages))
    assert 'class="accepted" data-row="2"' in response.text, response.text[:3000]
    async with sessionmaker() as session:
        _entry, names = await entry_files(session, title="Ba trang")
    assert names == ["trang-1.png", "trang-2.png", "trang-10.png"]

    # A folder with more pages than the contest takes: the row is refused, nothing kept.
    async with nothing_stored():
        refused = await _import(
            app, intake_settings, WRITING, header + row.format(title="Bốn", file="qua-dai"),
            _zip(pages),
        )  # fmt: skip
    reasons = _row_text(refused.text, "2")
    assert (
        vi(
            "The folder %(name)s holds %(count)s files: send at most %(max)s pages.",
            name="qua-dai",
            count=4,
            max=3,
        )
        in reasons
    )
