from __future__ import annotations

import hashlib
import io
import re

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.files.limits import MAX_JSON_BYTES
from contest.models import (
    Asset,
    AssetRole,
    Assignment,
    AssignmentStatus,
    AuditEvent,
    Entry,
    Role,
    Score,
    User,
)
from contest.settings import Settings
from judging import services
from tests.support import (
    DEMO_PASSWORD,
    DRAWING,
    WRITING,
    MakeUser,
    app_client,
    audit_trail,
    contest_id_of,
    csrf_from,
    follow_job,
    make_entries,
    score_all,
    selected,
    sign_in,
)

# What would tell a judge who made the demo's entries.
IDENTIFYING = [
    "Nguyễn Minh Anh",
    "Nguyễn Văn Bình",
    "0912345678",
    "DEMV-W7K3",
    "Trần Gia Huy",
    "Trần Thị Thu",
    "0987654321",
    "DEMD-R8P4",
    "Lớp 5A",
    "Lớp 6A",
    "Trường Tiểu học Bạch Sam",
    "Trường THCS Bạch Sam",
    "sample.png",
    "sample.wav",
    "demv-w7k3",
    "demd-r8p4",
]


async def assign_all(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session:
        for slug in (WRITING, DRAWING):
            cid = await contest_id_of(sessionmaker, slug)
            report = await services.run_assignment(session, contest_id=cid, actor=None)
            assert report.shortfalls == {}
        await session.commit()


async def assignments_of(
    sessionmaker: async_sessionmaker[AsyncSession], email: str
) -> list[Assignment]:
    query = select(Assignment).join(User, User.id == Assignment.judge_id)
    return await selected(sessionmaker, query.where(User.email == email).order_by(Assignment.id))


@pytest.fixture
async def judged(demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await assign_all(sessionmaker)


async def test_judges_never_get_entries_from_their_own_units(
    judged: None, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(User.email, Entry.receipt_code)
                .join(Assignment, Assignment.judge_id == User.id)
                .join(Entry, Entry.id == Assignment.entry_id)
            )
        ).all()
    pairs = {(email, code) for email, code in rows}
    # Lan belongs to the primary school, so not its class 5A; Minh to the lower secondary.
    assert ("gk.lan@bachsam.demo", "DEMV-W7K3") not in pairs
    assert ("gk.minh@bachsam.demo", "DEMD-R8P4") not in pairs
    for code in ("DEMV-W7K3", "DEMD-R8P4"):
        assert sum(1 for _e, c in pairs if c == code) == 3


async def test_the_judges_pages_and_api_name_nobody(
    judged: None,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await sign_in(client, "gk.hoa@bachsam.demo", DEMO_PASSWORD)
    pages = [await client.get("/judge")]
    for assignment in await assignments_of(sessionmaker, "gk.hoa@bachsam.demo"):
        page = await client.get(f"/judge/assignments/{assignment.id}")
        assert page.status_code == 200
        pages.append(page)
        pages.append(await client.get(f"/api/v1/judge/assignments/{assignment.id}"))
    pages.append(await client.get("/api/v1/judge/assignments"))
    assert len(pages) == 6
    drawing = next(p for p in pages if "<img" in p.text)
    image_url = re.search(r'<img src="([^"]+)"', drawing.text)
    assert image_url
    image = await client.get(image_url.group(1).replace("&amp;", "&"))
    assert image.status_code == 200
    # The drawing is shown as its preview, re-encoded without the photo's metadata.
    assert image.content.startswith(b"\xff\xd8")
    async with sessionmaker() as session:
        preview = await session.scalar(select(Asset).where(Asset.role == AssetRole.PREVIEW))
    assert preview is not None and hashlib.sha256(image.content).hexdigest() == preview.sha256
    assert not Image.open(io.BytesIO(image.content)).getexif()
    for response in [*pages, image]:
        assert response.status_code == 200
        text = response.text if response is not image else str(dict(response.headers))
        for value in IDENTIFYING:
            assert value not in text, (value, response.url)


async def test_a_judge_cannot_see_or_score_an_entry_not_assigned_to_them(
    judged: None,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    others = await assignments_of(sessionmaker, "gk.tuan@bachsam.demo")
    await sign_in(client, "gk.hoa@bachsam.demo", DEMO_PASSWORD)
    target = others[0].id
    assert (await client.get(f"/judge/assignments/{target}")).status_code == 404
    token = await csrf_from(client, "/judge")
    posted = await client.post(
        f"/judge/assignments/{target}",
        data={"csrf_token": token, "points.noi-dung": "3", "action": "submit"},
    )
    assert posted.status_code == 404
    assert "Bài này không có trong danh sách của bạn." in posted.text
    api = await client.put(
        f"/api/v1/judge/assignments/{target}/score",
        json={"points": {"noi-dung": 3}, "submit": False},
        headers={"X-CSRF-Token": token},
    )
    assert api.status_code == 404
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Score)) == 0


async def fill(client: httpx.AsyncClient, assignment_id: int, **points: str) -> dict[str, str]:
    token = await csrf_from(client, f"/judge/assignments/{assignment_id}")
    return {"csrf_token": token, **{f"points.{k}": v for k, v in points.items()}}


async def test_out_of_range_scores_are_422_and_change_nothing(
    judged: None,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await sign_in(client, "gk.hoa@bachsam.demo", DEMO_PASSWORD)
    writing = await contest_id_of(sessionmaker, WRITING)
    mine = [a for a in await assignments_of(sessionmaker, "gk.hoa@bachsam.demo")]
    async with sessionmaker() as session:
        entry_contests = {
            a.id: await session.scalar(select(Entry.contest_id).where(Entry.id == a.entry_id))
            for a in mine
        }
    assignment = next(a for a in mine if entry_contests[a.id] == writing)
    audits_before = await _count(sessionmaker, AuditEvent)
    for bad in ({"noi-dung": "5"}, {"noi-dung": "-1"}, {"noi-dung": "1.3"}, {"noi-dung": "x"}):
        data = await fill(client, assignment.id, **bad)
        response = await client.post(
            f"/judge/assignments/{assignment.id}", data={**data, "action": "save"}
        )
        assert response.status_code == 422
        assert 'id="f-noi-dung-error"' in response.text
    incomplete = await fill(client, assignment.id, **{"noi-dung": "3"})
    response = await client.post(
        f"/judge/assignments/{assignment.id}", data={**incomplete, "action": "submit"}
    )
    assert response.status_code == 422
    assert "Hãy cho điểm tiêu chí này trước khi gửi." in response.text
    api = await client.put(
        f"/api/v1/judge/assignments/{assignment.id}/score",
        json={"points": {"noi-dung": 11}, "submit": False},
        headers={"X-CSRF-Token": incomplete["csrf_token"]},
    )
    assert api.status_code == 422
    assert "noi-dung" in api.json()["error"]["fields"]
    # A body that is not a JSON object, or is over the API's JSON limit, is refused unread.
    for body, status, message in (
        (b"[1]", 400, "Nội dung yêu cầu phải là một đối tượng JSON."),
        (b"{", 400, "Nội dung yêu cầu không phải JSON hợp lệ."),
        (b'{"comment": "' + b"x" * MAX_JSON_BYTES + b'"}', 413, "Yêu cầu quá lớn."),
    ):
        refused = await client.put(
            f"/api/v1/judge/assignments/{assignment.id}/score",
            content=body,
            headers={"X-CSRF-Token": incomplete["csrf_token"], "Content-Type": "application/json"},
        )
        assert refused.status_code == status, refused.text
        assert refused.json()["error"]["message"] == message
    assert await _count(sessionmaker, Score) == 0
    assert await _count(sessionmaker, AuditEvent) == audits_before
    async with sessionmaker() as session:
        fresh = await session.get(Assignment, assignment.id)
    assert fresh is not None and fresh.status == AssignmentStatus.ASSIGNED


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_draft_then_submit_is_audited_and_closed_rounds_refuse_changes(
    judged: None,
    client: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    writing = await contest_id_of(sessionmaker, WRITING)
    await sign_in(client, "gk.tuan@bachsam.demo", DEMO_PASSWORD)
    writing_entries = await _entries_of(sessionmaker, writing)
    assignment = next(
        a
        for a in await assignments_of(sessionmaker, "gk.tuan@bachsam.demo")
        if a.entry_id in writing_entries
    )
    url = f"/judge/assignments/{assignment.id}"
    draft = await fill(client, assignment.id, **{"noi-dung": "3,5"})
    saved = await client.post(url, data={**draft, "action": "save", "feedback": "Bài viết tốt"})
    assert saved.status_code == 303
    full = await fill(
        client,
        assignment.id,
        **{"noi-dung": "3.5", "sang-tao": "2", "ngon-ngu": "1.5", "lien-he": "1"},
    )
    submitted = await client.post(
        url, data={**full, "action": "submit", "feedback": "Bài viết tốt"}
    )
    assert submitted.status_code == 303
    async with sessionmaker() as session:
        score = await session.scalar(select(Score).where(Score.assignment_id == assignment.id))
        events = await audit_trail(session, "assignment")
    assert score is not None and score.total == 8.0
    assert score.feedback_to_entrant == "Bài viết tốt"
    assert [e.action for e in events] == ["score_saved", "score_submitted"]
    assert events[1].before is not None and events[1].before["points"] == {"noi-dung": 3.5}
    assert events[1].after is not None and events[1].after["total"] == 8.0

    # The organiser sees it in the progress, then closes the round.
    admin = await make_user("btc@example.vn", Role.ADMIN)
    async with app_client(settings) as organiser:
        await sign_in(organiser, admin.user.email, admin.password)
        progress = await organiser.get(f"/admin/contests/{writing}/judging")
        assert "<p data-progress>Đã gửi 1/3 phiếu chấm · 1 bài</p>" in progress.text
        token = await csrf_from(organiser, f"/admin/contests/{writing}/judging")
        closed = await organiser.post(
            f"/admin/contests/{writing}/judging/close", data={"csrf_token": token}
        )
        assert closed.status_code == 303

    again = await fill(client, assignment.id, **{"noi-dung": "4"})
    refused = await client.post(url, data={**again, "action": "save"})
    assert refused.status_code == 409
    async with sessionmaker() as session:
        unchanged = await session.scalar(select(Score).where(Score.assignment_id == assignment.id))
    assert unchanged is not None and unchanged.points["noi-dung"] == 3.5


async def _entries_of(sessionmaker: async_sessionmaker[AsyncSession], cid: int) -> set[int]:
    async with sessionmaker() as session:
        return set((await session.scalars(select(Entry.id).where(Entry.contest_id == cid))).all())


async def test_recusal_hands_the_entry_to_another_judge(
    demo: DemoReport,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    # A fourth eligible judge, so that someone can take over.
    await make_user("gk.moi@example.vn", Role.JUDGE, units=["tdp-3"], contests=[WRITING])
    await assign_all(sessionmaker)
    await sign_in(client, "gk.hoa@bachsam.demo", DEMO_PASSWORD)
    writing_entries = await _entries_of(sessionmaker, await contest_id_of(sessionmaker, WRITING))
    mine = next(
        a
        for a in await assignments_of(sessionmaker, "gk.hoa@bachsam.demo")
        if a.entry_id in writing_entries
    )
    token = await csrf_from(client, f"/judge/assignments/{mine.id}")
    response = await client.post(
        f"/judge/assignments/{mine.id}/recuse",
        data={"csrf_token": token, "reason": "Tôi biết tác giả"},
    )
    assert response.status_code == 303
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(User.email, Assignment.status)
                .join(User)
                .where(Assignment.entry_id == mine.entry_id)
            )
        ).all()
    statuses = {email: status for email, status in rows}
    assert statuses["gk.hoa@bachsam.demo"] == AssignmentStatus.RECUSED
    assert statuses["gk.moi@example.vn"] == AssignmentStatus.ASSIGNED
    assert sum(1 for s in statuses.values() if s != AssignmentStatus.RECUSED) == 3
    assert (await client.get(f"/judge/assignments/{mine.id}")).status_code == 404


async def test_a_second_round_takes_the_shortlist_and_assigns_only_it(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    writing = await contest_id_of(sessionmaker, WRITING)
    demo_entry = next(iter(await _entries_of(sessionmaker, writing)))
    for email, unit in (("a@x.vn", "tdp-1"), ("b@x.vn", "tdp-2"), ("c@x.vn", "tdp-3")):
        await make_user(email, Role.JUDGE, units=[unit], contests=[WRITING])
    entries = await make_entries(sessionmaker, WRITING, ages=[9, 10, 10, 12, 13, 14])
    async with sessionmaker() as session:
        await services.run_assignment(session, contest_id=writing, actor=None)
        await session.commit()
    # Primary pupils (9, 10, 10) and lower secondary (12, 13, 14): scores in half points.
    shares = dict(zip(entries, [0.5, 1.0, 0.75, 0.25, 1.0, 0.5], strict=True))
    shares[demo_entry] = 0.25
    await score_all(sessionmaker, writing, shares)

    async with sessionmaker() as session:
        second = await services.shortlist(
            session, contest_id=writing, top_per_division=1, actor=None
        )
        report = await services.run_assignment(session, contest_id=writing, actor=None)
        await session.commit()
        assigned = set(
            (
                await session.scalars(
                    select(Assignment.entry_id).where(Assignment.round_id == second.id)
                )
            ).all()
        )
    assert second.number == 2
    # The best of each division: entry 2 (share 1.0, age 10) and entry 5 (1.0, age 13).
    assert assigned == {entries[1], entries[4]}
    assert report.entries == 2 and report.new_assignments == 6


async def test_organisers_drive_judging_through_the_api_with_a_token(
    demo: DemoReport,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    from contest.accounts.services import create_api_token

    admin = await make_user("api@example.vn", Role.ADMIN)
    async with sessionmaker() as session:
        user = await session.get(User, admin.user.id)
        assert user is not None
        _token, plain = await create_api_token(session, user=user, name="script")
        await session.commit()
    bearer = {"Authorization": f"Bearer {plain}"}
    async with app_client(settings) as api:
        assignment = f"/api/v1/contests/{DRAWING}/assignment"
        ran = await follow_job(
            api, settings, await api.post(assignment, headers=bearer), headers=bearer
        )
        assert ran["result"]["new_assignments"] == 3 and ran["result"]["shortfalls"] == []
        again = await follow_job(
            api, settings, await api.post(assignment, headers=bearer), headers=bearer
        )
        assert again["result"]["new_assignments"] == 0  # a rerun only fills gaps
        progress = await api.get(f"/api/v1/contests/{DRAWING}/progress", headers=bearer)
        assert progress.json()["assigned"] == 3 and progress.json()["done"] == 0
        bad = await api.post(
            f"/api/v1/contests/{DRAWING}/rounds", headers=bearer, json={"action": "explode"}
        )
        assert bad.status_code == 422
        closed = await api.post(
            f"/api/v1/contests/{DRAWING}/rounds", headers=bearer, json={"action": "close"}
        )
        assert closed.json() == {"round": 1, "status": "closed"}
        twice = await api.post(
            f"/api/v1/contests/{DRAWING}/rounds", headers=bearer, json={"action": "close"}
        )
        assert twice.status_code == 409
        anonymous = await api.post(f"/api/v1/contests/{DRAWING}/assignment")
        assert anonymous.status_code == 401
    async with sessionmaker() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert actions.count("assignment_run") == 2 and "round_closed" in actions
