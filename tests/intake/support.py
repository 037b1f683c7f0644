"""Helpers for the intake tests: multipart bodies made by hand, and counts of what is stored."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import httpx
from markupsafe import escape
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import utcnow
from contest.i18n import ngettext, use_locale
from contest.models import Asset, Assignment, Contest, Entrant, Entry, Role, User
from storage import LocalStorage, Storage
from tests.intake.files import drawing_png
from tests.support import DRAWING, Account, MakeUser, csrf_from, sign_in, vi

# The refusal of a child's name shown without the child's own consent.
CHILD_REFUSAL = (
    "A child aged 7 to 17 must agree for themself before their name can be shown: let the "
    "child tick their own box, or choose not to show the name."
)
API = "/api/v1"
RECEIPT_LINK = re.compile(r"/entries/([2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4})\?token=([\w-]+)")


def vi_n(singular: str, plural: str, n: int, **values: object) -> str:
    with use_locale("vi"):
        return ngettext(singular, plural, n, **values)


def too_many_words(num: int, limit: int) -> str:
    """The refusal of a typed text over its word limit, in Vietnamese."""
    return vi_n(
        "The text has %(num)d word; the limit is %(limit)s.",
        "The text has %(num)d words; the limit is %(limit)s.",
        num,
        limit=limit,
    )


# The drawing contest's kinds of file, as its refusals list them.
DRAWING_KINDS = "JPEG, PNG, WebP, HEIC, PDF"


def kind_not_accepted(types: str) -> str:
    """The refusal of a kind of file the contest does not take, in Vietnamese."""
    return vi("This kind of file is not accepted here. Please send one of: %(types)s.", types=types)


@dataclass(frozen=True)
class Counts:
    entrants: int
    entries: int
    assets: int
    objects: int


# What the ``nothing_stored`` and ``one_entry_stored`` fixtures give: a check of what a block
# added to the rows and objects.
StoredCheck = Callable[[], AbstractAsyncContextManager[Counts]]


async def counts(sessionmaker: async_sessionmaker[AsyncSession], store: Storage) -> Counts:
    async with sessionmaker() as session:
        values = [
            await session.scalar(select(func.count()).select_from(model))
            for model in (Entrant, Entry, Asset)
        ]
    return Counts(*(v or 0 for v in values), objects=len(await store.list_keys("")))


async def entry_by_code(sessionmaker: async_sessionmaker[AsyncSession], code: str) -> Entry:
    async with sessionmaker() as session:
        entry = await session.scalar(select(Entry).where(Entry.receipt_code == code))
        assert entry is not None
        return entry


async def entry_assets(
    sessionmaker: async_sessionmaker[AsyncSession], entry_id: int
) -> list[Asset]:
    """The entry's stored files, in the order they were stored."""
    async with sessionmaker() as session:
        found = await session.scalars(
            select(Asset).where(Asset.entry_id == entry_id).order_by(Asset.id)
        )
        return list(found)


async def assigned_judge(
    session: AsyncSession, *, contest_id: int, entry_id: int
) -> tuple[Assignment, User]:
    """The contest's entries given their judges, as the organiser's assignment does (and
    committed): the entry's first assignment and its judge."""
    import judging.services as judging

    await judging.run_assignment(session, contest_id=contest_id, actor=None)
    await session.commit()
    assignment = await session.scalar(
        select(Assignment).where(Assignment.entry_id == entry_id).order_by(Assignment.id)
    )
    assert assignment is not None
    judge = await session.get(User, assignment.judge_id)
    assert judge is not None
    return assignment, judge


def entrant_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "full_name": "Nguyễn Minh Anh",
        "age": "10",
        "grade": "5",
        "unit": "th-bach-sam-5a",
        "guardian_name": "Nguyễn Văn Bình",
        "guardian_phone": "0912 345 678",
        "consent": "initials",
        "child_consent": "yes",
        "agreement": "yes",
        "title": "Hoa vàng trên cỏ xanh",
        "book": "other",
        "book_title": "Tôi thấy hoa vàng trên cỏ xanh",
        "book_author": "Nguyễn Nhật Ánh",
        "note": "",
    }
    fields.update(overrides)
    return fields


def entrant_fields_without(name: str, **overrides: str) -> dict[str, str]:
    """``entrant_fields`` lacking one field (an agreement or a consent not given)."""
    fields = entrant_fields(**overrides)
    del fields[name]
    return fields


async def entrant_by_code(sessionmaker: async_sessionmaker[AsyncSession], code: str) -> Entrant:
    async with sessionmaker() as session:
        entrant = await session.scalar(
            select(Entrant)
            .join(Entry, Entry.entrant_id == Entrant.id)
            .where(Entry.receipt_code == code)
        )
        assert entrant is not None
        return entrant


@dataclass
class Multipart:
    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[tuple[str, str, bytes, str]] = field(default_factory=list)
    boundary: str = field(default_factory=lambda: "----b" + uuid.uuid4().hex)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def body(self) -> bytes:
        out = bytearray()
        b = self.boundary.encode()
        for name, value in self.fields:
            out += b"--" + b + b"\r\n"
            out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            out += value.encode() + b"\r\n"
        for name, filename, data, content_type in self.files:
            quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
            out += b"--" + b + b"\r\n"
            out += (
                f'Content-Disposition: form-data; name="{name}"; filename="{quoted}"\r\n'.encode()
            )
            out += f"Content-Type: {content_type}\r\n\r\n".encode()
            out += data + b"\r\n"
        out += b"--" + b + b"--\r\n"
        return bytes(out)


def form(
    fields: dict[str, str] | Iterable[tuple[str, str]],
    files: Iterable[tuple[str, bytes]] = (),
    *,
    csrf: str | None = None,
    key: str | None = None,
    content_type: str = "application/octet-stream",
) -> Multipart:
    pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
    head = [("csrf_token", csrf)] if csrf else []
    if key:
        head.append(("idempotency_key", key))
    return Multipart(
        fields=head + pairs,
        files=[("file", name, data, content_type) for name, data in files],
    )


async def post_form(
    client: httpx.AsyncClient, path: str, body: Multipart, **kwargs: Any
) -> httpx.Response:
    return await client.post(
        path,
        content=body.body(),
        headers={"Content-Type": body.content_type, **kwargs.pop("headers", {})},
        **kwargs,
    )


async def api_submit(
    client: httpx.AsyncClient,
    slug: str,
    fields: dict[str, str],
    uploads: list[tuple[str, bytes]] | None = None,
    *,
    key: str | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> httpx.Response:
    """An entry sent to the API as a client sends it (with ``key`` as its Idempotency-Key)."""
    body = form([*fields.items(), *(extra or [])], uploads or [])
    headers = {"Idempotency-Key": key} if key else {}
    return await post_form(client, f"{API}/contests/{slug}/entries", body, headers=headers)


async def submit_page(
    client: httpx.AsyncClient,
    slug: str,
    fields: dict[str, str],
    files: Iterable[tuple[str, bytes]] = (),
    *,
    key: str | None = None,
) -> httpx.Response:
    path = f"/contests/{slug}/submit"
    token = await csrf_from(client, path)
    body = form(fields, files, csrf=token, key=key or uuid.uuid4().hex)
    return await post_form(client, path, body)


async def signed_in_coordinator(
    client: httpx.AsyncClient, make_user: MakeUser, units: list[str]
) -> Account:
    """A new coordinator of these units, signed in on ``client``."""
    account = await make_user(
        f"gv{uuid.uuid4().hex[:6]}@bachsam.demo", Role.COORDINATOR, units=units
    )
    await sign_in(client, account.user.email, account.password)
    return account


def assert_alert(response: httpx.Response, message: str) -> None:
    """The page tells the visitor this, in Vietnamese, escaped as the templates escape it."""
    assert response.headers["content-language"] == "vi"
    assert str(escape(message)) in response.text, response.text[:3000]


class Refused(Protocol):
    """The ``refused`` fixture (tests/intake/conftest.py)."""

    async def __call__(
        self,
        slug: str,
        files: Iterable[tuple[str, bytes]] = (),
        *,
        fields: dict[str, str] | None = None,
        status: int,
        alert: str | None = None,
    ) -> httpx.Response: ...


class ApiRefused(Protocol):
    """The ``api_refused`` fixture (tests/intake/conftest.py)."""

    async def __call__(
        self,
        slug: str,
        fields: dict[str, str],
        files: list[tuple[str, bytes]] | None = None,
        *,
        status: int,
    ) -> dict[str, Any]: ...


def receipt_of(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 303, response.text[:2000]
    found = RECEIPT_LINK.search(response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1), found.group(2)


async def submit_drawing(
    client: httpx.AsyncClient, name: str = "t.png", data: bytes | None = None
) -> tuple[str, str]:
    """A drawing (by default a small PNG) sent through the page for the usual entrant: its
    receipt code and edit token."""
    uploads = [(name, drawing_png() if data is None else data)]
    return receipt_of(await submit_page(client, DRAWING, entrant_fields(), uploads))


async def served(app: httpx.AsyncClient, store: Storage, url: str) -> httpx.Response:
    """What a browser gets at a link of the storage's: the local folder is served by the app,
    S3 straight from the bucket, over HTTP."""
    if isinstance(store, LocalStorage):
        return await app.get(url)
    async with httpx.AsyncClient() as plain:
        return await plain.get(url)


async def set_window(
    sessionmaker: async_sessionmaker[AsyncSession],
    slug: str,
    *,
    opens_in: timedelta,
    closes_in: timedelta,
) -> None:
    now = utcnow()
    async with sessionmaker() as session:
        await session.execute(
            update(Contest)
            .where(Contest.slug == slug)
            .values(opens_at=now + opens_in, closes_at=now + closes_in)
        )
        await session.commit()


async def counting_body(
    data: bytes, pulled: list[int], chunk: int = 16 * 1024
) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk):
        part = data[start : start + chunk]
        pulled[0] += len(part)
        yield part
