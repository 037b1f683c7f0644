"""Two app processes on one database and one bucket: what one process records, the other
honours. A session begun on A is valid on B; failed sign-ins count across both; an
Idempotency-Key sent to both at once makes one entry."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from contest.db import create_engine
from contest.models import Entry
from contest.settings import parse_database_url
from tests.hardening.servers import (
    PASSWORD,
    AppServer,
    Seeded,
    app_env,
    entry_fields,
    png,
    process_database,
    run_cli,
    running,
    seed_accounts,
)
from tests.support import DRAWING, run_apart

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Pair:
    a: AppServer
    b: AppServer
    seeded: Seeded
    database_url: str


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str, s3_client: Any
) -> Iterator[Pair]:
    tmp = tmp_path_factory.mktemp("two-processes")
    bucket = f"two-{uuid.uuid4().hex[:20]}"
    s3_client.create_bucket(Bucket=bucket)
    storage_url = f"s3://{bucket}?endpoint_url={s3_endpoint}&region=us-east-1"
    with process_database(tmp, "contest_two") as database_url:
        env = app_env(tmp, database_url, storage_url)
        run_cli(env, "demo")
        seeded = seed_accounts(database_url)
        a = AppServer(env, tmp / "a.log")
        b = AppServer(env, tmp / "b.log")
        with running(a, b):
            yield Pair(a, b, seeded, database_url)
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            s3_client.delete_object(Bucket=bucket, Key=item["Key"])
    s3_client.delete_bucket(Bucket=bucket)


def _login_form(client: httpx.Client, base: str) -> str:
    found = CSRF.search(client.get(f"{base}/login").text)
    assert found
    return found.group(1)


def test_a_session_begun_on_one_process_is_valid_on_the_other(pair: Pair) -> None:
    email = pair.seeded.emails["admin"]
    with httpx.Client(timeout=30) as browser:
        # The form comes from A, is posted to B, and the signed-in session read on A again.
        token = _login_form(browser, pair.a.url)
        signed_in = browser.post(
            f"{pair.b.url}/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token},
        )
        assert signed_in.status_code == 303, signed_in.text[:300]
        for server in (pair.a, pair.b):
            page = browser.get(f"{server.url}/account")
            assert page.status_code == 200, server.url
            assert email in page.text
        # Signing out on B ends the session on A as well (the cookie is the session).
        token = CSRF.search(browser.get(f"{pair.b.url}/account").text)
        assert token
        browser.post(f"{pair.b.url}/logout", data={"csrf_token": token.group(1)})
        assert browser.get(f"{pair.a.url}/account").status_code == 303
    with httpx.Client(timeout=30) as stranger:
        assert stranger.get(f"{pair.a.url}/account").status_code == 303


def test_failed_sign_ins_count_across_processes(pair: Pair) -> None:
    email = pair.seeded.emails["judge"]
    answers = []
    with httpx.Client(timeout=30) as browser:
        token = _login_form(browser, pair.a.url)
        for attempt in range(6):
            server = (pair.a, pair.b)[attempt % 2]
            response = browser.post(
                f"{server.url}/login",
                data={"email": email, "password": "not the password", "csrf_token": token},
            )
            answers.append(response.status_code)
        # Five wrong passwords, alternating between the processes, then the account is shut
        # on both; even the right password waits.
        right = browser.post(
            f"{pair.a.url}/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token},
        )
    assert answers == [400, 400, 400, 400, 400, 429]
    assert right.status_code == 429


def _count_entries(database_url: str, key: str) -> int:
    async def count() -> int:
        engine = create_engine(parse_database_url(database_url))
        try:
            async with engine.connect() as connection:
                found = await connection.scalar(
                    select(func.count()).select_from(Entry).where(Entry.idempotency_key == key)
                )
                return int(found or 0)
        finally:
            await engine.dispose()

    return run_apart(count())


def _submit(base: str, key: str) -> httpx.Response:
    with httpx.Client(timeout=60) as client:
        return client.post(
            f"{base}/api/v1/contests/{DRAWING}/entries",
            headers={"Idempotency-Key": key},
            data=entry_fields(),
            files={"file": ("tranh.png", png(), "image/png")},
        )


def test_one_idempotency_key_makes_one_entry_across_processes(pair: Pair) -> None:
    for _round in range(3):
        key = f"two-processes-{uuid.uuid4()}"
        # Sent to both processes at once, twice each: as a phone retrying on a flaky network
        # behind a load balancer would.
        with ThreadPoolExecutor(max_workers=4) as pool:
            bases = [pair.a.url, pair.b.url] * 2
            responses = list(pool.map(_submit, bases, [key] * len(bases)))
        statuses = sorted(r.status_code for r in responses)
        assert all(s in (200, 201) for s in statuses), [r.text[:300] for r in responses]
        codes = {r.json()["entry"]["receipt_code"] for r in responses}
        assert len(codes) == 1, codes
        assert _count_entries(pair.database_url, key) == 1
        # The replay hands back the same private link too.
        assert len({r.json()["edit_token"] for r in responses}) == 1
