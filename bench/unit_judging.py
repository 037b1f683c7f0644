"""A province's organiser judging its own entries, beside the whole event's organiser.

What it measures: on PostgreSQL, with ``bench/organiser_pages.py``'s bulk data (N entries of the
demo's writing contest, schools N/185 with five classes, judges N/50, K = 3, 60 % submitted)
and every other school put under one province, each bench judge a teacher of one school (so a
province's judges are those of its schools): the server time (median of --rounds requests
after one warm-up, in process through the ASGI app) of the judging page, the progress API and
the judge picker for the province's organiser, narrowed to the province by subqueries; and a
rerun of assignment (every entry already has its judges: what the run reads and decides,
rolled back) for the province and for the whole event.

Baseline, same run, same data: the whole event's organiser's same request (whose counts are
read from the tallies the database's triggers keep, a province's from the tallies by unit
summed over its units: a few rows a unit, where the whole event's are a few rows), and the
whole event's rerun. Goals: a province's page at most
300 ms (organiser_pages.py's goal at the large size), its rerun no slower than the whole
event's (it reads only its part; never a list of ids growing with the data).

The database named by --database-url is emptied (every table truncated) first: give it one of
its own.

Run: .venv/bin/python bench/unit_judging.py --database-url postgresql://USER@HOST/DB
     [--entries 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import text

# Run as a script, this folder is on the path and the project root is not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from organiser_pages import ADMIN, WRITING, prepare

from contest.accounts.passwords import hash_password
from contest.db import create_engine, create_sessionmaker
from contest.rules import WHOLE_EVENT, OrganiserScope
from contest.settings import Settings, parse_database_url
from judging import services
from tests.support import app_client, sign_in

PROVINCE = ("tinh.bench@example.vn", "bench-province-password")
MS_GOAL = 300.0

PAGES = {
    "judging page": "/admin/contests/{contest}/judging",
    "API progress": f"/api/v1/contests/{WRITING}/progress",
    "API judge picker": f"/api/v1/contests/{WRITING}/judges?q=bench judge 1",
}

PROVINCE_SQL = [
    """INSERT INTO units (event_id, parent_id, kind, code, name)
       SELECT id, NULL, 'province', 'bench-p1', 'Bench province' FROM events""",
    # Every other school under the province.
    """UPDATE units SET parent_id = (SELECT id FROM units WHERE code = 'bench-p1')
       WHERE kind = 'school' AND code LIKE 'bench-s%'
         AND substr(code, 8)::int % 2 = 1""",
    # Each bench judge teaches at one school.
    """INSERT INTO user_units (user_id, unit_id)
       SELECT u.id, s.id FROM users u
       JOIN units s ON s.code = 'bench-s' || (1 + u.id % :schools)
       WHERE u.email LIKE 'bench.judge%'""",
    """INSERT INTO users (email, name, role, is_active, session_version, password_hash,
                          created_at)
       VALUES (:email, 'Bench province organiser', 'admin', true, 1, :hash, now())""",
    """INSERT INTO user_units (user_id, unit_id)
       SELECT u.id, p.id FROM users u, units p WHERE u.email = :email AND p.code = 'bench-p1'""",
]


async def add_province(url: str, entries: int) -> tuple[int, int]:
    """The province, its organiser and its judges' schools; (contest id, organiser id)."""
    engine = create_engine(url)
    values = {
        "schools": max(2, entries // 185),
        "email": PROVINCE[0],
        "hash": hash_password(PROVINCE[1]),
    }
    try:
        async with engine.begin() as connection:
            for statement in PROVINCE_SQL:
                names = {k: v for k, v in values.items() if f":{k}" in statement}
                await connection.execute(text(statement), names)
            contest_id, organiser_id = (
                await connection.execute(
                    text(
                        "SELECT (SELECT id FROM contests WHERE slug = :slug),"
                        " (SELECT id FROM users WHERE email = :email)"
                    ),
                    {"slug": WRITING, "email": PROVINCE[0]},
                )
            ).one()
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()
    return int(contest_id), int(organiser_id)


async def median_ms(run: Callable[[], Awaitable[object]], rounds: int) -> float:
    await run()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        await run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def pages(settings: Settings, contest_id: int, rounds: int) -> dict[str, list[float]]:
    """Page → [the whole event's ms, the province's ms]."""
    found: dict[str, list[float]] = {name: [] for name in PAGES}
    for account in (ADMIN, PROVINCE):
        async with app_client(settings) as client:
            await sign_in(client, *account)
            for name, pattern in PAGES.items():
                path = pattern.format(contest=contest_id)

                async def get(path: str = path) -> object:
                    response = await client.get(path)
                    assert response.status_code == 200, (path, response.status_code)
                    return response

                found[name].append(await median_ms(get, rounds))
    return found


async def reruns(
    settings: Settings, contest_id: int, organiser_id: int, rounds: int
) -> tuple[float, float, int, int]:
    """A rerun of assignment, rolled back: (whole event ms, province ms, entries read by
    each)."""
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    read: dict[bool, int] = {}
    try:
        times = []
        for scope in (WHOLE_EVENT, OrganiserScope(organiser_id, True)):

            async def run(scope: OrganiserScope = scope) -> object:
                async with sessionmaker() as session:
                    report = await services.run_assignment(
                        session, contest_id=contest_id, actor=None, scope=scope
                    )
                    await session.rollback()
                read[scope.for_units] = report.entries
                return report

            times.append(await median_ms(run, rounds))
    finally:
        await engine.dispose()
    return times[0], times[1], read[False], read[True]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("the bulk data is PostgreSQL SQL: give a postgresql:// URL")
    url = parse_database_url(args.database_url)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        settings = await prepare(url, args.entries, False, Path(tmp))
        contest_id, organiser_id = await add_province(url, args.entries)
        print(f"{args.entries:,} entries made in {time.perf_counter() - start:.1f} s", flush=True)
        found = await pages(settings, contest_id, args.rounds)
        whole, province, read_whole, read_province = await reruns(
            settings, contest_id, organiser_id, max(1, args.rounds // 2)
        )
    print(f"\n{'':<22}{'whole event ms':>16}{'province ms':>14}{'ratio':>8}  goal")
    for name, (ms_whole, ms_province) in found.items():
        met = ms_province <= MS_GOAL
        print(
            f"{name:<22}{ms_whole:>16.1f}{ms_province:>14.1f}{ms_province / ms_whole:>8.2f}"
            f"  {'met' if met else 'NOT met'}"
        )
    print(
        f"{'assignment rerun':<22}{whole:>16.1f}{province:>14.1f}{province / whole:>8.2f}"
        f"  {'met' if province <= whole else 'NOT met'}"
        f"  (entries read: {read_whole:,} and {read_province:,})"
    )


if __name__ == "__main__":
    asyncio.run(main())
