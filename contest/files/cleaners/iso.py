"""MP4, M4A, MOV (ISO base media): tag, place and XMP boxes become zeroed padding."""

from __future__ import annotations

import struct
from typing import IO

from contest.files.cleaners.stream import KEEP, ZERO, StreamCleaner, clean_file
from contest.files.limits import MAX_BOX_DEPTH

# ISO base media (MP4, M4A, MOV): boxes that hold tags, places and XMP, and the boxes that
# contain them.
_BMFF_TAGS = frozenset({b"udta", b"meta", b"uuid"})
_BMFF_CONTAINERS = frozenset({b"moov", b"trak"})


class IsoMediaCleaner(StreamCleaner):
    """MP4, M4A, MOV: tag, place and XMP boxes at the top level, in the index ('moov') and in
    its tracks become zeroed padding ('free'); everything else passes as it is. A box that
    does not fit in its parent ends the cleaning of that parent (the rest of it is kept), and
    boxes nested deeper than MAX_BOX_DEPTH are kept as they are."""

    def _begin(self) -> None:
        self._parents: list[int] = []  # ends of the boxes being looked into, innermost last
        self._box_at = 0
        self._next_box()

    def _next_box(self) -> None:
        while self._parents and self._at >= self._parents[-1]:
            self._parents.pop()
        self._box_at = self._at
        if self._parents and self._parents[-1] - self._at < 8:
            self._run(KEEP, self._parents[-1])
        else:
            self._expect_header(8)

    def _run_ended(self) -> None:
        self._next_box()

    def _on_header(self, header: bytes) -> bytes | None:
        at = self._box_at
        end = self._parents[-1] if self._parents else None
        size, kind = struct.unpack_from(">I4s", header)
        if size == 1:
            if len(header) < 16:
                if end is not None and end - at < 16:
                    self._run(KEEP, end)
                    return header
                self._read_more(header, 16)
                return None
            (size,) = struct.unpack_from(">Q", header, 8)
        if size == 0:  # to the end of the file, or of the parent
            if end is None:
                self._run(KEEP, None)
                return header
            size = end - at
        if size < len(header) or (end is not None and at + size > end):
            # Not a box: the rest of the parent (or of the file) is kept as it is.
            self._run(KEEP, end)
            return header
        if kind in _BMFF_TAGS:
            self.changed = True
            self._run(ZERO, at + size)
            return header[:4] + b"free" + header[8:]
        container = kind == b"moov" or (end is not None and kind in _BMFF_CONTAINERS)
        if container and len(self._parents) < MAX_BOX_DEPTH:
            self._parents.append(at + size)
            self._next_box()
            return header
        self._run(KEEP, at + size)
        return header


def scrub_iso_media(source: IO[bytes], target: IO[bytes]) -> bool:
    """MP4, M4A, MOV (see IsoMediaCleaner)."""
    return clean_file(IsoMediaCleaner(), source, target)
