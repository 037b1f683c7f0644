"""The servers a benchmark starts (moto, `contest serve`, a bare app): a port, waiting until one
answers, stopping it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
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
