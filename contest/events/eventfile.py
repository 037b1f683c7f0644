"""An event's whole set-up as one readable YAML file: ``contest event dump`` and ``event load``.

The file holds the event, its units, contests (with divisions, rubric and books), the staff
accounts (no passwords) and declared conflicts, so an event can be prepared, reviewed and reused
next year. Loading checks everything first and writes in one transaction: a bad file is refused
with the line and the reason, and nothing of it is kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from contest import audit
from contest.events.services import event_json
from contest.events.validation import (
    PRIZE_TIERS,
    InvalidError,
    check_division_rules,
    fields_of,
    prize_counts,
    prize_scheme,
    validate,
)
from contest.files.limits import ONE_MIB
from contest.i18n import gettext, local_time
from contest.models import (
    Book,
    Conflict,
    Contest,
    Criterion,
    Division,
    Event,
    Unit,
    User,
)

TIME_FORMAT = "%Y-%m-%d %H:%M"
# A division's media rules, in the order the file writes them.
DIVISION_RULES = ("accepts", "max_words", "min_seconds", "max_seconds")


class EventFileError(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message
        where = gettext("line %(line)s: ", line=line) if line else ""
        super().__init__(where + message)


class _Located(dict[str, Any]):
    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    """Keeps the line of every mapping and of each of its keys, for error messages."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Located:
    mapping = _Located({str(k): v for k, v in loader.construct_mapping(node, deep=True).items()})
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {
        str(key_node.value): key_node.start_mark.line + 1 for key_node, _value in node.value
    }
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_of(mapping: Any, key: str | None = None) -> int | None:
    if not isinstance(mapping, _Located):
        return None
    if key is not None and key in mapping.key_lines:
        return mapping.key_lines[key]
    return mapping.line


def _mapping(value: Any, what: str, line: int | None) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise EventFileError(line, gettext("%(what)s must be a mapping of fields.", what=what))
    return value


def _items(parent: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = parent.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise EventFileError(_line_of(parent, key), gettext("%(what)s must be a list.", what=key))
    return value


# Keys a section may hold besides its entity's fields.
_NESTED = {
    "contest": {"divisions", "criteria", "books", "prizes"},
    "division": {"min_minutes", "max_minutes"},
}


def _validated_items(
    parent: Any, part: str, entity: str, where: str = ""
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Each item of the list `part` validated as `entity`, with its raw form (for its lines)."""
    for i, raw in enumerate(_items(parent, part)):
        yield raw, _validated(entity, raw, f"{where}{part}[{i}]", _line_of(parent, part))


def _validated(entity: str, raw: Any, where: str, line: int | None) -> dict[str, Any]:
    data = _mapping(raw, where, line)
    allowed = {f.name for f in fields_of(entity)} | _NESTED.get(entity, set())
    for key in data:
        if key not in allowed and not key.startswith("prizes_"):
            raise EventFileError(
                _line_of(data, key),
                gettext("%(where)s: unknown field %(name)s", where=where, name=repr(key)),
            )
    try:
        return validate(entity, data)
    except InvalidError as exc:
        name, message = next(iter(exc.errors.items()))
        name = _written_name(data, name)
        raise EventFileError(_line_of(data, name), f"{where}.{name}: {message}") from None


def _written_name(data: Mapping[str, Any], name: str) -> str:
    """The name a refused field has in the file: a video's length may be written in minutes."""
    minutes = name.replace("_seconds", "_minutes")
    return minutes if name not in data and minutes in data else name


def _check_rules(
    raw: Any, division: Mapping[str, Any], contest: Mapping[str, Any], where: str
) -> None:
    """A division's media rules against its contest's, refused at the line of the rule."""
    try:
        check_division_rules(division, contest)
    except InvalidError as exc:
        name = _written_name(raw, next(iter(exc.errors)))
        message = exc.errors[next(iter(exc.errors))]
        raise EventFileError(_line_of(raw, name), f"{where}.{name}: {message}") from None


def parse_event_file(text: str) -> dict[str, Any]:
    """Check the whole file and return clean values; nothing touches the database here."""
    try:
        document = yaml.load(text, Loader=_LineLoader)  # noqa: S506  (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise EventFileError(
            mark.line + 1 if mark else None,
            gettext("not valid YAML (%(problem)s)", problem=problem),
        ) from None
    root = _mapping(document, gettext("The file"), 1)
    known = {"event", "units", "contests", "users", "conflicts"}
    for key in root:
        if key not in known:
            raise EventFileError(
                _line_of(root, key), gettext("unknown section %(name)s", name=repr(key))
            )
    if "event" not in root:
        raise EventFileError(1, gettext("the file has no event section"))

    parsed: dict[str, Any] = {
        "event": _validated("event", root["event"], "event", _line_of(root, "event"))
    }
    units: list[dict[str, Any]] = []
    codes: set[str] = set()
    for raw, unit in _validated_items(root, "units", "unit"):
        if unit["code"] in codes:
            raise EventFileError(
                _line_of(raw, "code"),
                gettext("unit code %(code)s is used twice", code=unit["code"]),
            )
        if unit["parent"] and unit["parent"] not in codes:
            raise EventFileError(
                _line_of(raw, "parent"),
                gettext("unit %(code)s must come after the unit it belongs to", code=unit["code"]),
            )
        codes.add(unit["code"])
        units.append(unit)
    parsed["units"] = units

    contests: list[dict[str, Any]] = []
    contest_items: list[Any] = []
    slugs: set[str] = set()
    for i, raw in enumerate(_items(root, "contests")):
        where = f"contests[{i}]"
        raw_map = _mapping(raw, where, _line_of(root, "contests"))
        prizes = _mapping(raw_map.get("prizes") or {}, f"{where}.prizes", _line_of(raw_map))
        flat = {**raw_map, **{f"prizes_{t}": prizes.get(t, 0) for t in PRIZE_TIERS}}
        if isinstance(raw_map, _Located):
            flat = _Located(flat)
            flat.line, flat.key_lines = raw_map.line, raw_map.key_lines
        contest = _validated("contest", flat, where, _line_of(raw_map))
        if contest["slug"] in slugs:
            raise EventFileError(
                _line_of(raw_map, "slug"),
                gettext("contest %(slug)s appears twice", slug=contest["slug"]),
            )
        slugs.add(contest["slug"])
        for part, entity, key_name in (
            ("divisions", "division", "key"),
            ("criteria", "criterion", "key"),
            ("books", "book", "title"),
        ):
            children: list[dict[str, Any]] = []
            seen: set[str] = set()
            for child_raw, child in _validated_items(raw_map, part, entity, f"{where}."):
                if child[key_name] in seen:
                    raise EventFileError(
                        _line_of(child_raw, key_name),
                        gettext("%(value)s appears twice", value=child[key_name]),
                    )
                seen.add(child[key_name])
                if entity == "division":
                    _check_rules(child_raw, child, contest, f"{where}.{part}[{len(children)}]")
                children.append(child)
            contest[part] = children
        contests.append(contest)
        contest_items.append(raw_map)
    kinds = {contest["slug"]: contest["kind"] for contest in contests}
    for raw_contest, contest in zip(contest_items, contests, strict=True):
        if contest.get("forwards_to") and contest["forwards_to"] not in slugs:
            raise EventFileError(
                _line_of(raw_contest, "forwards_to"),
                gettext("no contest is called %(slug)s", slug=contest["forwards_to"]),
            )
        if contest.get("forwards_to") and kinds[contest["forwards_to"]] != contest["kind"]:
            raise EventFileError(
                _line_of(raw_contest, "forwards_to"),
                gettext("The next level's contest must be of the same kind."),
            )
    parsed["contests"] = contests

    users: list[dict[str, Any]] = []
    emails: set[str] = set()
    for raw, user in _validated_items(root, "users", "user"):
        if user["email"] in emails:
            raise EventFileError(
                _line_of(raw, "email"), gettext("%(value)s appears twice", value=user["email"])
            )
        for code in user["units"]:
            if code not in codes:
                raise EventFileError(
                    _line_of(raw, "units"), gettext("no unit has the code %(code)s", code=code)
                )
        for slug in user["contests"]:
            if slug not in slugs:
                raise EventFileError(
                    _line_of(raw, "contests"), gettext("no contest is called %(slug)s", slug=slug)
                )
        emails.add(user["email"])
        users.append(user)
    parsed["users"] = users

    conflicts = []
    for raw, conflict in _validated_items(root, "conflicts", "conflict"):
        if conflict["judge"] not in emails:
            raise EventFileError(
                _line_of(raw, "judge"),
                gettext("%(value)s is not among the users", value=conflict["judge"]),
            )
        if conflict["unit"] not in codes:
            raise EventFileError(
                _line_of(raw, "unit"),
                gettext("no unit has the code %(code)s", code=conflict["unit"]),
            )
        conflicts.append(conflict)
    parsed["conflicts"] = conflicts
    return parsed


async def load_event(session: AsyncSession, *, text: str, actor_label: str = "") -> Event:
    """Create the event from a file, in the caller's transaction (commit is the caller's)."""
    data = parse_event_file(text)
    spec = data["event"]
    if await session.scalar(select(Event.id).where(Event.slug == spec["slug"])) is not None:
        raise EventFileError(
            None, gettext("an event called %(slug)s already exists", slug=spec["slug"])
        )
    event = Event(**spec)
    session.add(event)
    await session.flush()
    if spec["retention_months"] is None and event.retention_months is not None:
        # The column's default fills in a None on INSERT; here None means "keep".
        event.retention_months = None
        await session.flush()

    units: dict[str, Unit] = {}
    for item in data["units"]:
        parent = units.get(item["parent"]) if item["parent"] else None
        unit = Unit(
            event_id=event.id,
            code=item["code"],
            name=item["name"],
            kind=item["kind"],
            parent_id=parent.id if parent else None,
        )
        session.add(unit)
        await session.flush()
        units[item["code"]] = unit

    contests: dict[str, Contest] = {}
    for item in data["contests"]:
        fields = {k: v for k, v in item.items() if k not in ("divisions", "criteria", "books")}
        fields = {
            k: v for k, v in fields.items() if not k.startswith("prizes_") and k != "forwards_to"
        }
        contest = Contest(
            event_id=event.id,
            **{k: v for k, v in fields.items() if k != "max_file_size_mb"},
            max_file_size=item["max_file_size_mb"] * ONE_MIB,
            prize_scheme=prize_scheme(item),
        )
        session.add(contest)
        await session.flush()
        contests[item["slug"]] = contest
        session.add_all(Division(contest_id=contest.id, **d) for d in item["divisions"])
        session.add_all(Criterion(contest_id=contest.id, **c) for c in item["criteria"])
        session.add_all(Book(contest_id=contest.id, **b) for b in item["books"])

    for item in data["contests"]:
        if item.get("forwards_to"):
            contests[item["slug"]].forwards_to_id = contests[item["forwards_to"]].id
    await session.flush()

    judges: dict[str, User] = {}
    for item in data["users"]:
        user = await session.scalar(
            select(User)
            .where(User.email == item["email"])
            .options(selectinload(User.units), selectinload(User.judged_contests))
        )
        if user is None:
            user = User(
                email=item["email"], name=item["name"], role=item["role"], is_active=item["active"]
            )
            session.add(user)
            await session.flush()
            await session.refresh(user, ["units", "judged_contests"])
        elif user.role != item["role"]:
            raise EventFileError(
                None,
                gettext("%(email)s already has another role in this system", email=item["email"]),
            )
        user.units.extend(units[code] for code in item["units"])
        user.judged_contests.extend(contests[slug] for slug in item["contests"])
        judges[item["email"]] = user

    for item in data["conflicts"]:
        session.add(
            Conflict(
                judge_id=judges[item["judge"]].id,
                unit_id=units[item["unit"]].id,
                reason=item["reason"],
            )
        )
    await session.flush()
    audit.record(
        session,
        "event_loaded",
        event,
        actor_label=actor_label,
        after={"slug": event.slug, "units": len(units), "contests": len(contests)},
    )
    return event


async def dump_event(session: AsyncSession, *, slug: str | None = None) -> str:
    query = select(Event).order_by(Event.starts_on.desc(), Event.id.desc()).limit(1)
    if slug:
        query = select(Event).where(Event.slug == slug)
    event = await session.scalar(query)
    if event is None:
        raise EventFileError(None, gettext("there is no such event"))

    units = (
        await session.scalars(select(Unit).where(Unit.event_id == event.id).order_by(Unit.id))
    ).all()
    codes = {u.id: u.code for u in units}
    contests = (
        await session.scalars(
            select(Contest)
            .where(Contest.event_id == event.id)
            .order_by(Contest.position, Contest.id)
            .options(
                selectinload(Contest.divisions),
                selectinload(Contest.criteria),
                selectinload(Contest.books),
            )
        )
    ).all()
    contest_ids = {c.id for c in contests}
    unit_ids = set(codes)
    users = (
        await session.scalars(
            select(User)
            .order_by(User.id)
            .options(selectinload(User.units), selectinload(User.judged_contests))
        )
    ).all()
    staff = [
        u
        for u in users
        if {x.id for x in u.units} & unit_ids
        or {c.id for c in u.judged_contests} & contest_ids
        or (not u.units and not u.judged_contests)
    ]
    staff_ids = {u.id for u in staff}
    conflicts = (
        await session.scalars(
            select(Conflict)
            .where(Conflict.unit_id.in_(unit_ids), Conflict.judge_id.in_(staff_ids))
            .order_by(Conflict.id)
        )
    ).all()
    emails = {u.id: u.email for u in staff}

    document: dict[str, Any] = {
        "event": {
            **event_json(event),
            "description": event.description,
            # 0: no automatic erasure (kept until erased by hand).
            "retention_months": event.retention_months or 0,
        },
        "units": [
            {
                "code": u.code,
                "name": u.name,
                "kind": u.kind.value,
                **({"parent": codes[u.parent_id]} if u.parent_id else {}),
            }
            for u in units
        ],
        "contests": [
            _contest_document(c, next((t.slug for t in contests if t.id == c.forwards_to_id), None))
            for c in contests
        ],
        "users": [
            {
                "email": u.email,
                "name": u.name,
                "role": u.role.value,
                "units": sorted(codes[x.id] for x in u.units if x.id in codes),
                "contests": [c.slug for c in contests if c in u.judged_contests],
                "active": u.is_active,
            }
            for u in staff
        ],
        "conflicts": [
            {"judge": emails[c.judge_id], "unit": codes[c.unit_id], "reason": c.reason}
            for c in conflicts
            if c.unit_id is not None
        ],
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)


def contest_settings(
    contest: Contest, *, time_format: str = TIME_FORMAT, forwards_to: str | None = None
) -> dict[str, Any]:
    """The contest's own settings under the names of its set-up fields, as validate reads them
    back (the event file and the console's form both start from these); ``forwards_to``, the
    slug of the next level's contest it forwards to."""
    return {
        "slug": contest.slug,
        "kind": contest.kind.value,
        "title": contest.title,
        "summary": contest.summary,
        "rules": contest.rules,
        "opens_at": local_time(contest.opens_at).strftime(time_format),
        "closes_at": local_time(contest.closes_at).strftime(time_format),
        "status": contest.status.value,
        "position": contest.position,
        "allowed_types": list(contest.allowed_types),
        "max_file_size_mb": contest.max_file_size // ONE_MIB,
        "max_files": contest.max_files,
        "max_words": contest.max_words,
        "judges_per_entry": contest.judges_per_entry,
        "blind": contest.blind,
        "aggregation": contest.aggregation.value,
        "forwards_to": forwards_to,
        "forward_quota": contest.forward_quota,
    }


def _contest_document(contest: Contest, forwards_to: str | None) -> dict[str, Any]:
    counts = prize_counts(contest.prize_scheme)
    return {
        **contest_settings(contest, forwards_to=forwards_to),
        "prizes": {t: counts[f"prizes_{t}"] for t in PRIZE_TIERS},
        "divisions": [
            {
                "key": d.key,
                "name": d.name,
                "min_age": d.min_age,
                "max_age": d.max_age,
                "position": d.position,
                # Only the rules set: a division without any reads as before.
                **{name: d.media[name] for name in DIVISION_RULES if name in d.media},
            }
            for d in contest.divisions
        ],
        "criteria": [
            {
                "key": c.key,
                "label": c.label,
                "description": c.description,
                "max_points": c.max_points,
                "weight": c.weight,
                "position": c.position,
            }
            for c in contest.criteria
        ],
        "books": [
            {"title": b.title, "author": b.author, "note": b.note, "position": b.position}
            for b in contest.books
        ],
    }
