"""Helpers for the privacy tests: an entrant whose data is easy to look for, and a scan of every
row of every table for it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import Base
from contest.settings import Settings
from tests.intake.support import entrant_fields

NAME = "Hoàng Thị Hồng Nhung"
GUARDIAN = "Đặng Văn Quyết"
PHONE = "0987 123 456"
PHONE_STORED = "0987123456"
FILENAME = "tranh-cua-hong-nhung.jpg"
TITLE = "Khu vườn của bé Hồng Nhung"
NOTE = "Con vẽ theo truyện mẹ đọc"
# What must be gone after erasure, from every row, object, page and response.
NEEDLES = (NAME, GUARDIAN, PHONE, PHONE_STORED, FILENAME, TITLE, NOTE)


def personal_fields(**overrides: str) -> dict[str, str]:
    return entrant_fields(
        full_name=NAME,
        guardian_name=GUARDIAN,
        guardian_phone=PHONE,
        consent="full_name",
        title=TITLE,
        note=NOTE,
        **overrides,
    )


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value if isinstance(value, str) else ""


async def scan_database(
    sessionmaker: async_sessionmaker[AsyncSession], needles: tuple[str, ...] = NEEDLES
) -> list[str]:
    """Where any needle still sits: "table.column: needle" for every text or JSON value of
    every row of every table (compared case-blind)."""
    found = []
    async with sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                for column, value in row.items():
                    text = _text(value).casefold()
                    found += [
                        f"{table.name}.{column}: {needle}"
                        for needle in needles
                        if needle.casefold() in text
                    ]
    return found


def leaks(text: str, needles: tuple[str, ...] = NEEDLES) -> list[str]:
    import html

    plain = html.unescape(text).casefold()
    return [n for n in needles if n.casefold() in plain]


def point_command_at(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the ``contest`` command at the test's database and storage."""
    for name, value in (
        ("CONTEST_DATA_DIR", str(settings.data_dir)),
        ("CONTEST_DATABASE_URL", settings.database_url),
        ("CONTEST_STORAGE_URL", settings.storage_url),
        ("CONTEST_SECRET_KEY", settings.secret_key),
        ("CONTEST_BASE_URL", settings.base_url),
    ):
        monkeypatch.setenv(name, value)
