"""The shape of a kind of job, and the one way a job keeps a file it made.

Each domain says what its kinds do (``judging.jobs``, ``contest.results.jobs``), by calling the
service functions that its pages, API and command line call; the composition root gathers
them into one table (``contest.app.JOB_KINDS``) for the queue and the workers, so this package
needs none of the domains. A kind runs its work in one unit of work, so a worker killed half-way
leaves nothing of it: the job is claimed again and runs from the start, with no duplicate rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.files import keys
from contest.models import Job, User
from contest.progress import Progress
from contest.settings import Settings
from storage import Storage

EXPORT_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class JobContext:
    job: Job
    actor: User | None
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: Storage
    progress: Progress


Run = Callable[[JobContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str  # translated at display time
    run: Run
    # Where the organiser goes back to from the job's page.
    back: str


# Every kind by its name, as the composition root assembles them.
Kinds = Mapping[str, JobKind]


async def _file_chunks(file: BinaryIO) -> AsyncIterator[bytes]:
    while chunk := file.read(EXPORT_CHUNK):
        yield chunk


async def store_export(
    ctx: JobContext,
    write: Callable[[BinaryIO], Awaitable[tuple[str, str]]],
) -> dict[str, Any]:
    """Write an export into a temporary file, then into storage under the job's own key; the
    organiser downloads it from the job's page. ``write`` returns (file name, media type)."""
    with tempfile.TemporaryFile(dir=ctx.settings.data_dir) as file:
        filename, media_type = await write(file)
        file.seek(0)
        key = keys.export_key(ctx.job.id, Path(filename).name)
        stored = await ctx.storage.put_stream(key, _file_chunks(file), content_type=media_type)
    return {"file": key, "filename": filename, "media_type": media_type, "size": stored.size}
