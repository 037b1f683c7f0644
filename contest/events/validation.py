"""What an event's set-up may contain, checked in one place.

The organiser console (form fields, all strings) and the event file (YAML, typed values) both
pass their raw values through ``validate``, which returns clean Python values or raises
``InvalidError`` with a translated message per field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from contest.files.kinds import (
    FILE_KINDS,
    MEDIA_GROUPS,
    TYPED,
    division_accepts_label,
    kinds_accepted,
)
from contest.i18n import LOCAL_TZ, N_, gettext, normalize_text
from contest.models import Aggregation, ContestKind, ContestStatus, Prize, Role, UnitKind

# Children's data is kept a year after publication unless the event says otherwise.
DEFAULT_RETENTION_MONTHS = 12
MAX_RETENTION_MONTHS = 120
# The prize ladder is contest.models.Prize, best first.
PRIZE_TIERS = tuple(prize.value for prize in Prize)
# A division's video length, in seconds: up to three hours.
MAX_VIDEO_SECONDS = 3 * 3600
# What a division's ``accepts`` may name: typed text, a group of kinds, or a kind.
MEDIA_NAMES = (TYPED, *MEDIA_GROUPS, *FILE_KINDS)
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidError(Exception):
    """Field name → translated message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


class _FieldError(ValueError):
    pass


Parser = Callable[[Any], Any]


@dataclass(frozen=True)
class Field:
    name: str
    label: str  # an N_() message id
    parse: Parser
    required: bool = True
    default: Any = None
    widget: str = "text"  # how the console shows it: text, textarea, number, datetime, date,
    # checkbox, select, multiselect, unit (a unit's code, with suggestions), units (several)
    choices: Sequence[tuple[str, str]] = field(default_factory=tuple)
    hint: str = ""


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(max_length: int = 255, *, multiline: bool = False) -> Parser:
    def parse(raw: Any) -> str:
        value = normalize_text(str(raw))
        if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in value):
            raise _FieldError(gettext("This text contains characters that are not allowed."))
        if not multiline and "\n" in value:
            raise _FieldError(gettext("Write this on one line."))
        if len(value) > max_length:
            raise _FieldError(gettext("Write at most %(count)s characters.", count=str(max_length)))
        return value

    return parse


def slug(raw: Any) -> str:
    value = str(raw).strip()
    if not SLUG.match(value) or len(value) > 80:
        raise _FieldError(
            gettext("Use lower-case letters without accents, digits and hyphens, e.g. lop-5a.")
        )
    return value


def email(raw: Any) -> str:
    value = str(raw).strip().lower()
    if not EMAIL.match(value) or len(value) > 254:
        raise _FieldError(gettext("Enter an email address such as ten@truong.edu.vn."))
    return value


def _in_range(
    convert: Callable[[str], float], not_a_number: str, low: float, high: float
) -> Parser:
    """A number read by convert, refused with not_a_number (an N_() id) or when out of range."""

    def parse(value: Any) -> Any:
        if isinstance(value, bool):
            raise _FieldError(gettext(not_a_number))
        try:
            number = convert(str(value).strip())
        except ValueError:
            raise _FieldError(gettext(not_a_number)) from None
        if not low <= number <= high or number != number:
            raise _FieldError(
                gettext("Enter a number from %(low)s to %(high)s.", low=low, high=high)
            )
        return number

    return parse


def integer(low: int, high: int) -> Parser:
    return _in_range(int, N_("Enter a whole number."), low, high)


def decimal(low: float, high: float) -> Parser:
    return _in_range(lambda raw: float(raw.replace(",", ".")), N_("Enter a number."), low, high)


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "on", "yes", "co", "có"):
        return True
    if lowered in ("", "0", "false", "off", "no", "khong", "không"):
        return False
    raise _FieldError(gettext("Choose yes or no."))


def choice(enum: type[Enum]) -> Parser:
    def parse(value: Any) -> Enum:
        try:
            return enum(str(value).strip())
        except ValueError:
            raise _FieldError(gettext("Choose one of the options.")) from None

    return parse


def local_datetime(value: Any) -> datetime:
    """A moment in Vietnam's time: 2024-10-07T17:00, 2024-10-07 17:00 or 17:00 07/10/2024."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=LOCAL_TZ)
    raw = str(value).strip()
    for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%H:%M %d/%m/%Y", "%d/%m/%Y %H:%M"):
        try:
            return datetime.strptime(raw, pattern).replace(tzinfo=LOCAL_TZ)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise _FieldError(gettext("Enter a date and time such as 17:00 07/10/2024.")) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL_TZ)


def local_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = str(value).strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(raw, pattern).date()
        except ValueError:
            continue
    raise _FieldError(gettext("Enter a date such as 07/10/2024."))


def many(parse_one: Parser, allowed: Sequence[str] | None = None) -> Parser:
    def parse(value: Any) -> list[Any]:
        items = value if isinstance(value, list | tuple) else [v for v in str(value).split(",")]
        result = []
        for item in items:
            if _is_blank(item):
                continue
            parsed = parse_one(item)
            if allowed is not None and parsed not in allowed:
                raise _FieldError(gettext("Choose one of the options."))
            if parsed not in result:
                result.append(parsed)
        return result

    return parse


def media_names(value: Any) -> list[str]:
    """A division's ``accepts``: names of MEDIA_NAMES, each once, in the order given."""
    names: list[str] = []
    for item in value if isinstance(value, list | tuple) else str(value).split(","):
        if _is_blank(item):
            continue
        name = str(item).strip().lower()
        if name not in MEDIA_NAMES:
            raise _FieldError(
                gettext(
                    "%(name)s is not a kind of entry: use %(names)s, or a kind of file such as "
                    "mp4 or jpeg.",
                    name=repr(str(item)),
                    names=", ".join((TYPED, *MEDIA_GROUPS)),
                )
            )
        if name not in names:
            names.append(name)
    return names


def retention_months(value: Any) -> int | None:
    """Months of retention after publication; 0 means no automatic erasure (None)."""
    months: int = integer(0, MAX_RETENTION_MONTHS)(value)
    return months or None


def _choices(enum: type[Enum], labels: Mapping[Any, str]) -> tuple[tuple[str, str], ...]:
    return tuple((member.value, labels[member]) for member in enum)


def _long_text(name: str, label: str, max_length: int) -> Field:
    """An optional text of several lines (a description, a note), empty when left out."""
    return Field(
        name,
        label,
        text(max_length, multiline=True),
        required=False,
        default="",
        widget="textarea",
    )


def _number(name: str, label: str, parse: Parser, default: Any = None) -> Field:
    """An optional number, the default when left out."""
    return Field(name, label, parse, required=False, default=default, widget="number")


def _position() -> Field:
    """Where a row stands among its siblings on the pages."""
    return _number("position", N_("Order"), integer(0, 1000), 0)


def _select(
    name: str,
    label: str,
    enum: type[Enum],
    labels: Mapping[Any, str],
    *,
    default: Enum | None = None,
) -> Field:
    """One member of an enum, shown as a list of its labels; optional when it has a default."""
    return Field(
        name,
        label,
        choice(enum),
        required=default is None,
        default=default,
        widget="select",
        choices=_choices(enum, labels),
    )


def _slugs(name: str, label: str) -> Field:
    """Codes of other rows (units, contests), none when left out."""
    return Field(name, label, many(slug), required=False, default=[], widget="multiselect")


def _checkbox(name: str, label: str, *, default: bool) -> Field:
    return Field(name, label, boolean, required=False, default=default, widget="checkbox")


def _entity_fields() -> dict[str, tuple[Field, ...]]:
    from contest import labels

    return {
        "event": (
            Field("slug", N_("Short name for links"), slug, widget="text"),
            Field("name", N_("Event name"), text()),
            Field("theme", N_("Theme"), text()),
            Field("organizer", N_("Organiser"), text()),
            Field("starts_on", N_("First day"), local_date, widget="date"),
            Field("ends_on", N_("Last day"), local_date, widget="date"),
            _long_text("description", N_("Description"), 4000),
            Field(
                "retention_months",
                N_("Months to keep entries that won no prize"),
                retention_months,
                required=False,
                default=DEFAULT_RETENTION_MONTHS,
                widget="number",
                hint=N_(
                    "Counted from the publication of each contest's results (or from its "
                    "deadline, if never published); then the command contest retention apply "
                    "erases those entries' personal data and files. 0 keeps them until erased "
                    "by hand."
                ),
            ),
        ),
        "unit": (
            Field("code", N_("Code"), slug, hint=N_("For example: th-bach-sam-5a.")),
            Field("name", N_("Name"), text()),
            _select("kind", N_("Kind"), UnitKind, labels.UNIT_KINDS),
            Field(
                "parent",
                N_("Belongs to"),
                slug,
                required=False,
                widget="unit",
                hint=N_("The code of the school a class belongs to; type to find it."),
            ),
        ),
        "contest": (
            Field("slug", N_("Short name for links"), slug),
            _select("kind", N_("Kind"), ContestKind, labels.CONTEST_KINDS),
            Field("title", N_("Title"), text()),
            _long_text("summary", N_("Summary"), 1000),
            _long_text("rules", N_("Rules"), 10000),
            Field("opens_at", N_("Opens"), local_datetime, widget="datetime"),
            Field("closes_at", N_("Deadline"), local_datetime, widget="datetime"),
            _select(
                "status",
                N_("Status"),
                ContestStatus,
                labels.CONTEST_STATUSES,
                default=ContestStatus.DRAFT,
            ),
            _position(),
            Field(
                "allowed_types",
                N_("Accepted files"),
                many(lambda v: str(v).strip().lower(), tuple(FILE_KINDS)),
                widget="multiselect",
                choices=tuple((kind, kind.upper()) for kind in FILE_KINDS),
            ),
            Field("max_file_size_mb", N_("Largest file (MB)"), integer(1, 2048), widget="number"),
            _number("max_files", N_("Files per entry"), integer(1, 20), 1),
            _number("max_words", N_("Word limit for typed text"), integer(1, 100_000)),
            _number("judges_per_entry", N_("Judges per entry"), integer(1, 10), 3),
            _checkbox("blind", N_("Blind judging (judges do not see names)"), default=True),
            _select(
                "aggregation",
                N_("How judges' scores are combined"),
                Aggregation,
                labels.AGGREGATIONS,
                default=Aggregation.NORMALISED,
            ),
            *(
                _number(f"prizes_{tier}", labels.PRIZE_COUNT_LABELS[tier], integer(0, 1000), 0)
                for tier in PRIZE_TIERS
            ),
            Field(
                "forwards_to",
                N_("Forwards its best entries to"),
                slug,
                required=False,
                hint=N_(
                    "The short name of the next level's contest; leave it empty for the last level."
                ),
            ),
            _number(
                "forward_quota",
                N_("Entries each unit forwards per division"),
                integer(1, 10_000),
            ),
        ),
        "division": (
            Field("key", N_("Code"), slug),
            Field("name", N_("Name"), text()),
            _number("min_age", N_("From age"), integer(0, 120)),
            _number("max_age", N_("To age"), integer(0, 120)),
            _position(),
            Field(
                "accepts",
                N_("Accepts (when not all the contest's files)"),
                media_names,
                required=False,
                default=[],
                widget="multiselect",
                choices=tuple(
                    (name, labels.MEDIA_NAMES.get(name, name.upper())) for name in MEDIA_NAMES
                ),
                hint=N_(
                    "Typed text, groups (images, documents, audio, video) or single kinds; "
                    "none ticked: whatever the contest accepts."
                ),
            ),
            _number("max_words", N_("Word limit for typed text"), integer(1, 100_000)),
            _number("min_seconds", N_("Shortest video (seconds)"), integer(1, MAX_VIDEO_SECONDS)),
            _number("max_seconds", N_("Longest video (seconds)"), integer(1, MAX_VIDEO_SECONDS)),
        ),
        "criterion": (
            Field("key", N_("Code"), slug),
            Field("label", N_("Criterion"), text()),
            _long_text("description", N_("Description"), 1000),
            Field("max_points", N_("Most points"), decimal(0.5, 1000), widget="number"),
            _number("weight", N_("Weight"), decimal(0, 100), 1.0),
            _position(),
        ),
        "book": (
            Field("title", N_("Book title"), text()),
            Field("author", N_("Author"), text(), required=False, default=""),
            _long_text("note", N_("Note"), 1000),
            _position(),
        ),
        "user": (
            Field("email", N_("Email"), email, widget="email"),
            Field("name", N_("Name"), text()),
            _select("role", N_("Role"), Role, labels.ROLES),
            Field(
                "units",
                N_("Units"),
                many(slug),
                required=False,
                default=[],
                widget="units",
                hint=N_("Unit codes, separated by commas; type to find them."),
            ),
            _slugs("contests", N_("Judges contests")),
            _checkbox("active", N_("Active"), default=True),
        ),
        "conflict": (
            Field("judge", N_("Judge's email"), email, widget="email"),
            Field(
                "unit",
                N_("Unit"),
                slug,
                widget="unit",
                hint=N_("The unit's code; type to find it."),
            ),
            _long_text("reason", N_("Reason"), 500),
        ),
    }


_FIELDS: dict[str, tuple[Field, ...]] | None = None


def fields_of(entity: str) -> tuple[Field, ...]:
    global _FIELDS
    if _FIELDS is None:
        _FIELDS = _entity_fields()
    return _FIELDS[entity]


def validate(entity: str, raw: Mapping[str, Any], *, form: bool = False) -> dict[str, Any]:
    """Clean values for every field of the entity, or InvalidError naming each bad field.

    ``form``: the values come from an HTML form, where an unticked box sends nothing.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if entity == "division":
        raw = _minutes_as_seconds(raw, errors)
    for spec in fields_of(entity):
        value = raw.get(spec.name)
        if form and spec.widget == "checkbox" and value is None:
            value = False
        if _is_blank(value) or value == []:
            if spec.required:
                errors[spec.name] = gettext("This is required.")
            else:
                values[spec.name] = (
                    list(spec.default) if isinstance(spec.default, list) else (spec.default)
                )
            continue
        try:
            values[spec.name] = spec.parse(value)
        except _FieldError as exc:
            errors[spec.name] = str(exc)
    _check_together(entity, values, errors)
    if errors:
        raise InvalidError(errors)
    return values


def _minutes_as_seconds(raw: Mapping[str, Any], errors: dict[str, str]) -> Mapping[str, Any]:
    """A division's video length may be written in minutes (``min_minutes``, ``max_minutes``,
    as in the event file) instead of seconds; never both for the same end."""
    converted = dict(raw)
    for end in ("min", "max"):
        minutes, seconds = f"{end}_minutes", f"{end}_seconds"
        if _is_blank(raw.get(minutes)):
            continue
        if not _is_blank(raw.get(seconds)):
            errors[minutes] = gettext(
                "Give %(seconds)s or %(minutes)s, not both.", seconds=seconds, minutes=minutes
            )
            continue
        try:
            value = decimal(1 / 60, MAX_VIDEO_SECONDS / 60)(raw[minutes])
        except _FieldError as exc:
            errors[minutes] = str(exc)
            continue
        converted[seconds] = max(1, round(value * 60))
    return converted


def _check_together(entity: str, values: dict[str, Any], errors: dict[str, str]) -> None:
    if (
        entity == "event"
        and {"starts_on", "ends_on"} <= values.keys()
        and values["ends_on"] < values["starts_on"]
    ):
        errors["ends_on"] = gettext("The last day cannot come before the first day.")
    if (
        entity == "contest"
        and {"opens_at", "closes_at"} <= values.keys()
        and values["closes_at"] <= values["opens_at"]
    ):
        errors["closes_at"] = gettext("The deadline must come after the opening.")
    if entity == "contest" and values.get("forwards_to"):
        if values["forwards_to"] == values.get("slug"):
            errors["forwards_to"] = gettext("A contest cannot forward its entries to itself.")
        elif values.get("forward_quota") is None and "forward_quota" not in errors:
            errors["forward_quota"] = gettext("Say how many entries each unit forwards.")
    if entity == "division":
        low, high = values.get("min_age"), values.get("max_age")
        if low is not None and high is not None and high < low:
            errors["max_age"] = gettext("The upper age cannot be below the lower age.")
        shortest, longest = values.get("min_seconds"), values.get("max_seconds")
        if shortest is not None and longest is not None and longest < shortest:
            errors["max_seconds"] = gettext(
                "The longest video cannot be shorter than the shortest."
            )


def check_division_rules(division: Mapping[str, Any], contest: Mapping[str, Any]) -> None:
    """A division's media rules against its contest's (its kind, ``allowed_types`` and
    ``max_words``): InvalidError naming each rule that the contest makes impossible."""
    errors: dict[str, str] = {}
    accepts = division.get("accepts") or []
    allowed = contest.get("allowed_types") or []
    is_writing = contest.get("kind") == ContestKind.WRITING
    if TYPED in accepts and not is_writing:
        errors["accepts"] = gettext("Only a writing contest takes typed text.")
    for name in accepts:
        if name != TYPED and not kinds_accepted([name], allowed):
            errors["accepts"] = gettext(
                "%(name)s is not among the contest's accepted files (%(types)s).",
                name=name,
                types=division_accepts_label([], allowed),
            )
    words, contest_words = division.get("max_words"), contest.get("max_words")
    if words is not None and not is_writing:
        errors["max_words"] = gettext("Only a writing contest takes typed text.")
    elif words is not None and accepts and TYPED not in accepts:
        errors["max_words"] = gettext(
            "A word limit applies to typed text, which this division does not accept."
        )
    elif words is not None and contest_words and words > contest_words:
        errors["max_words"] = gettext(
            "The contest's own limit is %(limit)s words; a division's cannot be higher.",
            limit=contest_words,
        )
    lengths = [n for n in ("min_seconds", "max_seconds") if division.get(n) is not None]
    videos = [k for k in kinds_accepted(accepts, allowed) if FILE_KINDS[k].group == "video"]
    if lengths and not videos:
        errors[lengths[0]] = gettext("A length applies to videos, and this division accepts none.")
    if errors:
        raise InvalidError(errors)


def prize_scheme(values: Mapping[str, Any]) -> dict[str, Any]:
    """The contest's prize scheme from the console's per-tier counts."""
    return {
        "method": "count",
        "tiers": {t: int(values.get(f"prizes_{t}") or 0) for t in PRIZE_TIERS},
    }


def prize_counts(scheme: Mapping[str, Any]) -> dict[str, int]:
    tiers = scheme.get("tiers", {}) if scheme.get("method", "count") == "count" else {}
    return {f"prizes_{t}": int(tiers.get(t, 0)) for t in PRIZE_TIERS}
