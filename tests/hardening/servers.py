"""Real app processes for the hardening tests: `contest serve` subprocesses on one database
and one storage, started, killed and restarted at will; and accounts with API tokens."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import select

from contest.accounts.passwords import hash_password
from contest.accounts.services import create_api_token
from contest.db import create_engine, create_sessionmaker
from contest.models import Contest, Entry, Role, Unit, User
from contest.settings import parse_database_url
from contest.tokens import hash_token
from judging.services import run_assignment
from tests.s3server import free_port
from tests.support import TEST_DATABASE_URL, empty_postgresql_database, run_apart

CONTEST_BIN = str(Path(sys.executable).parent / "contest")
START_TIMEOUT = 60.0
PASSWORD = "correct horse battery"


@contextlib.contextmanager
def process_database(tmp: Path, prefix: str = "contest_hard") -> Iterator[str]:
    """A database app processes can share: a SQLite file, or a new PostgreSQL database."""
    if TEST_DATABASE_URL:
        with empty_postgresql_database(prefix) as url:
            yield url
    else:
        yield f"sqlite:///{tmp / 'contest.sqlite3'}"


def app_env(tmp: Path, database_url: str, storage_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CONTEST_DATA_DIR": str(tmp),
        "CONTEST_DATABASE_URL": database_url,
        "CONTEST_STORAGE_URL": storage_url,
        "CONTEST_SECRET_KEY": "one-secret-for-every-process",
        "CONTEST_BASE_URL": "http://127.0.0.1:8000",
        **extra,
    }


def run_cli(env: Mapping[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [CONTEST_BIN, *args],
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"contest {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass
class AppServer:
    """One `contest serve` process."""

    env: dict[str, str]
    log: Path
    workers: int = 1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AppServer:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [CONTEST_BIN, "serve", "--port", str(self.port), "--workers", str(self.workers)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers die with it when the group is signalled
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL to the server and its workers: nothing gets to clean up."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


@contextlib.contextmanager
def running(*servers: AppServer) -> Iterator[tuple[AppServer, ...]]:
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def png(seed: int = 0, size: int = 16) -> bytes:
    """A small valid PNG whose bytes differ with seed."""
    import io
    import random

    from PIL import Image

    rng = random.Random(seed)
    image = Image.new("RGB", (size, size))
    image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))] * size * size)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def entry_fields(title: str = "Cây đa đầu làng") -> dict[str, str]:
    """The fields of a valid drawing entry of a child of the demo's class 3A."""
    return {
        "full_name": "Trần Thị Bình",
        "age": "9",
        "unit": "th-bach-sam-3a",
        "guardian_name": "Trần Văn Cường",
        "guardian_phone": "0912345678",
        "consent": "initials",
        "child_consent": "yes",
        "agreement": "yes",
        "title": title,
        "book": "other",
        "book_title": "Tuổi thơ dữ dội",
        "book_author": "Phùng Quán",
    }


@dataclass
class Seeded:
    tokens: dict[str, str]  # role name -> bearer token
    emails: dict[str, str]  # role name -> email (password PASSWORD)
    receipt_code: str
    edit_token: str
    slug: str
    unit_code: str


ENTRANT_TOKEN = "the-entrants-own-private-token"


def seed_accounts(database_url: str) -> Seeded:
    """An admin, a coordinator and a judge with passwords and API tokens, on the demo data;
    the first entry's private link is ENTRANT_TOKEN."""

    async def seed() -> Seeded:
        engine = create_engine(parse_database_url(database_url))
        try:
            sessionmaker = create_sessionmaker(engine)
            async with sessionmaker() as session:
                contest = await session.scalar(select(Contest).order_by(Contest.id))
                unit = await session.scalar(
                    select(Unit).where(Unit.code == "th-bach-sam-5a").order_by(Unit.id)
                )
                assert contest is not None and unit is not None
                entry = await session.scalar(
                    select(Entry).where(Entry.contest_id == contest.id).order_by(Entry.id)
                )
                assert entry is not None
                entry.edit_token_hash = hash_token(ENTRANT_TOKEN)
                tokens, emails = {}, {}
                for role in (Role.ADMIN, Role.COORDINATOR, Role.JUDGE):
                    email = f"hardening-{role.value}@example.vn"
                    user = User(
                        email=email,
                        name=role.value,
                        role=role,
                        password_hash=hash_password(PASSWORD),
                    )
                    session.add(user)
                    await session.flush()
                    await session.refresh(user, ["units", "judged_contests"])
                    if role is Role.COORDINATOR:
                        user.units.append(unit)
                    if role is Role.JUDGE:
                        user.judged_contests.append(contest)
                    _token, plain = await create_api_token(session, user=user, name="hardening")
                    tokens[role.value] = plain
                    emails[role.value] = email
                await session.commit()
                await run_assignment(session, contest_id=contest.id, actor=None)
                await session.commit()
                return Seeded(
                    tokens=tokens,
                    emails=emails,
                    receipt_code=entry.receipt_code,
                    edit_token=ENTRANT_TOKEN,
                    slug=contest.slug,
                    unit_code=unit.code,
                )
        finally:
            await engine.dispose()

    return run_apart(seed())
