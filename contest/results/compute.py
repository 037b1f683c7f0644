"""A round's results computed set-based, with the memory of one entry at a time.

judging.scoring stays the one definition of every aggregation, of the tie rule and of the
prizes; the database does what grows with the contest: gathering each entry's totals, adding
up each judge's, sorting each division. In the caller's transaction:

1. the round's submitted totals are copied into a temporary table, once (the join of
   assignments, scores and entries, and the points of the first criterion read out of the
   JSON, cost more than anything after them);
2. for the normalised method, each judge's moments and the panel's are added up there, and
   ``scoring.normalisation`` makes the adjustments of them;
3. each entry's totals are read in entry order and scored by ``scoring.entry_score``, and the
   scores, with the tie rule's keys (``scoring.rank_key``) and a prize by threshold, go into a
   second temporary table by bulk insert;
4. one INSERT … SELECT ranks each division with ``rank()`` over those keys: the shared ranks
   of ``scoring.rank`` (1, 2, 2, 4), entry id only ordering the rows of a shared rank;
5. prizes by count are given by ``scoring.prizes_by_count`` over each division's best ranks,
   read back in rank order (``scoring.ranks_for_count`` says how many can win anything).

When the last round is a comparative final, the rubric round before it is scored as above
(so the shortlist's scores are the ones it was cut on), each shortlisted entry's
Bradley-Terry strength joins the tie rule's keys, and only the shortlist is ranked: by the
strength first ("rank the shortlist"), or by it only after the rubric keys ("break ties").
Ranking the shortlist by strength with prizes by threshold keeps each division's number of
each prize and gives them in the comparative order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    distinct,
    func,
    insert,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import UnaryExpression

from contest.db import BULK_BATCH, UTCDateTime, hold_write_lock, insert_rows
from contest.models import (
    ComparativeResults,
    Contest,
    Criterion,
    Prize,
    Result,
    Round,
    round_entries,
)
from contest.progress import Progress
from judging.scoring import (
    Moments,
    Normalisation,
    entry_score,
    normalisation,
    prize_by_threshold,
    prizes_by_count,
    rank_key,
    ranks_for_count,
    rubric_total,
)
from judging.services import round_totals, rubric_of

# Apart from the app's metadata: these tables live for one computation, in its transaction.
_work = MetaData()


def _work_table(name: str, *columns: Column[Any]) -> Table:
    return Table(name, _work, *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP")


def _entry_columns() -> list[Column[Any]]:
    """An entry's score as a result row holds it."""
    return [
        Column("entry_id", Integer),
        Column("division_id", Integer),
        Column("final", Float),
        Column("raw_mean", Float),
        Column("judges", Integer),
        Column("prize", String(24)),
    ]


totals_table = _work_table(
    "compute_totals",
    Column("assignment_id", Integer),
    Column("entry_id", Integer),
    Column("division_id", Integer),
    Column("judge_id", Integer),
    Column("total", Float),
    Column("first_points", Float),
)
# With the tie rule's keys (scoring.rank_key)...
scores_table = _work_table(
    "compute_scores",
    *_entry_columns(),
    Column("key_final", Float),
    Column("key_raw", Float),
    Column("key_first", Float),
    # A comparative final's strength (set after scoring, for the shortlist only).
    Column("key_compared", Float),
)
# ... and then with the rank they give.
ranked_table = _work_table("compute_ranked", *_entry_columns(), Column("rank", Integer))
WORK_TABLES = (totals_table, scores_table, ranked_table)
SCORE_COLUMNS = tuple(c.name for c in scores_table.columns if c.name != "key_compared")
# Strengths are compared to this many decimals: equal records fit to equal strengths, up to
# the fit's own tolerance.
STRENGTH_DECIMALS = 4
RESULTS = cast(Table, Result.__table__)


class Place(NamedTuple):
    entry_id: int
    rank: int


async def _drop_work_tables(connection: AsyncConnection) -> None:
    """PostgreSQL drops them with the transaction, committed or not (and cannot before: the
    cursors read from them stay open until then); SQLite keeps them on its connection."""
    if connection.dialect.name != "postgresql":
        for table in WORK_TABLES:
            await connection.run_sync(table.drop, checkfirst=True)


async def gather_totals(
    session: AsyncSession, *, round_: Round, criteria: Sequence[Criterion]
) -> int:
    """Step 1: the round's totals into the temporary table; how many entries have one."""
    await hold_write_lock(session)
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        # The sorts and hashes below (millions of rows at national size) in memory rather
        # than in files; for this transaction only.
        await connection.exec_driver_sql("SET LOCAL work_mem = '128MB'")
    for table in WORK_TABLES:
        # Emptied, in case an earlier computation in this transaction (or, on SQLite, on
        # this connection) left it.
        await connection.run_sync(table.create, checkfirst=True)
        await session.execute(delete(table))
    await session.execute(
        insert(totals_table).from_select(
            [c.name for c in totals_table.columns], round_totals(round_, criteria)
        )
    )
    if connection.dialect.name == "postgresql":
        await connection.exec_driver_sql(f"ANALYZE {totals_table.name}")
    entries = await session.scalar(select(func.count(distinct(totals_table.c.entry_id))))
    return int(entries or 0)


async def drop_work_tables(session: AsyncSession) -> None:
    await _drop_work_tables(await session.connection())


async def _normalisation(session: AsyncSession) -> Normalisation:
    """Step 2: the moments of all the totals and of each judge's, added up by the database
    the way ``scoring.moments`` adds them (a sum over the count; squared deviations from it)."""
    t = totals_table.c
    count, summed = (await session.execute(select(func.count(), func.sum(t.total)))).one()
    grand_mean = float(summed) / int(count)
    squares = (t.total - grand_mean) * (t.total - grand_mean)
    grand_squares = await session.scalar(select(func.sum(squares)))
    means = (
        select(
            t.judge_id, func.count().label("n"), (func.sum(t.total) / func.count()).label("mean")
        )
        .group_by(t.judge_id)
        .subquery()
    )
    own = (t.total - means.c.mean) * (t.total - means.c.mean)
    judges = await session.execute(
        select(means.c.judge_id, means.c.n, means.c.mean, func.sum(own))
        .join(means, means.c.judge_id == t.judge_id)
        .group_by(means.c.judge_id, means.c.n, means.c.mean)
    )
    return normalisation(
        Moments(int(count), grand_mean, float(grand_squares or 0.0)),
        {
            int(judge_id): Moments(int(n), float(mean), float(sq or 0.0))
            for judge_id, n, mean, sq in judges
        },
    )


async def _scored(
    session: AsyncSession, *, contest: Contest, max_total: float
) -> AsyncIterator[tuple[Any, ...]]:
    """Step 3's rows: each entry's score, the tie rule's keys, its prize by threshold."""
    method = contest.aggregation.value
    normalised = await _normalisation(session) if method == "normalised" else None
    scheme = contest.prize_scheme or {}
    thresholds: Mapping[str, float] | None = (
        scheme.get("thresholds", {}) if scheme.get("method") == "threshold" else None
    )
    t = totals_table.c
    connection = await session.connection()
    rows = await connection.stream(
        select(t.entry_id, t.division_id, t.judge_id, t.total, t.first_points)
        .order_by(t.entry_id, t.assignment_id)
        .execution_options(yield_per=BULK_BATCH)
    )

    def scored(
        entry_id: int,
        division_id: int | None,
        judges: list[int],
        totals: list[float],
        firsts: list[float],
    ) -> tuple[Any, ...]:
        score = entry_score(
            entry_id,
            totals,
            firsts,
            judges=judges,
            method=method,
            max_total=max_total,
            normalised=normalised,
        )
        prize = None if thresholds is None else prize_by_threshold(score.final, thresholds)
        return (entry_id, division_id, score.final, score.raw_mean, score.judges, prize,
                *rank_key(score))  # fmt: skip

    # An entry's totals are consecutive rows, which may span two partitions.
    entry_id: int | None = None
    division_id: int | None = None
    judges: list[int] = []
    totals: list[float] = []
    firsts: list[float] = []
    try:
        async for partition in rows.partitions():
            for row_entry, row_division, judge_id, total, first in partition:
                if row_entry != entry_id:
                    if entry_id is not None:
                        yield scored(entry_id, division_id, judges, totals, firsts)
                    entry_id, division_id = row_entry, row_division
                    judges, totals, firsts = [], [], []
                judges.append(judge_id)
                totals.append(total)
                firsts.append(first)
    finally:
        # The server's cursor holds the table until it is closed.
        await rows.close()
    if entry_id is not None:
        yield scored(entry_id, division_id, judges, totals, firsts)


async def score_entries(
    session: AsyncSession,
    *,
    contest: Contest,
    criteria: Sequence[Criterion],
    entries: int,
    progress: Progress,
) -> None:
    """Step 3: every entry's score into the second temporary table (``progress`` follows the
    entries scored)."""
    await insert_rows(
        session,
        scores_table,
        SCORE_COLUMNS,
        _scored(session, contest=contest, max_total=rubric_total(rubric_of(criteria))),
        total=entries,
        progress=progress,
    )


async def set_compared(session: AsyncSession, *, strengths: Mapping[int, float]) -> None:
    """A comparative final's strengths beside the scores (a shortlist: a few thousand at
    most)."""
    statement = (
        update(scores_table)
        .where(scores_table.c.entry_id == bindparam("the_entry"))
        .values(key_compared=bindparam("the_strength"))
    )
    items = list(strengths.items())
    for start in range(0, len(items), BULK_BATCH):
        await session.execute(
            statement,
            [
                {"the_entry": entry_id, "the_strength": round(strength, STRENGTH_DECIMALS)}
                for entry_id, strength in items[start : start + BULK_BATCH]
            ],
        )


async def rank_into_results(
    session: AsyncSession,
    *,
    contest_id: int,
    entries: int,
    now: datetime,
    final: Round | None = None,
    mode: ComparativeResults = ComparativeResults.RANK,
) -> int:
    """Step 4: the scores ranked per division become the contest's results; how many. An
    entry's result row is kept and rewritten when it has one (which spares the database
    checking its references again), made when it has none, and dropped when the entry has no
    score now. With a comparative ``final``, only its entries are ranked, its strengths
    first (``mode`` RANK) or after the rubric keys (TIES)."""
    s = scores_table.c
    rubric = (s.key_final.desc(), s.key_raw.desc(), s.key_first.desc())
    order: tuple[UnaryExpression[Any], ...] = rubric
    if final is not None:
        compared = s.key_compared.desc()
        order = (compared, *rubric) if mode == ComparativeResults.RANK else (*rubric, compared)
    ranked = select(
        s.entry_id,
        s.division_id,
        s.final,
        s.raw_mean,
        s.judges,
        s.prize,
        func.rank().over(partition_by=s.division_id, order_by=order),
    )
    if final is not None:
        ranked = ranked.join(round_entries, round_entries.c.entry_id == s.entry_id).where(
            round_entries.c.round_id == final.id
        )
    await session.execute(
        insert(ranked_table).from_select([c.name for c in ranked_table.columns], ranked)
    )
    if final is not None:
        entries = int(await session.scalar(select(func.count()).select_from(ranked_table)) or 0)
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.exec_driver_sql(f"ANALYZE {ranked_table.name}")
    x, r = ranked_table.c, RESULTS.c
    existing = int(
        await session.scalar(select(func.count()).where(r.contest_id == contest_id)) or 0
    )
    rewritten = 0
    if existing:
        rewrite = await connection.execute(
            update(RESULTS)
            .where(r.contest_id == contest_id, r.entry_id == x.entry_id)
            .values(
                division_id=x.division_id,
                rank=x.rank,
                final_score=x.final,
                raw_score=x.raw_mean,
                judges=x.judges,
                prize=x.prize,
                override_reason=null(),
                certificate_serial=null(),
                published_at=null(),
                created_at=literal(now, UTCDateTime()),
            )
        )
        rewritten = rewrite.rowcount
    if existing > rewritten:
        unscored = ~select(x.entry_id).where(x.entry_id == r.entry_id).exists()
        await session.execute(delete(RESULTS).where(r.contest_id == contest_id, unscored))
    if rewritten < entries:
        has_result = (
            select(r.id).where(r.contest_id == contest_id, r.entry_id == x.entry_id).exists()
        )
        await session.execute(
            insert(RESULTS).from_select(
                [
                    "contest_id",
                    "division_id",
                    "entry_id",
                    "rank",
                    "final_score",
                    "raw_score",
                    "judges",
                    "prize",
                    "override_reason",
                    "created_at",
                ],
                select(
                    literal(contest_id),
                    x.division_id,
                    x.entry_id,
                    x.rank,
                    x.final,
                    x.raw_mean,
                    x.judges,
                    x.prize,
                    null(),
                    literal(now, UTCDateTime()),
                )
                .where(~has_result)
                .order_by(x.division_id, x.rank, x.entry_id),
            )
        )
    if connection.dialect.name == "postgresql":
        await connection.exec_driver_sql(f'ANALYZE "{RESULTS.name}"')
    return entries


async def _best_ranks(
    session: AsyncSession, *, contest_id: int, division_id: int | None, reach: int
) -> list[Place]:
    """A division's results of its first ``reach`` distinct ranks, read in rank order."""
    connection = await session.connection()
    rows = await connection.stream(
        select(Result.entry_id, Result.rank)
        .where(
            Result.contest_id == contest_id,
            Result.division_id.is_(None)
            if division_id is None
            else Result.division_id == division_id,
        )
        .order_by(Result.rank, Result.entry_id)
        .execution_options(yield_per=1_000)
    )
    best: list[Place] = []
    ranks = 0
    async for entry_id, place in rows:
        if not best or best[-1].rank != place:
            if ranks == reach:
                break
            ranks += 1
        best.append(Place(entry_id, place))
    await rows.close()
    return best


async def award_by_count(
    session: AsyncSession, *, contest_id: int, tiers: Mapping[str, int]
) -> None:
    """Step 5: each division's best ranks, read in rank order until the ranks that can win
    are all in, given their prizes."""
    reach = ranks_for_count(tiers)
    if reach == 0:
        return
    divisions = (await session.scalars(select(scores_table.c.division_id).distinct())).all()
    awards: dict[int, str] = {}
    for division_id in divisions:
        best = await _best_ranks(
            session, contest_id=contest_id, division_id=division_id, reach=reach
        )
        awards.update(prizes_by_count(best, tiers))
    await set_prizes(
        session,
        contest_id=contest_id,
        prizes={entry_id: (Prize(tier), None) for entry_id, tier in awards.items()},
    )


async def award_thresholds_in_order(session: AsyncSession, *, contest_id: int) -> None:
    """Prizes by threshold for a shortlist ranked by a comparative final: each division keeps
    as many of each prize as the rubric scores reached, given down the comparative order."""
    x = ranked_table.c
    counted = await session.execute(
        select(x.division_id, x.prize, func.count())
        .where(x.prize.is_not(None))
        .group_by(x.division_id, x.prize)
    )
    tiers: dict[int | None, dict[str, int]] = {}
    for division_id, prize, count in counted:
        tiers.setdefault(division_id, {})[prize] = int(count)
    ranked = await session.scalars(select(x.entry_id))
    prizes: dict[int, tuple[Prize | None, str | None]] = dict.fromkeys(ranked, (None, None))
    for division_id, division_tiers in tiers.items():
        best = await _best_ranks(
            session,
            contest_id=contest_id,
            division_id=division_id,
            reach=ranks_for_count(division_tiers),
        )
        for entry_id, tier in prizes_by_count(best, division_tiers).items():
            prizes[entry_id] = (Prize(tier), None)
    await set_prizes(session, contest_id=contest_id, prizes=prizes)


async def set_prizes(
    session: AsyncSession,
    *,
    contest_id: int,
    prizes: Mapping[int, tuple[Prize | None, str | None]],
) -> None:
    """Entry id → (prize, reason for an organiser's override) on the contest's results."""
    if not prizes:
        return
    r = RESULTS.c
    statement = (
        update(RESULTS)
        .where(r.contest_id == contest_id, r.entry_id == bindparam("the_entry"))
        .values(prize=bindparam("the_prize"), override_reason=bindparam("the_reason"))
    )
    items = list(prizes.items())
    for start in range(0, len(items), BULK_BATCH):
        await session.execute(
            statement,
            [
                {"the_entry": entry_id, "the_prize": prize, "the_reason": reason}
                for entry_id, (prize, reason) in items[start : start + BULK_BATCH]
            ],
        )


async def prize_tally(session: AsyncSession, *, contest_id: int) -> dict[str, int]:
    """How many results hold each prize, best first."""
    counts = dict(
        (
            await session.execute(
                select(Result.prize, func.count())
                .where(Result.contest_id == contest_id, Result.prize.is_not(None))
                .group_by(Result.prize)
            )
        ).all()
    )
    return {prize.value: int(counts[prize]) for prize in Prize if prize in counts}
