"""An entrant on a phone: fill in the drawing form, watch the upload progress, survive a
dropped connection, get the receipt, then change the title with the private link."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.conftest import fill_entry_form

pytestmark = pytest.mark.browser

UPLOAD_BYTES_PER_SECOND = 300 * 1024


def _photo(path: Path) -> Path:
    """A noisy photo that does not compress: big enough to watch it upload."""
    rng = random.Random(7)
    image = Image.frombytes("RGB", (640, 640), rng.randbytes(640 * 640 * 3))
    image.save(path, format="JPEG", quality=95)
    return path


def test_submit_a_drawing_see_progress_get_receipt_edit_title(
    live_server: str, phone: Any, artifacts: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    photo = _photo(tmp_path / "tranh-cua-em.jpg")
    assert photo.stat().st_size > 400_000
    phone.goto(live_server + "/contests/ve-tranh-theo-sach")
    phone.locator("a.button[href$='/contests/ve-tranh-theo-sach/submit']").click()
    expect(phone.locator("#submit-form")).to_be_visible()

    fill_entry_form(
        phone,
        full_name="Nguyễn Minh Anh",
        age="10",
        grade="5",
        guardian_name="Nguyễn Văn Bình",
        title="Chú Dế Mèn dũng cảm",
        child_consent=False,
    )
    # The child (aged 10) says yes in a box of their own, not ticked beforehand.
    expect(phone.locator("#f-child_consent")).not_to_be_checked()
    phone.check("#f-child_consent")
    phone.set_input_files("#f-file", str(photo))
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(artifacts / "submit-form-phone.png"), full_page=True)

    # The connection drops: nothing typed is lost and Send can be pressed again.
    phone.context.set_offline(True)
    phone.click("#send-button")
    expect(phone.locator("#form-message .alert")).to_be_visible()
    expect(phone.locator("#f-title")).to_have_value("Chú Dế Mèn dũng cảm")
    expect(phone.locator("#send-button")).to_be_enabled()
    assert phone.evaluate("document.querySelector('#f-file').files.length") == 1
    phone.context.set_offline(False)

    # A slow phone network, so that the progress bar has something to show.
    cdp = phone.context.new_cdp_session(phone)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 40,
            "downloadThroughput": -1,
            "uploadThroughput": UPLOAD_BYTES_PER_SECOND,
        },
    )
    phone.click("#send-button")
    expect(phone.locator("#upload-progress")).to_be_visible()
    phone.wait_for_function(
        "() => { const p = document.querySelector('#upload-progress progress');"
        " return p && p.value > 0 && p.value < 100; }",
        timeout=15_000,
    )
    phone.screenshot(path=str(artifacts / "submit-progress-phone.png"))

    phone.wait_for_url("**/entries/*?token=*", timeout=30_000)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    code = phone.locator("#receipt-code").inner_text()
    assert len(code) == 9 and code[4] == "-"
    assert not set(code) & set("01OIL")
    expect(phone.locator("#entry-title")).to_have_text("Chú Dế Mèn dũng cảm")
    # The server's worker makes the preview in the background; until then the page says the
    # file is being prepared, and the family looks again.
    for _attempt in range(60):
        if phone.locator("#files-state").count() == 0:
            break
        phone.wait_for_timeout(500)
        phone.reload()
    expect(phone.locator("#files-state")).to_have_count(0)
    expect(phone.locator("img.thumbnail")).to_be_visible()
    assert phone.evaluate("document.querySelector('img.thumbnail').naturalWidth") > 0
    phone.screenshot(path=str(artifacts / "receipt-phone.png"), full_page=True)

    phone.fill("#f-title", "Chú Dế Mèn và bạn bè")
    phone.click("#send-button")
    phone.wait_for_url("**saved=1*")
    expect(phone.locator("#entry-title")).to_have_text("Chú Dế Mèn và bạn bè")
    expect(phone.locator("#receipt-code")).to_have_text(code)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
