"""A judge scores an entry in the browser; the organiser's progress page shows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PHONE
from tests.support import sign_in_page

pytestmark = pytest.mark.browser


def test_judge_scores_an_entry_and_the_organiser_sees_progress(
    live_server: str, browser: Any, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    organiser = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    admin = organiser.new_page()
    sign_in_page(admin, live_server, "bantochuc@bachsam.demo")
    admin.get_by_role("link", name="Vẽ tranh theo sách").click()
    judging_url = admin.url + "/judging"
    admin.goto(judging_url)
    admin.get_by_role("button", name="Phân công chấm bài").click()
    # Other journeys may have added entries to the same server: at least the demo's one.
    expect(admin.get_by_text("Đã phân công thêm")).to_be_visible()

    judge = browser.new_context(**PHONE, locale="vi-VN")
    phone = judge.new_page()
    sign_in_page(phone, live_server, "gk.hoa@bachsam.demo")
    phone.goto(live_server + "/judge")
    expect(phone.get_by_role("heading", name="Đã chấm (0)")).to_be_visible()
    phone.get_by_role("link", name="Hoa vàng trên cỏ xanh").click()
    expect(phone.get_by_role("img", name="Bức tranh")).to_be_visible()
    for label, value in [("Bố cục", "2.5"), ("Màu sắc", "2"), ("Ý tưởng", "3"), ("Bám sát", "1.5")]:
        phone.get_by_label(label).fill(value)
    phone.get_by_label("Nhận xét gửi người dự thi").fill("Màu sắc tươi sáng, bố cục rõ ràng.")
    phone.get_by_role("button", name="Gửi điểm", exact=True).click()
    expect(phone.get_by_text("Đã gửi điểm.")).to_be_visible()
    phone.screenshot(path=str(artifacts / "judge-scored-phone.png"), full_page=True)
    phone.goto(live_server + "/judge")
    expect(phone.get_by_role("heading", name="Đã chấm (1)")).to_be_visible()
    judge.close()

    admin.goto(judging_url)
    expect(admin.locator("[data-progress]")).to_contain_text("Đã gửi 1/")
    expect(admin.locator("tr[data-judge]", has_text="Lê Thị Hoa")).to_contain_text("1")
    admin.screenshot(path=str(artifacts / "admin-progress.png"), full_page=True)
    organiser.close()
