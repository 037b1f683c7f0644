"""Pages and API of the privacy notice, access and erasure."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
api_routes: list[BaseRoute] = []
