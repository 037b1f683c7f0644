"""The organiser's pages at a small and a national size, each against its own small-size time.

What it measures: the server time (median of --rounds requests after one warm-up, in process
through the ASGI app, no sockets) and the size of every organiser list page and the progress
and judge-picker API, on PostgreSQL, for a contest of 1,000 entries and for one of --large
entries (schools N/185 with five classes each, judges N/50, K = 3: 60 % of the assignments
submitted, 10 % drafts; a computed, unpublished result per entry). The data is made in bulk
SQL (generate_series) on top of ``contest demo``'s writing contest.

Baseline, same run, same machine: each page's time at 1,000 entries. Goals (issue 14): every
page at most 1.5 x its 1,000-entry time and at most 300 ms at the large size; no page renders
more than a page of rows (its size stays flat).

The database named by --database-url is emptied (every table truncated) before each size: give
it one of its own. --indexes also creates the indexes the lists' queries want (INDEXES below;
the migration that adds them is written apart), to see their effect.

Run: .venv/bin/python bench/organiser_pages.py --database-url postgresql://USER@HOST/DB
     [--large 100000] [--rounds 5] [--indexes]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

# Run as a script, this folder is on the path and the project root is not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contest.db import Base, create_engine, create_sessionmaker
from contest.demo import load_demo
from contest.migrate import upgrade
from contest.settings import Settings, parse_database_url
from storage import storage_from_url
from tests.support import app_client, sign_in

SMALL = 1_000
WRITING = "viet-ve-cuon-sach-em-yeu"
ADMIN = ("bantochuc@bachsam.demo", "bachsam-demo")
RATIO_GOAL = 1.5
MS_GOAL = 300.0

INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_assignments_round_status ON assignments (round_id, status)",
    "CREATE INDEX IF NOT EXISTS ix_assignments_judge_round_status"
    " ON assignments (judge_id, round_id, status)",
    "CREATE INDEX IF NOT EXISTS ix_results_contest_division_rank"
    " ON results (contest_id, division_id, rank, id)",
    "CREATE INDEX IF NOT EXISTS ix_entries_contest_id_id ON entries (contest_id, id)",
    "CREATE INDEX IF NOT EXISTS ix_audit_events_action ON audit_events (action, id)",
    "CREATE INDEX IF NOT EXISTS ix_contest_judges_user_id ON contest_judges (user_id)",
    "CREATE INDEX IF NOT EXISTS ix_users_role_name ON users (role, name, id)",
]

# Every organiser list and the two API reads, by the name printed.
PAGES = {
    "dashboard": "/admin",
    "entries": "/admin/contests/{contest}/entries",
    "entries, deepest page": "/admin/contests/{contest}/entries?page=200",
    "entries by receipt": "/admin/contests/{contest}/entries?receipt={receipt}",
    "entries by unit": "/admin/contests/{contest}/entries?unit=bench-s1",
    "entries flagged": "/admin/contests/{contest}/entries?flagged=1",
    "judging": "/admin/contests/{contest}/judging",
    "judging, one judge": "/admin/contests/{contest}/judging?judge={judge}",
    "results": "/admin/contests/{contest}/results",
    "results, one division": "/admin/contests/{contest}/results?division={division}",
    "report": "/admin/report",
    "accounts": "/admin/users",
    "audit": "/admin/audit",
    "API progress": "/api/v1/contests/" + WRITING + "/progress",
    "API judge picker": "/api/v1/contests/" + WRITING + "/judges?q=bench judge 1",
}

GENERATE = [
    # Schools (N/185, at least 2), five classes each.
    """INSERT INTO units (event_id, parent_id, kind, code, name)
       SELECT e.id, NULL, 'school', 'bench-s' || s, 'Bench school ' || s
       FROM events e, generate_series(1, :schools) s""",
    """INSERT INTO units (event_id, parent_id, kind, code, name)
       SELECT u.event_id, u.id, 'class', u.code || '-' || c, 'Class ' || c
       FROM units u, generate_series(1, 5) c WHERE u.code LIKE 'bench-s%'""",
    # Judges (N/50, at least 30) of the writing contest.
    """INSERT INTO users (email, name, role, is_active, session_version, created_at)
       SELECT 'bench.judge' || j || '@example.vn', 'Bench judge ' || j, 'judge', true, 1, now()
       FROM generate_series(1, :judges) j""",
    """INSERT INTO contest_judges (contest_id, user_id)
       SELECT c.id, u.id FROM contests c, users u
       WHERE c.slug = :slug AND u.email LIKE 'bench.judge%'""",
    # Entrants and their entries, spread over the classes and the contest's divisions.
    """INSERT INTO entrants (event_id, unit_id, full_name, age, is_minor, consent, created_at)
       SELECT e.id, (SELECT id FROM units WHERE event_id = e.id
                     AND code = 'bench-s' || (1 + i % :schools) || '-' || (1 + i % 5)),
              'Bench entrant ' || i, 10, true, 'initials', now()
       FROM events e, generate_series(1, :entries) i""",
    """INSERT INTO entries (contest_id, division_id, entrant_id, receipt_code, edit_token_hash,
                            title, note, book_title, book_author, status, created_at, updated_at)
       SELECT c.id,
              (SELECT d.id FROM divisions d WHERE d.contest_id = c.id
               ORDER BY d.position, d.id OFFSET (p.id % 3) LIMIT 1),
              p.id, substr(upper(lpad(to_hex(p.id), 8, '0')), 1, 4) || '-'
                    || substr(upper(lpad(to_hex(p.id), 8, '0')), 5, 4),
              md5(p.id::text) || md5(p.id::text), 'Bench entry ' || p.id, '', '', '',
              'submitted', now(), now()
       FROM contests c, entrants p WHERE c.slug = :slug AND p.full_name LIKE 'Bench entrant %'""",
    """INSERT INTO rounds (contest_id, number, status, created_at)
       SELECT id, 1, 'open', now() FROM contests WHERE slug = :slug""",
    # K = 3 judges an entry; 60 % submitted, 10 % drafts, the rest to do.
    """INSERT INTO assignments (round_id, entry_id, judge_id, status, created_at)
       SELECT r.id, x.id, j.id,
              CASE WHEN x.rn % 10 < 6 THEN 'submitted' WHEN x.rn % 10 = 6 THEN 'draft'
                   ELSE 'assigned' END,
              now()
       FROM rounds r
       JOIN contests c ON c.id = r.contest_id AND c.slug = :slug
       JOIN (SELECT e.id, row_number() OVER (ORDER BY e.id) AS rn FROM entries e
             JOIN contests c2 ON c2.id = e.contest_id AND c2.slug = :slug) x ON true
       CROSS JOIN generate_series(0, 2) k
       JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS jn FROM users
             WHERE email LIKE 'bench.judge%') j ON j.jn = (x.rn * 3 + k) % :judges""",
    """INSERT INTO scores (assignment_id, points, total, comment_to_organizers,
                           feedback_to_entrant, submitted_at, updated_at)
       SELECT a.id, '{}', CASE WHEN a.id % 97 = 0 THEN (a.id % 3) * 4.5 ELSE 5 + a.id % 4 END,
              '', '', CASE WHEN a.status = 'submitted' THEN now() END, now()
       FROM assignments a WHERE a.status IN ('submitted', 'draft')""",
    """UPDATE scores SET total = NULL WHERE submitted_at IS NULL""",
    # A computed, unpublished result per entry.
    """INSERT INTO results (contest_id, division_id, entry_id, rank, final_score, raw_score,
                            judges, prize, created_at)
       SELECT e.contest_id, e.division_id, e.id,
              row_number() OVER (PARTITION BY e.division_id ORDER BY e.id),
              10 - (e.id % 10), 10 - (e.id % 10), 3, NULL, now()
       FROM entries e JOIN contests c ON c.id = e.contest_id AND c.slug = :slug
       WHERE e.title LIKE 'Bench entry %'""",
    """UPDATE results SET prize = 'first' WHERE rank = 1""",
]


async def prepare(url: str, entries: int, indexes: bool, data_dir: Path) -> Settings:
    """The demo, then ``entries`` entries of its writing contest, judged and ranked."""
    await asyncio.to_thread(upgrade, url)
    settings = Settings.from_env(
        {
            "CONTEST_DATA_DIR": str(data_dir),
            "CONTEST_DATABASE_URL": url,
            "CONTEST_SECRET_KEY": "bench",
            "CONTEST_BASE_URL": "http://testserver",
            "CONTEST_LOCALE": "vi",
        }
    )
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        storage = storage_from_url(settings.storage_url, secret_key="bench", base_url="")
        await load_demo(sessionmaker=create_sessionmaker(engine), storage=storage)
        await storage.aclose()
        values = {
            "schools": max(2, entries // 185),
            "judges": max(30, entries // 50),
            "entries": entries,
            "slug": WRITING,
        }
        async with engine.begin() as connection:
            for statement in GENERATE:
                names = {k: v for k, v in values.items() if f":{k}" in statement}
                await connection.execute(text(statement), names)
            if indexes:
                for statement in INDEXES:
                    await connection.execute(text(statement))
        # As autovacuum leaves a settled table: statistics and the visibility map.
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()
    return settings


async def measure(settings: Settings, rounds: int) -> dict[str, tuple[float, int, int]]:
    """Page → (median ms, bytes, status)."""
    engine = create_engine(settings.database_url)
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT c.id, (SELECT min(d.id) FROM divisions d WHERE d.contest_id = c.id),"
                    " (SELECT max(receipt_code) FROM entries WHERE contest_id = c.id),"
                    " (SELECT min(user_id) FROM contest_judges WHERE contest_id = c.id)"
                    " FROM contests c WHERE c.slug = :slug"
                ),
                {"slug": WRITING},
            )
        ).one()
    await engine.dispose()
    values = {"contest": row[0], "division": row[1], "receipt": row[2], "judge": row[3]}
    found: dict[str, tuple[float, int, int]] = {}
    async with app_client(settings) as client:
        await sign_in(client, *ADMIN)
        for name, pattern in PAGES.items():
            path = pattern.format(**values)
            response = await client.get(path)
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                response = await client.get(path)
                times.append((time.perf_counter() - start) * 1000)
            found[name] = (statistics.median(times), len(response.content), response.status_code)
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--indexes", action="store_true")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("the bulk data is PostgreSQL SQL: give a postgresql:// URL")
    url = parse_database_url(args.database_url)
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in (SMALL, args.large):
            start = time.perf_counter()
            settings = await prepare(url, size, args.indexes, Path(tmp) / str(size))
            print(f"{size:,} entries made in {time.perf_counter() - start:.1f} s", flush=True)
            figures[size] = await measure(settings, args.rounds)
    small, large = figures[SMALL], figures[args.large]
    print(
        f"\n{'page':<24}{'1,000 ms':>10}{f'{args.large:,} ms':>14}{'ratio':>8}"
        f"{'KB small':>10}{'KB large':>10}  goal"
    )
    for name in PAGES:
        (ms_small, bytes_small, _), (ms_large, bytes_large, status_large) = (
            small[name],
            large[name],
        )
        ratio = ms_large / ms_small
        met = ratio <= RATIO_GOAL and ms_large <= MS_GOAL and status_large == 200
        print(
            f"{name:<24}{ms_small:>10.1f}{ms_large:>14.1f}{ratio:>8.2f}"
            f"{bytes_small / 1000:>10.1f}{bytes_large / 1000:>10.1f}  "
            f"{'met' if met else 'NOT met'}{'' if status_large == 200 else f' ({status_large})'}"
        )


if __name__ == "__main__":
    asyncio.run(main())
