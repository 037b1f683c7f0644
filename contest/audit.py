"""The audit trail: who did what, when, and the values before and after."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contest.models import AuditEvent, User


def record(
    session: AsyncSession,
    action: str,
    row: Any = None,
    *,
    object_type: str = "",
    object_id: object = None,
    actor: User | None = None,
    actor_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    client_ip: str | None = None,
) -> AuditEvent:
    """Add an audit event to the caller's transaction: it commits or rolls back with the change.

    The object changed is a stored row, or (for what is not one row) object_type and object_id.
    """
    if row is not None:
        object_type, object_id = object_type_of(row), row.id
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_label=actor_label or (actor.email if actor else ""),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
        client_ip=client_ip,
    )
    session.add(event)
    return event


def object_type_of(row: object) -> str:
    """How the log names a row: its class name in snake case (RemarkRequest: remark_request)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(row).__name__).lower()


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, on both sides."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}
