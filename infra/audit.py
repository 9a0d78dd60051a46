"""The audit log: every view of unmasked personal data and every sensitive change."""

from typing import Any
from typing import Protocol

from sqlalchemy.orm import Session

from infra.db import utcnow


def record_audit(
    session: Session,
    user_id: int | None,
    action: str,
    ticket_id: int | None,
    details: dict[str, Any],
    *,
    ip: str | None = None,
    request_id: str | None = None,
) -> None:
    """Add an audit row to the caller's transaction; it is written when that commits."""
    from infra.models import AuditEntry

    session.add(
        AuditEntry(
            at=utcnow(),
            user_id=user_id,
            action=action,
            ticket_id=ticket_id,
            details=details,
            ip=ip,
            request_id=request_id,
        )
    )


class Who(Protocol):
    """Whoever acts (kernel.actor.Actor): the user and where the request came from."""

    @property
    def user_id(self) -> int | None: ...
    @property
    def ip(self) -> str | None: ...
    @property
    def request_id(self) -> str | None: ...


def audit_act(
    session: Session, who: Who, action: str, ticket_id: int | None, details: dict[str, Any]
) -> None:
    """`record_audit` for an action of a signed-in user, with their address and request."""
    record_audit(
        session, who.user_id, action, ticket_id, details, ip=who.ip, request_id=who.request_id
    )
