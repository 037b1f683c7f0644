"""The winners' gallery: answered from each process's copy, whose ETag follows what it shows.

A winner's prize changed after re-marking, a new consent, an erasure: each gives a new ETag,
once the copy is checked again (at most ``REVALIDATE_SECONDS`` later; the tests move a fake
clock instead of waiting). Links to the pictures are signed when a page is rendered, never per
request.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.files import links
from contest.models import Asset, AssetRole, Consent, Entrant, Entry, Prize, Result
from contest.results import gallery
from contest.settings import Settings
from storage import LocalStorage, Storage
from tests.results.support import Row, make_results
from tests.support import DRAWING, app_client, make_entries, vi

PAGE = f"/contests/{DRAWING}/winners"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


class Clock:
    """Stands for time.monotonic in the gallery module: moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def later(self) -> None:
        self.now += gallery.REVALIDATE_SECONDS + 0.01


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(gallery, "monotonic", fake)
    return fake


@pytest.fixture
def signed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every key the local storage signs a link for, in order."""
    keys: list[str] = []
    original = LocalStorage.read_url

    async def counting(self: LocalStorage, key: str, **options: object) -> str:
        keys.append(key)
        return await original(self, key, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(LocalStorage, "read_url", counting)
    yield keys


async def _with_thumbnail(
    sessionmaker: async_sessionmaker[AsyncSession], storage: Storage, entry_id: int
) -> str:
    """A stored thumbnail for the entry, as intake leaves it beside a drawing."""
    key = f"entries/test{entry_id}/thumbnail.jpg"

    async def chunks() -> AsyncIterator[bytes]:
        yield JPEG

    stored = await storage.put_stream(key, chunks(), content_type="image/jpeg")
    async with sessionmaker() as session:
        session.add(
            Asset(
                entry_id=entry_id,
                role=AssetRole.THUMBNAIL,
                storage_key=key,
                content_type="image/jpeg",
                size=stored.size,
                sha256=stored.sha256,
                width=400,
                height=300,
            )
        )
        await session.commit()
    return key


@pytest.fixture
async def drawings(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession], storage: Storage
) -> list[int]:
    """Three primary-school drawings with thumbnails, published: first, second and third prize."""
    entries = await make_entries(sessionmaker, DRAWING, ages=[8, 9, 10])
    for entry_id in entries:
        await _with_thumbnail(sessionmaker, storage, entry_id)
    await make_results(
        sessionmaker,
        [
            Row(entries[0], 1, 9.0, Prize.FIRST),
            Row(entries[1], 2, 8.0, Prize.SECOND),
            Row(entries[2], 3, 7.0, Prize.THIRD),
        ],
    )
    return entries


async def _set_prize(
    sessionmaker: async_sessionmaker[AsyncSession], entry_id: int, prize: Prize
) -> None:
    async with sessionmaker() as session:
        await session.execute(update(Result).where(Result.entry_id == entry_id).values(prize=prize))
        await session.commit()


async def _set_consents(
    sessionmaker: async_sessionmaker[AsyncSession], consents: dict[int, Consent]
) -> None:
    """Change how the entrants of these entries consented to be named, and commit."""
    async with sessionmaker() as session:
        for entry_id, consent in consents.items():
            entrant = select(Entry.entrant_id).where(Entry.id == entry_id).scalar_subquery()
            await session.execute(
                update(Entrant).where(Entrant.id == entrant).values(consent=consent)
            )
        await session.commit()


def _winners(page: httpx.Response) -> list[str]:
    return re.findall(r'<li class="winner[^"]*">(.*?)</li>', page.text, re.DOTALL)


async def test_a_changed_prize_gives_a_new_etag_and_the_old_one_no_longer_matches(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    drawings: list[int],
) -> None:
    first = await client.get(PAGE)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert (await client.get(PAGE, headers={"If-None-Match": etag})).status_code == 304

    # The organiser's decision on a re-marking request moves the third prize up to second.
    await _set_prize(sessionmaker, drawings[2], Prize.SECOND)
    clock.later()
    changed = await client.get(PAGE, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert vi("Third prize") not in changed.text
    assert changed.text.count(vi("Second prize")) == 2
    again = await client.get(PAGE, headers={"If-None-Match": changed.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["etag"] == changed.headers["etag"]


async def test_an_erased_winner_gives_a_new_etag_and_stays_as_an_anonymous_placeholder(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    drawings: list[int],
) -> None:
    async with sessionmaker() as session:
        entry = await session.get(Entry, drawings[0])
        assert entry is not None
        entry.book_title = "Dế Mèn phiêu lưu ký"
        await session.commit()
    before = await client.get(PAGE)
    assert "H. S. 0." in before.text and "Bài 0" in before.text
    assert "Dế Mèn phiêu lưu ký" in before.text
    assert "entries/test" in before.text  # the thumbnail's link

    # The family asked for erasure. Only the mark is set here: whatever else the erasure
    # blanks, the gallery must not rely on it.
    async with sessionmaker() as session:
        await session.execute(
            update(Entry)
            .where(Entry.id == drawings[0])
            .values(erased_at=datetime(2024, 11, 2, 3, 0, tzinfo=UTC))
        )
        await session.commit()
    clock.later()
    after = await client.get(PAGE, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    winners = _winners(after)
    assert len(winners) == 3
    placeholder = winners[0]
    # The prize and the division stay; nothing of the person or the work does.
    assert vi("First prize") in placeholder
    assert vi("This entry was removed on request.") in placeholder
    for gone in ("H. S. 0.", "Bài 0", "Dế Mèn", "Lớp 3A", "<img", "<audio", "<video", "href="):
        assert gone not in placeholder, gone
    assert f"entries/test{drawings[0]}/" not in after.text
    assert re.search(r"<h2[^>]*>Tiểu học</h2>", after.text)  # the division stays
    # The other winners are untouched.
    assert "H. S. 1." in winners[1] and f"entries/test{drawings[1]}/" in winners[1]


async def test_names_follow_the_consent_and_a_new_consent_changes_the_etag(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    drawings: list[int],
) -> None:
    consents = [Consent.FULL_NAME, Consent.INITIALS, Consent.HIDDEN]
    await _set_consents(sessionmaker, dict(zip(drawings, consents, strict=True)))
    page = await client.get(PAGE)
    winners = _winners(page)
    assert "Học sinh 0" in winners[0]
    assert "H. S. 1." in winners[1] and "Học sinh 1" not in winners[1]
    assert vi("An entrant") in winners[2] and "Học sinh 2" not in winners[2]
    assert "H. S. 2." not in winners[2]
    # The unit is named with its school.
    assert "Lớp 3A, Trường Tiểu học Bạch Sam" in winners[0]

    await _set_consents(sessionmaker, {drawings[0]: Consent.HIDDEN})
    clock.later()
    hidden = await client.get(PAGE)
    assert hidden.headers["etag"] != page.headers["etag"]
    assert "Học sinh 0" not in hidden.text


async def test_a_forgotten_contest_is_read_again_even_by_a_check_that_was_reading(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    drawings: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A withdrawn name: the page is forgotten at once, no clock moves; and a check that read
    the winners just before the withdrawal was committed does not keep what it read."""
    await _set_consents(sessionmaker, {drawings[0]: Consent.FULL_NAME})
    caches: list[gallery.GalleryCache] = []
    found = gallery.gallery_cache

    def remembered(request: Any) -> gallery.GalleryCache:
        caches.append(found(request))
        return caches[-1]

    monkeypatch.setattr(gallery, "gallery_cache", remembered)
    assert "Học sinh 0" in (await client.get(PAGE)).text
    cache = caches[-1]

    await _set_consents(sessionmaker, {drawings[0]: Consent.HIDDEN})
    cache.forget("another-contest")
    assert "Học sinh 0" in (await client.get(PAGE)).text  # another contest's, not this one's
    cache.forget(DRAWING)
    assert not [key for key in cache.pages if key[0] == DRAWING]
    assert "Học sinh 0" not in (await client.get(PAGE)).text

    # Shown again, then withdrawn while a check is reading the database.
    await _set_consents(sessionmaker, {drawings[0]: Consent.FULL_NAME})
    cache.forget(DRAWING)
    assert "Học sinh 0" in (await client.get(PAGE)).text
    read = gallery.load_gallery
    reads = 0

    async def withdrawn_meanwhile(connection: Any, *, slug: str) -> Any:
        nonlocal reads
        reads += 1
        before = await read(connection, slug=slug)
        if reads == 1:
            await _set_consents(sessionmaker, {drawings[0]: Consent.HIDDEN})
            cache.forget(DRAWING)
        return before

    monkeypatch.setattr(gallery, "load_gallery", withdrawn_meanwhile)
    clock.later()
    page = await client.get(PAGE)
    assert reads == 2
    assert "Học sinh 0" not in page.text
    assert "Học sinh 0" not in (await client.get(PAGE)).text


async def test_requests_are_answered_from_the_copy_without_signing_links(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    signed: list[str],
    drawings: list[int],
) -> None:
    first = await client.get(PAGE)
    assert first.status_code == 200
    assert len(signed) == 3  # one thumbnail per winner, once
    for _ in range(20):
        page = await client.get(PAGE)
        assert page.content == first.content
    assert len(signed) == 3

    # Checked again after the interval: the same data keeps the same page and its links.
    clock.later()
    same = await client.get(PAGE)
    assert same.content == first.content and same.headers["etag"] == first.headers["etag"]
    assert len(signed) == 3

    # Within the interval a change is not seen yet (the copy is that fresh, no fresher).
    await _set_prize(sessionmaker, drawings[0], Prize.HONOURABLE)
    assert (await client.get(PAGE)).headers["etag"] == first.headers["etag"]
    clock.later()
    changed = await client.get(PAGE)
    assert changed.headers["etag"] != first.headers["etag"]
    assert vi("Honourable mention") in changed.text
    assert len(signed) == 6  # rendered once more

    # English is a page of its own, with the same data.
    english = await client.get(PAGE, headers={"Cookie": "lang=en"})
    assert "Honourable mention" in english.text
    assert english.headers["content-language"] == "en"
    assert english.headers["etag"] != changed.headers["etag"]


async def test_two_processes_give_the_same_etag_to_the_same_data(
    client: httpx.AsyncClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    drawings: list[int],
) -> None:
    one = await client.get(PAGE)
    async with app_client(settings) as other:
        two = await other.get(PAGE)
        assert two.headers["etag"] == one.headers["etag"]
        # A revalidation made against one process is honoured by the other.
        assert (
            await other.get(PAGE, headers={"If-None-Match": one.headers["etag"]})
        ).status_code == 304
        await _set_prize(sessionmaker, drawings[1], Prize.FIRST)
        clock.later()
        assert (await client.get(PAGE)).headers["etag"] == (await other.get(PAGE)).headers["etag"]
        assert (await client.get(PAGE)).headers["etag"] != one.headers["etag"]


async def test_links_are_redrawn_each_period_before_they_expire(
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    signed: list[str],
    drawings: list[int],
) -> None:
    start = 1_700_000_000.0
    monkeypatch.setattr(gallery, "wall_clock", lambda: start)
    first = await client.get(PAGE)
    assert len(signed) == 3
    monkeypatch.setattr(gallery, "wall_clock", lambda: start + gallery.LINK_PERIOD_SECONDS)
    later = await client.get(PAGE, headers={"If-None-Match": first.headers["etag"]})
    assert later.status_code == 200
    assert later.headers["etag"] != first.headers["etag"]
    assert len(signed) == 6
    # A page kept a whole period still holds links that work, and browsers ask again at every
    # view rather than keep a copy for a while.
    assert gallery.LINK_PERIOD_SECONDS < links.GALLERY_LINK_SECONDS
    assert later.headers["cache-control"] == "public, no-cache"


async def test_nothing_before_publication_and_the_page_appears_after_it(
    demo: DemoReport,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    clock: Clock,
) -> None:
    entries = await make_entries(sessionmaker, DRAWING, ages=[8, 9])
    await make_results(
        sessionmaker,
        [Row(entries[0], 1, 9.0, Prize.FIRST), Row(entries[1], 2, 3.0, None)],
        published=False,
    )
    assert (await client.get(PAGE)).status_code == 404
    assert (await client.get("/contests/no-such-contest/winners")).status_code == 404
    async with sessionmaker() as session:
        await session.execute(update(Result).values(published_at=datetime(2024, 11, 1, tzinfo=UTC)))
        await session.commit()
    # A missing page is not kept: the next request after publication shows it.
    page = await client.get(PAGE)
    assert page.status_code == 200
    assert vi("First prize") in page.text
    # Nothing about those without a prize.
    assert "Bài 0" in page.text and "Bài 1" not in page.text and "H. S. 1." not in page.text


def test_if_none_match_uses_the_weak_comparison() -> None:
    etag = 'W/"abc"'
    assert gallery.etag_matches('W/"abc"', etag)
    assert gallery.etag_matches('"abc"', etag)
    assert gallery.etag_matches('"x", W/"abc"', etag)
    assert gallery.etag_matches("*", etag)
    assert not gallery.etag_matches('"abcd"', etag)
    assert not gallery.etag_matches("", etag)
    assert not gallery.etag_matches(None, etag)


async def test_a_fresh_copy_is_answered_ahead_of_sessions_and_routing_with_the_same_answer(
    client: httpx.AsyncClient,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    drawings: list[int],
) -> None:
    reached: list[str] = []
    original = gallery.current_page

    async def counted(request: object, slug: str) -> gallery.CachedPage:
        reached.append(slug)
        return await original(request, slug)  # type: ignore[arg-type]

    monkeypatch.setattr(gallery, "current_page", counted)

    rendered = await client.get(PAGE)  # no copy yet: the endpoint renders it
    assert reached == [DRAWING]
    from_memory = await client.get(PAGE)  # a fresh copy: answered before the router
    assert reached == [DRAWING]
    assert from_memory.status_code == rendered.status_code == 200
    assert from_memory.content == rendered.content
    assert sorted(from_memory.headers.multi_items()) == sorted(rendered.headers.multi_items())
    for header in ("content-security-policy", "x-frame-options", "etag", "content-language"):
        assert header in from_memory.headers
    assert "set-cookie" not in from_memory.headers
    etag = from_memory.headers["etag"]
    not_modified = await client.get(PAGE, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert reached == [DRAWING]

    # Each language has its copy: the first English request goes to the endpoint.
    english = await client.get(PAGE, headers={"Cookie": "lang=en"})
    assert english.headers["content-language"] == "en"
    assert english.headers["etag"] != etag
    assert reached == [DRAWING, DRAWING]
    assert (await client.get(PAGE, headers={"Cookie": "lang=en"})).content == english.content
    assert reached == [DRAWING, DRAWING]

    # A HEAD, and a copy due for its check, go through the endpoint as before.
    assert (await client.head(PAGE)).status_code == 200
    assert len(reached) == 3
    clock.later()
    assert (await client.get(PAGE)).status_code == 200
    assert len(reached) == 4
    # Another contest's address with nothing published is still the app's 404 page.
    missing = await client.get("/contests/khong-co/winners")
    assert missing.status_code == 404
    assert "content-security-policy" in missing.headers
