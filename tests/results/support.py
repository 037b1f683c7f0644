"""Published (or not yet published) results, made directly in the database."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

import zxingcpp
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.accounts.services import create_api_token
from contest.models import Aggregation, Contest, Entry, Prize, Result, Role, User
from contest.tokens import RECEIPT_ALPHABET, new_secret_token
from judging import services as judging
from tests.support import WRITING, MakeUser, make_entries, score_all

# 18:30 UTC on 7 October is already 8 October in Vietnam.
PUBLISHED_AT = datetime(2024, 10, 7, 18, 30, tzinfo=UTC)
PUBLISHED_DAY = "08/10/2024"


@dataclass(frozen=True)
class Row:
    entry: int | str  # an entry id, or a receipt code
    rank: int
    score: float
    prize: Prize | None = None


def serial_for(number: int) -> str:
    """A well-formed serial, different for each number."""
    letters = "".join(RECEIPT_ALPHABET[(number * 7 + i) % len(RECEIPT_ALPHABET)] for i in range(8))
    return f"2024-{letters[:4]}-{letters[4:]}"


async def make_results(
    sessionmaker: async_sessionmaker[AsyncSession],
    rows: Sequence[Row],
    *,
    published: bool = True,
    serials: bool = True,
) -> list[Result]:
    """One Result per row, in the entry's contest and division. Winners get a serial (also
    before publication when ``serials``, as a leak test needs)."""
    made = []
    async with sessionmaker() as session:
        first = (await session.scalar(select(Result.id).order_by(Result.id.desc()))) or 0
        for number, row in enumerate(rows, start=first + 1):
            where = (
                Entry.id == row.entry
                if isinstance(row.entry, int)
                else (Entry.receipt_code == row.entry)
            )
            entry = (await session.scalars(select(Entry).where(where))).one()
            result = Result(
                contest_id=entry.contest_id,
                division_id=entry.division_id,
                entry_id=entry.id,
                rank=row.rank,
                final_score=row.score,
                raw_score=row.score - 0.25,
                judges=3,
                prize=row.prize,
                certificate_serial=serial_for(number) if row.prize and serials else None,
                published_at=PUBLISHED_AT if published else None,
            )
            session.add(result)
            made.append(result)
        await session.commit()
    return made


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def pdf_qr_codes(data: bytes) -> list[list[str]]:
    """The QR codes of each page, read from the images embedded in the PDF."""
    found = []
    for page in PdfReader(io.BytesIO(data)).pages:
        texts = []
        for image in page.images:
            texts += [code.text for code in zxingcpp.read_barcodes(image.image)]
        found.append(texts)
    return found


async def bearer(
    sessionmaker: async_sessionmaker[AsyncSession], role: Role = Role.ADMIN
) -> dict[str, str]:
    """Headers that sign a request in as a new user of this role (an API token works on every
    route, and skips hashing a password)."""
    async with sessionmaker() as session:
        user = User(email=f"{role.value}-{new_secret_token()[:8]}@example.vn", name="T", role=role)
        session.add(user)
        await session.flush()
        _token, plain = await create_api_token(session, user=user, name="tests")
        await session.commit()
    return {"Authorization": f"Bearer {plain}"}


class Judged(NamedTuple):
    contest_id: int
    entries: list[int]


async def judged_contest(
    sessionmaker: async_sessionmaker[AsyncSession], make_user: MakeUser
) -> Judged:
    """The writing contest with six primary-school entries scored by three judges."""
    for email, unit in (("a@x.vn", "tdp-1"), ("b@x.vn", "tdp-2"), ("c@x.vn", "tdp-3")):
        await make_user(email, Role.JUDGE, units=[unit], contests=[WRITING])
    async with sessionmaker() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == WRITING))
        assert contest is not None
        # Only the new entries: the demo's own entry is withdrawn from this contest's results.
        demo_entry = await session.scalar(select(Entry).where(Entry.contest_id == contest.id))
        assert demo_entry is not None
        await session.delete(demo_entry)
        # The plain mean keeps the hand-worked ranks below exact.
        contest.aggregation = Aggregation.MEAN
        await session.commit()
        contest_id = contest.id
    entries = await make_entries(sessionmaker, WRITING, ages=[8, 9, 9, 10, 10, 7])
    # Share of full marks per entry: 1.0, 0.75, 0.75, 0.5, 0.25, 0.0.
    shares = dict(zip(entries, [1.0, 0.75, 0.75, 0.5, 0.25, 0.0], strict=True))
    async with sessionmaker() as session:
        await judging.run_assignment(session, contest_id=contest_id, actor=None)
        await session.commit()
    await score_all(sessionmaker, contest_id, shares, feedback="Cố gắng lên!")
    return Judged(contest_id, entries)
