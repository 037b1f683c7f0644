"""The text a judge reads of a document: a DOCX's paragraphs as plain text."""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree

from contest.files.limits import MAX_DOCX_XML_BYTES, MAX_TEXT_CHARS

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def docx_text(data: bytes) -> str:
    """The paragraphs of a DOCX file as plain text; "" when it cannot be read.

    Expat (bundled with this Python) refuses entity-expansion bombs, and the part is read with
    a size cap, so a hostile file costs at most that much memory.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > MAX_DOCX_XML_BYTES:
                return ""
            with archive.open(info) as part:
                xml = part.read(MAX_DOCX_XML_BYTES + 1)
    except (KeyError, zipfile.BadZipFile, OSError, RuntimeError):
        return ""
    try:
        root = ElementTree.fromstring(xml)  # noqa: S314  (see the docstring)
    except ElementTree.ParseError:
        return ""
    paragraphs = []
    for paragraph in root.iter(f"{_W}p"):
        paragraphs.append("".join(node.text or "" for node in paragraph.iter(f"{_W}t")))
    return "\n".join(paragraphs)[:MAX_TEXT_CHARS]
