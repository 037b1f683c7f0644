"""The middleware that answers a winners' gallery from this process's fresh copy."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from contest.results.gallery import GalleryCache, _header, cache_key, fresh_page, page_response

_GALLERY_PATH = re.compile(r"/contests/([^/]+)/winners")


class GalleryFromMemory:
    """Answers a gallery's GET from this process's fresh copy before sessions and routing.

    The page is the same for every visitor of a language, so nothing after this layer (the
    session, the router, the endpoint) could change it; the language and the security headers
    are set by the layers outside. Anything else goes on to the app as usual: another path, a
    HEAD, no copy yet or one due for its check (which ``gallery`` then renders or checks), and
    a contest with nothing published (``gallery`` answers 404).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            match = _GALLERY_PATH.fullmatch(scope["path"])
            cache: GalleryCache | None = (
                getattr(scope["app"].state, "gallery_cache", None) if match is not None else None
            )
            if match is not None and cache is not None:
                page = fresh_page(cache, cache_key(scope, match[1]))
                if page is not None and page.found:
                    response = page_response(page, _header(scope, b"if-none-match"))
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
