"""DOCX: the package's people and company taken out, every other member copied."""

from __future__ import annotations

import re
import zipfile
from typing import IO

from contest.files.limits import MAX_DOCX_UNPACKED

# DOCX: the package's properties, and who wrote comments and tracked changes.
_DOCX_EMPTY_CORE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    b'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"/>'
)
_DOCX_EMPTY_CUSTOM = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'custom-properties"/>'
)
_DOCX_APP_FIELDS = re.compile(rb"<(Company|Manager|HyperlinkBase)>[^<]*</\1>")
_DOCX_PEOPLE = re.compile(rb'\b(w:author|w:initials|w15:userId|w15:providerId)="[^"]*"')


def scrub_docx(source: IO[bytes], target: IO[bytes]) -> bool:
    """DOCX: the author, last editor, company and custom properties, and the names on comments
    and tracked changes, are removed; every other member is copied as it is."""
    try:
        package = zipfile.ZipFile(source)
        members = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    if sum(m.file_size for m in members) > MAX_DOCX_UNPACKED:
        return False
    changed = False
    with zipfile.ZipFile(target, "w") as out:
        for member in members:
            data = package.read(member)
            clean = _docx_member(member.filename, data)
            changed |= clean != data
            out.writestr(member, clean, compress_type=member.compress_type)
    return changed


def _docx_member(name: str, data: bytes) -> bytes:
    if name == "docProps/core.xml":
        return _DOCX_EMPTY_CORE
    if name == "docProps/custom.xml":
        return _DOCX_EMPTY_CUSTOM
    if name == "docProps/app.xml":
        return _DOCX_APP_FIELDS.sub(lambda m: b"<%s></%s>" % (m[1], m[1]), data)
    if name.startswith("word/") and name.endswith(".xml"):
        return _DOCX_PEOPLE.sub(lambda m: m[1] + b'=""', data)
    return data
