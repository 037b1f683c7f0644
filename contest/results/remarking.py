"""Re-marking requests (phúc khảo): after publication an entrant asks, another judge re-scores,
the organiser decides."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
api_routes: list[BaseRoute] = []
