from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import Base
from contest.demo import DemoReport
from contest.events.eventfile import EventFileError, dump_event, load_event, parse_event_file
from contest.i18n import use_locale
from contest.models import Contest
from contest.settings import Settings
from tests.support import run_contest_cli


async def row_counts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessionmaker() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def run_contest(settings: Settings, database_url: str, *args: str, stdin: str = "") -> str:
    env = {
        "CONTEST_DATA_DIR": str(settings.data_dir),
        "CONTEST_DATABASE_URL": database_url,
        "CONTEST_SECRET_KEY": "k",
    }
    done = run_contest_cli(*args, env=env, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_dump_load_dump_gives_the_same_file(
    demo: DemoReport, settings: Settings, tmp_path: Path
) -> None:
    first = run_contest(settings, settings.database_url, "event", "dump")
    assert "Tuần lễ hưởng ứng học tập suốt đời năm 2024" in first  # readable, not escaped
    assert "bantochuc@bachsam.demo" in first and "password" not in first
    (tmp_path / "event.yaml").write_text(first, encoding="utf-8")

    empty = f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
    loaded = run_contest(settings, empty, "event", "load", str(tmp_path / "event.yaml"))
    assert loaded.startswith("Loaded event tuan-le-hoc-tap-suot-doi-2024")
    second = run_contest(settings, empty, "event", "dump")
    assert second == first


BASE = """\
event:
  slug: tuan-le-2025
  name: Tuần lễ 2025
  theme: Đọc sách
  organizer: UBND phường
  starts_on: 2025-10-01
  ends_on: 2025-10-07
units:
  - {code: th-a, name: Trường A, kind: school}
  - {code: th-a-5a, name: Lớp 5A, kind: class, parent: th-a}
contests:
  - slug: viet
    kind: writing
    title: Viết về sách
    opens_at: 2025-10-01 00:00
    closes_at: 2025-10-07 17:00
    allowed_types: [pdf, txt]
    max_file_size_mb: 10
    prizes: {first: 1}
    divisions:
      - {key: tieu-hoc, name: Tiểu học, min_age: 6, max_age: 11}
    criteria:
      - {key: noi-dung, label: Nội dung, max_points: 10}
users:
  - {email: gk@a.vn, name: Giám khảo A, role: judge, units: [th-a], contests: [viet]}
conflicts:
  - {judge: gk@a.vn, unit: th-a-5a, reason: Con em}
"""


async def test_a_good_file_loads_completely(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session:
        event = await load_event(session, text=BASE)
        await session.commit()
    counts = await row_counts(sessionmaker)
    assert event.slug == "tuan-le-2025"
    assert counts["units"] == 2 and counts["contests"] == 1 and counts["divisions"] == 1
    assert counts["criteria"] == 1 and counts["users"] == 1 and counts["conflicts"] == 1
    assert counts["user_units"] == 1 and counts["contest_judges"] == 1


NEXT_LEVEL = """\
  - slug: viet-toan-quoc
    kind: {kind}
    title: Viết về sách (toàn quốc)
    opens_at: 2025-11-01 00:00
    closes_at: 2025-11-07 17:00
    allowed_types: [pdf, txt]
    max_file_size_mb: 10
"""


async def test_a_contest_forwards_to_the_next_level_named_in_the_file(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    forwarding = "    kind: writing\n    forwards_to: viet-toan-quoc\n    forward_quota: 6"
    text = BASE.replace("    kind: writing", forwarding).replace(
        "users:", NEXT_LEVEL.format(kind="writing") + "users:"
    )
    async with sessionmaker() as session:
        await load_event(session, text=text)
        await session.commit()
    async with sessionmaker() as session:
        contests = {c.slug: c for c in (await session.scalars(select(Contest))).all()}
        dumped = await dump_event(session)
    assert contests["viet"].forwards_to_id == contests["viet-toan-quoc"].id
    assert contests["viet"].forward_quota == 6
    assert "forwards_to: viet-toan-quoc" in dumped and "forward_quota: 6" in dumped
    # A next level of another kind would not take the entries' files.
    other = text.replace(NEXT_LEVEL.format(kind="writing"), NEXT_LEVEL.format(kind="drawing"))
    async with sessionmaker() as session:
        with use_locale("en"), pytest.raises(EventFileError) as caught:
            await load_event(session, text=other.replace("tuan-le-2025", "tuan-le-2026"))
    assert "must be of the same kind" in str(caught.value)


@pytest.mark.parametrize(
    ("change", "line", "says"),
    [
        # The parser notices the unclosed list where the next line starts.
        (("  ends_on: 2025-10-07", "  ends_on: [oops"), 8, "not valid YAML"),
        (
            ("    kind: writing", "    kind: poetry"),
            13,
            "contests[0].kind: Choose one of the options.",
        ),
        (
            ("    closes_at: 2025-10-07 17:00", "    closes_at: 2025-09-30 17:00"),
            16,
            "contests[0].closes_at: The deadline must come after the opening.",
        ),
        (("parent: th-a}", "parent: th-zz}"), 10, "must come after the unit it belongs to"),
        (("units: [th-a]", "units: [th-b]"), 25, "no unit has the code th-b"),
        (("max_points: 10}", "max_points: -1}"), 23, "max_points: Enter a number from 0.5"),
        (
            ("  theme: Đọc sách", "  theme: Đọc sách\n  colour: blue"),
            5,
            "event: unknown field 'colour'",
        ),
        (("conflicts:", "extras:"), 26, "unknown section 'extras'"),
        (("{email: gk@a.vn,", "{email: not-an-email,"), 25, "users[0].email"),
        (
            (
                "    kind: writing",
                "    kind: writing\n    forwards_to: khong-co\n    forward_quota: 2",
            ),
            14,
            "no contest is called khong-co",
        ),
        (
            ("    kind: writing", "    kind: writing\n    forwards_to: viet"),
            14,
            "contests[0].forwards_to: A contest cannot forward its entries to itself.",
        ),
    ],
)
async def test_a_bad_file_is_refused_with_line_and_reason_and_nothing_is_loaded(
    sessionmaker: async_sessionmaker[AsyncSession],
    change: tuple[str, str],
    line: int | None,
    says: str,
) -> None:
    old, new = change
    assert old in BASE
    text = BASE.replace(old, new)
    before = await row_counts(sessionmaker)
    async with sessionmaker() as session:
        with use_locale("en"), pytest.raises(EventFileError) as caught:
            await load_event(session, text=text)
    assert caught.value.line == line
    assert says in str(caught.value)
    assert str(caught.value).startswith(f"line {line}: ")
    assert await row_counts(sessionmaker) == before


async def test_messages_follow_the_language() -> None:
    with pytest.raises(EventFileError) as caught:
        parse_event_file(BASE.replace("    kind: writing", "    kind: poetry"))
    assert str(caught.value) == "dòng 13: contests[0].kind: Hãy chọn một trong các lựa chọn."


async def test_loading_the_same_event_twice_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        await load_event(session, text=BASE)
        await session.commit()
    before = await row_counts(sessionmaker)
    async with sessionmaker() as session:
        with pytest.raises(EventFileError, match="tuan-le-2025"):
            await load_event(session, text=BASE)
    assert await row_counts(sessionmaker) == before
    async with sessionmaker() as session:
        assert "tuan-le-2025" in await dump_event(session)


def test_cli_refuses_a_bad_file_with_one_line(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("    kind: writing", "    kind: poetry"), encoding="utf-8")
    env = {
        "CONTEST_DATA_DIR": str(tmp_path),
        "CONTEST_DATABASE_URL": settings.database_url,
        "CONTEST_LOCALE": "en",
    }
    done = run_contest_cli("event", "load", str(bad), env=env)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"contest: {bad}: line 13: contests[0].kind: Choose one of the options."
    )
