"""The file domain's refusals: a file that is not of an accepted kind, or not a readable image."""

from __future__ import annotations

from contest.errors import ContestError


class FileRefusedError(ContestError):
    """Base of the refusals of a file's bytes; ``message`` is already translated."""


class UnsupportedFileError(FileRefusedError):
    status_code = 415


class UnreadableImageError(FileRefusedError):
    """Not a decodable image, or a decompression bomb."""

    status_code = 422
