from __future__ import annotations

import dataclasses
import socket

import httpx
import pytest

from contest.settings import Settings
from tests.support import app_client


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def get_health(settings: Settings) -> httpx.Response:
    async with app_client(settings) as client:
        return await client.get("/healthz")


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Signing needs some credentials; the endpoint is what is unreachable.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")


async def test_healthy_when_database_and_storage_answer(settings: Settings) -> None:
    response = await get_health(settings)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "storage": "ok"}
    assert response.headers["cache-control"] == "no-store"


async def test_503_naming_storage_when_it_is_unreachable(settings: Settings) -> None:
    port = closed_port()
    broken = dataclasses.replace(
        settings, storage_url=f"s3://entries?endpoint_url=http://127.0.0.1:{port}&region=us-east-1"
    )
    response = await get_health(broken)
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["storage"].startswith("unavailable")


async def test_503_naming_the_database_when_it_is_unreachable(settings: Settings) -> None:
    broken = dataclasses.replace(
        settings, database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{closed_port()}/none"
    )
    response = await get_health(broken)
    body = response.json()
    assert response.status_code == 503
    assert body["database"].startswith("unavailable")
    assert body["storage"] == "ok"
