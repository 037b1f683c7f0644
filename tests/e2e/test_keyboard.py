"""Forms work by keyboard alone (WCAG 2.1.1): a parent with no mouse or touch screen reaches
every field of the entry form with Tab, in the order it reads, fills it in, ticks the consents
with Space, picks from the lists and the radio group with the arrow keys and sends it with
Enter; an organiser signs in the same way. Each focused control shows where the focus is
(2.4.7)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import DEMO_PASSWORD, WRITING

pytestmark = pytest.mark.browser

# Tab presses allowed to reach the next control: a page's header and language links come
# before the form, then each control is the next stop or a few after it.
MOST_TABS = 40


def _focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement ? document.activeElement.id : ''"))


def _tab_to(page: Any, element_id: str) -> None:
    """Press Tab until the control with this id has the focus; fail if it never does."""
    for _ in range(MOST_TABS):
        page.keyboard.press("Tab")
        if _focused(page) == element_id:
            return
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def _shows_focus(page: Any) -> bool:
    """Whether the focused control is drawn with a visible outline or ring."""
    return bool(
        page.evaluate(
            """() => {
              const style = getComputedStyle(document.activeElement);
              const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
              return outline || style.boxShadow !== 'none';
            }"""
        )
    )


def _type(page: Any, element_id: str, text: str) -> None:
    _tab_to(page, element_id)
    assert _shows_focus(page), f"#{element_id} shows no focus"
    page.keyboard.type(text)


def test_a_parent_sends_an_essay_by_keyboard_alone(live_server: str, phone: Any) -> None:
    from playwright.sync_api import expect

    phone.goto(f"{live_server}/contests/{WRITING}/submit")
    _type(phone, "f-full_name", "Trần Gia Hân")
    _type(phone, "f-age", "10")
    _type(phone, "f-grade", "5")
    # A list: the arrow keys move through its options, the first being "choose".
    _tab_to(phone, "f-unit")
    phone.keyboard.press("ArrowDown")
    assert phone.eval_on_selector("#f-unit", "e => e.value") != ""
    _type(phone, "f-guardian_name", "Trần Văn Phúc")
    _type(phone, "f-guardian_phone", "0912 345 678")
    _type(phone, "f-title", "Điều em học được từ Dế Mèn")
    _tab_to(phone, "f-book")
    phone.keyboard.press("ArrowDown")
    assert phone.eval_on_selector("#f-book", "e => e.value") not in ("", "other")
    _type(phone, "f-body_text", "Em thích nhất đoạn Dế Mèn biết nhận lỗi với chị Cốc.")
    # The radio group is one stop; the arrow keys choose within it.
    for _ in range(MOST_TABS):
        phone.keyboard.press("Tab")
        if phone.evaluate("document.activeElement.name") == "consent":
            break
    else:
        raise AssertionError("the publication choice cannot be reached with Tab")
    for _ in range(5):
        if phone.evaluate("document.activeElement.value") == "initials":
            break
        phone.keyboard.press("ArrowDown")
    expect(phone.locator("input[name=consent][value=initials]")).to_be_checked()
    _tab_to(phone, "f-child_consent")
    phone.keyboard.press("Space")
    expect(phone.locator("#f-child_consent")).to_be_checked()
    _tab_to(phone, "f-agreement")
    phone.keyboard.press("Space")
    expect(phone.locator("#f-agreement")).to_be_checked()
    _tab_to(phone, "send-button")
    assert _shows_focus(phone), "the send button shows no focus"
    phone.keyboard.press("Enter")
    phone.wait_for_url("**/entries/*?token=*", timeout=30_000)
    expect(phone.locator("h1")).to_be_visible()


def test_an_organiser_signs_in_by_keyboard_alone(live_server: str, phone: Any) -> None:
    phone.goto(f"{live_server}/login")
    _type(phone, "f-email", "bantochuc@bachsam.demo")
    _type(phone, "f-password", DEMO_PASSWORD)
    phone.keyboard.press("Enter")
    phone.wait_for_url("**/admin**", timeout=30_000)
    # Signed in: the organiser's console, not the sign-in form again.
    assert "/login" not in phone.url
    assert phone.locator("#f-password").count() == 0
