"""An organiser invites a judge; the judge opens the link, sets a password and signs in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PHONE
from tests.support import DEMO_PASSWORD

pytestmark = pytest.mark.browser

ORGANISER = ("bantochuc@bachsam.demo", DEMO_PASSWORD)


def test_organiser_invites_a_judge_who_sets_a_password_and_signs_in(
    live_server: str, browser: Any, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    organiser = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = organiser.new_page()
    page.goto(live_server + "/admin/users")
    expect(page).to_have_url(live_server + "/login?next=%2Fadmin%2Fusers")
    page.get_by_label("Địa chỉ email").fill(ORGANISER[0])
    page.get_by_label("Mật khẩu").fill(ORGANISER[1])
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("heading", name="Giám khảo và giáo viên phụ trách")).to_be_visible()

    page.get_by_label("Địa chỉ email").fill("vo.thi.nga@bachsam.demo")
    page.get_by_label("Họ tên").fill("Võ Thị Nga")
    page.get_by_label("Vai trò").select_option("judge")
    # The unit is typed as its code; the suggestions come as the organiser types.
    units = page.get_by_label("Đơn vị", exact=True)
    units.fill("Tiểu học")
    expect(page.locator("#f-units-options option[value='th-bach-sam']")).to_have_count(1)
    units.fill("th-bach-sam")
    page.get_by_label("Vẽ tranh theo sách").check()
    page.get_by_role("button", name="Tạo đường dẫn mời").click()
    link = page.locator("[data-invite-link]").inner_text().strip()
    assert link.startswith(live_server + "/invite/")
    page.screenshot(path=str(artifacts / "admin-invite.png"), full_page=True)
    organiser.close()

    judge = browser.new_context(**PHONE, locale="vi-VN")
    phone = judge.new_page()
    phone.goto(link)
    expect(phone.get_by_role("heading", level=1)).to_have_text("Chào mừng Võ Thị Nga")
    phone.get_by_label("Mật khẩu mới").fill("tranh đẹp 2024")
    phone.get_by_label("Nhập lại mật khẩu").fill("tranh đẹp 2024")
    phone.get_by_role("button", name="Lưu mật khẩu và đăng nhập").click()
    expect(phone.get_by_role("heading", name="Tài khoản của bạn")).to_be_visible()
    expect(phone.get_by_text("vo.thi.nga@bachsam.demo")).to_be_visible()

    phone.get_by_role("button", name="Đăng xuất").click()
    phone.goto(live_server + "/login")
    phone.get_by_label("Địa chỉ email").fill("vo.thi.nga@bachsam.demo")
    phone.get_by_label("Mật khẩu").fill("tranh đẹp 2024")
    phone.get_by_role("button", name="Đăng nhập").click()
    # Signing in, a judge lands on the queue.
    expect(phone).to_have_url(live_server + "/judge")
    phone.screenshot(path=str(artifacts / "judge-account-phone.png"), full_page=True)

    # The link worked once.
    phone.goto(link)
    expect(phone.get_by_text("Đường dẫn mời không hợp lệ")).to_be_visible()
    judge.close()
