"""Where a redirect may send a visitor."""

from __future__ import annotations

from urllib.parse import urlsplit


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
