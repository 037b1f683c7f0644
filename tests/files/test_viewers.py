from __future__ import annotations

import io
import zipfile

from contest.files.documents import docx_text
from contest.files.kinds import viewer_for

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx(body: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(
            "word/document.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}"><w:body>'
            f"{body}</w:body></w:document>",
        )
    return out.getvalue()


def test_docx_paragraphs_become_plain_text() -> None:
    body = (
        "<w:p><w:r><w:t>Dế Mèn </w:t></w:r><w:r><w:t>phiêu lưu ký</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>&lt;script&gt;</w:t></w:r></w:p>"
    )
    assert docx_text(docx(body)) == "Dế Mèn phiêu lưu ký\n<script>"


def test_a_broken_or_hostile_docx_gives_no_text() -> None:
    assert docx_text(b"not a zip") == ""
    assert docx_text(docx("<w:p><w:t>unclosed")) == ""
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">'
        "]><x>&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;</x>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", bomb)
    # Expat refuses the entity expansion; the viewer shows nothing rather than hang.
    assert docx_text(out.getvalue()) == ""


def test_viewers_by_type() -> None:
    assert viewer_for("image/png") == "image"
    assert viewer_for("application/pdf") == "pdf"
    assert viewer_for("audio/mpeg") == "audio"
    assert viewer_for("video/mp4; codecs=avc1") == "video"
    assert viewer_for("image/svg+xml") == "download"
