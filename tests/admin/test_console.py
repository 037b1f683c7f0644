from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.models import AuditEvent, Book, Conflict, Contest, Criterion, Role, Unit, User
from contest.settings import Settings
from storage import Storage
from tests.support import Account, MakeUser, app_client, csrf_from, sign_in

CONTEST_FORM = {
    "slug": "ke-chuyen-thieu-nhi",
    "kind": "storytelling",
    "title": "Kể chuyện thiếu nhi",
    "opens_at": "2026-10-01T00:00",
    "closes_at": "2026-10-07T17:00",
    "status": "open",
    "allowed_types": ["mp3", "mp4"],
    "max_file_size_mb": "100",
    "max_files": "1",
    "judges_per_entry": "2",
    "blind": "1",
    "aggregation": "mean",
    "prizes_first": "1",
    "prizes_second": "2",
    "prizes_third": "2",
    "prizes_honourable": "4",
}


@pytest.fixture
async def organiser(client: httpx.AsyncClient, demo: DemoReport, make_user: MakeUser) -> Account:
    account = await make_user("btc@example.vn", Role.ADMIN)
    await sign_in(client, "btc@example.vn", account.password)
    return account


async def count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def post(client: httpx.AsyncClient, path: str, data: dict[str, object]) -> httpx.Response:
    token = await csrf_from(client, path if not path.endswith("/import") else "/admin/units")
    return await client.post(path, data={**data, "csrf_token": token})


async def test_organiser_creates_and_edits_a_contest_and_the_audit_shows_it(
    client: httpx.AsyncClient,
    organiser: Account,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    created = await post(client, "/admin/contests/new", CONTEST_FORM)
    assert created.status_code == 303
    async with sessionmaker() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == "ke-chuyen-thieu-nhi"))
    assert contest is not None
    assert contest.max_file_size == 100 * 1024 * 1024
    assert contest.allowed_types == ["mp3", "mp4"]
    assert contest.prize_scheme == {
        "method": "count",
        "tiers": {"first": 1, "second": 2, "third": 2, "honourable": 4},
    }
    # 17:00 in Hanoi is 10:00 UTC.
    assert contest.closes_at.hour == 10

    edit = f"/admin/contests/{contest.id}"
    changed = await post(client, edit, {**CONTEST_FORM, "title": "Kể chuyện sách thiếu nhi"})
    assert changed.status_code == 303
    async with sessionmaker() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "contest_updated")
        )
    assert event is not None
    assert event.before == {"title": "Kể chuyện thiếu nhi"}
    assert event.after == {"title": "Kể chuyện sách thiếu nhi"}
    assert event.actor_label == "btc@example.vn"

    audit = await client.get("/admin/audit", params={"action": "contest_updated"})
    assert audit.status_code == 200
    assert "Kể chuyện sách thiếu nhi" in audit.text


async def test_a_contest_names_the_next_level_it_forwards_to_in_the_form_and_the_event_file(
    client: httpx.AsyncClient,
    organiser: Account,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    form = {**CONTEST_FORM, "forwards_to": "ke-chuyen-sach", "forward_quota": "6"}
    assert (await post(client, "/admin/contests/new", form)).status_code == 303
    async with sessionmaker() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == "ke-chuyen-thieu-nhi"))
        target = await session.scalar(select(Contest.id).where(Contest.slug == "ke-chuyen-sach"))
    assert contest is not None and contest.forwards_to_id == target
    assert contest.forward_quota == 6
    page = await client.get(f"/admin/contests/{contest.id}")
    assert 'value="ke-chuyen-sach"' in page.text and 'value="6"' in page.text
    dumped = await client.get("/admin/event.yaml")
    document = yaml.safe_load(dumped.text)
    found = next(c for c in document["contests"] if c["slug"] == "ke-chuyen-thieu-nhi")
    assert (found["forwards_to"], found["forward_quota"]) == ("ke-chuyen-sach", 6)
    # Emptied, it is the last level again.
    cleared = await post(client, f"/admin/contests/{contest.id}", CONTEST_FORM)
    assert cleared.status_code == 303
    async with sessionmaker() as session:
        again = await session.get(Contest, contest.id)
    assert again is not None and again.forwards_to_id is None and again.forward_quota is None


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"title": ""}, "title", "Mục này bắt buộc."),
        ({"closes_at": "2026-09-30T17:00"}, "closes_at", "Hạn nộp phải sau thời điểm mở nhận bài."),
        ({"slug": "Kể Chuyện"}, "slug", "Dùng chữ thường không dấu"),
        ({"max_file_size_mb": "0"}, "max_file_size_mb", "Nhập một số từ 1 đến 2048."),
        ({"allowed_types": ["exe"]}, "allowed_types", "Hãy chọn một trong các lựa chọn."),
        ({"kind": "poetry"}, "kind", "Hãy chọn một trong các lựa chọn."),
        ({"slug": "ve-tranh-theo-sach"}, "slug", "Cuộc thi khác đã dùng tên ngắn này."),
        ({"title": "<script>alert(1)</script>", "closes_at": "x"}, "closes_at", "Nhập ngày giờ"),
        ({"forwards_to": "khong-co", "forward_quota": "2"}, "forwards_to", "Không có cuộc thi"),
        ({"forwards_to": "ke-chuyen-sach"}, "forward_quota", "bao nhiêu bài"),
        ({"forwards_to": "ve-tranh-theo-sach", "forward_quota": "2"}, "forwards_to", "cùng loại"),
        ({"forwards_to": "ke-chuyen-thieu-nhi", "forward_quota": "2"}, "forwards_to", "chính nó"),
    ],
)
async def test_a_bad_contest_form_is_422_with_the_reason_and_stores_nothing(
    client: httpx.AsyncClient,
    organiser: Account,
    sessionmaker: async_sessionmaker[AsyncSession],
    change: dict[str, object],
    field: str,
    message: str,
) -> None:
    contests, audits = await count(sessionmaker, Contest), await count(sessionmaker, AuditEvent)
    response = await post(client, "/admin/contests/new", {**CONTEST_FORM, **change})
    assert response.status_code == 422
    assert f'id="f-{field}-error"' in response.text
    assert message in response.text
    # What was typed is kept, escaped.
    assert "<script>alert(1)</script>" not in response.text
    assert await count(sessionmaker, Contest) == contests
    assert await count(sessionmaker, AuditEvent) == audits


async def test_rubric_rows_and_books_are_added_edited_and_removed(
    client: httpx.AsyncClient,
    organiser: Account,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == "ke-chuyen-sach"))
    assert contest is not None
    base = f"/admin/contests/{contest.id}"
    added = await post(
        client,
        f"{base}/criteria/new",
        {"key": "sang-tao", "label": "Sáng tạo", "max_points": "2,5", "weight": "1"},
    )
    assert added.status_code == 303
    duplicate = await post(
        client, f"{base}/criteria/new", {"key": "sang-tao", "label": "Lặp", "max_points": "1"}
    )
    assert duplicate.status_code == 422
    async with sessionmaker() as session:
        row = await session.scalar(
            select(Criterion).where(Criterion.contest_id == contest.id, Criterion.key == "sang-tao")
        )
    assert row is not None and row.max_points == 2.5

    book = await post(client, f"{base}/books/new", {"title": "Totto-chan", "author": "Kuroyanagi"})
    assert book.status_code == 303
    async with sessionmaker() as session:
        found = await session.scalar(select(Book).where(Book.title == "Totto-chan"))
    assert found is not None
    removed = await post(client, f"{base}/books/{found.id}", {"delete": "1"})
    assert removed.status_code == 303
    async with sessionmaker() as session:
        assert await session.get(Book, found.id) is None
        actions = set((await session.scalars(select(AuditEvent.action))).all())
    assert {"criterion_created", "book_created", "book_deleted"} <= actions


async def test_units_import_keeps_good_rows_and_names_each_refused_one(
    client: httpx.AsyncClient,
    organiser: Account,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    csv_text = (
        "code,name,kind,parent\n"
        "th-moi,Trường Tiểu học Mới,school,\n"
        "th-moi-1a,Lớp 1A,class,th-moi\n"
        "bad code,Lớp sai,class,th-moi\n"
        "th-moi-2a,Lớp 2A,class,khong-co\n"
        "th-bach-sam,Trùng mã,school,\n"
        "tdp-9,Tổ dân phố số 9,residential_group,\n"
    )
    before = await count(sessionmaker, Unit)
    token = await csrf_from(client, "/admin/units")
    response = await client.post(
        "/admin/units/import",
        data={"csrf_token": token},
        files={"file": ("units.csv", csv_text.encode("utf-8-sig"), "text/csv")},
    )
    assert response.status_code == 200
    assert "Đã nhập 3 đơn vị." in response.text
    for line in (4, 5, 6):
        assert f"dòng {line}: " in response.text
    assert await count(sessionmaker, Unit) == before + 3
    async with sessionmaker() as session:
        child = await session.scalar(select(Unit).where(Unit.code == "th-moi-1a"))
        parent = await session.scalar(select(Unit).where(Unit.code == "th-moi"))
    assert child is not None and parent is not None and child.parent_id == parent.id


async def test_import_without_csrf_is_refused(
    client: httpx.AsyncClient, organiser: Account, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    before = await count(sessionmaker, Unit)
    response = await client.post(
        "/admin/units/import", files={"file": ("u.csv", b"code,name,kind\nx,X,school\n")}
    )
    assert response.status_code == 403
    assert await count(sessionmaker, Unit) == before


async def test_invited_judge_sets_a_password_and_deactivation_ends_the_session(
    client: httpx.AsyncClient,
    organiser: Account,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    invited = await post(
        client,
        "/admin/users",
        {
            "email": "Tuan.Pham@Example.vn",
            "name": "Phạm Anh Tuấn",
            "role": "judge",
            "units": ["tdp-2"],
            "contests": ["ke-chuyen-sach"],
        },
    )
    assert invited.status_code == 200
    link = re.search(r"data-invite-link>([^<]+)<", invited.text)
    assert link, invited.text
    path = link.group(1).removeprefix(settings.base_url)

    async with app_client(settings) as judge:
        token = await csrf_from(judge, path)
        done = await judge.post(
            path,
            data={"password": "giám khảo 2024", "confirm": "giám khảo 2024", "csrf_token": token},
        )
        assert done.status_code == 303
        assert (await judge.get("/account")).status_code == 200

        async with sessionmaker() as session:
            user = await session.scalar(select(User).where(User.email == "tuan.pham@example.vn"))
        assert user is not None
        # The organiser deactivates the judge: the judge's open session ends.
        edited = await post(
            client, f"/admin/users/{user.id}", {"name": "Phạm Anh Tuấn", "units": ["tdp-2"]}
        )
        assert edited.status_code == 303
        assert (await judge.get("/account")).status_code == 303


async def test_conflicts_are_declared_and_removed(
    client: httpx.AsyncClient,
    organiser: Account,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    declared = await post(
        client,
        "/admin/conflicts",
        {"judge": "gk.lan@bachsam.demo", "unit": "thcs-bach-sam-6a", "reason": "Con học lớp 6A"},
    )
    assert declared.status_code == 303
    bad = await post(client, "/admin/conflicts", {"judge": "nobody@x.vn", "unit": "tdp-1"})
    assert bad.status_code == 422
    async with sessionmaker() as session:
        conflict = (await session.scalars(select(Conflict))).one()
    page = await client.get("/admin/conflicts")
    assert "Con học lớp 6A" in page.text
    removed = await post(client, "/admin/conflicts", {"remove": str(conflict.id)})
    assert removed.status_code == 303
    assert await count(sessionmaker, Conflict) == 0


def png_with_gps() -> bytes:
    """A small PNG carrying EXIF with a GPS position, as a phone might add."""
    import io

    from PIL import Image

    image = Image.new("RGB", (300, 120), (200, 30, 30))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (21.0, 1.0, 0.0)}
    out = io.BytesIO()
    image.save(out, format="PNG", exif=exif)
    return out.getvalue()


async def test_event_logo_is_stored_without_metadata_and_shown_on_the_home_page(
    client: httpx.AsyncClient,
    organiser: Account,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
) -> None:
    from PIL import Image

    from contest.models import Event

    token = await csrf_from(client, "/admin/event")
    svg = await client.post(
        "/admin/event/logo",
        data={"csrf_token": token},
        files={"logo": ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")},
    )
    assert svg.status_code == 415
    assert not await storage.list_keys("event/")

    uploaded = await client.post(
        "/admin/event/logo",
        data={"csrf_token": token},
        files={"logo": ("logo.png", png_with_gps(), "image/png")},
    )
    assert uploaded.status_code == 303
    async with sessionmaker() as session:
        event = (await session.scalars(select(Event))).one()
    assert event.logo_key and event.logo_key.startswith("event/")
    stored = b"".join([chunk async for chunk in await storage.get_stream(event.logo_key)])
    import io

    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG"
        assert not image.getexif()
    home = await client.get("/")
    assert 'class="event-logo"' in home.text

    # A second logo replaces the first, whose file goes.
    again = await client.post(
        "/admin/event/logo",
        data={"csrf_token": token},
        files={"logo": ("logo.png", png_with_gps(), "image/png")},
    )
    assert again.status_code == 303
    assert await storage.list_keys("event/") != [event.logo_key]
    assert len(await storage.list_keys("event/")) == 1


async def test_the_event_logo_is_decoded_off_the_event_loop(
    client: httpx.AsyncClient,
    organiser: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    from contest.admin import services
    from contest.files.images import Derivatives

    threads: list[threading.Thread] = []
    decode = services.make_derivatives

    def recording(source: Any) -> Derivatives:
        threads.append(threading.current_thread())
        return decode(source)

    monkeypatch.setattr(services, "make_derivatives", recording)
    token = await csrf_from(client, "/admin/event")
    uploaded = await client.post(
        "/admin/event/logo",
        data={"csrf_token": token},
        files={"logo": ("logo.png", png_with_gps(), "image/png")},
    )
    assert uploaded.status_code == 303
    assert threads and threads[0] is not threading.main_thread()
