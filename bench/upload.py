"""A 200 MB storytelling video through the app into S3, against boto3 uploading the same file.

What it measures: the app (``contest serve``, one worker) receives a multipart submission with
the file sent from disk, sniffs it, and streams it into S3 (moto's standalone server on
loopback) as a multipart upload. The app process's peak resident memory is read from the kernel
(VmHWM, reset before each upload).
Baseline, same run, same endpoint, same file: ``boto3``'s ``upload_file`` (its default
transfer settings: 8 MiB parts, up to 10 threads, a CRC32 per part, and over plain HTTP a
SHA-256 of each part for its signature).

The client stands in for a phone on another machine, so it sends the file with sendfile()
and costs the cores as little as it can. Each round times both paths in two layouts of the
processes on the machine's cores:

- "S3 apart": moto on a core of its own; the app, its client and boto3 on the others. S3 is
  another machine in any deployment, and here both paths meet the same S3. The throughput
  goal is read in this layout.
- "shared": every process on every core. On 2 cores the app's work (receiving the body,
  hashing it, sending it on) takes CPU from moto, which boto3's path, with no second hop,
  does not; this figure shows that cost.

In each layout the order of the two paths alternates from round to round; the figures are the
best round of each (the median of the rounds' own ratios is printed beside them). Each
uploaded copy is deleted before the next upload. The CPU seconds each process spent are
printed too.

Goals: throughput ratio app / boto3 >= 0.9; the app's peak memory growth <= 16 MB (decimal
megabytes, the stricter reading: 15.3 MiB).

Run: .venv/bin/python bench/upload.py [--size-mb 200] [--rounds 7]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psutil

# Run as a script, this folder is on the path and the project root is not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.processes import free_port, stop, wait_for

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONTEST = "ke-chuyen-sach"
MIB = 1024 * 1024
THROUGHPUT_GOAL = 0.9
MEMORY_GOAL_BYTES = 16_000_000


def make_video(path: Path, size: int) -> None:
    """An MP4 header, then bytes that do not compress."""
    block = os.urandom(MIB)
    with path.open("wb") as out:
        out.write(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41")
        written = 24
        while written < size:
            piece = block[: min(MIB, size - written)]
            out.write(piece)
            written += len(piece)


def multipart_parts(path: Path, boundary: str, fields: dict[str, str]) -> tuple[bytes, bytes]:
    """The bytes of the form before the file's bytes, and after them."""
    disposition = "Content-Disposition: form-data; name="
    head = (
        b"".join(
            f'--{boundary}\r\n{disposition}"{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        )
        + (
            f'--{boundary}\r\n{disposition}"file"; filename="{path.name}"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
    )
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head, tail


def reset_peak_memory(pid: int) -> int:
    """Reset the kernel's record of the process's peak resident memory; its resident bytes now."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return status_bytes(pid, "VmRSS")


def status_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"no {field} for process {pid}")


@dataclass
class Results:
    """One layout's figures: seconds per upload on each path, the app's memory growths."""

    boto: list[float] = field(default_factory=list)
    app: list[float] = field(default_factory=list)
    growths: list[float] = field(default_factory=list)
    resident: int = 0


LAYOUT_NOTES = {
    "S3 apart": "moto on a core of its own, the app, the client and boto3 on the others",
    "shared": "every process on every core",
}


def pin(pids: list[int], cpus: set[int]) -> None:
    """Keep every thread of these processes (and the threads they start) on these CPUs."""
    for pid in pids:
        for thread in psutil.Process(pid).threads():
            with contextlib.suppress(ProcessLookupError):  # a thread that just ended
                os.sched_setaffinity(thread.id, cpus)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def drop_large_objects(s3: Any, bucket: str, size: int) -> None:
    """Delete the uploaded videos, outside the timing. moto keeps every object in a temporary
    file; left to pile up, their write-back slows whichever upload comes next."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if item["Size"] >= size:
                s3.delete_object(Bucket=bucket, Key=item["Key"])


def submit(base_url: str, path: Path) -> tuple[float, int, dict[str, object]]:
    """POST the submission, the file's bytes going from disk to the socket by sendfile()."""
    boundary = "bench" + uuid.uuid4().hex
    fields = {
        "full_name": "Lê Thị Mai",
        "age": "45",
        "unit": "tdp-1",
        "consent": "full_name",
        "agreement": "yes",
        "title": "Hoàng tử bé và bông hồng",
        "book": "other",
        "book_title": "Hoàng tử bé",
    }
    head, tail = multipart_parts(path, boundary, fields)
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    started = time.perf_counter()
    connection.putrequest("POST", f"/api/v1/contests/{CONTEST}/entries")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(head) + path.stat().st_size + len(tail)))
    connection.putheader("Idempotency-Key", uuid.uuid4().hex)
    connection.endheaders(head)
    assert connection.sock is not None
    with path.open("rb") as source:
        connection.sock.sendfile(source)
    connection.send(tail)
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed, response.status, json.loads(body) if response.status == 201 else {"error": body}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    size = args.size_mb * 1000 * 1000
    if size > 200 * MIB:
        raise SystemExit("the storytelling contest takes at most 200 MiB")

    work = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    moto_port, app_port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{moto_port}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        moto = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(moto)
        wait_for(endpoint, moto)
        s3 = boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench").client(
            "s3", endpoint_url=endpoint, region_name="us-east-1"
        )
        bucket = "bench-" + uuid.uuid4().hex[:12]
        s3.create_bucket(Bucket=bucket)

        video = work / "ke-chuyen.mp4"
        make_video(video, size)
        os.sync()  # its write-back would otherwise fall in the first round
        print(f"file: {size / 1e6:.0f} MB, S3: moto on {endpoint}")

        app_env = {
            **env,
            "CONTEST_DATA_DIR": str(work / "data"),
            "CONTEST_STORAGE_URL": f"s3://{bucket}?endpoint_url={endpoint}&region=us-east-1",
            "CONTEST_BASE_URL": f"http://127.0.0.1:{app_port}",
        }
        subprocess.run(
            [str(BIN / "contest"), "demo"], env=app_env, check=True, capture_output=True, cwd=ROOT
        )
        app = subprocess.Popen(
            [str(BIN / "contest"), "serve", "--port", str(app_port)],
            env=app_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        processes.append(app)
        base_url = f"http://127.0.0.1:{app_port}"
        wait_for(f"{base_url}/healthz", app)

        # Warm up both paths (imports, connection pools) with a small file.
        small = work / "small.mp4"
        make_video(small, 2 * MIB)
        _warm_time, status, answer = submit(base_url, small)
        assert status == 201, answer
        s3.upload_file(str(small), bucket, "bench/warm.mp4")

        app_process, moto_process, bench_process = (
            psutil.Process(pid) for pid in (app.pid, moto.pid, os.getpid())
        )
        cpus = sorted(os.sched_getaffinity(0))
        layouts = {"shared": (set(cpus), set(cpus))}
        if len(cpus) >= 2:
            layouts = {"S3 apart": ({cpus[0]}, set(cpus[1:])), **layouts}
        results = {name: Results() for name in layouts}

        def run_boto3(found: Results) -> None:
            before = cpu_seconds(moto_process), cpu_seconds(bench_process)
            started = time.perf_counter()
            s3.upload_file(str(video), bucket, f"bench/{uuid.uuid4().hex}.mp4")
            found.boto.append(time.perf_counter() - started)
            moto_cpu = cpu_seconds(moto_process) - before[0]
            boto_cpu = cpu_seconds(bench_process) - before[1]
            drop_large_objects(s3, bucket, size)
            print(
                f"  boto3 {found.boto[-1]:5.2f} s"
                f"  (CPU s: moto {moto_cpu:.2f}, boto3 {boto_cpu:.2f})"
            )

        def run_app(found: Results) -> None:
            assert not app_process.children(), "the app is measured as one process"
            found.resident = reset_peak_memory(app.pid)
            before = (
                cpu_seconds(moto_process),
                cpu_seconds(app_process),
                cpu_seconds(bench_process),
            )
            elapsed, status, answer = submit(base_url, video)
            moto_cpu = cpu_seconds(moto_process) - before[0]
            app_cpu = cpu_seconds(app_process) - before[1]
            client_cpu = cpu_seconds(bench_process) - before[2]
            assert status == 201, answer
            entry = answer["entry"]
            assert isinstance(entry, dict)
            stored = entry["files"][0]
            assert stored["size"] == size, stored
            found.app.append(elapsed)
            found.growths.append((status_bytes(app.pid, "VmHWM") - found.resident) / MIB)
            drop_large_objects(s3, bucket, size)
            print(
                f"  app   {elapsed:5.2f} s  (CPU s: moto {moto_cpu:.2f}, app {app_cpu:.2f},"
                f" client {client_cpu:.2f}; memory growth {found.growths[-1]:.1f} MiB)"
            )

        # Each round runs both paths in each layout; which path goes first alternates, so
        # neither always follows the other's clean-up.
        for round_number in range(args.rounds):
            for name, (s3_cpus, client_cpus) in layouts.items():
                pin([moto.pid], s3_cpus)
                pin([app.pid, os.getpid()], client_cpus)
                print(f" {name}")
                order = (run_boto3, run_app) if round_number % 2 == 0 else (run_app, run_boto3)
                for run in order:
                    run(results[name])

        for name, found in results.items():
            boto_time, app_time = min(found.boto), min(found.app)
            boto_rate, app_rate = size / boto_time / 1e6, size / app_time / 1e6
            paired = statistics.median(b / a for b, a in zip(found.boto, found.app, strict=True))
            print(f"{name}: {LAYOUT_NOTES[name]}")
            print(f"  baseline  boto3 upload_file: {boto_time:6.2f} s  {boto_rate:7.1f} MB/s")
            print(f"  app       multipart -> S3:   {app_time:6.2f} s  {app_rate:7.1f} MB/s")
            print(
                f"  throughput ratio app/boto3: {app_rate / boto_rate:.2f}"
                f"  (median of the rounds' own ratios: {paired:.2f})"
            )
        if "S3 apart" in results:
            print(f"goal: throughput ratio >= {THROUGHPUT_GOAL} with S3 apart")
        else:
            print("one CPU only: S3 cannot be kept apart, the goal is not measured")
        growth = max(max(found.growths) for found in results.values())
        resident = max(found.resident for found in results.values())
        print(
            f"app peak memory growth: {growth:.1f} MiB ({growth * MIB / 1e6:.1f} MB)"
            f" over {resident / MIB:.0f} MiB resident"
            f"  (goal <= {MEMORY_GOAL_BYTES / 1e6:.0f} MB)"
        )
        return 0
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
