"""The judges' viewers still work under the files' sandboxing policy, in a real Chromium.

A PDF entry is sent through the API, assigned, and opened by a judge: the frame must hold
Chromium's PDF viewer (not an error page), and a drawing's image must have loaded.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from reportlab.pdfgen import canvas

from tests.hardening.servers import entry_fields
from tests.support import DEMO_PASSWORD, DRAWING, sign_in_page, wait_for_job

pytestmark = pytest.mark.browser

PDF_VIEWER = "chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/"


def _pdf() -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, "Bai du thi dang PDF")
    page.save()
    return out.getvalue()


def _signed_in(base: str, email: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=30)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    response = client.post(
        "/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
    )
    assert response.status_code == 303, response.text
    # A fresh sign-in makes a fresh CSRF secret: read it again.
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/account").text)
    assert token
    return client, token.group(1)


def _judge_page_frames(browser: Any, base: str, title: str) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    sign_in_page(page, base, "gk.hoa@bachsam.demo")
    page.wait_for_url(re.compile(r".*/account.*|.*/judge.*"))
    page.goto(base + "/judge")
    page.get_by_role("link", name=title).first.click()
    return context, page


def test_the_pdf_viewer_and_the_image_viewer_work_under_the_sandbox(
    live_server: str, browser: Any, artifacts: Path
) -> None:
    title = "Bài PDF trong khung"
    with httpx.Client(base_url=live_server, timeout=30) as web:
        sent = web.post(
            f"/api/v1/contests/{DRAWING}/entries",
            data=entry_fields(title),
            files={"file": ("bai.pdf", _pdf(), "application/pdf")},
        )
    assert sent.status_code == 201, sent.text
    organiser, csrf = _signed_in(live_server, "bantochuc@bachsam.demo")
    try:
        assigned = organiser.post(
            f"/api/v1/contests/{DRAWING}/assignment", headers={"X-CSRF-Token": csrf}, json={}
        )
        # The served app's own worker runs the assignment job.
        assert wait_for_job(organiser, assigned)["status"] == "done"
    finally:
        organiser.close()

    context, page = _judge_page_frames(browser, live_server, title)
    try:
        frame = page.locator("iframe.pdf")
        frame.wait_for()
        src = frame.get_attribute("src")
        assert src and "/files/" in src
        # Chromium's PDF viewer takes over the frame; a refused frame shows an error page.
        page.wait_for_function("prefix => performance.now() > 0", arg=PDF_VIEWER)
        deadline_ms = 15_000
        waited = 0
        while waited < deadline_ms and not any(f.url.startswith(PDF_VIEWER) for f in page.frames):
            page.wait_for_timeout(250)
            waited += 250
        page.wait_for_timeout(1000)  # for the screenshot: the page drawn in the viewer
        urls = [f.url for f in page.frames]
        page.screenshot(path=str(artifacts / "judge-pdf-viewer.png"))
        assert any(url.startswith(PDF_VIEWER) for url in urls), urls
        assert not any(url.startswith("chrome-error:") for url in urls), urls

        # A drawing of the demo: the image has really loaded (not only an <img> in the page).
        page.goto(live_server + "/judge")
        page.get_by_role("link", name="Hoa vàng trên cỏ xanh").click()
        image = page.get_by_role("img", name="Bức tranh")
        image.wait_for()
        page.wait_for_function(
            "() => { const i = document.querySelector('img[data-zoom]');"
            " return i && i.complete && i.naturalWidth > 0; }",
            timeout=15_000,
        )
    finally:
        context.close()
