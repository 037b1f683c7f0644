"""Who may do what to which object: the one answer to "may this user do this to this object?".

Routes declare who may reach them at all (``contest.access``: ``public`` or ``requires(role)``);
everything about a particular object is asked here, by every page, API endpoint, job and command
alike. Each rule is a ``may_*`` predicate over plain values already loaded (no I/O), or an
``ensure_*`` coroutine that loads what it needs and raises ``contest.errors.NotFoundError`` when
the answer is no: an object one may not touch answers exactly as one that does not exist, so its
existence never leaks.
"""

from __future__ import annotations
