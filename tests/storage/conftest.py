"""Fixtures for the storage contract suite.

`aws_env` and `s3_endpoint` are self-contained (a moto server in its own process) so they can
move to tests/conftest.py once other suites need S3. `local_http` is a real uvicorn server
serving LocalStorage.asgi_app() under /files, like the main app mounts it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from storage import FILES_MOUNT_PATH, LocalStorage, S3Storage, Storage

AWS_REGION = "us-east-1"
_AWS_DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": AWS_REGION,
    # Never let a missing credential send boto3 off probing an instance metadata service.
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Real settings from a developer's shell must not leak into the tests.
_AWS_CLEARED_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
MOTO_START_TIMEOUT = 20.0
SERVER_START_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def aws_env() -> Iterator[None]:
    """Dummy AWS credentials for the whole session; the previous environment is restored."""
    names = (*_AWS_DUMMY_ENV, *_AWS_CLEARED_ENV)
    saved = {name: os.environ.get(name) for name in names}
    for name in _AWS_CLEARED_ENV:
        os.environ.pop(name, None)
    os.environ.update(_AWS_DUMMY_ENV)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"moto_server exited early:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"moto_server did not answer within {MOTO_START_TIMEOUT}s")


@pytest.fixture(scope="session")
def s3_endpoint(aws_env: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a moto S3 server running in a separate process for the whole session."""
    executable = Path(sys.executable).parent / "moto_server"
    if not executable.exists():
        pytest.fail(f"{executable} not found: install the test extras (moto[server])")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_answering(endpoint, process, log)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> Iterator[Any]:
    """A plain boto3 client, to arrange buckets and look behind the storage's back."""
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=AWS_REGION)
    yield client
    client.close()


class _Switch:
    """The session server's ASGI app: forwards to whatever the current test installed."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no storage app installed for this request"
        await self.app(scope, receive, send)


class LocalHttp:
    def __init__(self, base_url: str, switch: _Switch) -> None:
        self.base_url = base_url
        self._switch = switch

    def serve(self, storage: LocalStorage) -> None:
        # Mounted exactly as the main app is meant to mount it.
        self._switch.app = Starlette(routes=[Mount(FILES_MOUNT_PATH, app=storage.asgi_app())])


@pytest.fixture(scope="session")
def local_http() -> Iterator[LocalHttp]:
    """A real uvicorn HTTP server in a background thread for the whole session."""
    switch = _Switch()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        switch, lifespan="off", log_level="warning", access_log=False, loop="asyncio", http="h11"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            pytest.fail("the local files test server did not start")
        time.sleep(0.02)
    try:
        yield LocalHttp(f"http://127.0.0.1:{port}", switch)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _empty_bucket(client: Any, bucket: str) -> None:
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


@pytest.fixture
def s3_bucket(s3_client: Any) -> Iterator[str]:
    """A fresh, empty bucket for one test; emptied and removed afterwards (moto keeps RAM)."""
    bucket = f"test-{uuid.uuid4().hex[:24]}"
    s3_client.create_bucket(Bucket=bucket)
    yield bucket
    _empty_bucket(s3_client, bucket)


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """The storage under contract test: each test runs once per backend."""
    backend: Storage
    if request.param == "local":
        server: LocalHttp = request.getfixturevalue("local_http")
        root = tmp_path / "uploads"
        root.mkdir()
        local = LocalStorage(root, secret_key="test", base_url=server.base_url)
        server.serve(local)
        backend = local
    else:
        endpoint: str = request.getfixturevalue("s3_endpoint")
        bucket: str = request.getfixturevalue("s3_bucket")
        backend = S3Storage(bucket, endpoint_url=endpoint, region=AWS_REGION)
    yield backend
    await backend.aclose()


@pytest.fixture
def leftovers(storage: Storage, request: pytest.FixtureRequest) -> Callable[[], list[str]]:
    """Lists what a failed upload could leave behind: temp files, or open multipart uploads."""
    if isinstance(storage, LocalStorage):
        tmp_dir = storage.root / ".tmp"
        return lambda: sorted(p.name for p in tmp_dir.iterdir()) if tmp_dir.exists() else []
    assert isinstance(storage, S3Storage)
    client = request.getfixturevalue("s3_client")

    def open_uploads() -> list[str]:
        uploads = client.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", [])
        return [upload["Key"] for upload in uploads]

    return open_uploads


@pytest.fixture
def memory_probe_script() -> Path:
    """The helper script test 2 runs in a subprocess to measure memory honestly."""
    return Path(__file__).with_name("memory_probe.py")


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parents[2]
