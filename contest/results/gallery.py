"""The public winners' gallery, and the organiser's results page (compute, review, publish).

The gallery is the most read page of the event, so each app process keeps its rendered bytes per
(contest, language, address) and answers from memory. The copy is checked against the database
at most once every ``REVALIDATE_SECONDS``: the winners' rows are read and hashed (prize, rank,
division, the name as consented, unit, title, book, text, files, erasure), and a different hash
means a new page. The hash, not the time of publication, makes the ETag, so every process gives
the same ETag to the same data and a changed prize, name or erasure changes it. Signed links to
the pictures are drawn only when a page is rendered, never per request, and redrawn every
``LINK_PERIOD_SECONDS`` (the period is part of the ETag), long before they expire.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from contest import labels
from contest.access import current_user, public, requires
from contest.events import services as events
from contest.events.interfaces import ContestNotFoundError
from contest.forms import read_form
from contest.i18n import LOCALE_DIR, N_, get_locale, gettext
from contest.models import Asset, AssetRole, Contest, Prize, Role
from contest.results import services
from contest.results.certificates import UnitTree, public_name
from contest.results.services import ResultRow, ResultsError
from contest.templating import TEMPLATES_DIR, render
from storage import Storage

# Signed links in a page stay valid a day; pages are redrawn every six hours, so a copy kept
# by a browser (GALLERY_MAX_AGE) or revalidated with its ETag never holds expired links.
GALLERY_LINK_SECONDS = 24 * 3600
LINK_PERIOD_SECONDS = 6 * 3600
GALLERY_MAX_AGE = 300
# How old a process's copy may get before it is checked against the database again.
REVALIDATE_SECONDS = 1.0
# Pages kept per process (contests × languages × addresses the site answers on).
CACHE_SIZE = 128
TEMPLATE = "results/gallery.html"
ERASED_TEXT = N_("This entry was removed on request.")

# Clocks, replaceable in tests: one measures ages, the other tells the link period.
monotonic = time.monotonic
wall_clock = time.time

ERRORS = {
    "published": N_("The results are already published and can no longer change here."),
    "no_round": N_("Judging has not started for this contest."),
    "no_scores": N_("No entry has a submitted score yet."),
    "not_computed": N_("Compute the results first."),
    "no_reason": N_("Write the reason for this change."),
    "no_contest": N_("Page not found"),
}


def _error(exc: ResultsError) -> HTTPException:
    code = str(exc)
    status = 404 if code == "no_contest" else 422 if code == "no_reason" else 409
    return HTTPException(status, gettext(ERRORS.get(code, ERRORS["not_computed"])))


# --- what the gallery shows, and its fingerprint ------------------------------------------------


@dataclass
class Gallery:
    """A contest's published winners with everything their page shows."""

    contest: Contest
    rows: list[ResultRow]
    media: dict[int, dict[str, Asset]]  # entry id → asset role → asset (none for erased entries)
    units: dict[int, str]  # entry id → "Lớp 5A, Trường Tiểu học Bạch Sam"
    version: str = ""


def is_erased(row: ResultRow) -> bool:
    return row.entry.erased_at is not None


async def load_gallery(session: AsyncSession, *, slug: str) -> Gallery | None:
    """The contest's published winners, or None when there is nothing public to show."""
    try:
        contest = await events.get_public_contest(session, slug=slug)
    except ContestNotFoundError:
        return None
    rows = services.winners(
        await services.results_of(session, contest_id=contest.id, published_only=True)
    )
    if not rows:
        # Before publication there is nothing to show, and nothing says there will be.
        return None
    shown = [r.entry.id for r in rows if not is_erased(r)]
    media: dict[int, dict[str, Asset]] = {}
    if shown:
        assets = await session.scalars(
            select(Asset)
            .where(
                Asset.entry_id.in_(shown),
                Asset.role.in_((AssetRole.THUMBNAIL, AssetRole.PREVIEW, AssetRole.ORIGINAL)),
            )
            .order_by(Asset.id)
        )
        for asset in assets:
            if asset.entry_id is not None:
                media.setdefault(asset.entry_id, {}).setdefault(asset.role.value, asset)
    tree = await UnitTree.load(session, event_id=contest.event_id)
    units = {
        r.entry.id: tree.label(r.unit.id) for r in rows if r.unit is not None and not is_erased(r)
    }
    gallery = Gallery(contest=contest, rows=rows, media=media, units=units)
    gallery.version = fingerprint(gallery)
    return gallery


def fingerprint(gallery: Gallery) -> str:
    """A hash of everything the page shows: any change to a winner's prize, rank, division,
    name or consent, unit, title, book, text or files, or an erasure, gives another value."""
    digest = hashlib.sha256()

    def add(*values: object) -> None:
        for value in values:
            digest.update(repr(value).encode())
            digest.update(b"\x1f")
        digest.update(b"\x1e")

    contest = gallery.contest
    add(contest.id, contest.slug, contest.title, contest.event.id, contest.event.name)
    for row in gallery.rows:
        result, entry = row.result, row.entry
        division = row.division
        add(
            result.id,
            entry.id,
            result.prize,
            result.rank,
            result.published_at,
            (division.id, division.name, division.position) if division else None,
            entry.erased_at,
        )
        if is_erased(row):
            continue
        add(
            row.entrant.consent,
            row.entrant.full_name,
            gallery.units.get(entry.id),
            entry.title,
            entry.book_title,
            entry.book_author,
            hashlib.sha256((entry.body_text or "").encode()).hexdigest(),
        )
        for role, asset in sorted(gallery.media.get(entry.id, {}).items()):
            add(role, asset.storage_key, asset.content_type, asset.width, asset.height)
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


async def _link(storage: Storage, asset: Asset, content_type: str) -> str:
    return await storage.read_url(
        asset.storage_key, expires_in=GALLERY_LINK_SECONDS, content_type=content_type
    )


async def _item(storage: Storage, gallery: Gallery, row: ResultRow) -> dict[str, Any]:
    prize = labels.PRIZES[Prize(row.result.prize)] if row.result.prize else ""
    if is_erased(row):
        # Prize and division stay, so that the results still add up; nothing of the person.
        return {"erased": True, "prize": prize}
    entry = row.entry
    media = gallery.media.get(entry.id, {})
    item: dict[str, Any] = {
        "erased": False,
        "prize": prize,
        "title": entry.title,
        "name": public_name(row.entrant),
        "unit": gallery.units.get(entry.id, ""),
        "book_title": entry.book_title,
        "book_author": entry.book_author,
        "paragraphs": (entry.body_text or "").split("\n") if entry.body_text else [],
        "thumbnail": None,
        "preview": None,
        "player": None,
    }
    if thumbnail := media.get("thumbnail"):
        item["thumbnail"] = {
            "url": await _link(storage, thumbnail, "image/jpeg"),
            "width": thumbnail.width,
            "height": thumbnail.height,
        }
    if preview := media.get("preview"):
        item["preview"] = await _link(storage, preview, "image/jpeg")
    original = media.get("original")
    if original and original.content_type.startswith(("audio/", "video/")):
        item["player"] = {
            "kind": original.content_type.split("/")[0],
            "url": await _link(storage, original, original.content_type),
        }
    return item


async def render_gallery(request: Request, gallery: Gallery) -> bytes:
    """The page's bytes; the only place the gallery asks the storage for links."""
    storage: Storage = request.state.storage
    divisions: dict[str, list[dict[str, Any]]] = {}
    for row in gallery.rows:
        division = row.division.name if row.division else ""
        divisions.setdefault(division, []).append(await _item(storage, gallery, row))
    contest = gallery.contest
    response = render(
        request, TEMPLATE, {"contest": contest, "event": contest.event, "divisions": divisions}
    )
    return bytes(response.body)


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
        (b"cache-control", f"public, max-age={GALLERY_MAX_AGE}".encode()),
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
    renders: int = 0  # pages rendered (and links signed) since start

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
    checked_at = monotonic()
    async with request.state.sessionmaker() as session:
        gallery = await load_gallery(session, slug=key[0])
    if gallery is None:
        # Not kept: the page must appear at the first request after publication.
        cache.pages.pop(key, None)
        return CachedPage(found=False)
    if old is not None and old.version == gallery.version and old.period == period:
        page = old
    else:
        body = await render_gallery(request, gallery)
        cache.renders += 1
        etag = gallery_etag(gallery.version, locale=key[1], period=period)
        page = _cached_page(gallery.version, period, etag, body, key[1])
    page.period = period
    page.checked_at = checked_at
    cache.put(key, page)
    return page


async def current_page(request: Request, slug: str) -> CachedPage:
    """This process's copy of the page, checked against the database when older than
    ``REVALIDATE_SECONDS``; one request checks while the others keep answering."""
    cache = gallery_cache(request)
    scope = request.scope
    host = request.headers.get("host", "")
    key = (slug, get_locale(), scope["scheme"], host, scope.get("root_path", ""))
    period = int(wall_clock() // LINK_PERIOD_SECONDS)
    page = cache.pages.get(key)
    if page is not None and page.period == period:
        if monotonic() - page.checked_at < REVALIDATE_SECONDS:
            return page
        if key in cache.refreshing:
            # Being checked right now: this copy is at most that check's duration older.
            return page
    task = cache.refreshing.get(key)
    if task is None:
        task = asyncio.ensure_future(_refresh(request, cache, key, page, period))
        cache.refreshing[key] = task

        def done(finished: asyncio.Future[CachedPage]) -> None:
            if cache.refreshing.get(key) is finished:
                del cache.refreshing[key]

        task.add_done_callback(done)
    # Shielded: a visitor who leaves does not cancel the check the others wait for.
    return await asyncio.shield(task)


@public
async def gallery(request: Request) -> Response:
    page = await current_page(request, request.path_params["slug"])
    if not page.found:
        raise HTTPException(404)
    if etag_matches(request.headers.get("if-none-match"), page.etag):
        return PrebuiltResponse(304, b"", page.not_modified_headers)
    return PrebuiltResponse(200, page.body, page.headers)


@requires(Role.ADMIN)
async def results_page(request: Request) -> Response:
    async with request.state.sessionmaker() as session:
        contest = await session.get(Contest, request.path_params["contest_id"])
        if contest is None:
            raise HTTPException(404)
        rows = await services.results_of(session, contest_id=contest.id, published_only=False)
        published = await services.is_published(session, contest_id=contest.id)
    return render(
        request,
        "results/console.html",
        {
            "contest": contest,
            "rows": rows,
            "published": published,
            "labels": labels,
            "prizes": list(Prize),
            "message": request.session.pop("results_message", None),
        },
    )


@requires(Role.ADMIN)
async def results_action(request: Request) -> Response:
    """Compute, override a prize (with a reason) or publish; each audited."""
    form = await read_form(request)
    action = form.get("action", "")
    contest_id = request.path_params["contest_id"]
    actor = current_user(request)
    async with request.state.sessionmaker() as session:
        contest = await session.get(Contest, contest_id)
        if contest is None:
            raise HTTPException(404)
        try:
            if action == "compute":
                report = await services.compute_results(session, contest_id=contest_id, actor=actor)
                message = gettext("Ranked %(count)s entries.", count=report.entries)
            elif action == "override":
                try:
                    result_id = int(form.get("result", ""))
                    prize = Prize(form["prize"]) if form.get("prize") else None
                except (ValueError, KeyError):
                    raise HTTPException(422, gettext("Choose one of the options.")) from None
                await services.override_prize(
                    session,
                    result_id=result_id,
                    prize=prize,
                    reason=form.get("reason", ""),
                    actor=actor,
                )
                message = gettext("The prize was changed.")
            elif action == "publish":
                count = await services.publish_results(session, contest_id=contest_id, actor=actor)
                message = gettext("Published %(count)s results.", count=count)
            else:
                raise HTTPException(422, gettext("Choose one of the options."))
        except ResultsError as exc:
            raise _error(exc) from None
        await session.commit()
    request.session["results_message"] = message
    return RedirectResponse(
        request.url_for("admin_results", contest_id=contest_id), status_code=303
    )


routes: list[BaseRoute] = [
    Route("/contests/{slug:str}/winners", gallery, name="gallery"),
    Route("/admin/contests/{contest_id:int}/results", results_page, name="admin_results"),
    Route(
        "/admin/contests/{contest_id:int}/results",
        results_action,
        methods=["POST"],
        name="admin_results_action",
    ),
]
