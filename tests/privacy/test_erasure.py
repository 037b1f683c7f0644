"""Erasure: after it, no row, stored object, page or API response holds the entrant's name, the
guardian, the phone or the files; the counts still add up; the audit log says only that it
happened."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import re
import zipfile
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.models import (
    Asset,
    AuditEvent,
    Conflict,
    Contest,
    ContestStatus,
    Entry,
    Event,
    Prize,
    RemarkRequest,
    Result,
)
from contest.privacy import services
from contest.privacy.interfaces import ERASED_MARK
from contest.results.exports import load_event_report
from contest.settings import Settings
from judging import services as judging
from storage import Storage
from tests.intake import files
from tests.intake.conftest import LOCAL_ONLY
from tests.intake.support import API, api_submit, assigned_judge, served
from tests.privacy.support import (
    FILENAME,
    GUARDIAN,
    NAME,
    NOTE,
    PHONE,
    leaks,
    personal_fields,
    point_command_at,
    scan_database,
)
from tests.results.support import Row, make_results, pdf_pages
from tests.support import DRAWING, app_client, csrf_from, sign_in


@dataclasses.dataclass
class Winner:
    code: str
    token: str
    entry_id: int
    contest_id: int
    assignment_id: int
    result_id: int
    serial: str
    keys: list[str]


async def _published_winner(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: Callable[[], Awaitable[int]],
) -> tuple[Winner, str]:
    """A drawing that won, with everything that can carry the family's data: an edit (in the
    audit log), a judge's score and comments, a re-marking request, a judge's conflict."""
    made = await api_submit(app, DRAWING, personal_fields(), [(FILENAME, files.photo_jpeg())])
    assert made.status_code == 201, made.text
    assert await run_jobs() == 1
    code, token = made.json()["entry"]["receipt_code"], made.json()["edit_token"]
    edited = await app.patch(
        f"{API}/entries/{code}",
        json={"note": f"{NOTE}, lần hai"},
        headers={"X-Edit-Token": token},
    )
    assert edited.status_code == 200, edited.text
    async with sessionmaker() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == DRAWING))
        entry = await session.scalar(select(Entry).where(Entry.receipt_code == code))
        assert contest is not None and entry is not None
        # One of the demo's judges, as assignment chose them.
        assignment, user = await assigned_judge(session, contest_id=contest.id, entry_id=entry.id)
        await judging.save_score(
            session,
            assignment_id=assignment.id,
            judge=user,
            points={"bo-cuc": 3, "mau-sac": 2, "y-tuong": 3, "chu-de": 2},
            comment=f"Gọi {GUARDIAN} ({PHONE}) khi trao giải.",
            feedback=f"Em {NAME} vẽ rất đẹp!",
            submit=True,
        )
        session.add(
            RemarkRequest(
                entry_id=entry.id,
                contest_id=contest.id,
                reason=f"Tôi là {GUARDIAN}, xin phúc khảo cho cháu.",
            )
        )
        session.add(
            Conflict(
                judge_id=user.id, entrant_id=entry.entrant_id, reason=f"Cháu {NAME} là họ hàng"
            )
        )
        contest.status = ContestStatus.PUBLISHED
        await session.commit()
        keys = list(
            (
                await session.scalars(select(Asset.storage_key).where(Asset.entry_id == entry.id))
            ).all()
        )
        entry_id, contest_id, assignment_id = entry.id, contest.id, assignment.id
    (result,) = await make_results(sessionmaker, [Row(code, 1, 9.5, Prize.FIRST)])
    assert result.certificate_serial is not None and len(keys) == 3
    winner = Winner(
        code,
        token,
        entry_id,
        contest_id,
        assignment_id,
        result.id,
        result.certificate_serial,
        keys,
    )
    return winner, user.email


async def _gallery(app: httpx.AsyncClient) -> httpx.Response:
    # Each process may keep its copy of the gallery for a moment before checking it again.
    from contest.results import gallery

    await asyncio.sleep(float(getattr(gallery, "REVALIDATE_SECONDS", 0)) + 0.1)
    return await app.get(f"/contests/{DRAWING}/winners")


async def _everything_shown(
    app: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    judge: httpx.AsyncClient,
    store: Storage,
    winner: Winner,
) -> dict[str, str]:
    """Every page, export and API response that can show this entry, by what it is."""
    token = {"X-Edit-Token": winner.token}
    shown: dict[str, str] = {}
    responses = {
        "receipt (private)": await app.get(
            f"/entries/{winner.code}", params={"token": winner.token}
        ),
        "receipt (public)": await app.get(f"/entries/{winner.code}"),
        "gallery": await _gallery(app),
        "verify page": await app.get(f"/verify/{winner.serial}"),
        "verify API": await app.get(f"{API}/verify/{winner.serial}"),
        "entry API": await app.get(f"{API}/entries/{winner.code}", headers=token),
        "judge page": await judge.get(f"/judge/assignments/{winner.assignment_id}"),
        "judge API": await judge.get(f"{API}/judge/assignments/{winner.assignment_id}"),
        "results page": await admin.get(f"/admin/contests/{winner.contest_id}/results"),
        "results CSV": await admin.get(f"/admin/contests/{winner.contest_id}/export/results.csv"),
        "report": await admin.get("/admin/report"),
        "audit log": await admin.get("/admin/audit"),
        "judging page": await admin.get(f"/admin/contests/{winner.contest_id}/judging"),
    }
    for what, response in responses.items():
        assert response.status_code == 200, f"{what}: {response.status_code}"
        shown[what] = response.text
    certificate = await admin.get(f"/admin/results/{winner.result_id}/certificate.pdf")
    assert certificate.status_code == 200
    shown["certificate"] = "\n".join(pdf_pages(certificate.content))
    archive = await app.get(f"/entries/{winner.code}/my-data.zip", params={"token": winner.token})
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        shown["data archive"] = json.dumps(
            {name: opened.read(name).decode("utf-8", "replace") for name in opened.namelist()},
            ensure_ascii=False,
        )
    # The pictures the pages link to, as a browser would fetch them.
    for url in set(
        re.findall(
            r'(?:src|href)="([^"]*(?:/files/|/entries/[0-9a-f]{32}/)[^"]*)"',
            shown["receipt (private)"] + shown["gallery"],
        )
    ):
        url = url.replace("&amp;", "&")
        fetched = await served(app, store, url)
        assert fetched.status_code == 200, url
        shown[f"file {url[-40:]}"] = fetched.content.decode("latin-1")
    return shown


async def _report_figures(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    async with sessionmaker() as session:
        event_id = await session.scalar(select(Event.id))
        assert event_id is not None
        report = await load_event_report(session, event_id=event_id)
    return {
        "entries": report.entries,
        "entrants": report.entrants,
        "columns": report.column_totals,
        "by_unit": [(row.total, list(row.counts)) for row in report.by_unit],
        "participation": [(p.entries, p.entrants) for p in report.participation],
        "prizes": report.prize_totals,
    }


async def test_erasure_leaves_no_trace_in_rows_objects_pages_or_responses(
    app: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    intake_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    seeded: DemoReport,
    run_jobs: Callable[[], Awaitable[int]],
) -> None:
    winner, judge_email = await _published_winner(app, sessionmaker, run_jobs)
    async with app_client(intake_settings) as judge:
        await sign_in(judge, judge_email, seeded.password)

        # Before: the data is where the checks look, so they can fail.
        tables = {found.split(".")[0] for found in await scan_database(sessionmaker)}
        assert {
            "entrants",
            "entries",
            "assets",
            "audit_events",
            "scores",
            "remark_requests",
            "conflicts",
        } <= tables
        before = await _everything_shown(app, admin, judge, store, winner)
        assert NAME in before["gallery"] and NAME in before["verify page"]
        assert NAME in before["results CSV"] and NAME in before["certificate"]
        assert FILENAME in before["receipt (private)"] and NOTE in before["data archive"]
        assert all([await store.exists(key) for key in winner.keys])
        assert len([w for w in before if w.startswith("file ")]) >= 2
        objects = len(await store.list_keys(""))
        async with sessionmaker() as session:
            assert await session.scalar(
                select(AuditEvent.client_ip).where(
                    AuditEvent.object_id == str(winner.entry_id),
                    AuditEvent.action == "entry.submit",
                )
            )
        figures = await _report_figures(sessionmaker)

        # The organiser's page: a receipt code typed loosely, and a reason.
        page = "/admin/privacy"
        csrf = await csrf_from(admin, page)
        erased = await admin.post(
            page,
            data={
                "csrf_token": csrf,
                "receipt_code": f" {winner.code.lower().replace('-', '')} ",
                "reason": f"Phụ huynh {GUARDIAN} gọi điện đề nghị xóa.",
            },
        )

        assert erased.status_code == 303, erased.text
        assert (await admin.get(page)).text.count(winner.code) >= 1
        assert await scan_database(sessionmaker) == []
        assert not any([await store.exists(key) for key in winner.keys])
        assert len(await store.list_keys("")) == objects - len(winner.keys)
        async with sessionmaker() as session:
            assert not (
                await session.scalars(select(Asset).where(Asset.entry_id == winner.entry_id))
            ).all()
            entry = await session.get(Entry, winner.entry_id)
            assert entry is not None and entry.erased_at is not None
            result = await session.get(Result, winner.result_id)
            # The result stays: the ranks and the prize count still add up.
            assert result is not None and result.prize == Prize.FIRST
        after = await _everything_shown(app, admin, judge, store, winner)
        found = {what: leaks(text) for what, text in after.items() if leaks(text)}
        assert found == {}
        assert [w for w in after if w.startswith("file ")] == []  # no picture left to show
        assert await _report_figures(sessionmaker) == figures

    # One audit event says that it happened, by whom and why; not what. The family's device
    # address (kept against abuse) went with the rest.
    async with sessionmaker() as session:
        addresses = (
            await session.scalars(
                select(AuditEvent.client_ip).where(
                    AuditEvent.object_type == "entry",
                    AuditEvent.object_id == str(winner.entry_id),
                    AuditEvent.actor_label == "entrant",
                )
            )
        ).all()
    assert len(addresses) == 2 and set(addresses) == {None}
    async with sessionmaker() as session:
        events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "entry.erase"))
        ).all()
    assert len(events) == 1
    (event,) = events
    assert event.actor_label == "btc@example.vn" and event.object_id == str(winner.entry_id)
    assert event.after == {"reason": f"Phụ huynh {ERASED_MARK} gọi điện đề nghị xóa."}


@LOCAL_ONLY
async def test_erasure_is_idempotent_and_needs_a_reason_on_the_organisers_page(
    app: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    run_jobs: Callable[[], Awaitable[int]],
) -> None:
    made = await api_submit(app, DRAWING, personal_fields(), [(FILENAME, files.drawing_png())])
    code = made.json()["entry"]["receipt_code"]
    assert await run_jobs() == 1
    page = "/admin/privacy"
    csrf = await csrf_from(admin, page)

    no_reason = await admin.post(page, data={"csrf_token": csrf, "receipt_code": code})
    unknown = await admin.post(
        page, data={"csrf_token": csrf, "receipt_code": "ZZZZ-ZZZZ", "reason": "Phụ huynh hỏi"}
    )
    forged = await admin.post(
        page, data={"csrf_token": "forged", "receipt_code": code, "reason": "Phụ huynh hỏi"}
    )

    assert no_reason.status_code == 422 and unknown.status_code == 404
    assert forged.status_code == 403
    assert len(await scan_database(sessionmaker)) > 0  # nothing was erased
    first = await services.erase_entrant(
        sessionmaker=sessionmaker,
        storage=store,
        receipt_code=code,
        reason="Phụ huynh hỏi",
        actor_label="cli",
    )
    again = await services.erase_entrant(
        sessionmaker=sessionmaker, storage=store, receipt_code=code, reason="", actor_label="cli"
    )
    assert (first.already, first.files_deleted, first.files_left) == (False, 3, 0)
    assert (again.already, again.files_deleted) == (True, 0)
    async with sessionmaker() as session:
        count = len(
            (
                await session.scalars(select(AuditEvent).where(AuditEvent.action == "entry.erase"))
            ).all()
        )
    assert count == 1
    assert await scan_database(sessionmaker) == []


@LOCAL_ONLY
async def test_an_erasure_storage_refused_is_finished_by_the_next_run(
    app: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Storage,
    monkeypatch: pytest.MonkeyPatch,
    run_jobs: Callable[[], Awaitable[int]],
) -> None:
    from storage import StorageUnavailableError

    made = await api_submit(app, DRAWING, personal_fields(), [(FILENAME, files.drawing_png())])
    code = made.json()["entry"]["receipt_code"]
    assert await run_jobs() == 1
    async with sessionmaker() as session:
        keys = (
            await session.scalars(
                select(Asset.storage_key).join(Entry).where(Entry.receipt_code == code)
            )
        ).all()
    assert len(keys) == 3

    async def refuse(key: str) -> None:
        raise StorageUnavailableError("down")

    monkeypatch.setattr(store, "delete", refuse)
    first = await services.erase_entrant(
        sessionmaker=sessionmaker, storage=store, receipt_code=code, reason="", actor_label="cli"
    )
    # The personal data is gone at once; the files wait, with their rows, for the next run.
    assert (first.files_deleted, first.files_left) == (0, 3)
    assert await scan_database(sessionmaker) == []
    monkeypatch.undo()
    second = await services.erase_entrant(
        sessionmaker=sessionmaker, storage=store, receipt_code=code, reason="", actor_label="cli"
    )
    assert (second.already, second.files_deleted, second.files_left) == (False, 3, 0)
    async with sessionmaker() as session:
        entry = await session.scalar(select(Entry).where(Entry.receipt_code == code))
        assert entry is not None
        left = (await session.scalars(select(Asset).where(Asset.entry_id == entry.id))).all()
        erasures = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "entry.erase"))
        ).all()
    assert left == [] and len(erasures) == 1
    assert not [key for key in keys if await store.exists(key)]


@LOCAL_ONLY
async def test_the_erase_command(
    app: httpx.AsyncClient,
    intake_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    run_jobs: Callable[[], Awaitable[int]],
) -> None:
    from contest.cli import main

    made = await api_submit(app, DRAWING, personal_fields(), [(FILENAME, files.drawing_png())])
    code = made.json()["entry"]["receipt_code"]
    assert await run_jobs() == 1
    point_command_at(intake_settings, monkeypatch)

    status = await asyncio.to_thread(
        main, ["erase", "--receipt", code, "--reason", f"Thư của {GUARDIAN}"]
    )

    assert status == 0
    assert capsys.readouterr().out.strip() == (
        f"Erased the personal data of entry {code}; 3 stored file(s) deleted."
    )
    assert await scan_database(sessionmaker) == []
    async with sessionmaker() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "entry.erase"))
    assert event is not None and event.actor_label == "cli"
    assert event.after == {"reason": f"Thư của {ERASED_MARK}"}
    assert await asyncio.to_thread(main, ["erase", "--receipt", code]) == 0
    assert "already erased" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="contest: "):
        await asyncio.to_thread(main, ["erase", "--receipt", "ZZZZ-ZZZZ"])
