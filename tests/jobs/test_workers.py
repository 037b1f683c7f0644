"""Workers as real processes: `contest serve` working through its local queue, `contest worker`
on Redis, and a worker killed half-way whose job is resumed with no duplicate rows."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update

from contest.db import create_engine, create_sessionmaker
from contest.models import Assignment, Job, JobStatus
from contest.settings import parse_database_url
from tests.hardening.servers import (
    CONTEST_BIN,
    AppServer,
    app_env,
    process_database,
    run_cli,
    seed_accounts,
)
from tests.support import DRAWING, TEST_DATABASE_URL, run_apart, skip_or_fail, wait_for_job

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
    return REDIS_URL


def _query(database_url: str, statement: Any) -> Any:
    async def read() -> Any:
        engine = create_engine(parse_database_url(database_url))
        try:
            async with create_sessionmaker(engine).begin() as session:
                return (await session.execute(statement)).all()
        finally:
            await engine.dispose()

    return run_apart(read())


def _job_row(database_url: str) -> Any:
    rows = _query(database_url, select(Job.status, Job.attempts, Job.result).order_by(Job.id))
    assert rows
    return rows[-1]


def _wait(database_url: str, statuses: set[JobStatus], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        row = _job_row(database_url)
        if row.status in statuses:
            return row
        assert time.monotonic() < deadline, f"job still {row.status}"
        time.sleep(0.2)


@contextmanager
def _worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [CONTEST_BIN, "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@contextmanager
def _table_locked(database_url: str, table: str) -> Iterator[None]:
    """``table`` locked (ACCESS EXCLUSIVE, PostgreSQL) by another connection while the block
    runs: whoever touches it waits."""
    locker = subprocess.Popen(
        [
            "psql",
            database_url.replace("+asyncpg", ""),
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PGAPPNAME": "contest-test-locker"},
    )
    try:
        deadline = time.monotonic() + 20
        while not _query(
            database_url,
            text(
                "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = :table AND l.mode = 'AccessExclusiveLock' AND l.granted"
            ).bindparams(table=table),
        ):
            assert time.monotonic() < deadline, "the lock was not taken"
            time.sleep(0.1)
        yield
    finally:
        # The server goes on sleeping after its client is gone: end it there.
        _query(
            database_url,
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'contest-test-locker'"
            ),
        )
        locker.wait(timeout=10)


def _resumed_by_another_worker(database_url: str, env: dict[str, str], log: Path) -> Any:
    """The job of a killed worker, claimed again by a new worker once its heartbeat is stale
    (a minute without one, as if it had passed), and done on its second attempt."""
    _query(
        database_url,
        update(Job)
        .values(heartbeat_at=func.now() - text("interval '5 minutes'"))
        .returning(Job.id),
    )
    with _worker(env, log):
        row = _wait(database_url, {JobStatus.DONE, JobStatus.FAILED})
    assert row.status == JobStatus.DONE, log.read_text()[-3000:]
    assert row.attempts == 2
    return row


def _no_duplicate_assignments(database_url: str) -> int:
    pairs = _query(database_url, select(Assignment.entry_id, Assignment.judge_id))
    assert len(pairs) == len(set(pairs))
    return len(pairs)


def test_serve_runs_the_jobs_of_its_local_queue(tmp_path: Path) -> None:
    with process_database(tmp_path, "contest_jobs") as database_url:
        env = app_env(tmp_path, database_url, f"file://{tmp_path / 'uploads'}")
        run_cli(env, "demo")
        seeded = seed_accounts(database_url)  # assigns its own contest, not this one
        assert seeded.slug != DRAWING
        before = _no_duplicate_assignments(database_url)
        server = AppServer(env, tmp_path / "server.log").start()
        try:
            headers = {"Authorization": f"Bearer {seeded.tokens['admin']}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
                started = client.post(f"/api/v1/contests/{DRAWING}/assignment")
                job = wait_for_job(client, started)
        finally:
            server.stop()
        assert job["status"] == "done", (server.log.read_text()[-3000:], job)
        added = _no_duplicate_assignments(database_url) - before
        assert job["result"]["new_assignments"] == added > 0


@pytest.mark.parametrize("queue", ["local file", "redis"])
def test_a_worker_runs_what_the_command_line_queued(queue: str, tmp_path: Path) -> None:
    extra = {"CONTEST_QUEUE_URL": _redis()} if queue == "redis" else {}
    with process_database(tmp_path, "contest_jobs") as database_url:
        env = app_env(tmp_path, database_url, f"file://{tmp_path / 'uploads'}", **extra)
        run_cli(env, "demo")
        queued = run_cli(env, "assign", DRAWING, "--no-wait")
        assert "queued" in queued
        assert _job_row(database_url).status == JobStatus.QUEUED
        with _worker(env, tmp_path / "worker.log"):
            row = _wait(database_url, {JobStatus.DONE, JobStatus.FAILED})
        assert row.status == JobStatus.DONE, (tmp_path / "worker.log").read_text()[-3000:]
        assert row.attempts == 1
        assert row.result["new_assignments"] == _no_duplicate_assignments(database_url) > 0


def test_assign_waits_with_a_progress_bar_and_refuses_an_unknown_contest(
    tmp_path: Path,
) -> None:
    with process_database(tmp_path, "contest_jobs") as database_url:
        env = app_env(tmp_path, database_url, f"file://{tmp_path / 'uploads'}")
        run_cli(env, "demo")
        said = run_cli(env, "assign", DRAWING)
        count = _no_duplicate_assignments(database_url)
        assert f"{count} new assignments" in said and count > 0
        assert "0 new assignments" in run_cli(env, "assign", DRAWING)
        refused = subprocess.run(
            [CONTEST_BIN, "assign", "no-such-contest"], env=env, capture_output=True, text=True
        )
        assert refused.returncode == 1
        assert refused.stderr.strip() == "contest: no contest is called no-such-contest"
        assert len(_query(database_url, select(Job.id))) == 2


# The worker is stopped half-way by a table lock, which PostgreSQL has and SQLite has not:
# defined only on the PostgreSQL run (with CI=true a skip would fail the SQLite one).
if TEST_DATABASE_URL:

    def test_a_killed_workers_job_is_resumed_with_no_duplicate_rows(tmp_path: Path) -> None:
        """The worker dies (SIGKILL) while its job waits on a lock half-way through; the job's
        transaction dies with it. Once its heartbeat is stale, the next worker claims it again
        and finishes it: every entry gets its judges once."""
        with process_database(tmp_path, "contest_jobs") as database_url:
            env = app_env(
                tmp_path, database_url, f"file://{tmp_path / 'uploads'}", CONTEST_QUEUE_URL=_redis()
            )
            run_cli(env, "demo")
            # Held by another connection, the lock stops the job after it was claimed and began.
            with _table_locked(database_url, "assignments"):
                run_cli(env, "assign", DRAWING, "--no-wait")
                with _worker(env, tmp_path / "worker-1.log") as first:
                    _wait(database_url, {JobStatus.RUNNING})
                    time.sleep(1.0)
                    os.killpg(first.pid, signal.SIGKILL)
                    first.wait(timeout=10)
            row = _job_row(database_url)
            assert row.status == JobStatus.RUNNING and row.attempts == 1
            assert _no_duplicate_assignments(database_url) == 0  # nothing of it was kept
            row = _resumed_by_another_worker(database_url, env, tmp_path / "worker-2.log")
            assert row.result["new_assignments"] == _no_duplicate_assignments(database_url) > 0
