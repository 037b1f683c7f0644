"""Many small uploads at once: 1,000 drawings from 100 concurrent clients through
``contest serve --workers 2 --no-worker`` on PostgreSQL and S3 (moto's server), loopback
only, with the national layout's queue: Redis, and a ``contest worker`` process processing
each entry's files (preview, thumbnail) in the background while the uploads go on.

What it measures: each client posts an entry (fields plus a unique ~13 KB PNG) to the API with
an ``Idempotency-Key`` and retries a failed transport with the same key. The clients stand in
for phones on other machines, so they cost the cores as little as they can: each form is
encoded once before the timing and sent on a keep-alive connection as prepared bytes (an
HTTP client library's own encoding took ~18 ms of CPU a request here, more than the app's
work, on the same two cores). Printed: throughput,
p50/p99 latency, answers by status. Afterwards every accepted entry is checked: its row exists
once (duplicated = more than one entry for a key), its object exists in the bucket and its
SHA-256 matches both the row and the bytes sent (lost = accepted but missing or different).
Also printed: the CPU seconds the app's processes (the serving process and its uvicorn
workers, read from /proc) used while the uploads went on, per upload: a figure that other
work on the machine changes much less than the throughput. Then it waits until the queue
has drained (every entry's processing job ended) and checks that every accepted entry was
processed once: ready, one preview and one thumbnail row, their objects in the bucket.
Printed: the drain time after the last upload was answered.

Baseline, same run, same machine, same moto endpoint: the same 1,000 PNGs put straight into
the bucket by boto3 from 100 threads (no app, no database). The ratio app / baseline says what
the app's work (parsing, sniffing, the image preview, the database) costs. With --floor, also
the same uploads to bench/bare_upload.py under the same uvicorn workers: a route that only
parses the form and puts the file with boto3 (no database, no checks, no queue), the most any
app on this stack and this machine can reach; printed beside the baseline and the app.

Bounded: --uploads (default 1,000), --clients (100), --time-limit seconds (600; clients stop
sending when it passes; the drain waits as long again at most). Needs a PostgreSQL server where
the user may create a database (--server-url, default
postgresql://postgres@127.0.0.1:5432/postgres; it makes one of its own and drops it afterwards)
and Redis (--queue-url, default redis://127.0.0.1:6379/0; the queue is named after the
database, so nothing else's jobs are taken). --worker-threads (default 2): jobs the worker
runs at once. --worker-after: start the worker only once every upload was answered, as when
workers run on other hosts and the app's cores only answer requests (the drain then starts
with the whole queue).

Run: .venv/bin/python bench/load_uploads.py [--uploads 1000] [--clients 100] [--floor]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import boto3
from PIL import Image

# Run as a script, this folder is on the path and the project root is not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import connected
from bench.processes import free_port, s3_and_database, wait_for

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONTEST = "ve-tranh-theo-sach"
FIELDS = {
    "full_name": "Nguyễn Thị Mai",
    "age": "10",
    "unit": "th-bach-sam-5a",
    "guardian_name": "Nguyễn Văn Hùng",
    "guardian_phone": "0912345678",
    "consent": "initials",
    "child_consent": "yes",
    "agreement": "yes",
    "book": "other",
    "book_title": "Dế Mèn phiêu lưu ký",
    "book_author": "Tô Hoài",
}
MAX_ATTEMPTS = 3


def make_pngs(count: int) -> list[bytes]:
    """Unique PNGs of ~13 KB (64 × 64 noise), as a phone photo of a drawing is, only smaller."""
    rng = random.Random(7)
    pngs = []
    for _ in range(count):
        image = Image.frombytes("RGB", (64, 64), rng.randbytes(64 * 64 * 3))
        out = io.BytesIO()
        image.save(out, "PNG")
        pngs.append(out.getvalue())
    return pngs


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def multipart_body(index: int, png: bytes) -> tuple[bytes, str]:
    """One entry's form, encoded once before the timing: the fields, then the file."""
    boundary = f"load-{index}-{uuid.uuid4().hex}"
    parts = []
    for name, value in {**FIELDS, "title": f"Tranh số {index}"}.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file";'
        f' filename="tranh-{index}.png"\r\nContent-Type: image/png\r\n\r\n'.encode()
        + png
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Connection:
    """One client's keep-alive HTTP/1.1 connection, as little work as a client can do: the
    request is written as prepared bytes and the answer read by its Content-Length. The
    clients stand in for phones on other machines, so they should cost the cores little."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                f"Content-Length: {len(body)}"]  # fmt: skip
        head += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        try:
            return await asyncio.wait_for(self._answer(), self.timeout)
        except BaseException:
            self.close()
            raise

    async def _answer(self) -> tuple[int, bytes]:
        assert self.reader is not None
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed by the server")
        status = int(status_line.split()[1])
        length, closing = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                closing = True
        content = await self.reader.readexactly(length)
        if closing:
            self.close()
        return status, content

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def load(
    base_url: str,
    bodies: list[tuple[bytes, str]],
    keys: list[str],
    clients: int,
    time_limit: float,
) -> tuple[dict[str, tuple[int, str]], list[float], Counter[str], float]:
    """Post every prepared form once (retrying transport failures with the same key); the
    answers by key (status, receipt code), latencies, outcome counts and the elapsed time."""
    answers: dict[str, tuple[int, str]] = {}
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(bodies)):
        queue.put_nowait(index)
    deadline = time.monotonic() + time_limit
    address = urlsplit(base_url)
    assert address.hostname is not None and address.port is not None
    path = f"/api/v1/contests/{CONTEST}/entries"

    async def worker() -> None:
        connection = Connection(address.hostname, address.port, timeout=120)
        while not queue.empty() and time.monotonic() < deadline:
            index = queue.get_nowait()
            body, content_type = bodies[index]
            headers = {"Idempotency-Key": keys[index], "Content-Type": content_type}
            for attempt in range(MAX_ATTEMPTS):
                started = time.perf_counter()
                try:
                    status, content = await connection.post(path, headers, body)
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    outcomes[f"transport error ({type(exc).__name__})"] += 1
                    if attempt + 1 == MAX_ATTEMPTS:
                        answers[keys[index]] = (0, "")
                    continue
                latencies.append(time.perf_counter() - started)
                outcomes[str(status)] += 1
                code = json.loads(content)["entry"]["receipt_code"] if status in (200, 201) else ""
                answers[keys[index]] = (status, code)
                if status < 500:
                    break
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return answers, latencies, outcomes, time.perf_counter() - started


async def stored_entries(database_url: str, keys: list[str]) -> list[asyncpg.Record]:
    async with connected(database_url) as connection:
        return await connection.fetch(
            """
            SELECT e.idempotency_key, e.receipt_code, a.storage_key, a.sha256
            FROM entries e
            LEFT JOIN assets a ON a.entry_id = e.id AND lower(a.role::text) = 'original'
            WHERE e.idempotency_key = ANY($1::text[])
            """,
            keys,
        )


async def processing_backlog(database_url: str, keys: list[str]) -> int:
    async with connected(database_url) as connection:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM entries"
            " WHERE idempotency_key = ANY($1::text[]) AND files_state = 'processing'",
            keys,
        )
        return count


async def wait_for_drain(database_url: str, keys: list[str], limit: float) -> float | None:
    """Seconds until no processing job is queued or running and no entry of ``keys`` is still
    processing; None when it did not happen within ``limit`` seconds."""
    async with connected(database_url) as connection:
        started = time.perf_counter()
        while time.perf_counter() - started < limit:
            busy = await connection.fetchval(
                """
                SELECT (SELECT count(*) FROM jobs
                        WHERE kind = 'process_entry' AND status IN ('queued', 'running'))
                     + (SELECT count(*) FROM entries
                        WHERE idempotency_key = ANY($1::text[]) AND files_state = 'processing')
                """,
                keys,
            )
            if busy == 0:
                return time.perf_counter() - started
            await asyncio.sleep(0.2)
        return None


async def processed_entries(database_url: str, keys: list[str]) -> list[asyncpg.Record]:
    """Each entry of ``keys``: its files' state, its preview and thumbnail rows (keys), and
    how its processing job ended."""
    async with connected(database_url) as connection:
        return await connection.fetch(
            """
            SELECT e.idempotency_key, e.files_state, j.status AS job_status,
                   array_agg(a.storage_key) FILTER (WHERE a.role = 'preview') AS previews,
                   array_agg(a.storage_key) FILTER (WHERE a.role = 'thumbnail') AS thumbnails
            FROM entries e
            LEFT JOIN jobs j ON j.id = e.files_job_id
            LEFT JOIN assets a ON a.entry_id = e.id
            WHERE e.idempotency_key = ANY($1::text[])
            GROUP BY e.idempotency_key, e.files_state, j.status
            """,
            keys,
        )


def verify_processed(
    s3: Any, bucket: str, rows: list[asyncpg.Record], accepted: list[str]
) -> tuple[int, int, Counter[str]]:
    """How many accepted entries were processed exactly once (ready, one preview and one
    thumbnail, both objects stored), how many were not, and how their jobs ended."""
    by_key = {row["idempotency_key"]: row for row in rows}
    stored = {
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="entries/")
        for item in page.get("Contents", [])
    }
    good = 0
    jobs: Counter[str] = Counter()
    for key in accepted:
        row = by_key.get(key)
        if row is None:
            continue
        jobs[str(row["job_status"])] += 1
        previews, thumbnails = row["previews"] or [], row["thumbnails"] or []
        if (
            row["files_state"] == "ready"
            and len(previews) == len(thumbnails) == 1
            and previews[0] in stored
            and thumbnails[0] in stored
        ):
            good += 1
    return good, len(accepted) - good, jobs


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user and system) used so far by a process and all its descendants
    alive now (uvicorn's workers are children of the serving process), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue  # ended meanwhile
        # utime and stime are the 14th and 15th fields; fields here start at the 3rd.
        total += (int(fields[11]) + int(fields[12])) / ticks
        pending.extend(int(child) for child in children)
    return total


def baseline(s3: object, bucket: str, pngs: list[bytes], clients: int) -> float:
    def put(index: int) -> None:
        s3.put_object(  # type: ignore[attr-defined]
            Bucket=bucket, Key=f"baseline/{index}.png", Body=pngs[index], ContentType="image/png"
        )

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(put, range(len(pngs))))
    return time.perf_counter() - started


def bare_floor(
    run: Any,
    endpoint: str,
    bucket: str,
    pngs: list[bytes],
    clients: int,
    workers: int,
    time_limit: float,
) -> tuple[float, list[float], float]:
    """The same uploads to bench/bare_upload.py under the same uvicorn workers: uploads/s and
    latencies of an endpoint that only parses the form and puts the file, and its processes'
    CPU seconds per upload."""
    port = free_port()
    env = {**run.env, "BARE_UPLOAD_BUCKET": bucket, "BARE_UPLOAD_ENDPOINT": endpoint}
    log = Path(run.folder, "bare.log").open("wb")  # noqa: SIM115
    bare = subprocess.Popen(
        [str(BIN / "uvicorn"), "bench.bare_upload:app", "--port", str(port),
         "--workers", str(workers), "--log-level", "info"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    run.processes.append(bare)
    wait_for(f"http://127.0.0.1:{port}/healthz", bare, timeout=60)
    keys = [f"bare-{uuid.uuid4()}" for _ in pngs]
    bodies = [multipart_body(index, png) for index, png in enumerate(pngs)]
    cpu = process_tree_cpu(bare.pid)
    answers, latencies, _outcomes, elapsed = asyncio.run(
        load(f"http://127.0.0.1:{port}", bodies, keys, clients, time_limit)
    )
    cpu = process_tree_cpu(bare.pid) - cpu
    accepted = sum(1 for status, _code in answers.values() if status == 201)
    return accepted / elapsed, latencies, cpu / len(pngs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=600)
    parser.add_argument("--worker-threads", type=int, default=2)
    parser.add_argument("--worker-after", action="store_true")
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--queue-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if not 1 <= args.uploads <= 20_000 or not 1 <= args.clients <= 500:
        raise SystemExit("--uploads 1..20000, --clients 1..500")

    with s3_and_database(args.server_url, "bench_load") as run:
        env, tmp, database_url, processes = run.env, run.folder, run.database_url, run.processes
        endpoint = run.endpoint
        app_port = free_port()
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            config=boto3.session.Config(max_pool_connections=args.clients),
        )
        bucket = "load-uploads"
        s3.create_bucket(Bucket=bucket)
        app_env = {
            **env,
            "CONTEST_DATA_DIR": tmp,
            "CONTEST_DATABASE_URL": database_url,
            "CONTEST_STORAGE_URL": f"s3://{bucket}?endpoint_url={endpoint}&region=us-east-1",
            "CONTEST_SECRET_KEY": "bench",
            "CONTEST_QUEUE_URL": args.queue_url,
        }
        subprocess.run([str(BIN / "contest"), "demo"], env=app_env, check=True, capture_output=True)
        app_log = Path(tmp, "app.log").open("wb")  # noqa: SIM115
        serve = [
            "serve",
            "--port",
            str(app_port),
            "--workers",
            str(args.workers),
            "--no-worker",
        ]
        app = subprocess.Popen(
            [str(BIN / "contest"), *serve],
            env=app_env,
            stdout=app_log,
            stderr=subprocess.STDOUT,
        )
        processes.append(app)
        base_url = f"http://127.0.0.1:{app_port}"
        wait_for(f"{base_url}/healthz", app, timeout=90)
        worker_log = Path(tmp, "worker.log").open("wb")  # noqa: SIM115

        def start_worker() -> None:
            worker = subprocess.Popen(
                [str(BIN / "contest"), "worker", "--threads", str(args.worker_threads)],
                env=app_env,
                stdout=worker_log,
                stderr=subprocess.STDOUT,
            )
            processes.append(worker)

        if not args.worker_after:
            start_worker()

        pngs = make_pngs(args.uploads)
        bodies = [multipart_body(index, png) for index, png in enumerate(pngs)]
        keys = [f"load-{uuid.uuid4()}" for _ in pngs]
        sent_sha = {
            key: hashlib.sha256(data).hexdigest() for key, data in zip(keys, pngs, strict=True)
        }
        print(
            f"{args.uploads} uploads ({sum(map(len, pngs)) / 1e6:.1f} MB) from {args.clients}"
            f" clients; app: contest serve --workers {args.workers} --no-worker,"
            f" contest worker --threads {args.worker_threads}"
            + (" (started after the uploads)" if args.worker_after else "")
            + ", PostgreSQL, Redis, moto S3"
        )
        app_cpu = process_tree_cpu(app.pid)
        client_cpu = time.process_time()
        answers, latencies, outcomes, elapsed = asyncio.run(
            load(base_url, bodies, keys, args.clients, args.time_limit)
        )
        app_cpu = process_tree_cpu(app.pid) - app_cpu
        client_cpu = time.process_time() - client_cpu
        accepted = [k for k, (status, _code) in answers.items() if status in (200, 201)]
        backlog = asyncio.run(processing_backlog(database_url, accepted))
        if args.worker_after:
            start_worker()
        drain = asyncio.run(wait_for_drain(database_url, accepted, args.time_limit))
        floor = None
        if args.floor:
            floor = bare_floor(run, endpoint, bucket, pngs, args.clients, args.workers,
                               args.time_limit)  # fmt: skip
        base_elapsed = baseline(s3, bucket, pngs, args.clients)

        rows = asyncio.run(stored_entries(database_url, keys))
        by_key: dict[str, list[asyncpg.Record]] = {}
        for row in rows:
            by_key.setdefault(row["idempotency_key"], []).append(row)
        duplicated = sum(
            1 for found in by_key.values() if len({r["receipt_code"] for r in found}) > 1
        )
        lost = 0
        changed = 0
        for key in accepted:
            found = by_key.get(key, [])
            if len(found) != 1 or found[0]["receipt_code"] != answers[key][1]:
                lost += 1
                continue
            try:
                body = s3.get_object(Bucket=bucket, Key=found[0]["storage_key"])["Body"].read()
            except s3.exceptions.NoSuchKey:
                lost += 1
                continue
            digest = hashlib.sha256(body).hexdigest()
            if digest != found[0]["sha256"]:
                lost += 1
            elif digest != sent_sha[key]:
                changed += 1
        # Entries the database holds although the client never heard of them (a retry's
        # first attempt that went through): present, once, so not lost.
        unanswered = len(set(by_key) - set(accepted))

        rate = len(accepted) / elapsed
        base_rate = len(pngs) / base_elapsed
        print(f"answers: {dict(sorted(outcomes.items()))}")
        print(
            f"accepted {len(accepted)}/{len(pngs)} in {elapsed:.1f} s: {rate:.1f} uploads/s,"
            f" latency p50 {percentile(latencies, 0.5) * 1000:.0f} ms,"
            f" p99 {percentile(latencies, 0.99) * 1000:.0f} ms,"
            f" mean {statistics.fmean(latencies) * 1000:.0f} ms"
        )
        print(
            f"app CPU while uploading: {app_cpu:.1f} s, {app_cpu / len(pngs) * 1000:.1f} ms"
            " per upload (the serving process and its workers); the clients'"
            f" {client_cpu / len(pngs) * 1000:.1f} ms"
        )
        print(
            f"baseline (boto3 put_object straight to moto, {args.clients} threads):"
            f" {base_rate:.1f} uploads/s; ratio app / baseline {rate / base_rate:.2f}"
        )
        if floor is not None:
            floor_rate, floor_latencies, floor_cpu = floor
            print(
                f"floor (bench/bare_upload.py: the same form parsed, the file put by boto3, no"
                f" database, same uvicorn workers): {floor_rate:.1f} uploads/s, p99"
                f" {percentile(floor_latencies, 0.99) * 1000:.0f} ms,"
                f" {floor_cpu * 1000:.1f} ms of CPU per upload; ratio floor / baseline"
                f" {floor_rate / base_rate:.2f}, app / floor {rate / floor_rate:.2f}"
            )
        print(
            f"verified: lost {lost}, duplicated {duplicated}, stored bytes differ from sent"
            f" {changed}, entries made for unanswered requests {unanswered}"
        )
        processed, unprocessed, jobs = verify_processed(
            s3, bucket, asyncio.run(processed_entries(database_url, accepted)), accepted
        )
        print(
            f"processing: {backlog} of {len(accepted)} entries still waiting for their job"
            " when the last upload was answered; the queue drained "
            + (f"{drain:.1f} s after it" if drain is not None else "NOT within the limit")
            + f"; processed once (ready, one preview and one thumbnail, stored)"
            f" {processed}, not {unprocessed}; jobs {dict(sorted(jobs.items()))}"
        )
        complete = len(accepted) == len(pngs) and unprocessed == 0 and drain is not None
        return 0 if lost == 0 and duplicated == 0 and complete else 1


if __name__ == "__main__":
    sys.exit(main())
