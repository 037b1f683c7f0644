"""A division's media rules in the event file: loaded onto the division, written back by a
dump, and every impossible rule refused at its line with its reason, loading nothing."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.events.eventfile import EventFileError, dump_event, load_event
from contest.i18n import use_locale
from contest.models import Division
from tests.events.test_eventfile import BASE, row_counts

RULES = (
    BASE[: BASE.index("contests:")]
    + """\
contests:
  - slug: ke
    kind: storytelling
    title: Kể chuyện sách
    opens_at: 2025-10-01 00:00
    closes_at: 2025-10-07 17:00
    allowed_types: [mp3, mp4, webm, mov, jpeg]
    max_file_size_mb: 100
    divisions:
      - key: lop-1-2
        name: Lớp 1–2
        min_age: 6
        max_age: 7
        accepts: [video]
        min_minutes: 5
        max_minutes: 10
      - {key: lop-3-5, name: Lớp 3–5, min_age: 8, max_age: 11, accepts: [audio, mp4]}
      - {key: thcs, name: THCS, min_age: 12, max_age: 15}
  - slug: viet
    kind: writing
    title: Viết về sách
    opens_at: 2025-10-01 00:00
    closes_at: 2025-10-07 17:00
    allowed_types: [pdf, jpeg, png, txt]
    max_file_size_mb: 10
    max_words: 8000
    divisions:
      - {key: thcs, name: THCS, min_age: 12, max_age: 15, accepts: [typed, image], max_words: 5000}
"""
)


async def divisions(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Division]:
    async with sessionmaker() as session:
        rows = (await session.scalars(select(Division).order_by(Division.id))).all()
    return {f"{d.contest_id}:{d.key}": d for d in rows}


async def test_rules_load_onto_the_divisions_and_dump_back(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        await load_event(session, text=RULES)
        await session.commit()
    found = list((await divisions(sessionmaker)).values())
    assert [d.media for d in found] == [
        {"accepts": ["video"], "min_seconds": 300, "max_seconds": 600},
        {"accepts": ["audio", "mp4"]},
        {},
        {"accepts": ["typed", "image"], "max_words": 5000},
    ]
    video_only = found[0]
    assert (video_only.accepts, video_only.min_seconds, video_only.max_seconds) == (
        ["video"],
        300,
        600,
    )
    assert found[2].accepts == [] and found[2].max_words is None

    async with sessionmaker() as session:
        dumped = await dump_event(session)
    written = [d for c in yaml.safe_load(dumped)["contests"] for d in c["divisions"]]
    assert written[0] == {
        "key": "lop-1-2",
        "name": "Lớp 1–2",
        "min_age": 6,
        "max_age": 7,
        "position": 0,
        "accepts": ["video"],
        "min_seconds": 300,
        "max_seconds": 600,
    }
    assert written[3]["accepts"] == ["typed", "image"] and written[3]["max_words"] == 5000
    # A division without rules is written as before.
    assert written[2] == {
        "key": "thcs",
        "name": "THCS",
        "min_age": 12,
        "max_age": 15,
        "position": 0,
    }

    # What was dumped loads again into the same rules.
    again = dumped.replace("tuan-le-2025", "tuan-le-2026")
    async with sessionmaker() as session:
        await load_event(session, text=again)
        await session.commit()
    media = [d.media for d in (await divisions(sessionmaker)).values()]
    assert media[4:] == media[:4]


@pytest.mark.parametrize(
    ("change", "line", "says"),
    [
        (
            ("accepts: [audio, mp4]", "accepts: [audio, drawing]"),
            27,
            "contests[0].divisions[1].accepts: 'drawing' is not a kind of entry: use typed, "
            "image, document, audio, video, or a kind of file such as mp4 or jpeg.",
        ),
        (
            ("accepts: [audio, mp4]", "accepts: [audio, pdf]"),
            27,
            "contests[0].divisions[1].accepts: pdf is not among the contest's accepted files "
            "(MP3, MP4, WebM, MOV, JPEG).",
        ),
        (
            ("accepts: [audio, mp4]", "accepts: [typed]"),
            27,
            "contests[0].divisions[1].accepts: Only a writing contest takes typed text.",
        ),
        (
            ("accepts: [audio, mp4]}", "accepts: [audio, mp4], max_words: 300}"),
            27,
            "contests[0].divisions[1].max_words: Only a writing contest takes typed text.",
        ),
        (
            ("max_words: 5000}", "max_words: 9000}"),
            38,
            "contests[1].divisions[0].max_words: The contest's own limit is 8000 words; a "
            "division's cannot be higher.",
        ),
        (
            ("accepts: [typed, image]", "accepts: [image]"),
            38,
            "contests[1].divisions[0].max_words: A word limit applies to typed text, which this "
            "division does not accept.",
        ),
        (
            ("        max_minutes: 10", "        max_minutes: 4"),
            26,
            "contests[0].divisions[0].max_minutes: The longest video cannot be shorter than the "
            "shortest.",
        ),
        (
            ("        max_minutes: 10", "        max_minutes: 10\n        max_seconds: 600"),
            26,
            "contests[0].divisions[0].max_minutes: Give max_seconds or max_minutes, not both.",
        ),
        (
            ("        min_minutes: 5", "        min_minutes: five"),
            25,
            "contests[0].divisions[0].min_minutes: Enter a number.",
        ),
        (
            ("        min_minutes: 5", "        min_minutes: 0"),
            25,
            "contests[0].divisions[0].min_minutes: Enter a number from",
        ),
        (
            ("accepts: [audio, mp4]}", "accepts: [audio], max_seconds: 120}"),
            27,
            "contests[0].divisions[1].max_seconds: A length applies to videos, and this division "
            "accepts none.",
        ),
        (
            ("        accepts: [video]", "        accepts: [audio]"),
            25,
            "contests[0].divisions[0].min_minutes: A length applies to videos, and this "
            "division accepts none.",
        ),
        (
            ("      - {key: thcs, name: THCS, min_age: 12, max_age: 15}\n",
             "      - {key: thcs, name: THCS, min_age: 12, max_age: 15, min_seconds: -3}\n"),
            28,
            "contests[0].divisions[2].min_seconds: Enter a number from 1 to 10800.",
        ),
    ],
)  # fmt: skip
async def test_an_impossible_rule_is_refused_at_its_line_and_nothing_is_loaded(
    sessionmaker: async_sessionmaker[AsyncSession],
    change: tuple[str, str],
    line: int,
    says: str,
) -> None:
    old, new = change
    assert old in RULES
    before = await row_counts(sessionmaker)
    async with sessionmaker() as session:
        with use_locale("en"), pytest.raises(EventFileError) as caught:
            await load_event(session, text=RULES.replace(old, new))
    assert says in str(caught.value)
    assert caught.value.line == line, str(caught.value)
    assert await row_counts(sessionmaker) == before


async def test_a_refused_rule_reads_in_vietnamese(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        with pytest.raises(EventFileError) as caught:
            await load_event(
                session, text=RULES.replace("        max_minutes: 10", "        max_minutes: 4")
            )
    assert str(caught.value) == (
        "dòng 26: contests[0].divisions[0].max_minutes: "
        "Thời lượng dài nhất không thể ngắn hơn thời lượng ngắn nhất."
    )
