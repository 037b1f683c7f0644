"""A judge without an account signs in on a phone with the code of a printed slip, compares
two drawings of a comparative final, and the organiser reads the final's reliability."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from tests.e2e.conftest import PHONE, demo_server
from tests.intake.support import entrant_fields
from tests.support import DRAWING, run_apart, sign_in_page

pytestmark = pytest.mark.browser

COLOURS = [(200, 40, 40), (40, 160, 60), (40, 60, 200), (230, 180, 0)]


def _drawing(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, format="PNG")
    return out.getvalue()


async def _final_with_a_slip(env: dict[str, str]) -> tuple[str, int]:
    """Four more drawings, judged on the rubric by the demo's judges and a judge added by name,
    then all sent to a comparative final; the new judge's slip code and the contest's id."""
    from contest.accounts import slips
    from contest.app import JOB_KINDS
    from contest.events.services import get_public_contest
    from contest.jobs.worker import run_queued
    from contest.models import User
    from contest.settings import Settings
    from judging import services as judging
    from tests.support import comparative_final, full_marks, services_for, submit_file

    settings = Settings.from_env(env)
    async with services_for(settings) as (sessionmaker, storage):
        async with sessionmaker() as session:
            contest = await get_public_contest(session, slug=DRAWING)
        for number, colour in enumerate(COLOURS):
            await submit_file(
                sessionmaker,
                storage,
                settings,
                contest=contest,
                data=_drawing(colour),
                filename=f"tranh-{number}.png",
                fields=entrant_fields(full_name=f"Bạn Vẽ {number}", title=f"Tranh số {number}"),
                idempotency_key=f"final-{number}",
            )
        # The drawings' previews, made as the worker would, before anyone looks at them.
        await run_queued(settings, JOB_KINDS)
        async with sessionmaker() as session:
            organiser = await session.scalar(select(User).where(User.role == "admin"))
            assert organiser is not None
            judge = await slips.add_judge_without_account(
                session, contest=contest, name="Thầy Tâm", actor=organiser
            )
            _slip, code = await slips.issue_slip(
                session, secret_key=settings.secret_key, judge=judge, actor=organiser
            )
            await judging.run_assignment(session, contest_id=contest.id, actor=None)
            await full_marks(session, contest_id=contest.id)
            await comparative_final(session, contest_id=contest.id, per_entry=4)
            await session.commit()
        return slips.show_code(code), contest.id


@pytest.fixture(scope="module")
def final_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, int]]:
    made: list[tuple[str, int]] = []
    with demo_server(
        tmp_path_factory.mktemp("final"),
        lambda env: made.append(run_apart(_final_with_a_slip(env))),
    ) as base_url:
        ((code, contest_id),) = made
        yield base_url, code, contest_id


def test_a_judge_with_a_slip_compares_two_drawings_and_the_organiser_sees_reliability(
    final_server: tuple[str, str, int], browser: Any, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    base, code, contest_id = final_server
    judge = browser.new_context(**PHONE, locale="vi-VN")
    phone = judge.new_page()
    phone.goto(base + "/judge/slip")
    phone.get_by_label("Mã trên phiếu").fill(code.lower().replace("-", " "))
    phone.get_by_role("button", name="Đăng nhập").click()
    expect(phone).to_have_url(base + "/judge")
    phone.get_by_role("link", name="So sánh bài dự thi").click()
    expect(phone.get_by_role("heading", name="So sánh hai bài dự thi")).to_be_visible()
    drawings = phone.get_by_role("img", name="Bức tranh")
    expect(drawings).to_have_count(2)
    for index in range(2):
        # Each drawing really loads (its preview, through a signed link).
        expect(drawings.nth(index)).to_be_visible()
        assert drawings.nth(index).evaluate("img => img.naturalWidth") > 0
    # Both choices fit the phone's width and are big enough to tap.
    for name in ("Bài A tốt hơn", "Bài B tốt hơn"):
        box = phone.get_by_role("button", name=name).bounding_box()
        assert box is not None and box["width"] <= PHONE["viewport"]["width"]
        assert box["height"] >= 24
    phone.screenshot(path=str(artifacts / "judge-compares-phone.png"), full_page=True)
    phone.get_by_role("button", name="Bài B tốt hơn").click()
    expect(phone.get_by_role("heading", name="So sánh hai bài dự thi")).to_be_visible()
    judge.close()

    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    admin = desk.new_page()
    sign_in_page(admin, base, "bantochuc@bachsam.demo")
    admin.goto(f"{base}/admin/contests/{contest_id}/comparative")
    expect(admin.get_by_text("Độ tin cậy của thang xếp hạng")).to_be_visible()
    expect(admin.locator("[data-progress]")).to_contain_text("Đã chọn 1 trên")
    expect(admin.locator("tr[data-judge]", has_text="Thầy Tâm")).to_contain_text("1 /")
    admin.screenshot(path=str(artifacts / "admin-comparative.png"), full_page=True)
    desk.close()
