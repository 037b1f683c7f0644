"""Where a redirect may send a visitor, the app's own address in links, and how a form page is
routed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.routing import Route


def same_site_path(target: str | None, default: str = "/") -> str:
    """Only a path on this site: a ``next`` parameter must not become an open redirect."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target


def public_base_url(request: Request) -> str:
    """The address absolute links (an invitation, a certificate's QR code) start with:
    CONTEST_BASE_URL when set, else the address this request reached the app at."""
    settings = request.state.settings
    if settings.base_url_configured:
        base: str = settings.base_url
        return base
    return str(request.base_url).rstrip("/")


def form_page(path: str, endpoint: Callable[..., Any], name: str) -> Route:
    """A page that shows a form (GET) and takes it back (POST), by its name for ``url_for``."""
    return Route(path, endpoint, methods=["GET", "POST"], name=name)
