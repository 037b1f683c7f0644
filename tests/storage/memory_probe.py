"""Stream a large generated object into a storage and report peak memory growth as JSON.

Run in its own process so the figure covers the upload alone: the baseline is the current RSS
after imports and a small warm-up upload, the result is the peak RSS (VmHWM) afterwards.
ru_maxrss is not used: Linux carries it over from the parent across fork and exec, so a child
of a big pytest process would report the parent's peak.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

from storage import LocalStorage, S3Storage, Storage

# An odd chunk size so chunk and part boundaries never line up.
CHUNK_SIZE = 64 * 1024 + 7


async def _generated(total: int, digest: hashlib._Hash) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        chunk = os.urandom(min(CHUNK_SIZE, total - sent))
        digest.update(chunk)
        sent += len(chunk)
        yield chunk


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _reset_peak() -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+); if refused,
    # the peak since start is kept, which only makes the figure more pessimistic.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


async def _run(storage: Storage, key: str, total: int) -> dict[str, object]:
    await storage.put_stream("warm-up/probe", _one_chunk(b"w" * 4096))
    await storage.delete("warm-up/probe")
    gc.collect()
    baseline = _status_kib("VmRSS") * 1024
    _reset_peak()
    expected = hashlib.sha256()
    stored = await storage.put_stream(key, _generated(total, expected), max_size=total)
    peak = _status_kib("VmHWM") * 1024
    await storage.aclose()
    return {
        "baseline": baseline,
        "peak": peak,
        "peak_growth": peak - baseline,
        "size": stored.size,
        "sha256": stored.sha256,
        "expected_sha256": expected.hexdigest(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["local", "s3"], required=True)
    parser.add_argument("--root")
    parser.add_argument("--bucket")
    parser.add_argument("--endpoint-url")
    parser.add_argument("--key", required=True)
    parser.add_argument("--size", type=int, required=True)
    args = parser.parse_args()
    storage: Storage
    if args.backend == "local":
        storage = LocalStorage(Path(args.root), secret_key="probe", base_url="http://probe")
    else:
        storage = S3Storage(args.bucket, endpoint_url=args.endpoint_url)
    print(json.dumps(asyncio.run(_run(storage, args.key, args.size))))


if __name__ == "__main__":
    main()
