"""An entry's files as a judge is shown them: each with its viewer and a short-lived link that
names nobody. Used by the judges' pages and by the re-marking judge's page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from contest.files.documents import docx_text
from contest.files.kinds import viewer_for
from contest.files.limits import MAX_DOCX_BYTES
from contest.files.links import judge_link
from contest.models import Asset, AssetRole, FileState

# What a judge's page shows of a file that its processing job has not finished: a note, and
# no link to it.
PREPARING = "preparing"


def original_assets(assets: Sequence[Asset]) -> list[Asset]:
    return [a for a in assets if a.role == AssetRole.ORIGINAL]


async def entry_files(request: Request, assets: Sequence[Asset]) -> list[dict[str, Any]]:
    """Each original file with its viewer and a short-lived link that names nobody.

    A drawing is shown as its preview: upright, and re-encoded without the photo's metadata
    (a camera's owner, a GPS position) that could name the child or break blind judging. A
    file is shown only once processed (scrubbed, its preview made): until then it is only
    said to be being prepared, with no link to it."""
    storage = request.state.storage
    previews = {
        a.source_id: a for a in assets if a.role == AssetRole.PREVIEW and a.source_id is not None
    }
    files: list[dict[str, Any]] = []
    for original in original_assets(assets):
        if original.state != FileState.READY:
            files.append({"viewer": PREPARING, "size": original.size, "text": None, "url": None})
            continue
        asset = previews.get(original.id, original)
        viewer = viewer_for(asset.content_type)
        item: dict[str, Any] = {"viewer": viewer, "size": original.size, "text": None}
        if viewer == "docx" and asset.size <= MAX_DOCX_BYTES:
            chunks = [chunk async for chunk in await storage.get_stream(asset.storage_key)]
            item["text"] = docx_text(b"".join(chunks))
        # Shown in the page (a text file in a frame, as its sniffed UTF-8), else a download.
        item["url"] = await judge_link(
            storage, asset.storage_key, content_type=asset.content_type, viewer=viewer
        )
        files.append(item)
    return files
