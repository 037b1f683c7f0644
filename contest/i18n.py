"""Translations, and dates and numbers as the visitor reads them.

Message ids are English; Vietnamese comes from ``locale/vi``. The visitor's language lives in a
context variable set once per request, so templates, services and error handlers all speak it
without passing it around.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from functools import cache
from gettext import GNUTranslations, NullTranslations
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from contest.settings import DEFAULT_LOCALE, SUPPORTED_LOCALES, TIMEZONE

LOCALE_DIR = Path(__file__).parent / "locale"
LOCAL_TZ = ZoneInfo(TIMEZONE)
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}

_current_locale: ContextVar[str] = ContextVar("locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> NullTranslations:
    """Compile the catalog in memory: no build step between editing a .po file and seeing it."""
    po_path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return GNUTranslations(buffer)


def get_locale() -> str:
    return _current_locale.get()


def set_locale(locale: str) -> None:
    _current_locale.set(locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE)


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    token = _current_locale.set(locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current_locale.reset(token)


def gettext(message: str, **values: object) -> str:
    text = translations(get_locale()).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    text = translations(get_locale()).ngettext(singular, plural, n)
    return text % {"num": n, **values}


_ = gettext


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


def normalize_text(value: str) -> str:
    """Text as the platform keeps it: NFC, no surrounding blanks, Windows line ends folded."""
    return unicodedata.normalize("NFC", value).replace("\r\n", "\n").strip()


def count_words(text: str) -> int:
    """Words as a teacher counts them: runs of characters between blanks."""
    return len(text.split())


def local_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ)


def format_date(value: date | datetime) -> str:
    """dd/mm/yyyy, in Vietnam's time for instants."""
    if isinstance(value, datetime):
        value = local_time(value)
    return value.strftime("%d/%m/%Y")


def format_datetime(value: datetime) -> str:
    """HH:MM dd/mm/yyyy in Vietnam's time, as deadlines are written there."""
    return local_time(value).strftime("%H:%M %d/%m/%Y")


def format_number(value: int | float) -> str:
    return format_decimal(value, locale=get_locale())


def format_size(num_bytes: int) -> str:
    megabytes = num_bytes / (1024 * 1024)
    if megabytes >= 1:
        return gettext("%(size)s MB", size=format_number(round(megabytes, 1)))
    return gettext("%(size)s KB", size=format_number(max(1, round(num_bytes / 1024))))


def format_duration(seconds: int) -> str:
    """A video's length as a clock reads it: 4:05, or 1:02:03 past an hour."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_duration_range(shortest: int | None, longest: int | None) -> str:
    """The lengths a rule allows: "5:00 to 10:00", "at least 5:00" or "at most 10:00"."""
    if shortest is not None and longest is not None:
        return gettext(
            "%(low)s to %(high)s", low=format_duration(shortest), high=format_duration(longest)
        )
    if shortest is not None:
        return gettext("at least %(low)s", low=format_duration(shortest))
    if longest is not None:
        return gettext("at most %(high)s", high=format_duration(longest))
    return ""


def countdown_words() -> dict[str, str]:
    """The countdown's words for the page's script, which fills in the numbers itself."""
    t = translations(get_locale())
    words = {"left": t.gettext("%(time)s left"), "closed": t.gettext("closed")}
    units = {
        ("day", "days"): ("%(num)d day", "%(num)d days"),
        ("hour", "hours"): ("%(num)d hour", "%(num)d hours"),
        ("minute", "minutes"): ("%(num)d minute", "%(num)d minutes"),
    }
    for (one, many), (singular, plural) in units.items():
        words[one] = t.ngettext(singular, plural, 1) % {"num": 1}
        words[many] = t.ngettext(singular, plural, 2) % {"num": 2}
    return words


def format_countdown(remaining: timedelta) -> str:
    """Time left before a deadline, in the largest two units that matter."""
    seconds = int(remaining.total_seconds())
    if seconds <= 0:
        return gettext("closed")
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = max(1, rest // 60) if not (days or hours) else rest // 60
    units = [
        ngettext("%(num)d day", "%(num)d days", days) if days else "",
        ngettext("%(num)d hour", "%(num)d hours", hours) if hours else "",
        ngettext("%(num)d minute", "%(num)d minutes", minutes) if minutes and not days else "",
    ]
    return gettext("%(time)s left", time=" ".join(u for u in units if u))
