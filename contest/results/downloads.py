"""What an export wrote into its caller's file: the name to offer it under, its media type and
how many rows (or certificates) it holds. The writers of ``exports`` and ``certificates``
return it; a download, a job or the command line names its file after it."""

from __future__ import annotations

from dataclasses import dataclass

MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "zip": "application/zip",
}


@dataclass(frozen=True, slots=True)
class ExportInfo:
    filename: str
    media_type: str
    rows: int
    draft: bool = False  # results exported before publication
