"""The one error style: every domain error is a ``ContestError`` that carries its status and
its message, already in the visitor's language.

A service raises a subclass; a handler that wants to show the problem inside its own page (a
form re-rendered with its fields marked) catches it, and everything else reaches the one handler
in ``contest.error_pages``, registered once in ``create_app``. This module imports nothing of the
web layer, so every domain may use it.
"""

from __future__ import annotations

from typing import ClassVar

from contest.i18n import gettext


class ContestError(Exception):
    """Base of every domain error. ``message`` is already in the visitor's language;
    ``fields`` maps a form field to what is wrong with it, for 422 answers. An error that
    always says the same marks it as ``default_message`` (with ``N_``): it is translated
    when the error is raised."""

    status_code = 400
    default_message: ClassVar[str] = ""

    def __init__(self, message: str = "", *, fields: dict[str, str] | None = None) -> None:
        self.fields = dict(fields or {})
        if not message and self.default_message:
            message = gettext(self.default_message)
        self.message = message or "; ".join(self.fields.values())
        super().__init__(self.message)


class CodedError(ContestError):
    """A refusal named by a code: ``str()`` of the error, for logs and the command line; the
    status and the visitor's message follow from the class's ``errors`` table, the message
    filled in with ``values`` (the entry, unit or division it names)."""

    errors: ClassVar[dict[str, tuple[int, str]]] = {}

    def __init__(self, code: str, /, **values: object) -> None:
        status, message = self.errors[code]
        super().__init__(gettext(message, **{k: str(v) for k, v in values.items()}))
        self.status_code = status
        self.code = code
        self.args = (code,)


class NotFoundError(ContestError):
    """Absent, or not the asker's to see: the two answer alike, so nothing leaks."""

    status_code = 404


class ForbiddenError(ContestError):
    status_code = 403


class ConflictError(ContestError):
    status_code = 409


class InvalidError(ContestError):
    status_code = 422
