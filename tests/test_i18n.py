"""Every user-facing string is translated; text is NFC; dates read dd/mm/yyyy in Vietnam."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from babel.messages.extract import extract_from_dir
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest import i18n
from contest.models import Event

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extracted_messages() -> set[str | tuple[str, str]]:
    found: set[str | tuple[str, str]] = set()
    for folder, method_map in [
        ("contest", [("**.py", "python")]),
        ("judging", [("**.py", "python")]),
        ("templates", [("**.html", "jinja2")]),
    ]:
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder,
            method_map=method_map,
            options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
            keywords=KEYWORDS,
        ):
            found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def test_every_message_has_a_vietnamese_translation_with_the_same_placeholders() -> None:
    catalog = i18n.translations("vi")
    messages = extracted_messages()
    assert len(messages) > 50
    untranslated = []
    for message in messages:
        if isinstance(message, tuple):
            singular, plural = message
            text = catalog.ngettext(singular, plural, 1)
            source = singular
        else:
            text = catalog.gettext(message)
            source = message
        if text == source and PLACEHOLDER.sub("", source).strip(" .:%") not in ("MB", "KB"):
            untranslated.append(source)
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(source)), source
    assert untranslated == []


def test_english_is_the_message_itself_and_vietnamese_the_default() -> None:
    assert i18n.get_locale() == "vi"
    assert i18n.gettext("Page not found") == "Không tìm thấy trang"
    with i18n.use_locale("en"):
        assert i18n.gettext("Page not found") == "Page not found"
    with i18n.use_locale("xx"):
        assert i18n.gettext("Page not found") == "Không tìm thấy trang"


def test_dates_are_dd_mm_yyyy_in_vietnam_time() -> None:
    # 18:30 UTC on 30 September is already 1 October in Hanoi.
    instant = datetime(2024, 9, 30, 18, 30, tzinfo=UTC)
    assert i18n.format_date(instant) == "01/10/2024"
    assert i18n.format_datetime(instant) == "01:30 01/10/2024"
    assert i18n.format_date(date(2024, 10, 7)) == "07/10/2024"


def test_countdown_reads_in_both_languages() -> None:
    left = timedelta(days=2, hours=5, minutes=10)
    assert i18n.format_countdown(left) == "còn 2 ngày 5 giờ"
    with i18n.use_locale("en"):
        assert i18n.format_countdown(left) == "2 days 5 hours left"
        assert i18n.format_countdown(timedelta(hours=1, minutes=1)) == "1 hour 1 minute left"
        assert i18n.format_countdown(timedelta(seconds=20)) == "1 minute left"
        assert i18n.format_countdown(timedelta(seconds=-1)) == "closed"


def test_normalize_text_gives_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Tiếng Việt\r\n")
    assert decomposed != "Tiếng Việt"
    assert i18n.normalize_text(decomposed) == "Tiếng Việt"


async def test_text_is_stored_nfc_whatever_form_it_came_in(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    name = unicodedata.normalize("NFD", "Phường Bạch Sam")
    async with sessionmaker() as session:
        session.add(
            Event(
                slug="e",
                name=name,
                theme=name,
                organizer=name,
                description=name,
                starts_on=date(2024, 10, 1),
                ends_on=date(2024, 10, 7),
            )
        )
        await session.commit()
    async with sessionmaker() as session:
        event = (await session.scalars(select(Event))).one()
    for value in (event.name, event.theme, event.organizer, event.description):
        assert value == "Phường Bạch Sam"
        assert unicodedata.is_normalized("NFC", value)
