"""Where files are stored: the one layout of storage keys, one function per kind of key.

Keys are made by the server and name nobody (judges see links to them): an upload is a random
folder holding its original and what is derived from it.
"""

from __future__ import annotations

import uuid

from contest.files.kinds import FileKind

_ENTRIES = "entries"
_EVENT = "event"
_IMPORTS = "imports"
_EXPORTS = "exports"


def new_upload_id() -> str:
    return uuid.uuid4().hex


def original_key(upload_id: str, kind: FileKind) -> str:
    """Where an upload's original file is stored."""
    return f"{_ENTRIES}/{upload_id}/original.{kind.extension}"


def original_key_prefix(upload_id: str) -> str:
    """What every original key of an upload starts with, whatever its kind."""
    return f"{_ENTRIES}/{upload_id}/original."


def derived_key(original: str, role: str) -> str:
    """Where a file derived from an original (its preview, its thumbnail) is stored: beside it."""
    return f"{original.rsplit('/', 1)[0]}/{role}.jpg"


def copied_key(key: str, upload_id: str) -> str:
    """Where a copy of an entry's file is stored (an entry forwarded to the next level): the
    same name in the copy's own folder, so that removing one copy never touches the other."""
    return f"{_ENTRIES}/{upload_id}/{key.rsplit('/', 1)[1]}"


def upload_id_of(key: str) -> str:
    """The upload an entry's key belongs to."""
    return key.split("/")[1]


def new_logo_key() -> str:
    """Where a newly set event logo is stored: a new key for each logo."""
    return f"{_EVENT}/{uuid.uuid4().hex}/logo.jpg"


def new_import_keys(*, with_archive: bool) -> tuple[str, str | None]:
    """Where a bulk import's CSV and ZIP wait for its job: a new folder for each import."""
    folder = f"{_IMPORTS}/{uuid.uuid4().hex}"
    return f"{folder}/entrants.csv", (f"{folder}/files.zip" if with_archive else None)


def export_key(job_id: int, filename: str) -> str:
    """Where the file an export job made is kept for the organiser to download."""
    return f"{_EXPORTS}/job-{job_id}/{filename}"
