"""MP3: ID3 tags in front and at the end are left out."""

from __future__ import annotations

from typing import IO

from contest.files.cleaners.stream import copy_bytes


def scrub_mp3(source: IO[bytes], target: IO[bytes]) -> bool:
    """MP3: the ID3v2 tags in front and the ID3v1 (and extended) tag at the end are left out."""
    source.seek(0, 2)
    end = source.tell()
    start = 0
    while True:
        source.seek(start)
        head = source.read(10)
        if len(head) < 10 or head[:3] != b"ID3" or any(b & 0x80 for b in head[6:10]):
            break
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        start += 10 + size + (10 if head[5] & 0x10 else 0)
    stop = end
    if stop - start >= 128:
        source.seek(stop - 128)
        if source.read(3) == b"TAG":
            stop -= 128
            if stop - start >= 227:
                source.seek(stop - 227)
                if source.read(4) == b"TAG+":
                    stop -= 227
    start = min(start, end)
    source.seek(start)
    copy_bytes(source, target, stop - start)
    return start > 0 or stop < end
