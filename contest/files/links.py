"""The signed links that read a stored file: the one place the app makes them.

Storage signs and checks the links (the S3 backend presigns them; the local backend signs them
with itsdangerous and serves them); here is who gets which link, for how long, and shown how.
A link that names a content type is shown inline (storage refuses to inline a type that could
run); without one it is a download.
"""

from __future__ import annotations

from contest.files.kinds import INLINE_VIEWERS, PREVIEW_TYPE
from storage import Storage
from storage.interfaces import DEFAULT_READ_URL_EXPIRES

# A judge's page: long enough to watch a long video.
JUDGE_LINK_SECONDS = 2 * 3600
# The winners' gallery and the home page: pages are kept and redrawn well within a day (the
# gallery's LINK_PERIOD_SECONDS), so a page never holds an expired link.
GALLERY_LINK_SECONDS = 24 * 3600
LOGO_LINK_SECONDS = 24 * 3600
# An entrant's receipt page and the organisers' pages, which are redrawn at every view.
PAGE_LINK_SECONDS = DEFAULT_READ_URL_EXPIRES


async def judge_link(storage: Storage, key: str, *, content_type: str, viewer: str) -> str:
    """A file in a judge's page: shown in the page when its viewer does, else a download;
    it names no file (judging is blind)."""
    return await storage.read_url(
        key,
        expires_in=JUDGE_LINK_SECONDS,
        content_type=content_type if viewer in INLINE_VIEWERS else None,
    )


async def gallery_link(storage: Storage, key: str, *, content_type: str) -> str:
    """A winner's file (or its preview) in the public gallery."""
    return await storage.read_url(key, expires_in=GALLERY_LINK_SECONDS, content_type=content_type)


async def logo_link(storage: Storage, key: str, *, public: bool = True) -> str:
    """The event's logo: on public pages it lasts as long as the gallery's links."""
    return await storage.read_url(
        key,
        expires_in=LOGO_LINK_SECONDS if public else PAGE_LINK_SECONDS,
        content_type=PREVIEW_TYPE,
    )


async def inline_link(storage: Storage, key: str, *, content_type: str) -> str:
    """A file (a recording, a preview) shown in an entrant's page."""
    return await storage.read_url(key, expires_in=PAGE_LINK_SECONDS, content_type=content_type)


async def download_link(storage: Storage, key: str, *, filename: str | None) -> str:
    """A file downloaded under the name it was sent with."""
    return await storage.read_url(key, expires_in=PAGE_LINK_SECONDS, filename=filename)
