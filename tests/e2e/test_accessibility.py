"""Every page of the platform passes axe-core's WCAG 2.2 A and AA rules with no serious or
critical violation, at a phone's size and a desktop's, for the visitor it is made for.

The pages are every GET route of the app that answers HTML: the test reads them from the app's
own route table and fails on one it does not visit (or exempt, with the reason: files, not
pages), so a new page is checked the day it is added. The server is the demo with a day's
work done through the services: the drawing contest judged, published and open to the
audience vote, with a re-marking request handed to a judge; the writing contest in a
comparative final; a coordinator's import; a judge's slip; the storytelling contest's
primary division taking only videos of 1 to 10 minutes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.routing import Route

from tests.e2e.conftest import PHONE, demo_server
from tests.intake import files
from tests.intake.support import entrant_fields
from tests.support import DEMO_PASSWORD, DRAWING, STORY, WRITING, run_apart, sign_in_page

pytestmark = pytest.mark.browser

# A contest's part (its divisions, criteria, books) in the organiser's console.
PART = "/admin/contests/{contest_id:int}/{part:str}"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = {"serious", "critical"}
# GET routes that answer a file or a redirect, not a page.
NOT_PAGES = {
    "/favicon.ico": "an icon",
    "/lang/{locale:str}": "a redirect that sets the language",
    "/admin/event.yaml": "the event file",
    "/admin/contests/{contest_id:int}/paper/sheets.pdf": "a PDF",
    "/admin/contests/{contest_id:int}/paper/scores.xlsx": "a spreadsheet",
    "/admin/contests/{contest_id:int}/export/results.xlsx": "a spreadsheet",
    "/admin/contests/{contest_id:int}/export/results.csv": "a CSV file",
    "/admin/contests/{contest_id:int}/certificates.pdf": "a PDF",
    "/admin/units/{unit_id:int}/certificates.pdf": "a PDF",
    "/admin/results/{result_id:int}/certificate.pdf": "a PDF",
    "/admin/report.xlsx": "a spreadsheet",
    "/admin/report.pdf": "a PDF",
    "/entries/{code:str}/my-data.zip": "a ZIP of the family's data",
    "/coordinator/contests/{slug:str}/labels.pdf": "a PDF",
    "/admin/jobs/{job_id:int}/download": "a redirect to a stored file",
    "/healthz": "a health check",
    "/static": "static files",
    "/files": "stored files",
}


async def _a_days_work(env: dict[str, str]) -> dict[str, Any]:
    """What the pages need to show something: see the module's docstring."""
    from contest.accounts import services as accounts
    from contest.accounts import slips
    from contest.accounts.passwords import hash_password
    from contest.app import JOB_KINDS
    from contest.db import utcnow
    from contest.events.services import get_public_contest
    from contest.intake import services as intake
    from contest.jobs.queue import start_job
    from contest.jobs.worker import run_queued
    from contest.models import (
        Assignment,
        Contest,
        Division,
        Entry,
        RemarkRequest,
        Result,
        Role,
        Unit,
        User,
        contest_judges,
    )
    from contest.results import remarks
    from contest.results import services as results
    from contest.settings import Settings
    from contest.vote import services as vote
    from judging import services as judging
    from tests.support import comparative_final, full_marks, services_for, submit_file

    settings = Settings.from_env(env)
    made: dict[str, Any] = {}
    async with services_for(settings) as (sessionmaker, storage):
        async with sessionmaker() as session:
            drawing = await get_public_contest(session, slug=DRAWING)
            writing = await get_public_contest(session, slug=WRITING)
            units = await intake.rules.submittable_units(
                session, user=None, event_id=writing.event_id
            )
        for number in range(4):
            await intake.submit_entry(
                sessionmaker=sessionmaker,
                storage=storage,
                contest=writing,
                units=units,
                fields={
                    **entrant_fields(full_name=f"Bạn Viết {number}", title=f"Bài viết {number}"),
                    "body_text": "Một hai ba bốn năm sáu bảy tám chín mười.",
                },
                uploads=[],
                upload_ids=[],
                idempotency_key=f"a11y-{number}",
                secret_key=settings.secret_key,
            )

        # A family's drawing, judged and published with the others: its receipt and re-marking.
        family = await submit_file(
            sessionmaker,
            storage,
            settings,
            contest=drawing,
            data=files.drawing_png(),
            filename="tranh.png",
            fields=entrant_fields(title="Tranh của nhà"),
            idempotency_key="a11y-drawing",
        )
        made["receipt"] = f"/entries/{family.entry.receipt_code}?token={family.edit_token}"
        # The drawings' previews, made as the worker would, before anyone looks at them.
        await run_queued(settings, JOB_KINDS)
        async with sessionmaker() as session:
            organiser = await session.scalar(select(User).where(User.role == "admin"))
            assert organiser is not None
            for contest in (drawing, writing):
                await judging.run_assignment(session, contest_id=contest.id, actor=None)
                await full_marks(session, contest_id=contest.id, feedback="Tốt.")
            await results.compute_results(session, contest_id=drawing.id, actor=None)
            await results.publish_results(session, contest_id=drawing.id, actor=None)
            await vote.set_vote(
                session,
                contest=drawing,
                opens_at=utcnow(),
                closes_at=utcnow() + timedelta(days=3),
                counts_hidden=False,
                actor=organiser,
            )
            winner = await session.scalar(
                select(Result).where(Result.contest_id == drawing.id).order_by(Result.rank)
            )
            assert winner is not None and winner.certificate_serial
            made["serial"] = winner.certificate_serial
            made["winner"] = winner.id
            entry = await session.get(Entry, winner.entry_id)
            assert entry is not None
            remark = await remarks.request_remark(session, entry=entry, reason="Xin chấm lại.")
            # A judge who has not scored the entry, for its re-marking.
            judge = User(
                email="gk.phuc@bachsam.demo",
                name="Võ Phúc",
                role=Role.JUDGE,
                password_hash=hash_password(DEMO_PASSWORD),
            )
            session.add(judge)
            await session.flush()
            await session.execute(
                contest_judges.insert().values(contest_id=drawing.id, user_id=judge.id)
            )
            await remarks.assign_remark(
                session, remark_id=remark.id, judge_id=judge.id, actor=organiser
            )
            made["remark"] = remark.id
            made["remark_judge"] = judge.email
            await comparative_final(session, contest_id=writing.id, per_entry=2)
            slip_judge = await slips.add_judge_without_account(
                session, contest=writing, name="Thầy Tâm", actor=organiser
            )
            made["slip_judge"] = slip_judge.id
            _invited, made["invitation"] = await accounts.invite_user(
                session,
                secret_key=settings.secret_key,
                email="gk.moi@bachsam.demo",
                name="Giám khảo mới",
                role=Role.JUDGE,
                invited_by=organiser,
            )
            made["assignment"] = await session.scalar(select(Assignment.id).limit(1))
            made["assignment_judge"] = await session.scalar(
                select(User.email)
                .join(Assignment, Assignment.judge_id == User.id)
                .where(Assignment.id == made["assignment"])
            )
            made["unit"] = await session.scalar(select(Unit.id).limit(1))
            made["division"] = await session.scalar(
                select(Division.id).where(Division.contest_id == drawing.id).limit(1)
            )
            made["user"] = organiser.id
            made["drawing"], made["writing"] = drawing.id, writing.id
            # Rules of its own for one division, which the submit form lists.
            await session.execute(
                update(Division)
                .where(
                    Division.contest_id
                    == select(Contest.id).where(Contest.slug == STORY).scalar_subquery(),
                    Division.key == "tieu-hoc",
                )
                .values(media={"accepts": ["video"], "min_seconds": 60, "max_seconds": 600})
            )
            await session.commit()
            assert await session.scalar(select(RemarkRequest.id)) == made["remark"]
        coordinator = await _user(sessionmaker, "gv.5a@bachsam.demo")
        job = await start_job(
            sessionmaker,
            None,
            kind="bulk_import",
            contest_id=writing.id,
            params={"csv": "imports/none/entrants.csv", "zip": None},
            actor=coordinator,
        )
        made["job"] = job.id
        return made


async def _user(sessionmaker: Any, email: str) -> Any:
    from contest.models import User

    async with sessionmaker() as session:
        return await session.scalar(select(User).where(User.email == email))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    made: list[dict[str, Any]] = []

    def prepare(env: dict[str, str]) -> None:
        made.append(run_apart(_a_days_work(env)))

    with demo_server(tmp_path_factory.mktemp("a11y"), prepare) as base_url:
        yield base_url, made[0]


def _pages(made: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Each visitor's pages: (route template, address)."""
    # The storytelling contest is untouched by the day's work: still open for entries.
    d, w = made["drawing"], made["writing"]
    division, paper = made["division"], f"paper?judge={made['assignment_judge']}"
    code = made["receipt"].split("/")[2].split("?")[0]
    return {
        "anyone": [
            ("/", "/"),
            ("/contests/{slug:str}", f"/contests/{DRAWING}"),
            ("/contests/{slug:str}/submit", f"/contests/{STORY}/submit"),
            ("/contests/{slug:str}/winners", f"/contests/{DRAWING}/winners"),
            (
                "/contests/{slug:str}/winners/{result_id:int}",
                f"/contests/{DRAWING}/winners/{made['winner']}",
            ),
            ("/contests/{slug:str}/vote", f"/contests/{DRAWING}/vote"),
            ("/verify/{serial:str}", f"/verify/{made['serial']}"),
            ("/login", "/login"),
            ("/invite/{token:str}", f"/invite/{made['invitation']}"),
            ("/judge/slip", "/judge/slip"),
            ("/privacy", "/privacy"),
            ("/entries", "/entries"),
            ("/entries/{code:str}", f"/entries/{code}"),
            ("/entries/{code:str}", made["receipt"]),
            ("/entries/{code:str}/remark", made["receipt"].replace("?", "/remark?")),
            ("/entries/{code:str}/my-data", made["receipt"].replace("?", "/my-data?")),
        ],
        "gv.5a@bachsam.demo": [
            ("/coordinator", "/coordinator"),
            ("/coordinator/contests/{slug:str}/submit", f"/coordinator/contests/{STORY}/submit"),
            ("/coordinator/contests/{slug:str}/import", f"/coordinator/contests/{STORY}/import"),
            (
                "/coordinator/contests/{slug:str}/import/{job_id:int}",
                f"/coordinator/contests/{WRITING}/import/{made['job']}",
            ),
            ("/account", "/account"),
        ],
        made["assignment_judge"]: [
            ("/judge", "/judge"),
            ("/judge/assignments/{assignment_id:int}", f"/judge/assignments/{made['assignment']}"),
            ("/judge/compare", "/judge/compare"),
        ],
        made["remark_judge"]: [
            ("/judge/remarks", "/judge/remarks"),
            ("/judge/remarks/{remark_id:int}", f"/judge/remarks/{made['remark']}"),
        ],
        "bantochuc@bachsam.demo": [
            ("/admin", "/admin"),
            ("/admin/event", "/admin/event"),
            ("/admin/units", "/admin/units"),
            ("/admin/units/{unit_id:int}", f"/admin/units/{made['unit']}"),
            ("/admin/contests/new", "/admin/contests/new"),
            ("/admin/contests/{contest_id:int}", f"/admin/contests/{d}"),
            (f"{PART}/new", f"/admin/contests/{d}/criteria/new"),
            (f"{PART}/{{child_id:int}}", f"/admin/contests/{d}/divisions/{division}"),
            ("/admin/users", "/admin/users"),
            ("/admin/users/{user_id:int}", f"/admin/users/{made['user']}"),
            ("/admin/conflicts", "/admin/conflicts"),
            ("/admin/audit", "/admin/audit"),
            ("/admin/privacy", "/admin/privacy"),
            ("/admin/report", "/admin/report"),
            ("/admin/contests/{contest_id:int}/entries", f"/admin/contests/{d}/entries"),
            ("/admin/contests/{contest_id:int}/judging", f"/admin/contests/{d}/judging"),
            ("/admin/contests/{contest_id:int}/results", f"/admin/contests/{d}/results"),
            ("/admin/contests/{contest_id:int}/remarks", f"/admin/contests/{d}/remarks"),
            ("/admin/remarks/{remark_id:int}", f"/admin/remarks/{made['remark']}"),
            ("/admin/contests/{contest_id:int}/slips", f"/admin/contests/{w}/slips"),
            ("/admin/contests/{contest_id:int}/paper", f"/admin/contests/{d}/{paper}"),
            ("/admin/contests/{contest_id:int}/vote", f"/admin/contests/{d}/vote"),
            ("/admin/contests/{contest_id:int}/forward", f"/admin/contests/{d}/forward"),
            ("/admin/contests/{contest_id:int}/comparative", f"/admin/contests/{w}/comparative"),
            ("/admin/jobs/{job_id:int}", f"/admin/jobs/{made['job']}"),
        ],
    }  # fmt: skip


def _app_pages() -> set[str]:
    """Every GET route of the app outside the API."""
    from contest.access import iter_endpoints
    from contest.app import create_app
    from contest.settings import Settings

    app = create_app(Settings.from_env({"CONTEST_DATA_DIR": str(Path.cwd() / "test-artifacts")}))
    found = set()
    for path, route, _endpoint in iter_endpoints(app.routes):
        methods = route.methods if isinstance(route, Route) else {"GET"}
        if "GET" in (methods or {"GET"}) and not path.startswith("/api"):
            found.add(path)
    return found


def test_every_page_passes_axe_core_at_phone_and_desktop_size(
    site: tuple[str, dict[str, Any]], browser: Any, artifacts: Path
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    base, made = site
    pages = _pages(made)
    visited = {template for listed in pages.values() for template, _url in listed}
    unvisited = _app_pages() - visited - set(NOT_PAGES)
    assert not unvisited, f"pages the accessibility run does not visit: {sorted(unvisited)}"
    axe = Axe()
    rules: set[str] = set()
    checked = 0
    problems: list[str] = []
    for size, options in (
        ("phone", {**PHONE}),
        ("desktop", {"viewport": {"width": 1280, "height": 900}}),
    ):
        for who, listed in pages.items():
            context = browser.new_context(**options, locale="vi-VN")
            page = context.new_page()
            if who != "anyone":
                sign_in_page(page, base, who)
                page.wait_for_url(re.compile(r".*/(admin|judge|coordinator|account).*"))
            for template, url in listed:
                response = page.goto(base + url)
                assert response is not None and response.status == 200, (
                    url,
                    response and response.status,
                )
                result = axe.run(
                    page,
                    options={
                        "runOnly": {"type": "tag", "values": TAGS},
                        "resultTypes": ["violations"],
                    },
                )
                found = result.response
                for group in ("violations", "passes", "incomplete", "inapplicable"):
                    rules.update(rule["id"] for rule in found.get(group, []))
                for violation in found["violations"]:
                    if violation["impact"] in BLOCKING:
                        targets = [node["target"] for node in violation["nodes"][:3]]
                        problems.append(
                            f"{size} {url} ({template}): {violation['id']} "
                            f"[{violation['impact']}] {targets}"
                        )
                checked += 1
            context.close()
    print(
        f"\naxe-core: {checked} page visits ({len(visited)} pages × phone and desktop), "
        f"{len(rules)} rules of {', '.join(TAGS)} checked, "
        f"{len(problems)} serious or critical violations"
    )
    (artifacts / "axe-core.txt").write_text(
        f"{checked} page visits, {len(rules)} rules\n" + "\n".join(problems), encoding="utf-8"
    )
    assert not problems, "\n".join(problems)
    # Tap targets of at least 24 by 24 px (2.5.8): axe-core leaves this rule off by default,
    # but it runs when asked for by its tag, as here.
    assert "target-size" in rules
