"""The cost of running many small jobs: an entry's processing job (one a drawing, 1.7 million a
year at national size) run one after another by one worker thread, on PostgreSQL and S3
(moto's server), loopback only.

Measured: ms per job as the queue's worker threads now run them (``run_job_sync``: the
thread keeps its event loop, database engine and storage from one job to the next).

Baseline, same run, same jobs: each job with an event loop, an engine and a storage of its own
(``asyncio.run(execute_job(...))``, what a worker thread did before). The jobs are the same
each round: their files are marked unprocessed again between rounds and processed again (the
job finds its preview rows and writes the same keys). Rounds alternate.

Bounded: --jobs (default 100, at most 2,000), --rounds (2 of each). Needs a PostgreSQL server
where the user may create a database (--server-url); it makes one of its own and drops it.

Run: .venv/bin/python bench/process_jobs.py [--jobs 100] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import boto3
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import connected
from bench.load_uploads import FIELDS
from bench.processes import s3_and_database
from bench.submitting import services_for, submit_file

BIN = Path(sys.executable).parent
CONTEST = "ve-tranh-theo-sach"


def drawing(rng: random.Random) -> bytes:
    image = Image.frombytes("RGB", (64, 64), rng.randbytes(64 * 64 * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def submit(env: dict[str, str], count: int) -> list[int]:
    """``count`` drawings submitted through the intake services: their processing jobs, queued."""
    rng = random.Random(11)
    jobs = []
    async with services_for(env, CONTEST) as services:
        for number in range(count):
            submitted = await submit_file(
                services,
                data=drawing(rng),
                filename=f"tranh-{number}.png",
                fields={**FIELDS, "title": f"Tranh số {number}"},
            )
            assert submitted.entry.files_job_id is not None
            jobs.append(submitted.entry.files_job_id)
    return jobs


async def queue_again(database_url: str, jobs: list[int]) -> None:
    async with connected(database_url) as connection:
        await connection.execute(
            "UPDATE jobs SET status = 'queued' WHERE id = ANY($1::int[])", jobs
        )
        await connection.execute(
            "UPDATE assets SET state = 'processing' WHERE role = 'original' AND entry_id IN"
            " (SELECT id FROM entries WHERE files_job_id = ANY($1::int[]))",
            jobs,
        )


async def all_done(database_url: str, jobs: list[int]) -> bool:
    async with connected(database_url) as connection:
        done = await connection.fetchval(
            "SELECT count(*) FROM jobs WHERE id = ANY($1::int[]) AND status = 'done'", jobs
        )
        return bool(done == len(jobs))


def run_round(run: Callable[[int], bool], jobs: list[int]) -> float:
    started = time.perf_counter()
    for job_id in jobs:
        assert run(job_id), job_id
    return (time.perf_counter() - started) / len(jobs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    if not 1 <= args.jobs <= 2000 or not 1 <= args.rounds <= 10:
        raise SystemExit("--jobs 1..2000, --rounds 1..10")
    with s3_and_database(args.server_url, "bench_jobs") as run:
        env, endpoint, database_url = run.env, run.endpoint, run.database_url
        bucket = "process-jobs"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket=bucket
        )
        env.update(
            CONTEST_DATA_DIR=run.folder,
            CONTEST_DATABASE_URL=database_url,
            CONTEST_STORAGE_URL=f"s3://{bucket}?endpoint_url={endpoint}&region=us-east-1",
            CONTEST_SECRET_KEY="bench",
        )
        os.environ.update(env)
        subprocess.run([str(BIN / "contest"), "demo"], env=env, check=True, capture_output=True)

        from contest.app import JOB_KINDS
        from contest.jobs.worker import close_thread_runner, execute_job, run_job_sync
        from contest.settings import Settings

        settings = Settings.from_env(env)
        jobs = asyncio.run(submit(env, args.jobs))

        def own(job_id: int) -> bool:
            return asyncio.run(execute_job(settings, job_id, JOB_KINDS))

        def kept(job_id: int) -> bool:
            return run_job_sync(settings, job_id, JOB_KINDS)

        figures: dict[str, list[float]] = {"kept": [], "own": []}
        for number in range(args.rounds):
            for name, run in (("own", own), ("kept", kept))[:: 1 if number % 2 else -1]:
                figures[name].append(run_round(run, jobs))
                assert asyncio.run(all_done(database_url, jobs))
                asyncio.run(queue_again(database_url, jobs))
        close_thread_runner()
        kept_ms = statistics.median(figures["kept"]) * 1000
        own_ms = statistics.median(figures["own"]) * 1000
        print(
            f"{args.jobs} processing jobs (a 13 KB PNG each: read back, decoded, preview and"
            f" thumbnail stored), one thread, PostgreSQL, moto S3, {args.rounds} rounds each"
        )
        print(
            "engine and storage kept by the thread: "
            + ", ".join(f"{f * 1000:.1f}" for f in figures["kept"])
            + f" ms/job (median {kept_ms:.1f}, {1000 / kept_ms:.1f} jobs/s)"
        )
        print(
            "baseline, a loop, engine and storage per job: "
            + ", ".join(f"{f * 1000:.1f}" for f in figures["own"])
            + f" ms/job (median {own_ms:.1f}, {1000 / own_ms:.1f} jobs/s)"
        )
        print(f"ratio kept / own: {kept_ms / own_ms:.2f} (time per job)")
        return 0


if __name__ == "__main__":
    sys.exit(main())
