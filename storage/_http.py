"""Response header helpers shared by the backends' signed read URLs."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal
from urllib.parse import quote

_MEDIA_TYPE_RE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
    r"(?:\s*;\s*[A-Za-z0-9_-]+=[A-Za-z0-9_.+-]+)*"
)
_UNSAFE_FALLBACK_RE = re.compile(r"[^A-Za-z0-9._ ()-]+")
_MAX_FILENAME_CHARS = 200


# Types a browser shows without running anything of the file's: only these are ever served
# inline. HTML, SVG, XML and every other type go out as downloads of application/octet-stream.
INLINE_SAFE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/gif", "application/pdf", "text/plain"}
)
INLINE_SAFE_FAMILIES = frozenset({"audio", "video"})
DOWNLOAD_TYPE = "application/octet-stream"


def is_inline_safe(content_type: str) -> bool:
    base = content_type.split(";")[0].strip().lower()
    return base in INLINE_SAFE_TYPES or base.split("/")[0] in INLINE_SAFE_FAMILIES


def check_content_type(content_type: str) -> str:
    """Refuse anything that isn't a plain media type, so nothing odd reaches a header."""
    if not _MEDIA_TYPE_RE.fullmatch(content_type):
        raise ValueError(f"invalid content type {content_type[:80]!r}")
    return content_type


def _clean_filename(filename: str) -> str:
    # Path separators and control characters have no business in a download name.
    cleaned = "".join(
        "_" if ch in "/\\" else ch for ch in filename if unicodedata.category(ch)[0] != "C"
    )
    return cleaned.strip()[:_MAX_FILENAME_CHARS]


def content_disposition(kind: Literal["attachment", "inline"], filename: str | None) -> str:
    """A Content-Disposition value with an ASCII fallback and an RFC 5987 UTF-8 filename*."""
    if filename is None:
        return kind
    name = _clean_filename(filename)
    if not name:
        return kind
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = _UNSAFE_FALLBACK_RE.sub("_", ascii_name).strip() or "download"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
