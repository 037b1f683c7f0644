"""bench/scale.py's generator, small: the rows it writes add up, and the app reads them as the
national contest they stand for (so the benchmark keeps measuring real pages)."""

from __future__ import annotations

from bench.scale_data import CONTEST_SLUG, Scale, expected_counts, generate, row_counts
from tests.support import (
    IN_CI,
    TEST_DATABASE_URL,
    empty_postgresql_database,
    run_apart,
    skip_or_fail,
)


async def _as_the_app_reads_it(database_url: str, contest_id: int) -> tuple[int, int, int, int]:
    """(entries, assignments, done, winners) as the progress page and the gallery see them."""
    from contest.db import create_engine, create_sessionmaker
    from contest.results.gallery import load_gallery
    from contest.settings import parse_database_url
    from judging.services import contest_progress

    engine = create_engine(parse_database_url(database_url))
    try:
        async with create_sessionmaker(engine)() as session:
            progress = await contest_progress(session, contest_id=contest_id)
        async with engine.connect() as connection:
            gallery = await load_gallery(connection, slug=CONTEST_SLUG)
    finally:
        await engine.dispose()
    assert gallery is not None
    return progress.entries, progress.assigned, progress.done, len(gallery.winners)


# PostgreSQL only: CI's SQLite pass has nothing to run here (and a skip would fail it there);
# locally the skip says what is missing.
if TEST_DATABASE_URL or not IN_CI:

    def test_generator_writes_a_contest_the_app_reads() -> None:
        if not TEST_DATABASE_URL:
            skip_or_fail(
                "bench/scale.py's generator needs PostgreSQL: set CONTEST_TEST_DATABASE_URL"
            )
        with empty_postgresql_database("bench_scale") as url:
            generated = run_apart(generate(url, 200))
            counts = run_apart(row_counts(url))
            seen = run_apart(_as_the_app_reads_it(url, generated.contest_id))
        # 200 entries: 1 school of 5 classes, 4 judges, 3 judges an entry, 1 assignment in 50 open,
        # 11 winners in each of the 3 divisions.
        assert counts == {
            "units": 6,
            "users": 5,
            "contest_judges": 4,
            "user_units": 4,
            "entrants": 200,
            "entries": 200,
            "assets": 600,
            "assignments": 600,
            "scores": 588,
            "results": 200,
            "api_tokens": 2,
            "winners": 33,
        }
        assert counts == expected_counts(Scale(200))
        assert seen == (200, 600, 588, 33)
