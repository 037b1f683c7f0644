"""A visitor on a phone: home page, switch language, open a contest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_home_switch_language_open_a_contest(live_server: str, phone: Any, artifacts: Path) -> None:
    from playwright.sync_api import expect

    phone.goto(live_server + "/")
    expect(phone.locator("html")).to_have_attribute("lang", "vi")
    expect(phone.get_by_role("heading", level=1)).to_have_text(
        "Tuần lễ hưởng ứng học tập suốt đời năm 2024"
    )
    expect(phone.get_by_role("heading", name="Các cuộc thi")).to_be_visible()
    # The countdown script has run and kept the server's wording.
    expect(phone.locator(".countdown").first).to_contain_text("còn")
    phone.screenshot(path=str(artifacts / "home-vi-phone.png"), full_page=True)

    phone.get_by_role("link", name="English").click()
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    expect(phone.get_by_role("heading", name="Contests")).to_be_visible()
    expect(phone.locator(".countdown").first).to_contain_text("left")

    phone.get_by_role("link", name="Vẽ tranh theo sách").first.click()
    expect(phone).to_have_url(live_server + "/contests/ve-tranh-theo-sach")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Vẽ tranh theo sách")
    expect(phone.get_by_role("heading", name="Suggested books")).to_be_visible()
    expect(phone.get_by_text("Closing soon")).to_be_visible()
    # The choice sticks on the next page too, and nothing overflows a phone's width.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(artifacts / "contest-en-phone.png"), full_page=True)
    assert (artifacts / "contest-en-phone.png").stat().st_size > 10_000
