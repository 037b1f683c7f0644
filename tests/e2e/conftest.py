"""A real server (``contest demo`` then ``contest serve``) and a real headless Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.s3server import free_port, stop_process
from tests.support import server_database, skip_or_fail

ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


@contextlib.contextmanager
def demo_server(
    tmp: Path, prepare: Callable[[dict[str, str]], None] | None = None
) -> Iterator[str]:
    """``contest demo``, then ``prepare(env)`` (data a journey starts from, written with the
    server's own settings), then ``contest serve``; the server's address."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    contest = str(Path(sys.executable).parent / "contest")
    with server_database(tmp) as database_url:
        env = {
            **os.environ,
            "CONTEST_DATA_DIR": str(tmp),
            "CONTEST_DATABASE_URL": database_url,
            "CONTEST_BASE_URL": base_url,
        }
        subprocess.run([contest, "demo"], env=env, check=True, capture_output=True, timeout=120)
        if prepare is not None:
            prepare(env)
        log = (tmp / "server.log").open("wb")
        server = subprocess.Popen(
            [contest, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp / "server.log").read_text())
                time.sleep(0.2)
            yield base_url
        finally:
            stop_process(server)
            log.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh demo server per test module: journeys do not see each other's changes."""
    with demo_server(tmp_path_factory.mktemp("live")) as base_url:
        yield base_url


@pytest.fixture
def browser() -> Iterator[Any]:
    """Chromium for one test: Playwright's sync API holds an event loop on this thread while it
    is open, which must be gone before the next asyncio test starts its own."""
    executable = shutil.which("chromium")
    if executable is None:
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A fresh page at a phone's size, with no cookies."""
    context = browser.new_context(**PHONE, locale="vi-VN")
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def fill_entry_form(
    page: Any,
    *,
    full_name: str,
    age: str,
    grade: str,
    guardian_name: str,
    title: str,
    child_consent: bool = True,
) -> None:
    """The entry form filled as a parent does for a pupil of class 5A: the entrant, the
    guardian, the title, the first suggested book, initials in public, the child's own yes
    (unless ``child_consent`` is false) and the agreement."""
    page.fill("#f-full_name", full_name)
    page.fill("#f-age", age)
    page.fill("#f-grade", grade)
    page.select_option("#f-unit", "th-bach-sam-5a")
    page.fill("#f-guardian_name", guardian_name)
    page.fill("#f-guardian_phone", "0912 345 678")
    page.fill("#f-title", title)
    page.select_option("#f-book", index=1)
    page.check("input[name=consent][value=initials]")
    if child_consent:
        page.check("#f-child_consent")
    page.check("#f-agreement")
