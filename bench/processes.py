"""The servers a benchmark starts (moto, `contest serve`, a bare app): a port, waiting until one
answers, stopping it; moto with a database of the benchmark's own."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until url answers below 500 (a server still starting may answer 503 to /healthz)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args} exited early")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Terminate, and kill what does not end within timeout seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def s3_env() -> dict[str, str]:
    """This process's environment with the credentials moto's server takes (any will do),
    also set here, for the benchmark's own boto3 clients."""
    credentials = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    os.environ.update(credentials)
    return {
        **os.environ,
        **credentials,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def start_moto(folder: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """moto's S3 server on a free loopback port, logging into ``folder``, once it answers:
    the process and its endpoint."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = Path(folder, "moto.log").open("wb")  # noqa: SIM115  (closed with the folder)
    moto = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(endpoint, moto, timeout=90)
    except BaseException:
        stop(moto)
        raise
    return moto, endpoint


@dataclass
class S3Run:
    """What a benchmark on PostgreSQL and moto's S3 runs against."""

    env: dict[str, str]  # for the processes it starts, with moto's credentials
    folder: str  # a temporary folder, removed afterwards
    database_url: str
    endpoint: str  # moto's
    processes: list[subprocess.Popen[bytes]]  # stopped at the end, the last started first


@contextlib.contextmanager
def s3_and_database(server_url: str, prefix: str) -> Iterator[S3Run]:
    """moto's S3 server, logging into a temporary folder, and a database of its own on the
    PostgreSQL server at ``server_url`` (named ``prefix`` and a random suffix), dropped after;
    the processes the benchmark adds to ``processes`` are stopped with moto's."""
    from bench.databases import own_database

    env = s3_env()
    processes: list[subprocess.Popen[bytes]] = []
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp, own_database(server_url, name) as database_url:
        try:
            moto, endpoint = start_moto(Path(tmp), env)
            processes.append(moto)
            yield S3Run(env, tmp, database_url, endpoint, processes)
        finally:
            for process in reversed(processes):
                stop(process, timeout=15)
