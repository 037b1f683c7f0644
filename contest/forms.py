"""Reading forms safely: CSRF check, size limits, NFC text.

The CSRF secret lives in the signed session cookie (set for anonymous visitors too), and every
form carries it back in a hidden field; cookie-authenticated API calls send it as the
``X-CSRF-Token`` header. Bearer-token calls carry no ambient authority and need none.
"""

from __future__ import annotations

import hmac
import json
import secrets
from enum import Enum
from typing import Any, TypeVar

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from contest.errors import InvalidError
from contest.files.limits import (
    CONSOLE_FORM_OVERHEAD,
    MAX_FORM_FIELD_BYTES,
    MAX_FORM_FIELDS,
    MAX_JSON_BYTES,
)
from contest.i18n import gettext, normalize_text

_E = TypeVar("_E", bound=Enum)

CSRF_SESSION_KEY = "csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def csrf_token(request: Request) -> str:
    token: str | None = request.session.get(CSRF_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_SESSION_KEY] = token
    return token


def verify_csrf(request: Request, submitted: str | None) -> None:
    if getattr(request.state, "via_token", False):
        return
    expected = request.session.get(CSRF_SESSION_KEY)
    submitted = submitted or request.headers.get(CSRF_HEADER)
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise HTTPException(
            403,
            gettext(
                "This form has expired or did not come from this site. "
                "Please go back, reload the page and try again."
            ),
        )


async def read_form(request: Request) -> dict[str, str]:
    """A posted form without files, CSRF-checked, every value NFC and trimmed."""
    try:
        form: FormData = await request.form(
            max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_FIELD_BYTES
        )
    except (HTTPException, ValueError, KeyError) as exc:
        # Starlette reports a malformed or oversized form as an English 400.
        raise HTTPException(400, gettext("The form could not be read. Please try again.")) from exc
    verify_csrf(request, _text(form.get(CSRF_FIELD)))
    return {key: normalize_text(value) for key, value in form.items() if isinstance(value, str)}


async def read_form_lists(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Like ``read_form``, plus every value of fields that repeat (checkbox groups)."""
    values = await read_form(request)
    form = await request.form()  # cached by Starlette after the first read
    lists = {
        key: [normalize_text(v) for v in form.getlist(key) if isinstance(v, str)] for key in form
    }
    return values, lists


async def read_json_object(request: Request, *, empty_is_object: bool = False) -> dict[str, Any]:
    """An API write's JSON body: at most MAX_JSON_BYTES (413), a JSON object (400 otherwise,
    translated). ``empty_is_object``: an empty body reads as ``{}`` (a change that changes
    nothing) rather than as invalid JSON."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise HTTPException(413, gettext("The request is too large."))
    try:
        data = json.loads(bytes(body) or (b"{}" if empty_is_object else b""))
    except ValueError:
        raise HTTPException(400, gettext("The request body is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise HTTPException(400, gettext("The request body must be a JSON object."))
    return data


# A console form that sends one file sends a few fields beside it (CSRF, a choice or two).
MAX_FILE_FORM_FIELDS = 5


async def read_one_file(
    request: Request, *, field: str, max_bytes: int, missing: str
) -> tuple[dict[str, str], bytes]:
    """The one small file a console form sends, with its other fields: CSRF-checked first,
    size-capped (413), a missing file refused with ``missing`` (422, translated here)."""
    if int(request.headers.get("content-length") or 0) > max_bytes + CONSOLE_FORM_OVERHEAD:
        raise HTTPException(413, gettext("The file is too large"))
    try:
        async with request.form(max_files=1, max_fields=MAX_FILE_FORM_FIELDS) as form:
            verify_csrf(request, _text(form.get(CSRF_FIELD)))
            upload = form.get(field)
            if upload is None or isinstance(upload, str):
                raise HTTPException(422, gettext(missing))
            data = await upload.read(max_bytes + 1)
            values = {k: normalize_text(v) for k, v in form.items() if isinstance(v, str)}
    except HTTPException as exc:
        if exc.status_code != 400:
            raise
        # Starlette reports a malformed multipart body as an English 400.
        raise HTTPException(400, gettext("The form could not be read. Please try again.")) from exc
    if len(data) > max_bytes:
        raise HTTPException(413, gettext("The file is too large"))
    return values, data


def _text(value: str | UploadFile | None) -> str | None:
    return value if isinstance(value, str) else None


def optional_choice(kind: type[_E], value: str) -> _E | None:
    """One of ``kind``'s values chosen in a form, or none when left empty; anything else is
    refused (422), since only the form's own options can be sent."""
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise InvalidError(gettext("Choose one of the options.")) from None
