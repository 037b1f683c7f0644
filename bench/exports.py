"""Benchmark of the streaming results export: time and peak memory growth of the XLSX and CSV
exports of one contest's results, at 10,000 rows and at a national size.

Data: a database of its own on the PostgreSQL server of CONTEST_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/t_exports; the user must be allowed to create databases),
migrated, with the demo event loaded, then N entrants, entries and published results in the
writing contest's three divisions made by bulk SQL (INSERT … SELECT over generate_series), in
the demo's units. Dropped afterwards.

Baseline, in the same run: reading the same rows with the same query, streamed in the same
batches, and doing nothing with them. The ratio export / baseline is what writing the file
costs on top of reading it.

Each measurement runs in a fresh process; "memory growth" is that process's peak resident
size during the measurement (sampled every 20 ms) minus its size just before.

Goal (issue 14): the XLSX of 1.7 M rows within 3 minutes, memory growth within 200 MB.

Usage: .venv/bin/python bench/exports.py [--sizes 10000,200000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from load_uploads import own_database
from sqlalchemy import text

from contest.db import create_engine, create_sessionmaker
from contest.demo import load_demo
from contest.migrate import upgrade
from contest.results import exports
from contest.settings import parse_database_url
from storage import storage_from_url

SERVER = os.environ.get(
    "CONTEST_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/t_exports"
)
WRITING = "viet-ve-cuon-sach-em-yeu"
GOAL_SECONDS = 180
GOAL_MB = 200

GENERATE = [
    # Entrants spread over the event's units, named like the children they stand for.
    """
    INSERT INTO entrants (event_id, unit_id, full_name, age, grade, is_minor, consent,
                          created_at)
    SELECT c.event_id, u.ids[1 + i % array_length(u.ids, 1)], 'Nguyễn Văn An ' || i,
           6 + i % 10, 1 + i % 9, true, 'full_name', now()
    FROM generate_series(1, :n) AS i,
         (SELECT event_id FROM contests WHERE slug = :slug) AS c,
         (SELECT array_agg(id ORDER BY id) AS ids FROM units) AS u
    """,
    """
    INSERT INTO entries (contest_id, division_id, entrant_id, receipt_code, edit_token_hash,
                         title, note, book_title, book_author, status, created_at, updated_at)
    SELECT c.id, d.ids[1 + e.id % 3], e.id, 'B' || lpad(e.id::text, 12, '0'), 'x',
           'Bài viết về cuốn sách em yêu số ' || e.id, '', 'Dế Mèn phiêu lưu ký', 'Tô Hoài',
           'submitted', now(), now()
    FROM entrants AS e,
         (SELECT id FROM contests WHERE slug = :slug) AS c,
         (SELECT array_agg(id ORDER BY position) AS ids FROM divisions
          WHERE contest_id = (SELECT id FROM contests WHERE slug = :slug)) AS d
    WHERE e.full_name LIKE 'Nguyễn Văn An %'
    """,
    # Ranked per division by a score; the best ten of each get a prize.
    """
    INSERT INTO results (contest_id, division_id, entry_id, rank, final_score, raw_score,
                         judges, prize, certificate_serial, published_at, created_at)
    SELECT contest_id, division_id, id, place, score, score - 0.25, 3,
           CASE WHEN place = 1 THEN 'first' WHEN place <= 3 THEN 'second'
                WHEN place <= 6 THEN 'third' WHEN place <= 10 THEN 'honourable' END,
           CASE WHEN place <= 10 THEN 'B-' || id END, now(), now()
    FROM (SELECT id, contest_id, division_id, score,
                 row_number() OVER (PARTITION BY division_id ORDER BY score DESC, id) AS place
          FROM (SELECT id, contest_id, division_id, (id * 7919 % 1000) / 100.0 AS score
                FROM entries WHERE receipt_code LIKE 'B%') AS scored) AS ranked
    """,
    "ANALYZE",
]


async def prepare(database_url: str, rows: int, folder: Path) -> int:
    """Migrated, the demo loaded, ``rows`` results made; the writing contest's id."""
    upgrade(database_url)
    engine = create_engine(database_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        await load_demo(
            sessionmaker=sessionmaker,
            storage=storage_from_url(
                f"file://{folder}", secret_key="bench", base_url="http://127.0.0.1:8000"
            ),
        )
        async with engine.begin() as connection:
            for statement in GENERATE:
                await connection.execute(text(statement), {"n": rows, "slug": WRITING})
            contest_id = await connection.scalar(
                text("SELECT id FROM contests WHERE slug = :slug"), {"slug": WRITING}
            )
    finally:
        await engine.dispose()
    assert contest_id is not None
    return int(contest_id)


async def _read_only(database_url: str, contest_id: int) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            stream = await connection.stream(exports._result_lines(contest_id, None))
            return sum([len(rows) async for rows in stream.partitions(exports.EXPORT_BATCH)])
    finally:
        await engine.dispose()


async def _export(database_url: str, contest_id: int, fmt: str, path: Path) -> int:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            with path.open("wb") as out:
                info = await exports.write_results_export(
                    session, contest_id=contest_id, fmt=fmt, out=out, locale="vi"
                )
        return info.rows
    finally:
        await engine.dispose()


def measure(job: str, database_url: str, contest_id: int, folder: str, queue: Any) -> None:
    """In a fresh process: one job's seconds, rows, peak growth (bytes) and file size."""
    process = psutil.Process()
    before = process.memory_info().rss
    peak = before
    running = True

    def sample() -> None:
        nonlocal peak
        while running:
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    path = Path(folder) / f"results.{job}"
    started = time.perf_counter()
    if job == "read":
        rows = asyncio.run(_read_only(database_url, contest_id))
    else:
        rows = asyncio.run(_export(database_url, contest_id, job, path))
    seconds = time.perf_counter() - started
    running = False
    sampler.join()
    peak = max(peak, process.memory_info().rss)
    size = path.stat().st_size if path.exists() else 0
    path.unlink(missing_ok=True)
    queue.put((seconds, rows, peak - before, size))


def run_apart(job: str, database_url: str, contest_id: int, folder: str) -> tuple[Any, ...]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=measure, args=(job, database_url, contest_id, folder, queue))
    process.start()
    found = queue.get()
    process.join()
    return tuple(found)


def bench(rows: int) -> None:
    name = f"{SERVER.rsplit('/', 1)[1]}_bench_{rows}"
    with own_database(SERVER, name) as plain_url, tempfile.TemporaryDirectory() as folder:
        database_url = parse_database_url(plain_url)
        started = time.perf_counter()
        contest_id = asyncio.run(prepare(database_url, rows, Path(folder)))
        print(f"\n{rows:,} rows: made in {time.perf_counter() - started:.1f} s")
        read_s, read_rows, read_growth, _size = run_apart("read", database_url, contest_id, folder)
        print(
            f"  baseline (read the rows, write nothing): {read_s:.2f} s, "
            f"{read_rows / read_s:,.0f} rows/s, memory growth {read_growth / 1e6:.1f} MB"
        )
        for fmt in ("xlsx", "csv"):
            seconds, written, growth, size = run_apart(fmt, database_url, contest_id, folder)
            assert written == read_rows == rows, (written, read_rows, rows)
            print(
                f"  {fmt}: {seconds:.2f} s ({seconds / read_s:.1f}x the baseline), "
                f"{written / seconds:,.0f} rows/s, memory growth {growth / 1e6:.1f} MB, "
                f"file {size / 1e6:.1f} MB"
            )
            if fmt == "xlsx":
                at_national = seconds / rows * 1_700_000
                print(
                    f"  xlsx at 1.7 M rows, at this rate: {at_national:.0f} s "
                    f"(goal {GOAL_SECONDS} s); memory goal {GOAL_MB} MB"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,200000")
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        bench(size)


if __name__ == "__main__":
    main()
