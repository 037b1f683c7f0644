"""Faults: the S3 endpoint stops mid-upload, the database fails at commit, the app process is
killed mid-upload, PostgreSQL restarts. Nothing half-written survives, and service resumes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import boto3
import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from contest.demo import DemoReport
from contest.intake.cli import sweep
from contest.models import Asset, Entry
from contest.settings import Settings
from storage import Storage
from tests.hardening.proxy import CuttableProxy
from tests.hardening.servers import entry_fields, png
from tests.s3server import AWS_REGION, running_moto
from tests.support import DRAWING

MIB = 1024 * 1024
BOUNDARY = "----hardening-boundary"


# --- an S3 endpoint of this test's own, behind a proxy it can cut -------------------------


@pytest.fixture(scope="module")
def own_moto(aws_env: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server only these tests use: cutting it disturbs nobody else's uploads."""
    with running_moto(tmp_path_factory.mktemp("own-moto") / "moto.log") as endpoint:
        yield endpoint


@pytest.fixture
def behind(own_moto: str) -> Iterator[tuple[CuttableProxy, Any, str]]:
    """(the proxy the app talks through, a client that talks to moto directly, the bucket)."""
    direct = boto3.client("s3", endpoint_url=own_moto, region_name=AWS_REGION)
    bucket = f"faults-{uuid.uuid4().hex[:16]}"
    direct.create_bucket(Bucket=bucket)
    port = int(own_moto.rsplit(":", 1)[1])
    with CuttableProxy(port) as proxy:
        yield proxy, direct, bucket
    direct.close()


@pytest.fixture
def settings(settings: Settings, behind: tuple[CuttableProxy, Any, str]) -> Settings:
    proxy, _direct, bucket = behind
    return dataclasses.replace(
        settings, storage_url=f"s3://{bucket}?endpoint_url={proxy.url}&region={AWS_REGION}"
    )


def _objects(direct: Any, bucket: str) -> set[str]:
    listed = direct.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"] for item in listed}


def _pending(direct: Any, bucket: str) -> list[str]:
    return [u["Key"] for u in direct.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


async def _counts(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessionmaker() as session:
        entries = await session.scalar(select(func.count()).select_from(Entry))
        assets = await session.scalar(select(func.count()).select_from(Asset))
    return int(entries or 0), int(assets or 0)


def _form_head(fields: dict[str, str]) -> bytes:
    out = b""
    for name, value in fields.items():
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    out += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        'filename="tranh.png"\r\nContent-Type: image/png\r\n\r\n'
    ).encode()
    return out


async def _body_cut_midway(proxy: CuttableProxy, total: int) -> AsyncIterator[bytes]:
    """A 20 MiB "PNG" sent in 256 KiB pieces; the S3 endpoint goes away once 10 MiB (more
    than one part) have left for it, while the rest is still arriving."""
    yield _form_head(entry_fields("Bị cắt giữa chừng"))
    yield png(1)[:64]
    sent = 64
    cut = False
    while sent < total:
        if not cut and proxy.bytes_up > 10 * MIB:
            proxy.cut()
            cut = True
        piece = os.urandom(min(256 * 1024, total - sent))
        sent += len(piece)
        yield piece
        await asyncio.sleep(0.005 if not cut else 0)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def _upload_cut_midway(client: httpx.AsyncClient, proxy: CuttableProxy) -> httpx.Response:
    # The drawing contest takes PNG files of up to 20 MB.
    response = await client.post(
        f"/api/v1/contests/{DRAWING}/entries",
        content=_body_cut_midway(proxy, 20 * MIB),
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        timeout=120,
    )
    assert proxy.bytes_up > 10 * MIB, "the endpoint was not cut mid-upload"
    return response


async def _upload_left_pending(client: httpx.AsyncClient, proxy: CuttableProxy) -> None:
    """An upload cut midway, so refused (503), then the endpoint back."""
    assert (await _upload_cut_midway(client, proxy)).status_code == 503
    proxy.restore()


async def test_s3_stopping_mid_upload_leaves_nothing_and_service_resumes(
    client: httpx.AsyncClient,
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    behind: tuple[CuttableProxy, Any, str],
) -> None:
    proxy, direct, bucket = behind
    before_objects = _objects(direct, bucket)
    before = await _counts(sessionmaker)

    response = await _upload_cut_midway(client, proxy)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["status"] == 503
    # Nothing half-written: no entry, no asset row, no object.
    assert await _counts(sessionmaker) == before
    assert _objects(direct, bucket) == before_objects

    proxy.restore()
    sent = await client.post(
        f"/api/v1/contests/{DRAWING}/entries",
        data=entry_fields("Sau khi S3 trở lại"),
        files={"file": ("tranh.png", png(2), "image/png")},
    )
    assert sent.status_code == 201, sent.text
    assert len(_objects(direct, bucket) - before_objects) >= 1
    assert (await _counts(sessionmaker))[0] == before[0] + 1


async def test_the_storage_aborts_multipart_uploads_left_pending(
    client: httpx.AsyncClient,
    demo: DemoReport,
    storage: Storage,
    behind: tuple[CuttableProxy, Any, str],
) -> None:
    proxy, direct, bucket = behind
    await _upload_left_pending(client, proxy)
    # The abort could not reach the endpoint when the upload failed: the parts stay there.
    assert len(_pending(direct, bucket)) == 1
    # (moto dates every multipart upload 2010-11-10, so the age cut-off is not tested here.)
    assert await storage.abort_incomplete_uploads(older_than=timedelta(0)) == 1
    assert _pending(direct, bucket) == []


# --- the database fails at commit ----------------------------------------------------------


@pytest.fixture
def failing_entry_commit() -> Iterator[list[int]]:
    """Every commit of a transaction that inserted an entry fails, as when the database goes
    away at that moment; the list counts the failures."""
    failures: list[int] = []

    def after_flush(session: Session, context: Any) -> None:
        if any(isinstance(obj, Entry) for obj in session.new):
            session.info["made_entry"] = True

    def before_commit(session: Session) -> None:
        if session.info.pop("made_entry", False):
            failures.append(1)
            raise OperationalError("COMMIT", {}, ConnectionResetError("database went away"))

    event.listen(Session, "after_flush", after_flush)
    event.listen(Session, "before_commit", before_commit)
    try:
        yield failures
    finally:
        event.remove(Session, "after_flush", after_flush)
        event.remove(Session, "before_commit", before_commit)


async def _attached_keys(sessionmaker: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessionmaker() as session:
        keys = await session.scalars(select(Asset.storage_key).where(Asset.entry_id.is_not(None)))
        return set(keys)


async def test_a_database_error_at_commit_leaves_no_object_after_the_sweep(
    client: httpx.AsyncClient,
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    behind: tuple[CuttableProxy, Any, str],
    failing_entry_commit: list[int],
) -> None:
    _proxy, direct, bucket = behind
    before = await _counts(sessionmaker)
    response = await client.post(
        f"/api/v1/contests/{DRAWING}/entries",
        data=entry_fields("Lỗi khi ghi"),
        files={"file": ("tranh.png", png(3), "image/png")},
    )
    assert failing_entry_commit, "the commit never failed"
    # A database that went away is a 503 to retry, with the API's error shape.
    assert response.status_code == 503, response.text
    assert response.json()["error"]["status"] == 503
    assert (await _counts(sessionmaker))[0] == before[0]
    # Removed at once, or at the latest by the sweep: every object left belongs to an entry.
    await sweep(sessionmaker=sessionmaker, storage=storage, grace=timedelta(0))
    assert _objects(direct, bucket) <= await _attached_keys(sessionmaker)


async def test_the_sweep_leaves_no_pending_multipart_upload(
    client: httpx.AsyncClient,
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    behind: tuple[CuttableProxy, Any, str],
) -> None:
    proxy, direct, bucket = behind
    await _upload_left_pending(client, proxy)
    await sweep(sessionmaker=sessionmaker, storage=storage, grace=timedelta(0))
    assert _pending(direct, bucket) == []
