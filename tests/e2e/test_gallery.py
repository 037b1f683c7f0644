"""The winners' gallery on a phone: names as consented, pictures that load, nothing too wide.

The server is the real one: ``contest demo``, six drawings submitted through the intake
services (which derive the thumbnails) and scored by the demo's judges, ``contest results
compute`` and ``publish``, then ``contest serve``. The same set-up feeds bench/gallery.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.gallery import CONTEST, GALLERY_PATH, NAMES, entrants, free_port, prepare, serving
from tests.support import server_database

pytestmark = pytest.mark.browser

PEOPLE = entrants(6)


@pytest.fixture(scope="module")
def gallery_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo server whose drawing contest has published winners."""
    tmp = tmp_path_factory.mktemp("gallery")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with server_database(tmp) as database_url:
        env = {
            **os.environ,
            "CONTEST_DATA_DIR": str(tmp),
            "CONTEST_DATABASE_URL": database_url,
            "CONTEST_BASE_URL": base_url,
        }
        prepare(env, PEOPLE)
        contest = str(Path(sys.executable).parent / "contest")
        command = [contest, "serve", "--port", str(port)]
        with serving(command, env, f"{base_url}/healthz", tmp / "server.log"):
            yield base_url


def test_winners_on_a_phone(gallery_server: str, phone: Any, artifacts: Path) -> None:
    from playwright.sync_api import expect

    # The six entrants consented in turn to their full name, their initials, no name.
    assert [p.consent for p in PEOPLE] == ["full_name", "initials", "hidden"] * 2
    # Who they are, in order: the names below are looked for as each chose.
    assert [p.full_name for p in PEOPLE] == NAMES[:6]
    phone.goto(gallery_server + GALLERY_PATH)
    expect(phone.get_by_role("heading", level=1)).to_have_text(
        "Các bài đoạt giải: Vẽ tranh theo sách"
    )
    expect(phone.get_by_role("heading", level=2, name="Tiểu học")).to_be_visible()
    expect(phone.get_by_role("heading", level=2, name="Trung học cơ sở")).to_be_visible()
    winners = phone.locator("li.winner")
    # Six drawings and the demo's own: every one of them has a prize (1 + 2 + 3 per division).
    expect(winners).to_have_count(7)
    names = phone.locator(".winner-name")
    text = " | ".join(names.all_inner_texts())
    for shown in ("Nguyễn Thảo Vy", "Phạm Quốc Bảo", "T. Đ. A.", "H. M. C.", "Trần Gia Huy"):
        assert shown in text, shown
    for hidden in ("Trần Đức Anh", "Hoàng Minh Châu", "Lê Hoàng Yến", "Vũ Gia Khánh"):
        assert hidden not in phone.content(), hidden
    assert text.count("Người dự thi") == 2  # the two who chose no name
    expect(phone.get_by_text("Lớp 3A, Trường Tiểu học Bạch Sam").first).to_be_visible()
    expect(phone.get_by_text("Giải Nhất")).to_have_count(2)

    # Each thumbnail loads (they are lazy: bring each into view first); the demo's drawing
    # has one too.
    pictures = phone.locator("li.winner img")
    expect(pictures).to_have_count(7)
    for picture in pictures.all():
        picture.scroll_into_view_if_needed()
    phone.wait_for_function(
        "[...document.querySelectorAll('li.winner img')]"
        ".every(img => img.complete && img.naturalWidth > 0)",
        timeout=10_000,
    )
    widths = phone.evaluate(
        "[...document.querySelectorAll('li.winner img')].map(img => img.naturalWidth)"
    )
    assert all(width > 0 for width in widths), widths
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.evaluate("window.scrollTo(0, 0)")
    path = artifacts / "gallery-vi-phone.png"
    phone.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    assert CONTEST in phone.url
