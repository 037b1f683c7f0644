"""`PORT=… make run` without CONTEST_BASE_URL: served on another port, every picture of the
receipt, judge and gallery pages loads (links follow the address the page was reached at,
within the page's own Content-Security-Policy)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.gallery import CONTEST, GALLERY_PATH, entrants, free_port, prepare, serving
from tests.support import DEMO_PASSWORD, run_apart, server_database

pytestmark = pytest.mark.browser

TOKEN = "the-entrants-own-private-token-for-this-test"


@dataclass
class Served:
    url: str
    receipt_code: str
    judge_email: str
    assignment_id: int


async def _receipt_and_assignment(env: dict[str, str]) -> tuple[str, str, int]:
    """A drawing's receipt (its private link's token set to ours) and a judge's assignment."""
    from sqlalchemy import select

    from contest.db import create_engine, create_sessionmaker
    from contest.models import Assignment, Contest, Entry, User
    from contest.settings import Settings
    from contest.tokens import hash_token

    engine = create_engine(Settings.from_env(env).database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            row = (
                await session.execute(
                    select(Assignment.id, User.email, Entry)
                    .join(User, User.id == Assignment.judge_id)
                    .join(Entry, Entry.id == Assignment.entry_id)
                    .join(Contest, Contest.id == Entry.contest_id)
                    .where(Contest.slug == CONTEST, Entry.receipt_code != "DEMD-R8P4")
                    .order_by(Assignment.id)
                    .limit(1)
                )
            ).one()
            assignment_id, email, entry = row
            entry.edit_token_hash = hash_token(TOKEN)
            code = entry.receipt_code
            await session.commit()
    finally:
        await engine.dispose()
    return code, email, assignment_id


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("any-port")
    port = free_port()
    assert port != 8000
    with server_database(tmp) as database_url:
        env = {
            **{k: v for k, v in os.environ.items() if k != "CONTEST_BASE_URL"},
            "CONTEST_DATA_DIR": str(tmp),
            "CONTEST_DATABASE_URL": database_url,
        }
        prepare(env, entrants(2))
        code, email, assignment_id = run_apart(_receipt_and_assignment(env))
        contest = str(Path(sys.executable).parent / "contest")
        url = f"http://127.0.0.1:{port}"
        command = [contest, "serve", "--port", str(port)]
        with serving(command, env, f"{url}/healthz", tmp / "server.log"):
            yield Served(url, code, email, assignment_id)


def _every_image_loads(page: Any, where: str) -> int:
    pictures = page.locator("img")
    count = pictures.count()
    assert count, f"no picture on the {where}"
    for picture in pictures.all():
        picture.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.images].every(img => img.complete && img.naturalWidth > 0)",
        timeout=10_000,
    )
    sources = page.evaluate("[...document.images].map(img => img.currentSrc)")
    assert all(src.startswith(page.url.split("/", 3)[0] + "//") for src in sources), sources
    return int(count)


def test_every_picture_loads_on_another_port(served: Served, phone: Any) -> None:
    blocked: list[str] = []
    phone.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    phone.on("requestfailed", lambda request: blocked.append(request.url))

    phone.goto(f"{served.url}/entries/{served.receipt_code}?token={TOKEN}")
    _every_image_loads(phone, "receipt")

    phone.goto(served.url + GALLERY_PATH)
    _every_image_loads(phone, "gallery")

    phone.goto(f"{served.url}/login")
    phone.locator("input[name=email]").fill(served.judge_email)
    phone.locator("input[name=password]").fill(DEMO_PASSWORD)
    phone.locator("form button[type=submit]").last.click()
    phone.wait_for_url(f"{served.url}/judge")
    phone.goto(f"{served.url}/judge/assignments/{served.assignment_id}")
    _every_image_loads(phone, "judge's page")
    assert blocked == []
