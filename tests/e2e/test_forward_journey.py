"""A province's organiser signs in, forwards its best entries of the published writing contest
to the national contest, and the national organiser finds there only the forwarded ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.e2e.conftest import demo_server
from tests.support import DEMO_PASSWORD, WRITING, run_apart, sign_in_page

pytestmark = pytest.mark.browser

NATIONAL = "viet-ve-cuon-sach-toan-quoc"
NATIONAL_TITLE = "Viết về cuốn sách em yêu (toàn quốc)"
PROVINCE_ORGANISER = "tinh-a@bachsam.demo"


async def _two_provinces_published(env: dict[str, str]) -> dict[str, Any]:
    """Province A (the primary school's) and province B (the secondary school's), each with
    ranked and published entries of the writing contest, which forwards 2 of each division
    per province to the national contest; province A's organiser."""
    from contest.accounts.passwords import hash_password
    from contest.models import Entry, Role, Unit, User
    from contest.settings import Settings
    from tests.results.support import Row, make_results
    from tests.support import (
        contest_id_of,
        make_entries,
        make_next_level,
        make_two_provinces,
        services_for,
    )

    settings = Settings.from_env(env)
    async with services_for(settings) as (sessionmaker, _storage):
        await make_two_provinces(sessionmaker)
        mine = await make_entries(sessionmaker, WRITING, ages=[8, 9, 9], unit_code="th-bach-sam-5a")
        theirs = await make_entries(sessionmaker, WRITING, ages=[8], unit_code="thcs-bach-sam-6a")
        await make_results(
            sessionmaker,
            [
                Row(mine[0], 1, 9.5),
                Row(theirs[0], 2, 9.0),
                Row(mine[1], 3, 8.0),
                Row(mine[2], 4, 7.0),
            ],
        )
        target_id = await make_next_level(
            sessionmaker, WRITING, slug=NATIONAL, title=NATIONAL_TITLE, quota=2
        )
        async with sessionmaker() as session:
            province = await session.scalar(select(Unit).where(Unit.code == "tinh-a"))
            organiser = User(
                email=PROVINCE_ORGANISER,
                name="Sở Giáo dục tỉnh A",
                role=Role.ADMIN,
                password_hash=hash_password(DEMO_PASSWORD),
            )
            session.add(organiser)
            await session.flush()
            await session.refresh(organiser, ["units"])
            organiser.units.append(province)
            await session.commit()
        async with sessionmaker() as session:
            code_of = dict((await session.execute(select(Entry.id, Entry.receipt_code))).all())
        return {
            "source": await contest_id_of(sessionmaker, WRITING),
            "target": target_id,
            "mine": [code_of[i] for i in mine],
            "theirs": [code_of[i] for i in theirs],
            # Ranked 1 and 3 in the primary division: province A's best two.
            "best": [code_of[mine[0]], code_of[mine[1]]],
        }


@pytest.fixture(scope="module")
def chain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    made: list[dict[str, Any]] = []
    with demo_server(
        tmp_path_factory.mktemp("chain"),
        lambda env: made.append(run_apart(_two_provinces_published(env))),
    ) as base_url:
        yield base_url, made[0]


def test_a_province_forwards_its_best_and_the_nation_sees_only_those(
    chain_server: tuple[str, dict[str, Any]], browser: Any, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    base, made = chain_server
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    province = desk.new_page()
    sign_in_page(province, base, PROVINCE_ORGANISER)
    province.goto(f"{base}/admin/contests/{made['source']}/entries")
    province.get_by_role("link", name="Chuyển lên cấp trên").click()
    expect(province.get_by_role("heading", name="Chuyển lên cấp trên")).to_be_visible()
    rows = province.locator("table[data-list=forward] tbody tr")
    # Province A's best of the primary division, within the quota of 2, ticked; nothing of
    # province B.
    expect(rows).to_have_count(2)
    for code in made["best"]:
        expect(province.locator(f"tr[data-entry='{code}'] input[type=checkbox]")).to_be_checked()
    for code in made["theirs"]:
        expect(province.locator(f"tr[data-entry='{code}']")).to_have_count(0)
    province.get_by_label("Chuyển kèm điểm").check()
    province.screenshot(path=str(artifacts / "province-forwards.png"), full_page=True)
    province.get_by_role("button", name="Chuyển các bài đã chọn lên cấp trên").click()
    expect(province.locator("[data-message]")).to_contain_text(
        f"Đã chuyển 2 bài dự thi lên {NATIONAL_TITLE}."
    )
    desk.close()

    nation = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    admin = nation.new_page()
    sign_in_page(admin, base, "bantochuc@bachsam.demo")
    admin.goto(f"{base}/admin/contests/{made['target']}/entries")
    listed = admin.locator("tr[data-entry]")
    expect(listed).to_have_count(2)
    expect(admin.locator("[data-forwarded]")).to_have_count(2)
    expect(admin.get_by_text("điểm ở cấp dưới: 9,5")).to_be_visible()
    # The forwarded copies carry new receipt codes; none of the source's codes is listed.
    for code in made["mine"] + made["theirs"]:
        expect(admin.get_by_text(code, exact=True)).to_have_count(0)
    admin.screenshot(path=str(artifacts / "nation-sees-forwarded.png"), full_page=True)
    nation.close()
