"""Helpers the tests share."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Receive, Scope, Send

from contest.app import create_app
from contest.i18n import gettext, use_locale
from contest.models import AuditEvent, Role, User
from contest.settings import Settings
from storage import LocalStorage, S3Storage, Storage

T = TypeVar("T")

IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_DATABASE_URL = os.environ.get("CONTEST_TEST_DATABASE_URL", "")

# The databases a test that must run on each of them is parametrized over: SQLite always,
# PostgreSQL when CI (or a developer) points CONTEST_TEST_DATABASE_URL at a server.
DATABASES = ["sqlite", *(["postgresql"] if TEST_DATABASE_URL else [])]

# The demo event's contests, by slug, and the password of every demo account.
WRITING = "viet-ve-cuon-sach-em-yeu"
DRAWING = "ve-tranh-theo-sach"
STORY = "ke-chuyen-sach"
DEMO_PASSWORD = "bachsam-demo"
# Full marks on each criterion of the demo's writing rubric.
WRITING_FULL_MARKS = {"noi-dung": 4, "sang-tao": 2, "ngon-ngu": 2, "lien-he": 2}


def vi(message: str, **values: object) -> str:
    """A message as a Vietnamese visitor reads it: the catalog's translation."""
    with use_locale("vi"):
        return gettext(message, **values)


def run_contest_cli(
    *args: str, env: Mapping[str, str], stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``contest ARGS`` in a process of its own, with env over the test's own variables."""
    return subprocess.run(
        [sys.executable, "-m", "contest.cli", *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def skip_or_fail(reason: str) -> None:
    """Skip locally when a part is missing; in CI the same gap fails the run."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from sync code, even where an event loop is running."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def admin_execute(server_url: str, statement: str) -> None:
    """Run a statement outside a transaction (CREATE/DROP DATABASE) on the test server."""
    from sqlalchemy import text

    from contest.db import create_engine

    engine = create_engine(server_url)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def empty_postgresql_database(prefix: str = "contest_test") -> Iterator[str]:
    """A new, empty database on the PostgreSQL test server, dropped afterwards."""
    from sqlalchemy.engine import make_url

    from contest.settings import parse_database_url

    server_url = parse_database_url(TEST_DATABASE_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    run_apart(admin_execute(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        run_apart(admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def server_database(tmp: Path) -> Iterator[str]:
    """A database for a server process of its own: a fresh PostgreSQL database when the tests
    run on PostgreSQL, else a SQLite file in ``tmp``."""
    if TEST_DATABASE_URL:
        with empty_postgresql_database("contest_e2e") as url:
            yield url
    else:
        yield f"sqlite:///{tmp / 'contest.sqlite3'}"


@contextlib.asynccontextmanager
async def app_client(
    settings: Settings, *, base_url: str = "http://testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    """The app built from these settings, with its lifespan running, and a client for it that
    reaches it at ``base_url``."""
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            # As an ASGI server does: each request gets its own shallow copy of the state.
            await app({**scope, "state": dict(state or {})}, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


@contextlib.asynccontextmanager
async def services_for(settings: Settings) -> AsyncIterator[tuple[Any, Storage]]:
    """A session maker on the database and the storage these settings name, as the app opens
    them, for a set-up that writes through the services (a served app's, say); closed after."""
    from contest.db import create_engine, create_sessionmaker
    from storage import storage_from_url

    engine = create_engine(settings.database_url)
    storage = storage_from_url(
        settings.storage_url, secret_key=settings.secret_key, base_url=settings.base_url
    )
    try:
        yield create_sessionmaker(engine), storage
    finally:
        await storage.aclose()
        await engine.dispose()


async def submit_file(
    sessionmaker: Any,
    storage: Storage,
    settings: Settings,
    *,
    contest: Any,
    data: bytes,
    filename: str,
    fields: Mapping[str, str],
    idempotency_key: str | None = None,
) -> Any:
    """An entry of one file, stored then submitted through the intake services as the entry
    form sends them, by a visitor (any unit open to entries may be named)."""
    from contest import rules
    from contest.intake import services as intake

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    async with sessionmaker() as session:
        units = await rules.submittable_units(session, user=None, event_id=contest.event_id)
    upload = await intake.store_upload(
        sessionmaker=sessionmaker,
        storage=storage,
        contest=contest,
        chunks=chunks(),
        filename=filename,
    )
    return await intake.submit_entry(
        sessionmaker=sessionmaker,
        storage=storage,
        contest=contest,
        units=units,
        fields=dict(fields),
        uploads=[upload],
        upload_ids=[],
        idempotency_key=idempotency_key,
        secret_key=settings.secret_key,
    )


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_from(client: httpx.AsyncClient, path: str) -> str:
    """The CSRF token of the form on a page (the session cookie lands in the client's jar)."""
    response = await client.get(path)
    found = CSRF_INPUT.search(response.text)
    assert found, f"no CSRF field on {path} ({response.status_code})"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    token = await csrf_from(client, "/login")
    response = await client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    return response


def sign_in_page(page: Any, base: str, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in on the login page of the served app at ``base``, in a browser's page, as a
    person types it (the demo's accounts share one password)."""
    page.goto(base + "/login")
    page.get_by_label("Địa chỉ email").fill(email)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()


async def audit_trail(session: AsyncSession, object_type: str) -> list[AuditEvent]:
    """The audit events about objects of this type, oldest first."""
    from sqlalchemy import select

    query = select(AuditEvent).where(AuditEvent.object_type == object_type)
    return list((await session.scalars(query.order_by(AuditEvent.id))).all())


async def stored(sessionmaker: Any, model: type[T], key: int) -> T:
    """The row of ``model`` with this key, read in a session of its own; it must exist."""
    async with sessionmaker() as session:
        row = await session.get(model, key)
    assert row is not None, f"no {model.__name__} {key}"
    return row


async def selected(sessionmaker: Any, query: Any) -> list[Any]:
    """What a query selects (the first column of each row), read in a session of its own."""
    async with sessionmaker() as session:
        return list((await session.scalars(query)).all())


@dataclasses.dataclass
class Account:
    user: User
    password: str


# The ``make_user`` fixture (tests/conftest.py).
MakeUser = Callable[..., Awaitable[Account]]


async def contest_id_of(sessionmaker: Any, slug: str) -> int:
    """The id of the contest with this slug; it must exist."""
    from sqlalchemy import select

    from contest.models import Contest

    async with sessionmaker() as session:
        found = await session.scalar(select(Contest.id).where(Contest.slug == slug))
    assert found is not None, f"no contest {slug}"
    return int(found)


async def entries_below(
    sessionmaker: Any, unit_code: str, *, slug: str = WRITING, column: Any = None
) -> list[Any]:
    """The contest's entries (their ``column``; their ids unless given), in order, from the
    unit with this code and the units right below it (a school and its classes)."""
    from sqlalchemy import select

    from contest.models import Contest, Entrant, Entry, Unit

    async with sessionmaker() as session:
        unit_id = select(Unit.id).where(Unit.code == unit_code).scalar_subquery()
        return list(
            await session.scalars(
                select(Entry.id if column is None else column)
                .join(Contest, Contest.id == Entry.contest_id)
                .join(Entrant, Entrant.id == Entry.entrant_id)
                .join(Unit, Unit.id == Entrant.unit_id)
                .where(Contest.slug == slug, (Unit.id == unit_id) | (Unit.parent_id == unit_id))
                .order_by(Entry.id)
            )
        )


async def make_entries(
    sessionmaker: Any, contest_slug: str, *, ages: list[int], unit_code: str = "th-bach-sam-3a"
) -> list[int]:
    """Submitted entries of entrants of these ages (each in the division their age picks),
    recorded as the intake records a typed essay."""
    from sqlalchemy import select

    from contest.intake.interfaces import EntryData
    from contest.intake.services import record_entry
    from contest.models import Contest, Division, Unit
    from contest.tokens import new_secret_token

    ids = []
    async with sessionmaker() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == contest_slug))
        unit = await session.scalar(select(Unit).where(Unit.code == unit_code))
        divisions = (
            await session.scalars(select(Division).where(Division.contest_id == contest.id))
        ).all()
        for number, age in enumerate(ages):
            division = next(
                d
                for d in divisions
                if (d.min_age is None or d.min_age <= age)
                and (d.max_age is None or age < d.max_age)
            )
            data = EntryData(
                full_name=f"Học sinh {number}",
                age=age,
                grade=None,
                unit_id=unit.id,
                guardian_name="Phụ huynh",
                guardian_phone="0900000000",
                consent="initials",
                child_consent=True,
                title=f"Bài {number}",
                note="",
                book_id=None,
                book_title="",
                book_author="",
                body_text="Nội dung bài viết.",
                word_count=4,
                division_id=division.id,
            )
            entry = await record_entry(
                session,
                contest=contest,
                data=data,
                uploads=[],
                idempotency_key=None,
                edit_token=new_secret_token(),
            )
            ids.append(entry.id)
        await session.commit()
    return ids


async def entry_files(session: AsyncSession, *, title: str) -> tuple[int, list[str]]:
    """The entry of this title (there must be one): its id, and the names its files were sent
    under, in the order they were sent."""
    from sqlalchemy import select

    from contest.models import Asset, AssetRole, Entry

    entry = await session.scalar(select(Entry).where(Entry.title == title))
    assert entry is not None, f"no entry {title!r}"
    names = await session.scalars(
        select(Asset.original_filename)
        .where(Asset.entry_id == entry.id, Asset.role == AssetRole.ORIGINAL)
        .order_by(Asset.id)
    )
    return entry.id, list(names.all())


async def score(
    session: AsyncSession,
    *,
    assignment_id: int,
    points: Mapping[str, float],
    judge: User | None = None,
    submit: bool = True,
    feedback: str = "",
) -> None:
    """The assignment scored by its own judge (``judge`` when the caller has them already),
    in the caller's session, as the judge's form saves it."""
    from contest.models import Assignment
    from judging import services as judging

    if judge is None:
        assignment = await session.get(Assignment, assignment_id)
        assert assignment is not None, f"no assignment {assignment_id}"
        judge = await session.get(User, assignment.judge_id)
        assert judge is not None
    await judging.save_score(
        session,
        assignment_id=assignment_id,
        judge=judge,
        points=dict(points),
        comment="",
        feedback=feedback,
        submit=submit,
    )


async def _assignments_with_judges(session: AsyncSession, contest_id: int) -> list[Any]:
    """Every assignment of the contest's entries, with its judge."""
    from sqlalchemy import select

    from contest.models import Assignment, Entry

    query = (
        select(Assignment, User)
        .join(User, User.id == Assignment.judge_id)
        .join(Entry, Entry.id == Assignment.entry_id)
        .where(Entry.contest_id == contest_id)
    )
    return list((await session.execute(query)).all())


async def score_all(
    sessionmaker: Any,
    contest: int,
    totals: Mapping[int, float],
    *,
    feedback: str = "",
) -> None:
    """Submit, for each entry, the same share of full marks on every criterion from every
    judge of the contest (the demo's writing rubric: 4, 2, 2 and 2 points)."""
    async with sessionmaker() as session:
        for assignment, judge in await _assignments_with_judges(session, contest):
            share = totals[assignment.entry_id]
            await score(
                session,
                assignment_id=assignment.id,
                judge=judge,
                points={key: share * most for key, most in WRITING_FULL_MARKS.items()},
                feedback=feedback,
            )
        await session.commit()


async def full_marks(session: AsyncSession, *, contest_id: int, feedback: str = "") -> None:
    """Every assignment of the contest submitted with full marks on every criterion, in the
    caller's session (for set-ups that need a judged round, whatever the rubric)."""
    from sqlalchemy import select

    from contest.models import Criterion

    criteria = (
        await session.scalars(select(Criterion).where(Criterion.contest_id == contest_id))
    ).all()
    for assignment, judge in await _assignments_with_judges(session, contest_id):
        await score(
            session,
            assignment_id=assignment.id,
            judge=judge,
            points={c.key: c.max_points for c in criteria},
            feedback=feedback,
        )


async def comparative_final(
    session: AsyncSession, *, contest_id: int, per_entry: int, top_per_division: int = 10
) -> Any:
    """The contest's scored round shortlisted (its best of each division) into a comparative
    final with ``per_entry`` comparisons of each entry planned, in the caller's session; the
    final's round."""
    from contest.models import RoundKind
    from judging import comparing
    from judging import services as judging

    final = await judging.shortlist(
        session,
        contest_id=contest_id,
        top_per_division=top_per_division,
        actor=None,
        kind=RoundKind.COMPARATIVE,
    )
    await comparing.plan_round(session, contest_id=contest_id, per_entry=per_entry, actor=None)
    return final


async def follow_job(
    client: Any, settings: Any, started: Any, *, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run the queued jobs as a worker would, then read the job that ``started`` (an API 202
    or a page's redirect to the job's page) through the API, as JSON."""
    from contest.app import JOB_KINDS
    from contest.jobs.worker import run_queued

    assert started.status_code in (202, 303), (started.status_code, started.text)
    job_id = int(str(started.headers["location"]).rstrip("/").rsplit("/", 1)[-1])
    await run_queued(settings, JOB_KINDS)
    read = await client.get(f"/api/v1/jobs/{job_id}", headers=dict(headers or {}))
    assert read.status_code == 200, read.text
    job: dict[str, Any] = read.json()
    return job


def wait_for_job(client: Any, started: Any, *, timeout: float = 60) -> dict[str, Any]:
    """Follow the job an API call started on a served app, whose own worker runs it."""
    import time

    assert started.status_code == 202, (started.status_code, started.text)
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(started.headers["location"]).json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


# --- national-size data, written by the database itself --------------------------------------


async def analyze(session: AsyncSession, *tables: str) -> None:
    """Fresh planner statistics after a bulk load on PostgreSQL, as the app's own bulk writes
    take (contest.db.insert_rows); SQLite plans without them."""
    from sqlalchemy import text

    if session.bind.dialect.name == "postgresql":
        for table in tables:
            await session.execute(text(f'ANALYZE "{table}"'))


async def bulk_entries(
    session: AsyncSession, *, contest_id: int, count: int, unit_ids: list[int], prefix: str
) -> None:
    """``count`` submitted entries of the contest, each of its own entrant, spread over these
    units and the contest's divisions in turn: INSERT ... SELECT over a counting CTE, so that
    tens of thousands of rows take a second (the service's own path would take minutes)."""
    from sqlalchemy import Integer, String, case, cast, literal, select
    from sqlalchemy import insert as sql_insert

    from contest.db import UTCDateTime, utcnow
    from contest.models import Consent, Contest, Division, Entrant, Entry, EntryStatus

    contest = await session.get(Contest, contest_id)
    assert contest is not None
    divisions = list(
        await session.scalars(select(Division.id).where(Division.contest_id == contest_id))
    )
    now = literal(utcnow(), UTCDateTime())
    numbers = select(literal(1, Integer).label("n")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select(numbers.c.n + 1).where(numbers.c.n < count))

    def by_turn(number: Any, ids: list[int]) -> Any:
        if not ids:
            return literal(None, Integer)
        return case({i: v for i, v in enumerate(ids)}, value=number % len(ids))

    name = literal(prefix, String) + cast(numbers.c.n, String)
    await session.execute(
        sql_insert(Entrant).from_select(
            [
                "event_id",
                "unit_id",
                "full_name",
                "age",
                "is_minor",
                "consent",
                "child_consent_at",
                "created_at",
            ],
            select(
                literal(contest.event_id),
                by_turn(numbers.c.n, unit_ids),
                name,
                literal(9),
                literal(True),
                literal(Consent.INITIALS.value, String),
                now,
                now,
            ),
        )
    )
    await session.execute(
        sql_insert(Entry).from_select(
            [
                "contest_id",
                "division_id",
                "entrant_id",
                "receipt_code",
                "edit_token_hash",
                "title",
                "note",
                "book_title",
                "book_author",
                "status",
                "created_at",
                "updated_at",
            ],
            select(
                literal(contest_id),
                by_turn(Entrant.id, divisions),
                Entrant.id,
                literal("B", String) + cast(Entrant.id, String),
                literal("0" * 64, String),
                Entrant.full_name,
                literal("", String),
                literal("", String),
                literal("", String),
                literal(EntryStatus.SUBMITTED.value, String),
                now,
                now,
            ).where(Entrant.full_name.startswith(prefix)),
        )
    )
    await analyze(session, "entrants", "entries")


async def bulk_scores(session: AsyncSession, *, round_id: int) -> None:
    """Every unscored assignment of the round submitted, with a total that varies with the
    entry and the judge (so divisions rank, tie and get prizes) and the same points."""
    from sqlalchemy import JSON, Float, cast, literal, select, update
    from sqlalchemy import insert as sql_insert

    from contest.db import UTCDateTime, utcnow
    from contest.models import Assignment, AssignmentStatus, Score

    now = literal(utcnow(), UTCDateTime())
    unscored = Assignment.round_id == round_id, ~Assignment.id.in_(select(Score.assignment_id))
    await session.execute(
        sql_insert(Score).from_select(
            [
                "assignment_id",
                "points",
                "total",
                "comment_to_organizers",
                "feedback_to_entrant",
                "submitted_at",
                "updated_at",
            ],
            select(
                Assignment.id,
                literal({"noi-dung": 2.0, "sang-tao": 1.0, "ngon-ngu": 1.0, "lien-he": 1.0}, JSON),
                cast((Assignment.entry_id * 7 + Assignment.judge_id * 3) % 100, Float) / 10,
                literal(""),
                literal(""),
                now,
                now,
            ).where(*unscored),
        )
    )
    await session.execute(
        update(Assignment)
        .where(Assignment.round_id == round_id, Assignment.status != AssignmentStatus.RECUSED)
        .values(status=AssignmentStatus.SUBMITTED)
    )
    await analyze(session, "scores", "assignments")


def listed(html: str, attribute: str) -> list[int]:
    """The ids a list page shows, one per row marked ``data-<attribute>="<id>"``."""
    return [int(found) for found in re.findall(rf'data-{attribute}="(\d+)"', html)]


def pager_link(html: str, rel: str, name: str = "page") -> str | None:
    """The address of a list's previous or next page (``rel``), as the pager links it."""
    pager = re.search(rf'<nav class="pager"[^>]*data-pager="{name}">(.*?)</nav>', html, re.S)
    found = pager and re.search(rf'<a rel="{rel}" href="([^"]+)"', pager.group(1))
    return found.group(1).replace("&amp;", "&") if found else None


async def all_pages(
    client: httpx.AsyncClient, path: str, attribute: str, *, name: str = "page"
) -> list[list[int]]:
    """Every page of a list, following its "next" links from ``path``; each page's ids."""
    pages: list[list[int]] = []
    next_path: str | None = path
    while next_path is not None:
        response = await client.get(next_path)
        assert response.status_code == 200, response.text
        pages.append(listed(response.text, attribute))
        next_path = pager_link(response.text, "next", name)
        assert len(pages) < 100, "the pager does not end"
    return pages


def upload_leftovers(storage: Storage, request: pytest.FixtureRequest) -> list[str]:
    """What a failed upload could leave behind in the storage: temporary files in the local
    folder, or multipart uploads left open in the S3 bucket (read through the ``s3_client``
    fixture)."""
    if isinstance(storage, LocalStorage):
        tmp = storage.root / ".tmp"
        return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []
    assert isinstance(storage, S3Storage)
    client: Any = request.getfixturevalue("s3_client")
    uploads = client.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", [])
    return [upload["Key"] for upload in uploads]


async def make_two_provinces(sessionmaker: Any) -> None:
    """Province A (code tinh-a) holds ward A (phuong-a), which holds the demo's primary
    school (th-bach-sam); province B (tinh-b) holds its secondary school (thcs-bach-sam)."""
    from sqlalchemy import select

    from contest.models import Unit, UnitKind

    async with sessionmaker() as session:
        units = {u.code: u for u in (await session.scalars(select(Unit))).all()}
        event_id = units["th-bach-sam"].event_id
        province_a = Unit(event_id=event_id, kind=UnitKind.PROVINCE, code="tinh-a", name="Tỉnh A")
        province_b = Unit(event_id=event_id, kind=UnitKind.PROVINCE, code="tinh-b", name="Tỉnh B")
        session.add_all([province_a, province_b])
        await session.flush()
        ward_a = Unit(
            event_id=event_id,
            kind=UnitKind.WARD,
            code="phuong-a",
            name="Phường A",
            parent_id=province_a.id,
        )
        session.add(ward_a)
        await session.flush()
        units["th-bach-sam"].parent_id = ward_a.id
        units["thcs-bach-sam"].parent_id = province_b.id
        await session.commit()


@contextlib.asynccontextmanager
async def province_and_nation(
    settings: Settings, sessionmaker: Any, make_user: MakeUser
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """The two provinces of ``make_two_provinces``, and two organisers, each signed in on a
    client of their own: province A's (tinh-a@example.vn, of the units under tinh-a) and the
    nation's (quoc-gia@example.vn, of no unit: the whole event)."""
    await make_two_provinces(sessionmaker)
    province = await make_user("tinh-a@example.vn", Role.ADMIN, units=["tinh-a"])
    national = await make_user("quoc-gia@example.vn", Role.ADMIN)
    async with app_client(settings) as as_province, app_client(settings) as as_national:
        await sign_in(as_province, province.user.email, province.password)
        await sign_in(as_national, national.user.email, national.password)
        yield as_province, as_national


async def make_next_level(
    sessionmaker: Any, source_slug: str, *, slug: str, title: str, quota: int
) -> int:
    """A contest of the next level, like the source (its kind, rubric's absence aside, and
    its divisions' keys), that the source forwards to with this quota; its id."""
    from sqlalchemy import select

    from contest.models import Contest, ContestStatus, Division

    async with sessionmaker() as session:
        source = await session.scalar(select(Contest).where(Contest.slug == source_slug))
        assert source is not None
        target = Contest(
            event_id=source.event_id,
            slug=slug,
            kind=source.kind,
            title=title,
            opens_at=source.opens_at,
            closes_at=source.closes_at,
            status=ContestStatus.CLOSED,
            position=source.position + 10,
            allowed_types=source.allowed_types,
            max_file_size=source.max_file_size,
            max_files=source.max_files,
            max_words=source.max_words,
        )
        session.add(target)
        await session.flush()
        for division in await session.scalars(
            select(Division).where(Division.contest_id == source.id)
        ):
            session.add(
                Division(
                    contest_id=target.id,
                    key=division.key,
                    name=division.name,
                    min_age=division.min_age,
                    max_age=division.max_age,
                    position=division.position,
                )
            )
        source.forwards_to_id = target.id
        source.forward_quota = quota
        await session.commit()
        return target.id
