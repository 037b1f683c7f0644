"""Fixtures for the storage contract suite.

The S3 fixtures (a moto server in its own process) come from tests/s3server.py, shared with
every suite. `local_http` is a real uvicorn server serving LocalStorage.asgi_app() under /files,
like the main app mounts it.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from storage import FILES_MOUNT_PATH, LocalStorage, S3Storage, Storage
from tests.s3server import AWS_REGION
from tests.support import upload_leftovers

SERVER_START_TIMEOUT = 10.0


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
    return functools.partial(upload_leftovers, storage, request)


@pytest.fixture
def memory_probe_script() -> Path:
    """The helper script test 2 runs in a subprocess to measure memory honestly."""
    return Path(__file__).with_name("memory_probe.py")


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parents[2]
