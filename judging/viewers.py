"""How a judge sees an entry's file in the page: which viewer, and DOCX as plain text."""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree

# Past this a document is not an essay; the viewer shows what fits and says so.
MAX_DOCX_XML_BYTES = 20 * 1024 * 1024
MAX_TEXT_CHARS = 200_000
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"

VIEWERS = {
    "image/jpeg": "image",
    "image/png": "image",
    "image/webp": "image",
    "application/pdf": "pdf",
    "text/plain": "text",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "audio/mpeg": "audio",
    "audio/mp4": "audio",
    "audio/x-m4a": "audio",
    "audio/wav": "audio",
    "audio/x-wav": "audio",
    "audio/ogg": "audio",
    "video/mp4": "video",
    "video/webm": "video",
    "video/quicktime": "video",
}


def viewer_for(content_type: str) -> str:
    return VIEWERS.get(content_type.split(";")[0].strip().lower(), "download")


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
