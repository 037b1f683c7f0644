"""Share cards (Open Graph) on the gallery, a winner's own page and a contest's page: names as
the entrant consented, the cleaned preview and never the original, nothing of an erased entry,
and a withdrawn name gone at the next visit."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import utcnow
from contest.models import Asset, AssetRole, Consent, Entrant, Entry, FileState, Result
from contest.results import services
from tests.results.support import Judged
from tests.support import WRITING, vi


class _Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            found = dict(attrs)
            name = found.get("property") or found.get("name")
            if name and found.get("content") is not None:
                self.tags.setdefault(name, []).append(found["content"] or "")


def card_of(html: str) -> dict[str, str]:
    """The page's meta tags, each said once."""
    parser = _Meta()
    parser.feed(html)
    assert all(len(v) == 1 for v in parser.tags.values()), parser.tags
    return {name: values[0] for name, values in parser.tags.items()}


async def _publish(
    sessionmaker: async_sessionmaker[AsyncSession], contest_id: int, *, publish: bool = True
) -> None:
    async with sessionmaker() as session:
        await services.compute_results(session, contest_id=contest_id, actor=None)
        if publish:
            await services.publish_results(session, contest_id=contest_id, actor=None)
        await session.commit()


async def _winner(
    sessionmaker: async_sessionmaker[AsyncSession], entry_id: int
) -> tuple[Result, Entry, Entrant]:
    async with sessionmaker() as session:
        result = await session.scalar(select(Result).where(Result.entry_id == entry_id))
        entry = await session.get(Entry, entry_id)
        assert result is not None and entry is not None
        entrant = await session.get(Entrant, entry.entrant_id)
        assert entrant is not None
    return result, entry, entrant


@dataclass
class Published:
    """A published first prize: its result, entry and entrant, and a way to change them."""

    result: Result
    entry: Entry
    entrant: Entrant
    sessionmaker: async_sessionmaker[AsyncSession]

    @property
    def page(self) -> str:
        return f"/contests/{WRITING}/winners/{self.result.id}"

    async def change(self, row: Entry | Entrant, **values: object) -> None:
        async with self.sessionmaker() as session:
            stored = await session.get(type(row), row.id)
            assert stored is not None
            for name, value in values.items():
                setattr(stored, name, value)
            await session.commit()


@pytest.fixture
async def first_prize(sessionmaker: async_sessionmaker[AsyncSession], judged: Judged) -> Published:
    """The judged contest, published."""
    contest_id, entries = judged
    await _publish(sessionmaker, contest_id)
    return Published(*await _winner(sessionmaker, entries[0]), sessionmaker)


async def test_the_gallery_and_a_winners_page_carry_cards_with_the_consented_name(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], judged: Judged
) -> None:
    contest_id, entries = judged
    await _publish(sessionmaker, contest_id, publish=False)
    result, entry, entrant = await _winner(sessionmaker, entries[0])
    page = f"/contests/{WRITING}/winners/{result.id}"
    # Computed, not yet published: nothing.
    assert (await client.get(page)).status_code == 404
    async with sessionmaker() as session:
        await services.publish_results(session, contest_id=contest_id, actor=None)
        await session.commit()

    gallery = await client.get(f"/contests/{WRITING}/winners")
    assert gallery.status_code == 200
    card = card_of(gallery.text)
    assert card["og:url"] == f"http://testserver/contests/{WRITING}/winners"
    assert card["og:title"].startswith(vi("Winners: %(contest)s", contest=""))
    assert card["og:locale"] == "vi_VN"
    # The gallery links each winner to their own page.
    assert f'href="http://testserver/contests/{WRITING}/winners/{result.id}"' in gallery.text

    shown = await client.get(page)
    assert shown.status_code == 200
    assert shown.headers["cache-control"] == "no-cache"
    card = card_of(shown.text)
    # Initials, as these entrants consented; the full name nowhere in the page.
    assert entrant.full_name not in shown.text
    assert card["og:title"] == f"{vi('First prize')} · H. S. 0."
    assert entry.title in card["og:description"]
    assert card["og:url"] == f"http://testserver{page}"
    # A writing entry has no picture: a small card, and no image tag.
    assert card["twitter:card"] == "summary" and "og:image" not in card
    assert 'id="share-link"' in shown.text and f'value="http://testserver{page}"' in shown.text

    # Another number, or a result of this contest under another contest's address: 404.
    assert (await client.get(f"/contests/{WRITING}/winners/999999")).status_code == 404
    assert (await client.get(f"/contests/drawing/winners/{result.id}")).status_code == 404


async def test_a_hidden_or_withdrawn_name_is_on_no_card(
    client: httpx.AsyncClient, first_prize: Published
) -> None:
    result, _entry, entrant = first_prize.result, first_prize.entry, first_prize.entrant
    page = f"/contests/{WRITING}/winners/{result.id}"
    assert "H. S. 0." in card_of((await client.get(page)).text)["og:title"]

    # The name withdrawn from public view: gone at the next visit.
    await first_prize.change(entrant, consent=Consent.HIDDEN)
    shown = await client.get(page)
    card = card_of(shown.text)
    assert card["og:title"] == f"{vi('First prize')} · {vi('An entrant')}"
    assert "H. S. 0." not in shown.text and entrant.full_name not in shown.text


async def test_an_erased_winner_keeps_only_the_prize(
    client: httpx.AsyncClient, first_prize: Published
) -> None:
    result, entry, entrant = first_prize.result, first_prize.entry, first_prize.entrant
    await first_prize.change(entry, erased_at=utcnow())
    shown = await client.get(f"/contests/{WRITING}/winners/{result.id}")
    assert shown.status_code == 200
    card = card_of(shown.text)
    assert card["og:title"] == vi("First prize")
    assert card["og:description"] == vi("This entry was removed on request.")
    assert "og:image" not in card
    for private in (entry.title, "H. S. 0.", entrant.full_name):
        assert private not in shown.text
    assert 'id="share-link"' not in shown.text


async def test_a_picture_card_shows_the_cleaned_preview_never_the_original(
    client: httpx.AsyncClient, first_prize: Published
) -> None:
    result, entry, _entrant = first_prize.result, first_prize.entry, first_prize.entrant
    # The entry's picture as intake leaves it: the original and the preview made from it.
    async with first_prize.sessionmaker() as session:
        for role, key in ((AssetRole.ORIGINAL, "original.jpg"), (AssetRole.PREVIEW, "p.jpg")):
            session.add(
                Asset(
                    entry_id=entry.id,
                    role=role,
                    storage_key=f"entries/share/{key}",
                    content_type="image/jpeg",
                    size=10,
                    sha256="0" * 64,
                    width=800,
                    height=600,
                    state=FileState.READY,
                )
            )
        await session.commit()
    await first_prize.change(entry, title='Tôi "yêu" <sách>')
    for path in (f"/contests/{WRITING}/winners/{result.id}", f"/contests/{WRITING}/winners"):
        shown = await client.get(path)
        card = card_of(shown.text)
        assert card["og:image"].startswith("http://testserver/")
        assert "entries/share/p.jpg" in card["og:image"]
        assert "original" not in card["og:image"]
        assert (card["og:image:width"], card["og:image:height"]) == ("800", "600")
        assert card["og:image:alt"] == 'Tôi "yêu" <sách>'
        assert card["twitter:card"] == "summary_large_image"
        # Quotes and brackets stay inside their attribute.
        assert "<sách>" not in shown.text


async def test_a_contests_page_carries_its_card(client: httpx.AsyncClient, demo: object) -> None:
    shown = await client.get(f"/contests/{WRITING}")
    card = card_of(shown.text)
    assert card["og:url"] == f"http://testserver/contests/{WRITING}"
    assert card["og:title"] and card["og:description"] == card["description"]
