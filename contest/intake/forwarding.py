"""Rounds that move up the chain: a contest whose results are published forwards its best
entries to the next level's contest (``Contest.forwards_to_id``), at most
``Contest.forward_quota`` of each division per unit.

The unit a quota counts for is the forwarding organiser's: each unit they were given (a
province's organiser: their province); for an organiser of the whole event, each top-level
unit. What was forwarded before, by anyone, counts against it. A forwarded entry is a copy in
the next level's contest: the same entrant (and private link), the division of the same key,
the title, book and text, and copies of its files under keys of their own, so that
withdrawing, erasing or sweeping one copy never takes the other's bytes. The source's final
score goes along when the organiser asks (``Entry.forwarded_score``, shown to the next
level's organisers). Once a contest forwarded an entry its results are frozen: a re-marking
decision that would change them is refused (``contest.results.remarks``).

Like submitting an entry, forwarding carries files, so ``forward_entries`` runs its rows'
units of work itself: everything is checked first (a refusal writes nothing), the copies' rows
are committed unattached before their bytes are copied (the sweep finds them whatever happens
next), then the entries are made, checked again, in one transaction; if that fails, the
copies go.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest import audit
from contest.db import hold_write_lock
from contest.errors import CodedError, ContestError, NotFoundError
from contest.files import keys
from contest.i18n import N_, gettext
from contest.intake.interfaces import StorageDownError
from contest.intake.services import remove_assets
from contest.models import (
    Asset,
    Contest,
    Division,
    Entrant,
    Entry,
    EntryStatus,
    FileState,
    Result,
    Unit,
    User,
)
from contest.results.services import is_published
from contest.rules import OrganiserScope, organisers_own_units
from contest.tokens import new_receipt_code, normalize_receipt_code
from storage import Storage, StorageError

# Each refusal: its status and what the organiser reads (with the entry, unit or division named).
ERRORS: dict[str, tuple[int, str]] = {
    "no_target": (409, N_("This contest does not forward its entries to a next level.")),
    "not_published": (
        409,
        N_("Publish this contest's results first: only published results are forwarded."),
    ),
    "target_published": (
        409,
        N_("The next level's results are already published: it takes no more entries."),
    ),
    "nothing_chosen": (422, N_("Choose at least one entry to forward.")),
    "nothing_left": (409, N_("Every unit's quota is already forwarded: nothing is left to send.")),
    "not_found": (404, N_("No entry of this contest has the receipt code %(code)s.")),
    "twice": (409, N_("The entry %(code)s is already forwarded.")),
    "withdrawn": (409, N_("The entry %(code)s was withdrawn or disqualified.")),
    "no_result": (409, N_("The entry %(code)s has no published result.")),
    "files_not_ready": (
        409,
        N_("The files of the entry %(code)s are not processed yet; try again when they are."),
    ),
    "no_division": (
        409,
        N_("The next level's contest has no division %(division)s for the entry %(code)s."),
    ),
    "over_quota": (
        409,
        N_(
            "Over the quota: %(unit)s may forward %(quota)s entries of %(division)s, and "
            "this would make %(count)s. Nothing was forwarded."
        ),
    ),
}


class ForwardError(CodedError):
    """A refusal of forwarding, by the codes above; nothing was written."""

    errors = ERRORS


@dataclass(frozen=True)
class Candidate:
    """An entry of the source that may go up: its published result, the unit its quota
    counts for (None: an entrant without a unit) and its division's key."""

    entry: Entry
    result: Result
    root_id: int | None
    division_key: str | None


@dataclass
class Plan:
    source: Contest
    target: Contest
    quota: int
    chosen: list[Candidate]
    # The target's divisions by key.
    divisions: dict[str, Division] = field(default_factory=dict)


@dataclass(frozen=True)
class ForwardReport:
    target: Contest
    # (source receipt code, forwarded receipt code), in the order forwarded.
    forwarded: list[tuple[str, str]]


async def forward_entries(
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    *,
    source_id: int,
    receipt_codes: Sequence[str] | None,
    scope: OrganiserScope,
    with_scores: bool,
    actor: User,
) -> ForwardReport:
    """Forward the named entries of the source contest (``receipt_codes``), or with None the
    best of each unit and division up to the quota, to the next level's contest. Raises
    ForwardError (or NotFoundError for an entry outside the organiser's scope) having written
    nothing; StorageDownError when the files could not be copied (nothing is forwarded)."""
    async with sessionmaker.begin() as session:
        plan = await plan_forwarding(
            session, source_id=source_id, receipt_codes=receipt_codes, scope=scope
        )
        copies = await _add_copies(session, plan)
        codes = [c.entry.receipt_code for c in plan.chosen]
    await _copy_objects(sessionmaker, storage, copies)
    try:
        async with sessionmaker.begin() as session:
            # Checked again, holding the next level's row (SQLite: the write lock): another
            # organiser may have forwarded meanwhile, and one forwarding at the same moment
            # waits for this one's commit, so two never both fill the same quota.
            await hold_write_lock(session)
            await session.execute(
                select(Contest.id).where(Contest.id == plan.target.id).with_for_update()
            )
            plan = await plan_forwarding(
                session, source_id=source_id, receipt_codes=codes, scope=scope
            )
            forwarded = await _make_entries(
                session, plan, copies=copies, with_scores=with_scores, actor=actor
            )
    except (ContestError, IntegrityError):
        await remove_assets(sessionmaker=sessionmaker, storage=storage, assets=copies.assets)
        raise
    return ForwardReport(plan.target, forwarded)


async def plan_forwarding(
    session: AsyncSession,
    *,
    source_id: int,
    receipt_codes: Sequence[str] | None,
    scope: OrganiserScope,
) -> Plan:
    """What forwarding would send, every rule checked; reads only."""
    source = await session.get(Contest, source_id)
    if source is None:
        raise NotFoundError()
    target = await forward_target(session, source)
    if target is None or not source.forward_quota:
        raise ForwardError("no_target")
    if not await is_published(session, contest_id=source.id):
        raise ForwardError("not_published")
    if await is_published(session, contest_id=target.id):
        raise ForwardError("target_published")
    quota = source.forward_quota
    tree = _quota_units(scope, event_id=source.event_id)
    already = await _forwarded_counts(session, target=target, tree=tree, scope=scope)
    if receipt_codes is None:
        chosen = _best(await _candidates(session, source, tree, scope, best=quota), quota, already)
        if not chosen:
            raise ForwardError("nothing_left")
    else:
        chosen = await _named(session, source, tree, scope, receipt_codes)
    await _check_named(session, target, chosen)
    await _check_quota(session, chosen, quota, already)
    divisions = {
        d.key: d
        for d in await session.scalars(select(Division).where(Division.contest_id == target.id))
    }
    for candidate in chosen:
        if candidate.division_key is not None and candidate.division_key not in divisions:
            raise ForwardError(
                "no_division", division=candidate.division_key, code=candidate.entry.receipt_code
            )
    return Plan(source, target, quota, chosen, divisions)


async def forward_target(session: AsyncSession, source: Contest) -> Contest | None:
    """The next level's contest, when the source names one of its own event and kind."""
    if source.forwards_to_id is None:
        return None
    target = await session.get(Contest, source.forwards_to_id)
    if (
        target is None
        or target.event_id != source.event_id
        or target.id == source.id
        or target.kind != source.kind
    ):
        return None
    return target


def _quota_units(scope: OrganiserScope, *, event_id: int) -> Select[*tuple[Any, ...]]:
    """Every unit with the unit its quota counts for (``root``): below each of the
    organiser's units, or below each top-level unit of the event."""
    roots: Select[*tuple[Any, ...]]
    if scope.for_units:
        roots = select(Unit.id).where(Unit.id.in_(organisers_own_units(scope.user_id)))
    else:
        roots = select(Unit.id).where(Unit.event_id == event_id, Unit.parent_id.is_(None))
    anchor = roots.add_columns(Unit.id.label("root"))
    tree = anchor.cte("quota_units", recursive=True)
    tree = tree.union_all(select(Unit.id, tree.c.root).join(tree, Unit.parent_id == tree.c.id))
    return select(tree.c.id, tree.c.root)


def _with_root(
    query: Select[*tuple[Any, ...]], tree: Select[*tuple[Any, ...]], scope: OrganiserScope
) -> Select[*tuple[Any, ...]]:
    """``query`` (over entries and their entrants) with the unit each entry's quota counts
    for; an organiser of some units keeps only their units' entries."""
    units = tree.subquery("quota_units_of")
    query = query.add_columns(units.c.root).outerjoin(units, units.c.id == Entrant.unit_id)
    return query.where(units.c.root.is_not(None)) if scope.for_units else query


async def _forwarded_counts(
    session: AsyncSession, *, target: Contest, tree: Select[*tuple[Any, ...]], scope: OrganiserScope
) -> dict[tuple[int | None, str | None], int]:
    """How many entries each unit already forwarded, by division key."""
    query = _with_root(
        select(Division.key)
        .select_from(Entry)
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .outerjoin(Division, Division.id == Entry.division_id)
        .where(Entry.contest_id == target.id, Entry.forwarded_from_id.is_not(None)),
        tree,
        scope,
    )
    rows = (await session.execute(query)).all()
    counts: dict[tuple[int | None, str | None], int] = {}
    for key, root in rows:
        counts[(root, key)] = counts.get((root, key), 0) + 1
    return counts


async def _candidates(
    session: AsyncSession,
    source: Contest,
    tree: Select[*tuple[Any, ...]],
    scope: OrganiserScope,
    *,
    best: int,
) -> list[Candidate]:
    """The best ``best`` entries still in the contest and not forwarded yet, of each unit and
    division, in rank order (the database cuts each group: a nation's results are many)."""
    forwarded = select(Entry.forwarded_from_id).where(
        Entry.contest_id == source.forwards_to_id, Entry.forwarded_from_id.is_not(None)
    )
    units = tree.subquery("quota_units_of")
    ranked = (
        select(
            Entry.id,
            units.c.root,
            func.row_number()
            .over(
                partition_by=(units.c.root, Result.division_id),
                order_by=(Result.rank, Result.entry_id),
            )
            .label("place"),
        )
        .join(Result, Result.entry_id == Entry.id)
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .outerjoin(units, units.c.id == Entrant.unit_id)
        .where(
            Entry.contest_id == source.id,
            Result.published_at.is_not(None),
            Entry.status == EntryStatus.SUBMITTED,
            Entry.id.not_in(forwarded),
        )
    )
    if scope.for_units:
        ranked = ranked.where(units.c.root.is_not(None))
    numbered = ranked.subquery("ranked")
    entry_ids = select(numbered.c.id, numbered.c.root).where(numbered.c.place <= best)
    roots = {row.id: row.root for row in (await session.execute(entry_ids)).all()}
    if not roots:
        return []
    rows = (
        await session.execute(
            select(Entry, Result, Division.key)
            .join(Result, Result.entry_id == Entry.id)
            .outerjoin(Division, Division.id == Result.division_id)
            .where(Entry.id.in_(list(roots)))
            .order_by(Result.division_id, Result.rank, Result.entry_id)
        )
    ).all()
    return [Candidate(entry, result, roots[entry.id], key) for entry, result, key in rows]


def _best(
    candidates: Sequence[Candidate], quota: int, already: dict[tuple[int | None, str | None], int]
) -> list[Candidate]:
    taken = dict(already)
    chosen = []
    for candidate in candidates:
        group = (candidate.root_id, candidate.division_key)
        if taken.get(group, 0) < quota:
            taken[group] = taken.get(group, 0) + 1
            chosen.append(candidate)
    return chosen


async def _named(
    session: AsyncSession,
    source: Contest,
    tree: Select[*tuple[Any, ...]],
    scope: OrganiserScope,
    receipt_codes: Sequence[str],
) -> list[Candidate]:
    """The named entries, each checked: one outside the scope is not found, as elsewhere."""
    codes = list(dict.fromkeys(normalize_receipt_code(c) for c in receipt_codes if c.strip()))
    if not codes:
        raise ForwardError("nothing_chosen")
    base = (
        select(Entry)
        .join(Entrant, Entrant.id == Entry.entrant_id)
        .where(Entry.contest_id == source.id, Entry.receipt_code.in_(codes))
    )
    found = {
        entry.receipt_code: (entry, root)
        for entry, root in (await session.execute(_with_root(base, tree, scope))).all()
    }
    for code in codes:
        if code not in found:
            raise ForwardError("not_found", code=code)
    chosen = []
    for code in codes:
        entry, root = found[code]
        if entry.status != EntryStatus.SUBMITTED:
            raise ForwardError("withdrawn", code=code)
        result = await session.scalar(
            select(Result).where(Result.entry_id == entry.id, Result.published_at.is_not(None))
        )
        if result is None:
            raise ForwardError("no_result", code=code)
        key = await session.scalar(select(Division.key).where(Division.id == result.division_id))
        chosen.append(Candidate(entry, result, root, key))
    return chosen


async def _check_named(session: AsyncSession, target: Contest, chosen: Sequence[Candidate]) -> None:
    forwarded = set(
        await session.scalars(
            select(Entry.forwarded_from_id).where(
                Entry.contest_id == target.id,
                Entry.forwarded_from_id.in_([c.entry.id for c in chosen]),
            )
        )
    )
    for candidate in chosen:
        if candidate.entry.id in forwarded:
            raise ForwardError("twice", code=candidate.entry.receipt_code)
        if candidate.entry.files_state != FileState.READY:
            raise ForwardError("files_not_ready", code=candidate.entry.receipt_code)


async def _check_quota(
    session: AsyncSession,
    chosen: Sequence[Candidate],
    quota: int,
    already: dict[tuple[int | None, str | None], int],
) -> None:
    counts = dict(already)
    for candidate in chosen:
        group = (candidate.root_id, candidate.division_key)
        counts[group] = counts.get(group, 0) + 1
        if counts[group] > quota:
            unit = await session.get(Unit, candidate.root_id) if candidate.root_id else None
            division = await session.get(Division, candidate.result.division_id or 0)
            raise ForwardError(
                "over_quota",
                unit=unit.name if unit else gettext("entrants without a unit"),
                division=division.name if division else gettext("no division"),
                quota=quota,
                count=counts[group],
            )


@dataclass
class Copies:
    """The copies' rows (committed unattached) and, by source asset, the copy's row."""

    assets: list[Asset]
    by_source: dict[int, Asset]
    # (the source's key, the copy's key, its content type)
    objects: list[tuple[str, str, str]]
    # The copy's id by the entry its source belongs to.
    of_entry: dict[int, list[int]]


async def _add_copies(session: AsyncSession, plan: Plan) -> Copies:
    originals = list(
        await session.scalars(
            select(Asset)
            .where(Asset.entry_id.in_([c.entry.id for c in plan.chosen]))
            .order_by(Asset.source_id.is_not(None), Asset.id)
        )
    )
    folders: dict[str, str] = {}
    by_source: dict[int, Asset] = {}
    for asset in originals:
        folder = asset.storage_key.rsplit("/", 1)[0]
        upload_id = folders.setdefault(folder, uuid.uuid4().hex)
        copy = Asset(
            entry_id=None,
            source_id=by_source[asset.source_id].id if asset.source_id is not None else None,
            role=asset.role,
            storage_key=keys.copied_key(asset.storage_key, upload_id),
            content_type=asset.content_type,
            size=asset.size,
            sha256=asset.sha256,
            original_filename=asset.original_filename,
            width=asset.width,
            height=asset.height,
            state=asset.state,
        )
        session.add(copy)
        await session.flush()
        by_source[asset.id] = copy
    of_entry: dict[int, list[int]] = {}
    for asset in originals:
        of_entry.setdefault(asset.entry_id or 0, []).append(by_source[asset.id].id)
    return Copies(
        list(by_source.values()),
        by_source,
        [(a.storage_key, by_source[a.id].storage_key, a.content_type) for a in originals],
        of_entry,
    )


async def _copy_objects(
    sessionmaker: async_sessionmaker[AsyncSession], storage: Storage, copies: Copies
) -> None:
    try:
        for source_key, key, content_type in copies.objects:
            await storage.put_stream(
                key, await storage.get_stream(source_key), content_type=content_type
            )
    except (StorageError, FileNotFoundError):
        await remove_assets(sessionmaker=sessionmaker, storage=storage, assets=copies.assets)
        raise StorageDownError() from None


async def _make_entries(
    session: AsyncSession, plan: Plan, *, copies: Copies, with_scores: bool, actor: User
) -> list[tuple[str, str]]:
    forwarded = []
    sources = {c.entry.id: c for c in plan.chosen}
    made: dict[int, Entry] = {}
    for candidate in plan.chosen:
        entry = candidate.entry
        division = plan.divisions.get(candidate.division_key or "")
        copy = Entry(
            contest_id=plan.target.id,
            division_id=division.id if division else None,
            entrant_id=entry.entrant_id,
            receipt_code=await _free_receipt_code(session),
            # The family's private link opens the forwarded entry too.
            edit_token_hash=entry.edit_token_hash,
            title=entry.title,
            note=entry.note,
            book_title=entry.book_title,
            book_author=entry.book_author,
            body_text=entry.body_text,
            word_count=entry.word_count,
            status=EntryStatus.SUBMITTED,
            submitted_by_id=actor.id,
            files_state=entry.files_state,
            forwarded_from_id=entry.id,
            forwarded_score=candidate.result.final_score if with_scores else None,
        )
        session.add(copy)
        made[entry.id] = copy
    await session.flush()
    for entry_id, copy in made.items():
        if copies.of_entry.get(entry_id):
            await session.execute(
                update(Asset)
                .where(Asset.id.in_(copies.of_entry[entry_id]), Asset.entry_id.is_(None))
                .values(entry_id=copy.id)
            )
    for entry_id, copy in made.items():
        candidate = sources[entry_id]
        audit.record(
            session,
            "entry.forward",
            copy,
            actor=actor,
            after={
                "from_contest": plan.source.id,
                "from_entry": entry_id,
                "receipt_code": copy.receipt_code,
                "score": copy.forwarded_score,
                "rank": candidate.result.rank,
            },
        )
        forwarded.append((candidate.entry.receipt_code, copy.receipt_code))
    await session.flush()
    return forwarded


async def _free_receipt_code(session: AsyncSession) -> str:
    while True:
        code = new_receipt_code()
        if await session.scalar(select(Entry.id).where(Entry.receipt_code == code)) is None:
            return code
