"""The JSON API under /api/v1, and its OpenAPI description built from the endpoints' docstrings.

Each endpoint's docstring ends with its OpenAPI operation in YAML after a line ``---``.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.schemas import SchemaGenerator

from contest import labels
from contest.access import ANYONE, access_of, public
from contest.db import MAX_ROW_ID, utcnow
from contest.events import services
from contest.events.media import division_policy
from contest.i18n import gettext
from contest.models import Contest, Unit, UnitKind
from contest.public.routes import public_contest

API_PREFIX = "/api/v1"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "title", "message"],
            "properties": {
                "status": {"type": "integer"},
                "title": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}

CONTEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["slug", "kind", "title", "opens_at", "closes_at", "phase"],
    "properties": {
        "slug": {"type": "string"},
        "kind": {"type": "string", "enum": ["writing", "drawing", "storytelling"]},
        "kind_label": {"type": "string"},
        "title": {"type": "string"},
        "summary": {"type": "string"},
        "rules": {"type": "string"},
        "opens_at": {"type": "string", "format": "date-time"},
        "closes_at": {"type": "string", "format": "date-time"},
        "phase": {"type": "string", "enum": ["upcoming", "open", "closing_soon", "closed"]},
        "media_policy": {
            "type": "object",
            "properties": {
                "allowed_types": {"type": "array", "items": {"type": "string"}},
                "max_file_size": {"type": "integer"},
                "max_files": {"type": "integer"},
                "max_words": {"type": ["integer", "null"]},
            },
        },
        "divisions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "media_policy": {
                        "type": "object",
                        "description": "What an entry to this division is checked against: "
                        "the kinds it takes (415 otherwise), whether typed text is taken, the "
                        "word limit, and a video's shortest and longest length in seconds "
                        "(422 otherwise, or when a video's length cannot be read).",
                        "properties": {
                            "allowed_types": {"type": "array", "items": {"type": "string"}},
                            "typed_text": {"type": "boolean"},
                            "max_words": {"type": ["integer", "null"]},
                            "min_seconds": {"type": ["integer", "null"]},
                            "max_seconds": {"type": ["integer", "null"]},
                        },
                    }
                },
            },
        },
        "books": {"type": "array", "items": {"type": "object"}},
        "criteria": {"type": "array", "items": {"type": "object"}},
    },
}

UNIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "name", "kind", "parent"],
    "properties": {
        "code": {"type": "string", "description": "What an entry's `unit` field takes."},
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": [kind.value for kind in UnitKind]},
        "parent": {"type": ["string", "null"], "description": "The code of the unit above."},
    },
}


ERROR_RESPONSES = {
    400: "The request could not be read.",
    401: "Not signed in, or the API token is not valid.",
    403: "Not allowed for this account, or the CSRF token is missing.",
    404: "Not found, or not yours to see.",
    409: "In conflict with the current state (for example a closed round).",
    413: "Too large.",
    415: "This kind of file is not accepted.",
    422: "Some values need correcting; `fields` names them.",
    429: "Too many attempts.",
    503: "A part of the service is unavailable; nothing was stored.",
}

# Refusals several entrant endpoints share, by name; each says more than its status alone.
NAMED_ERROR_RESPONSES = {
    "EntryNotFound": "No entry has this receipt code.",
    "WrongEditToken": "The edit token is not this entry's.",
    "ContestNotOpen": "The contest is not open for entries.",
    "StorageDown": "Storage unreachable.",
    "FileTooLarge": "A file is over the contest's limit.",
    "FileKindRefused": "A file's bytes are not of an accepted kind.",
}

# What both endpoints that take an entry (an entrant's and a coordinator's) share. A
# docstring refers to a parameter or body here as ``{$ref: "#/shared/NAME"}``; the document
# served has it written out in place.
_RECEIPT = {"application/json": {"schema": {"$ref": "#/components/schemas/Receipt"}}}
SHARED: dict[str, dict[str, Any]] = {
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{16,64}$"},
    },
    "EntrySubmission": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {"$ref": "#/components/schemas/EntrySubmission"}}
        },
    },
}
RECEIPT_RESPONSES = {
    "ReceiptMade": {"description": "The entry was made.", "content": _RECEIPT},
    "ReceiptReplayed": {
        "description": "The same Idempotency-Key was sent before; this is the entry it made.",
        "content": _RECEIPT,
    },
}

schemas = SchemaGenerator(
    {
        "openapi": "3.1.0",
        "info": {
            "title": "Reading Week contests API",
            "version": "1",
            "description": "Contests, entries, judging and results. Authenticate with a session "
            "cookie (plus X-CSRF-Token on writes) or an `Authorization: Bearer` API token.",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, "Contest": CONTEST_SCHEMA, "Unit": UNIT_SCHEMA},
            # Every error answers with the same JSON shape; endpoints refer to these by status.
            "responses": {
                str(status): {
                    "description": description,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
                for status, description in [
                    *ERROR_RESPONSES.items(),
                    *NAMED_ERROR_RESPONSES.items(),
                ]
            }
            | RECEIPT_RESPONSES,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
)


def contest_json(contest: Contest, now: datetime, *, detail: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": contest.slug,
        "kind": contest.kind.value,
        "kind_label": gettext(labels.CONTEST_KINDS[contest.kind]),
        "title": contest.title,
        "summary": contest.summary,
        "opens_at": contest.opens_at.isoformat(),
        "closes_at": contest.closes_at.isoformat(),
        "phase": services.contest_phase(contest, now).value,
        "media_policy": {
            "allowed_types": list(contest.allowed_types),
            "max_file_size": contest.max_file_size,
            "max_files": contest.max_files,
            "max_words": contest.max_words,
        },
    }
    if detail:
        data["rules"] = contest.rules
        data["divisions"] = [
            {
                "key": d.key,
                "name": d.name,
                "min_age": d.min_age,
                "max_age": d.max_age,
                "media_policy": division_policy(contest, d),
            }
            for d in contest.divisions
        ]
        data["books"] = [{"id": b.id, "title": b.title, "author": b.author} for b in contest.books]
        data["criteria"] = [
            {"key": c.key, "label": c.label, "max_points": c.max_points, "weight": c.weight}
            for c in contest.criteria
        ]
    return data


@public
async def list_contests(request: Request) -> Response:
    """The current event's public contests.
    ---
    summary: List contests
    operationId: listContests
    responses:
      "200":
        description: The contests, in the organisers' order.
        content:
          application/json:
            schema:
              type: object
              required: [contests]
              properties:
                event:
                  type: [object, "null"]
                contests:
                  type: array
                  items: {$ref: "#/components/schemas/Contest"}
    """
    now = utcnow()
    async with request.state.sessionmaker() as session:
        event = await services.find_current_event(session)
        if event is None:
            return JSONResponse({"event": None, "contests": []})
    return JSONResponse(
        {
            "event": services.event_json(event),
            "contests": [
                contest_json(c, now, detail=False) for c in services.public_contests(event)
            ],
        }
    )


@public
async def read_contest(request: Request) -> Response:
    """One contest with its rules, divisions, suggested books and rubric.
    ---
    summary: Read a contest
    operationId: readContest
    responses:
      "200":
        description: The contest.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Contest"}
      "404":
        description: No such public contest.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Error"}
    """
    async with request.state.sessionmaker() as session:
        contest = await public_contest(session, request)
    return JSONResponse(contest_json(contest, utcnow(), detail=True))


@public
async def list_units(request: Request) -> Response:
    """The units of a contest's event (schools and their classes, residential groups, the
    learning centre), as a tree by `parent`: an entry names one of them by its `code`.
    ---
    summary: List a contest's units
    operationId: listUnits
    responses:
      "200":
        description: The units, schools before their classes.
        content:
          application/json:
            schema:
              type: object
              required: [units]
              properties:
                units:
                  type: array
                  items: {$ref: "#/components/schemas/Unit"}
    """
    async with request.state.sessionmaker() as session:
        contest = await public_contest(session, request)
        units = (
            await session.scalars(
                select(Unit).where(Unit.event_id == contest.event_id).order_by(Unit.id)
            )
        ).all()
    codes = {unit.id: unit.code for unit in units}
    ordered = sorted(units, key=lambda u: (u.parent_id is not None, u.name, u.id))
    return JSONResponse(
        {
            "units": [
                {
                    "code": unit.code,
                    "name": unit.name,
                    "kind": unit.kind.value,
                    "parent": codes.get(unit.parent_id) if unit.parent_id else None,
                }
                for unit in ordered
            ]
        }
    )


@public
async def openapi(request: Request) -> Response:
    """The OpenAPI description of this API."""
    routes = request.app.state.api_routes
    schema = schemas.get_schema(routes=routes)
    # An endpoint behind requires() takes a session or an API token: its access declaration
    # says so, and the docstring need not.
    guarded = {
        (endpoint.path, endpoint.http_method)
        for endpoint in schemas.get_endpoints(routes)
        if access_of(endpoint.func) not in (None, frozenset({ANYONE}))
    }
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if (path, method) in guarded:
                operation.setdefault("security", [{"bearer": []}])
    # Each domain's payload schemas join the shared components.
    schema["components"]["schemas"] = {
        **schema["components"]["schemas"],
        **request.app.state.api_schemas,
    }
    # Paths are relative to the server URL /api/v1.
    schema["paths"] = {
        path.removeprefix(API_PREFIX) or "/": item for path, item in schema["paths"].items()
    }
    for path, item in schema["paths"].items():
        for operation in item.values():
            _expand_json(operation)
            _declare_path_parameters(path, operation)
            _bound_path_parameters(operation)
            _add_edit_token(operation)
            _add_common_errors(operation)
    return JSONResponse(schema)


def _shared(part: Any) -> Any:
    if isinstance(part, dict) and set(part) == {"$ref"} and part["$ref"].startswith("#/shared/"):
        return copy.deepcopy(SHARED[part["$ref"].removeprefix("#/shared/")])
    return part


def _expand_json(operation: dict[str, Any]) -> None:
    """A docstring's ``requestBody: {json: SCHEMA}`` is a required JSON body of that schema, and
    a response's ``json: SCHEMA`` its JSON content: the API's usual bodies, said in full here
    rather than in every docstring. A shared parameter or body is written out where it is
    named."""
    if "parameters" in operation:
        operation["parameters"] = [_shared(p) for p in operation["parameters"]]
    body = _shared(operation.get("requestBody"))
    if isinstance(body, dict) and set(body) == {"json"}:
        body = {"required": True, "content": {"application/json": {"schema": body["json"]}}}
    if body is not None:
        operation["requestBody"] = body
    for response in operation.get("responses", {}).values():
        if "json" in response:
            response["content"] = {"application/json": {"schema": response.pop("json")}}


def _declare_path_parameters(path: str, operation: dict[str, Any]) -> None:
    """Every part of a path the router fills in, declared from the path itself: a name ending
    in ``_id`` is a row's number, any other a word (a slug, a receipt code). A docstring lists
    only its query and header parameters."""
    parameters = operation.setdefault("parameters", [])
    declared = {p.get("name") for p in parameters if p.get("in") == "path"}
    for name in re.findall(r"{(\w+)}", path):
        if name not in declared:
            kind = "integer" if name.endswith("_id") else "string"
            parameters.append(
                {"name": name, "in": "path", "required": True, "schema": {"type": kind}}
            )
    if not parameters:
        del operation["parameters"]


def _bound_path_parameters(operation: dict[str, Any]) -> None:
    """A path's numbers are row ids (the router matches no others) and its words are never
    empty: said once here rather than in every docstring."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "path":
            continue
        schema = parameter.setdefault("schema", {})
        if schema.get("type") == "integer":
            schema.setdefault("minimum", 1)
            schema.setdefault("maximum", MAX_ROW_ID)
        elif schema.get("type") == "string":
            schema.setdefault("minLength", 1)


def _add_edit_token(operation: dict[str, Any]) -> None:
    """A path naming an entry by its receipt code also wants the entry's edit token (the
    entrant has no account): the header is declared once here rather than in every docstring."""
    parameters = operation.get("parameters", [])
    if any(p.get("in") == "path" and p.get("name") == "code" for p in parameters):
        parameters.append(
            {"name": "X-Edit-Token", "in": "header", "required": True, "schema": {"type": "string"}}
        )


def _add_common_errors(operation: dict[str, Any]) -> None:
    """The errors any operation of a kind can answer, whatever its own docstring lists: a path
    naming nothing (404), a missing or wrong credential or role (401, 403), a body that cannot
    be read or is incomplete (400, 422). They share the Error shape of components.responses."""
    common = []
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        common.append(404)
    if operation.get("security"):
        common += [401, 403]
    if "requestBody" in operation:
        common += [400, 422]
    responses = operation.setdefault("responses", {})
    for status in common:
        responses.setdefault(str(status), {"$ref": f"#/components/responses/{status}"})


routes: list[BaseRoute] = [
    Route("/contests", list_contests, methods=["GET"], name="api_contests"),
    Route("/contests/{slug:str}", read_contest, methods=["GET"], name="api_contest"),
    Route("/contests/{slug:str}/units", list_units, methods=["GET"], name="api_units"),
]
