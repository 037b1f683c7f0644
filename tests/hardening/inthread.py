"""The app (with its lifespan) on an event loop of its own thread, driven from sync code:
Hypothesis' @given tests are sync, and each example makes real requests through ASGI."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from contest.db import create_engine, create_sessionmaker
from contest.settings import Settings
from tests.support import app_client

T = TypeVar("T")


class AppInThread:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._contexts: list[Any] = []

    def __enter__(self) -> AppInThread:
        self._thread.start()

        async def open_engine() -> AsyncEngine:
            return create_engine(self._settings.database_url)

        # The test's own look at the database, on this loop (asyncpg connections belong to
        # the loop that opened them).
        self.engine = self.run(open_engine())
        self.sessionmaker = create_sessionmaker(self.engine)
        return self

    def __exit__(self, *exc: object) -> None:
        for context in reversed(self._contexts):
            self.run(context.__aexit__(None, None, None))
        self.run(self.engine.dispose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=60)

    def client(self) -> httpx.AsyncClient:
        """A client of its own (its own cookie jar) on the app, closed with the app."""
        context = app_client(self._settings)
        self._contexts.append(context)
        return self.run(context.__aenter__())
