"""A national contest in a PostgreSQL database, made by bulk SQL: what bench/scale.py measures.

One event; schools in proportion to the entries (540 per 100,000) with five classes each; one
drawing contest with three divisions, three books and a four-criterion rubric; N entrants, each
with one submitted entry carrying its three files' rows (original, preview, thumbnail: the files
themselves are never read by the pages measured); N/50 judges, each a teacher of one school and
a judge of the contest; one open round where every entry has K = 3 judges, every assignment
submitted with a score except a small share left unfinished; results ranked per division from
the judges' mean, prizes by count (1, 2, 3 and 5 per division), published with certificate
serials, so that the gallery shows its winners.

The schema is the app's own, from its migrations on a fresh database; every row is written by
``INSERT … SELECT … FROM generate_series`` inside one transaction, with explicit ids so that
rows refer to each other arithmetically instead of through joins. Two API tokens (the organiser
and one judge) are made the way ``contest.access`` checks them.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import asyncpg

from contest.tallies import REFILL
from contest.tokens import RECEIPT_ALPHABET, TOKEN_PREFIX

CONTEST_SLUG = "ve-tranh-quoc-gia"
EVENT_SLUG = "tuan-le-hoc-tap-suot-doi-quoc-gia"
JUDGES_PER_ENTRY = 3
SCHOOLS_PER_100K = 540
CLASSES_PER_SCHOOL = 5
ENTRIES_PER_JUDGE = 50
# One assignment in this many is left unfinished (assigned, no score): 2 %.
UNFINISHED_EVERY = 50
DIVISIONS = (("tieu-hoc", "Tiểu học", 6, 11), ("thcs", "Trung học cơ sở", 11, 15),
             ("cong-dong", "Cộng đồng", 16, None))  # fmt: skip
CRITERIA = (("bo-cuc", "Bố cục", 3), ("mau-sac", "Màu sắc", 2), ("y-tuong", "Ý tưởng", 3),
            ("chu-de", "Bám sát chủ đề", 2))  # fmt: skip
BOOKS = (("Đất rừng phương Nam", "Đoàn Giỏi"), ("Dế Mèn phiêu lưu ký", "Tô Hoài"),
         ("Truyện cổ tích Việt Nam", "Nhiều tác giả"))  # fmt: skip
# Prizes by count per division, best first: (prize, how many).
PRIZE_TIERS = (("first", 1), ("second", 2), ("third", 3), ("honourable", 5))
ASSET_ROLES = ("original", "preview", "thumbnail")
# The tables filled with explicit ids, whose sequences then continue after them.
SEQUENCED = (
    "events", "units", "contests", "divisions", "criteria", "books", "users", "entrants",
    "entries", "assets", "rounds", "assignments", "scores", "results",
)  # fmt: skip


@dataclass(frozen=True)
class Scale:
    entries: int

    @property
    def schools(self) -> int:
        return max(1, round(self.entries * SCHOOLS_PER_100K / 100_000))

    @property
    def classes(self) -> int:
        return self.schools * CLASSES_PER_SCHOOL

    @property
    def judges(self) -> int:
        return max(JUDGES_PER_ENTRY, self.entries // ENTRIES_PER_JUDGE)

    @property
    def assignments(self) -> int:
        return self.entries * JUDGES_PER_ENTRY

    @property
    def scores(self) -> int:
        return self.assignments - self.assignments // UNFINISHED_EVERY

    @property
    def winners(self) -> int:
        per_division = sum(count for _prize, count in PRIZE_TIERS)
        return sum(
            min(per_division, len(range(d, self.entries, len(DIVISIONS))))
            for d in range(len(DIVISIONS))
        )


@dataclass(frozen=True)
class Generated:
    database_url: str
    scale: Scale
    contest_id: int
    contest_slug: str
    organiser_token: str
    judge_token: str
    seconds: float


def _receipt_code(id_sql: str) -> str:
    """An entry's receipt code from its id, in the app's alphabet and shape (XXXX-XXXX): the id
    times a number prime to 31, modulo 31⁸, written in base 31, so every id gets its own."""
    base = len(RECEIPT_ALPHABET)
    value = f"(({id_sql})::bigint * 1000003 % {base**8})"
    digits = [
        f"substr('{RECEIPT_ALPHABET}', ({value} / {base**p} % {base})::int + 1, 1)"
        for p in range(7, -1, -1)
    ]
    return " || ".join([*digits[:4], "'-'", *digits[4:]])


def _hex64(seed_sql: str) -> str:
    """64 hex digits derived from a value: a stand-in for a SHA-256 the pages only display."""
    return f"md5({seed_sql}) || md5('x' || {seed_sql})"


def statements(scale: Scale) -> list[str]:
    """The SQL that fills a freshly migrated database, in order."""
    n, classes, judges = scale.entries, scale.classes, scale.judges
    k = JUDGES_PER_ENTRY
    # Entry e (1..n) is in division (e-1) % 3, class (e-1) % classes; assignment a = (e-1)*k+t+1
    # goes to judge ((e-1)*k + t) % judges (users 2..judges+1; user 1 is the organiser).
    quality = "((e * 2654435761::bigint) % 10007) / 10007.0"
    points = ", ".join(
        f"'{key}', round(least(1.0, greatest(0.0, q + bias)) * {top} * 2) / 2.0"
        for key, _label, top in CRITERIA
    )
    total = " + ".join(
        f"round(least(1.0, greatest(0.0, q + bias)) * {top} * 2) / 2.0"
        for _key, _label, top in CRITERIA
    )
    divisions = ", ".join(
        f"({i + 1}, 1, '{key}', '{name}', {low}, {'NULL' if high is None else high}, {i})"
        for i, (key, name, low, high) in enumerate(DIVISIONS)
    )
    criteria = ", ".join(
        f"({i + 1}, 1, '{key}', '{label}', '', {top}, 1.0, {i})"
        for i, (key, label, top) in enumerate(CRITERIA)
    )
    books = ", ".join(
        f"({i + 1}, 1, '{title}', '{author}', '', {i})" for i, (title, author) in enumerate(BOOKS)
    )
    tiers = ", ".join(f'"{prize}": {count}' for prize, count in PRIZE_TIERS)
    prize_case, upto = [], 0
    for prize, count in PRIZE_TIERS:
        upto += count
        prize_case.append(f"WHEN place <= {upto} THEN '{prize}'")
    asset_values = ", ".join(
        f"({i}, '{role}', '{'image/png' if role == 'original' else 'image/jpeg'}', "
        f"'{'original.png' if role == 'original' else role + '.jpg'}')"
        for i, role in enumerate(ASSET_ROLES)
    )
    roles = len(ASSET_ROLES)
    return [
        "SET LOCAL synchronous_commit = off",
        f"""INSERT INTO events (id, slug, name, theme, organizer, starts_on, ends_on, description,
            retention_months, created_at)
            VALUES (1, '{EVENT_SLUG}', 'Tuần lễ hưởng ứng học tập suốt đời (toàn quốc)',
            'Phát triển văn hóa đọc thúc đẩy học tập suốt đời', 'Bộ Giáo dục và Đào tạo',
            current_date - 30, current_date + 30, '', 12, now())""",
        f"""INSERT INTO units (id, event_id, parent_id, kind, code, name)
            SELECT s, 1, NULL, 'school', 'truong-' || s, 'Trường số ' || s
            FROM generate_series(1, {scale.schools}) s""",
        # Class c (1..classes) is unit schools + c, in school (c-1) / CLASSES_PER_SCHOOL + 1.
        f"""INSERT INTO units (id, event_id, parent_id, kind, code, name)
            SELECT {scale.schools} + c, 1, (c - 1) / {CLASSES_PER_SCHOOL} + 1, 'class',
                'truong-' || ((c - 1) / {CLASSES_PER_SCHOOL} + 1) || '-lop-' || c,
                'Lớp ' || ((c - 1) % {CLASSES_PER_SCHOOL} + 1)
            FROM generate_series(1, {classes}) c""",
        f"""INSERT INTO contests (id, event_id, slug, kind, title, summary, rules, opens_at,
            closes_at, status, position, allowed_types, max_file_size, max_files,
            judges_per_entry, remark_days, blind, aggregation, prize_scheme)
            VALUES (1, 1, '{CONTEST_SLUG}', 'drawing', 'Vẽ tranh theo sách (toàn quốc)', '', '',
            now() - interval '30 days', now() - interval '1 day', 'published', 0,
            '["jpeg", "png"]', {20 * 1024 * 1024}, 1, {k}, 7, true, 'normalised',
            '{{"method": "count", "tiers": {{{tiers}}}}}')""",
        f"""INSERT INTO divisions (id, contest_id, key, name, min_age, max_age, position)
            VALUES {divisions}""",
        f"""INSERT INTO criteria (id, contest_id, key, label, description, max_points, weight,
            position) VALUES {criteria}""",
        f"INSERT INTO books (id, contest_id, title, author, note, position) VALUES {books}",
        f"""INSERT INTO users (id, email, name, role, password_hash, is_active, session_version,
            created_at)
            SELECT 1, 'bantochuc@quocgia.bench', 'Ban tổ chức', 'admin', NULL, true, 1, now()
            UNION ALL
            SELECT j + 1, 'gk' || j || '@quocgia.bench', 'Giám khảo ' || j, 'judge', NULL, true,
                1, now()
            FROM generate_series(1, {judges}) j""",
        f"""INSERT INTO user_units (user_id, unit_id)
            SELECT j + 1, (j - 1) % {scale.schools} + 1 FROM generate_series(1, {judges}) j""",
        f"""INSERT INTO contest_judges (contest_id, user_id, capacity)
            SELECT 1, j + 1, NULL FROM generate_series(1, {judges}) j""",
        f"""INSERT INTO entrants (id, event_id, unit_id, full_name, age, grade, is_minor,
            guardian_name, guardian_phone, consent, created_at, agreed_at, agreement_version)
            SELECT e, 1, {scale.schools} + (e - 1) % {classes} + 1, 'Học sinh ' || e, age, NULL,
                age < 18, CASE WHEN age < 18 THEN 'Phụ huynh ' || e END, '0912345678',
                (ARRAY['full_name', 'initials', 'hidden'])[e % 3 + 1], now(), now(), '2026-11'
            FROM generate_series(1, {n}) e,
            LATERAL (SELECT CASE (e - 1) % 3 WHEN 0 THEN 6 + e % 5 WHEN 1 THEN 11 + e % 4
                     ELSE 16 + e % 40 END AS age) a""",
        f"""INSERT INTO entries (id, contest_id, division_id, entrant_id, receipt_code,
            edit_token_hash, title, note, book_id, book_title, book_author, status, created_at,
            updated_at)
            SELECT e, 1, (e - 1) % 3 + 1, e, {_receipt_code("e")}, {_hex64("e::text")},
                'Bức tranh số ' || e, '', (e - 1) % {len(BOOKS)} + 1, '', '', 'submitted',
                now() - interval '10 days', now() - interval '10 days'
            FROM generate_series(1, {n}) e""",
        # Asset (e-1)*3 + r + 1: the original (r = 0), its preview and its thumbnail.
        f"""INSERT INTO assets (id, entry_id, source_id, role, storage_key, content_type, size,
            sha256, original_filename, width, height, created_at)
            SELECT (e - 1) * {roles} + r + 1, e,
                CASE WHEN r > 0 THEN (e - 1) * {roles} + 1 END, role,
                'entries/' || md5('upload' || e) || '/' || file, type,
                CASE WHEN r = 0 THEN 200000 + e % 50000 ELSE 40000 END,
                {_hex64("(e * 3 + r)::text")},
                CASE WHEN r = 0 THEN 'tranh-' || e || '.png' END,
                CASE WHEN r = 2 THEN 400 ELSE 1600 END, CASE WHEN r = 2 THEN 300 ELSE 1200 END,
                now() - interval '10 days'
            FROM generate_series(1, {n}) e,
                (VALUES {asset_values}) AS kinds(r, role, type, file)""",
        """INSERT INTO rounds (id, contest_id, number, status, closes_at, created_at)
            VALUES (1, 1, 1, 'open', NULL, now() - interval '9 days')""",
        f"""INSERT INTO assignments (id, round_id, entry_id, judge_id, status, created_at)
            SELECT a, 1, (a - 1) / {k} + 1, (a - 1) % {judges} + 2,
                CASE WHEN a % {UNFINISHED_EVERY} = 0 THEN 'assigned' ELSE 'submitted' END,
                now() - interval '9 days'
            FROM generate_series(1, {n * k}) a""",
        # Each entry's quality, shifted by its judge's leniency (-0.25 .. +0.25).
        f"""INSERT INTO scores (id, assignment_id, points, total, comment_to_organizers,
            feedback_to_entrant, submitted_at, updated_at)
            SELECT a, a, json_build_object({points}), {total}, '',
                'Bức tranh có màu sắc tươi sáng.', now() - interval '5 days',
                now() - interval '5 days'
            FROM generate_series(1, {n * k}) a,
            LATERAL (SELECT (a - 1) / {k} + 1 AS e, (a - 1) % {judges} AS j) ids,
            LATERAL (SELECT {quality} AS q, ((j * 7) % 11 - 5) / 20.0 AS bias) marks
            WHERE a % {UNFINISHED_EVERY} <> 0""",
        f"""INSERT INTO results (id, contest_id, division_id, entry_id, rank, final_score,
            raw_score, judges, prize, certificate_serial, published_at, created_at)
            SELECT entry_id, 1, division_id, entry_id, place_rank, mean, mean, judges,
                prize, CASE WHEN prize IS NOT NULL THEN '2026-QG-' || entry_id END,
                now() - interval '1 day', now() - interval '2 days'
            FROM (
                SELECT *, CASE {" ".join(prize_case)} END AS prize
                FROM (
                    SELECT s.entry_id, en.division_id, s.mean, s.judges,
                        rank() OVER w AS place_rank, row_number() OVER w AS place
                    FROM (SELECT a.entry_id, avg(sc.total) AS mean, count(*) AS judges
                          FROM assignments a JOIN scores sc ON sc.assignment_id = a.id
                          GROUP BY a.entry_id) s
                    JOIN entries en ON en.id = s.entry_id
                    WINDOW w AS (PARTITION BY en.division_id ORDER BY s.mean DESC, s.entry_id)
                ) ranked
            ) prized""",
        *(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            for table in SEQUENCED
        ),
    ]


# The indexes of these tables that back no constraint (a unique constraint stays: it is also
# what keeps the generated keys honest).
PLAIN_INDEXES = """
    SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = ANY(SELECT t::regclass FROM unnest($1::text[]) t)
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
"""


def new_api_token() -> tuple[str, str, str]:
    """(token, its digest as stored, its shown prefix), as ``contest.accounts`` makes them."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode()).hexdigest(), token[:12]


async def generate(database_url: str, entries: int) -> Generated:
    """Migrate a fresh database to the app's schema and fill it (see the module docstring)."""
    from contest.migrate import upgrade
    from contest.settings import parse_database_url

    started = time.monotonic()
    upgrade(parse_database_url(database_url))
    scale = Scale(entries)
    tokens = {}
    connection = await asyncpg.connect(_asyncpg_url(database_url))
    try:
        async with connection.transaction():
            # The rows are consistent by construction: foreign keys are not checked row by row
            # (a superuser's setting, for this transaction only), and the plain indexes are
            # dropped and built again once the rows are in, which is several times faster.
            await connection.execute("SET LOCAL session_replication_role = replica")
            indexes = await connection.fetch(PLAIN_INDEXES, list(SEQUENCED))
            for index in indexes:
                await connection.execute(f'DROP INDEX "{index["name"]}"')
            for statement in statements(scale):
                await connection.execute(statement)
            for index in indexes:
                await connection.execute(index["definition"])
            # The tallies' triggers were off with the foreign keys: counted once, afterwards.
            for statement in REFILL:
                await connection.execute(statement)
            for user_id, name in ((1, "organiser"), (2, "judge")):
                token, digest, prefix = new_api_token()
                await connection.execute(
                    "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at)"
                    " VALUES ($1, $2, $3, $4, now())",
                    user_id,
                    f"bench {name}",
                    digest,
                    prefix,
                )
                tokens[name] = token
        # Fresh statistics: the planner must see a million rows, not the empty tables it saw.
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return Generated(
        database_url=database_url,
        scale=scale,
        contest_id=1,
        contest_slug=CONTEST_SLUG,
        organiser_token=tokens["organiser"],
        judge_token=tokens["judge"],
        seconds=time.monotonic() - started,
    )


COUNTED = (
    "units", "users", "contest_judges", "user_units", "entrants", "entries", "assets",
    "assignments", "scores", "results", "api_tokens",
)  # fmt: skip


async def row_counts(database_url: str) -> dict[str, int]:
    """Rows per table that the generator fills, and the published winners."""
    connection = await asyncpg.connect(_asyncpg_url(database_url))
    try:
        counts = {t: int(await connection.fetchval(f"SELECT count(*) FROM {t}")) for t in COUNTED}
        counts["winners"] = int(
            await connection.fetchval(
                "SELECT count(*) FROM results WHERE prize IS NOT NULL AND published_at IS NOT NULL"
            )
        )
        return counts
    finally:
        await connection.close()


def expected_counts(scale: Scale) -> dict[str, int]:
    return {
        "units": scale.schools + scale.classes,
        "users": scale.judges + 1,
        "contest_judges": scale.judges,
        "user_units": scale.judges,
        "entrants": scale.entries,
        "entries": scale.entries,
        "assets": scale.entries * len(ASSET_ROLES),
        "assignments": scale.assignments,
        "scores": scale.scores,
        "results": scale.entries,
        "api_tokens": 2,
        "winners": scale.winners,
    }


def _asyncpg_url(database_url: str) -> str:
    """asyncpg takes postgresql://… without SQLAlchemy's driver name."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
