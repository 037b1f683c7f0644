"""Without CONTEST_BASE_URL, links follow the address the app is reached at: another port, the
machine's address on the school's network. With it, they follow the setting."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.models import Entry, Role
from contest.settings import Settings
from contest.tokens import hash_token
from tests.support import Account, app_client, csrf_from, sign_in

REACHED_AT = "http://192.168.1.20:8080"
DRAWING_RECEIPT = "DEMD-R8P4"
TOKEN = "a-token-for-this-test-only"


def test_an_unset_base_url_is_known_as_unset(tmp_path: Path) -> None:
    unset = Settings.from_env({"CONTEST_DATA_DIR": str(tmp_path)})
    assert unset.base_url == "http://127.0.0.1:8000" and not unset.base_url_configured
    given = Settings.from_env(
        {"CONTEST_DATA_DIR": str(tmp_path), "CONTEST_BASE_URL": "https://thi.example.vn/"}
    )
    assert given.base_url == "https://thi.example.vn" and given.base_url_configured


async def _receipt_links(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> list[str]:
    async with sessionmaker() as session:
        await session.execute(
            update(Entry)
            .where(Entry.receipt_code == DRAWING_RECEIPT)
            .values(edit_token_hash=hash_token(TOKEN))
        )
        await session.commit()
    async with app_client(settings, base_url=REACHED_AT) as client:
        page = await client.get(f"/entries/{DRAWING_RECEIPT}", params={"token": TOKEN})
        assert page.status_code == 200
        links = re.findall(r'(?:src|href)="([^"]*/files/[^"]*)"', page.text)
        assert links, "the receipt shows the drawing"
        for link in links:
            answer = await client.get(link.replace("&amp;", "&"))
            assert answer.status_code == 200, link
        return links


async def test_file_links_follow_the_address_the_app_is_reached_at(
    settings: Settings, demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    unset = dataclasses.replace(
        settings, base_url="http://127.0.0.1:8000", base_url_configured=False
    )
    links = await _receipt_links(unset, sessionmaker)
    # Root-relative: on this host and port, within the page's own origin.
    assert all(link.startswith("/files/") for link in links), links


async def test_a_set_base_url_is_kept_in_file_links(
    settings: Settings, demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    links = await _receipt_links(settings, sessionmaker)
    assert all(link.startswith(f"{settings.base_url}/files/") for link in links), links


async def test_an_invitation_link_follows_the_address_too(
    settings: Settings, demo: DemoReport, make_user: object
) -> None:
    unset = dataclasses.replace(
        settings, base_url="http://127.0.0.1:8000", base_url_configured=False
    )
    organiser: Account = await make_user("btc@example.vn", Role.ADMIN)  # type: ignore[operator]
    async with app_client(unset, base_url=REACHED_AT) as client:
        await sign_in(client, organiser.user.email, organiser.password)
        token = await csrf_from(client, "/admin/users")
        invited = await client.post(
            "/admin/users",
            data={"email": "gk@example.vn", "name": "GK", "role": "judge", "csrf_token": token},
        )
        assert invited.status_code == 200, invited.text
        link = re.search(r"data-invite-link>([^<]+)<", invited.text)
        assert link and link.group(1).startswith(f"{REACHED_AT}/invite/"), invited.text
