"""Jinja2 templates, speaking the visitor's language."""

from __future__ import annotations

import json
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import jinja2
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from contest import i18n
from contest.forms import CSRF_FIELD, csrf_token
from contest.settings import SUPPORTED_LOCALES

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


# The request being rendered, for helpers called from imported macros (which see no context).
_rendering: ContextVar[Request] = ContextVar("rendering")


def _csrf_token(request: Request | None = None) -> str:
    return csrf_token(request or _rendering.get())


def _for_units() -> bool:
    """Whether the page is drawn for an organiser of some units only (their console shows
    only the pages made for them: contest.rules.OrganiserScope)."""
    scope = getattr(_rendering.get().state, "organiser_scope", None)
    return bool(scope and scope.for_units)


def create_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Newstyle gettext escapes its arguments and formats %(name)s itself.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda message: i18n.translations(i18n.get_locale()).gettext(message),
        ngettext=lambda s, p, n: i18n.translations(i18n.get_locale()).ngettext(s, p, n),
        newstyle=True,
    )
    env.filters.update(
        date=i18n.format_date,
        datetime=i18n.format_datetime,
        number=i18n.format_number,
        filesize=i18n.format_size,
        # The value of an <input type="datetime-local">, in Vietnam's time.
        localinput=lambda value: i18n.local_time(value).strftime("%Y-%m-%dT%H:%M"),
        # Readable JSON for people (the audit log); autoescape still applies.
        json_text=lambda value: json.dumps(value, ensure_ascii=False, sort_keys=True),
    )
    env.globals.update(
        get_locale=i18n.get_locale,
        supported_locales=SUPPORTED_LOCALES,
        language_names=i18n.LANGUAGE_NAMES,
        countdown_words=i18n.countdown_words,
        csrf_token=_csrf_token,
        csrf_field_name=CSRF_FIELD,
        for_units=_for_units,
    )
    return Jinja2Templates(env=env)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    background: BackgroundTask | None = None,
) -> HTMLResponse:
    templates: Jinja2Templates = request.state.templates
    _rendering.set(request)
    response = templates.TemplateResponse(
        request, name, context or {}, status_code=status_code, background=background
    )
    response.headers["Content-Language"] = i18n.get_locale()
    return response
