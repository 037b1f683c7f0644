"""Reading a video's length as its bytes stream in: what it adds to an upload.

What it measures: a 200 MB MP4 whose index comes after the media (as a phone records it),
and a WebM, fed in 64 KiB chunks (what a request body arrives in) to the length reader
(``contest/files/duration.py``) that an upload runs beside its SHA-256; seconds per file and
the reader's largest buffer.
Baseline, same run, same chunks: the SHA-256 that every upload computes of the same bytes.

Goal: the reader costs under 5 % of the hashing, and keeps at most one chunk.

Run: .venv/bin/python bench/video_length.py [--size-mb 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Run as a script, this folder is on the path and the project root is not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contest.files.duration import DurationReader, IsoMediaDuration, MatroskaDuration
from tests.intake.files import video_mp4, video_webm

CHUNK = 64 * 1024


def best_of(rounds: int, run: Callable[..., object], *args: object) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def read(make: Callable[[], DurationReader], chunks: list[bytes], kept: list[int]) -> float | None:
    reader = make()
    for chunk in chunks:
        reader.feed(chunk)
        kept.append(len(reader._buffer))
    return reader.finish()


def digest(chunks: list[bytes]) -> str:
    hasher = hashlib.sha256()
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    media = args.size_mb * 1_000_000
    for name, data, make in (
        (
            "mp4, index last",
            video_mp4(431.5, moov_at_end=True, media_bytes=media),
            IsoMediaDuration,
        ),
        ("webm", video_webm(431.5, media_bytes=media), MatroskaDuration),
    ):
        chunks = [memoryview(data)[i : i + CHUNK].tobytes() for i in range(0, len(data), CHUNK)]
        kept: list[int] = []
        assert read(make, chunks, kept) == 431.5
        reading = best_of(args.rounds, read, make, chunks, kept)
        hashing = best_of(args.rounds, digest, chunks)
        print(
            f"{name}: {len(data) / 1e6:.0f} MB in {len(chunks)} chunks; length read in "
            f"{reading * 1000:.1f} ms, SHA-256 (baseline) {hashing * 1000:.1f} ms: "
            f"{reading / hashing:.1%} of the hashing; at most {max(kept)} bytes kept between chunks"
        )


if __name__ == "__main__":
    main()
