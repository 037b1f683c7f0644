from __future__ import annotations

from datetime import timedelta

INVITATION_LIFETIME = timedelta(days=7)
MIN_PASSWORD_LENGTH = 10
# Failed sign-ins counted over the window: per account (guessing one password) and per
# address (trying many accounts). Shared by all app processes through the database.
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 30
TOKEN_PREFIX = "ctk_"  # noqa: S105  (a label, not a secret)


class LoginFailedError(Exception):
    pass


class LoginThrottledError(Exception):
    pass


class InvalidInvitationError(Exception):
    """Tampered, unknown, used or expired; the reason is for logs, not for the visitor."""


class InvalidPasswordError(ValueError):
    """The message is translated and meant for the user."""


class UserExistsError(Exception):
    pass
