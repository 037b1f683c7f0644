"""``contest erase`` and ``contest retention apply``: what the commands run, each with its own
engine and storage, closed afterwards."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.db import utcnow
from contest.privacy import services
from contest.privacy.interfaces import ErasureReport, PrivacyError, RetentionRun
from contest.settings import Settings
from storage import Storage

T = TypeVar("T")


class PrivacyCommandError(Exception):
    """A refusal the command prints on one line."""


async def _with_app_parts(
    settings: Settings,
    work: Callable[[async_sessionmaker[AsyncSession], Storage], Awaitable[T]],
) -> T:
    from contest.db import create_engine, create_sessionmaker
    from storage import storage_from_url

    engine = create_engine(settings.database_url)
    storage = storage_from_url(
        settings.storage_url, secret_key=settings.secret_key, base_url=settings.base_url
    )
    try:
        return await work(create_sessionmaker(engine), storage)
    finally:
        await storage.aclose()
        await engine.dispose()


async def erase(settings: Settings, *, receipt_code: str, reason: str) -> ErasureReport:
    async def work(
        sessionmaker: async_sessionmaker[AsyncSession], storage: Storage
    ) -> ErasureReport:
        return await services.erase_entrant(
            sessionmaker=sessionmaker,
            storage=storage,
            receipt_code=receipt_code,
            reason=services.check_reason(reason, required=False),
            actor_label="cli",
        )

    try:
        return await _with_app_parts(settings, work)
    except PrivacyError as exc:
        raise PrivacyCommandError(exc.message) from None


def erasure_message(report: ErasureReport) -> str:
    if report.already:
        return f"Entry {report.receipt_code} was already erased; nothing changed."
    others = report.entries - 1
    message = (
        f"Erased the personal data of entry {report.receipt_code}"
        + (f" and of {others} other entry(ies) of the same entrant" if others else "")
        + f"; {report.files_deleted} stored file(s) deleted."
    )
    if report.files_left:
        message += (
            f" {report.files_left} file(s) could not be deleted now: run the command again later."
        )
    return message


async def retention(
    settings: Settings, *, dry_run: bool, now: datetime | None = None
) -> RetentionRun:
    async def work(
        sessionmaker: async_sessionmaker[AsyncSession], storage: Storage
    ) -> RetentionRun:
        return await services.apply_retention(
            sessionmaker=sessionmaker, storage=storage, now=now or utcnow(), dry_run=dry_run
        )

    return await _with_app_parts(settings, work)


def retention_lines(run: RetentionRun, *, dry_run: bool) -> list[str]:
    """One line per entry (tab-separated: receipt code, event, contest, clock start, due
    date), then a summary."""
    lines = [
        "\t".join(
            (
                item.receipt_code,
                item.event_slug,
                item.contest_slug,
                item.clock_started.date().isoformat(),
                item.due.date().isoformat(),
            )
        )
        for item in run.items
    ]
    if dry_run:
        lines.append(f"Would erase {len(run.items)} entr{'y' if len(run.items) == 1 else 'ies'}.")
    else:
        lines.append(
            retention_summary(
                {
                    "due": len(run.items),
                    "files_deleted": run.files_deleted,
                    "files_left": run.files_left,
                }
            )
        )
    return lines


def retention_summary(result: dict[str, Any]) -> str:
    """The last line of a run, from the retention job's result."""
    due, deleted, left = result["due"], result["files_deleted"], result["files_left"]
    return f"Erased {due} entr{'y' if due == 1 else 'ies'}; {deleted} stored file(s) deleted" + (
        f", {left} left for the next run." if left else "."
    )
