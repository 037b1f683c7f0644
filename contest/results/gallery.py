"""The public winners' gallery. (The organisers' results console is contest.results.console;
the middleware that answers from this process's copy is contest.results.gallery_memory.)

The gallery is the most read page of the event, so each app process keeps its rendered bytes per
(contest, language, address) and answers from memory. The copy is checked against the database
about once every ``REVALIDATE_SECONDS``: one query reads the winners' rows, which are hashed
(prize, rank, division, the name as consented, unit, title, book, text, files, erasure), and a
different hash means a new page. The hash, not the time of publication, makes the ETag, so every
process gives the same ETag to the same data and a changed prize, name or erasure changes it.
Signed links to the pictures are drawn only when a page is rendered, never per request, and
redrawn every ``LINK_PERIOD_SECONDS`` (the period is part of the ETag), long before they expire.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urljoin

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from contest import labels
from contest.access import public, request_storage
from contest.files import links
from contest.i18n import LOCALE_DIR, get_locale, gettext
from contest.models import (
    Asset,
    AssetRole,
    Consent,
    Contest,
    ContestStatus,
    Division,
    Entrant,
    Entry,
    Event,
    FileState,
    Prize,
    Result,
    Unit,
)
from contest.notice import name_consent
from contest.results.certificates import public_name
from contest.results.services import PRIZE_ORDER
from contest.templating import TEMPLATES_DIR, render
from storage import Storage

# Signed links in a page stay valid a day (links.GALLERY_LINK_SECONDS); pages are redrawn
# every six hours (the period is part of the ETag), so a copy revalidated with its ETag never
# holds expired links.
LINK_PERIOD_SECONDS = 6 * 3600
# Browsers and proxies may keep the page but ask again at every view (a 304 from this
# process's memory when nothing changed): an erased child's name or a withdrawn prize must
# not stay on screens for minutes.
GALLERY_CACHE_CONTROL = "public, no-cache"
# How old a process's copy may get before it is checked against the database again: a change
# (a re-marking decision, an erasure) shows within this many seconds. Under bench/gallery.py's
# load, checking every second gave 0.75x a bare endpoint's throughput, every five seconds 0.83x
# (before fresh copies were answered ahead of sessions and routing).
REVALIDATE_SECONDS = 5.0
# Pages kept per process (contests × languages × addresses the site answers on).
CACHE_SIZE = 128
TEMPLATE = "results/gallery.html"

# Clocks, replaceable in tests: one measures ages, the other tells the link period.
monotonic = time.monotonic
wall_clock = time.time

# --- what the gallery shows, read in one query, and its fingerprint -------------------------------

_Parent = aliased(Unit)
_Grandparent = aliased(Unit)
SHOWN_ROLES = (AssetRole.THUMBNAIL, AssetRole.PREVIEW, AssetRole.ORIGINAL)


@dataclass(frozen=True)
class Media:
    key: str
    content_type: str
    width: int | None
    height: int | None


@dataclass
class Winner:
    """One published prize winner as the page shows them (nothing of an erased one)."""

    result_id: int
    prize: Prize
    rank: int
    division: tuple[int, str] | None  # position, name
    erased: bool
    consent: Consent | None = None
    full_name: str = ""
    unit: str = ""  # "Lớp 5A, Trường Tiểu học Bạch Sam"
    title: str = ""
    book_title: str = ""
    book_author: str = ""
    body_text: str = ""
    media: dict[str, Media] = field(default_factory=dict)  # asset role → file

    def public_name(self) -> str:
        """The name as the public may see it (``consent`` is already the one in force)."""
        return public_name(
            Entrant(full_name=self.full_name, consent=self.consent or Consent.HIDDEN)
        )


@dataclass
class Gallery:
    """A contest's published winners with everything their page shows."""

    slug: str
    title: str
    event_name: str
    winners: list[Winner]
    version: str = ""


def gallery_query(slug: str) -> Select[*tuple[Any, ...]]:
    """Everything the page shows, in one round trip: cheap enough to run every few seconds under
    load (each round trip waits for a busy event loop, so their number is what counts)."""
    contest_id = (
        select(Contest.id)
        .join(Event, Event.id == Contest.event_id)
        .where(Contest.slug == slug, Contest.status != ContestStatus.DRAFT)
        .order_by(Event.starts_on.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            Contest.slug.label("contest_slug"),
            Contest.title.label("contest_title"),
            Event.name.label("event_name"),
            Result.id.label("result_id"),
            Result.prize,
            Result.rank,
            Result.published_at,
            Division.position.label("division_position"),
            Division.name.label("division_name"),
            Entry.erased_at,
            Entry.title,
            Entry.book_title,
            Entry.book_author,
            Entry.body_text,
            Entrant.consent,
            Entrant.age,
            Entrant.is_minor,
            Entrant.child_consent_at,
            Entrant.full_name,
            # A unit's label names it and the units above it: a class and its school.
            Unit.name.label("unit"),
            _Parent.name.label("parent_unit"),
            _Grandparent.name.label("grandparent_unit"),
            Asset.role.label("asset_role"),
            Asset.storage_key,
            Asset.content_type,
            Asset.width,
            Asset.height,
        )
        .select_from(Result)
        .join(Contest, Contest.id == Result.contest_id)
        .join(Event, Event.id == Contest.event_id)
        .join(Entry, Entry.id == Result.entry_id)
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .outerjoin(Division, Division.id == Result.division_id)
        .outerjoin(Unit, Unit.id == Entrant.unit_id)
        .outerjoin(_Parent, _Parent.id == Unit.parent_id)
        .outerjoin(_Grandparent, _Grandparent.id == _Parent.parent_id)
        # An erased entry's files are not even looked at, nor a file not yet processed.
        .outerjoin(
            Asset,
            and_(
                Asset.entry_id == Entry.id,
                Entry.erased_at.is_(None),
                Asset.role.in_(SHOWN_ROLES),
                Asset.state == FileState.READY,
            ),
        )
        .where(
            Result.contest_id == contest_id,
            Result.published_at.is_not(None),
            Result.prize.is_not(None),
        )
        .order_by(Result.id, Asset.id)
    )


async def load_gallery(connection: AsyncConnection, *, slug: str) -> Gallery | None:
    """The contest's published winners, or None when there is nothing public to show (no such
    contest, or nothing published yet: nothing says there will be)."""
    rows = (await connection.execute(gallery_query(slug))).all()
    if not rows:
        return None
    winners: dict[int, Winner] = {}
    for row in rows:
        winner = winners.get(row.result_id)
        if winner is None:
            erased = row.erased_at is not None
            winner = Winner(
                result_id=row.result_id,
                prize=Prize(row.prize),
                rank=row.rank,
                division=(row.division_position, row.division_name)
                if row.division_name is not None
                else None,
                erased=erased,
            )
            if not erased:
                # Prize and division stay, so that the results still add up; nothing else.
                # The consent in force (a child's own one missing hides the name), so the
                # fingerprint changes with it.
                winner.consent = name_consent(row)
                winner.full_name = row.full_name
                winner.unit = ", ".join(
                    name for name in (row.unit, row.parent_unit, row.grandparent_unit) if name
                )
                winner.title = row.title
                winner.book_title = row.book_title or ""
                winner.book_author = row.book_author or ""
                winner.body_text = row.body_text or ""
            winners[row.result_id] = winner
        if row.asset_role is not None:
            winner.media.setdefault(
                AssetRole(row.asset_role).value,
                Media(row.storage_key, row.content_type, row.width, row.height),
            )
    ordered = sorted(
        winners.values(),
        key=lambda w: (w.division[0] if w.division else 0, PRIZE_ORDER[w.prize], w.rank),
    )
    first = rows[0]
    gallery = Gallery(first.contest_slug, first.contest_title, first.event_name, ordered)
    gallery.version = fingerprint(gallery, published=[r.published_at for r in rows])
    return gallery


def fingerprint(gallery: Gallery, *, published: list[Any]) -> str:
    """A hash of everything the page shows: any change to a winner's prize, rank, division,
    name or consent, unit, title, book, text or files, or an erasure, gives another value."""
    digest = hashlib.sha256()

    def add(*values: object) -> None:
        for value in values:
            digest.update(repr(value).encode())
            digest.update(b"\x1f")
        digest.update(b"\x1e")

    add(gallery.slug, gallery.title, gallery.event_name, sorted(map(repr, published)))
    for winner in gallery.winners:
        add(winner.result_id, winner.prize, winner.rank, winner.division, winner.erased)
        if winner.erased:
            continue
        add(
            winner.consent,
            winner.full_name,
            winner.unit,
            winner.title,
            winner.book_title,
            winner.book_author,
            hashlib.sha256(winner.body_text.encode()).hexdigest(),
            sorted(winner.media.items()),
        )
    return digest.hexdigest()


@cache
def _build_id() -> str:
    """The templates and catalogs this process renders with: a new release changes ETags."""
    digest = hashlib.sha256()
    files = [TEMPLATES_DIR / "base.html", TEMPLATES_DIR / TEMPLATE]
    files += sorted(LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))
    for path in files:
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def gallery_etag(version: str, *, locale: str, period: int) -> str:
    """Weak: processes sign links separately, so equal pages may differ in their bytes."""
    tag = hashlib.sha256(f"{version}:{locale}:{period}:{_build_id()}".encode()).hexdigest()
    return f'W/"{tag[:32]}"'


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison: W/ prefixes do not count."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


# --- rendering ------------------------------------------------------------------------------------


async def _link(storage: Storage, media: Media, content_type: str) -> str:
    return await links.gallery_link(storage, media.key, content_type=content_type)


async def _item(storage: Storage, winner: Winner) -> dict[str, Any]:
    prize = labels.PRIZES[winner.prize]
    if winner.erased:
        return {"result_id": winner.result_id, "erased": True, "prize": prize}
    item: dict[str, Any] = {
        "result_id": winner.result_id,
        "erased": False,
        "prize": prize,
        "title": winner.title,
        "name": winner.public_name(),
        "unit": winner.unit,
        "book_title": winner.book_title,
        "book_author": winner.book_author,
        "paragraphs": winner.body_text.split("\n") if winner.body_text else [],
        "thumbnail": None,
        "preview": None,
        "player": None,
    }
    if thumbnail := winner.media.get("thumbnail"):
        item["thumbnail"] = {
            "url": await _link(storage, thumbnail, "image/jpeg"),
            "width": thumbnail.width,
            "height": thumbnail.height,
        }
    if preview := winner.media.get("preview"):
        item["preview"] = await _link(storage, preview, "image/jpeg")
    original = winner.media.get("original")
    if original and original.content_type.startswith(("audio/", "video/")):
        item["player"] = {
            "kind": original.content_type.split("/")[0],
            "url": await _link(storage, original, original.content_type),
        }
    return item


async def _card_image(
    request: Request, storage: Storage, winner: Winner, item: dict[str, Any]
) -> dict[str, Any] | None:
    """A winner's picture for a share card: the preview (a cleaned JPEG, never the original),
    at an absolute address; none for an erased entry or one without a picture."""
    preview = None if winner.erased else winner.media.get("preview")
    if preview is None:
        return None
    return {
        "url": urljoin(str(request.base_url), await _link(storage, preview, "image/jpeg")),
        "alt": item["title"],
        "width": preview.width,
        "height": preview.height,
    }


async def render_gallery(request: Request, gallery: Gallery) -> bytes:
    """The page's bytes; the only place the gallery asks the storage for links."""
    storage = request_storage(request)
    divisions: dict[str, list[dict[str, Any]]] = {}
    image = None
    for winner in gallery.winners:
        division = winner.division[1] if winner.division else ""
        item = await _item(storage, winner)
        divisions.setdefault(division, []).append(item)
        image = image or await _card_image(request, storage, winner, item)
    card = {
        "title": gettext("Winners: %(contest)s", contest=gallery.title),
        "description": gallery.event_name,
        "url": str(request.url_for("gallery", slug=gallery.slug)),
        "image": image,
    }
    context = {
        "contest": {"slug": gallery.slug, "title": gallery.title},
        "event": {"name": gallery.event_name},
        "divisions": divisions,
        "card": card,
    }
    return bytes(render(request, TEMPLATE, context).body)


@public
async def winner(request: Request) -> Response:
    """One winner's page, the address a family shares: read fresh at each visit (it is not
    kept like the gallery), so a withdrawn consent or an erasure shows at once."""
    slug, result_id = request.path_params["slug"], request.path_params["result_id"]
    async with request.state.engine.connect() as connection:
        gallery = await load_gallery(connection, slug=slug)
    found = (
        next((w for w in gallery.winners if w.result_id == result_id), None) if gallery else None
    )
    if gallery is None or found is None:
        raise HTTPException(404)
    storage = request_storage(request)
    item = await _item(storage, found)
    prize = gettext(item["prize"])
    card = {
        "title": prize if item["erased"] else f"{prize} · {item['name']}",
        "description": (
            gettext("This entry was removed on request.")
            if item["erased"]
            else gettext(
                "“%(title)s”, %(contest)s · %(event)s",
                title=item["title"],
                contest=gallery.title,
                event=gallery.event_name,
            )
        ),
        "url": str(request.url_for("winner", slug=slug, result_id=result_id)),
        "image": await _card_image(request, storage, found, item),
    }
    context = {
        "contest": {"slug": gallery.slug, "title": gallery.title},
        "event": {"name": gallery.event_name},
        "division": found.division[1] if found.division else "",
        "item": item,
        "card": card,
    }
    response = render(request, "results/winner.html", context)
    # Kept by nobody without asking again: a withdrawn name must not stay on screens.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Cookie"
    return response


# --- the per-process copy -------------------------------------------------------------------------

# Slug, language, and the scheme, host and root path the page's own links were made with.
CacheKey = tuple[str, str, str, str, str]


@dataclass
class CachedPage:
    found: bool
    version: str = ""
    period: int = 0
    etag: str = ""
    body: bytes = b""
    checked_at: float = 0.0
    # The answer's headers, made once: for the page, and for a 304.
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    not_modified_headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def _cached_page(version: str, period: int, etag: str, body: bytes, locale: str) -> CachedPage:
    common = [
        (b"etag", etag.encode()),
        (b"cache-control", GALLERY_CACHE_CONTROL.encode()),
        (b"vary", b"Cookie"),
        (b"content-language", locale.encode()),
    ]
    return CachedPage(
        found=True,
        version=version,
        period=period,
        etag=etag,
        body=body,
        headers=[
            *common,
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ],
        not_modified_headers=common,
    )


class PrebuiltResponse(Response):
    """Bytes and headers made beforehand, sent as they are. The header list is copied: the
    middleware outside appends to the one it is given."""

    def __init__(self, status_code: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        self.raw_headers = list(headers)


@dataclass
class GalleryCache:
    """Rendered galleries of one app, the least recently used dropped beyond ``size``."""

    size: int = CACHE_SIZE
    pages: OrderedDict[CacheKey, CachedPage] = field(default_factory=OrderedDict)
    refreshing: dict[CacheKey, asyncio.Future[CachedPage]] = field(default_factory=dict)
    # How many times each contest's pages were forgotten: a check that read the database before
    # the latest time does not keep what it read.
    forgotten: dict[str, int] = field(default_factory=dict)

    def forget(self, slug: str) -> None:
        """Drop a contest's pages in every language and address, so that the next visit reads
        the database (a withdrawn name is gone at once in this process; the other processes
        check theirs within ``REVALIDATE_SECONDS``)."""
        self.forgotten[slug] = self.forgotten.get(slug, 0) + 1
        for key in [key for key in self.pages if key[0] == slug]:
            del self.pages[key]

    def put(self, key: CacheKey, page: CachedPage) -> None:
        self.pages[key] = page
        self.pages.move_to_end(key)
        while len(self.pages) > self.size:
            self.pages.popitem(last=False)


def gallery_cache(request: Request) -> GalleryCache:
    state = request.app.state
    found: GalleryCache | None = getattr(state, "gallery_cache", None)
    if found is None:
        found = state.gallery_cache = GalleryCache()
    return found


async def _refresh(
    request: Request, cache: GalleryCache, key: CacheKey, old: CachedPage | None, period: int
) -> CachedPage:
    generation = cache.forgotten.get(key[0], 0)
    async with request.state.engine.connect() as connection:
        gallery = await load_gallery(connection, slug=key[0])
    if cache.forgotten.get(key[0], 0) != generation:
        # Forgotten during this read: what it read may be what was just withdrawn, so read
        # again for everyone waiting.
        return await _refresh(request, cache, key, None, period)
    if gallery is None:
        # Not kept: the page must appear at the first request after publication.
        cache.pages.pop(key, None)
        return CachedPage(found=False)
    if old is not None and old.version == gallery.version and old.period == period:
        page = old
    else:
        body = await render_gallery(request, gallery)
        etag = gallery_etag(gallery.version, locale=key[1], period=period)
        page = _cached_page(gallery.version, period, etag, body, key[1])
    # Counted from the end: under heavy load a check takes longer, and checks must not follow
    # each other without a pause.
    page.checked_at = monotonic()
    cache.put(key, page)
    return page


def _header(scope: Scope, wanted: bytes) -> str | None:
    return next((v.decode("latin-1") for name, v in scope["headers"] if name == wanted), None)


def cache_key(scope: Scope, slug: str) -> CacheKey:
    host = _header(scope, b"host") or ""
    return (slug, get_locale(), scope["scheme"], host, scope.get("root_path", ""))


def fresh_page(cache: GalleryCache, key: CacheKey) -> CachedPage | None:
    """The copy to answer with as it is: of this link period, and checked within
    ``REVALIDATE_SECONDS`` or being checked right now (it is then at most that check's duration
    older). None when the page must be rendered or checked first."""
    page = cache.pages.get(key)
    if page is None or page.period != int(wall_clock() // LINK_PERIOD_SECONDS):
        return None
    if monotonic() - page.checked_at < REVALIDATE_SECONDS or key in cache.refreshing:
        return page
    return None


async def current_page(request: Request, slug: str) -> CachedPage:
    """This process's copy of the page, checked against the database when older than
    ``REVALIDATE_SECONDS``; one request checks while the others keep answering."""
    cache = gallery_cache(request)
    key = cache_key(request.scope, slug)
    page = fresh_page(cache, key)
    if page is not None:
        return page
    task = cache.refreshing.get(key)
    if task is None:
        period = int(wall_clock() // LINK_PERIOD_SECONDS)
        task = asyncio.ensure_future(_refresh(request, cache, key, cache.pages.get(key), period))
        cache.refreshing[key] = task

        def done(finished: asyncio.Future[CachedPage]) -> None:
            if cache.refreshing.get(key) is finished:
                del cache.refreshing[key]

        task.add_done_callback(done)
    # Shielded: a visitor who leaves does not cancel the check the others wait for.
    return await asyncio.shield(task)


def page_response(page: CachedPage, if_none_match: str | None) -> Response:
    if etag_matches(if_none_match, page.etag):
        return PrebuiltResponse(304, b"", page.not_modified_headers)
    return PrebuiltResponse(200, page.body, page.headers)


@public
async def gallery(request: Request) -> Response:
    page = await current_page(request, request.path_params["slug"])
    if not page.found:
        raise HTTPException(404)
    return page_response(page, request.headers.get("if-none-match"))


routes: list[BaseRoute] = [
    Route("/contests/{slug:str}/winners", gallery),
    Route("/contests/{slug:str}/winners/{result_id:int}", winner),
]
