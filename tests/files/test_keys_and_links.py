"""Storage keys follow one layout; links are made for each audience with its own lifetime."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from contest.files import keys, links
from contest.files.kinds import FILE_KINDS, PREVIEW_TYPE
from storage import LocalStorage


def test_an_upload_keeps_its_original_and_derived_files_in_one_folder() -> None:
    upload_id = keys.new_upload_id()
    original = keys.original_key(upload_id, FILE_KINDS["jpeg"])
    assert original == f"entries/{upload_id}/original.jpg"
    assert original.startswith(keys.original_key_prefix(upload_id))
    assert keys.derived_key(original, "preview") == f"entries/{upload_id}/preview.jpg"
    assert keys.upload_id_of(original) == upload_id
    assert keys.new_upload_id() != upload_id
    assert keys.new_logo_key().startswith("event/")
    assert keys.new_logo_key() != keys.new_logo_key()


async def test_links_name_what_they_show_and_last_as_long_as_their_page(tmp_path: Path) -> None:
    now = 1_000_000.0
    storage = LocalStorage(tmp_path, secret_key="k", base_url="http://x", clock=lambda: now)

    def query(url: str) -> dict[str, list[str]]:
        return parse_qs(urlsplit(url).query)

    judge = query(
        await links.judge_link(storage, "a/b.pdf", content_type="application/pdf", viewer="pdf")
    )
    assert judge["ct"] == ["application/pdf"] and "fn" not in judge
    assert int(judge["e"][0]) == now + links.JUDGE_LINK_SECONDS
    download = query(await links.judge_link(storage, "a/b.docx", content_type="x/y", viewer="docx"))
    assert "ct" not in download and "fn" not in download
    gallery = query(await links.gallery_link(storage, "a/p.jpg", content_type=PREVIEW_TYPE))
    assert int(gallery["e"][0]) == now + links.GALLERY_LINK_SECONDS
    logo = query(await links.logo_link(storage, "event/l.jpg", public=False))
    assert int(logo["e"][0]) == now + links.PAGE_LINK_SECONDS and logo["ct"] == [PREVIEW_TYPE]
    named = query(await links.download_link(storage, "a/b.pdf", filename="Bài dự thi.pdf"))
    assert named["fn"] == ["Bài dự thi.pdf"] and "ct" not in named
