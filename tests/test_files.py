"""Signed links to files in the local folder are served by the app under /files."""

from __future__ import annotations

import dataclasses
import hashlib
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.models import Asset
from contest.settings import Settings
from storage import Storage
from tests.support import app_client


async def test_a_signed_link_serves_the_file_through_the_app(
    client: httpx.AsyncClient,
    demo: DemoReport,
    storage: Storage,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        asset = (
            await session.scalars(select(Asset).where(Asset.content_type == "image/png"))
        ).one()
    url = await storage.read_url(asset.storage_key, filename="tranh.png")
    parts = urlsplit(url)

    response = await client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == asset.sha256
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("attachment")

    unsigned = await client.get(parts.path)
    assert unsigned.status_code == 403


async def test_no_file_route_when_storage_is_s3(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    s3 = dataclasses.replace(
        settings, storage_url="s3://entries?endpoint_url=http://127.0.0.1:9&region=us-east-1"
    )
    async with app_client(s3) as c:
        response = await c.get("/files/entries/x/original.png?e=1&s=2")
    assert response.status_code == 404
    assert "Không tìm thấy trang" in response.text
