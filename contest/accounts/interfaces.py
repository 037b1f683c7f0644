from __future__ import annotations

from datetime import timedelta

from contest.errors import ConflictError, ContestError, InvalidError, NotFoundError
from contest.i18n import N_, gettext

INVITATION_LIFETIME = timedelta(days=7)
MIN_PASSWORD_LENGTH = 10
# Failed sign-ins counted over the window: per account (guessing one password) and per
# address (trying many accounts). Shared by all app processes through the database.
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 30


class LoginFailedError(ContestError):
    status_code = 400

    default_message = N_("The email or the password is not right.")


class LoginThrottledError(ContestError):
    status_code = 429

    default_message = N_("Too many failed attempts. Please wait 15 minutes before trying again.")


class InvalidInvitationError(NotFoundError):
    """Tampered, unknown, used or expired. ``reason`` is for logs, not for the visitor, who
    reads one message whatever it was; a link that did work once answers 410 Gone."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            gettext(
                "This invitation link is not valid, has expired or was already used. "
                "Ask the organisers for a new one."
            )
        )
        self.reason = reason
        if reason in ("used", "expired"):
            self.status_code = 410


class InvalidPasswordError(InvalidError, ValueError):
    """The message is translated and meant for the user."""


class UserExistsError(ConflictError):
    """An account with this email already exists with another role."""

    def __init__(self, email: str) -> None:
        super().__init__(gettext("This email already belongs to a user with another role."))
        self.email = email
