"""The browser fixtures of tests/e2e (a demo server per module, Debian's Chromium) reused."""

from tests.e2e.conftest import artifacts, browser, live_server

__all__ = ["artifacts", "browser", "live_server"]
