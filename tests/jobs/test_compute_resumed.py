"""A results computation whose worker is killed at its last step is resumed by another
worker: the results stay one row per entry throughout."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from sqlalchemy import func, select, text

from contest.db import create_engine, create_sessionmaker
from contest.models import JobStatus, Result, Round
from contest.settings import parse_database_url
from tests.hardening.servers import app_env, process_database, run_cli
from tests.jobs.test_workers import (
    _job_row,
    _query,
    _redis,
    _resumed_by_another_worker,
    _table_locked,
    _wait,
    _worker,
)
from tests.support import DRAWING, TEST_DATABASE_URL, bulk_scores, run_apart


def _score_everything(database_url: str) -> None:
    async def score() -> None:
        engine = create_engine(parse_database_url(database_url))
        try:
            async with create_sessionmaker(engine).begin() as session:
                for round_id in await session.scalars(select(Round.id)):
                    await bulk_scores(session, round_id=round_id)
        finally:
            await engine.dispose()

    run_apart(score())


def _results(database_url: str) -> tuple[int, int]:
    """Result rows, and the entries they are of."""
    ((rows, entries),) = _query(
        database_url, select(func.count(Result.id), func.count(func.distinct(Result.entry_id)))
    )
    return rows, entries


def _waiting_on(database_url: str, table: str) -> bool:
    """Whether a connection waits for a lock on ``table``."""
    return bool(
        _query(
            database_url,
            text(
                "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = :table AND NOT l.granted"
            ).bindparams(table=table),
        )
    )


# Stopped half-way by a table lock, which PostgreSQL has and SQLite has not (see
# test_workers.py): defined only on the PostgreSQL run.
if TEST_DATABASE_URL:

    def test_a_killed_compute_is_resumed_with_one_result_per_entry(tmp_path: Path) -> None:
        """The first worker has rewritten every result row and waits to record the audit
        event when it is killed (SIGKILL); its transaction dies with it. The next worker
        claims the job once its heartbeat is stale and computes it again, whole."""
        with process_database(tmp_path, "contest_jobs") as database_url:
            env = app_env(
                tmp_path, database_url, f"file://{tmp_path / 'uploads'}", CONTEST_QUEUE_URL=_redis()
            )
            run_cli(env, "demo")
            run_cli(env, "assign", DRAWING)
            _score_everything(database_url)
            run_cli(env, "results", "compute", DRAWING)
            rows, entries = _results(database_url)
            assert rows == entries > 0
            run_cli(env, "results", "compute", DRAWING, "--no-wait")
            # The audit log is written last, in the same transaction as the results.
            with (
                _table_locked(database_url, "audit_events"),
                _worker(env, tmp_path / "worker-1.log") as first,
            ):
                _wait(database_url, {JobStatus.RUNNING})
                deadline = time.monotonic() + 60
                while not _waiting_on(database_url, "audit_events"):
                    assert time.monotonic() < deadline, "the job did not get to its end"
                    time.sleep(0.1)
                os.killpg(first.pid, signal.SIGKILL)
                first.wait(timeout=10)
            row = _job_row(database_url)
            assert row.status == JobStatus.RUNNING and row.attempts == 1
            assert _results(database_url) == (rows, entries)  # the first computation's
            row = _resumed_by_another_worker(database_url, env, tmp_path / "worker-2.log")
            assert row.result["entries"] == entries
            assert _results(database_url) == (rows, entries)
