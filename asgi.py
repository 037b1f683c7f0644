"""What ``uvicorn asgi:app`` serves."""

from contest.app import create_app
from contest.settings import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One line naming the variable, not a traceback.
    raise SystemExit(f"contest: {exc}") from None
