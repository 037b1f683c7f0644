"""``contest demo``: the seed's event, live around today, with accounts and sample entries.

Every row is found by its natural key before it is made, so running the demo again changes
nothing. Windows are placed in days from today in Vietnam's time.
"""

from __future__ import annotations

import functools
import io
import math
import struct
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.accounts.passwords import hash_password
from contest.db import Base, utcnow
from contest.events.validation import DEFAULT_RETENTION_MONTHS
from contest.files import keys
from contest.files.images import Derivatives, make_derivatives
from contest.files.kinds import FILE_KINDS, PREVIEW_TYPE, FileKind
from contest.files.limits import ONE_MIB
from contest.i18n import LOCAL_TZ, count_words, normalize_text
from contest.models import (
    Asset,
    AssetRole,
    Book,
    Consent,
    Contest,
    ContestKind,
    ContestStatus,
    Criterion,
    Division,
    Entrant,
    Entry,
    Event,
    Role,
    Unit,
    UnitKind,
    User,
)
from contest.notice import AGREEMENT_VERSION
from contest.tokens import hash_token, new_secret_token
from storage import Storage

_Model = TypeVar("_Model", bound=Base)

SEED_FILE = Path(__file__).parent / "seed" / "demo.yaml"


@dataclass
class DemoReport:
    event_name: str
    password: str
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (email, name, role)
    created: int = 0


def read_seed(path: Path = SEED_FILE) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=LOCAL_TZ)


def _deadline(day: date) -> datetime:
    return datetime.combine(day, time(23, 59), tzinfo=LOCAL_TZ)


async def load_demo(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    today: date | None = None,
    seed: dict[str, Any] | None = None,
) -> DemoReport:
    seed = seed or read_seed()
    today = today or datetime.now(LOCAL_TZ).date()
    stored_keys: list[str] = []
    async with sessionmaker() as session:
        try:
            report = await _load(session, seed, today, storage, stored_keys)
            await session.commit()
        except BaseException:
            await session.rollback()
            # Files written for rows that were not committed would be orphans.
            for key in stored_keys:
                await storage.delete(key)
            raise
    return report


async def _get_or_add(
    session: AsyncSession,
    model: type[_Model],
    report: DemoReport,
    where: dict[str, Any],
    values: dict[str, Any],
) -> _Model:
    found = await session.scalar(select(model).filter_by(**where))
    if found is not None:
        return found
    obj = model(**where, **values)
    session.add(obj)
    await session.flush()
    report.created += 1
    return obj


async def _load(
    session: AsyncSession,
    seed: dict[str, Any],
    today: date,
    storage: Storage,
    stored_keys: list[str],
) -> DemoReport:
    spec = seed["event"]
    report = DemoReport(event_name=spec["name"], password=seed["password"])
    event = await _get_or_add(
        session,
        Event,
        report,
        {"slug": spec["slug"]},
        {
            "name": spec["name"],
            "theme": spec["theme"],
            "organizer": spec["organizer"],
            "description": normalize_text(spec.get("description", "")),
            "starts_on": today + timedelta(days=spec["starts_in_days"]),
            "ends_on": today + timedelta(days=spec["ends_in_days"]),
            "retention_months": spec.get("retention_months", DEFAULT_RETENTION_MONTHS),
        },
    )

    units: dict[str, Unit] = {}
    for item in seed["units"]:
        parent = units[item["parent"]] if "parent" in item else None
        units[item["code"]] = await _get_or_add(
            session,
            Unit,
            report,
            {"event_id": event.id, "code": item["code"]},
            {
                "kind": UnitKind(item["kind"]),
                "name": item["name"],
                "parent_id": parent.id if parent else None,
            },
        )

    contests: dict[str, Contest] = {}
    divisions: dict[tuple[str, str], Division] = {}
    books: dict[tuple[str, str], Book] = {}
    for position, item in enumerate(seed["contests"]):
        contest = await _get_or_add(
            session,
            Contest,
            report,
            {"event_id": event.id, "slug": item["slug"]},
            {
                "kind": ContestKind(item["kind"]),
                "title": item["title"],
                "summary": normalize_text(item.get("summary", "")),
                "rules": normalize_text(item.get("rules", "")),
                "opens_at": _local_midnight(today + timedelta(days=item["opens_in_days"])),
                "closes_at": _deadline(today + timedelta(days=item["closes_in_days"])),
                "status": ContestStatus.OPEN,
                "position": position,
                "allowed_types": item["allowed_types"],
                "max_file_size": item["max_file_size_mb"] * ONE_MIB,
                "max_words": item.get("max_words"),
                "judges_per_entry": item["judges_per_entry"],
                "prize_scheme": item["prize_scheme"],
            },
        )
        contests[item["slug"]] = contest
        for pos, div in enumerate(item["divisions"]):
            divisions[(item["slug"], div["key"])] = await _get_or_add(
                session,
                Division,
                report,
                {"contest_id": contest.id, "key": div["key"]},
                {
                    "name": div["name"],
                    "min_age": div.get("min_age"),
                    "max_age": div.get("max_age"),
                    "position": pos,
                },
            )
        for pos, book in enumerate(item["books"]):
            books[(item["slug"], book["title"])] = await _get_or_add(
                session,
                Book,
                report,
                {"contest_id": contest.id, "title": book["title"]},
                {"author": book.get("author", ""), "position": pos},
            )
        for pos, crit in enumerate(item["criteria"]):
            await _get_or_add(
                session,
                Criterion,
                report,
                {"contest_id": contest.id, "key": crit["key"]},
                {
                    "label": crit["label"],
                    "description": crit.get("description", ""),
                    "max_points": float(crit["max_points"]),
                    "weight": float(crit.get("weight", 1.0)),
                    "position": pos,
                },
            )

    password_hash: str | None = None
    for item in seed["users"]:
        report.logins.append((item["email"], item["name"], item["role"]))
        if await session.scalar(select(User).filter_by(email=item["email"])) is not None:
            continue
        password_hash = password_hash or hash_password(seed["password"])
        user = User(
            email=item["email"],
            name=item["name"],
            role=Role(item["role"]),
            password_hash=password_hash,
        )
        session.add(user)
        await session.flush()
        await session.refresh(user, ["units", "judged_contests"])
        user.units.extend(units[code] for code in item.get("units", []))
        user.judged_contests.extend(contests[slug] for slug in item.get("contests", []))
        report.created += 1

    for item in seed["entries"]:
        if await session.scalar(select(Entry).filter_by(receipt_code=item["receipt_code"])):
            continue
        await _add_sample_entry(
            session, item, event, units, contests, divisions, books, storage, stored_keys
        )
        report.created += 1
    await session.flush()
    return report


async def _add_sample_entry(
    session: AsyncSession,
    item: dict[str, Any],
    event: Event,
    units: dict[str, Unit],
    contests: dict[str, Contest],
    divisions: dict[tuple[str, str], Division],
    books: dict[tuple[str, str], Book],
    storage: Storage,
    stored_keys: list[str],
) -> None:
    person = item["entrant"]
    entrant = Entrant(
        event_id=event.id,
        unit_id=units[person["unit"]].id,
        full_name=person["full_name"],
        age=person.get("age"),
        grade=person.get("grade"),
        is_minor=person.get("age", 18) < 18,
        guardian_name=person.get("guardian_name"),
        guardian_phone=person.get("guardian_phone"),
        consent=Consent(person["consent"]),
        # A child aged 7 to 17 says yes for themself too, as on the form.
        child_consent_at=utcnow() if person.get("child_consent") else None,
        # The demo's families agree to the notice as any entrant does.
        agreed_at=utcnow(),
        agreement_version=AGREEMENT_VERSION,
    )
    session.add(entrant)
    await session.flush()
    contest = contests[item["contest"]]
    book = books[(item["contest"], item["book"])]
    text = normalize_text(item["text"]) if "text" in item else None
    entry = Entry(
        contest_id=contest.id,
        division_id=divisions[(item["contest"], item["division"])].id,
        entrant_id=entrant.id,
        receipt_code=item["receipt_code"],
        # Sample entries are not meant to be edited: their token is thrown away.
        edit_token_hash=hash_token(new_secret_token()),
        title=item["title"],
        book_id=book.id,
        book_title=book.title,
        book_author=book.author,
        body_text=text,
        word_count=count_words(text) if text else None,
    )
    session.add(entry)
    await session.flush()

    media: tuple[bytes, FileKind, int | None, int | None] | None = None
    if item.get("drawing"):
        media = (sample_drawing(), FILE_KINDS["png"], 1200, 900)
    elif item.get("audio"):
        media = (sample_audio(), FILE_KINDS["wav"], None, None)
    if media is None:
        return
    data, kind, width, height = media
    key = keys.original_key(keys.new_upload_id(), kind)
    stored = await storage.put_stream(key, _chunks(data), content_type=kind.content_type)
    stored_keys.append(key)
    original = Asset(
        entry_id=entry.id,
        role=AssetRole.ORIGINAL,
        storage_key=key,
        content_type=kind.content_type,
        size=stored.size,
        sha256=stored.sha256,
        original_filename=f"sample.{kind.extension}",
        width=width,
        height=height,
    )
    session.add(original)
    if not item.get("drawing"):
        return
    # The drawing's preview and thumbnail, as the intake derives them from an upload.
    await session.flush()
    derived = _sample_derivatives()
    for role, image, (image_width, image_height) in (
        (AssetRole.PREVIEW, derived.preview, derived.preview_size),
        (AssetRole.THUMBNAIL, derived.thumbnail, derived.thumbnail_size),
    ):
        derived_key = keys.derived_key(key, role.value)
        kept = await storage.put_stream(derived_key, _chunks(image), content_type=PREVIEW_TYPE)
        stored_keys.append(derived_key)
        session.add(
            Asset(
                entry_id=entry.id,
                source_id=original.id,
                role=role,
                storage_key=derived_key,
                content_type=PREVIEW_TYPE,
                size=kept.size,
                sha256=kept.sha256,
                width=image_width,
                height=image_height,
            )
        )


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@functools.cache
def _sample_derivatives() -> Derivatives:
    return make_derivatives(io.BytesIO(sample_drawing()))


@functools.cache
def sample_drawing() -> bytes:
    """A child's drawing of yellow flowers on green grass, made the same way every time."""
    image = Image.new("RGB", (1200, 900), (186, 225, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 560, 1200, 900), fill=(96, 171, 72))
    draw.ellipse((930, 70, 1110, 250), fill=(255, 205, 40))
    for i in range(14):
        x = 70 + i * 80
        y = 640 + (i * 37) % 160
        draw.line((x, y, x, y + 90), fill=(40, 110, 40), width=6)
        for angle in range(0, 360, 60):
            dx = 22 * math.cos(math.radians(angle))
            dy = 22 * math.sin(math.radians(angle))
            draw.ellipse((x + dx - 14, y + dy - 14, x + dx + 14, y + dy + 14), fill=(250, 215, 0))
        draw.ellipse((x - 10, y - 10, x + 10, y + 10), fill=(200, 90, 20))
    draw.polygon([(260, 560), (420, 380), (580, 560)], fill=(190, 80, 60))
    draw.rectangle((300, 560, 540, 720), fill=(240, 230, 200))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def sample_audio(seconds: float = 3.0, rate: int = 16000) -> bytes:
    """A short tune (a few notes of a scale), mono 16-bit WAV."""
    notes = [262, 294, 330, 349, 392, 440]
    frames = bytearray()
    per_note = int(rate * seconds / len(notes))
    for freq in notes:
        for n in range(per_note):
            fade = min(1.0, n / 400, (per_note - n) / 400)
            sample = int(12000 * fade * math.sin(2 * math.pi * freq * n / rate))
            frames += struct.pack("<h", sample)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(frames))
    return out.getvalue()
