"""A parent on a phone sends a grade-2 pupil's story to a division that takes only videos of
5 to 10 minutes: the form says so before sending, a drawing is refused with the division's
message and a video of 4 minutes with its length, and a video of 6 minutes is taken. Typing an
essay, the live word count follows the word limit of the division the age or grade picks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.e2e.conftest import demo_server, fill_entry_form
from tests.intake import files
from tests.support import STORY, WRITING, run_apart, vi

pytestmark = pytest.mark.browser


async def _video_only(env: dict[str, str]) -> None:
    """The storytelling contest also takes photos; its primary division only videos."""
    from contest.models import Contest, Division
    from contest.settings import Settings
    from tests.support import services_for

    settings = Settings.from_env(env)
    async with services_for(settings) as (sessionmaker, _storage), sessionmaker() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == STORY))
        assert contest is not None
        contest.allowed_types = [*contest.allowed_types, "jpeg"]
        await session.execute(
            update(Division)
            .where(Division.contest_id == contest.id, Division.key == "tieu-hoc")
            .values(media={"accepts": ["video"], "min_seconds": 300, "max_seconds": 600})
        )
        writing = await session.scalar(select(Contest.id).where(Contest.slug == WRITING))
        for key, words in (("tieu-hoc", 20), ("thcs", 30)):
            await session.execute(
                update(Division)
                .where(Division.contest_id == writing, Division.key == key)
                .values(media={"max_words": words})
            )
        await session.commit()


@pytest.fixture(scope="module")
def ruled_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    def prepare(env: dict[str, str]) -> None:
        run_apart(_video_only(env))

    with demo_server(tmp_path_factory.mktemp("rules"), prepare) as base_url:
        yield base_url


def test_a_video_only_division_refuses_a_drawing_and_a_short_video_then_takes_one(
    ruled_server: str, phone: Any, artifacts: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    phone.goto(f"{ruled_server}/contests/{STORY}/submit")
    rules = phone.locator("#division-rules li[data-division='tieu-hoc']")
    expect(rules).to_contain_text(vi("Send: %(types)s", types="MP4, WebM, MOV"))
    expect(rules).to_contain_text(
        vi("Videos of %(range)s", range=vi("%(low)s to %(high)s", low="5:00", high="10:00"))
    )
    fill_entry_form(
        phone,
        full_name="Lê Bảo Ngọc",
        age="7",
        grade="2",
        guardian_name="Lê Văn Hải",
        title="Cô bé quàng khăn đỏ",
    )

    drawing = tmp_path / "tranh.jpg"
    drawing.write_bytes(files.photo_jpeg())
    phone.set_input_files("#f-file", str(drawing))
    phone.click("#send-button")
    expect(phone.locator("#form-message .alert")).to_have_text(
        vi(
            "This kind of file is not accepted in the division %(division)s. Please send one "
            "of: %(types)s.",
            division="Tiểu học",
            types="MP4, WebM, MOV",
        )
    )
    phone.screenshot(
        path=str(artifacts / "division-rules-drawing-refused-phone.png"), full_page=True
    )
    expect(phone.locator("#f-title")).to_have_value("Cô bé quàng khăn đỏ")

    short = tmp_path / "ke-ngan.mp4"
    short.write_bytes(files.video_mp4(240, moov_at_end=True))
    phone.set_input_files("#f-file", str(short))
    phone.click("#send-button")
    expect(phone.locator(".has-error .error-text.from-server")).to_contain_text(
        vi(
            "The video is %(length)s long; the division %(division)s takes videos of %(range)s.",
            length="4:00",
            division="Tiểu học",
            range=vi("%(low)s to %(high)s", low="5:00", high="10:00"),
        )
    )

    right = tmp_path / "ke-chuyen.mp4"
    right.write_bytes(files.video_mp4(360, moov_at_end=True))
    phone.set_input_files("#f-file", str(right))
    phone.click("#send-button")
    phone.wait_for_url("**/entries/*?token=*", timeout=30_000)
    expect(phone.locator("#entry-division")).to_contain_text("Tiểu học")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_live_word_count_follows_the_division_the_age_or_grade_picks(
    ruled_server: str, phone: Any
) -> None:
    """Primary pupils (6 to 11) may write 20 words, lower secondary (11 to 15) 30, everyone
    else the contest's 1,500; an 11-year-old without a grade is a secondary pupil, as the
    server decides."""
    from playwright.sync_api import expect

    phone.goto(f"{ruled_server}/contests/{WRITING}/submit")
    phone.fill("#f-body_text", " ".join(["chữ"] * 25))
    counter = phone.locator("#word-count")
    for age, grade, text in (
        ("8", "", vi("Too many words: %(count)s / %(limit)s", count="25", limit="20")),
        ("11", "", vi("%(count)s / %(limit)s words", count="25", limit="30")),
        ("11", "5", vi("Too many words: %(count)s / %(limit)s", count="25", limit="20")),
        ("30", "", vi("%(count)s / %(limit)s words", count="25", limit="1.500")),
    ):
        phone.fill("#f-age", age)
        phone.fill("#f-grade", grade)
        expect(counter).to_have_text(text)
    expect(counter).not_to_have_class("word-count over")
    phone.fill("#f-age", "8")
    expect(counter).to_have_class("word-count over")
