"""Faults of whole processes: the app killed (SIGKILL) while a large upload streams in, and
PostgreSQL restarted under a running app."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from contest.db import create_engine, create_sessionmaker
from contest.models import Asset
from contest.settings import parse_database_url
from tests.hardening.servers import AppServer, app_env, entry_fields, process_database, run_cli
from tests.support import DRAWING, TEST_DATABASE_URL, run_apart, skip_or_fail

MIB = 1024 * 1024
BOUNDARY = "----killed-boundary"


def _attached_keys(database_url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_engine(parse_database_url(database_url))
        try:
            async with create_sessionmaker(engine)() as session:
                keys = await session.scalars(
                    select(Asset.storage_key).where(Asset.entry_id.is_not(None))
                )
                return set(keys)
        finally:
            await engine.dispose()

    return run_apart(read())


def _streaming_body(sent: list[int], total: int) -> Iterator[bytes]:
    head = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in entry_fields("Bị ngắt giữa chừng").items()
    )
    head += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="t.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    )
    yield head.encode() + b"\x89PNG\r\n\x1a\n"
    while sent[0] < total:
        piece = os.urandom(256 * 1024)
        sent[0] += len(piece)
        yield piece
        time.sleep(0.01)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_an_app_killed_mid_upload_leaves_no_orphan_after_the_sweep(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "s3":
        endpoint, bucket = (
            request.getfixturevalue("s3_endpoint"),
            request.getfixturevalue("s3_bucket"),
        )
        direct = request.getfixturevalue("s3_client")
        storage_url = f"s3://{bucket}?endpoint_url={endpoint}&region=us-east-1"
    else:
        storage_url = f"file://{tmp_path / 'uploads'}"

    def stored() -> set[str]:
        if backend == "s3":
            listed = direct.list_objects_v2(Bucket=bucket).get("Contents", [])
            return {item["Key"] for item in listed}
        root = tmp_path / "uploads"
        return {
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and not p.relative_to(root).as_posix().startswith(".")
        }

    def incomplete() -> list[str]:
        if backend == "s3":
            uploads = direct.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
            return [u["Key"] for u in uploads]
        return [p.name for p in (tmp_path / "uploads" / ".tmp").glob("put-*")]

    with process_database(tmp_path, "contest_kill") as database_url:
        env = app_env(tmp_path, database_url, storage_url)
        run_cli(env, "demo")
        server = AppServer(env, tmp_path / "server.log").start()
        sent = [0]
        outcome: list[Any] = []

        def upload() -> None:
            try:
                outcome.append(
                    httpx.post(
                        f"{server.url}/api/v1/contests/{DRAWING}/entries",
                        content=_streaming_body(sent, 15 * MIB),
                        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                        timeout=60,
                    )
                )
            except httpx.HTTPError as exc:
                outcome.append(exc)

        sender = threading.Thread(target=upload)
        sender.start()
        try:
            deadline = time.monotonic() + 60
            while sent[0] < 11 * MIB and time.monotonic() < deadline:
                time.sleep(0.02)
            assert sent[0] >= 11 * MIB, "the upload did not get going"
            server.kill()
        finally:
            sender.join(timeout=60)
            server.stop()
        assert outcome and isinstance(outcome[0], httpx.HTTPError), outcome
        # The kill left something half-done behind (else this tests nothing).
        assert incomplete() or stored() - _attached_keys(database_url)

        run_cli(env, "storage", "sweep", "--grace-hours", "0")
        assert stored() <= _attached_keys(database_url)


# --- PostgreSQL restarted under a running app ---------------------------------------------


def _cluster() -> tuple[str, str]:
    if not TEST_DATABASE_URL:
        skip_or_fail("PostgreSQL tests need CONTEST_TEST_DATABASE_URL")
    if shutil.which("pg_lsclusters") is None or shutil.which("pg_ctlcluster") is None:
        skip_or_fail("restarting PostgreSQL needs pg_ctlcluster (Debian's postgresql-common)")
    port = str(httpx.URL(TEST_DATABASE_URL.replace("postgresql", "http", 1)).port or 5432)
    lines = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for line in lines:
        version, name, cluster_port, status, *_ = line.split()
        if cluster_port == port and status == "online":
            return version, name
    skip_or_fail(f"no local PostgreSQL cluster online on port {port} to restart")
    raise AssertionError


# Defined only when there is a PostgreSQL to restart: on the SQLite run there is nothing to
# test (and with CI=true a skip would fail the run).
if TEST_DATABASE_URL:

    @pytest.mark.alone
    def test_the_app_recovers_after_a_postgresql_restart(tmp_path: Path) -> None:
        version, name = _cluster()
        with process_database(tmp_path, "contest_restart") as database_url:
            env = app_env(tmp_path, database_url, f"file://{tmp_path / 'uploads'}")
            run_cli(env, "demo")
            server = AppServer(env, tmp_path / "server.log").start()
            try:
                with httpx.Client(base_url=server.url, timeout=30) as web:
                    # Several connections in the pool, all of which the restart will sever.
                    for _ in range(5):
                        assert web.get("/api/v1/contests").status_code == 200
                    subprocess.run(
                        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "restart"],
                        check=True,
                        capture_output=True,
                        timeout=120,
                    )
                    # The same process, not restarted: answers again at once (pre-ping replaces
                    # the dead connections), every request of a short burst.
                    answers = [web.get("/api/v1/contests").status_code for _ in range(10)]
                    health = web.get("/healthz")
                assert answers == [200] * 10, answers
                assert health.status_code == 200, health.text
                assert server.process is not None and server.process.poll() is None
            finally:
                server.stop()
