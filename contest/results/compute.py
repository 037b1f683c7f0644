"""A round's results computed set-based, with the memory of one batch of entries at a time.

judging.scoring stays the one definition of every aggregation, of the tie rule and of the
prizes; the database does what grows with the contest: gathering each entry's totals, adding
up each judge's, sorting each division. In the caller's transaction:

1. the round's submitted totals are copied into a temporary table, once (the join of
   assignments, scores and entries, and the points of the first criterion read out of the
   JSON, cost more than anything after them);
2. for the normalised method, each judge's moments and the panel's are added up there, and
   ``scoring.normalisation`` makes the adjustments of them;
3. the totals are read in entry order, a batch of entries at a time (on PostgreSQL a range of
   entries through binary COPY from an index of the temporary table; on SQLite a cursor's
   partitions), and scored over arrays by ``scoring.entry_scores``, which gives each entry
   exactly what ``scoring.entry_score`` gives it; the scores, with the tie rule's keys
   (``scoring.rank_key``) and a prize by threshold, go into a second temporary table by bulk
   insert;
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

import numpy as np
import numpy.typing as npt
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
    text,
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
    entry_scores,
    normalisation,
    prizes_by_count,
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
        # Step 3 reads each range of entries' totals in order from it.
        await connection.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {totals_table.name}_order"
            f" ON {totals_table.name} (entry_id, assignment_id)"
        )
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


# The totals read as one row per total, each entry's in the order its score is computed from.
_NO_DIVISION = -1
_TOTALS_READ = (
    "SELECT entry_id, coalesce(division_id, -1), judge_id, total, first_points"
    " FROM compute_totals{where} ORDER BY entry_id, assignment_id"
)
# A row of that read in PostgreSQL's binary COPY format: the number of fields, then each
# field's length and value, big-endian (no field is NULL).
_COPY_ROW = np.dtype(
    [("fields", ">i2"), ("n0", ">i4"), ("entry", ">i4"), ("n1", ">i4"), ("division", ">i4"),
     ("n2", ">i4"), ("judge", ">i4"), ("n3", ">i4"), ("total", ">f8"), ("n4", ">i4"),
     ("first", ">f8")]
)  # fmt: skip
_COPY_HEADER, _COPY_TRAILER = 19, 2
# Rows read from PostgreSQL at a time (about 3 MB of them).
COPY_BATCH = 60_000


class _Totals(NamedTuple):
    """Rows of the totals table as arrays, in entry order (no division: ``_NO_DIVISION``)."""

    entries: npt.NDArray[np.int64]
    divisions: npt.NDArray[np.int64]
    judges: npt.NDArray[np.int64]
    totals: npt.NDArray[np.float64]
    firsts: npt.NDArray[np.float64]

    @classmethod
    def of_rows(cls, rows: Sequence[Sequence[Any]]) -> _Totals:
        entries, divisions, judges, totals, firsts = zip(*rows, strict=True)
        return cls(
            np.array(entries, dtype=np.int64),
            np.array(divisions, dtype=np.int64),
            np.array(judges, dtype=np.int64),
            np.array(totals, dtype=np.float64),
            np.array(firsts, dtype=np.float64),
        )

    @classmethod
    def of_copy(cls, data: bytes) -> _Totals:
        rows = np.frombuffer(
            data,
            _COPY_ROW,
            count=(len(data) - _COPY_HEADER - _COPY_TRAILER) // _COPY_ROW.itemsize,
            offset=_COPY_HEADER,
        )
        shape = (
            (rows["fields"] == 5)
            & (rows["n0"] == 4)
            & (rows["n1"] == 4)
            & (rows["n2"] == 4)
            & (rows["n3"] == 8)
            & (rows["n4"] == 8)
        )
        if not bool(np.all(shape)):
            raise ValueError("the totals' copy has rows of another shape")
        return cls(
            rows["entry"].astype(np.int64),
            rows["division"].astype(np.int64),
            rows["judge"].astype(np.int64),
            rows["total"].astype(np.float64),
            rows["first"].astype(np.float64),
        )

    def followed_by(self, other: _Totals) -> _Totals:
        return _Totals(
            np.concatenate([self.entries, other.entries]),
            np.concatenate([self.divisions, other.divisions]),
            np.concatenate([self.judges, other.judges]),
            np.concatenate([self.totals, other.totals]),
            np.concatenate([self.firsts, other.firsts]),
        )

    def part(self, rows: slice) -> _Totals:
        return _Totals(
            self.entries[rows],
            self.divisions[rows],
            self.judges[rows],
            self.totals[rows],
            self.firsts[rows],
        )

    def split_last(self) -> tuple[_Totals, _Totals]:
        """The rows before the last entry's, and the last entry's."""
        earlier = np.flatnonzero(self.entries != self.entries[-1]) if len(self.entries) else None
        cut = int(earlier[-1]) + 1 if earlier is not None and len(earlier) else 0
        return self.part(slice(None, cut)), self.part(slice(cut, None))


async def _copied_totals(connection: AsyncConnection) -> AsyncIterator[_Totals]:
    """PostgreSQL's totals, a range of entries at a time, through binary COPY from the
    (entry, assignment) index: no sort, no row objects, and the memory of one range."""
    t = totals_table.c
    low, high, count = (
        await connection.execute(select(func.min(t.entry_id), func.max(t.entry_id), func.count()))
    ).one()
    if not count:
        return
    width = max(1, (int(high) - int(low) + 1) * COPY_BATCH // int(count))
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    query = _TOTALS_READ.format(where=" WHERE entry_id >= $1 AND entry_id < $2")
    for start in range(int(low), int(high) + 1, width):
        chunks: list[bytes] = []

        async def take(chunk: bytes, chunks: list[bytes] = chunks) -> None:
            chunks.append(bytes(chunk))

        await driver.copy_from_query(query, start, start + width, output=take, format="binary")
        batch = _Totals.of_copy(b"".join(chunks))
        if len(batch.entries):
            yield batch


async def _streamed_totals(connection: AsyncConnection) -> AsyncIterator[_Totals]:
    """The totals through a cursor (SQLite), each batch ending with a whole entry: an entry's
    rows may span two partitions, so the last entry of one waits for the next."""
    rows = await connection.stream(
        text(_TOTALS_READ.format(where="")).execution_options(yield_per=BULK_BATCH)
    )
    held: _Totals | None = None
    try:
        async for partition in rows.partitions(BULK_BATCH):
            batch = _Totals.of_rows(partition)
            if held is not None:
                batch = held.followed_by(batch)
            batch, held = batch.split_last()
            if len(batch.entries):
                yield batch
    finally:
        # The cursor holds the table until it is closed.
        await rows.close()
    if held is not None and len(held.entries):
        yield held


async def _scored(
    session: AsyncSession, *, contest: Contest, max_total: float
) -> AsyncIterator[tuple[Any, ...]]:
    """Step 3's rows: each entry's score, the tie rule's keys, its prize by threshold, scored
    a batch of entries at a time by ``scoring.entry_scores`` (what ``entry_score``,
    ``rank_key`` and ``prize_by_threshold`` give each entry, over arrays)."""
    method = contest.aggregation.value
    normalised = await _normalisation(session) if method == "normalised" else None
    scheme = contest.prize_scheme or {}
    thresholds: Mapping[str, float] | None = (
        scheme.get("thresholds", {}) if scheme.get("method") == "threshold" else None
    )
    connection = await session.connection()
    batches = (
        _copied_totals(connection)
        if connection.dialect.name == "postgresql"
        else _streamed_totals(connection)
    )
    async for batch in batches:
        scores = entry_scores(
            batch.entries,
            batch.totals,
            batch.firsts,
            judges=batch.judges,
            method=method,
            max_total=max_total,
            normalised=normalised,
        )
        starts = np.flatnonzero(np.r_[True, batch.entries[1:] != batch.entries[:-1]])
        divisions = [None if d == _NO_DIVISION else d for d in batch.divisions[starts].tolist()]
        prizes = [None] * len(divisions) if thresholds is None else scores.prizes(thresholds)
        for row in zip(
            scores.entry_ids.tolist(),
            divisions,
            scores.final.tolist(),
            scores.raw_mean.tolist(),
            scores.judges.tolist(),
            prizes,
            *(key.tolist() for key in scores.rank_keys()),
            strict=True,
        ):
            yield row


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
