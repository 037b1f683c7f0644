"""Rounds that move up the chain: a province's organiser forwards the best of its entries of
each division, within the quota, to the national contest; the national organiser sees there
only what was forwarded; refusals (over quota, twice, another province's entry, results not
published) write nothing; the files are copies of their own; the source's results freeze."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.intake import forwarding
from contest.intake.cli import sweep
from contest.intake.forwarding import ForwardError, forward_entries
from contest.intake.interfaces import StorageDownError
from contest.models import (
    Asset,
    AssetRole,
    AuditEvent,
    Contest,
    Division,
    Entry,
    EntryStatus,
    Prize,
    RemarkRequest,
    RemarkStatus,
    Result,
    User,
)
from contest.results import remarks
from contest.rules import OrganiserScope
from contest.settings import Settings
from contest.tokens import EDIT_TOKEN_HEADER, hash_token, new_secret_token
from storage import Storage, StorageUnavailableError
from tests.results.support import Row, make_results
from tests.support import (
    WRITING,
    MakeUser,
    app_client,
    contest_id_of,
    csrf_from,
    make_entries,
    make_next_level,
    province_and_nation,
    stored,
    vi,
)

NATIONAL = "viet-ve-cuon-sach-quoc-gia"
QUOTA = 2


@dataclass
class Ladder:
    """Province A's and province B's entries of the writing contest, ranked and published,
    the national contest it forwards to (2 of each division per province), and a signed-in
    organiser of province A and of the nation."""

    province: httpx.AsyncClient
    national: httpx.AsyncClient
    source_id: int
    target_id: int
    primary: list[str]  # province A's primary-school division, best first
    lower_secondary: list[str]  # province A's entrants of the lower-secondary division
    theirs: list[str]  # province B's, one in each division
    headers: dict[str, str]  # the province's CSRF header for the API


async def _codes(sessionmaker: async_sessionmaker[AsyncSession], ids: list[int]) -> list[str]:
    async with sessionmaker() as session:
        found = dict(
            (
                await session.execute(select(Entry.id, Entry.receipt_code).where(Entry.id.in_(ids)))
            ).all()
        )
    return [found[i] for i in ids]


@pytest.fixture
async def ladder(
    demo: DemoReport,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> AsyncIterator[Ladder]:
    primary = await make_entries(
        sessionmaker, WRITING, ages=[8, 8, 9, 9], unit_code="th-bach-sam-5a"
    )
    lower = await make_entries(sessionmaker, WRITING, ages=[12, 13], unit_code="th-bach-sam-5a")
    theirs = await make_entries(sessionmaker, WRITING, ages=[8, 12], unit_code="thcs-bach-sam-6a")
    # Ranks within each division: province B's primary entry is second.
    await make_results(
        sessionmaker,
        [
            Row(primary[0], 1, 9.5, Prize.FIRST),
            Row(theirs[0], 2, 9.0, Prize.SECOND),
            Row(primary[1], 3, 8.5),
            Row(primary[2], 4, 8.0),
            Row(primary[3], 5, 7.5),
            Row(theirs[1], 1, 9.0, Prize.FIRST),
            Row(lower[0], 2, 8.0),
            Row(lower[1], 3, 7.0),
        ],
    )
    target_id = await make_next_level(
        sessionmaker,
        WRITING,
        slug=NATIONAL,
        title="Viết về cuốn sách em yêu (toàn quốc)",
        quota=QUOTA,
    )
    async with province_and_nation(settings, sessionmaker, make_user) as (as_province, as_national):
        source_id = await contest_id_of(sessionmaker, WRITING)
        token = await csrf_from(as_province, f"/admin/contests/{source_id}/forward")
        yield Ladder(
            as_province,
            as_national,
            source_id,
            target_id,
            await _codes(sessionmaker, primary),
            await _codes(sessionmaker, lower),
            await _codes(sessionmaker, theirs),
            {"X-CSRF-Token": token},
        )


async def _forward(
    ladder: Ladder, body: dict[str, Any], client: httpx.AsyncClient | None = None
) -> httpx.Response:
    client = client or ladder.province
    headers = ladder.headers
    if client is ladder.national:
        token = await csrf_from(client, f"/admin/contests/{ladder.source_id}/forward")
        headers = {"X-CSRF-Token": token}
    return await client.post(f"/api/v1/contests/{WRITING}/forward", json=body, headers=headers)


@dataclass(frozen=True)
class Written:
    """What forwarding writes: the target's entries, all files' rows, the audit's events."""

    entries: int
    assets: int
    audit: int


async def _written(sessionmaker: async_sessionmaker[AsyncSession], ladder: Ladder) -> Written:
    async with sessionmaker() as session:
        entries = await session.scalar(
            select(func.count(Entry.id)).where(Entry.contest_id == ladder.target_id)
        )
        assets = await session.scalar(select(func.count(Asset.id)))
        audit = await session.scalar(select(func.count(AuditEvent.id)))
    return Written(int(entries or 0), int(assets or 0), int(audit or 0))


async def _targets(
    sessionmaker: async_sessionmaker[AsyncSession], ladder: Ladder
) -> dict[str, Entry]:
    """The target contest's entries by the receipt code of the entry each came from."""
    async with sessionmaker() as session:
        copies = list(
            (await session.scalars(select(Entry).where(Entry.contest_id == ladder.target_id))).all()
        )
        sources = dict(
            (
                await session.execute(
                    select(Entry.id, Entry.receipt_code).where(
                        Entry.id.in_([c.forwarded_from_id for c in copies])
                    )
                )
            ).all()
        )
    return {sources[c.forwarded_from_id]: c for c in copies if c.forwarded_from_id}


async def test_a_province_forwards_its_best_of_each_division_within_the_quota(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await _forward(ladder, {})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["target"] == NATIONAL
    best = ladder.primary[:QUOTA] + ladder.lower_secondary[:QUOTA]
    assert sorted(f["from"] for f in answer["forwarded"]) == sorted(best)
    copies = await _targets(sessionmaker, ladder)
    assert set(copies) == set(best)
    async with sessionmaker() as session:
        for code, copy in copies.items():
            source = await session.scalar(select(Entry).where(Entry.receipt_code == code))
            assert source is not None
            assert copy.entrant_id == source.entrant_id
            assert copy.title == source.title and copy.body_text == source.body_text
            assert copy.receipt_code != source.receipt_code
            assert copy.status == EntryStatus.SUBMITTED
            # Without the scores asked for, none is carried.
            assert copy.forwarded_score is None
            keys = await session.scalars(
                select(Division.key).where(
                    Division.id.in_([copy.division_id or 0, source.division_id or 0])
                )
            )
            assert len(set(keys)) == 1
        audited = await session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "entry.forward")
        )
    assert audited == len(best)
    # The quota is filled: nothing is left to forward, and nothing more is written.
    before = await _written(sessionmaker, ladder)
    again = await _forward(ladder, {})
    assert again.status_code == 409
    assert vi("Every unit's quota is already forwarded: nothing is left to send.") in again.text
    assert await _written(sessionmaker, ladder) == before


async def test_over_the_quota_is_refused_and_nothing_is_written(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    before = await _written(sessionmaker, ladder)
    over = await _forward(ladder, {"entries": ladder.primary[:3]})
    assert over.status_code == 409
    message = over.json()["error"]["message"]
    assert "Tỉnh A" in message and "Tiểu học" in message
    assert "2" in message and "3" in message
    assert await _written(sessionmaker, ladder) == before
    # Within the quota it goes; then one more of the same division is over it.
    assert (await _forward(ladder, {"entries": ladder.primary[:2]})).status_code == 200
    after = await _written(sessionmaker, ladder)
    one_more = await _forward(ladder, {"entries": [ladder.primary[2]]})
    assert one_more.status_code == 409
    assert await _written(sessionmaker, ladder) == after
    # Another division has its own quota.
    assert (await _forward(ladder, {"entries": ladder.lower_secondary[:1]})).status_code == 200


async def test_an_entry_is_forwarded_once(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = ladder.primary[0]
    assert (await _forward(ladder, {"entries": [first]})).status_code == 200
    before = await _written(sessionmaker, ladder)
    twice = await _forward(ladder, {"entries": [first]})
    assert twice.status_code == 409
    assert vi("The entry %(code)s is already forwarded.", code=first) in twice.text
    assert await _written(sessionmaker, ladder) == before
    # The best of the rest skips it.
    rest = await _forward(ladder, {})
    assert [f["from"] for f in rest.json()["forwarded"]] == [
        ladder.primary[1],
        *ladder.lower_secondary[:QUOTA],
    ]


async def test_another_provinces_entry_is_not_found(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    before = await _written(sessionmaker, ladder)
    other = ladder.theirs[0]
    refused = await _forward(ladder, {"entries": [ladder.primary[0], other]})
    assert refused.status_code == 404
    assert vi("No entry of this contest has the receipt code %(code)s.", code=other) in (
        refused.text
    )
    assert await _written(sessionmaker, ladder) == before
    # Its best-of list holds only its own province.
    page = await ladder.province.get(f"/admin/contests/{ladder.source_id}/forward")
    assert page.status_code == 200
    assert all(code in page.text for code in ladder.primary[:QUOTA])
    assert not any(code in page.text for code in ladder.theirs)
    # The national organiser forwards it, for province B's quota.
    national = await _forward(ladder, {"entries": [other]}, ladder.national)
    assert national.status_code == 200, national.text


async def test_unpublished_results_are_not_forwarded(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        await session.execute(
            update(Result).where(Result.contest_id == ladder.source_id).values(published_at=None)
        )
        await session.commit()
    before = await _written(sessionmaker, ladder)
    for body in ({}, {"entries": ladder.primary[:1]}):
        refused = await _forward(ladder, body)
        assert refused.status_code == 409
        assert vi(
            "Publish this contest's results first: only published results are forwarded."
        ) in (refused.text)
    assert await _written(sessionmaker, ladder) == before


async def test_the_scores_go_along_when_asked_and_the_nation_sees_them(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await _forward(ladder, {"entries": ladder.primary[:2], "with_scores": True})
    assert response.status_code == 200
    copies = await _targets(sessionmaker, ladder)
    assert {code: c.forwarded_score for code, c in copies.items()} == {
        ladder.primary[0]: 9.5,
        ladder.primary[1]: 8.5,
    }
    listed = await ladder.national.get(f"/api/v1/contests/{NATIONAL}/entries")
    scores = {e["receipt_code"]: e["forwarded_score"] for e in listed.json()["entries"]}
    assert sorted(scores.values()) == [8.5, 9.5]
    page = await ladder.national.get(f"/admin/contests/{ladder.target_id}/entries")
    assert vi("score at the level below: %(score)s", score="9,5") in page.text
    # Without: none.
    assert (await _forward(ladder, {"entries": ladder.lower_secondary[:1]})).status_code == 200
    assert (await _targets(sessionmaker, ladder))[ladder.lower_secondary[0]].forwarded_score is None


async def test_the_nation_sees_in_its_contest_only_the_forwarded_entries(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async def listed(client: httpx.AsyncClient) -> set[str]:
        response = await client.get(f"/api/v1/contests/{NATIONAL}/entries")
        assert response.status_code == 200
        return {e["receipt_code"] for e in response.json()["entries"]}

    assert await listed(ladder.national) == set()
    mine = await _forward(ladder, {})
    theirs = await _forward(ladder, {"entries": ladder.theirs}, ladder.national)
    forwarded = {f["receipt_code"] for f in mine.json()["forwarded"] + theirs.json()["forwarded"]}
    assert len(forwarded) == 2 * QUOTA + len(ladder.theirs)
    assert await listed(ladder.national) == forwarded
    assert all(
        e["forwarded"]
        for e in (await ladder.national.get(f"/api/v1/contests/{NATIONAL}/entries")).json()[
            "entries"
        ]
    )
    # The province sees its own there, not province B's.
    assert await listed(ladder.province) == {f["receipt_code"] for f in mine.json()["forwarded"]}


async def _rescored(sessionmaker: async_sessionmaker[AsyncSession], code: str) -> tuple[int, User]:
    """A re-marking request for the entry, re-scored and waiting for the decision; and an
    organiser to decide it."""
    async with sessionmaker() as session:
        entry = await session.scalar(select(Entry).where(Entry.receipt_code == code))
        assert entry is not None
        remark = RemarkRequest(
            entry_id=entry.id,
            contest_id=entry.contest_id,
            reason="Xin chấm lại.",
            status=RemarkStatus.RESCORED,
            total=10.0,
        )
        session.add(remark)
        organiser = await session.scalar(select(User).where(User.email == "quoc-gia@example.vn"))
        assert organiser is not None
        await session.commit()
        return remark.id, organiser


async def test_the_source_results_freeze_once_entries_are_forwarded(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # Before forwarding, re-marking may still change a prize.
    remark_id, organiser = await _rescored(sessionmaker, ladder.primary[2])
    async with sessionmaker() as session:
        decided = await remarks.decide_remark(
            session, remark_id=remark_id, prize=Prize.THIRD, note="Đổi giải.", actor=organiser
        )
        assert decided.status == RemarkStatus.CHANGED
        await session.commit()
    assert (await _forward(ladder, {"entries": ladder.primary[:1]})).status_code == 200
    remark_id, organiser = await _rescored(sessionmaker, ladder.primary[3])
    async with sessionmaker() as session:
        with pytest.raises(remarks.RemarkError) as refused:
            await remarks.decide_remark(
                session, remark_id=remark_id, prize=Prize.THIRD, note="Đổi giải.", actor=organiser
            )
        assert refused.value.code == "frozen"
        await session.rollback()
        # Upholding the result is still a decision.
        upheld = await remarks.decide_remark(
            session, remark_id=remark_id, prize=None, note="Giữ nguyên.", actor=organiser
        )
        assert upheld.status == RemarkStatus.UPHELD
        await session.commit()
        prize = await session.scalar(
            select(Result.prize)
            .join(Entry, Entry.id == Result.entry_id)
            .where(Entry.receipt_code == ladder.primary[3])
        )
    assert prize is None


async def _attach_drawing(
    sessionmaker: async_sessionmaker[AsyncSession], storage: Storage, code: str
) -> tuple[bytes, list[str]]:
    """An original and its preview, stored and attached to the entry; their bytes and keys."""
    data = b"\xff\xd8\xff" + uuid.uuid4().bytes * 64
    folder = f"entries/{uuid.uuid4().hex}"

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    keys = [f"{folder}/original.jpg", f"{folder}/preview.jpg"]
    for key in keys:
        await storage.put_stream(key, chunks(), content_type="image/jpeg")
    async with sessionmaker() as session:
        entry_id = await session.scalar(select(Entry.id).where(Entry.receipt_code == code))
        digest = hashlib.sha256(data).hexdigest()
        original = Asset(
            entry_id=entry_id,
            storage_key=keys[0],
            content_type="image/jpeg",
            size=len(data),
            sha256=digest,
            original_filename="tranh.jpg",
        )
        session.add(original)
        await session.flush()
        session.add(
            Asset(
                entry_id=entry_id,
                source_id=original.id,
                role=AssetRole.PREVIEW,
                storage_key=keys[1],
                content_type="image/jpeg",
                size=len(data),
                sha256=digest,
            )
        )
        await session.commit()
    return data, keys


async def _read(storage: Storage, key: str) -> bytes:
    return b"".join([chunk async for chunk in await storage.get_stream(key)])


async def _forwarded_drawing(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession], storage: Storage
) -> tuple[str, bytes, list[str], Entry]:
    """Province A's best entry, given a drawing, forwarded: its code, the drawing's bytes,
    the source's keys and the copy."""
    code = ladder.primary[0]
    data, source_keys = await _attach_drawing(sessionmaker, storage, code)
    assert (await _forward(ladder, {"entries": [code]})).status_code == 200
    return code, data, source_keys, (await _targets(sessionmaker, ladder))[code]


async def test_the_files_are_copies_of_their_own(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession], storage: Storage
) -> None:
    _code, data, source_keys, copy = await _forwarded_drawing(ladder, sessionmaker, storage)
    async with sessionmaker() as session:
        copied = list(
            await session.scalars(select(Asset).where(Asset.entry_id == copy.id).order_by(Asset.id))
        )
    assert [a.role for a in copied] == [AssetRole.ORIGINAL, AssetRole.PREVIEW]
    assert copied[1].source_id == copied[0].id
    assert not {a.storage_key for a in copied} & set(source_keys)
    assert [await _read(storage, a.storage_key) for a in copied] == [data, data]
    # The copy withdrawn and swept: the source's bytes stay.
    async with sessionmaker() as session:
        await session.execute(
            update(Entry).where(Entry.id == copy.id).values(status=EntryStatus.WITHDRAWN)
        )
        await session.commit()
    await sweep(sessionmaker=sessionmaker, storage=storage)
    assert [await _read(storage, key) for key in source_keys] == [data, data]
    assert not await storage.exists(copied[0].storage_key)


async def test_the_source_withdrawn_and_swept_leaves_the_copys_files(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession], storage: Storage
) -> None:
    code, data, source_keys, copy = await _forwarded_drawing(ladder, sessionmaker, storage)
    async with sessionmaker() as session:
        await session.execute(
            update(Entry).where(Entry.receipt_code == code).values(status=EntryStatus.WITHDRAWN)
        )
        await session.commit()
        copied = list(
            await session.scalars(select(Asset.storage_key).where(Asset.entry_id == copy.id))
        )
    await sweep(sessionmaker=sessionmaker, storage=storage)
    assert not await storage.exists(source_keys[0])
    assert [await _read(storage, key) for key in copied] == [data, data]


async def test_the_family_reads_the_forwarded_entry_with_its_link_but_cannot_change_it(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    token = new_secret_token()
    async with sessionmaker() as session:
        await session.execute(
            update(Entry)
            .where(Entry.receipt_code == ladder.primary[0])
            .values(edit_token_hash=hash_token(token))
        )
        await session.commit()
    assert (await _forward(ladder, {"entries": ladder.primary[:1]})).status_code == 200
    copy = (await _targets(sessionmaker, ladder))[ladder.primary[0]]
    headers = {EDIT_TOKEN_HEADER: token}
    async with app_client(settings) as family:
        read = await family.get(f"/api/v1/entries/{copy.receipt_code}", headers=headers)
        assert read.status_code == 200
        changed = await family.patch(
            f"/api/v1/entries/{copy.receipt_code}", headers=headers, data={"title": "Bài khác"}
        )
        assert changed.status_code == 403
        assert (
            vi(
                "This entry was forwarded from the level below and can no longer be changed. "
                "Ask the organisers if it must be withdrawn."
            )
            in changed.text
        )
        withdrawn = await family.post(
            f"/api/v1/entries/{copy.receipt_code}/withdraw", headers=headers
        )
        assert withdrawn.status_code == 403
    assert (await stored(sessionmaker, Entry, copy.id)).title == copy.title
    assert (await stored(sessionmaker, Entry, copy.id)).status == EntryStatus.SUBMITTED


async def test_the_page_forwards_the_ticked_entries(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    path = f"/admin/contests/{ladder.source_id}/forward"
    page = await ladder.province.get(path)
    token = await csrf_from(ladder.province, path)
    # Unticking all of them forwards nothing.
    empty = await ladder.province.post(path, data={"csrf_token": token})
    assert empty.status_code == 422
    assert vi("Choose at least one entry to forward.") in empty.text
    assert (await _written(sessionmaker, ladder)).entries == 0
    assert f'value="{ladder.primary[0]}"' in page.text
    sent = await ladder.province.post(
        path,
        data={
            "csrf_token": token,
            "entry": [ladder.primary[0], ladder.lower_secondary[1]],
            "with_scores": "1",
        },
    )
    assert sent.status_code == 303
    shown = await ladder.province.get(sent.headers["location"])
    assert (
        vi(
            "%(count)s entries were forwarded to %(contest)s.",
            count="2",
            contest="Viết về cuốn sách em yêu (toàn quốc)",
        )
        in shown.text
    )
    copies = await _targets(sessionmaker, ladder)
    assert {code: c.forwarded_score for code, c in copies.items()} == {
        ladder.primary[0]: 9.5,
        ladder.lower_secondary[1]: 7.0,
    }


async def test_bad_requests_and_a_contest_without_a_next_level_write_nothing(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    before = await _written(sessionmaker, ladder)
    for body in ({"entries": "ABCD"}, {"with_scores": "yes"}, {"entries": [1]}, {"other": 1}):
        refused = await _forward(ladder, body)
        assert refused.status_code == 422, body
    async with sessionmaker() as session:
        await session.execute(
            update(Contest).where(Contest.id == ladder.source_id).values(forwards_to_id=None)
        )
        await session.commit()
    nowhere = await _forward(ladder, {})
    assert nowhere.status_code == 409
    assert vi("This contest does not forward its entries to a next level.") in nowhere.text
    page = await ladder.province.get(f"/admin/contests/{ladder.source_id}/forward")
    assert page.status_code == 200
    assert vi("This contest does not forward its entries to a next level.") in page.text
    assert await _written(sessionmaker, ladder) == before


async def test_a_storage_outage_while_copying_forwards_nothing_and_leaves_no_copy(
    ladder: Ladder,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = ladder.primary[0]
    await _attach_drawing(sessionmaker, storage, code)
    before = await _written(sessionmaker, ladder)
    keys_before = set(await storage.list_keys("entries/"))

    async def unavailable(_key: str, chunks: AsyncIterator[bytes], **_options: object) -> None:
        # The bytes are read, then the store stops answering.
        async for _chunk in chunks:
            pass
        raise StorageUnavailableError("down")

    monkeypatch.setattr(storage, "put_stream", unavailable)
    async with sessionmaker() as session:
        organiser = await session.scalar(select(User).where(User.email == "tinh-a@example.vn"))
    assert organiser is not None
    with pytest.raises(StorageDownError):
        await forward_entries(
            sessionmaker,
            storage,
            source_id=ladder.source_id,
            receipt_codes=[code],
            scope=OrganiserScope(organiser.id, for_units=True),
            with_scores=False,
            actor=organiser,
        )
    assert await _written(sessionmaker, ladder) == before
    assert set(await storage.list_keys("entries/")) == keys_before


async def test_the_national_organisers_best_counts_per_province(
    ladder: Ladder, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await _forward(ladder, {}, ladder.national)
    assert response.status_code == 200, response.text
    sent = {f["from"] for f in response.json()["forwarded"]}
    # Each province's best two of each division (province B has one of each).
    assert sent == {*ladder.primary[:QUOTA], *ladder.lower_secondary[:QUOTA], *ladder.theirs}


async def test_two_organisers_forwarding_at_once_never_both_fill_the_quota(
    ladder: Ladder,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two forwardings of the same province and division at the same moment, each within the
    quota and together over it: one goes, the other is refused, and its copies are gone."""
    # Both have checked the quota and copied their files before either makes its entries.
    both_copied = asyncio.Barrier(2)
    copy_objects = forwarding._copy_objects

    async def copied_together(*args: Any) -> None:
        await copy_objects(*args)
        await both_copied.wait()

    monkeypatch.setattr(forwarding, "_copy_objects", copied_together)
    code = ladder.primary[2]
    await _attach_drawing(sessionmaker, storage, code)
    keys_before = set(await storage.list_keys("entries/"))
    async with sessionmaker() as session:
        organiser = await session.scalar(select(User).where(User.email == "tinh-a@example.vn"))
        assets_before = await session.scalar(select(func.count(Asset.id)))
    assert organiser is not None
    scope = OrganiserScope(organiser.id, for_units=True)

    async def forward(codes: list[str]) -> object:
        try:
            return await forward_entries(
                sessionmaker,
                storage,
                source_id=ladder.source_id,
                receipt_codes=codes,
                scope=scope,
                with_scores=False,
                actor=organiser,
            )
        except ForwardError as error:
            return error

    outcomes = await asyncio.gather(forward(ladder.primary[:2]), forward(ladder.primary[2:4]))
    refused = [o for o in outcomes if isinstance(o, ForwardError)]
    assert len(refused) == 1 and refused[0].code == "over_quota"
    copies = await _targets(sessionmaker, ladder)
    assert len(copies) == QUOTA
    assert set(copies) in ({*ladder.primary[:2]}, {*ladder.primary[2:4]})
    # The refused side's copied files went with it.
    async with sessionmaker() as session:
        assets = await session.scalar(select(func.count(Asset.id)))
    copied = 2 if code in copies else 0  # the drawing's original and preview
    assert assets == int(assets_before or 0) + copied
    assert len(set(await storage.list_keys("entries/")) - keys_before) == copied
